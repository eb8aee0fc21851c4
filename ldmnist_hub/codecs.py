"""Encoders and decoders of a variant, run in numpy from its safetensors weights.

The forward passes mirror the torch modules in :mod:`ldmnist_hub.models` in
eval mode: dropout is the identity and BatchNorm uses its running statistics
with the variant's ``bn_eps``; LeakyReLU uses its ``leaky_slope``; sampling
follows its ``logvar_quirk``. No torch is needed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .arrays import PathArg, Train, variant_files_for, variant_weights
from .config import CANONICAL_SEED, TrainConfig, VariantConfig
from .loading import DEFAULT_LATENT

IMAGE_SIDE = 28
IMAGE_PIXELS = IMAGE_SIDE * IMAGE_SIDE
# Each hidden block of the torch modules is Linear, activation, BatchNorm, Dropout.
_BLOCK = 4


def _linear(h: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    return h @ w[f"{name}.weight"].T + w[f"{name}.bias"]


def _batch_norm(h: np.ndarray, w: dict[str, np.ndarray], name: str, eps: float) -> np.ndarray:
    scale = w[f"{name}.weight"] / np.sqrt(w[f"{name}.running_var"] + np.float32(eps))
    return (h - w[f"{name}.running_mean"]) * scale + w[f"{name}.bias"]


def _blocks(h: np.ndarray, w: dict[str, np.ndarray], start: int, count: int, slope: float, eps: float) -> np.ndarray:
    """``count`` hidden blocks of ``body`` from index ``start``; ``slope`` 0 is ReLU."""
    for i in range(start, start + _BLOCK * count, _BLOCK):
        h = _linear(h, w, f"body.{i}")
        h = np.where(h >= 0, h, h * np.float32(slope))
        h = _batch_norm(h, w, f"body.{i + 2}", eps)
    return h


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _codes(values: Any, latent: int, what: str) -> np.ndarray:
    a = np.asarray(values)
    if a.dtype == np.bool_ or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"{what} must be a real numeric array; got dtype {a.dtype}")
    if a.ndim != 2 or a.shape[1] != latent:
        raise ValueError(f"{what} must have shape (n, {latent}) for latent {latent}; got shape {a.shape}")
    return a.astype(np.float32, copy=False)


def images_to_unit(images: Any) -> np.ndarray:
    """Validate images and return them as float32 ``(n, 784)`` in [0, 1].

    Accepts ``(n, 28, 28)`` or ``(n, 784)``; integer pixels in 0..255 (uint8,
    as MNIST stores them) or float pixels in [0, 1].

    Raises:
        ValueError: another shape, a non-numeric dtype, or values outside the range.
    """
    a = np.asarray(images)
    if a.ndim not in (2, 3) or a.shape[1:] not in ((IMAGE_SIDE, IMAGE_SIDE), (IMAGE_PIXELS,)):
        raise ValueError(f"images must have shape (n, 28, 28) or (n, 784); got shape {a.shape}")
    if a.dtype == np.bool_ or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"images must be uint8 in 0..255 or float in [0, 1]; got dtype {a.dtype}")
    flat = a.reshape(len(a), IMAGE_PIXELS)
    if a.size == 0:
        return flat.astype(np.float32)
    lo, hi = flat.min(), flat.max()
    if np.issubdtype(a.dtype, np.integer):
        if lo < 0 or hi > 255:
            raise ValueError(f"integer images must hold pixel values in 0..255; got range [{lo}, {hi}]")
        return flat.astype(np.float32) / np.float32(255.0)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"float images must be in [0, 1]; got range [{lo}, {hi}] "
            "(for 0..255 pixel values pass uint8, or divide by 255)"
        )
    return flat.astype(np.float32, copy=False)


def _variant(latent: int, seed: int, train: Train, data_dir: PathArg, build: bool, progress: bool):
    files = variant_files_for(latent, seed, train, data_dir, build, progress)
    return files, VariantConfig.from_dict(files.stats()["variant"]).train


def decode_images(
    x: Any,
    latent: int = DEFAULT_LATENT,
    *,
    seed: int = CANONICAL_SEED,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
) -> np.ndarray:
    """Decode image codes ``x`` ``(n, N)`` into images with the variant's image decoder.

    Returns:
        float32 ``(n, 28, 28)`` with pixel values in [0, 1] (sigmoid of the logits).

    Example:
        >>> x, _, _ = load_numpy(latent=32, split="test")  # doctest: +SKIP
        >>> decode_images(x[:16], latent=32).shape  # doctest: +SKIP
        (16, 28, 28)
    """
    codes = _codes(x, latent, "x")
    files, cfg = _variant(latent, seed, train, data_dir, build, progress)
    w = variant_weights(files, "image_decoder")
    h = _blocks(codes, w, 1, len(cfg.hidden), cfg.leaky_slope, cfg.bn_eps)  # body.0 is dropout
    logits = _linear(h, w, f"body.{1 + _BLOCK * len(cfg.hidden)}")
    # The logistic function through tanh: no overflow for very negative logits (as 1 / (1 + exp(-z)) has).
    pixels = 0.5 + 0.5 * np.tanh(0.5 * logits)
    return pixels.astype(np.float32, copy=False).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)


def decode_labels(
    y: Any,
    latent: int = DEFAULT_LATENT,
    *,
    seed: int = CANONICAL_SEED,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
) -> np.ndarray:
    """Class probabilities ``(n, 10)`` of label codes ``y`` ``(n, N)`` (the class decoder + softmax).

    Example:
        >>> _, y, label = load_numpy(latent=32, split="test")  # doctest: +SKIP
        >>> (decode_labels(y, latent=32).argmax(1) == label).mean()  # doctest: +SKIP
        0.998
    """
    codes = _codes(y, latent, "y")
    files, _ = _variant(latent, seed, train, data_dir, build, progress)
    return _softmax(_linear(codes, variant_weights(files, "class_decoder"), "linear")).astype(np.float32, copy=False)


def encode_images(
    images: Any,
    latent: int = DEFAULT_LATENT,
    *,
    sample: bool = True,
    seed: int | np.random.Generator = 0,
    variant_seed: int = CANONICAL_SEED,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
) -> np.ndarray:
    """Encode images into image codes ``(n, N)`` with the variant's image encoder.

    Args:
        images: ``(n, 28, 28)`` or ``(n, 784)``; uint8 in 0..255 or float in [0, 1].
        latent: latent size N of the variant.
        sample: draw from the posterior (as the dataset's ``x`` is drawn);
            ``False`` returns the posterior means.
        seed: seed of the noise (``np.random.default_rng(seed)``) or a
            ``np.random.Generator`` to draw it from.
        variant_seed: the variant's seed (0 is canonical).
        train, data_dir, build, progress: select the variant, as in :func:`ldmnist_hub.load_numpy`.

    Raises:
        ValueError: images of a wrong shape, dtype or value range.

    Example:
        >>> codes = encode_images(decode_images(x[:16], latent=32), latent=32)  # doctest: +SKIP
    """
    flat = images_to_unit(images)
    files, cfg = _variant(latent, variant_seed, train, data_dir, build, progress)
    mean, logvar = _image_posterior(flat, variant_weights(files, "image_encoder"), cfg)
    if not sample:
        return mean
    eps = np.random.default_rng(seed).standard_normal(mean.shape, dtype=np.float32)
    scale = np.exp(logvar) if cfg.logvar_quirk else np.exp(np.float32(0.5) * logvar)
    return (mean + scale * eps).astype(np.float32, copy=False)


def _image_posterior(flat: np.ndarray, w: dict[str, np.ndarray], cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    h = _blocks(flat, w, 0, len(cfg.hidden), 0.0, cfg.bn_eps)
    return _linear(h, w, "mean").astype(np.float32, copy=False), _linear(h, w, "logvar").astype(np.float32, copy=False)


def apply_middle_layers(
    x: Any,
    latent: int = DEFAULT_LATENT,
    *,
    seed: int = CANONICAL_SEED,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
) -> np.ndarray:
    """Predict ``y`` ``(n, N)`` from ``x`` with the middle layers trained during the build.

    These are the original's example model (3 x Dense(N) trained jointly with
    the VAEs on the class decoder's loss), run in eval mode from the variant's
    safetensors.

    Example:
        >>> x, _, _ = load_numpy(latent=32, split="test")  # doctest: +SKIP
        >>> apply_middle_layers(x, latent=32).shape  # doctest: +SKIP
        (10000, 32)
    """
    codes = _codes(x, latent, "x")
    files, cfg = _variant(latent, seed, train, data_dir, build, progress)
    w = variant_weights(files, "middle_layers")
    h = _blocks(codes, w, 0, 2, cfg.leaky_slope, cfg.bn_eps)
    return _linear(h, w, f"body.{2 * _BLOCK}").astype(np.float32, copy=False)


def class_means(
    latent: int = DEFAULT_LATENT,
    *,
    seed: int = CANONICAL_SEED,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
) -> np.ndarray:
    """The class VAE's posterior mean of every class, ``(10, N)``.

    ``y`` of a row is a sample around the mean of its class, so predicting
    ``class_means(...)[label]`` is the best any model can do (the oracle).
    """
    files, _ = _variant(latent, seed, train, data_dir, build, progress)
    w = variant_weights(files, "class_encoder")
    return (w["mean.weight"].T + w["mean.bias"]).astype(np.float32, copy=False)


def image_posterior(
    images: Any,
    latent: int = DEFAULT_LATENT,
    *,
    variant_seed: int = CANONICAL_SEED,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior ``(mean, std)`` of the image codes, each ``(n, N)``.

    ``std`` is the noise scale the dataset's ``x`` was drawn with: ``exp(logvar)``
    under the original's sampling quirk, ``exp(logvar / 2)`` otherwise.
    """
    flat = images_to_unit(images)
    files, cfg = _variant(latent, variant_seed, train, data_dir, build, progress)
    mean, logvar = _image_posterior(flat, variant_weights(files, "image_encoder"), cfg)
    std = np.exp(logvar) if cfg.logvar_quirk else np.exp(np.float32(0.5) * logvar)
    return mean, std.astype(np.float32, copy=False)


def forward_scores(
    weights: dict[str, dict[str, np.ndarray]],
    cfg: TrainConfig,
    images: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    labels: np.ndarray,
) -> dict[str, float]:
    """Test-set quality of a variant's parts from its tensors, in numpy (no torch).

    The same three scores as :func:`ldmnist_hub.encode.score_models`:
    ``class_vae_accuracy`` (class decoder on ``y``), ``middle_layers_accuracy``
    (class decoder after the middle layers on ``x``) and
    ``image_vae_reconstruction_loss`` (per-pixel BCE of the decoded ``x``).
    """
    labels = np.asarray(labels)
    cd = {k: v.astype(np.float32) for k, v in weights["class_decoder"].items()}
    mid = {k: v.astype(np.float32) for k, v in weights["middle_layers"].items()}
    dec = {k: v.astype(np.float32) for k, v in weights["image_decoder"].items()}
    h = _blocks(x.astype(np.float32), mid, 0, 2, cfg.leaky_slope, cfg.bn_eps)
    middle = _linear(h, mid, f"body.{2 * _BLOCK}")
    flat = images_to_unit(images).astype(np.float64)
    rec = 0.0
    for start in range(0, len(flat), 10_000):
        h = _blocks(x[start:start + 10_000].astype(np.float32), dec, 1, len(cfg.hidden), cfg.leaky_slope, cfg.bn_eps)
        logits = _linear(h, dec, f"body.{1 + _BLOCK * len(cfg.hidden)}").astype(np.float64)
        target = flat[start:start + 10_000]
        # BCE with logits: max(z, 0) - z * t + log(1 + exp(-|z|)), the stable form torch uses.
        rec += float((np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits)))).sum())
    return {
        "class_vae_accuracy": float((_linear(y.astype(np.float32), cd, "linear").argmax(1) == labels).mean()),
        "image_vae_reconstruction_loss": rec / flat.size,
        "middle_layers_accuracy": float((_linear(middle, cd, "linear").argmax(1) == labels).mean()),
    }
