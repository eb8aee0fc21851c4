"""The leak check of leaderboard submissions: do predictions of ``y`` know the test split's own noise?

``y`` is a posterior *sample*: ``y = mu(label) + scale(label) * eps`` with ``eps`` standard normal, independent of
the image and of ``x``. The reference weights give ``mu`` and ``scale`` of every class, and any draw of ``eps``
exactly by ``seed`` (the canonical test ``y`` is draw 0). So for any model ``f`` of ``x``:

1. ``E||y - f(x)||^2`` is at least the within-class variance of ``y`` (no model of ``x`` scores below it, up to
   sampling noise), and
2. ``f`` scores the same, in expectation, against another posterior draw ``y'`` of the same test images.

Three consequences, each used here:

- **Ranking by secret draws.** The leaderboard's MSE (:attr:`LeakCheck.mse`) is the mean over
  :data:`LEAK_DRAWS` posterior draws of the test ``y`` whose seeds are chosen when the check runs, from the OS's
  randomness (:func:`draw_seeds`), and recorded only afterwards. A model of ``x`` scores the same there as on the
  canonical ``y`` in expectation; predictions tuned to the canonical ``y`` gain nothing from its noise. The
  canonical MSE (:attr:`LeakCheck.canonical_mse`) is reported beside it.
- **Per-component leak tests.** Per row and component, the squared error against the canonical ``y`` minus its
  mean over all posterior draws is ``-2 (p - mu) scale eps + scale^2 (eps^2 - 1)``, where ``eps`` is the canonical
  draw's noise. The second term is the same for every prediction (pure noise), so the test keeps the first: per
  component ``j``, ``z_j = sum_i (p_ij - mu_ij) scale_ij eps_ij / sqrt(sum_i (p_ij - mu_ij)^2 scale_ij^2)``, and
  over all components the same sums pooled (``total_z``). For predictions that never saw the test ``y`` the
  ``eps`` are independent of them, so each ``z`` is exactly standard normal (given the predictions): the
  false-alarm rate is known, with no draws and no approximation. Positive ``z`` means closer to the canonical
  ``y`` than its draws are. The ``N + 1`` two-sided p-values are tested with Holm's correction at the overall level
  :data:`LEAK_ALPHA` (``1e-3``: one honest entry in 1,000 is flagged at most). This is the paired difference
  "canonical minus secret draw" in its limit of infinitely many draws, with the prediction-free part removed,
  which dominates that difference's variance: a uniform leak of ``a = 0.0125`` into least squares gives a total
  z of 30 here, against about 3 for the paired test against 16 drawn ``y``. Measured on the reference latent-8 test
  split (``python benchmarks/leak_check.py --detection-only``, numbers from that script): least squares gives
  ``|z| <= 1.3`` on every component; an exact copy of one component gives ``z = 64-102`` there (100 where the
  noise is large: ``sqrt(10000)``); least squares with its 2 components whose error most exceeds their noise
  moved 70% of the way to the test ``y`` gives ``z = 54`` and ``72`` on them; a uniform leak ``p + a(y - p)``
  gives ``z = 30`` at ``a = 0.0125`` and is flagged from ``a = 0.0004``. **The smallest leak into one
  component that is flagged** is ``a = 0.0004-0.0013`` for the five components whose posterior noise is large
  (``scale^2`` 0.92-1.0), and ``a = 0.023``, ``0.060`` and ``0.084`` for the three with little noise (``scale^2``
  0.21, 0.083, 0.021: there little of ``y`` is noise to leak, and a leak is mostly class information).
- **The floor.** A leak of the whole ``y`` scores below the within-class variance (the floor): flagged when the
  canonical MSE is below it by more than :data:`LEAK_Z` paired standard errors.

What the check cannot catch: the test *labels*, which are public. Predicting the class means of the true labels
scores like a perfect classifier and is independent of ``eps``; a partial use of the labels looks like a better
classifier. An entry whose reconstructed accuracy is at label level (:data:`AT_FLOOR_ACCURACY`, 0.99: the best
models of ``x`` reach about 0.96, the class VAE's own class means decode at 1.0) or whose MSE is no worse than the
oracle (the class VAE's mean of the true class) is therefore marked :data:`AT_FLOOR` ("at the floor: indistinguishable
from a label leak"), never plainly verified. Means computed from the test ``y`` itself (its empirical class means)
do carry its noise (each class mean holds 1/1000 of it) and are flagged: they are a leak of ``y``, if a small one.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ldmnist_hub.core.digest import array_sha256
from ldmnist_hub.core.types import PathArg
from ldmnist_hub.data.sources import load_split
from ldmnist_hub.errors import IntegrityError, InvalidArgumentError
from ldmnist_hub.loading.arrays import load_numpy
from ldmnist_hub.produce import exact, reference
from ldmnist_hub.produce.reference import CANONICAL_DRAW
from ldmnist_hub.submissions.verdicts import AT_FLOOR, AT_FLOOR_MEANING, LEAK_SUSPECTED

# The floor test: a canonical MSE this many paired standard errors below the within-class variance flags an entry
# (the whole y leaked scores 0.0000 against a floor of 0.65 on latent-8; an honest model sits above it).
LEAK_Z = 4.0
# The overall false-alarm rate of the per-component tests (Holm over the N components and their total). The z
# are exactly standard normal for predictions that never saw the test y, so at most 1 honest entry in 1,000 is
# flagged; on latent-8 the first Holm step needs |z| > 3.87 (latent-32: 4.17).
LEAK_ALPHA = 1e-3
# Secret posterior draws of the test y each entry is scored against: its leaderboard MSE is their mean. One draw's
# MSE scatters by 0.003-0.005 on latent-8 (least squares, two runs); the mean of 16 by about 0.001.
LEAK_DRAWS = 16
# Reconstructed accuracy at or above this is at label level: the best models of x reach about 0.96 (3-FC MLPs
# on latent-8 and latent-32; 0.91 for the best of benchmarks/leak_check.py's 20), the class VAE's own class means
# decode at 1.0, and a classifier of the raw images at 0.99 or more cannot be told from a label leak (the labels
# are public).
AT_FLOOR_ACCURACY = 0.99
# MSE differences smaller than this are rounding (float32 predictions), never evidence.
ABS_TOL = 1e-6
SPLIT = "test"

# The leak check's statuses: consistent, or the verdicts AT_FLOOR and LEAK_SUSPECTED (submissions.verdicts).
CONSISTENT = "consistent"


def draw_seeds(k: int = LEAK_DRAWS) -> tuple[int, ...]:
    """``k`` distinct posterior-draw seeds, chosen now from the OS's randomness (never the canonical 0).

    Examples:
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
    """The test split of a reference ``latent-N`` with ``y`` drawn again at ``seeds``, its posterior and its floors.

    Attributes:
        latent: the reference latent size.
        seeds: the posterior-draw seeds of ``draws``.
        y: the canonical test ``y`` (draw 0, checked against the reference record).
        label: the test labels.
        draws: ``y`` of the same test images at each seed.
        mean_rows: each row's posterior mean ``mu(label)`` (float64, the class encoder's).
        scale_rows: each row's posterior scale ``scale(label)``.
        noise: the canonical draw's standard-normal noise: ``y == float32(mean_rows + scale_rows * noise)``.
        floor_rows: each row's squared error (mean over components) of the empirical class means of ``y``:
            their mean is the within-class variance (``ldmnist_hub.store.stats.oracle_mse``).
        oracle_rows: each row's squared error of the class VAE's mean of the true class (the oracle floor).
        draw: the published draw ``y``, ``noise`` and the floors are of (0, the canonical one; another for a
            submission's predictions of that draw, see :func:`for_draw`).
    """

    latent: int
    seeds: tuple[int, ...]
    y: np.ndarray = field(repr=False)
    label: np.ndarray = field(repr=False)
    draws: tuple[np.ndarray, ...] = field(repr=False)
    mean_rows: np.ndarray = field(repr=False)
    scale_rows: np.ndarray = field(repr=False)
    noise: np.ndarray = field(repr=False)
    floor_rows: np.ndarray = field(repr=False)
    oracle_rows: np.ndarray = field(repr=False)
    draw: int = CANONICAL_DRAW

    @property
    def within_class_variance(self) -> float:
        return float(self.floor_rows.mean())

    @property
    def oracle_floor(self) -> float:
        return float(self.oracle_rows.mean())


def reference_draws(latent: int, seeds: Sequence[int] | None = None, *, data_dir: PathArg = None) -> ReferenceDraws:
    """The reference test split of ``latent-N`` and ``y`` drawn again at ``seeds`` (default: :func:`draw_seeds`).

    A draw depends on the labels, the class encoder and the seed alone, so it is the exact ``y`` that
    ``load_numpy(latent, "test", seed=S)`` holds, computed without ``x`` and without caching a variant.

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
    _, raw_labels = load_split("mnist", SPLIT, data_dir)
    got = array_sha256(y.astype(np.float32, copy=False))
    if got != want["y"] or array_sha256(label) != want["label"] or not np.array_equal(raw_labels, label):
        raise IntegrityError(f"the latent-{latent} test split here is not the reference one (y sha256 {got}, "
                             f"record {want['y']}); rebuild it with `ldmnist build --latent {latent} --force` and "
                             "point --mnist-dir at the official MNIST files")
    ref.verify_weights()
    w, quirk = ref.weights("class_encoder"), ref.record["train"]["logvar_quirk"]
    draws = tuple(exact.encode_labels_exact(w, label, logvar_quirk=quirk, seed=s, split=SPLIT) for s in seeds)
    mean, scale = exact.class_posterior(w, quirk)
    noise = exact.noise(CANONICAL_DRAW, SPLIT, "y", y.shape)
    return ReferenceDraws(latent, seeds, y, label, draws, mean[label], scale[label], noise, *_floors(w, y, label))


def _floors(class_encoder: dict[str, np.ndarray], y: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the squared errors of the empirical class means of ``y`` and of the oracle (the class VAE's means)."""
    y64 = y.astype(np.float64)
    means = np.zeros((int(label.max()) + 1, y.shape[1]))
    for c in np.unique(label):
        means[c] = y64[label == c].mean(0)
    # The oracle's predictions as ldmnist_hub.scoring.codecs.class_means gives them (float32).
    oracle = (class_encoder["mean.weight"].T + class_encoder["mean.bias"]).astype(np.float32)[label]
    return _row_errors(means[label], y64), _row_errors(oracle.astype(np.float64), y64)


def for_draw(draws: ReferenceDraws, seed: int) -> ReferenceDraws:
    """``draws`` with the published draw ``seed`` in place of the canonical one: the same secret draws, and the ``y``,
    noise and floors of the test split of the reference variant with ``seed=seed``.

    Predictions a submission gives for draw ``s`` (a model trained on that draw) are scored on that draw's ``y``
    and tested for a lean toward that draw's noise (which its submitter could see), never draw 0's.

    Raises:
        InvalidArgumentError: ``seed`` is not a draw seed (an integer from 0 to 2**63 - 1).

    Examples:
        >>> for_draw(reference_draws(8, seeds=[5]), 1).draw  # doctest: +SKIP
        1
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise InvalidArgumentError(f"a posterior draw is a seed from 0 to 2**63 - 1; got {seed!r}")
    if seed == draws.draw:
        return draws
    ref = reference.get(draws.latent)
    w, quirk = ref.weights("class_encoder"), ref.record["train"]["logvar_quirk"]
    y = exact.encode_labels_exact(w, draws.label, logvar_quirk=quirk, seed=seed, split=SPLIT)
    floor_rows, oracle_rows = _floors(w, y, draws.label)
    return dataclasses.replace(draws, y=y, noise=exact.noise(seed, SPLIT, "y", y.shape), floor_rows=floor_rows,
                               oracle_rows=oracle_rows, draw=seed)


def _row_errors(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.square(pred - y).mean(axis=1)


def _paired_z(d: np.ndarray) -> float:
    """The mean of paired differences in standard errors (its standard error floored: identical rows give 0)."""
    se = max(float(d.std(ddof=1)) / math.sqrt(len(d)), 1e-12)
    return float(d.mean()) / se


def noise_z(pred: np.ndarray, draws: ReferenceDraws) -> tuple[list[float], float]:
    """Per-component z-scores of predictions' knowledge of the canonical draw's noise, and their total.

    ``z_j = sum_i (p_ij - mu_ij) scale_ij eps_ij / sqrt(sum_i ((p_ij - mu_ij) scale_ij)^2)``: exactly standard
    normal when the predictions are independent of ``eps`` (never saw the test ``y``); positive when they lean
    toward it. Predictions equal to ``mu`` carry nothing of it (``z = 0``).
    """
    lean = (pred - draws.mean_rows) * draws.scale_rows
    num, var = (lean * draws.noise).sum(axis=0), np.square(lean).sum(axis=0)
    comp = [float(n / math.sqrt(v)) if v > 1e-24 else 0.0 for n, v in zip(num, var, strict=True)]
    total = float(num.sum() / math.sqrt(var.sum())) if var.sum() > 1e-24 else 0.0
    return comp, total


def _p_value(z: float) -> float:
    """Two-sided p-value of a standard-normal ``z``."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def holm(p_values: Sequence[float], alpha: float = LEAK_ALPHA) -> list[bool]:
    """Which of ``p_values`` Holm's step-down procedure rejects at family-wise level ``alpha``.

    Examples:
        >>> holm([1e-6, 0.5, 2e-4], alpha=1e-3)
        [True, False, True]
    """
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    out = [False] * len(p_values)
    for rank, i in enumerate(order):
        if p_values[i] > alpha / (len(p_values) - rank):
            break
        out[i] = True
    return out


@dataclass(frozen=True)
class LeakCheck:
    """Predictions scored against secret posterior draws of the test ``y`` and tested for a leak of the canonical one.

    Attributes:
        status: :data:`CONSISTENT`, :data:`AT_FLOOR` (at label-level accuracy, or no worse than the oracle:
            indistinguishable from a label leak) or :data:`LEAK_SUSPECTED`.
        reasons: why a leak is suspected, or why the entry is at the floor (empty when consistent).
        mse: the leaderboard's MSE: the mean of ``draw_mse``, over posterior draws chosen when the check ran.
        canonical_mse: MSE against the canonical ``y`` (draw 0, the published test split).
        seeds: the draws' seeds (recorded after the fact: repeat a check with them).
        draw_mse: MSE against each draw.
        component_z: per component, the z-score of the predictions' lean toward the canonical ``y``'s own noise
            (:func:`noise_z`; exactly standard normal for a model of ``x``).
        total_z: the same over all components.
        flagged_components: the components (0-based) whose test Holm rejects.
        alpha: the family-wise level of the tests (:data:`LEAK_ALPHA`, over all draws of :func:`check_draws`).
        accuracy: the reconstructed accuracy the at-floor mark used (None if not given).
        within_class_variance: the floor no model of ``x`` beats (empirical, of the canonical ``y``).
        floor_z: ``(canonical_mse - within_class_variance)`` in paired standard errors.
        oracle_floor: MSE of the class VAE's mean of the true class.
        oracle_z: ``(canonical_mse - oracle_floor)`` in paired standard errors.
        z_limit: :data:`LEAK_Z` (the floor test).
        predicted_draws: the published draws the predictions are of (``[0]``: the canonical one).
        per_draw: :func:`check_draws` of several draws: each draw's own check (``as_dict`` and its ``draw``);
            the fields above then combine them (means; the most extreme z; any draw's reasons).
    """

    status: str
    reasons: list[str]
    mse: float
    canonical_mse: float
    seeds: list[int]
    draw_mse: list[float]
    component_z: list[float]
    total_z: float
    flagged_components: list[int]
    alpha: float
    accuracy: float | None
    within_class_variance: float
    floor_z: float
    oracle_floor: float
    oracle_z: float
    z_limit: float = LEAK_Z
    predicted_draws: list[int] = field(default_factory=lambda: [CANONICAL_DRAW])
    per_draw: list[dict[str, Any]] = field(default_factory=list)

    @property
    def leak_suspected(self) -> bool:
        return self.status == LEAK_SUSPECTED

    @property
    def at_floor(self) -> bool:
        return self.status == AT_FLOOR

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


def check(predicted_y: np.ndarray, draws: ReferenceDraws, *, accuracy: float | None = None,
          alpha: float = LEAK_ALPHA) -> LeakCheck:
    """Score ``(10000, N)`` predictions on secret draws of the test ``y`` and test them for a leak of the canonical one.

    A leak is suspected when Holm's procedure at ``alpha`` (:data:`LEAK_ALPHA`) rejects any of the ``N + 1`` noise tests
    (:func:`noise_z`: each component, and all together), or when the canonical MSE is below the within-class
    variance by more than :data:`LEAK_Z` paired standard errors (and :data:`ABS_TOL`). Otherwise the entry is
    :data:`AT_FLOOR` when ``accuracy`` (its reconstructed accuracy, if given) is at least
    :data:`AT_FLOOR_ACCURACY`, or its canonical MSE is not above the oracle floor by more than ``LEAK_Z``
    standard errors (plus :data:`ABS_TOL`); else :data:`CONSISTENT`.

    Raises:
        InvalidArgumentError: predictions of another shape, or not finite.

    Examples:
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
    canonical = float(rows.mean())
    draw_mse = [float(_row_errors(pred, d.astype(np.float64)).mean()) for d in draws.draws]
    mse = float(np.mean(draw_mse))
    comp_z, total_z = noise_z(pred, draws)
    rejected = holm([_p_value(z) for z in [*comp_z, total_z]], alpha)
    flagged = [j for j, r in enumerate(rejected[:-1]) if r]
    floor, oracle = draws.within_class_variance, draws.oracle_floor
    floor_z, oracle_z = _paired_z(rows - draws.floor_rows), _paired_z(rows - draws.oracle_rows)
    reasons = []
    # The published y the predictions are of: the canonical one, or another draw's (for_draw).
    own = "the canonical" if draws.draw == CANONICAL_DRAW else f"draw {draws.draw}'s"
    if canonical < floor - ABS_TOL and floor_z < -LEAK_Z:
        reasons.append(f"MSE {canonical:.4f} on {own} y is below the floor {floor:.4f} (the test y's "
                       f"within-class variance, which no model of x beats) by {-floor_z:.1f} standard errors")
    if any(rejected):
        where = (f"component{'s' if len(flagged) > 1 else ''} {', '.join(map(str, flagged))} (z "
                 f"{', '.join(f'{comp_z[j]:+.1f}' for j in flagged)})" if flagged else "no single component")
        reasons.append(f"the predictions lean toward {own} test y's own posterior noise: {where}, all "
                       f"components z {total_z:+.1f} (Holm over {len(rejected)} tests at {alpha:g}; a model "
                       f"of x gives |z| of about 1); MSE {canonical:.4f} on {own} y, {mse:.4f} on "
                       f"{len(draw_mse)} secret draws")
    if reasons:
        status = LEAK_SUSPECTED
    elif accuracy is not None and accuracy >= AT_FLOOR_ACCURACY:
        status = AT_FLOOR
        reasons.append(f"reconstructed accuracy {accuracy:.4f} >= {AT_FLOOR_ACCURACY:g} is at label level: "
                       f"{AT_FLOOR_MEANING}")
    elif canonical <= oracle + ABS_TOL or oracle_z <= LEAK_Z:
        status = AT_FLOOR
        reasons.append(f"MSE {canonical:.4f} is no worse than the oracle floor {oracle:.4f} (the class VAE's mean of "
                       f"the true class): {AT_FLOOR_MEANING}")
    else:
        status = CONSISTENT
    return LeakCheck(status, reasons, mse, canonical, list(draws.seeds), draw_mse, comp_z, total_z, flagged,
                     alpha, accuracy, floor, floor_z, oracle, oracle_z, predicted_draws=[draws.draw])


def check_draws(predictions: Mapping[int, np.ndarray], draws: ReferenceDraws, *,
                accuracy: Mapping[int, float] | None = None) -> LeakCheck:
    """:func:`check` of predictions of several published draws, each against its own draw (:func:`for_draw`).

    The predictions for draw ``s`` are tested for a lean toward draw ``s``'s noise and scored on the same secret
    draws as every other. With ``k`` draws each draw's tests run at ``LEAK_ALPHA / k`` (Bonferroni over the draws,
    Holm within one), so the false-alarm rate of the whole entry stays at most :data:`LEAK_ALPHA`. One draw gives
    exactly :func:`check` of it.

    Args:
        predictions: ``{draw seed: (10000, N) predictions}``.
        draws: the secret draws (:func:`reference_draws`).
        accuracy: each draw's reconstructed accuracy (for the at-floor mark), by draw seed.

    Returns:
        A :class:`LeakCheck`: ``leak suspected`` if any draw is, else ``at the floor`` if any draw is; ``mse``,
        ``canonical_mse`` (each draw's own published ``y``), ``draw_mse`` and the floors are means over the
        draws, ``component_z``/``total_z`` those of the draw with the largest ``|z|``, ``reasons`` each draw's
        (named); ``per_draw`` holds every draw's own check.

    Raises:
        InvalidArgumentError: no predictions, a bad draw seed, a draw that is also a secret one, predictions of
            another shape or not finite.
    """
    if not predictions:
        raise InvalidArgumentError("no predictions to check: give {draw seed: predictions} for at least one draw")
    both = sorted(set(predictions) & set(draws.seeds))
    if both:  # a secret draw the predictions are of is no secret: it would rank them on the y they saw
        raise InvalidArgumentError(f"draw {both[0]} is both a draw the predictions are of and a secret draw of the "
                                   "check; choose other secret draws (leave --draw-seeds out)")
    alpha = LEAK_ALPHA / len(predictions)
    per = {s: check(p, for_draw(draws, s), accuracy=(accuracy or {}).get(s), alpha=alpha)
           for s, p in predictions.items()}
    if len(per) == 1:
        return next(iter(per.values()))
    checks = list(per.values())
    status = next((st for st in (LEAK_SUSPECTED, AT_FLOOR) if any(c.status == st for c in checks)), CONSISTENT)
    loudest = max(checks, key=lambda c: max(abs(z) for z in [*c.component_z, c.total_z]))
    accuracies = [c.accuracy for c in checks]

    def mean(name: str) -> float:
        return float(np.mean([getattr(c, name) for c in checks]))

    return LeakCheck(
        status, [f"draw {s}: {r}" for s, c in per.items() for r in c.reasons], mean("mse"), mean("canonical_mse"),
        list(draws.seeds), [float(m) for m in np.mean([c.draw_mse for c in checks], axis=0)],
        loudest.component_z, loudest.total_z, sorted({j for c in checks for j in c.flagged_components}), LEAK_ALPHA,
        None if None in accuracies else float(np.mean(accuracies)), mean("within_class_variance"),
        min(c.floor_z for c in checks), mean("oracle_floor"), min(c.oracle_z for c in checks),
        predicted_draws=list(per), per_draw=[{"draw": s, **{k: v for k, v in c.as_dict().items()
                                                            if k not in ("per_draw", "predicted_draws")}}
                                             for s, c in per.items()])


__all__ = ["ABS_TOL", "AT_FLOOR", "AT_FLOOR_ACCURACY", "AT_FLOOR_MEANING", "CONSISTENT", "LEAK_ALPHA", "LEAK_DRAWS",
           "LEAK_SUSPECTED", "LEAK_Z", "LeakCheck", "ReferenceDraws", "check", "check_draws", "check_seeds",
           "draw_seeds", "for_draw", "holm", "noise_z", "reference_draws"]
