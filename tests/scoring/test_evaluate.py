"""Specification of the one evaluator: ``load_numpy``, ``evaluate`` and ``evaluate_model``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support.variants import built_files

from ldmnist_hub.loading.arrays import load_numpy
from ldmnist_hub.scoring.evaluate import EvalResult, evaluate, evaluate_model

N_ROWS = {"train": 300, "test": 100}


@pytest.fixture
def variant(tiny_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments that select the tiny variant in every function of this layer."""
    return {k: tiny_kwargs[k] for k in ("latent", "train", "data_dir", "progress")}


@pytest.mark.parametrize("split", ["train", "test"])
def test_load_numpy_gives_contiguous_float32_and_int64_arrays_equal_to_the_dataset(
    split: str, tiny_build: tuple[Path, Any], tiny_home: Path, variant: dict[str, Any]
) -> None:
    x, y, label = load_numpy(split=split, build=False, **variant)
    assert (x.shape, y.shape, label.shape) == ((N_ROWS[split], 4), (N_ROWS[split], 4), (N_ROWS[split],))
    assert (x.dtype, y.dtype, label.dtype) == (np.float32, np.float32, np.int64)
    assert all(a.flags.c_contiguous and a.flags.writeable for a in (x, y, label))
    ref = tiny_build[1][split].with_format("numpy")
    np.testing.assert_array_equal(x, np.asarray(ref["x"]))
    np.testing.assert_array_equal(y, np.asarray(ref["y"]))
    np.testing.assert_array_equal(label, np.asarray(ref["label"]))


def test_load_numpy_honours_slices(tiny_home: Path, variant: dict[str, Any]) -> None:
    x, _, label = load_numpy(split="test[10:20]", build=False, **variant)
    full_x, _, full_label = load_numpy(split="test", build=False, **variant)
    np.testing.assert_array_equal(x, full_x[10:20])
    np.testing.assert_array_equal(label, full_label[10:20])


def test_load_numpy_of_an_unbuilt_latent_raises_file_not_found(tiny_home: Path, variant: dict[str, Any]) -> None:
    with pytest.raises(FileNotFoundError, match="not built"):
        load_numpy(split="test", build=False, **{**variant, "latent": 5})


@pytest.mark.parametrize("split", ["validation", "dev", "TEST"])
def test_unknown_split_is_rejected_naming_the_allowed_ones(
    split: str, tiny_home: Path, variant: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="unknown split"):
        load_numpy(split=split, build=False, **variant)
    with pytest.raises(ValueError, match="unknown split"):
        evaluate(np.zeros((100, 4)), split=split, build=False, **variant)


def test_evaluate_of_an_unbuilt_latent_raises_file_not_found(tiny_home: Path, variant: dict[str, Any]) -> None:
    with pytest.raises(FileNotFoundError, match="not built"):
        evaluate(np.zeros((100, 5)), split="test", build=False, **{**variant, "latent": 5})


def test_true_y_scores_zero_mse_and_the_class_vae_accuracy(tiny_home: Path, variant: dict[str, Any]) -> None:
    _, y, _ = load_numpy(split="test", build=False, **variant)
    res = evaluate(y, split="test", build=False, **variant)
    assert isinstance(res, EvalResult)
    assert res.mse == 0.0
    assert res.n == 100
    scores = built_files(variant["latent"], variant).stats()["scores"]
    assert res.reconstructed_accuracy == pytest.approx(scores["class_vae_accuracy"], abs=1e-12)
    assert res.as_dict() == {"mse": 0.0, "reconstructed_accuracy": res.reconstructed_accuracy, "n": 100}


def test_true_y_on_train_matches_the_torch_class_decoder(tiny_home: Path, variant: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    from ldmnist_hub.produce.build import load_models

    _, y, label = load_numpy(split="train", build=False, **variant)
    models = load_models(built_files(variant["latent"], variant))
    with torch.no_grad():
        expected = (models.class_decoder(torch.from_numpy(y)).argmax(1).numpy() == label).mean()
    assert evaluate(y, split="train", build=False, **variant).reconstructed_accuracy == pytest.approx(expected)


def test_class_means_beat_zeros(tiny_home: Path, variant: dict[str, Any]) -> None:
    _, y_train, label_train = load_numpy(split="train", build=False, **variant)
    _, _, label = load_numpy(split="test", build=False, **variant)
    means = np.stack([y_train[label_train == c].mean(0) for c in range(10)])
    oracle = evaluate(means[label], split="test", build=False, **variant)
    zeros = evaluate(np.zeros((100, 4), np.float32), split="test", build=False, **variant)
    assert oracle.mse < zeros.mse
    assert oracle.reconstructed_accuracy > zeros.reconstructed_accuracy


def test_numpy_list_and_torch_predictions_score_the_same(tiny_home: Path, variant: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    _, y, _ = load_numpy(split="test", build=False, **variant)
    pred = y + np.random.default_rng(0).normal(0, 0.5, y.shape).astype(np.float32)
    ref = evaluate(pred, split="test", build=False, **variant)
    as_torch = torch.from_numpy(pred)
    for other in (pred.tolist(), as_torch, as_torch.clone().requires_grad_(), pred.astype(np.float64)):
        res = evaluate(other, split="test", build=False, **variant)
        assert res.mse == pytest.approx(ref.mse, abs=1e-6)
        assert res.reconstructed_accuracy == pytest.approx(ref.reconstructed_accuracy, abs=1e-6)


@pytest.mark.parametrize(
    ("pred", "match"),
    [
        (np.zeros((100, 3)), r"shape \(n, N\) = \(100, 4\).*got shape \(100, 3\)"),
        (np.zeros(400), r"\(100, 4\).*got shape \(400,\)"),
        (np.zeros((99, 4)), r"99 rows but split 'test' has 100.*got shape \(99, 4\)"),
        (np.full((100, 4), np.nan), "finite; got 400 NaN or infinite"),
        (np.where(np.eye(100, 4) > 0, np.inf, 0.0), "finite; got 4 NaN or infinite"),
        (np.zeros((100, 4), bool), "numeric.*bool"),
        (np.full((100, 4), "a"), "numeric.*<U1"),
        (np.zeros((100, 4), object), "numeric.*object"),
        ([[0.0] * 4] * 99 + [[0.0] * 3], "rectangular"),
    ],
    ids=["columns", "1-d", "length", "nan", "inf", "bool", "str", "object", "ragged"],
)
def test_bad_predictions_get_a_clear_error(pred: Any, match: str, tiny_home: Path, variant: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=match):
        evaluate(pred, split="test", build=False, **variant)


def test_evaluate_model_scores_callables_and_torch_modules_like_their_predictions(
    tiny_home: Path, variant: dict[str, Any]
) -> None:
    torch = pytest.importorskip("torch")
    x, _, _ = load_numpy(split="test", build=False, **variant)
    layer = torch.nn.Linear(4, 4)
    with torch.no_grad():
        expected = evaluate(layer(torch.from_numpy(x)), split="test", build=False, **variant)
    model = torch.nn.Sequential(layer, torch.nn.Dropout(0.5)).train()
    res = evaluate_model(model, split="test", batch_size=30, build=False, **variant)
    assert res.mse == pytest.approx(expected.mse, abs=1e-6)
    assert res.reconstructed_accuracy == expected.reconstructed_accuracy
    assert model.training  # mode restored
    weight, bias = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    res_np = evaluate_model(lambda xb: xb @ weight.T + bias, split="test", batch_size=7, build=False, **variant)
    assert res_np.mse == pytest.approx(expected.mse, abs=1e-6)


def test_evaluate_is_fast_once_the_data_is_warm(tiny_home: Path, variant: dict[str, Any]) -> None:
    _, y, _ = load_numpy(split="test", build=False, **variant)
    evaluate(y, split="test", build=False, **variant)
    start = time.perf_counter()
    for _ in range(10):
        evaluate(y, split="test", build=False, **variant)
    assert (time.perf_counter() - start) / 10 < 0.02


def test_evaluate_and_codecs_import_neither_torch_nor_tensorflow() -> None:
    code = ("import sys, ldmnist_hub.scoring.evaluate, ldmnist_hub.scoring.codecs, ldmnist_hub.loading.arrays; "
            "print('torch' in sys.modules, 'tensorflow' in sys.modules)")
    assert subprocess.check_output([sys.executable, "-c", code], text=True).split() == ["False", "False"]
