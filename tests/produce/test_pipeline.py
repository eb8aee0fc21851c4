"""Specification of building a variant end to end: rows, determinism, artifacts, interrupted builds."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ldmnist_hub
from ldmnist_hub import __version__, store
from ldmnist_hub.core.config import TrainConfig
from ldmnist_hub.data import sources
from ldmnist_hub.loading.load import resolve_variant
from ldmnist_hub.store.identity import variant_cache_id

FIXTURE_SIZES = {"train": 300, "test": 100}
FULL_DIR = os.environ.get("LDMNIST_MNIST_DIR")
needs_full = pytest.mark.skipif(not FULL_DIR, reason="set LDMNIST_MNIST_DIR to the full MNIST folder to run this")


def columns(ds: Any, split: str) -> dict[str, np.ndarray]:
    """All columns of one split as numpy arrays (x and y as (n, latent))."""
    table = ds[split].with_format("numpy")
    return {name: np.asarray(table[name]) for name in ("x", "y", "label", "mnist_index")}


def assert_same_rows(a: Any, b: Any) -> None:
    for split in FIXTURE_SIZES:
        ca, cb = columns(a, split), columns(b, split)
        for name in ca:
            assert np.array_equal(ca[name], cb[name]), f"{split}.{name} differs"


def tiny_cid(kwargs: dict[str, Any]) -> str:
    """Cache id of the tiny variant (LDMNIST_HOME must be set: it memoises the data fingerprint)."""
    return variant_cache_id(resolve_variant(latent=kwargs["latent"], train=kwargs["train"]), kwargs["data_dir"])


def variant_entries(home: Path) -> list[str]:
    """Everything (hidden temporary folders included) under ``home/variants``."""
    root = home / "variants"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


@pytest.mark.parametrize("split", ["train", "test"])
def test_split_sizes_and_features_match_fixture(tiny_build: tuple[Path, Any], split: str) -> None:
    _, ds = tiny_build
    data = ds[split]
    assert data.num_rows == FIXTURE_SIZES[split]
    for name in ("x", "y"):
        assert data.features[name].length == 4
        assert data.features[name].feature.dtype == "float32"
    assert data.features["label"].names == [str(d) for d in range(10)]
    cols = columns(ds, split)
    assert cols["x"].shape == cols["y"].shape == (FIXTURE_SIZES[split], 4)
    assert cols["x"].dtype == np.float32
    assert np.all(np.isfinite(cols["x"])) and np.all(np.isfinite(cols["y"]))
    assert np.array_equal(cols["mnist_index"], np.arange(FIXTURE_SIZES[split]))


@pytest.mark.parametrize("split", ["train", "test"])
def test_label_column_equals_fixture_labels_in_order(tiny_build: tuple[Path, Any], tiny_dir: Path, split: str) -> None:
    _, ds = tiny_build
    _, labels = sources.load_split("mnist", split, tiny_dir)
    assert np.array_equal(columns(ds, split)["label"], labels)


@pytest.mark.full
@needs_full
def test_full_mnist_build_has_official_sizes_and_labels(ldmnist_home: Path) -> None:
    ds = ldmnist_hub.load_dataset("ldmnist", latent=2, train={"epochs": 1}, data_dir=FULL_DIR, progress=False)
    for split, rows in (("train", 60000), ("test", 10000)):
        _, labels = sources.load_split("mnist", split, FULL_DIR)
        cols = columns(ds, split)
        assert ds[split].num_rows == rows
        assert cols["x"].shape == (rows, 2)
        assert np.array_equal(cols["label"], labels)
        assert np.array_equal(cols["mnist_index"], np.arange(rows))
    # Official files keep the plain config name (no "-data-<digest>" suffix).
    assert variant_entries(ldmnist_home) == [resolve_variant(latent=2, train={"epochs": 1}).name]


def test_same_config_in_two_homes_gives_identical_rows_and_weights(
    tiny_build: tuple[Path, Any], ldmnist_home: Path, tiny_kwargs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    first_home, first = tiny_build
    second = ldmnist_hub.load_dataset("ldmnist", **tiny_kwargs)
    assert_same_rows(first, second)
    cid = tiny_cid(tiny_kwargs)
    mine = store.variant_files(cid)
    assert mine.root.parent.parent == ldmnist_home
    monkeypatch.setenv("LDMNIST_HOME", str(first_home))
    theirs = store.variant_files(cid)
    assert theirs.root != mine.root
    for part in store.PARTS:
        a, b = mine.weights(part), theirs.weights(part)
        assert a and sorted(a) == sorted(b)
        for name in a:
            assert np.array_equal(a[name], b[name]), f"{part}.{name} differs"


def test_different_seed_gives_different_x(
    tiny_build: tuple[Path, Any], ldmnist_home: Path, tiny_kwargs: dict[str, Any]
) -> None:
    _, canonical = tiny_build
    other = ldmnist_hub.load_dataset("ldmnist", seed=1, **tiny_kwargs)
    assert other["train"].num_rows == FIXTURE_SIZES["train"]
    assert not np.array_equal(columns(canonical, "train")["x"], columns(other, "train")["x"])
    assert np.array_equal(columns(canonical, "train")["label"], columns(other, "train")["label"])
    assert variant_entries(ldmnist_home) == [tiny_cid(tiny_kwargs).replace("latent-4-", "latent-4-seed-1-")]


def test_weights_carry_provenance_metadata(tiny_home: Path, tiny_kwargs: dict[str, Any], tiny_dir: Path) -> None:
    files = store.variant_files(tiny_cid(tiny_kwargs))
    assert files.is_complete()
    fingerprint = sources.source_fingerprint("mnist", tiny_dir)
    for part in store.PARTS:
        assert files.weights_path(part).is_file()
        meta = files.metadata(part)
        assert all(isinstance(v, str) for v in meta.values())
        assert meta["part"] == part
        assert meta["latent"] == "4"
        assert meta["seed"] == "0"
        assert meta["package_version"] == __version__
        assert json.loads(meta["source_sha256"]) == fingerprint
        assert json.loads(meta["train_config"]) == TrainConfig(**tiny_kwargs["train"]).to_dict()
        arch = json.loads(meta["architecture"])
        assert arch["image_encoder"][0] == 784
        assert arch["class_decoder"] == [4, 10]
        assert arch["middle_layers"] == [4, 4, 4, 4]


def test_stats_record_scores_split_moments_and_training(
    tiny_build: tuple[Path, Any], tiny_home: Path, tiny_kwargs: dict[str, Any]
) -> None:
    from ldmnist_hub.store.stats import oracle_mse

    _, ds = tiny_build
    stats = store.variant_files(tiny_cid(tiny_kwargs)).stats()
    scores = stats["scores"]
    assert set(scores) == {"class_vae_accuracy", "image_vae_reconstruction_loss", "middle_layers_accuracy"}
    assert 0.0 <= scores["class_vae_accuracy"] <= 1.0
    assert 0.0 <= scores["middle_layers_accuracy"] <= 1.0
    assert scores["image_vae_reconstruction_loss"] > 0.0
    assert stats["variant"] == resolve_variant(latent=4, train=tiny_kwargs["train"]).to_dict()
    assert stats["official_source"] is False
    for split, rows in FIXTURE_SIZES.items():
        record, cols = stats["splits"][split], columns(ds, split)
        assert record["rows"] == rows
        for name in ("x", "y"):
            assert len(record[name]["mean"]) == len(record[name]["std"]) == 4
            np.testing.assert_allclose(record[name]["mean"], cols[name].astype(np.float64).mean(0), atol=2e-6)
            np.testing.assert_allclose(record[name]["std"], cols[name].astype(np.float64).std(0), atol=2e-6)
        assert record["oracle_mse"] == pytest.approx(oracle_mse(cols["y"], cols["label"]), abs=2e-6)
    assert stats["training"]["epochs"] == 2
    assert stats["training"]["seconds"] >= 0.0
    assert [row["epoch"] for row in stats["training"]["history"]] == [1, 2]


def test_warm_reload_without_build_returns_equal_data_and_does_not_train(
    tiny_build: tuple[Path, Any], tiny_home: Path, tiny_kwargs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import ldmnist_hub.recipe.train

    def no_training(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a warm load must not train")

    monkeypatch.setattr(ldmnist_hub.recipe.train, "train", no_training)
    _, built = tiny_build
    again = ldmnist_hub.load_dataset("ldmnist", build=False, **tiny_kwargs)
    assert_same_rows(built, again)


@pytest.mark.parametrize(
    ("module", "function", "error"),
    [
        ("ldmnist_hub.recipe.encode", "encode_split", RuntimeError),
        ("ldmnist_hub.recipe.encode", "encode_split", KeyboardInterrupt),
        ("ldmnist_hub.recipe.train", "train", RuntimeError),
    ],
)
def test_interrupted_build_leaves_nothing_servable_and_rebuild_equals_clean_build(
    module: str,
    function: str,
    error: type[BaseException],
    tiny_build: tuple[Path, Any],
    ldmnist_home: Path,
    tiny_kwargs: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise error("stopped mid-build")

    with monkeypatch.context() as mp:
        mp.setattr(f"{module}.{function}", interrupted)
        with pytest.raises(error, match="stopped mid-build"):
            ldmnist_hub.load_dataset("ldmnist", **tiny_kwargs)
    with pytest.raises(FileNotFoundError, match="not built"):
        ldmnist_hub.load_dataset("ldmnist", build=False, **tiny_kwargs)
    assert variant_entries(ldmnist_home) == []
    rebuilt = ldmnist_hub.load_dataset("ldmnist", **tiny_kwargs)
    assert_same_rows(tiny_build[1], rebuilt)
    assert variant_entries(ldmnist_home) == [tiny_cid(tiny_kwargs)]


def test_build_interrupted_after_weights_reuses_them_without_training(
    tiny_build: tuple[Path, Any], ldmnist_home: Path, tiny_kwargs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datasets.exceptions import DatasetGenerationError

    from ldmnist_hub.builders.ldmnist import Ldmnist

    def interrupted(self: Any, arrays: Any) -> Any:
        raise RuntimeError("stopped while writing Arrow")
        yield  # a generator, like the method it replaces

    with monkeypatch.context() as mp:
        mp.setattr(Ldmnist, "_generate_tables", interrupted)
        with pytest.raises(DatasetGenerationError) as info:
            ldmnist_hub.load_dataset("ldmnist", **tiny_kwargs)
    assert "stopped while writing Arrow" in str(info.value.__cause__)
    files = store.variant_files(tiny_cid(tiny_kwargs))
    assert files.is_complete()
    stored = {part: files.weights(part) for part in store.PARTS}
    with pytest.raises(FileNotFoundError, match="not built"):
        ldmnist_hub.load_dataset("ldmnist", build=False, **tiny_kwargs)

    def no_training(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the stored weights must be reused")

    monkeypatch.setattr("ldmnist_hub.recipe.train.train", no_training)
    rebuilt = ldmnist_hub.load_dataset("ldmnist", **tiny_kwargs)
    assert_same_rows(tiny_build[1], rebuilt)
    for part, tensors in stored.items():
        after = files.weights(part)
        assert all(np.array_equal(tensors[k], after[k]) for k in tensors)
    assert ldmnist_hub.load_dataset("ldmnist", build=False, **tiny_kwargs)["test"].num_rows == FIXTURE_SIZES["test"]


def test_deleted_weights_make_the_variant_unservable_and_a_load_rebuilds_it(
    tiny_build: tuple[Path, Any], ldmnist_home: Path, tiny_kwargs: dict[str, Any]
) -> None:
    import shutil

    ldmnist_hub.load_dataset("ldmnist", **tiny_kwargs)
    files = store.variant_files(tiny_cid(tiny_kwargs))
    shutil.rmtree(files.root)
    with pytest.raises(FileNotFoundError, match="not built"):
        ldmnist_hub.load_dataset("ldmnist", build=False, **tiny_kwargs)
    rebuilt = ldmnist_hub.load_dataset("ldmnist", **tiny_kwargs)
    assert files.is_complete()
    assert_same_rows(tiny_build[1], rebuilt)


@pytest.mark.parametrize("latent", [1, 512])
def test_extreme_latent_sizes_build_and_load(ldmnist_home: Path, tiny_dir: Path, latent: int) -> None:
    ds = ldmnist_hub.load_dataset(
        "ldmnist", latent=latent, train={"epochs": 1, "batch_size": 150}, data_dir=tiny_dir, progress=False
    )
    x = columns(ds, "test")["x"]
    assert x.shape == (FIXTURE_SIZES["test"], latent) and x.dtype == np.float32
    assert np.isfinite(x).all()
