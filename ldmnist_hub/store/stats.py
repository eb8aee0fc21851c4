"""Summary statistics of an encoded variant (numpy only)."""

from __future__ import annotations

from typing import Any

import numpy as np


def component_stats(a: np.ndarray) -> dict[str, list[float]]:
    """Per-component mean and std of an (n, N) array."""
    a64 = a.astype(np.float64)
    return {"mean": a64.mean(0).round(6).tolist(), "std": a64.std(0).round(6).tolist()}


def oracle_mse(y: np.ndarray, labels: np.ndarray) -> float:
    """MSE of predicting each ``y`` by the mean ``y`` of its class.

    ``y`` is a random sample given the class, so no model that sees only ``x``
    can do better on average: this is the dataset's irreducible error (up to
    the estimation of the class means).
    """
    y64 = y.astype(np.float64)
    err = 0.0
    for c in np.unique(labels):
        rows = y64[labels == c]
        err += float(((rows - rows.mean(0)) ** 2).sum())
    return err / y64.size


def split_stats(x: np.ndarray, y: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Stats of one encoded split: component moments and the oracle floor."""
    return {
        "rows": int(len(x)),
        "x": component_stats(x),
        "y": component_stats(y),
        "oracle_mse": round(oracle_mse(y, labels), 6),
    }
