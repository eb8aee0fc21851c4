"""Other readers of a published mirror, as the README shows them: polars, DuckDB and Ray Data read the parquet
shards, and what they read scores through the one evaluator exactly like ``load_numpy``'s arrays.

The readers come with the ``readers`` extra (polars, duckdb, mlcroissant) and the ``ray`` extra (ray, and
pydantic for Ray Data's ``iter_torch_batches``); ``LDMNIST_REQUIRE_READERS=1`` (CI) makes a missing one a
failure instead of a skip. mlcroissant's reading is in ``test_croissant.py``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support import TINY_DIR

import ldmnist_hub as ld
from ldmnist_hub.hub import layout as hub_layout
from ldmnist_hub.loading.arrays import load_numpy
from ldmnist_hub.publish.upload import push

TRAIN = {"epochs": 2, "batch_size": 100}
KW: dict[str, Any] = {"train": TRAIN, "data_dir": TINY_DIR, "build": False, "progress": False}


def _reader(name: str) -> Any:
    if os.environ.get("LDMNIST_REQUIRE_READERS"):
        return importlib.import_module(name)
    return pytest.importorskip(name)


@pytest.fixture(scope="module")
def mirror(tiny_build: tuple[Path, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """``(folder, config)``: a mirror holding the tiny variant; LDMNIST_HOME at the tiny build."""
    folder = tmp_path_factory.mktemp("readers") / "mirror"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LDMNIST_HOME", str(tiny_build[0]))
        for var in ("LDMNIST_MNIST_DIR", "LDMNIST_REPO", "HF_HUB_OFFLINE", "LDMNIST_OFFLINE"):
            mp.delenv(var, raising=False)
        config = push(4, str(folder), allow_unofficial_source=True, **KW).config
        yield folder, config


def _shards(mirror: tuple[Path, str], split: str) -> str:
    folder, config = mirror
    return str(folder / hub_layout.data_dir(config) / f"{split}-*.parquet")


def test_polars_reads_the_shards_as_fixed_length_float32_arrays(mirror: tuple[Path, str]) -> None:
    pl = _reader("polars")
    df = pl.read_parquet(_shards(mirror, "test"))
    assert df.columns == ["x", "y", "label", "mnist_index"] and df.height == 100
    assert df.schema["x"] == pl.Array(pl.Float32, 4)
    x, y, label = load_numpy(4, "test", **KW)
    np.testing.assert_array_equal(df["x"].to_numpy(), x)
    np.testing.assert_array_equal(df["label"].to_numpy(), label)
    # a polars table scores through the evaluator via Arrow, aligned by mnist_index
    shuffled = df.sample(fraction=1.0, shuffle=True, seed=0).rename({"y": "y_pred"}).select("mnist_index", "y_pred")
    assert ld.evaluate(shuffled.to_arrow(), 4, **KW).mse == 0.0


def test_duckdb_queries_the_shards_and_its_columns_score_exactly(mirror: tuple[Path, str]) -> None:
    duckdb = _reader("duckdb")
    rel = duckdb.sql(f"SELECT mnist_index, y AS y_pred FROM read_parquet('{_shards(mirror, 'test')}') "
                     "ORDER BY mnist_index DESC")
    table = rel.arrow()
    table = table.read_all() if hasattr(table, "read_all") else table  # a RecordBatchReader from duckdb 1.4 on
    assert ld.evaluate(table, 4, **KW).mse == 0.0
    counts = duckdb.sql(f"SELECT label, count(*) FROM read_parquet('{_shards(mirror, 'train')}') GROUP BY label "
                        "ORDER BY label").fetchall()
    assert sum(c for _, c in counts) == 300 and [lab for lab, _ in counts] == list(range(10))


def test_ray_data_iter_torch_batches_reads_the_mirror(mirror: tuple[Path, str]) -> None:
    ray = _reader("ray")
    _reader("pydantic")  # Ray Data's iter_torch_batches imports it; the ray extra brings it
    torch = _reader("torch")
    folder, config = mirror
    ray.init(num_cpus=1, include_dashboard=False, _node_ip_address="127.0.0.1",
             object_store_memory=100 * 1024 * 1024, log_to_driver=False)
    try:
        ds = ray.data.read_parquet(str(folder / hub_layout.data_dir(config)), file_extensions=["parquet"])
        batches = list(ds.iter_torch_batches(batch_size=128))
    finally:
        ray.shutdown()
    assert sum(len(b["x"]) for b in batches) == 400  # train 300 + test 100
    assert all(isinstance(b["y"], torch.Tensor) and b["y"].shape[1] == 4 and b["y"].dtype == torch.float32
               for b in batches)
