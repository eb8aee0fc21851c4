"""Our Arrow folder holds ``datasets``' own files too, and ``$LDMNIST_HOME/datasets`` may hold other tools'
(issue #27, item 6).

``Dataset.map`` and ``.filter`` on a split from ``load_dataset("ldmnist", ...)`` cache their results as
``cache-*.arrow`` beside our verified Arrow files. They are recognised as ``datasets``' own: never a reason to
encode the variant again (which deleted them under the mapped dataset), in this process or the next. ``ldmnist
clean`` removes only what it recognises as ours.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _support import REPO_ROOT, TINY_DIR

import ldmnist_hub as ld
from ldmnist_hub.cli import main
from ldmnist_hub.store.files import datasets_own

TRAIN = {"epochs": 2, "batch_size": 100}
CONFIG = "latent-4-trained-51d7e6e5-data-87c1edf0"
LOAD = """
import json, warnings
import ldmnist_hub as ld
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    ds = ld.load_dataset("ldmnist", latent=4, train={train!r}, data_dir={data!r}, build=False, progress=False,
                         split="train")
print(json.dumps({{"rows": ds.num_rows, "warnings": [str(w.message) for w in seen]}}))
"""


@pytest.fixture
def home(tiny_build: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the tiny build's home, as LDMNIST_HOME."""
    copy = tmp_path / "home"
    shutil.copytree(tiny_build[0], copy, symlinks=True)  # records are relative to the home: a copy keeps them
    monkeypatch.setenv("LDMNIST_HOME", str(copy))
    for var in ("LDMNIST_MNIST_DIR", "LDMNIST_REPO", "HF_HUB_OFFLINE", "LDMNIST_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    return copy


def _ours(folder: Path) -> dict[str, int]:
    """Our files in the Arrow folder and their modification times: a re-encode rewrites them."""
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file() and not datasets_own(p.name)}


@pytest.mark.parametrize(("name", "theirs"), [
    ("cache-5eb6d022ad2116c9.arrow", True), ("cache-5eb6d022ad2116c9_00001_of_00004.arrow", True),
    ("tmp8x_2kq9a", True), ("ldmnist-train.arrow", False), ("ldmnist-test.arrow", False),
    ("dataset_info.json", False), ("LICENSE", False),
])
def test_datasets_own_files_are_told_from_ours_by_name(name: str, theirs: bool) -> None:
    assert datasets_own(name) is theirs


def test_a_mapped_dataset_survives_a_load_in_a_new_process_with_no_reencode(home: Path) -> None:
    ds = ld.load_dataset("ldmnist", latent=4, train=TRAIN, data_dir=TINY_DIR, build=False, progress=False,
                         split="train")
    mapped = ds.map(lambda row: {"total": float(sum(row["x"]))})
    kept = mapped.filter(lambda row: row["label"] < 5)
    cache = [Path(f["filename"]) for d in (mapped, kept) for f in d.cache_files]
    folder = Path(ds.cache_files[0]["filename"]).parent
    theirs = [p for p in cache if p.parent == folder and p.name.startswith("cache-")]
    assert theirs, cache  # datasets wrote its caches beside ours: the case at stake
    ours_before = _ours(folder)

    env = {**os.environ, "LDMNIST_HOME": str(home), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-c", LOAD.format(train=TRAIN, data=str(TINY_DIR))], env=env,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["rows"] == 300
    assert not [w for w in got["warnings"] if "again" in w or "not the recorded" in w], got["warnings"]
    assert _ours(folder) == ours_before  # not encoded again
    assert all(p.is_file() for p in theirs)  # datasets' caches are still there
    assert mapped[0]["total"] == pytest.approx(sum(mapped[0]["x"])) and kept.num_rows == sum(
        1 for label in ds["label"] if label < 5)
    again = ld.load_dataset("ldmnist", latent=4, train=TRAIN, data_dir=TINY_DIR, build=False, progress=False,
                            split="train")
    assert again.map(lambda row: {"total": float(sum(row["x"]))}).num_rows == 300  # the same process, too
    assert _ours(folder) == ours_before


def test_clean_all_removes_only_what_ldmnist_hub_made_in_the_datasets_cache(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    datasets_root = home / "datasets"
    other = datasets_root / "other_tool" / "data.bin"  # another library sharing the cache folder
    other.parent.mkdir(parents=True)
    other.write_bytes(b"not ours\n")
    parquet = datasets_root / "parquet"

    def parquet_cache(config: str, columns: list[str]) -> Path:
        info = parquet / config / "0.0.0" / "abc123" / "dataset_info.json"
        info.parent.mkdir(parents=True)
        info.write_text(json.dumps({"builder_name": "parquet", "features": {c: {"_type": "Value"} for c in columns}}))
        (info.parent / "parquet-train.arrow").write_bytes(b"arrow")
        return parquet / config

    theirs = parquet_cache("default-1111", ["text", "label"])
    ours = parquet_cache("default-2222", ["x", "y", "label", "mnist_index"])  # copies of our pulled shards
    assert main(["clean", "--all", "--json"]) == 0
    rows = {r["path"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["datasets/other_tool"]["kind"] == "foreign" and not rows["datasets/other_tool"]["removed"]
    assert rows["datasets/parquet/default-1111"]["kind"] == "foreign"
    assert rows["datasets/parquet/default-2222"]["removed"]
    assert main(["clean", "--all", "--yes"]) == 0
    assert other.read_bytes() == b"not ours\n" and (theirs / "0.0.0" / "abc123" / "parquet-train.arrow").is_file()
    assert not ours.exists() and not (home / "variants" / CONFIG).exists()
