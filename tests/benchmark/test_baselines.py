"""Specification of the reference models and the label-efficiency probe, on the tiny variant's real data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support import TINY_DIR

from ldmnist_hub.benchmark import baselines
from ldmnist_hub.benchmark.label_efficiency import label_efficiency
from ldmnist_hub.data.sources import load_split
from ldmnist_hub.loading.arrays import load_numpy
from ldmnist_hub.scoring.subsets import balanced_subset
from ldmnist_hub.store.forward import images_to_unit


@pytest.fixture
def data(tiny_home: Path, tiny_kwargs: dict[str, Any]) -> tuple[np.ndarray, ...]:
    """``(train_x, train_y, train_label, test_x, test_y, test_label)`` of the tiny variant."""
    kw = {k: tiny_kwargs[k] for k in ("latent", "train", "data_dir", "progress")} | {"build": False}
    return (*load_numpy(split="train", **kw), *load_numpy(split="test", **kw))


def test_holdout_split_is_seeded_disjoint_and_complete() -> None:
    fit, held = baselines.holdout_split(1000, seed=3)
    assert len(held) == 100 and len(fit) == 900
    assert np.array_equal(np.sort(np.concatenate([fit, held])), np.arange(1000))
    again = baselines.holdout_split(1000, seed=3)
    assert np.array_equal(again[1], held)
    assert not np.array_equal(baselines.holdout_split(1000, seed=4)[1], held)


def test_mean_predictor_predicts_the_train_mean_everywhere(data: tuple[np.ndarray, ...]) -> None:
    xtr, ytr, _, xte, _, _ = data
    pred = baselines.mean_predictor(xtr, ytr, xte)
    assert pred.shape == (len(xte), ytr.shape[1]) and pred.dtype == np.float32
    np.testing.assert_allclose(pred, np.tile(ytr.mean(0), (len(xte), 1)), atol=1e-6)


def test_ridge_with_a_vanishing_penalty_is_least_squares(data: tuple[np.ndarray, ...]) -> None:
    xtr, ytr, _, xte, _, _ = data
    pred, info = baselines.ridge_regression(xtr, ytr, xte, penalties=[1e-9])
    np.testing.assert_allclose(pred, baselines.linear_least_squares(xtr, ytr, xte), atol=1e-4)
    assert info["penalty"] == 1e-9


def test_ridge_picks_the_penalty_with_the_lowest_held_out_error(data: tuple[np.ndarray, ...]) -> None:
    xtr, ytr, _, xte, _, _ = data
    candidates = [1e-3, 1e1, 1e6]
    _, info = baselines.ridge_regression(xtr, ytr, xte, penalties=candidates, seed=0)
    fit, held = baselines.holdout_split(len(xtr), 0)
    errors = [np.mean((baselines.ridge_regression(xtr[fit], ytr[fit], xtr[held], penalties=[a])[0] - ytr[held]) ** 2)
              for a in candidates]
    assert info["penalty"] == candidates[int(np.argmin(errors))]
    assert info["holdout_mse"] == pytest.approx(min(errors), rel=1e-4)
    # A huge penalty shrinks every prediction to the train mean.
    huge, _ = baselines.ridge_regression(xtr, ytr, xte, penalties=[1e12])
    np.testing.assert_allclose(huge, baselines.mean_predictor(xtr, ytr, xte), atol=1e-4)


def test_ridge_and_knn_choose_on_the_held_out_rows_they_are_given(data: tuple[np.ndarray, ...]) -> None:
    xtr, ytr, _, xte, _, _ = data
    held = np.arange(len(xtr) - len(xtr) // 6, len(xtr))  # the protocol's rows: the end of train
    fit = np.arange(held[0])
    candidates = [1e-3, 1e1, 1e6]
    _, info = baselines.ridge_regression(xtr, ytr, xte, penalties=candidates, held_out=held)
    errors = [np.mean((baselines.ridge_regression(xtr[fit], ytr[fit], xtr[held], penalties=[a])[0] - ytr[held]) ** 2)
              for a in candidates]
    assert info["holdout_mse"] == pytest.approx(min(errors), rel=1e-4)
    _, info = baselines.knn_regression(xtr, ytr, xte, neighbours=(1, 5), held_out=held)
    expected = [np.mean((baselines.knn_regression(xtr[fit], ytr[fit], xtr[held], neighbours=[k])[0] - ytr[held]) ** 2)
                for k in (1, 5)]
    assert info["holdout_mse"] == pytest.approx(min(expected), rel=1e-4)


@pytest.mark.parametrize("held_out", [[], list(range(300)), [-1, 5], [299, 300]])
def test_held_out_rows_must_be_some_rows_of_train(held_out: list[int], data: tuple[np.ndarray, ...]) -> None:
    xtr, ytr, _, xte, _, _ = data
    with pytest.raises(ValueError, match="held_out must be some, not all, positions in 0..299"):
        baselines.ridge_regression(xtr, ytr, xte, held_out=np.array(held_out, dtype=np.int64))


def test_the_mlp_width_sets_its_hidden_layers(data: tuple[np.ndarray, ...]) -> None:
    import torch

    from ldmnist_hub.core.config import TrainConfig
    from ldmnist_hub.recipe.models import MiddleLayers

    xtr, ytr, _, xte, _, _ = data
    def widths(model: torch.nn.Module) -> list[int]:
        return [m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)]

    assert widths(MiddleLayers(4, TrainConfig(), width=256)) == [256, 256, 4]
    assert widths(MiddleLayers(4, TrainConfig())) == [4, 4, 4]  # the original's: width N
    pred = baselines.mlp_regression(xtr, ytr, xte, epochs=2, width=256)
    assert pred.shape == (len(xte), 4) and np.isfinite(pred).all()


def test_knn_equals_scikit_learns_regressor_for_the_k_it_chose(data: tuple[np.ndarray, ...]) -> None:
    from sklearn.neighbors import KNeighborsRegressor

    xtr, ytr, _, xte, _, _ = data
    pred, info = baselines.knn_regression(xtr, ytr, xte, neighbours=(1, 5, 25), seed=0)
    assert info["k"] in (1, 5, 25)
    expected = KNeighborsRegressor(n_neighbors=info["k"], algorithm="brute").fit(xtr, ytr).predict(xte)
    np.testing.assert_allclose(pred, expected, atol=1e-5)


def test_knn_with_one_neighbour_returns_the_training_targets_of_training_rows(data: tuple[np.ndarray, ...]) -> None:
    xtr, ytr, *_ = data
    pred, info = baselines.knn_regression(xtr, ytr, xtr, neighbours=(1,))
    assert info["k"] == 1
    np.testing.assert_allclose(pred, ytr, atol=1e-6)


def test_knn_without_a_usable_k_names_the_problem(data: tuple[np.ndarray, ...]) -> None:
    xtr, ytr, _, xte, _, _ = data
    with pytest.raises(ValueError, match="no usable k"):
        baselines.knn_regression(xtr, ytr, xte, neighbours=(10_000,))


def test_balanced_subset_takes_a_tenth_of_the_size_from_every_class() -> None:
    _, labels = load_split("mnist", "train", TINY_DIR)
    idx = balanced_subset(labels, 100, seed=0)
    assert np.bincount(labels[idx], minlength=10).tolist() == [10] * 10
    assert np.array_equal(idx, balanced_subset(labels, 100, seed=0))
    assert np.array_equal(balanced_subset(labels, 10_000, seed=0), np.arange(len(labels)))
    with pytest.raises(ValueError, match="fewer than"):
        balanced_subset(labels, 290, seed=0)


def test_label_efficiency_on_pixels_learns_and_rejects_bad_sizes(data: tuple[np.ndarray, ...], tiny_dir: Path) -> None:
    xtr, _, ltr, xte, _, lte = data
    ptr = images_to_unit(load_split("mnist", "train", tiny_dir)[0])
    pte = images_to_unit(load_split("mnist", "test", tiny_dir)[0])
    rows = label_efficiency((xtr, ptr, ltr), (xte, pte, lte), sizes=[100, 300], seed=0)
    assert [r.labels for r in rows] == [100, 300]
    # A linear probe on 300 real MNIST digits is far above chance (0.1) on 100 test digits.
    assert rows[-1].pixel_accuracy > 0.6
    assert all(0.0 <= r.x_accuracy <= 1.0 for r in rows)
    for bad in ([], [5], [100, True]):
        with pytest.raises(ValueError, match="sizes must be integers >= 10"):
            label_efficiency((xtr, ptr, ltr), (xte, pte, lte), sizes=bad)
