"""Specification of the Grain source: random access, batched reads, and a Grain pipeline's epoch.

``LDMNIST_REQUIRE_GRAIN=1`` (CI) turns a missing grain into a failure instead of a skip.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ldmnist_hub as ld
from ldmnist_hub.adapters.grain_adapter import LDMNISTGrainSource, grain_source
from ldmnist_hub.loading.arrays import load_numpy

if os.environ.get("LDMNIST_REQUIRE_GRAIN"):
    import grain
else:
    grain = pytest.importorskip("grain")


@pytest.fixture
def variant(tiny_kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: tiny_kwargs[k] for k in ("latent", "train", "data_dir", "progress")} | {"build": False}


def _rows(x: np.ndarray, y: np.ndarray, label: np.ndarray) -> np.ndarray:
    """The rows as one sorted float64 matrix: equal for two epochs iff they hold the same multiset of rows."""
    rows = np.c_[x.astype(np.float64), y.astype(np.float64), label.astype(np.float64)]
    return rows[np.lexsort(rows.T[::-1])]


@pytest.mark.parametrize("split", ["train", "test"])
def test_a_grain_pipeline_epoch_is_load_numpy_as_a_multiset_of_rows(
    split: str, tiny_home: Path, variant: dict[str, Any]
) -> None:
    ds = grain.MapDataset.source(grain_source(split=split, **variant)).shuffle(seed=0).batch(64)
    batches = list(ds)
    assert len(batches) == len(ds) and {b["x"].shape[1] for b in batches} == {4}
    got = [np.concatenate([b[k] for b in batches]) for k in ("x", "y", "label")]
    x, y, label = load_numpy(split=split, **variant)
    assert not np.array_equal(got[0], x)  # shuffled
    np.testing.assert_array_equal(_rows(*got), _rows(x, y, label))
    assert (got[0].dtype, got[1].dtype, got[2].dtype) == (np.float32, np.float32, np.int64)


def test_a_grain_data_loader_reads_the_source_too(tiny_home: Path, variant: dict[str, Any]) -> None:
    src = grain_source(split="test", **variant)
    loader = grain.DataLoader(data_source=src, sampler=grain.samplers.IndexSampler(len(src), shuffle=True, seed=1,
                                                                                    num_epochs=1),
                              operations=[grain.transforms.Batch(25)], worker_count=0)
    labels = np.concatenate([b["label"] for b in loader])
    np.testing.assert_array_equal(np.sort(labels), np.sort(load_numpy(split="test", **variant)[2]))


def test_getitems_equals_getitem_row_by_row(tiny_home: Path, variant: dict[str, Any]) -> None:
    src = grain_source(split="train", **variant)
    assert len(src) == 300 and isinstance(src, LDMNISTGrainSource) and ld.grain_source is grain_source
    idx = [5, 0, 299, 5]
    for got, want in zip(src.__getitems__(idx), [src[i] for i in idx], strict=True):
        assert got.keys() == want.keys() == {"x", "y", "label"}
        for k in got:
            np.testing.assert_array_equal(got[k], want[k])
    assert src._getitems is not None and len(src._getitems(np.array(idx))) == 4


def test_rows_are_read_only_views_and_the_source_pickles(tiny_home: Path, variant: dict[str, Any]) -> None:
    src = grain_source(split="test", **variant)
    with pytest.raises(ValueError, match="read-only"):
        src[0]["x"][0] = 1.0
    clone = pickle.loads(pickle.dumps(src))  # what a multiprocessing Grain worker receives
    np.testing.assert_array_equal(clone[7]["y"], src[7]["y"])
