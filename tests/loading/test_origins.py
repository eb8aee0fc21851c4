"""One origin decision: the store, local raw files, a repo or mirror, a download, training, asked in that order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support import REPO_ROOT, TINY_DIR

import ldmnist_hub as ld
from ldmnist_hub import store
from ldmnist_hub.errors import InvalidArgumentError, SourceError
from ldmnist_hub.loading import cache, origins, splits
from ldmnist_hub.publish.upload import push

TINY_REF = {"latent": 2, "data_dir": TINY_DIR, "progress": False}


def _quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not hold the official")
        return fn(*args, **kwargs)


def _nothing_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No raw MNIST, no network (offline), and an empty folder mirror, whose path is returned."""
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    monkeypatch.delenv("LDMNIST_MNIST_DIR", raising=False)
    monkeypatch.setenv("LDMNIST_OFFLINE", "1")
    return empty


def test_the_origins_are_asked_in_the_documented_order() -> None:
    assert origins.STORE.name == "the store"
    assert [o.name for o in origins.ORIGINS] == ["local raw files", "a repo or mirror", "a download of the raw files",
                                                 "training"]


def test_prepare_writes_the_variant_once_and_reads_write_nothing(ldmnist_home: Path) -> None:
    v = ld.variant(**TINY_REF)
    folder = cache.cache_dir(v.cache_id)
    assert not folder.exists()  # resolving builds nothing
    files = _quiet(v.prepare)
    assert files.stats()["variant"]["latent"] == 2 and (folder / "dataset_info.json").is_file()
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    _quiet(v.prepare)
    x, _, label = v.numpy("test")
    ds = v.dataset("test")
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    np.testing.assert_array_equal(np.asarray(ds["x"], np.float32), x)
    np.testing.assert_array_equal(np.asarray(ds["mnist_index"]), v.mnist_index("test"))
    assert label.shape == (100,) and v.mnist_index("test[-3:]").tolist() == [97, 98, 99]


def test_a_reference_variant_no_origin_has_lists_what_was_tried_in_order(
    ldmnist_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = _nothing_here(tmp_path, monkeypatch)
    with pytest.raises(SourceError) as err:
        ld.variant(latent=8, repo=str(empty), progress=False).numpy("test")
    said = str(err.value)
    local, mirror, download = (said.index(s) for s in ("local mnist files", f"{empty}: ", "a download of the raw"))
    assert local < mirror < download
    assert not (ldmnist_home / "variants" / "latent-8").exists()


def test_a_pulled_variant_reads_its_parquet_with_pyarrow_alone(
    tiny_home: Path, tiny_kwargs: dict[str, Any], tmp_path: Path
) -> None:
    variant = {k: tiny_kwargs[k] for k in ("train", "data_dir", "progress")}
    mirror = tmp_path / "mirror"
    push(4, str(mirror), build=False, allow_unofficial_source=True, **variant)
    want = ld.load_numpy(4, "test[10:30]", build=False, **variant)
    code = ("import sys, json, ldmnist_hub as ld\n"
            f"x, y, label = ld.load_numpy(4, 'test[10:30]', train={variant['train']!r}, "
            f"data_dir={str(TINY_DIR)!r}, build=False, progress=False)\n"
            "loaded = sorted(m for m in ('datasets', 'pandas') if m in sys.modules)\n"
            "print(json.dumps([x.tolist(), label.tolist(), loaded]))")
    env = {**os.environ, "LDMNIST_HOME": str(tmp_path / "fresh"), "LDMNIST_REPO": str(mirror)}
    for _ in ("pulled and checked", "read from the store"):  # the second process reads what the first installed
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                              cwd=REPO_ROOT, env=env)
        assert done.returncode == 0, done.stderr
    x, label, pandas = json.loads(done.stdout.strip().splitlines()[-1])
    np.testing.assert_array_equal(np.asarray(x, np.float32), want[0])
    assert label == want[2].tolist() and len(label) == 20 and pandas == []
    pulled = next((tmp_path / "fresh" / "variants").iterdir())
    assert (pulled / "published" / "test.parquet").is_file() and (pulled / store.ORIGIN_FILE).is_file()


@pytest.mark.parametrize("spec", ["test[5:5]", "train[100%:]"])
def test_a_selection_empty_by_its_bounds_is_refused_as_datasets_refuses_it(spec: str) -> None:
    with pytest.raises(InvalidArgumentError, match="selects no rows"):
        splits.rows(spec, {"train": 300, "test": 100})


@pytest.mark.parametrize("spec", ["train[:abc]", "dev", "train[:200%]", "test[1:2:3]"])
def test_a_malformed_split_is_refused_before_anything_is_read(spec: str, ldmnist_home: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown split"):
        ld.load_numpy(split=spec, **TINY_REF)
    assert not (ldmnist_home / "variants").exists()


def test_a_resolved_config_is_remembered_per_keywords_and_per_release(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from _support.releases import make_release, use_release

    from ldmnist_hub.loading.selection import resolve_variant

    first = resolve_variant(latent=8, version="3.0.0")
    assert resolve_variant(latent=8, version="3.0.0") is first and first.version is None  # 3.0.0 is current
    with pytest.raises(InvalidArgumentError, match="seed"):
        resolve_variant(latent=8, seed=True)  # typed: never the seed=1 entry
    resolve_variant(latent=8, seed=1)
    with pytest.raises(InvalidArgumentError, match="seed"):
        resolve_variant(latent=8, seed=True)
    use_release(monkeypatch, make_release(tmp_path / "refs", latent=8, version="4.0.0"))
    later = resolve_variant(latent=8, version="3.0.0")
    assert later.version == "3.0.0" and later.name == "latent-8-v3-0-0"  # an earlier version after the release


def test_an_earlier_version_whose_weights_ship_is_downloaded_and_encoded_like_the_current_one(
    ldmnist_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LDMNIST_MNIST_DIR", raising=False)
    monkeypatch.setenv("LDMNIST_OFFLINE", "1")  # the download is asked for, and refused here without a network
    with pytest.raises(SourceError) as err:
        ld.variant(latent=8, version="2.0.0", progress=False).numpy("test")
    said = str(err.value)
    assert said.startswith("latent-8-v2-0-0 could not be produced; tried, in order: local mnist files")
    assert "a repo or mirror: none configured" in said and "a download of the raw files" in said
    assert "offline" in said


def test_load_dataset_of_a_pulled_variant_reads_its_shards_where_they_lie(
    tiny_home: Path, tiny_kwargs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variant = {k: tiny_kwargs[k] for k in ("train", "data_dir", "progress")}
    mirror = tmp_path / "mirror"
    push(4, str(mirror), build=False, allow_unofficial_source=True, **variant)
    want = ld.load_numpy(4, "train[-5:]+test[:3]", build=False, **variant)
    fresh = tmp_path / "fresh"
    monkeypatch.setenv("LDMNIST_HOME", str(fresh))
    v = ld.variant(4, build=False, repo=str(mirror), **variant)
    ds = v.dataset("train[-5:]+test[:3]")
    np.testing.assert_array_equal(np.asarray(ds["x"], np.float32), want[0])
    assert ds.features["label"].names[:3] == ["0", "1", "2"] and ds.info.license
    assert list(v.dataset()) == ["train", "test"]
    assert not (fresh / "datasets" / "parquet").exists()  # no second copy of the shards in datasets' cache
    assert v.dataset("test")._fingerprint == v.dataset("test")._fingerprint != v.dataset("train")._fingerprint


@pytest.mark.parametrize("spec", ["train.x", "test[:2].y", "testing"])
def test_a_name_that_only_starts_like_a_split_is_refused_before_anything_is_built(spec: str,
                                                                                  ldmnist_home: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown split"):
        ld.load_numpy(split=spec, **TINY_REF)
    assert not (ldmnist_home / "variants").exists()


def test_spaces_around_the_parts_of_a_spec_mean_the_same_in_every_loader(tiny_home: Path, tiny_kwargs: dict) -> None:
    kw = tiny_kwargs | {"build": False}
    x, _, _ = ld.load_numpy(split=" test[:10] + train[:3] ", **kw)
    ds = ld.load_dataset("ldmnist", split=" test[:10] + train[:3] ", **kw)
    assert ds.split == "test[:10]+train[:3]" and len(x) == ds.num_rows == 13
    np.testing.assert_array_equal(np.asarray(ds["x"], np.float32), x)


def test_a_pulled_shard_with_variable_length_lists_reads_as_fixed_size_lists(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import DatasetInfo

    from ldmnist_hub.hub.card import variant_features
    from ldmnist_hub.loading import columns

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 3)).astype(np.float32), rng.normal(size=(6, 3)).astype(np.float32)
    lists = pa.list_(pa.float32())
    table = pa.table({"x": pa.array(x.tolist(), lists), "y": pa.array(y.tolist(), lists),
                      "label": pa.array(np.arange(6) % 10, pa.int64()),
                      "mnist_index": pa.array(np.arange(6), pa.int64())})
    path = tmp_path / "test.parquet"
    pq.write_table(table, path)
    got_x, got_y, label = columns.read_split({"test": path}, "test[1:4]")
    np.testing.assert_array_equal(got_x, x[1:4])
    np.testing.assert_array_equal(got_y, y[1:4])
    ds = cache.read({"test": path}, "test[1:4]", DatasetInfo(features=variant_features({"latent": 3})), "id")
    np.testing.assert_array_equal(np.asarray(ds["y"], np.float32), y[1:4])
    assert ds.features["x"].length == 3 and label.tolist() == [1, 2, 3]


def test_an_earlier_version_whose_weights_ship_goes_on_past_a_mirror_that_lacks_it(
    ldmnist_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = _nothing_here(tmp_path, monkeypatch)
    with pytest.raises(SourceError) as err:
        ld.variant(latent=8, version="2.0.0", repo=str(empty), progress=False).numpy("test")
    said = str(err.value)
    assert said.index(f"{empty}: ") < said.index("a download of the raw files")
