"""The one evaluator on inputs from the edges: masked arrays, narrow float dtypes, models that return nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ldmnist_hub.errors import InvalidArgumentError
from ldmnist_hub.loading.arrays import load_numpy
from ldmnist_hub.scoring.evaluate import evaluate, evaluate_model
from ldmnist_hub.scoring.inputs import as_predictions


@pytest.fixture
def variant(tiny_home: Path, tiny_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments selecting the session's tiny variant (latent 4, 100 test rows), never building."""
    return {**{k: tiny_kwargs[k] for k in ("latent", "train", "data_dir", "progress")}, "build": False}


@pytest.fixture
def y_pred(variant: dict[str, Any]) -> np.ndarray:
    """Honest-looking predictions of the tiny test split: its ``x`` (float32, shape (100, 4))."""
    x, _, _ = load_numpy(split="test", **variant)
    return x


def test_a_masked_array_with_nothing_masked_scores_as_its_data(y_pred: np.ndarray, variant: dict[str, Any]) -> None:
    assert evaluate(np.ma.masked_array(y_pred, mask=False), **variant) == evaluate(y_pred, **variant)


def test_a_masked_array_with_masked_values_is_refused_naming_how_many(
    y_pred: np.ndarray, variant: dict[str, Any]
) -> None:
    mask = np.zeros(y_pred.shape, bool)
    mask[3, 1] = mask[7, 0] = True
    with pytest.raises(InvalidArgumentError, match=r"masked array with 2 masked value\(s\) of 400.*filled"):
        evaluate(np.ma.masked_array(y_pred, mask=mask), **variant)


def test_evaluate_model_whose_model_returns_none_names_the_missing_return(variant: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError, match=r"returned None for a batch of 100 rows.*`return` missing"):
        evaluate_model(lambda x: None, **variant)


def test_evaluate_model_whose_model_returns_one_value_per_batch_is_refused(variant: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError, match=r"returned shape \(\) for a batch of 40 rows"):
        evaluate_model(lambda x: float(x.sum()), batch_size=40, **variant)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int32"])
def test_numpy_floats_and_ints_of_any_width_are_scored_as_their_values(
    dtype: str, y_pred: np.ndarray, variant: dict[str, Any]
) -> None:
    narrow = y_pred.astype(dtype)
    assert evaluate(narrow, **variant) == evaluate(narrow.astype(np.float64), **variant)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_narrow_torch_tensors_are_scored_through_float32(
    dtype: str, y_pred: np.ndarray, variant: dict[str, Any]
) -> None:
    torch = pytest.importorskip("torch")
    tensor = torch.from_numpy(y_pred).to(getattr(torch, dtype))
    widened = tensor.float().numpy()
    assert not np.array_equal(widened, y_pred)  # the narrow dtype rounded: the score is of its own values
    assert evaluate(tensor, **variant) == evaluate(widened, **variant)
    assert evaluate_model(lambda x: torch.tensor(x).to(getattr(torch, dtype)), **variant) == evaluate(
        widened, **variant)


def test_an_ml_dtypes_bfloat16_array_is_scored_through_float32(y_pred: np.ndarray, variant: dict[str, Any]) -> None:
    ml_dtypes = pytest.importorskip("ml_dtypes")
    narrow = y_pred.astype(ml_dtypes.bfloat16)
    assert evaluate(narrow, **variant) == evaluate(narrow.astype(np.float32), **variant)


def test_as_predictions_gives_a_tables_rows_as_given_with_its_mnist_index() -> None:
    table = {"mnist_index": [2, 0, 1], "y_pred": [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]}
    values, index = as_predictions(table, 2)
    assert values.tolist() == table["y_pred"] and index.tolist() == [2, 0, 1]  # aligned later, by evaluate
    assert as_predictions(table["y_pred"], 2).index is None
    with pytest.raises(InvalidArgumentError, match=r"columns \['y_pred'\] give 2 value\(s\) per row but latent 3"):
        as_predictions(table, 3)
