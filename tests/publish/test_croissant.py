"""Croissant metadata of a pushed mirror: mlcroissant validates it and loads every record of each config."""

from __future__ import annotations

import collections
import importlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support import TINY_DIR

from ldmnist_hub.hub import layout as hub_layout
from ldmnist_hub.loading.arrays import load_numpy
from ldmnist_hub.publish.upload import push

# The readers extra brings it; LDMNIST_REQUIRE_READERS=1 (CI) makes a missing one a failure, not a skip.
mlc = importlib.import_module("mlcroissant") if os.environ.get("LDMNIST_REQUIRE_READERS") else pytest.importorskip(
    "mlcroissant")
TRAIN = {"epochs": 2, "batch_size": 100}
LATENTS = (3, 4)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, str]]:
    """A folder repo with two tiny configs, and their config names."""
    root = tmp_path_factory.mktemp("croissant")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LDMNIST_HOME", str(root / "home"))
        for var in ("LDMNIST_MNIST_DIR", "LDMNIST_REPO", "HF_HUB_OFFLINE"):
            mp.delenv(var, raising=False)
        configs = {n: push(n, str(root / "mirror"), train=TRAIN, data_dir=TINY_DIR, allow_unofficial_source=True,
                           progress=False).config for n in LATENTS}
        yield root / "mirror", configs


def test_every_push_writes_croissant_listing_every_config(mirror: tuple[Path, dict[int, str]]) -> None:
    folder, configs = mirror
    doc = json.loads((folder / hub_layout.CROISSANT).read_text())
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    assert sorted(r["@id"] for r in doc["recordSet"]) == sorted(configs.values())
    for record_set in doc["recordSet"]:
        x = next(f for f in record_set["field"] if f["name"] == "x")
        assert x["cr:isArray"] is True and x["dataType"] == "cr:Float32"


def test_mlcroissant_validates_the_metadata(mirror: tuple[Path, dict[int, str]]) -> None:
    folder, _ = mirror
    dataset = mlc.Dataset(jsonld=str(folder / hub_layout.CROISSANT))  # raises on any validation error
    assert {rs.name for rs in dataset.metadata.record_sets} == set(mirror[1].values())


@pytest.mark.parametrize("latent", LATENTS)
def test_mlcroissant_loads_every_record_of_each_split_as_load_numpy_serves_it(
    mirror: tuple[Path, dict[int, str]], latent: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, configs = mirror
    config = configs[latent]
    monkeypatch.chdir(folder)  # file sets are relative to the metadata's folder
    records = list(mlc.Dataset(jsonld=hub_layout.CROISSANT).records(record_set=config))
    by_split: dict[str, list[Any]] = collections.defaultdict(list)
    for record in records:
        by_split[record[f"{config}/split"].decode()].append(record)
    monkeypatch.setenv("LDMNIST_HOME", str(folder.parent / "home"))
    for split, rows in by_split.items():
        rows.sort(key=lambda r: r[f"{config}/mnist_index"])
        x, y, label = load_numpy(latent, split, train=TRAIN, data_dir=TINY_DIR, build=False, progress=False)
        assert len(rows) == len(label)
        np.testing.assert_array_equal(np.array([r[f"{config}/x"] for r in rows], np.float32), x)
        np.testing.assert_array_equal(np.array([r[f"{config}/y"] for r in rows], np.float32), y)
        np.testing.assert_array_equal([r[f"{config}/label"] for r in rows], label)
    assert sorted(by_split) == ["test", "train"]


def test_a_repush_with_nothing_new_leaves_croissant_unchanged(mirror: tuple[Path, dict[int, str]],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    folder, _ = mirror
    before = (folder / hub_layout.CROISSANT).read_bytes()
    monkeypatch.setenv("LDMNIST_HOME", str(folder.parent / "home"))
    again = push(LATENTS[0], str(folder), train=TRAIN, data_dir=TINY_DIR, allow_unofficial_source=True, progress=False)
    assert not again.changed and (folder / hub_layout.CROISSANT).read_bytes() == before


def test_croissant_names_the_repo_itself_and_the_day_it_was_first_published(
    mirror: tuple[Path, dict[int, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from ldmnist_hub.hub import croissant

    folder, _ = mirror
    doc = json.loads((folder / hub_layout.CROISSANT).read_text())
    assert doc["url"] == folder.resolve().as_uri()  # the mirror, not the original project
    assert dt.date.fromisoformat(doc["datePublished"]) <= dt.datetime.now(dt.timezone.utc).date()
    # a later push keeps the first push's date: identical content, identical file
    assert croissant.date_published(json.dumps(doc), today="2099-01-01") == doc["datePublished"]
    assert croissant.date_published(None, today="2099-01-01") == "2099-01-01"
    assert croissant.repo_url("my-org/ldmnist", "https://huggingface.co/", local=False) == (
        "https://huggingface.co/datasets/my-org/ldmnist")
