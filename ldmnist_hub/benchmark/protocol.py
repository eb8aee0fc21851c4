"""The benchmark's protocol: a rule comparison's budget, and where hyperparameters are chosen.

Tune on ``validation``, report ``test`` as mean +- sd over posterior draws
(README, "Protocol"). LD-MNIST 3.0.0 adds the ``validation`` split (MNIST
training rows 50,000-59,999, which its VAEs never saw). Until then the tuning
rows are the last 10,000 rows of ``train``, the same MNIST rows; but the 2.0.0
VAEs were trained on them, so scores there are optimistic (DESIGN.md: an MLP
scores 0.990 reconstructed accuracy on ``train[50000:]`` against 0.957 on test
at latent 8). Hyperparameters are still chosen without ever looking at test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ldmnist_hub.core.warn import warn
from ldmnist_hub.errors import InvalidArgumentError
from ldmnist_hub.loading.arrays import load_numpy
from ldmnist_hub.loading.variant import Variant

HIDDEN = 256
VALIDATION = "validation"
# Rows of train held out for tuning while there is no validation split (a sixth of a smaller train split).
HOLDOUT_ROWS = 10_000
HOLDOUT_NOTE = ("LD-MNIST has no validation split before 3.0.0: hyperparameters are chosen on the last "
                f"{HOLDOUT_ROWS:,} train rows, which the VAEs saw, so hold-out scores are optimistic")


@dataclass(frozen=True)
class Protocol:
    """The fixed budget and the tuning grid of a rule comparison.

    Attributes:
        epochs: passes over the training rows.
        batch_size: rows per update.
        learning_rates: Adam's peak learning rates tried on the tuning rows of the first draw.
        hidden: width of the two hidden layers.
        threads: torch intra-op threads.
    """

    epochs: int = 10
    batch_size: int = 256
    learning_rates: tuple[float, ...] = (3e-3, 1e-2)
    hidden: int = HIDDEN
    threads: int = 1

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "hidden", "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(f"{name} must be a positive integer; got {name}={value!r}")
        if not self.learning_rates or not all(lr > 0 for lr in self.learning_rates):
            raise InvalidArgumentError(f"learning_rates must be one or more numbers > 0; got {self.learning_rates!r}")


@dataclass(frozen=True)
class TuningSplit:
    """Training rows and the rows that choose hyperparameters, in one array set.

    Attributes:
        x, y, label: the training rows followed by the tuning rows.
        fit: positions of the rows a model is fitted on.
        held_out: positions of the rows that choose its hyperparameters.
        source: ``"validation"``, or the train slice held out (e.g. ``"train[50000:]"``).
    """

    x: np.ndarray
    y: np.ndarray
    label: np.ndarray
    fit: np.ndarray
    held_out: np.ndarray
    source: str

    def fit_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of the rows a model is fitted on."""
        return self.x[self.fit], self.y[self.fit]

    def held_out_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of the rows that choose the hyperparameters."""
        return self.x[self.held_out], self.y[self.held_out]


def tuning_split(variant: Variant, *, quiet: bool = False) -> TuningSplit:
    """The variant's training rows and its tuning rows: ``validation`` if the split exists, else a train hold-out.

    The hold-out is the last :data:`HOLDOUT_ROWS` train rows (the last sixth of
    a train split of fewer than 60,000 rows), with a warning naming its bias
    unless ``quiet``.

    Example:
        >>> s = tuning_split(resolve(latent=8), quiet=True)  # doctest: +SKIP
        >>> s.source, len(s.fit), len(s.held_out)  # doctest: +SKIP
        ('validation', 50000, 10000)
    """
    x, y, label = load_numpy(variant, "train")
    # The splits built (its stats): a reference variant encoded from raw files smaller than MNIST (a test's
    # tiny copy) has no rows past 50,000, so no validation split, though its version's layout names one.
    if VALIDATION in variant.stats["splits"]:
        vx, vy, vlabel = load_numpy(variant, VALIDATION)
        n = len(x)
        return TuningSplit(np.concatenate([x, vx]), np.concatenate([y, vy]), np.concatenate([label, vlabel]),
                           np.arange(n), np.arange(n, n + len(vx)), VALIDATION)
    held = HOLDOUT_ROWS if len(x) >= 6 * HOLDOUT_ROWS else max(1, len(x) // 6)
    cut = len(x) - held
    if not quiet:
        warn(HOLDOUT_NOTE + f" (here train[{cut}:])")
    return TuningSplit(x, y, label, np.arange(cut), np.arange(cut, len(x)), f"train[{cut}:]")
