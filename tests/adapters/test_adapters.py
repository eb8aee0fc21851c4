"""Specification of the torch adapters: batch shapes, epochs, seeds, and equality with ``load_numpy``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

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
    assert all(torch.equal(a, b) for a, b in zip(ds[torch.tensor(indices)], batch, strict=True))


def test_dataset_serves_dataloader_batches(tiny_home: Path, variant: dict[str, Any]) -> None:
    from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

    ds = torch_dataset(split="test", **variant)
    x, _, _ = load_numpy(split="test", **variant)
    by_getitems = DataLoader(ds, batch_size=32, collate_fn=lambda batch: batch)
    by_sampler = DataLoader(ds, sampler=BatchSampler(SequentialSampler(ds), 32, False), batch_size=None)
    for loader in (by_getitems, by_sampler):
        np.testing.assert_array_equal(np.concatenate([xb.numpy() for xb, _, _ in loader]), x)


def test_loader_of_an_unbuilt_latent_raises_file_not_found(tiny_home: Path, variant: dict[str, Any]) -> None:
    with pytest.raises(FileNotFoundError, match="not built"):
        torch_loader(split="test", **{**variant, "latent": 5})
