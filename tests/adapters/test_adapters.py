"""Specification of the torch adapters: batch shapes, epochs, seeds, and equality with ``load_numpy``."""

from __future__ import annotations

import io
import pickle
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ldmnist_hub.errors import InvalidArgumentError
from ldmnist_hub.loading.arrays import load_numpy

torch = pytest.importorskip("torch")
from ldmnist_hub.adapters.torch_adapter import torch_dataset, torch_loader  # noqa: E402


@pytest.fixture
def variant(tiny_kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: tiny_kwargs[k] for k in ("latent", "train", "data_dir", "progress")} | {"build": False}


def _rows(loader: Any) -> np.ndarray:
    return np.concatenate([xb.numpy() for xb, _, _ in loader])


def test_loader_yields_float32_and_int64_batches(tiny_home: Path, variant: dict[str, Any]) -> None:
    xb, yb, lb = next(iter(torch_loader(split="train", batch_size=64, **variant)))
    assert (xb.shape, yb.shape, lb.shape) == ((64, 4), (64, 4), (64,))
    assert (xb.dtype, yb.dtype, lb.dtype) == (torch.float32, torch.float32, torch.int64)


@pytest.mark.parametrize(
    ("batch_size", "drop_last", "batches", "last"), [(64, False, 5, 44), (64, True, 4, 64), (100, False, 3, 100)]
)
def test_len_counts_batches_honouring_drop_last(
    batch_size: int, drop_last: bool, batches: int, last: int, tiny_home: Path, variant: dict[str, Any]
) -> None:
    loader = torch_loader(split="train", batch_size=batch_size, drop_last=drop_last, **variant)
    sizes = [len(lb) for _, _, lb in loader]
    assert len(loader) == len(sizes) == batches
    assert sizes[-1] == last


def test_one_shuffled_epoch_covers_every_row_once(tiny_home: Path, variant: dict[str, Any]) -> None:
    x, y, label = load_numpy(split="train", **variant)
    loader = torch_loader(split="train", batch_size=64, **variant)
    batches = [(a.numpy(), b.numpy(), c.numpy()) for a, b, c in loader]
    xs, ys, ls = (np.concatenate(parts) for parts in zip(*batches, strict=True))
    assert not np.array_equal(xs, x)
    order = np.lexsort(xs.T[::-1])
    ref = np.lexsort(x.T[::-1])
    np.testing.assert_array_equal(xs[order], x[ref])
    np.testing.assert_array_equal(ys[order], y[ref])
    np.testing.assert_array_equal(ls[order], label[ref])


def test_epochs_reshuffle_and_the_same_seed_repeats_them(tiny_home: Path, variant: dict[str, Any]) -> None:
    loader = torch_loader(split="train", batch_size=64, shuffle_seed=7, **variant)
    first, second = _rows(loader), _rows(loader)
    assert not np.array_equal(first, second)
    again = torch_loader(split="train", batch_size=64, shuffle_seed=7, **variant)
    np.testing.assert_array_equal(_rows(again), first)
    np.testing.assert_array_equal(_rows(again), second)
    again.set_epoch(0)
    np.testing.assert_array_equal(_rows(again), first)
    assert not np.array_equal(_rows(torch_loader(split="train", batch_size=64, shuffle_seed=8, **variant)), first)


def test_unshuffled_order_equals_load_numpy(tiny_home: Path, variant: dict[str, Any]) -> None:
    x, y, label = load_numpy(split="test", **variant)
    loader = torch_loader(split="test", batch_size=30, shuffle=False, **variant)
    for _ in range(2):  # re-iteration gives the same order
        batches = list(loader)
        np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), x)
        np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), y)
        np.testing.assert_array_equal(np.concatenate([b[2].numpy() for b in batches]), label)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_bad_batch_size_is_rejected(batch_size: Any, tiny_home: Path, variant: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        torch_loader(split="test", batch_size=batch_size, **variant)


def test_dataset_getitems_equals_stacked_getitem(tiny_home: Path, variant: dict[str, Any]) -> None:
    ds = torch_dataset(split="test", **variant)
    assert len(ds) == 100
    indices = [5, 0, 99, 5]
    batch = ds.__getitems__(indices)
    rows = [ds[i] for i in indices]
    for k in range(3):
        assert torch.equal(batch[k], torch.stack([r[k] for r in rows]))
    by_tensor = ds[torch.tensor(indices)]
    assert all(type(t) is torch.Tensor for t in by_tensor)
    assert all(torch.equal(a, b) for a, b in zip(by_tensor, batch, strict=True))


def test_getitems_batch_tensors_act_save_and_pickle_as_plain_tensors(tiny_home: Path, variant: dict[str, Any]) -> None:
    xb, _, lb = torch_dataset(split="test", **variant).__getitems__([3, 1])
    assert isinstance(xb, torch.Tensor)
    assert type(xb * 2) is torch.Tensor and type(xb[0]) is torch.Tensor
    assert type(pickle.loads(pickle.dumps(xb))) is torch.Tensor
    buffer = io.BytesIO()
    torch.save(lb, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    assert type(loaded) is torch.Tensor and torch.equal(loaded, lb)


def _epoch(loader: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Any]]:
    batches = list(loader)
    xs, ys, ls = (np.concatenate([b[k].numpy() for b in batches]) for k in range(3))
    return xs, ys, ls, batches


@pytest.mark.parametrize(
    "options",
    [{}, {"num_workers": 2}, {"num_workers": 2, "persistent_workers": True, "pin_memory": False}],
    ids=["main-process", "2-workers", "2-persistent-workers"],
)
def test_the_standard_dataloader_call_yields_whole_batches_covering_every_row_once(
    options: dict[str, Any], tiny_home: Path, variant: dict[str, Any]
) -> None:
    from torch.utils.data import DataLoader

    x, y, label = load_numpy(split="train", **variant)
    loader = DataLoader(torch_dataset(split="train", **variant), batch_size=64, shuffle=True, **options)
    for _ in range(2):  # a second epoch (persistent workers are reused)
        xs, ys, ls, batches = _epoch(loader)
        assert [len(b[2]) for b in batches] == [64] * 4 + [44]
        xb, yb, lb = batches[0]
        assert (xb.shape, yb.shape, lb.shape) == ((64, 4), (64, 4), (64,))
        assert (xb.dtype, yb.dtype, lb.dtype) == (torch.float32, torch.float32, torch.int64)
        assert all(type(t) is torch.Tensor for t in batches[0])
        assert not np.array_equal(xs, x)
        # Each x row is unique, so sorting by x recovers the split: every row once, with its own y and label.
        order, ref = np.lexsort(xs.T[::-1]), np.lexsort(x.T[::-1])
        np.testing.assert_array_equal(xs[order], x[ref])
        np.testing.assert_array_equal(ys[order], y[ref])
        np.testing.assert_array_equal(ls[order], label[ref])


def test_the_standard_dataloader_call_honours_drop_last_in_workers(tiny_home: Path, variant: dict[str, Any]) -> None:
    from torch.utils.data import DataLoader

    ds = torch_dataset(split="train", **variant)
    loader = DataLoader(ds, batch_size=64, shuffle=True, drop_last=True, num_workers=2, persistent_workers=True)
    for _ in range(2):
        xs, _, _, batches = _epoch(loader)
        assert len(loader) == len(batches) == 4
        assert len(np.unique(xs, axis=0)) == len(xs) == 256  # 256 distinct rows of the 300


def test_the_standard_dataloader_call_works_with_spawned_workers(tiny_home: Path, variant: dict[str, Any]) -> None:
    from torch.utils.data import DataLoader

    # spawn (macOS, Windows) pickles the dataset into each worker, which must re-register the collation.
    x, _, _ = load_numpy(split="test", **variant)
    loader = DataLoader(torch_dataset(split="test", **variant), batch_size=32, num_workers=1,
                        multiprocessing_context="spawn")
    xs, _, _, batches = _epoch(loader)
    np.testing.assert_array_equal(xs, x)
    assert all(type(t) is torch.Tensor for t in batches[0])


def test_an_unshuffled_dataloader_gives_load_numpy_order(tiny_home: Path, variant: dict[str, Any]) -> None:
    from torch.utils.data import DataLoader

    x, y, label = load_numpy(split="test", **variant)
    xs, ys, ls, _ = _epoch(DataLoader(torch_dataset(split="test", **variant), batch_size=30))
    np.testing.assert_array_equal(xs, x)
    np.testing.assert_array_equal(ys, y)
    np.testing.assert_array_equal(ls, label)


def test_dataset_serves_dataloader_batches(tiny_home: Path, variant: dict[str, Any]) -> None:
    from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

    ds = torch_dataset(split="test", **variant)
    x, _, _ = load_numpy(split="test", **variant)
    by_getitems = DataLoader(ds, batch_size=32, collate_fn=lambda batch: batch)
    by_getitems_in_workers = DataLoader(ds, batch_size=32, collate_fn=_identity, num_workers=2)
    by_sampler = DataLoader(ds, sampler=BatchSampler(SequentialSampler(ds), 32, False), batch_size=None)
    for loader in (by_getitems, by_getitems_in_workers, by_sampler):
        np.testing.assert_array_equal(np.concatenate([xb.numpy() for xb, _, _ in loader]), x)


def _identity(batch: Any) -> Any:
    return batch


def test_default_collate_of_several_getitems_batches_stacks_them(tiny_home: Path, variant: dict[str, Any]) -> None:
    from torch.utils.data import default_collate

    ds = torch_dataset(split="test", **variant)
    xb, _, lb = default_collate([ds.__getitems__([0, 1, 2]), ds.__getitems__([3, 4, 5])])
    assert xb.shape == (2, 3, 4) and lb.shape == (2, 3)
    assert torch.equal(lb, ds.label[:6].reshape(2, 3))


def test_shuffled_order_is_the_seeded_randperm_order(tiny_home: Path, variant: dict[str, Any]) -> None:
    x, y, label = load_numpy(split="train", **variant)
    loader = torch_loader(split="train", batch_size=64, shuffle_seed=5, **variant)
    loader.set_epoch(3)
    batches = list(loader)
    gen = torch.Generator().manual_seed(5 * 2_000_003 + 3)
    perm = torch.randperm(len(x), generator=gen).numpy()
    for k, ref in enumerate((x, y, label)):
        np.testing.assert_array_equal(np.concatenate([b[k].numpy() for b in batches]), ref[perm])


def test_loader_of_an_unbuilt_latent_raises_file_not_found(tiny_home: Path, variant: dict[str, Any]) -> None:
    with pytest.raises(FileNotFoundError, match="not built"):
        torch_loader(split="test", **{**variant, "latent": 5})


def test_batches_held_from_earlier_epochs_are_never_overwritten(tiny_home: Path, variant: dict[str, Any]) -> None:
    loader = torch_loader(split="train", batch_size=64, **variant)
    held = next(iter(loader))
    held_numpy = next(iter(loader))[0].numpy()  # only a numpy view of the batch survives
    snapshot = [t.clone() for t in held], held_numpy.copy()
    for _ in range(4):
        list(loader)
    assert all(torch.equal(a, b) for a, b in zip(held, snapshot[0], strict=True))
    np.testing.assert_array_equal(held_numpy, snapshot[1])


@pytest.mark.parametrize("shuffle", [True, False])
def test_a_cpu_device_gives_the_batches_of_the_default_loader(
    shuffle: bool, tiny_home: Path, variant: dict[str, Any]
) -> None:
    default = torch_loader(split="train", batch_size=64, shuffle=shuffle, shuffle_seed=11, **variant)
    on_cpu = torch_loader(split="train", batch_size=64, shuffle=shuffle, shuffle_seed=11, device="cpu", **variant)
    for _ in range(3):  # successive epochs too
        pairs = list(zip(default, on_cpu, strict=True))
        assert len(pairs) == 5
        for a, b in pairs:
            assert all(torch.equal(s, t) and t.device.type == "cpu" for s, t in zip(a, b, strict=True))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_cuda_loader_keeps_the_split_and_its_batches_on_the_gpu(tiny_home: Path, variant: dict[str, Any]) -> None:
    loader = torch_loader(split="train", batch_size=64, shuffle_seed=2, device="cuda", **variant)
    assert {t.device.type for t in (loader.x, loader.y, loader.label)} == {"cuda"}
    first = [t for batch in loader for t in batch]
    assert {t.device.type for t in first} == {"cuda"}
    xs = torch.cat(first[0::3]).cpu().numpy()
    x = load_numpy(split="train", **variant)[0]
    np.testing.assert_array_equal(xs[np.lexsort(xs.T[::-1])], x[np.lexsort(x.T[::-1])])
    assert not np.array_equal(torch.cat([b[0] for b in loader]).cpu().numpy(), xs)  # a new order each epoch


@pytest.mark.parametrize("device", ["cuda:99", "nonsense", 3.5])
def test_an_unavailable_device_is_refused_before_loading(device: Any, tiny_home: Path, variant: dict[str, Any]) -> None:
    if device == "cuda:99" and torch.cuda.device_count() > 99:  # pragma: no cover
        pytest.skip("a machine with 100 GPUs")
    with pytest.raises(InvalidArgumentError, match="not available here"):
        torch_loader(split="test", device=device, **variant)


@pytest.mark.parametrize("drop_last", [False, True])
def test_a_training_loop_holding_its_last_batch_holds_no_gathered_split(
    drop_last: bool, tiny_home: Path, variant: dict[str, Any]
) -> None:
    # `for xb, yb, lb in loader` leaves the last batch bound between epochs: it must own its rows, so that no
    # gathered copy of the split outlives its epoch.
    loader = torch_loader(split="train", batch_size=64, drop_last=drop_last, **variant)
    split_bytes = sum(t.numel() * t.element_size() for t in (loader.x, loader.y, loader.label))
    numpy_only = [tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)]  # the gathers are numpy arrays
    tracemalloc.start()
    try:
        for _ in range(3):
            for xb, yb, lb in loader:  # noqa: B007 - bound after the loop, as in a training loop
                pass
            alive = tracemalloc.take_snapshot().filter_traces(numpy_only)
            assert sum(trace.size for trace in alive.traces) < split_bytes / 2  # the last batch at most
    finally:
        tracemalloc.stop()
    assert xb.shape == ((64, 4) if drop_last else (44, 4))  # the loop variables, still bound
    assert all(t.untyped_storage().nbytes() == t.numel() * t.element_size() for t in (xb, yb, lb))
