"""LD-MNIST 3.0.0: ``train`` (MNIST training rows 0-49,999), ``validation`` (rows 50,000-59,999), ``test``.

The 3.0.0 weights never saw the validation rows; 2.0.0 (two splits, weights trained on all 60,000 rows) stays
loadable bit-identically from its shipped record and weights, and asking it for ``validation`` is an error that
names the version that has one. The bars are measured on the official MNIST (``LDMNIST_MNIST_DIR``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import ldmnist_hub as ld
from ldmnist_hub.core import versions
from ldmnist_hub.core.config import VariantConfig
from ldmnist_hub.core.schema import THREE_SPLITS, TWO_SPLITS, VALIDATION_START
from ldmnist_hub.data import sources
from ldmnist_hub.errors import InvalidArgumentError
from ldmnist_hub.produce import reference
from ldmnist_hub.produce.reference import split_digests

FULL_DIR = os.environ.get("LDMNIST_MNIST_DIR")
needs_full = pytest.mark.skipif(not FULL_DIR, reason="set LDMNIST_MNIST_DIR to the full MNIST folder to run this")
LATENT = 8


@pytest.fixture
def official(ldmnist_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty home that reads the official MNIST."""
    if not FULL_DIR:
        pytest.skip("set LDMNIST_MNIST_DIR to the full MNIST folder to run this")
    monkeypatch.setenv("LDMNIST_MNIST_DIR", FULL_DIR)
    return ldmnist_home


@pytest.mark.parametrize("latent", reference.available())
def test_every_reference_size_is_3_0_0_with_three_splits_and_keeps_2_0_0(latent: int) -> None:
    record = versions.record(latent)
    assert versions.current(latent).startswith("3.")
    assert VariantConfig(latent).splits == THREE_SPLITS
    assert record["train_rows"] == [0, VALIDATION_START]  # the record says which rows trained the weights
    assert set(record["data_sha256"]) == {"train", "validation", "test"}
    assert {s: record["stats"]["splits"][s]["rows"] for s in THREE_SPLITS} == {
        "train": 50_000, "validation": 10_000, "test": 10_000}
    assert "2.0.0" in versions.released(latent) and VariantConfig(latent, version="2.0.0").splits == TWO_SPLITS
    old = reference.get(latent, "2.0.0")
    assert old is not None  # the 2.0.0 weights ship, so 2.0.0 is encoded here exactly, as before
    old.verify_weights()
    assert old.record["weights_sha256"] != record["weights_sha256"]


@needs_full
@pytest.mark.parametrize("latent", [LATENT, 32])
def test_validation_is_mnist_training_rows_50000_to_59999(latent: int, official: Path) -> None:
    _, labels = sources.load_split("mnist", "train", FULL_DIR)
    x, y, label = ld.load_numpy(latent=latent, split="validation", progress=False)
    assert x.shape == (10_000, latent) and y.shape == (10_000, latent)
    np.testing.assert_array_equal(label, labels[VALIDATION_START:])
    train = ld.load_numpy(latent=latent, split="train", progress=False)
    assert len(train[0]) == VALIDATION_START
    np.testing.assert_array_equal(train[2], labels[:VALIDATION_START])
    v = ld.variant(latent=latent)
    assert v.version.startswith("3.")
    ds = ld.load_dataset("ldmnist", latent=latent, progress=False)
    assert list(ds) == ["train", "validation", "test"]
    index = np.asarray(ds["validation"]["mnist_index"])
    np.testing.assert_array_equal(index, np.arange(VALIDATION_START, 60_000))
    assert ds["train"]["mnist_index"][-1] == VALIDATION_START - 1 and ds["test"]["mnist_index"][0] == 0
    # Both readers (pyarrow for load_numpy, datasets for load_dataset) give the same bytes, which are the record's.
    want = versions.record(latent)["data_sha256"]
    assert split_digests(x, y, label) == want["validation"]
    np.testing.assert_array_equal(np.asarray(ds["validation"]["x"], dtype=np.float32), x)
    # The evaluator scores any split the variant has.
    res = ld.evaluate(y, latent=latent, split="validation", progress=False)
    assert res.n == 10_000 and res.reconstructed_accuracy > 0.98


@needs_full
def test_version_2_0_0_is_bit_identical_and_names_the_version_with_validation(official: Path) -> None:
    record = versions.record(LATENT, "2.0.0")
    got = {s: split_digests(*ld.load_numpy(LATENT, s, version="2.0.0", progress=False)) for s in ("train", "test")}
    assert got == {s: record["data_sha256"][s] for s in ("train", "test")}
    assert len(ld.load_numpy(LATENT, "train", version="2.0.0", progress=False)[0]) == 60_000
    with pytest.raises(InvalidArgumentError, match=r"version 2\.0\.0\) has no 'validation' split, only 'train', "
                                                   r"'test'; version 3\.0\.0 has one: leave version out"):
        ld.load_numpy(LATENT, "validation", version="2.0.0")
    with pytest.raises(InvalidArgumentError, match="has no 'validation' split"):
        ld.load_dataset("ldmnist", latent=LATENT, version="2.0.0", split="train+validation[:10]")


def test_a_trained_variant_has_two_splits_and_says_where_validation_is(ldmnist_home: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown split 'validation' for latent-23-trained-.*has only the "
                                                   "splits 'train', 'test'.*from 3.0.0 on"):
        ld.load_numpy(latent=23, split="validation", build=False)


@needs_full
def test_validation_is_pushed_described_and_pulled_back_bit_identical(tmp_path: Path) -> None:
    """A folder mirror of 3.0.0 holds validation-*.parquet, the card's configs and Croissant name it, and a
    machine with no MNIST pulls it back: the recorded bytes, 10,000 rows, MNIST rows 50,000-59,999."""
    import json
    import subprocess
    import sys

    from _support.procs import child_env
    from _support.reference_home import push_reference_mirror

    mirror = push_reference_mirror(tmp_path, LATENT)
    assert (mirror / f"latent-{LATENT}" / "validation-00000-of-00001.parquet").is_file()
    card = (mirror / "README.md").read_text()
    assert f"split: validation\n    path: latent-{LATENT}/validation-*.parquet" in card
    assert "50000 / 10000 / 10000" in card  # the variants table's rows (train / validation / test)
    croissant = (mirror / "croissant.json").read_text()
    assert "(train|validation|test)" in croissant
    probe = ("import json, ldmnist_hub as ld\nfrom ldmnist_hub.produce.reference import split_digests\n"
             f"x, y, label = ld.load_numpy({LATENT}, 'validation', progress=False)\n"
             f"ds = ld.load_dataset('ldmnist', latent={LATENT}, split='validation')\n"
             "print(json.dumps({'sha': split_digests(x, y, label), 'index': [ds['mnist_index'][0], "
             "ds['mnist_index'][-1]], 'rows': len(x)}))\n")
    env = child_env(tmp_path / "home", HF_HUB_OFFLINE="1", LDMNIST_REPO=str(mirror))  # no MNIST here
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got == {"sha": versions.record(LATENT)["data_sha256"]["validation"], "index": [VALIDATION_START, 59_999],
                   "rows": 10_000}


@needs_full
@pytest.mark.parametrize("loader", ["torch_loader", "tf_dataset", "jax_arrays", "grain_source"])
def test_every_framework_loader_serves_validation(loader: str, official: Path) -> None:
    pytest.importorskip({"torch_loader": "torch", "tf_dataset": "tensorflow", "jax_arrays": "jax",
                         "grain_source": "grain"}[loader])
    labels = sources.load_split("mnist", "train", FULL_DIR)[1][VALIDATION_START:]
    if loader == "torch_loader":
        got = np.concatenate([lb.numpy() for _, _, lb in ld.torch_loader(latent=LATENT, split="validation",
                                                                          batch_size=4096, shuffle=False,
                                                                          progress=False)])
    elif loader == "tf_dataset":
        got = np.concatenate([lb.numpy() for _, _, lb in ld.tf_dataset(latent=LATENT, split="validation",
                                                                        batch_size=4096, shuffle=False,
                                                                        include_label=True, progress=False)])
    elif loader == "jax_arrays":
        got = np.asarray(ld.jax_arrays(latent=LATENT, split="validation", progress=False)[2])
    else:
        source = ld.grain_source(latent=LATENT, split="validation", progress=False)
        got = np.array([source[i]["label"] for i in range(len(source))])
    np.testing.assert_array_equal(got, labels)
