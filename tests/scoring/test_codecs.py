"""Specification of the numpy encoders/decoders: equal to the torch modules, strict about images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support import TINY_DIR
from _support.variants import built_files

from ldmnist_hub.loading.arrays import load_numpy
from ldmnist_hub.scoring.codecs import apply_middle_layers, class_means, decode_images, decode_labels, encode_images

torch = pytest.importorskip("torch")


@pytest.fixture
def variant(tiny_kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: tiny_kwargs[k] for k in ("latent", "train", "data_dir", "progress")} | {"build": False}


@pytest.fixture
def models(tiny_home: Path, variant: dict[str, Any]):
    from ldmnist_hub.produce.build import load_models

    return load_models(built_files(variant["latent"], variant))


@pytest.fixture
def images() -> np.ndarray:
    from ldmnist_hub.data import sources

    return sources.load_split("mnist", "test", TINY_DIR)[0][:50]


def test_decode_images_equals_the_torch_decoder(models: Any, tiny_home: Path, variant: dict[str, Any]) -> None:
    x, _, _ = load_numpy(split="test", **variant)
    out = decode_images(x, **variant)
    assert out.shape == (100, 28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    with torch.no_grad():
        expected = torch.sigmoid(models.image_decoder(torch.from_numpy(x))).numpy().reshape(-1, 28, 28)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_decode_labels_equals_the_torch_class_decoder(models: Any, tiny_home: Path, variant: dict[str, Any]) -> None:
    _, y, _ = load_numpy(split="test", **variant)
    probs = decode_labels(y, **variant)
    assert probs.shape == (100, 10)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    with torch.no_grad():
        expected = torch.softmax(models.class_decoder(torch.from_numpy(y)), 1).numpy()
    np.testing.assert_allclose(probs, expected, atol=1e-5)


def test_apply_middle_layers_equals_the_torch_middle_layers(
    models: Any, tiny_home: Path, variant: dict[str, Any]
) -> None:
    x, _, _ = load_numpy(split="test", **variant)
    out = apply_middle_layers(x, **variant)
    with torch.no_grad():
        expected = models.middle_layers(torch.from_numpy(x)).numpy()
    assert out.shape == (100, 4) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_class_means_are_the_class_encoders_means(models: Any, tiny_home: Path, variant: dict[str, Any]) -> None:
    means = class_means(**variant)
    with torch.no_grad():
        expected, _ = models.class_encoder(torch.eye(10))
    np.testing.assert_allclose(means, expected.numpy(), atol=1e-6)
    # y is sampled around its class mean: the test rows sit closer to their own class's mean than to the others'.
    _, y, label = load_numpy(split="test", **variant)
    dist = ((y[:, None, :] - means[None]) ** 2).sum(-1)
    own = dist[np.arange(len(y)), label]
    assert own.mean() < dist.mean()


def test_encode_images_means_equal_the_torch_encoder(
    models: Any, images: np.ndarray, tiny_home: Path, variant: dict[str, Any]
) -> None:
    means = encode_images(images, sample=False, **variant)
    with torch.no_grad():
        expected, _ = models.image_encoder(torch.from_numpy(images.reshape(50, 784) / np.float32(255.0)))
    np.testing.assert_allclose(means, expected.numpy(), atol=1e-5)


def test_uint8_float_and_flat_images_encode_alike(images: np.ndarray, tiny_home: Path, variant: dict[str, Any]) -> None:
    ref = encode_images(images, sample_seed=3, **variant)
    assert ref.shape == (50, 4) and ref.dtype == np.float32
    np.testing.assert_allclose(encode_images(images / 255.0, sample_seed=3, **variant), ref, atol=1e-5)
    np.testing.assert_array_equal(encode_images(images.reshape(50, 784), sample_seed=3, **variant), ref)


def test_sampling_is_seeded(images: np.ndarray, tiny_home: Path, variant: dict[str, Any]) -> None:
    a = encode_images(images, sample_seed=1, **variant)
    np.testing.assert_array_equal(a, encode_images(images, sample_seed=1, **variant))
    np.testing.assert_array_equal(a, encode_images(images, sample_seed=np.random.default_rng(1), **variant))
    assert not np.array_equal(a, encode_images(images, sample_seed=2, **variant))
    assert not np.array_equal(a, encode_images(images, sample=False, **variant))


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((5, 28, 27), np.uint8), r"\(n, 28, 28\) or \(n, 784\); got shape \(5, 28, 27\)"),
        (np.zeros((28, 28), np.uint8), r"got shape \(28, 28\)"),
        (np.zeros((5, 783)), r"got shape \(5, 783\)"),
    ],
    ids=["28x27", "single-image", "783"],
)
def test_images_of_a_wrong_shape_are_rejected(
    bad: np.ndarray, match: str, tiny_home: Path, variant: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=match):
        encode_images(bad, **variant)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.full((2, 784), 255.0), r"float images must be in \[0, 1\]; got range \[255.0, 255.0\].*uint8"),
        (np.full((2, 784), -0.5), r"float images must be in \[0, 1\]"),
        (np.full((2, 784), np.nan), r"float images must be in \[0, 1\]"),
        (np.full((2, 784), 256), r"0\.\.255; got range \[256, 256\]"),
        (np.zeros((2, 784), bool), "dtype bool"),
    ],
    ids=["float-0-255", "negative", "nan", "int-256", "bool"],
)
def test_images_out_of_range_are_rejected(
    bad: np.ndarray, match: str, tiny_home: Path, variant: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=match):
        encode_images(bad, **variant)


@pytest.mark.parametrize("fn", [decode_images, decode_labels, apply_middle_layers])
def test_codes_of_a_wrong_width_are_rejected(fn: Any, tiny_home: Path, variant: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"shape \(n, 4\) for latent 4; got shape \(3, 5\)"):
        fn(np.zeros((3, 5), np.float32), **variant)


def test_codecs_of_an_unbuilt_latent_raise_file_not_found(tiny_home: Path, variant: dict[str, Any]) -> None:
    with pytest.raises(FileNotFoundError, match="not built"):
        decode_labels(np.zeros((3, 5), np.float32), **{**variant, "latent": 5})
