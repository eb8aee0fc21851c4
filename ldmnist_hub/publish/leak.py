"""The leak check of leaderboard submissions: do predictions of ``y`` know the test split's own noise?

``y`` is a posterior *sample*: given the class, its noise is independent of the
image and of ``x``. So for any model ``f`` of ``x``:

1. ``E||y - f(x)||^2`` is at least the within-class variance of ``y`` (no model
   of ``x`` scores below it, up to sampling noise), and
2. ``f`` scores the same, in expectation, against another posterior draw
   ``y'`` of the same test images (the reference weights give any draw
   exactly, by ``seed``).

Predictions that have seen the test ``y`` break both: the leaked ``y`` of the
reference latent-8 scores 0.0000 against its own draw and 1.3157 against draw
1, while least squares scores 0.7234 and 0.7212. A partial leak
``p + a(y - p)`` moves the two scores apart by about ``2a(1-a)`` times the
within-class variance, so :func:`check` uses a paired z-score over the 10,000
per-row squared errors (canonical minus draw): least squares gives ``|z|`` of about 1
(0.1-0.4 against draws 1-3), a leak of ``a = 0.05`` gives ``z = -12``, ``a = 0.1`` gives ``z = -25``.

What the check cannot catch: the test *labels*. Predicting the class means of
the true labels scores like a perfect classifier, at the floor, and agrees
across draws; a partial use of the labels looks like a better classifier. An
entry that scores no worse than the oracle (the class VAE's mean of the true
class) is therefore marked :data:`AT_FLOOR`, never plainly verified.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ldmnist_hub.core.digest import array_sha256
from ldmnist_hub.core.types import PathArg
from ldmnist_hub.data.sources import load_split
from ldmnist_hub.errors import IntegrityError, InvalidArgumentError
from ldmnist_hub.hub.card import AT_FLOOR_MEANING, AT_FLOOR_VERDICT
from ldmnist_hub.loading.arrays import load_numpy
from ldmnist_hub.produce import reference
from ldmnist_hub.produce.reference import CANONICAL_DRAW

# A paired z-score beyond this many standard errors flags an entry. For an honest model the z-scores are
# standard normal (its errors against two draws are exchangeable), so 4 flags about 6 in 100,000 honest
# comparisons; the smallest leak of interest (a = 0.05 on latent-8) sits at z = -12.
LEAK_Z = 4.0
# Independent posterior draws of y each entry is scored against (besides the canonical one).
LEAK_DRAWS = 3
# MSE differences smaller than this are rounding (float32 predictions), never evidence.
ABS_TOL = 1e-6
SPLIT = "test"

CONSISTENT = "consistent"
AT_FLOOR = AT_FLOOR_VERDICT
LEAK_SUSPECTED = "leak suspected"


def draw_seeds(k: int = LEAK_DRAWS) -> tuple[int, ...]:
    """``k`` distinct posterior-draw seeds, chosen now from the OS's randomness (never the canonical 0).

    Example:
        >>> len(draw_seeds(3)), 0 in draw_seeds(3)
        (3, False)
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidArgumentError(f"the number of draws must be a positive integer; got {k!r}")
    seeds: set[int] = set()
    while len(seeds) < k:
        seeds.add(secrets.randbelow(2**63 - 1) + 1)
    return tuple(sorted(seeds))


def check_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
    out = tuple(seeds)
    bad = [s for s in out if isinstance(s, bool) or not isinstance(s, int) or s <= CANONICAL_DRAW]
    if not out or bad or len(set(out)) != len(out):
        raise InvalidArgumentError(f"draw seeds must be distinct positive integers (0 is the canonical draw the "
                                   f"predictions are scored on); got {list(out)!r}")
    return out


@dataclass(frozen=True)
class ReferenceDraws:
    """The test split of a reference ``latent-N`` with ``y`` drawn again at ``seeds``, and its two floors.

    Attributes:
        latent: the reference latent size.
        seeds: the posterior-draw seeds of ``draws``.
        y: the canonical test ``y`` (draw 0, checked against the reference record).
        label: the test labels.
        draws: ``y`` of the same test images at each seed.
        floor_rows: each row's squared error (mean over components) of the empirical class means of ``y``:
            their mean is the within-class variance (``ldmnist_hub.store.stats.oracle_mse``).
        oracle_rows: each row's squared error of the class VAE's mean of the true class (the oracle floor).
    """

    latent: int
    seeds: tuple[int, ...]
    y: np.ndarray = field(repr=False)
    label: np.ndarray = field(repr=False)
    draws: tuple[np.ndarray, ...] = field(repr=False)
    floor_rows: np.ndarray = field(repr=False)
    oracle_rows: np.ndarray = field(repr=False)

    @property
    def within_class_variance(self) -> float:
        return float(self.floor_rows.mean())

    @property
    def oracle_floor(self) -> float:
        return float(self.oracle_rows.mean())


def reference_draws(latent: int, seeds: Sequence[int] | None = None, *, data_dir: PathArg = None) -> ReferenceDraws:
    """The reference test split of ``latent-N`` and ``y`` drawn again at ``seeds`` (default: :func:`draw_seeds`).

    Only ``y`` of a draw is used; it depends on the labels, the class encoder and the seed alone, so a draw
    is the exact ``y`` that ``load_numpy(latent, "test", seed=S)`` holds, without caching a variant.

    Raises:
        InvalidArgumentError: ``latent`` has no reference variant, or bad seeds.
        IntegrityError: the canonical test split or the raw test labels differ from the reference record.
    """
    ref = reference.get(latent)
    if ref is None:
        raise InvalidArgumentError(f"latent {latent} has no reference variant; the leak check needs one of "
                                   f"{', '.join(map(str, reference.available()))}")
    seeds = draw_seeds() if seeds is None else check_seeds(seeds)
    _, y, label = load_numpy(latent, SPLIT, data_dir=data_dir, progress=False)
    want = ref.record["data_sha256"][SPLIT]
    images, raw_labels = load_split("mnist", SPLIT, data_dir)
    got = array_sha256(y.astype(np.float32, copy=False))
    if got != want["y"] or array_sha256(label) != want["label"] or not np.array_equal(raw_labels, label):
        raise IntegrityError(f"the latent-{latent} test split here is not the reference one (y sha256 {got}, "
                             f"record {want['y']}); rebuild it with `ldmnist build --latent {latent} --force` and "
                             "point --mnist-dir at the official MNIST files")
    draws = tuple(ref.encode({SPLIT: (images, raw_labels)}, s, check=False)[SPLIT][1] for s in seeds)
    y64 = y.astype(np.float64)
    means = np.zeros((int(label.max()) + 1, y.shape[1]))
    for c in np.unique(label):
        means[c] = y64[label == c].mean(0)
    w = ref.weights("class_encoder")
    # The oracle's predictions as ldmnist_hub.scoring.codecs.class_means gives them (float32).
    oracle = (w["mean.weight"].T + w["mean.bias"]).astype(np.float32)[label].astype(np.float64)
    return ReferenceDraws(latent, seeds, y, label, draws, _row_errors(means[label], y64), _row_errors(oracle, y64))


def _row_errors(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.square(pred - y).mean(axis=1)


def _paired_z(d: np.ndarray) -> float:
    """The mean of paired differences in standard errors (its standard error floored: identical rows give 0)."""
    se = max(float(d.std(ddof=1)) / math.sqrt(len(d)), 1e-12)
    return float(d.mean()) / se


@dataclass(frozen=True)
class LeakCheck:
    """Predictions scored against the canonical test ``y`` and against independent draws of it.

    Attributes:
        status: :data:`CONSISTENT`, :data:`AT_FLOOR` (no worse than the oracle: indistinguishable from a perfect
            classifier or a label leak) or :data:`LEAK_SUSPECTED`.
        reasons: why a leak is suspected (empty otherwise).
        mse: MSE against the canonical ``y``.
        seeds: the draws' seeds.
        draw_mse: MSE against each draw.
        draw_z: paired z-score of the per-row squared errors, canonical minus draw (negative: closer to the
            canonical ``y`` than to a draw of it).
        within_class_variance: the floor no model of ``x`` beats (empirical, of the canonical ``y``).
        floor_z: ``(mse - within_class_variance)`` in paired standard errors.
        oracle_floor: MSE of the class VAE's mean of the true class.
        oracle_z: ``(mse - oracle_floor)`` in paired standard errors.
        z_limit: :data:`LEAK_Z`.
    """

    status: str
    reasons: list[str]
    mse: float
    seeds: list[int]
    draw_mse: list[float]
    draw_z: list[float]
    within_class_variance: float
    floor_z: float
    oracle_floor: float
    oracle_z: float
    z_limit: float = LEAK_Z

    @property
    def leak_suspected(self) -> bool:
        return self.status == LEAK_SUSPECTED

    @property
    def at_floor(self) -> bool:
        return self.status == AT_FLOOR

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


def check(predicted_y: np.ndarray, draws: ReferenceDraws) -> LeakCheck:
    """Score ``(10000, N)`` predictions against the canonical test ``y`` and each draw; say whether ``y`` leaked.

    A leak is suspected when the MSE is below the within-class variance by more than :data:`LEAK_Z` paired
    standard errors (and :data:`ABS_TOL`), or when the paired z-score against any draw is beyond
    ``+-LEAK_Z``. Otherwise the entry is :data:`AT_FLOOR` when its MSE is not above the oracle floor by more
    than ``LEAK_Z`` standard errors (plus :data:`ABS_TOL`), else :data:`CONSISTENT`.

    Raises:
        InvalidArgumentError: predictions of another shape, or not finite.

    Example:
        >>> draws = reference_draws(8, seeds=[1, 2, 3])  # doctest: +SKIP
        >>> check(draws.y, draws).status  # doctest: +SKIP
        'leak suspected'
    """
    pred = np.asarray(predicted_y, dtype=np.float64)
    if pred.shape != draws.y.shape:
        raise InvalidArgumentError(f"predictions have shape {pred.shape}; the latent-{draws.latent} test split "
                                   f"needs {draws.y.shape}")
    if not np.isfinite(pred).all():
        raise InvalidArgumentError("predictions must be finite to be checked for a leak; got NaN or infinity")
    rows = _row_errors(pred, draws.y.astype(np.float64))
    mse = float(rows.mean())
    draw_rows = [_row_errors(pred, d.astype(np.float64)) for d in draws.draws]
    draw_z = [_paired_z(rows - r) for r in draw_rows]
    floor, oracle = draws.within_class_variance, draws.oracle_floor
    floor_z, oracle_z = _paired_z(rows - draws.floor_rows), _paired_z(rows - draws.oracle_rows)
    reasons = []
    if mse < floor - ABS_TOL and floor_z < -LEAK_Z:
        reasons.append(f"MSE {mse:.4f} is below the floor {floor:.4f} (the test y's within-class variance, which no "
                       f"model of x beats) by {-floor_z:.1f} standard errors")
    beyond = [(float(r.mean()), z) for r, z in zip(draw_rows, draw_z, strict=True) if abs(z) > LEAK_Z]
    if beyond:
        reasons.append(f"MSE {mse:.4f} against the canonical y but {' / '.join(f'{m:.4f}' for m, _ in beyond)} "
                       f"against {len(beyond)} of {len(draw_rows)} independent draws of y for the same test images "
                       f"(paired z {' / '.join(f'{z:+.1f}' for _, z in beyond)}, beyond +-{LEAK_Z:g})")
    if reasons:
        status = LEAK_SUSPECTED
    elif mse <= oracle + ABS_TOL or oracle_z <= LEAK_Z:
        status = AT_FLOOR
    else:
        status = CONSISTENT
    return LeakCheck(status, reasons, mse, list(draws.seeds), [float(r.mean()) for r in draw_rows], draw_z, floor,
                     floor_z, oracle, oracle_z)


__all__ = ["ABS_TOL", "AT_FLOOR", "AT_FLOOR_MEANING", "CONSISTENT", "LEAK_DRAWS", "LEAK_SUSPECTED", "LEAK_Z",
           "LeakCheck", "ReferenceDraws", "check", "check_seeds", "draw_seeds", "reference_draws"]
