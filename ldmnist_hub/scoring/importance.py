"""Which latent components carry information: KL to the prior, and importance for decoding (numpy only)."""

from __future__ import annotations

from typing import Any

import numpy as np

# A component is "active" when its average KL to the N(0, 1) prior exceeds this (nats).
ACTIVE_KL = 0.01


def component_kl(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Average KL(N(mean, std^2) || N(0, 1)) per component over rows, ``(N,)`` in nats."""
    m, s = mean.astype(np.float64), std.astype(np.float64)
    return (0.5 * (m**2 + s**2 - 1.0) - np.log(s)).mean(axis=0)


def active_components(kl: np.ndarray, threshold: float = ACTIVE_KL) -> np.ndarray:
    """Indices of the components whose KL exceeds ``threshold``."""
    return np.flatnonzero(kl > threshold)


def decoding_importance(x: np.ndarray, decode: Any) -> np.ndarray:
    """Mean squared change of the decoded images when each component is set to the prior mean 0, ``(N,)``.

    Args:
        x: ``(n, N)`` codes (a few hundred rows are enough).
        decode: maps ``(n, N)`` codes to ``(n, 28, 28)`` images, e.g. a partial of
            :func:`ldmnist_hub.decode_images`.
    """
    base = decode(x)
    out = np.empty(x.shape[1])
    for j in range(x.shape[1]):
        z = x.copy()
        z[:, j] = 0.0
        out[j] = float(np.mean((decode(z) - base) ** 2))
    return out


def importance_order(importance: np.ndarray) -> np.ndarray:
    """Component indices from most to least important (ties by index)."""
    return np.lexsort((np.arange(len(importance)), -importance))
