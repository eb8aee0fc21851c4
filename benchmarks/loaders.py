"""Benchmark the adapters and the evaluator against the bars of issue #3, in one run.

Prints each figure next to its bar, as ratios measured in this run:

- one shuffled epoch of ``torch_loader`` (batch 256) vs plain unshuffled tensor
  slicing (<= 5x) and vs ``DataLoader(TensorDataset(...))`` (>= 50x faster);
- issue #13: shuffled vs unshuffled ``torch_loader`` epoch (<= 5x), the one
  epoch gather by ``np.take`` vs ``torch.index_select`` (no bar: the CPU-dependent
  cost the loader avoids), and the standard call
  ``DataLoader(torch_dataset(...), batch_size=256, shuffle=True)`` with 0 and 2
  workers (and 2 persistent workers) against ``DataLoader(TensorDataset(...))``
  with the same workers (no bar: the figures users get from the first call they type);
- warm ``load_numpy`` vs ``np.load`` of the same arrays saved as .npy (<= 2x);
- ``evaluate`` on the test split (< 20 ms);
- ``import ldmnist_hub`` in a fresh interpreter (< 0.3 s);
- one unshuffled epoch of ``tf_dataset`` (batch 256) vs a bare
  ``from_tensor_slices(...).batch().prefetch()`` pipeline (<= 1.5x) and vs
  ``Dataset.to_tf_dataset`` (>= 5x faster).

Usage:
    LDMNIST_MNIST_DIR=../shared/data/mnist python benchmarks/loaders.py [--latent 32] [--out results.json]
    python benchmarks/loaders.py --data-dir tests/fixtures/mnist-tiny --latent 4 --set epochs=1   # smoke test
    python benchmarks/loaders.py --parts torch     # only the torch figures (numpy, torch, tf, import)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def best_of(fn: Callable[[], Any], repeats: int = 5) -> float:
    """Minimum wall time of ``repeats`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def torch_figures(variant: dict[str, Any], batch_size: int = 256) -> dict[str, float]:
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from ldmnist_hub.adapters.torch_adapter import torch_dataset, torch_loader

    loader = torch_loader(split="train", batch_size=batch_size, **variant)
    unshuffled = torch_loader(split="train", batch_size=batch_size, shuffle=False, **variant)
    x, y, label = loader.x, loader.y, loader.label
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))

    def epoch(batches: Any) -> Callable[[], None]:
        def run() -> None:
            for _ in batches:
                pass
        return run

    def slicing() -> None:
        for i in range(0, len(x), batch_size):
            x[i:i + batch_size], y[i:i + batch_size], label[i:i + batch_size]

    def tensor_dataset(**options: Any) -> DataLoader:
        return DataLoader(TensorDataset(x, y, label), batch_size=batch_size, shuffle=True,
                          generator=torch.Generator().manual_seed(0), **options)

    ds = torch_dataset(split="train", **variant)
    standard = DataLoader(ds, batch_size=batch_size, shuffle=True)  # the call users type first
    workers = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=2)
    persistent = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=2, persistent_workers=True)

    # Sub-millisecond figures on a shared machine: the best of 20 runs, not 5.
    t_ours, t_plain, t_slice = best_of(epoch(loader), 20), best_of(epoch(unshuffled), 20), best_of(slicing, 20)
    t_take = best_of(lambda: np.take(x.numpy(), perm.numpy(), axis=0), 20)
    t_index_select = best_of(lambda: torch.index_select(x, 0, perm), 20)
    t_std, t_std_w, t_std_p = best_of(epoch(standard)), best_of(epoch(workers), 2), best_of(epoch(persistent), 2)
    t_dl = best_of(epoch(tensor_dataset()), repeats=1)
    t_dl_w = best_of(epoch(tensor_dataset(num_workers=2, persistent_workers=True)), repeats=1)
    return {
        "torch_loader_epoch_s": t_ours,
        "torch_loader_unshuffled_epoch_s": t_plain,
        "tensor_slicing_epoch_s": t_slice,
        "np_take_epoch_gather_s": t_take,
        "index_select_epoch_gather_s": t_index_select,
        "dataloader_torch_dataset_epoch_s": t_std,
        "dataloader_torch_dataset_2_workers_epoch_s": t_std_w,
        "dataloader_torch_dataset_2_persistent_workers_epoch_s": t_std_p,
        "tensordataset_dataloader_epoch_s": t_dl,
        "tensordataset_dataloader_2_persistent_workers_epoch_s": t_dl_w,
        "torch_loader_vs_slicing": t_ours / t_slice,                      # bar: <= 5
        "torch_loader_shuffled_vs_unshuffled": t_ours / t_plain,          # bar: <= 5
        "dataloader_vs_torch_loader": t_dl / t_ours,                      # bar: >= 50
        "index_select_vs_np_take": t_index_select / t_take,
        "tensordataset_vs_torch_dataset_dataloader": t_dl / t_std,
        "tensordataset_vs_torch_dataset_2_persistent_workers": t_dl_w / t_std_p,
    }


def tf_figures(variant: dict[str, Any], batch_size: int = 256) -> dict[str, float]:
    """One unshuffled epoch of ``tf_dataset`` vs a bare ``from_tensor_slices`` pipeline and
    ``Dataset.to_tf_dataset`` of the same split (each iterated once to warm up, then best of 3)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from ldmnist_hub.adapters.tf_adapter import tf_dataset
    from ldmnist_hub.loading.arrays import load_numpy
    from ldmnist_hub.loading.load import load_dataset

    ours = tf_dataset(split="train", batch_size=batch_size, shuffle=False, **variant)
    x, y, _ = load_numpy(split="train", **variant)
    bare = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    hf = load_dataset("ldmnist", split="train", **variant).to_tf_dataset(
        columns="x", label_cols="y", batch_size=batch_size)

    def epoch(ds: Any) -> Callable[[], None]:
        def run() -> None:
            for _ in ds:
                pass
        return run

    t_ours, t_bare = best_of(epoch(ours), repeats=3), best_of(epoch(bare), repeats=3)
    t_hf = best_of(epoch(hf), repeats=3)
    return {
        "tf_dataset_epoch_s": t_ours,
        "bare_tf_data_epoch_s": t_bare,
        "to_tf_dataset_epoch_s": t_hf,
        "tf_dataset_vs_bare": t_ours / t_bare,         # bar: <= 1.5
        "to_tf_dataset_vs_tf_dataset": t_hf / t_ours,  # bar: >= 5
    }


def numpy_figures(variant: dict[str, Any]) -> dict[str, float]:
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
    return {
        "load_numpy_s": t_ours,
        "np_load_s": t_npy,
        "load_numpy_vs_np_load": t_ours / t_npy,   # bar: <= 2
        "evaluate_test_ms": t_eval * 1000,          # bar: < 20
    }


def import_seconds(repeats: int = 5) -> float:
    """Best wall time of ``import ldmnist_hub`` in a fresh interpreter."""
    code = "import time; t = time.perf_counter(); import ldmnist_hub; print(time.perf_counter() - t)"
    return min(float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(repeats))


# Bars of the ratios, printed beside them: (">=" or "<=", value).
BARS: dict[str, tuple[str, float]] = {
    "torch_loader_vs_slicing": ("<=", 5), "torch_loader_shuffled_vs_unshuffled": ("<=", 5),
    "dataloader_vs_torch_loader": (">=", 50), "load_numpy_vs_np_load": ("<=", 2), "evaluate_test_ms": ("<", 20),
    "tf_dataset_vs_bare": ("<=", 1.5), "to_tf_dataset_vs_tf_dataset": (">=", 5), "import_ldmnist_hub_s": ("<", 0.3),
}


def bar_text(key: str, value: float) -> str:
    """``"bar <= 5: ok"`` for a figure with a bar, else empty."""
    if key not in BARS:
        return ""
    op, bar = BARS[key]
    ok = {"<=": value <= bar, ">=": value >= bar, "<": value < bar}[op]
    return f"bar {op} {bar:g}: {'ok' if ok else 'MISSED'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="training recipe override of the variant (as in build_canonical.py)")
    parser.add_argument("--data-dir", default=None, help="raw MNIST folder (default: $LDMNIST_MNIST_DIR)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--parts", default="numpy,torch,tf,import", help="comma-separated figures to measure")
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
    results: dict[str, Any] = {"latent": args.latent}
    for name, figures in (("numpy", numpy_figures), ("torch", torch_figures), ("tf", tf_figures)):
        if name in parts:
            results.update(figures(variant))
    if "import" in parts:
        results["import_ldmnist_hub_s"] = import_seconds()
    for key, value in results.items():
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"{key:54s} {text:>10s}  {bar_text(key, value)}".rstrip())
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
