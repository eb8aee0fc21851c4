"""The numpy path without ``datasets``: the Arrow cache read (and a reference variant written) with pyarrow alone."""

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
from ldmnist_hub.core.digest import sha256_file
from ldmnist_hub.errors import InvalidArgumentError
from ldmnist_hub.loading import cache, columns
from ldmnist_hub.loading.builder import get_builder, prepare
from ldmnist_hub.loading.variant import resolve
from ldmnist_hub.produce import reference

FULL_DIR = os.environ.get("LDMNIST_MNIST_DIR")
needs_full = pytest.mark.skipif(not FULL_DIR, reason="set LDMNIST_MNIST_DIR to the full MNIST folder to run this")
# The latent-2 reference weights over the tiny fixture: a reference variant (encoded, never trained) in 0.1 s.
TINY_REF = {"latent": 2, "data_dir": TINY_DIR, "progress": False}


def _quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not hold the official")
        return fn(*args, **kwargs)


def _recorded(home: Path, cid: str) -> dict[str, str]:
    doc = json.loads((home / "variants" / cid / store.ARROW_RECORD).read_text())
    return {name: entry["sha256"] for name, entry in doc["files"].items()}


def _fresh(code: str, home: Path, **env: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
                          env={**os.environ, "LDMNIST_HOME": str(home), **env})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_a_cold_reference_load_writes_the_bytes_the_datasets_builder_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LDMNIST_HOME", str(tmp_path / "numpy"))
    x, _, _ = _quiet(ld.load_numpy, split="test", **TINY_REF)
    cid = resolve(**TINY_REF).cache_id
    numpy_written = _recorded(tmp_path / "numpy", cid)
    # load_dataset writes a reference variant the same way; the datasets builder itself must agree.
    monkeypatch.setenv("LDMNIST_HOME", str(tmp_path / "datasets"))
    builder = get_builder(resolve(**TINY_REF).config, TINY_DIR, progress=False, cache_id=cid)
    _quiet(prepare, builder, False)
    folder = Path(builder.cache_dir)
    assert folder == cache.cache_dir(cid)
    built = {p.name: sha256_file(p) for p in folder.iterdir() if p.is_file() and not p.name.endswith(".lock")}
    assert built == numpy_written  # Arrow files, dataset_info.json, LICENSE
    monkeypatch.setenv("LDMNIST_HOME", str(tmp_path / "numpy"))
    ds = ld.load_dataset("ldmnist", **TINY_REF)
    np.testing.assert_array_equal(np.asarray(ds["test"]["x"], np.float32), x)


def test_a_cold_load_dataset_of_a_reference_variant_makes_no_datasets_builder(
    ldmnist_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ldmnist_hub.loading import builder

    def no_builder(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a reference variant with raw files here is written without a datasets builder")

    monkeypatch.setattr(builder, "get_builder", no_builder)
    ds = _quiet(ld.load_dataset, "ldmnist", split="test", **TINY_REF)
    x, y, label = ld.load_numpy(split="test", **TINY_REF)
    np.testing.assert_array_equal(np.asarray(ds["x"], np.float32), x)
    np.testing.assert_array_equal(np.asarray(ds["label"]), label)


def test_load_dataset_serves_a_cache_load_numpy_wrote_without_encoding_again(
    ldmnist_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, y, label = _quiet(ld.load_numpy, split="train", **TINY_REF)
    folder = cache.cache_dir(resolve(**TINY_REF).cache_id)
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    ds = ld.load_dataset("ldmnist", split="train", **TINY_REF)
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    assert ds.features["x"].length == 2 and ds.features["label"].names[:2] == ["0", "1"]
    assert ds.num_rows == len(x) == 300
    np.testing.assert_array_equal(np.asarray(ds["y"], np.float32), y)
    np.testing.assert_array_equal(np.asarray(ds["label"]), label)
    np.testing.assert_array_equal(np.asarray(ds["mnist_index"]), np.arange(300))


@pytest.mark.parametrize("split", ["test[:10]", "train[-7:]", "train[290:400]", "test[-150:5]", "train[:-295]",
                                   "test[3:9]+train[:2]+test", "test[10%:20%]", "train[:1%](pct1_dropremainder)"])
def test_every_split_spec_gives_what_load_dataset_gives(split: str, tiny_home: Path, tiny_kwargs: dict) -> None:
    kw = tiny_kwargs | {"build": False}
    ds = ld.load_dataset("ldmnist", split=split, **kw)
    x, y, label = ld.load_numpy(split=split, **kw)
    np.testing.assert_array_equal(x, np.asarray(ds["x"], np.float32))
    np.testing.assert_array_equal(label, np.asarray(ds["label"]))


def test_an_empty_selection_behaves_as_in_load_dataset(tiny_home: Path, tiny_kwargs: dict) -> None:
    kw = tiny_kwargs | {"build": False}
    with pytest.raises(InvalidArgumentError, match="selects no rows"):
        ld.load_numpy(split="test[5:5]", **kw)
    assert ld.load_dataset("ldmnist", split="train[100:50]", **kw).num_rows == 0  # datasets' own rule, kept
    assert [a.shape[0] for a in ld.load_numpy(split="train[100:50]", **kw)] == [0, 0, 0]


def test_arrays_are_writable_contiguous_and_aligned_to_two_cache_lines(tiny_home: Path, tiny_kwargs: dict) -> None:
    for a in ld.load_numpy(split="test[3:50]", **tiny_kwargs | {"build": False}):
        assert a.flags.c_contiguous and a.flags.writeable and a.ctypes.data % 128 == 0


def test_a_damaged_arrow_file_is_encoded_again_from_the_reference_weights(
    ldmnist_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _quiet(ld.load_numpy, split="test", **TINY_REF)
    path = columns.arrow_file(cache.cache_dir(resolve(**TINY_REF).cache_id), "test")
    blob = bytearray(path.read_bytes())
    blob[-200] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.warns(UserWarning, match="encoding .* again"):
        again = _quiet_but_arrow(ld.load_numpy, split="test", **TINY_REF)
    for a, b in zip(again, good, strict=True):
        np.testing.assert_array_equal(a, b)


def _quiet_but_arrow(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not hold the official")
        warnings.filterwarnings("always", message=".*again")
        return fn(*args, **kwargs)


def test_a_built_variant_loads_in_a_fresh_process_without_datasets_or_pandas(
    tiny_home: Path, tiny_kwargs: dict
) -> None:
    code = ("import sys, ldmnist_hub as ld\n"
            f"x, _, _ = ld.load_numpy(latent=4, split='test', train={tiny_kwargs['train']!r}, "
            f"data_dir={str(TINY_DIR)!r}, build=False)\n"
            "print(x.shape, sorted(m for m in ('datasets', 'pandas', 'torch') if m in sys.modules))")
    assert _fresh(code, tiny_home) == "(100, 4) []"


def test_the_builder_version_is_the_one_the_cache_is_written_under() -> None:
    from ldmnist_hub.builders.ldmnist import VERSION

    assert cache.BUILDER_VERSION == str(VERSION)


@needs_full
def test_a_cold_load_numpy_in_a_fresh_process_never_imports_datasets(tmp_path: Path) -> None:
    """The bar: `import ldmnist_hub; ldmnist_hub.load_numpy(latent=32)` cold, then warm, without datasets."""
    code = ("import sys, json, ldmnist_hub\n"
            "from ldmnist_hub.produce import reference\n"
            "x, y, label = ldmnist_hub.load_numpy(latent=32, progress=False)\n"
            "print(json.dumps([reference.split_digests(x, y, label), 'datasets' in sys.modules]))")
    want = reference.get(32).record["data_sha256"]["train"]
    for _ in ("cold", "warm"):
        assert json.loads(_fresh(code, tmp_path / "home", LDMNIST_MNIST_DIR=FULL_DIR)) == [want, False]
    # load_dataset then reads the same files: nothing is encoded again.
    arrow = next((tmp_path / "home" / "datasets").rglob("ldmnist-train.arrow"))
    mtime = arrow.stat().st_mtime_ns
    code = ("import ldmnist_hub\nds = ldmnist_hub.load_dataset('ldmnist', latent=32, split='train', progress=False)\n"
            "print(ds.num_rows)")
    assert _fresh(code, tmp_path / "home", LDMNIST_MNIST_DIR=FULL_DIR) == "50000"
    assert arrow.stat().st_mtime_ns == mtime
