"""The `datasets` builder, declared as TFDS tests declare theirs: expected splits, sizes and features."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets
import pytest

from ldmnist_hub.builders.ldmnist import VERSION, Ldmnist, LDMNISTConfig
from ldmnist_hub.core.schema import COLUMNS, SOURCE_SPLITS
from ldmnist_hub.data.sources import get_source

# What the tiny fixture (first 300 train / 100 test MNIST rows) must build into.
EXPECTED_SPLITS = {"train": 300, "test": 100}
EXPECTED_FEATURES = {"x": ("float32", 4), "y": ("float32", 4)}
EXPECTED_LABELS = [str(d) for d in range(10)]


def test_the_builder_declares_one_config_class_a_version_and_release_notes() -> None:
    assert Ldmnist.BUILDER_CONFIG_CLASS is LDMNISTConfig
    assert Ldmnist.VERSION == VERSION
    from ldmnist_hub.builders.ldmnist import RELEASE_NOTES

    assert str(VERSION) in RELEASE_NOTES


def test_the_tiny_build_has_the_expected_splits_and_sizes(tiny_build: tuple[Path, Any]) -> None:
    _, ds = tiny_build
    assert tuple(ds) == SOURCE_SPLITS  # a trained variant has MNIST's own two splits
    assert {split: ds[split].num_rows for split in ds} == EXPECTED_SPLITS


def test_the_tiny_build_has_the_schema_features(tiny_build: tuple[Path, Any]) -> None:
    _, ds = tiny_build
    features = ds["train"].features
    assert tuple(features) == COLUMNS
    for name, (dtype, length) in EXPECTED_FEATURES.items():
        assert isinstance(features[name], datasets.List)
        assert (features[name].feature.dtype, features[name].length) == (dtype, length)
    assert features["label"].names == EXPECTED_LABELS == list(get_source("mnist").classes)
    assert features["mnist_index"].dtype == "int64"


def test_rows_keep_the_mnist_order(tiny_build: tuple[Path, Any]) -> None:
    _, ds = tiny_build
    for split, n in EXPECTED_SPLITS.items():
        assert ds[split]["mnist_index"] == list(range(n))


@pytest.mark.parametrize("split", SOURCE_SPLITS)
def test_the_info_carries_the_source_licence_and_both_citations(tiny_build: tuple[Path, Any], split: str) -> None:
    _, ds = tiny_build
    info = ds[split].info
    assert info.license == get_source("mnist").license == "cc-by-sa-3.0"
    assert "lecun1998gradient" in info.citation and "ldmnist" in info.citation
