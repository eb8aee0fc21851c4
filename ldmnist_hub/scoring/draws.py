"""Scores over posterior draws of ``y``: the protocol's mean +- sd over draws, and paired comparisons.

A reference variant's ``y`` is one posterior draw given the image; its
``seed`` picks the draw (0 is canonical) and the reference weights give every
draw exactly. The protocol reports ``test`` as the mean +- sd over at least 3
draws, a model trained on draw ``s`` scored on draw ``s``:
:func:`evaluate_draws` scores each draw with the one evaluator and summarizes;
:func:`compare_draws` pairs two entries on the same draws and rows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ldmnist_hub.core.config import CANONICAL_SOURCE
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg
from ldmnist_hub.errors import InvalidArgumentError, InvalidArgumentTypeError
from ldmnist_hub.loading.variant import Variant, resolve
from ldmnist_hub.scoring.evaluate import EvalResult, ScoredRows, json_number, score, scored_rows

DEFAULT_DRAWS = (0, 1, 2)
"""The draws a callable is scored on unless ``seeds=`` says otherwise (the protocol asks for at least 3)."""

Predictions = Mapping[int, Any] | Callable[[int], Any]
"""``{draw seed: predictions}``, or a callable ``seed -> predictions`` (e.g. train on draw ``seed``, predict)."""


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample sd (ddof=1; NaN for one value)."""
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else math.nan


@dataclass(frozen=True)
class DrawsResult:
    """Scores of predictions on several posterior draws of ``y``: one :class:`EvalResult` per draw, and their spread.

    Attributes:
        seeds: the draws scored (the reference variant's ``seed``), in order.
        draws: the :class:`EvalResult` of each draw, in the order of ``seeds``.
        n: rows scored per draw.
        mse, reconstructed_accuracy, excess_mse, explained: means over the draws.
        mse_sd, reconstructed_accuracy_sd, excess_mse_sd, explained_sd: sample sds (ddof=1) over the draws
            (NaN for one draw). Each draw's standard errors over rows are in ``draws``.

    Examples:
        >>> r = DrawsResult.of((0, 1), (EvalResult(0.72, 0.36, 10), EvalResult(0.74, 0.38, 10)))
        >>> round(r.mse, 4), round(r.mse_sd, 4), r.seeds
        (0.73, 0.0141, (0, 1))
    """

    seeds: tuple[int, ...]
    draws: tuple[EvalResult, ...]
    n: int
    mse: float
    mse_sd: float
    reconstructed_accuracy: float
    reconstructed_accuracy_sd: float
    excess_mse: float
    excess_mse_sd: float
    explained: float
    explained_sd: float

    @classmethod
    def of(cls, seeds: Sequence[int], draws: Sequence[EvalResult]) -> DrawsResult:
        """The summary of per-draw results ``draws`` of the draws ``seeds``.

        Raises:
            InvalidArgumentError: no draws, or not one result per seed.
        """
        if not draws or len(draws) != len(seeds):
            raise InvalidArgumentError(f"need one EvalResult per draw; got {len(draws)} for seeds {list(seeds)}")
        spread = {}
        for name in ("mse", "reconstructed_accuracy", "excess_mse", "explained"):
            spread[name], spread[f"{name}_sd"] = _mean_sd([getattr(d, name) for d in draws])
        return cls(seeds=tuple(seeds), draws=tuple(draws), n=draws[0].n, **spread)

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form (``draws`` as a list of :meth:`EvalResult.as_dict`; an sd of one draw is None)."""
        return {**{k: json_number(v) for k, v in asdict(self).items()}, "seeds": list(self.seeds),
                "draws": [d.as_dict() for d in self.draws]}

    def __str__(self) -> str:
        return (f"mse {self.mse:.4f} +- {self.mse_sd:.4f}, accuracy {self.reconstructed_accuracy:.3f} +- "
                f"{self.reconstructed_accuracy_sd:.3f}, excess {self.excess_mse:.4f} +- {self.excess_mse_sd:.4f}, "
                f"explained {self.explained:.3f} +- {self.explained_sd:.3f} (mean +- sd over {len(self.draws)} "
                f"draws, n={self.n})")


@dataclass(frozen=True)
class DrawsComparison:
    """The MSE of entry ``a`` minus that of entry ``b``, paired on the same draws and the same rows.

    Two error bars: ``se`` over draws (the sd of the per-draw differences over ``sqrt(k)``, which also
    holds the spread of models trained on each draw) and, for each single draw, ``row_se``, the paired
    standard error over rows of that draw's difference.

    Attributes:
        a, b: each entry's :class:`DrawsResult` on the same draws.
        differences: ``a.draws[i].mse - b.draws[i].mse`` per draw.
        row_se: per draw, the sample sd (ddof=1) over rows of the difference of the two per-row mean squared
            errors, over ``sqrt(n)``: the paired standard error of that one draw's difference.
        mean_difference: the mean of ``differences`` (negative: ``a`` has the lower MSE).
        se: ``sd(differences, ddof=1) / sqrt(k)``, the paired standard error over the k draws (NaN for one).
    """

    a: DrawsResult
    b: DrawsResult
    differences: tuple[float, ...]
    row_se: tuple[float, ...]
    mean_difference: float
    se: float

    @property
    def seeds(self) -> tuple[int, ...]:
        """The draws compared."""
        return self.a.seeds

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form (an se of one draw or of one row is None)."""
        return {"seeds": list(self.seeds), "a": self.a.as_dict(), "b": self.b.as_dict(),
                "differences": list(self.differences), "row_se": [json_number(v) for v in self.row_se],
                "mean_difference": self.mean_difference, "se": json_number(self.se)}

    def __str__(self) -> str:
        return (f"mse a - b {self.mean_difference:+.4f} +- {self.se:.4f} (mean +- se over {len(self.differences)} "
                f"paired draws; one draw's per-row paired se {float(np.mean(self.row_se)):.4f})")


def _draw_seeds(entries: Sequence[Any], seeds: Sequence[int] | None) -> tuple[int, ...]:
    """The draws ``entries`` are scored on: a mapping's keys (the same in each), else ``seeds`` or the default."""
    for entry in entries:
        if not isinstance(entry, Mapping) and not callable(entry):
            raise InvalidArgumentTypeError(
                f"predictions must be a mapping {{draw seed: predictions}} or a callable seed -> predictions; got "
                f"{type(entry).__name__}: to score one set of predictions on one draw, use evaluate()")
    keyed = [tuple(entry) for entry in entries if isinstance(entry, Mapping)]
    if keyed:
        if seeds is not None:
            raise InvalidArgumentError(
                f"seeds={seeds!r} is for callables; a mapping's keys are its draws (here {list(keyed[0])}): drop "
                "seeds=, or keep only the wanted draws in the mapping")
        if any(set(k) != set(keyed[0]) for k in keyed):
            raise InvalidArgumentError(f"the entries must hold the same draws to be paired; got seeds "
                                       f"{' and '.join(str(sorted(k, key=str)) for k in keyed)}")
        chosen: Any = keyed[0]
    else:
        chosen = DEFAULT_DRAWS if seeds is None else seeds
    if isinstance(chosen, (str, bytes, Mapping)) or not isinstance(chosen, Iterable):
        raise InvalidArgumentError(f"seeds must be a sequence of draw seeds such as (0, 1, 2); got seeds={chosen!r}")
    chosen = list(chosen)
    bad = [s for s in chosen if isinstance(s, bool) or not isinstance(s, int | np.integer)]
    if bad:
        raise InvalidArgumentError(f"draw seeds must be integers; got {bad[:5]} in {chosen}")
    if not chosen:
        raise InvalidArgumentError("no draws to score: give at least one draw seed (the protocol asks for 3, "
                                   "such as seeds=(0, 1, 2))")
    if len(set(chosen)) != len(chosen):
        raise InvalidArgumentError(f"draw seeds must be distinct; got {chosen}")
    return tuple(int(s) for s in chosen)


def _reference(latent: int | Variant, source: str, version: str | None, data_dir: PathArg, build: bool,
               progress: bool, purpose: str) -> Variant:
    """The reference variant whose draws are scored (``latent`` may be a resolved one, e.g. a handle's)."""
    if isinstance(latent, Variant):
        given = {"source": source != CANONICAL_SOURCE, "version": version is not None,
                 "data_dir": data_dir is not None, "build": build is not True, "progress": progress is not True}
        if any(given.values()):
            raise InvalidArgumentTypeError(
                f"{purpose}() got the resolved variant {latent.name!r} and "
                f"{', '.join(k for k, v in given.items() if v)}=; pass either a resolved variant or the keywords "
                "that select one")
        base = latent
    else:
        base = resolve(latent, source=source, version=version, data_dir=data_dir, build=build, progress=progress)
    if not base.config.is_reference:
        raise InvalidArgumentError(
            f"{base.name!r} is trained here, not a reference variant: its seed seeds training, so it has no "
            "posterior draws to average over; score it with evaluate(), or pick a reference latent with the "
            "shipped recipe")
    return base


def _scored_draws(
    entries: Sequence[Predictions], base: Variant, split: str, seeds: tuple[int, ...], rows: Any
) -> Iterator[tuple[ScoredRows, ...]]:
    """Per draw, each entry's predictions for that draw lined up with the draw's ``y`` (one draw at a time)."""
    for seed in seeds:
        draw = dataclasses.replace(base, config=dataclasses.replace(base.config, seed=seed))
        yield tuple(scored_rows(entry[seed] if isinstance(entry, Mapping) else entry(seed), draw, split, rows)
                    for entry in entries)


def evaluate_draws(
    predictions: Predictions,
    latent: int | Variant = DEFAULT_LATENT,
    split: str = "test",
    *,
    seeds: Sequence[int] | None = None,
    rows: Any = None,
    source: str = CANONICAL_SOURCE,
    version: str | None = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
) -> DrawsResult:
    """Score predictions on several posterior draws of ``y``: each draw's :class:`EvalResult`, and mean +- sd.

    Draw ``s`` is the reference variant with ``seed=s``: the same images, labels and rows, another exact
    draw of ``x`` and ``y``. The predictions for draw ``s`` are scored against that draw's ``y`` with
    :func:`ldmnist_hub.evaluate`.

    Args:
        predictions: ``{draw seed: predictions}`` (each in a form :func:`ldmnist_hub.evaluate` accepts), or a
            callable ``seed -> predictions``, called once per draw (e.g. train on draw ``seed``, predict its test
            ``x``).
        latent: latent size N of the reference variant (default 32), or a resolved variant (any of its draws).
        split: the split scored on every draw, as in :func:`ldmnist_hub.evaluate`.
        seeds: the draws a callable is scored on (default ``(0, 1, 2)``); a mapping's keys are its draws.
        rows: integer positions in the split to score on every draw, as in :func:`ldmnist_hub.evaluate`.
        source: the raw data source (``"mnist"``, ``"fashion_mnist"``; see ``ldmnist_hub.data.sources.SOURCES``).
        version: the dataset version of a reference variant (default: the current one).
        data_dir: folder with the raw IDX files (default: the source's environment variable, or the download cache).
        build: build the variant if it is not cached (otherwise raise).
        progress: show progress bars while building.

    Returns:
        The :class:`DrawsResult`.

    Raises:
        InvalidArgumentError: no draws, repeated or non-integer seeds, seeds= beside a mapping, a variant that
            is not a reference one (it has no draws), or predictions :func:`ldmnist_hub.evaluate` refuses.
        InvalidArgumentTypeError: predictions neither a mapping nor a callable, or a resolved variant passed
            with selection keywords.

    Examples:
        >>> import ldmnist_hub as ld  # doctest: +SKIP
        >>> def least_squares(seed: int) -> np.ndarray:  # doctest: +SKIP
        ...     x, y, _ = ld.load_numpy(latent=8, split="train", seed=seed)
        ...     xt, _, _ = ld.load_numpy(latent=8, split="test", seed=seed)
        ...     w = np.linalg.lstsq(np.c_[x, np.ones(len(x))], y, rcond=None)[0]
        ...     return np.c_[xt, np.ones(len(xt))] @ w
        >>> print(evaluate_draws(least_squares, latent=8))  # doctest: +SKIP
        mse 0.7223 +- 0.0012, accuracy 0.368 +- 0.004, ... (mean +- sd over 3 draws, n=10000)
    """
    chosen = _draw_seeds([predictions], seeds)
    base = _reference(latent, source, version, data_dir, build, progress, "evaluate_draws")
    return DrawsResult.of(chosen, [score(scored) for (scored,) in _scored_draws([predictions], base, split,
                                                                                 chosen, rows)])


def compare_draws(
    a: Predictions,
    b: Predictions,
    latent: int | Variant = DEFAULT_LATENT,
    split: str = "test",
    *,
    seeds: Sequence[int] | None = None,
    rows: Any = None,
    source: str = CANONICAL_SOURCE,
    version: str | None = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
) -> DrawsComparison:
    """Compare two entries' MSE paired on the same draws and rows: ``a - b`` per draw, its mean and its SEs.

    Pairing removes what both entries share (the draw's noise, the hard rows), so a difference far
    smaller than either MSE's own error bar can be told apart from zero.

    Args:
        a: the first entry: ``{draw seed: predictions}`` or a callable ``seed -> predictions`` (as in
            :func:`evaluate_draws`); two mappings must hold the same draws.
        b: the second entry, in the same forms.
        latent: as in :func:`evaluate_draws`.
        split: as in :func:`evaluate_draws`.
        seeds: as in :func:`evaluate_draws`.
        rows: as in :func:`evaluate_draws`.
        source: as in :func:`evaluate_draws`.
        version: as in :func:`evaluate_draws`.
        data_dir: as in :func:`evaluate_draws`.
        build: as in :func:`evaluate_draws`.
        progress: as in :func:`evaluate_draws`.

    Returns:
        The :class:`DrawsComparison`: both entries' :class:`DrawsResult`, the per-draw differences, the
        paired SE over draws and the per-row paired SE of each draw.

    Raises:
        InvalidArgumentError: as :func:`evaluate_draws`, or mappings holding different draws.
        InvalidArgumentTypeError: as :func:`evaluate_draws`.

    Examples:
        >>> zeros = lambda seed: np.zeros((10_000, 8))  # doctest: +SKIP
        >>> print(compare_draws(least_squares, zeros, latent=8))  # doctest: +SKIP
        mse a - b -0.0718 +- 0.0004 (mean +- se over 3 paired draws; one draw's per-row paired se 0.0008)
    """
    chosen = _draw_seeds([a, b], seeds)
    base = _reference(latent, source, version, data_dir, build, progress, "compare_draws")
    results: tuple[list[EvalResult], list[EvalResult]] = ([], [])
    row_se = []
    for scored_a, scored_b in _scored_draws([a, b], base, split, chosen, rows):
        results[0].append(score(scored_a))
        results[1].append(score(scored_b))
        paired = (np.square(scored_a.pred - scored_a.y).mean(axis=1)
                  - np.square(scored_b.pred - scored_b.y).mean(axis=1))
        row_se.append(float(paired.std(ddof=1) / math.sqrt(len(paired))) if len(paired) > 1 else math.nan)
    differences = [ra.mse - rb.mse for ra, rb in zip(*results, strict=True)]
    mean, sd = _mean_sd(differences)
    return DrawsComparison(a=DrawsResult.of(chosen, results[0]), b=DrawsResult.of(chosen, results[1]),
                           differences=tuple(differences), row_se=tuple(row_se), mean_difference=mean,
                           se=sd / math.sqrt(len(differences)))
