"""The numpy forward passes of a variant's networks, from their safetensors tensors (no torch).

They mirror the torch modules of :mod:`ldmnist_hub.recipe.models` in eval mode:
dropout is the identity and BatchNorm uses its stored statistics with the
variant's ``bn_eps``; LeakyReLU uses its ``leaky_slope``. The build scores a
fresh variant with them; the codecs and the explorer run them for users.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ldmnist_hub.core.config import TrainConfig
from ldmnist_hub.core.schema import IMAGE_PIXELS, IMAGE_SIDE
from ldmnist_hub.errors import InvalidArgumentError

# Each hidden block of the torch modules is Linear, activation, BatchNorm, Dropout.
BLOCK = 4


def linear(h: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    return h @ w[f"{name}.weight"].T + w[f"{name}.bias"]


def batch_norm(h: np.ndarray, w: dict[str, np.ndarray], name: str, eps: float) -> np.ndarray:
    scale = w[f"{name}.weight"] / np.sqrt(w[f"{name}.running_var"] + np.float32(eps))
    return (h - w[f"{name}.running_mean"]) * scale + w[f"{name}.bias"]


def blocks(h: np.ndarray, w: dict[str, np.ndarray], start: int, count: int, slope: float, eps: float) -> np.ndarray:
    """``count`` hidden blocks of ``body`` from index ``start``; ``slope`` 0 is ReLU."""
    for i in range(start, start + BLOCK * count, BLOCK):
        h = linear(h, w, f"body.{i}")
        h = np.where(h >= 0, h, h * np.float32(slope))
        h = batch_norm(h, w, f"body.{i + 2}", eps)
    return h


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def images_to_unit(images: Any) -> np.ndarray:
    """Validate images and return them as float32 ``(n, 784)`` in [0, 1].

    Accepts ``(n, 28, 28)`` or ``(n, 784)``; integer pixels in 0..255 (uint8,
    as MNIST stores them) or float pixels in [0, 1].

    Raises:
        ValueError: another shape, a non-numeric dtype, or values outside the range.
    """
    a = np.asarray(images)
    if a.ndim not in (2, 3) or a.shape[1:] not in ((IMAGE_SIDE, IMAGE_SIDE), (IMAGE_PIXELS,)):
        raise InvalidArgumentError(f"images must have shape (n, 28, 28) or (n, 784); got shape {a.shape}")
    if a.dtype == np.bool_ or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise InvalidArgumentError(f"images must be uint8 in 0..255 or float in [0, 1]; got dtype {a.dtype}")
    flat = a.reshape(len(a), IMAGE_PIXELS)
    if a.size == 0:
        return flat.astype(np.float32)
    lo, hi = flat.min(), flat.max()
    if np.issubdtype(a.dtype, np.integer):
        if lo < 0 or hi > 255:
            raise InvalidArgumentError(f"integer images must hold pixel values in 0..255; got range [{lo}, {hi}]")
        return flat.astype(np.float32) / np.float32(255.0)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0.0 or hi > 1.0:
        raise InvalidArgumentError(
            f"float images must be in [0, 1]; got range [{lo}, {hi}] "
            "(for 0..255 pixel values pass uint8, or divide by 255)"
        )
    return flat.astype(np.float32, copy=False)


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
    h = blocks(x.astype(np.float32), mid, 0, 2, cfg.leaky_slope, cfg.bn_eps)
    middle = linear(h, mid, f"body.{2 * BLOCK}")
    flat = images_to_unit(images).astype(np.float64)
    rec = 0.0
    for start in range(0, len(flat), 10_000):
        h = blocks(x[start:start + 10_000].astype(np.float32), dec, 1, len(cfg.hidden), cfg.leaky_slope, cfg.bn_eps)
        logits = linear(h, dec, f"body.{1 + BLOCK * len(cfg.hidden)}").astype(np.float64)
        target = flat[start:start + 10_000]
        # BCE with logits: max(z, 0) - z * t + log(1 + exp(-|z|)), the stable form torch uses.
        rec += float((np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits)))).sum())
    return {
        "class_vae_accuracy": float((linear(y.astype(np.float32), cd, "linear").argmax(1) == labels).mean()),
        "image_vae_reconstruction_loss": rec / flat.size,
        "middle_layers_accuracy": float((linear(middle, cd, "linear").argmax(1) == labels).mean()),
    }
