"""Encoders and decoders of a variant, run in numpy from its safetensors weights.

The forward passes are those of :mod:`ldmnist_hub.store.forward` (the torch
modules in eval mode); sampling follows the variant's ``logvar_quirk``. No
torch is needed. Every function selects the variant with the keywords of
:func:`ldmnist_hub.load_numpy`, ``version`` (a dataset version) included.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ldmnist_hub._deprecated import renamed_keywords, seed_selects_the_variant
from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE, TrainConfig
from ldmnist_hub.core.schema import DEFAULT_LATENT, IMAGE_SIDE
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.errors import InvalidArgumentError
from ldmnist_hub.loading.arrays import variant_weights
from ldmnist_hub.loading.variant import Variant, select
from ldmnist_hub.store.forward import BLOCK, blocks, images_to_unit, linear, softmax


def _codes(values: Any, latent: int, what: str) -> np.ndarray:
    a = np.asarray(values)
    if a.dtype == np.bool_ or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise InvalidArgumentError(f"{what} must be a real numeric array; got dtype {a.dtype}")
    if a.ndim != 2 or a.shape[1] != latent:
        raise InvalidArgumentError(f"{what} must have shape (n, {latent}) for latent {latent}; got shape {a.shape}")
    finite = np.isfinite(a)
    if not finite.all():
        raise InvalidArgumentError(
            f"{what} must be finite; got {a.size - int(np.count_nonzero(finite))} NaN or infinite value(s)")
    return a.astype(np.float32, copy=False)


def decode_images(
    x: Any,
    latent: int | Variant = DEFAULT_LATENT,
    *,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
    version: str | None = None,
) -> np.ndarray:
    """Decode image codes ``x`` ``(n, N)`` into images with the variant's image decoder.

    Returns:
        float32 ``(n, 28, 28)`` with pixel values in [0, 1] (sigmoid of the logits).

    Examples:
        >>> x, _, _ = load_numpy(latent=32, split="test")  # doctest: +SKIP
        >>> decode_images(x[:16], latent=32).shape  # doctest: +SKIP
        (16, 28, 28)
    """
    variant = select(latent, "decode_images", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    codes = _codes(x, variant.latent, "x")
    files, cfg = variant.files, variant.trained_with()
    w = variant_weights(files, "image_decoder")
    h = blocks(codes, w, 1, len(cfg.hidden), cfg.leaky_slope, cfg.bn_eps)  # body.0 is dropout
    logits = linear(h, w, f"body.{1 + BLOCK * len(cfg.hidden)}")
    # The logistic function through tanh: no overflow for very negative logits (as 1 / (1 + exp(-z)) has).
    pixels = 0.5 + 0.5 * np.tanh(0.5 * logits)
    return pixels.astype(np.float32, copy=False).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)


def decode_labels(
    y: Any,
    latent: int | Variant = DEFAULT_LATENT,
    *,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
    version: str | None = None,
) -> np.ndarray:
    """Class probabilities ``(n, 10)`` of label codes ``y`` ``(n, N)`` (the class decoder + softmax).

    Examples:
        >>> _, y, label = load_numpy(latent=32, split="test")  # doctest: +SKIP
        >>> (decode_labels(y, latent=32).argmax(1) == label).mean()  # doctest: +SKIP
        0.998
    """
    variant = select(latent, "decode_labels", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    codes = _codes(y, variant.latent, "y")
    files = variant.files
    return softmax(linear(codes, variant_weights(files, "class_decoder"), "linear")).astype(np.float32, copy=False)


@seed_selects_the_variant(rng="sample_seed")
def encode_images(
    images: Any,
    latent: int | Variant = DEFAULT_LATENT,
    *,
    sample: bool = True,
    sample_seed: int | np.random.Generator = 0,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
    version: str | None = None,
) -> np.ndarray:
    """Encode images into image codes ``(n, N)`` with the variant's image encoder.

    Args:
        images: ``(n, 28, 28)`` or ``(n, 784)``; uint8 in 0..255 or float in [0, 1].
        latent: latent size N of the variant.
        sample: draw from the posterior (as the dataset's ``x`` is drawn);
            ``False`` returns the posterior means.
        seed: the variant's seed (0 is canonical; for a reference variant, the posterior draw).
        source: the raw data source (``"mnist"``, ``"fashion_mnist"``; see ``ldmnist_hub.data.sources.SOURCES``).
        train: training recipe overrides of the variant (see :class:`~ldmnist_hub.TrainConfig`).
        data_dir: folder with the raw IDX files (default: the source's environment variable, or the download cache).
        build: build the variant if it is not cached (otherwise raise).
        progress: show progress bars while building.
        sample_seed: seed of the noise (``np.random.default_rng(sample_seed)``)
            or a ``np.random.Generator`` to draw it from.

    Raises:
        ValueError: images of a wrong shape, dtype or value range.

    Examples:
        >>> codes = encode_images(decode_images(x[:16], latent=32), latent=32)  # doctest: +SKIP
    """
    variant = select(latent, "encode_images", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    flat = images_to_unit(images)
    files, cfg = variant.files, variant.trained_with()
    mean, logvar = _image_posterior(flat, variant_weights(files, "image_encoder"), cfg)
    if not sample:
        return mean
    eps = np.random.default_rng(sample_seed).standard_normal(mean.shape, dtype=np.float32)
    scale = np.exp(logvar) if cfg.logvar_quirk else np.exp(np.float32(0.5) * logvar)
    return (mean + scale * eps).astype(np.float32, copy=False)


def _image_posterior(flat: np.ndarray, w: dict[str, np.ndarray], cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    h = blocks(flat, w, 0, len(cfg.hidden), 0.0, cfg.bn_eps)
    return linear(h, w, "mean").astype(np.float32, copy=False), linear(h, w, "logvar").astype(np.float32, copy=False)


def apply_middle_layers(
    x: Any,
    latent: int | Variant = DEFAULT_LATENT,
    *,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
    version: str | None = None,
) -> np.ndarray:
    """Predict ``y`` ``(n, N)`` from ``x`` with the middle layers trained during the build.

    These are the original's example model (3 x Dense(N) trained jointly with
    the VAEs on the class decoder's loss), run in eval mode from the variant's
    safetensors.

    Examples:
        >>> x, _, _ = load_numpy(latent=32, split="test")  # doctest: +SKIP
        >>> apply_middle_layers(x, latent=32).shape  # doctest: +SKIP
        (10000, 32)
    """
    variant = select(latent, "apply_middle_layers", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    codes = _codes(x, variant.latent, "x")
    files, cfg = variant.files, variant.trained_with()
    w = variant_weights(files, "middle_layers")
    h = blocks(codes, w, 0, 2, cfg.leaky_slope, cfg.bn_eps)
    return linear(h, w, f"body.{2 * BLOCK}").astype(np.float32, copy=False)


def class_means(
    latent: int | Variant = DEFAULT_LATENT,
    *,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
    version: str | None = None,
) -> np.ndarray:
    """The class VAE's posterior mean of every class, ``(10, N)``.

    ``y`` of a row is a sample around the mean of its class, so predicting
    ``class_means(...)[label]`` is the best any model can do (the oracle).
    """
    variant = select(latent, "class_means", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    files = variant.files
    w = variant_weights(files, "class_encoder")
    return (w["mean.weight"].T + w["mean.bias"]).astype(np.float32, copy=False)


@renamed_keywords(variant_seed="seed")
def image_posterior(
    images: Any,
    latent: int | Variant = DEFAULT_LATENT,
    *,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
    version: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior ``(mean, std)`` of the image codes, each ``(n, N)``.

    ``std`` is the noise scale the dataset's ``x`` was drawn with: ``exp(logvar)``
    under the original's sampling quirk, ``exp(logvar / 2)`` otherwise.
    """
    variant = select(latent, "image_posterior", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    flat = images_to_unit(images)
    files, cfg = variant.files, variant.trained_with()
    mean, logvar = _image_posterior(flat, variant_weights(files, "image_encoder"), cfg)
    std = np.exp(logvar) if cfg.logvar_quirk else np.exp(np.float32(0.5) * logvar)
    return mean, std.astype(np.float32, copy=False)


