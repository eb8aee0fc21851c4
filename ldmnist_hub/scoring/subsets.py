"""Row subsets drawn the same way by every consumer (the label-efficiency probe, the synthesis's classifier)."""

from __future__ import annotations

import numpy as np

from ldmnist_hub.errors import InvalidArgumentError


def balanced_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted row indices of ``size // 10`` rows per class (every row if ``size >= len(labels)``)."""
    if size >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = size // len(classes)
    picks = []
    for c in classes:
        rows = np.flatnonzero(labels == c)
        if len(rows) < per_class:
            raise InvalidArgumentError(
                f"class {c} has {len(rows)} train rows, fewer than the {per_class} a size of {size} needs")
        picks.append(rng.choice(rows, per_class, replace=False))
    return np.sort(np.concatenate(picks))
