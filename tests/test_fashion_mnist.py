"""A second source end to end: a Fashion-MNIST variant goes through every entry point with its own class names.

Uses Debian's ``dataset-fashion-mnist`` (the full official data; CI installs
it and sets ``LDMNIST_REQUIRE_FASHION=1`` so that a missing copy fails there
instead of skipping). Training is 2 epochs: the point is the plumbing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ldmnist_hub as ld
from ldmnist_hub.data.sources import get_source, load_split

FASHION_DIR = Path(os.environ.get("LDMNIST_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
NAMES = list(get_source("fashion_mnist").classes)

if not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file():
    if os.environ.get("LDMNIST_REQUIRE_FASHION"):
        raise RuntimeError(f"Fashion-MNIST is required here but missing from {FASHION_DIR}; "
                           "apt-get install dataset-fashion-mnist")
    pytest.skip(f"Fashion-MNIST not found in {FASHION_DIR} (apt-get install dataset-fashion-mnist)",
                allow_module_level=True)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fashion(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A trained latent-8 Fashion-MNIST variant (2 epochs) in its own LDMNIST_HOME."""
    home = tmp_path_factory.mktemp("fashion") / "home"
    mp = pytest.MonkeyPatch()
    mp.setenv("LDMNIST_HOME", str(home))
    for var in ("LDMNIST_MNIST_DIR", "LDMNIST_FASHION_MNIST_DIR", "LDMNIST_REPO", "LDMNIST_OFFLINE"):
        mp.delenv(var, raising=False)
    kw = {"latent": 8, "source": "fashion_mnist", "train": {"epochs": 2}, "data_dir": FASHION_DIR}
    ld.load_dataset("ldmnist", progress=False, **kw)
    yield {**kw, "home": home}
    mp.undo()


def _variant(fashion: dict[str, Any]) -> dict[str, Any]:
    return {k: fashion[k] for k in ("latent", "source", "train", "data_dir")}


def test_the_fashion_variant_is_named_for_its_source_and_carries_its_class_names(fashion: dict[str, Any]) -> None:
    ds = ld.load_dataset("ldmnist", build=False, **_variant(fashion))
    assert ds.num_rows == {"train": 60000, "test": 10000}
    assert ds["train"].features["label"].names == NAMES
    assert ds["train"].info.license == "mit"
    assert "xiao2017fashion" in ds["train"].info.citation
    assert ld.VariantConfig(8, source="fashion_mnist", train=ld.TrainConfig(epochs=2)).name.startswith(
        "latent-8-fashion-mnist-trained-")


def test_every_framework_and_the_evaluator_read_the_same_fashion_rows(fashion: dict[str, Any]) -> None:
    kw = {**_variant(fashion), "build": False, "progress": False}
    x, y, label = ld.load_numpy(split="test", **kw)
    batches = list(ld.torch_loader(split="test", batch_size=4096, shuffle=False, **kw))
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), x)
    tf_x = np.concatenate([b[0].numpy() for b in ld.tf_dataset(split="test", batch_size=4096, **kw)])
    np.testing.assert_array_equal(tf_x, x)
    res = ld.evaluate(y, split="test", **kw)
    assert res.mse == 0.0 and res.reconstructed_accuracy > 0.9
    # The rows are Fashion-MNIST's test rows, in its order.
    np.testing.assert_array_equal(label, load_split("fashion_mnist", "test", FASHION_DIR)[1])


def test_benchmark_scores_the_fashion_variant(fashion: dict[str, Any]) -> None:
    result = ld.benchmark(models=["mean", "linear"], label_efficiency_sizes=None, progress=False, **_variant(fashion))
    assert result.variant["source"] == "fashion_mnist"
    assert result.variant["name"].startswith("latent-8-fashion-mnist-trained-")
    assert [r.model for r in result.rows] == ["mean", "linear"]
    assert result.rows[1].mse < result.rows[0].mse


def test_plots_and_explorer_of_the_fashion_variant_use_its_class_names(fashion: dict[str, Any],
                                                                        tmp_path: Path) -> None:
    from ldmnist_hub.viz.explorer import explorer_payload
    from ldmnist_hub.viz.plots import make_plots

    written = make_plots(out_dir=tmp_path, plots=["histograms", "projections", "synthesis"], tsne_points=100,
                         samples_per_class=10, classifier_rows=500, progress=False, **_variant(fashion))
    assert all(p.is_file() and p.stat().st_size > 10_000 for p in written.values())
    payload = explorer_payload(n_samples=5, **_variant(fashion))
    assert payload["class_names"] == NAMES and payload["variant"].startswith("latent-8-fashion-mnist-")


def test_the_cli_takes_the_source_in_every_command(fashion: dict[str, Any], tmp_path: Path) -> None:
    args = ["--latent", "8", "--source", "fashion_mnist", "--mnist-dir", str(FASHION_DIR), "--set", "epochs=2"]
    env = {**os.environ, "LDMNIST_HOME": str(fashion["home"]), "MPLBACKEND": "Agg"}

    def run(*cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ldmnist_hub.cli", *cmd], env=env, capture_output=True,
                              text=True, timeout=300)

    info = run("info", *args, "--json")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["variant"]["source"] == "fashion_mnist"
    bench = run("benchmark", *args, "--models", "mean", "--label-sizes", "", "--json", "--quiet")
    assert bench.returncode == 0, bench.stderr
    assert json.loads(bench.stdout)["variant"]["source"] == "fashion_mnist"
    explore = run("explore", *args, "--samples", "3", "--out", str(tmp_path / "e.html"), "--quiet")
    assert explore.returncode == 0, explore.stderr
    assert "Ankle boot" in (tmp_path / "e.html").read_text()
