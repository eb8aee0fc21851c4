"""Label efficiency: how well a classifier learns MNIST classes from ``x`` vs raw pixels, per number of labels.

The classifier is a linear probe, the usual test of a representation:
multinomial logistic regression (scikit-learn's default L2 penalty, C=1,
L-BFGS capped at 300 iterations for both inputs). ``x`` is a noisy posterior
*sample*, so it needs more labels than its mean would; a 5-NN classifier does
far worse on ``x`` (0.61 on all 60k), because 17 of the 32 components are
almost pure noise and swamp Euclidean distances. Each size draws a
class-balanced subset of train (``size // 10`` rows per class; all rows for
the full size) with the run's seed; ``x`` and the pixels use the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ldmnist_hub.errors import InvalidArgumentError
from ldmnist_hub.scoring.subsets import balanced_subset

LABEL_SIZES = (100, 250, 500, 1000, 2000, 5000, 50000)  # 50,000: all of 3.0.0's train rows
MAX_ITER = 300
CLASSIFIER = "logistic regression"


@dataclass(frozen=True)
class LabelEfficiencyRow:
    """Test accuracy of the classifier trained on ``labels`` labelled train rows."""

    labels: int
    x_accuracy: float
    pixel_accuracy: float

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


def _probe_accuracy(train_in: np.ndarray, train_labels: np.ndarray, test_in: np.ndarray,
                    test_labels: np.ndarray) -> float:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        # The iteration cap is part of the protocol (the same for x and pixels), not a failure.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression(max_iter=MAX_ITER).fit(train_in, train_labels)
    return float(np.mean(clf.predict(test_in) == test_labels))


def check_sizes(sizes: Sequence[int]) -> None:
    """Raise ValueError unless ``sizes`` is a non-empty list of integers >= 10."""
    bad = [s for s in sizes if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 10]
    if not sizes or bad:
        raise InvalidArgumentError(
            f"sizes must be integers >= 10 (one class-balanced row per class at least); got {list(sizes)}")


def label_efficiency(
    train: tuple[np.ndarray, np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    sizes: Sequence[int] = LABEL_SIZES,
    seed: int = 0,
    progress: bool = False,
) -> list[LabelEfficiencyRow]:
    """Test accuracy on ``x`` and on pixels for every number of labelled train rows in ``sizes``.

    Args:
        train, test: ``(x, pixels, labels)`` of each split; pixels ``(n, 784)``
            in [0, 1] (see :func:`ldmnist_hub.codecs.images_to_unit`), rows in
            the same order as ``x``.
        sizes: numbers of labelled train rows (at least 10 each).
        seed: seed of the subsets.
        progress: show a progress bar.
    """
    from tqdm.auto import tqdm

    check_sizes(sizes)
    (x_tr, px_tr, l_tr), (x_te, px_te, l_te) = train, test
    rows = []
    for size in tqdm(sorted(int(s) for s in sizes), desc="label efficiency", disable=not progress):
        idx = balanced_subset(l_tr, size, seed)
        rows.append(LabelEfficiencyRow(
            labels=len(idx),
            x_accuracy=_probe_accuracy(x_tr[idx], l_tr[idx], x_te, l_te),
            pixel_accuracy=_probe_accuracy(px_tr[idx], l_tr[idx], px_te, l_te),
        ))
    return rows


def label_efficiency_figure(rows: Sequence[LabelEfficiencyRow], title: str = "") -> Any:
    """A matplotlib figure of test accuracy against the number of labels (log scale), ``x`` vs pixels."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.8), layout="constrained")
    ax = fig.add_subplot()
    n = [r.labels for r in rows]
    ax.plot(n, [r.x_accuracy for r in rows], "o-", label="x (LD-MNIST image code)")
    ax.plot(n, [r.pixel_accuracy for r in rows], "s--", label="raw pixels (784)")
    ax.set_xscale("log")
    ax.set_xlabel("labelled training rows (class-balanced)")
    ax.set_ylabel(f"test accuracy, {CLASSIFIER}")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title or "Label efficiency")
    return fig
