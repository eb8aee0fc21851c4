"""Error bars of the evaluator: standard errors over rows, the oracle floor, ``explained``, ``rows=`` and draws."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support.reference_home import encode_reference, use_home

import ldmnist_hub as ld
from ldmnist_hub.errors import InvalidArgumentError, InvalidArgumentTypeError
from ldmnist_hub.loading.arrays import load_numpy, variant_weights
from ldmnist_hub.loading.variant import resolve
from ldmnist_hub.scoring.draws import DrawsComparison, DrawsResult, compare_draws, evaluate_draws
from ldmnist_hub.scoring.evaluate import EvalResult, evaluate, evaluate_model

LATENT = 8


@pytest.fixture(scope="module")
def reference_8(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home holding the reference latent-8 (full MNIST, encoded in seconds); its other draws encode on use."""
    import os

    if not os.environ.get("LDMNIST_MNIST_DIR"):
        pytest.skip("set LDMNIST_MNIST_DIR to the full MNIST folder to run this")
    return encode_reference(tmp_path_factory, LATENT)


@pytest.fixture
def home(reference_8: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_home(monkeypatch, reference_8)


@pytest.fixture
def tiny(tiny_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments that select the tiny (trained, latent 4, 100 test rows) variant without building."""
    return {**{k: tiny_kwargs[k] for k in ("latent", "train", "data_dir", "progress")}, "build": False}


def _least_squares(seed: int = 0) -> np.ndarray:
    """Least-squares predictions of draw ``seed``'s test ``y``, fitted on that draw's train split."""
    x, y, _ = load_numpy(latent=LATENT, split="train", seed=seed, progress=False)
    xt, _, _ = load_numpy(latent=LATENT, split="test", seed=seed, progress=False)
    w = np.linalg.lstsq(np.c_[x, np.ones(len(x))], y, rcond=None)[0]
    return np.c_[xt, np.ones(len(xt))] @ w


def _by_hand(pred: np.ndarray, y: np.ndarray, label: np.ndarray, train_mean: np.ndarray) -> dict[str, float]:
    """Every score of EvalResult, computed here from its definition."""
    decoder = variant_weights(resolve(LATENT).files, "class_decoder")
    y = y.astype(np.float64)
    per_row = ((pred - y) ** 2).mean(axis=1)
    decoded = (pred @ decoder["linear.weight"].T.astype(np.float64) + decoder["linear.bias"]).argmax(axis=1)
    accuracy = float(np.mean(decoded == label))
    means = {c: y[label == c].mean(axis=0) for c in np.unique(label)}
    floor_rows = ((y - np.stack([means[c] for c in label])) ** 2).mean(axis=1)
    floor = float(floor_rows.mean())
    trainmean = float(np.mean((y - train_mean) ** 2))
    mse = float(per_row.mean())
    return {"mse": mse, "reconstructed_accuracy": accuracy, "n": len(label),
            "mse_se": float(np.std(per_row, ddof=1) / math.sqrt(len(per_row))),
            "reconstructed_accuracy_se": math.sqrt(accuracy * (1 - accuracy) / len(label)),
            "excess_mse": mse - floor, "explained": (trainmean - mse) / (trainmean - floor),
            "excess_mse_se": float(np.std(per_row - floor_rows, ddof=1) / math.sqrt(len(per_row)))}


def _train_mean() -> np.ndarray:
    return np.asarray(ld.variant(latent=LATENT).stats["splits"]["train"]["y"]["mean"], dtype=np.float64)


# ---------------------------------------------------------------------------------------- the scale


def test_the_train_mean_explains_nothing_and_the_class_mean_oracle_everything(home: Path) -> None:
    _, y_train, label_train = load_numpy(latent=LATENT, split="train", progress=False)
    _, y, label = load_numpy(latent=LATENT, split="test", progress=False)
    train_mean = evaluate(np.tile(y_train.mean(0), (len(y), 1)), latent=LATENT, progress=False)
    assert train_mean.explained == pytest.approx(0.0, abs=1e-6)
    oracle = evaluate(np.stack([y[label == c].mean(0) for c in range(10)])[label], latent=LATENT, progress=False)
    assert oracle.explained == pytest.approx(1.0, abs=1e-12)
    assert oracle.excess_mse == pytest.approx(0.0, abs=1e-12)
    assert oracle.mse == pytest.approx(ld.variant(latent=LATENT).stats["splits"]["test"]["oracle_mse"], abs=1e-6)
    # Class means estimated on train: the oracle up to the estimation of the means.
    train_means = evaluate(np.stack([y_train[label_train == c].mean(0) for c in range(10)])[label], latent=LATENT,
                           progress=False)
    assert train_means.explained == pytest.approx(1.0, abs=0.01)
    assert 0 < train_means.excess_mse < 0.01
    assert train_mean.excess_mse == pytest.approx(train_mean.mse - oracle.mse, abs=1e-12)


def test_the_train_mean_scored_on_train_itself_explains_zero(home: Path) -> None:
    _, y_train, _ = load_numpy(latent=LATENT, split="train", progress=False)
    res = evaluate(np.tile(y_train.astype(np.float64).mean(0), (len(y_train), 1)), latent=LATENT, split="train",
                   progress=False)
    assert res.explained == pytest.approx(0.0, abs=1e-9)  # 0 up to the stats' 6-decimal rounding of the mean
    assert evaluate(np.tile(_train_mean(), (len(y_train), 1)), latent=LATENT, split="train",
                    progress=False).explained == 0.0


def test_every_score_and_error_bar_equals_its_definition_by_hand(home: Path) -> None:
    pred = _least_squares()
    _, y, label = load_numpy(latent=LATENT, split="test", progress=False)
    res = evaluate(pred, latent=LATENT, progress=False)
    for name, value in _by_hand(pred, y, label, _train_mean()).items():
        assert getattr(res, name) == pytest.approx(value, rel=1e-9, abs=1e-12), name
    assert res.mse_se == pytest.approx(0.0037, abs=1e-4) and 0.4 < res.explained < 0.6
    # The excess is paired with the floor of the same rows: their shared posterior noise cancels.
    assert res.excess_mse_se < res.mse_se / 2


def test_rows_scores_exactly_that_subset(home: Path) -> None:
    pred = _least_squares()
    _, y, label = load_numpy(latent=LATENT, split="test", progress=False)
    idx = np.random.default_rng(0).permutation(len(y))[:5000]  # one half of a train_test_split, in its order
    res = evaluate(pred[idx], latent=LATENT, rows=idx, progress=False)
    assert res.n == 5000
    for name, value in _by_hand(pred[idx], y[idx], label[idx], _train_mean()).items():
        assert getattr(res, name) == pytest.approx(value, rel=1e-9, abs=1e-12), name
    # rows in another order, a list and a range score the same rows.
    order = np.argsort(idx)
    assert evaluate(pred[idx[order]], latent=LATENT, rows=idx[order].tolist(), progress=False).mse == \
        pytest.approx(res.mse, rel=1e-12)
    assert evaluate(pred[:100], latent=LATENT, rows=range(100), progress=False) == \
        evaluate(pred[:100], latent=LATENT, split="test[:100]", progress=False)


def test_evaluate_model_with_rows_predicts_and_scores_only_those_rows(home: Path) -> None:
    seen: list[int] = []

    def model(x: np.ndarray) -> np.ndarray:
        seen.append(len(x))
        return x * 0.5

    x, _, _ = load_numpy(latent=LATENT, split="test", progress=False)
    idx = np.arange(3, 10_000, 7)
    res = evaluate_model(model, latent=LATENT, rows=idx, progress=False)
    assert sum(seen) == len(idx)
    assert res == evaluate(x[idx] * 0.5, latent=LATENT, rows=idx, progress=False)


def test_a_table_scored_with_rows_is_aligned_to_those_rows_by_mnist_index(home: Path) -> None:
    pd = pytest.importorskip("pandas")
    pred = _least_squares()
    index = np.asarray(ld.load_dataset("ldmnist", latent=LATENT, split="test", progress=False)["mnist_index"])
    idx = np.arange(0, 10_000, 3)
    frame = pd.DataFrame({"mnist_index": index[idx], "y_pred": list(pred[idx])}).sample(frac=1.0, random_state=0)
    assert evaluate(frame, latent=LATENT, rows=idx, progress=False) == evaluate(pred[idx], latent=LATENT, rows=idx,
                                                                                 progress=False)


def test_the_printed_form_shows_mean_and_se() -> None:
    res = EvalResult(0.884, 0.961, 10_000, 0.0014, 0.0019, 0.0123, 0.947)
    assert str(res) == "mse 0.8840 +- 0.0014, accuracy 0.961 +- 0.002, excess 0.0123, explained 0.947, n=10000"
    assert list(res.as_dict()) == ["mse", "reconstructed_accuracy", "n", "mse_se", "reconstructed_accuracy_se",
                                   "excess_mse", "explained", "excess_mse_se"]
    assert math.isnan(EvalResult(0.5, 0.5, 10).mse_se)  # the three-field form still constructs


def test_as_dict_is_strict_json_where_an_error_bar_is_nan() -> None:
    import json

    def strict(doc: Any) -> Any:  # json.loads refusing NaN and Infinity, as JSON itself does
        return json.loads(json.dumps(doc), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))

    one_row = EvalResult(0.5, 1.0, 1, math.nan, 0.0, 0.0, 1.0)
    assert strict(one_row.as_dict())["mse_se"] is None
    one_draw = DrawsResult.of((0,), (one_row,))
    assert strict(one_draw.as_dict())["mse_sd"] is None and strict(one_draw.as_dict())["draws"][0]["mse_se"] is None
    paired = strict(DrawsComparison(one_draw, one_draw, (0.0,), (math.nan,), 0.0, math.nan).as_dict())
    assert paired["se"] is None and paired["row_se"] == [None]
    assert strict(EvalResult(0.5, 0.5, 10, 0.1, 0.2, 0.3, 0.4).as_dict())["mse_se"] == 0.1  # numbers untouched


# ---------------------------------------------------------------------------------------- bad rows


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        (np.ones(100, bool), r"not a boolean mask .*np\.flatnonzero\(mask\)"),
        (np.array([0.0, 1.5]), r"integers; got dtype float64.*astype\(int\)"),
        ([0, 100], r"rows \[100\] .*out of range for split 'test' of 100 rows: give positions 0\.\.99"),
        ([-1, 3], r"rows \[-1\] .*out of range.*negative positions are not accepted"),
        (np.array([2**63, 1], np.uint64), r"rows \[9223372036854775808\] \(1 value\(s\)\) are out of range"),
        ([2**64 - 1], r"rows \[18446744073709551615\] \(1 value\(s\)\) are out of range"),
        ([4, 5, 4, 5], r"rows \[4, 5\] \(2 value\(s\)\) appear more than once.*np\.unique\(rows\)"),
        ([], r"selects no rows of split 'test'.*rows=None"),
        (np.zeros((2, 2), int), r"1-D .*shape \(2, 2\)"),
        (7, r"1-D sequence of integer positions.*got rows=7"),
        ("0,1", r"1-D sequence of integer positions.*got rows='0,1'"),
    ],
    ids=["mask", "float", "too-large", "negative", "uint64-past-int64", "list-past-int64", "repeated", "empty", "2-d",
         "scalar", "string"],
)
def test_bad_rows_get_a_clear_error_naming_the_value_and_the_fix(
    rows: Any, match: str, tiny_home: Path, tiny: dict[str, Any]
) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        evaluate(np.zeros((2, 4)), rows=rows, **tiny)


def test_predictions_not_one_per_selected_row_are_refused_naming_rows(tiny_home: Path, tiny: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError, match=r"predictions have 100 rows but rows= of split 'test' has 50"):
        evaluate(np.zeros((100, 4)), rows=np.arange(50), **tiny)


# ---------------------------------------------------------------------------------------- draws


def test_evaluate_draws_is_the_mean_and_sd_of_one_evaluate_per_draw(home: Path) -> None:
    preds = {seed: _least_squares(seed) for seed in (0, 1, 2)}
    each = [evaluate(preds[seed], latent=LATENT, seed=seed, progress=False) for seed in (0, 1, 2)]
    res = evaluate_draws(preds, latent=LATENT, progress=False)
    assert isinstance(res, DrawsResult) and res.seeds == (0, 1, 2) and res.draws == tuple(each) and res.n == 10_000
    for name in ("mse", "reconstructed_accuracy", "excess_mse", "explained"):
        values = [getattr(r, name) for r in each]
        assert getattr(res, name) == pytest.approx(np.mean(values), rel=1e-12), name
        assert getattr(res, f"{name}_sd") == pytest.approx(np.std(values, ddof=1), rel=1e-9), name
    assert len({r.mse for r in each}) == 3  # three different draws of y
    # A callable seed -> predictions, the handle's method and the package name give the same.
    assert evaluate_draws(lambda seed: preds[seed], latent=LATENT, progress=False) == res
    assert ld.variant(latent=LATENT, progress=False).evaluate_draws(preds) == res
    assert ld.evaluate_draws is evaluate_draws and ld.DrawsResult is DrawsResult
    assert str(res).endswith("(mean +- sd over 3 draws, n=10000)") and str(res).startswith(f"mse {res.mse:.4f} +- ")
    assert res.as_dict()["draws"][1] == each[1].as_dict()


def test_evaluate_draws_with_rows_scores_those_rows_of_every_draw(home: Path) -> None:
    half = np.arange(0, 10_000, 2)
    preds = {seed: _least_squares(seed)[half] for seed in (1, 2)}
    res = evaluate_draws(preds, latent=LATENT, rows=half, progress=False)
    assert res.draws == tuple(evaluate(preds[s], latent=LATENT, seed=s, rows=half, progress=False) for s in (1, 2))


def test_compare_draws_pairs_the_two_entries_on_each_draw(home: Path) -> None:
    a = {seed: _least_squares(seed) for seed in (0, 1, 2)}
    b = {seed: np.zeros((10_000, LATENT)) for seed in (0, 1, 2)}
    cmp = compare_draws(a, b, latent=LATENT, progress=False)
    assert ld.compare_draws is compare_draws
    assert cmp.seeds == (0, 1, 2)
    diffs = [cmp.a.draws[i].mse - cmp.b.draws[i].mse for i in range(3)]
    assert cmp.differences == tuple(diffs)
    assert cmp.mean_difference == pytest.approx(np.mean(diffs), rel=1e-12)
    assert cmp.se == pytest.approx(np.std(diffs, ddof=1) / math.sqrt(3), rel=1e-9)
    _, y0, _ = load_numpy(latent=LATENT, split="test", progress=False)
    per_row = ((a[0] - y0) ** 2).mean(1) - ((b[0] - y0) ** 2).mean(1)
    assert cmp.row_se[0] == pytest.approx(np.std(per_row, ddof=1) / 100.0, rel=1e-9)
    assert cmp.mean_difference < -0.05 and cmp.se < 0.01  # least squares clearly beats zeros
    assert str(cmp).startswith(f"mse a - b {cmp.mean_difference:+.4f} +- {cmp.se:.4f} (mean +- se over 3 paired")


def test_draws_refuse_bad_seeds_and_variants_without_draws(tiny_home: Path, tiny: dict[str, Any]) -> None:
    zeros = np.zeros((100, 4))
    with pytest.raises(InvalidArgumentError, match=r"seeds=\(0, 1\) is for callables; a mapping's keys"):
        evaluate_draws({0: zeros}, latent=4, seeds=(0, 1))
    with pytest.raises(InvalidArgumentError, match=r"draw seeds must be distinct; got \[0, 0\]"):
        evaluate_draws(lambda seed: zeros, latent=4, seeds=[0, 0])
    with pytest.raises(InvalidArgumentError, match="at least one draw seed"):
        evaluate_draws({}, latent=4)
    with pytest.raises(InvalidArgumentError, match=r"must hold the same draws.*\[0, 1\] and \[0, 2\]"):
        compare_draws({0: zeros, 1: zeros}, {0: zeros, 2: zeros}, latent=4)
    with pytest.raises(InvalidArgumentTypeError, match="mapping .* or a callable.*use evaluate"):
        evaluate_draws(zeros, latent=4)
    with pytest.raises(InvalidArgumentError, match="is trained here, not a reference variant.*evaluate"):
        ld.variant(**tiny).evaluate_draws({0: zeros, 1: zeros})
