"""What a leaderboard entry claims, and the one list of checks that ``submit`` and ``verify`` run on it.

:func:`score` scores predictions (of one or more posterior draws) on the test split of a reference variant with
the one evaluator and runs the leak check (:mod:`ldmnist_hub.submissions.leak`) against secret draws of the test
``y``. :func:`new_entry` writes what ``submit`` claims from that; :data:`CHECKS` is every check of an entry
against the scores of its stored predictions, each a function of :class:`Claims` returning its problems (none:
the claim holds), and :func:`judge` runs them all and gives the verdict (:mod:`ldmnist_hub.submissions.verdicts`).
``submit`` runs them on the entry it is about to store (it refuses a leak, and stores only what verifies);
:func:`verify_entry` on an entry read back from a repo, after reading it (format, name, draws, files, version).

The scoring is the one evaluator's, ``ldmnist_hub.evaluate`` (``evaluator=`` replaces it, for tests).
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ldmnist_hub._version import __version__
from ldmnist_hub.core import versions
from ldmnist_hub.core.config import CANONICAL_SEED
from ldmnist_hub.core.digest import array_sha256
from ldmnist_hub.core.types import PathArg
from ldmnist_hub.errors import HubError, IntegrityError, InvalidArgumentError, LdmnistError
from ldmnist_hub.hub.repo import is_network_error
from ldmnist_hub.loading.arrays import load_numpy
from ldmnist_hub.loading.variant import resolve
from ldmnist_hub.produce import reference
from ldmnist_hub.produce.reference import split_digests
from ldmnist_hub.store.identity import variant_cache_id
from ldmnist_hub.submissions import leak
from ldmnist_hub.submissions.entries import (
    ENTRY_FILE,
    ENTRY_FORMAT,
    PREDICTIONS_FILE,
    SPLIT,
    SUBMISSIONS_DIR,
    Predictions,
    check_budget,
    check_family,
    check_reference_latent,
    draw_file,
    entry_draws,
    entry_files,
    entry_names,
    read_predictions,
)
from ldmnist_hub.submissions.verdicts import (
    AT_FLOOR,
    FLAGGED,
    LEAK_SUSPECTED,
    LISTED,
    OTHER_VERSION,
    VERIFIED,
    VerifyResult,
)

# The one evaluator's signature: evaluator(predicted_y, latent, split, data_dir=..., progress=...) -> EvalResult.
Evaluator = Callable[..., Any]


def one_evaluator(evaluator: Evaluator | None = None) -> Evaluator:
    """``evaluator``, or the package's one evaluator (:func:`ldmnist_hub.evaluate`)."""
    if evaluator is not None:
        return evaluator
    from ldmnist_hub.scoring.evaluate import evaluate

    return evaluate


# Scores are recomputed by the same numpy code on the same float32 predictions; only the BLAS's summation
# order of the decoder's logits could move a last bit, never a score by this much.
_REL_TOL = 1e-9


def reference_data(latent: int, *, data_dir: PathArg = None, progress: bool = False) -> tuple[str, dict[str, str]]:
    """``(config, {"y": sha256, "label": sha256})`` of the test split submissions to ``latent-N`` are scored on.

    Raises:
        InvalidArgumentError: ``latent`` has no reference variant, or ``data_dir`` is not the official MNIST.
        IntegrityError: the test split's digests differ from the reference record.
    """
    check_reference_latent(latent)
    variant = resolve(latent, seed=CANONICAL_SEED, data_dir=data_dir, progress=progress)
    config = variant_cache_id(variant, data_dir)
    if config != variant.name:
        said = (f"{data_dir} does not hold the official MNIST files (they would give {config!r}, not "
                f"{variant.name!r}); submissions are scored on the official data: ")
        raise InvalidArgumentError(said + "leave data_dir out or point it at the official files",
                                   cli=said + "leave --mnist-dir out or point it at the official files")
    x, y, label = load_numpy(latent, SPLIT, data_dir=data_dir, progress=progress)
    digests = split_digests(x, y, label)
    got = {"y": digests["y"], "label": digests["label"]}
    want = reference.get(latent).record["data_sha256"][SPLIT]
    for column, digest in got.items():
        if digest != want[column]:
            raise IntegrityError(f"{config} test {column!r} has sha256 {digest}, but the reference record says "
                                 f"{want[column]}; rebuild it with `ldmnist build --latent {latent} --force`")
    return config, got



def _score(evaluator: Evaluator, pred: np.ndarray, latent: int, seed: int, data_dir: PathArg, progress: bool) -> Any:
    """The one evaluator's scores of predictions of draw ``seed``: against the test ``y`` of the reference variant
    with that seed (the canonical draw 0 is scored exactly as entries always were)."""
    drawn = {} if seed == CANONICAL_SEED else {"seed": seed}
    return evaluator(pred, latent, SPLIT, data_dir=data_dir, progress=progress, **drawn)


# What draw_summary gives, as a card entry's "scored_draws" holds it.
SCORED_DRAWS_KEYS = ("draws", "mse", "mse_sd", "reconstructed_accuracy", "reconstructed_accuracy_sd", "excess_mse",
                     "excess_se")


def _mean_scores(by_draw: Mapping[int, Any]) -> dict[str, float]:
    """The claimed scores of an entry: the mean over its draws of ``mse`` and ``reconstructed_accuracy``."""
    return {k: math.fsum(getattr(r, k) for r in by_draw.values()) / len(by_draw)
            for k in ("mse", "reconstructed_accuracy")}


def draw_summary(by_draw: Mapping[int, Any]) -> dict[str, Any]:
    """Scores over a submission's draws, for the card: mean +- sd over the draws, and the excess over the floor.

    ``draws`` (the seeds); ``mse``, ``reconstructed_accuracy`` and ``excess_mse`` (over the oracle floor of each
    draw: the within-class variance of its test ``y``), their means; ``mse_sd`` and ``reconstructed_accuracy_sd``,
    sample sds over the draws (None for one draw); ``excess_se``, the paired standard error over rows of one
    draw's excess (``EvalResult.excess_mse_se``; ``mse_se`` for entries scored before it existed), the mean over
    the draws. A value the evaluator does not give is None.

    Examples:
        >>> from ldmnist_hub.scoring.evaluate import EvalResult
        >>> r = draw_summary({0: EvalResult(0.72, 0.36, 10, 0.01, 0.1, 0.02), 1: EvalResult(0.74, 0.38, 10, 0.01,
        ...                                                                                0.1, 0.04)})
        >>> r["draws"], round(r["mse"], 4), round(r["mse_sd"], 4), round(r["excess_mse"], 4), r["excess_se"]
        ([0, 1], 0.73, 0.0141, 0.03, 0.01)
    """
    def values(name: str) -> list[float] | None:
        got = [getattr(r, name, None) for r in by_draw.values()]
        ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in got)
        return [float(v) for v in got] if ok else None

    out: dict[str, Any] = {"draws": list(by_draw)}
    for name in ("mse", "reconstructed_accuracy", "excess_mse"):
        got = values(name)
        out[name] = math.fsum(got) / len(got) if got else None
        if name != "excess_mse":
            out[f"{name}_sd"] = float(np.std(got, ddof=1)) if got and len(got) > 1 else None
    # The paired standard error of the excess (entries scored before it existed carry only mse_se).
    se = values("excess_mse_se") or values("mse_se")
    out["excess_se"] = math.fsum(se) / len(se) if se else None
    return out


class Draws:
    """The reference test split of each latent with ``y`` drawn again at one verification's seeds (built once)."""

    def __init__(self, seeds: Sequence[int] | None, data_dir: PathArg) -> None:
        self.seeds = leak.draw_seeds() if seeds is None else tuple(seeds)
        self.data_dir = data_dir
        self._by_latent: dict[int, leak.ReferenceDraws] = {}

    def __call__(self, latent: int) -> leak.ReferenceDraws:
        if latent not in self._by_latent:
            self._by_latent[latent] = leak.reference_draws(latent, self.seeds, data_dir=self.data_dir)
        return self._by_latent[latent]


@dataclass(frozen=True)
class Scored:
    """Predictions of one or more posterior draws, scored on the reference test split, with their leak check.

    Attributes:
        latent: the reference variant ``latent-N``.
        predictions: ``{draw seed: (10000, N) float32 predictions}``.
        config: the config they were scored on (:func:`reference_data`).
        data_sha256: the digests of its test ``y`` and ``label``.
        by_draw: the one evaluator's result of each draw's predictions, against that draw's own test ``y``.
        leak_check: the leak check of all of them (:func:`ldmnist_hub.submissions.leak.check_draws`).
    """

    latent: int
    predictions: dict[int, np.ndarray]
    config: str
    data_sha256: dict[str, str]
    by_draw: dict[int, Any]
    leak_check: leak.LeakCheck


def score(predictions: Mapping[int, np.ndarray], latent: int, *, evaluator: Evaluator,
          draws: Callable[[int], leak.ReferenceDraws], data_dir: PathArg = None, progress: bool = False) -> Scored:
    """Score predictions of each posterior draw against its own test ``y``, and check them all for a leak.

    Args:
        predictions: ``{draw seed: (10000, N) predictions}`` (read with
            :func:`~ldmnist_hub.submissions.entries.read_predictions`).
        latent: the reference variant ``latent-N`` they are for.
        evaluator: the scoring function (:func:`one_evaluator`).
        draws: the secret draws of the test ``y`` of a latent (a :class:`Draws`).
        data_dir: where the official MNIST files are.
        progress: progress bars.

    Raises:
        InvalidArgumentError: no reference variant, unofficial MNIST files, a predicted draw that is also a secret
            one.
        IntegrityError: the test split differs from the reference record.
    """
    config, data_sha256 = reference_data(latent, data_dir=data_dir, progress=progress)
    by_draw = {s: _score(evaluator, p, latent, s, data_dir, progress) for s, p in predictions.items()}
    checked = leak.check_draws(predictions, draws(latent),
                               accuracy={s: r.reconstructed_accuracy for s, r in by_draw.items()})
    return Scored(latent, dict(predictions), config, data_sha256, by_draw, checked)


def new_entry(scored: Scored, *, name: str, description: str, link: str, family: str | None,
              budget: str | None) -> dict[str, Any]:
    """The ``entry.json`` of a new submission: what it claims, from its scores (see the module docstring)."""
    by_draw, preds = scored.by_draw, scored.predictions
    return {
        "format": ENTRY_FORMAT,
        "name": name,
        "description": description.strip(),
        "link": link,
        "config": scored.config,
        "latent": scored.latent,
        "split": SPLIT,
        "version": versions.current(scored.latent),
        # The mean over the draws (one draw: its scores), and each draw's: the claims verify re-scores.
        "scores": _mean_scores(by_draw),
        "draws": [{"seed": s, "mse": r.mse, "reconstructed_accuracy": r.reconstructed_accuracy,
                   "predictions_sha256": array_sha256(preds[s])} for s, r in by_draw.items()],
        "n": next(iter(by_draw.values())).n,
        "predictions_sha256": array_sha256(next(iter(preds.values()))),
        "data_sha256": scored.data_sha256,
        "package_version": __version__,
        "submitted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **({"family": family} if family is not None else {}),
        **({"budget": budget} if budget is not None else {}),
    }


def recomputed(scored: Scored) -> dict[str, Any]:
    """The scores of stored predictions as ``verify`` reports them: :func:`draw_summary` and the claimed means."""
    return {**draw_summary(scored.by_draw), **_mean_scores(scored.by_draw)}


# ---------------------------------------------------------------------------------------------------- the checks


@dataclass(frozen=True)
class Claims:
    """An entry, and the scores of the predictions stored with it: what every check compares.

    Attributes:
        entry: the entry (``entry.json``).
        scored: its predictions, scored (:func:`score`).
        seeds: the draws it predicts, in its order (:func:`~ldmnist_hub.submissions.entries.entry_draws`).
        records: each draw's record (``{}`` for an entry older than draws).
    """

    entry: dict[str, Any]
    scored: Scored
    seeds: list[int]
    records: dict[int, dict[str, Any]]


def no_leak(c: Claims) -> list[str]:
    """The predictions do not know the test ``y`` (:mod:`ldmnist_hub.submissions.leak`)."""
    checked = c.scored.leak_check
    return [f"{LEAK_SUSPECTED}: " + "; ".join(checked.reasons)] if checked.leak_suspected else []


def protocol_fields(c: Claims) -> list[str]:
    """The recorded family and budget are of the allowed form (as ``submit`` checks its arguments)."""
    problems = []
    for key, check in (("family", check_family), ("budget", check_budget)):
        try:
            check(c.entry.get(key))
        except InvalidArgumentError as err:
            problems.append(f"entry.json {err}")
    return problems


def same_config(c: Claims) -> list[str]:
    """The entry names the config its predictions are scored on."""
    config = c.scored.config
    return [] if c.entry.get("config") == config else [f"config {c.entry.get('config')!r} is not {config!r}"]


def same_data(c: Claims) -> list[str]:
    """The entry's data digest is the reference test split's."""
    return [] if c.entry.get("data_sha256") == c.scored.data_sha256 else [
        "data digest differs from the reference test split"]


def same_predictions(c: Claims) -> list[str]:
    """Every predictions digest the entry records is that of its stored predictions."""
    problems = []
    for s, p in c.scored.predictions.items():
        digest = array_sha256(p)
        # The entry's first draw's digest is also its top-level predictions_sha256 (the only one older entries have).
        said = [c.entry.get("predictions_sha256")] if s == c.seeds[0] else []
        said += [c.records[s].get("predictions_sha256")] if c.records else []
        if any(d != digest for d in said):
            problems.append(f"predictions digest differs from {draw_file(s)}")
    return problems


def same_rows(c: Claims) -> list[str]:
    """The entry's row count is the test split's."""
    n = next(iter(c.scored.by_draw.values())).n
    return [] if c.entry.get("n") == n else [f"n {c.entry.get('n')!r} is not {n}"]


def same_scores(c: Claims) -> list[str]:
    """The claimed scores are those of the stored predictions (to the last bits): the mean, and each draw's."""
    by_draw, claimed = c.scored.by_draw, c.entry.get("scores")
    means = _mean_scores(by_draw)
    over = f" (the mean over draws {', '.join(map(str, c.seeds))})" if len(c.seeds) > 1 else ""
    problems = []
    for key in ("mse", "reconstructed_accuracy"):
        problems += _claim_problem("", (claimed if isinstance(claimed, dict) else {}).get(key), key, means[key], over)
        if c.records:  # each draw's own claims (entries older than draws have none)
            problems += [p for s, r in by_draw.items()
                         for p in _claim_problem(f"draw {s}: ", c.records[s].get(key), key, getattr(r, key), "")]
    return problems


Check = Callable[[Claims], list[str]]
# Every check of an entry, in the order their problems are reported: the leak first.
CHECKS: tuple[Check, ...] = (no_leak, protocol_fields, same_config, same_data, same_predictions, same_rows,
                             same_scores)


@dataclass(frozen=True)
class Judged:
    """What :func:`judge` found: the verdict, the problems (``why``), and the reasons the result reports."""

    verdict: str
    problems: list[str]
    reasons: list[str]


def judge(c: Claims) -> Judged:
    """Run :data:`CHECKS` on an entry and give its verdict.

    :data:`~ldmnist_hub.submissions.verdicts.LEAK_SUSPECTED` when :func:`no_leak` fails (each of the leak check's
    reasons, then the other problems); else :data:`~ldmnist_hub.submissions.verdicts.FLAGGED` when any check fails,
    :data:`~ldmnist_hub.submissions.verdicts.AT_FLOOR` when the leak check marks it so (its reasons), and
    :data:`~ldmnist_hub.submissions.verdicts.VERIFIED` otherwise.
    """
    found = {check: check(c) for check in CHECKS}
    problems = [p for got in found.values() for p in got]
    checked = c.scored.leak_check
    if found[no_leak]:
        others = [p for check, got in found.items() if check is not no_leak for p in got]
        return Judged(LEAK_SUSPECTED, problems, [f"{LEAK_SUSPECTED}: {r}" for r in checked.reasons] + others)
    if problems:
        return Judged(FLAGGED, problems, problems)
    return Judged(AT_FLOOR, [], list(checked.reasons)) if checked.at_floor else Judged(VERIFIED, [], [])


# ---------------------------------------------------------------------------------------------------- verify


def verify_entry(name: str, status: str, entry_bytes: bytes | None,
                 predictions: Predictions | Callable[[str], Predictions], *,
                 evaluator: Evaluator, data_dir: PathArg = None,
                 draws: Callable[[int], leak.ReferenceDraws] | None = None) -> VerifyResult:
    """Re-score one stored entry from its stored predictions against the reference data, and check it for a leak.

    ``predictions`` reads the entry's stored predictions files: a callable ``file name -> bytes, path or None``
    (:func:`draw_file` names draw ``s``'s), or, for an entry of the canonical draw alone, that file's bytes or
    path (read with :func:`read_predictions`). Each draw's predictions are scored against that draw's test ``y``
    and leak-checked against its noise. ``draws`` gives the test split with ``y`` drawn again for a latent
    (default: fresh random draws). Never raises for a bad entry: what is wrong is in the result's ``why`` and
    ``verdict``.
    """
    try:
        entry = json.loads(entry_bytes) if entry_bytes is not None else None
    except (ValueError, UnicodeDecodeError) as err:
        return VerifyResult(name, status, False, f"entry.json is not JSON ({err})")
    if not isinstance(entry, dict) or entry.get("format") != ENTRY_FORMAT:
        return VerifyResult(name, status, False, f"entry.json is missing or not a {ENTRY_FORMAT} entry")
    claimed = entry.get("scores") if isinstance(entry.get("scores"), dict) else None
    result: dict[str, Any] = {"name": name, "status": status, "claimed": claimed, "entry": entry}
    if entry.get("name") != name:
        return VerifyResult(ok=False, why=f"the entry names itself {entry.get('name')!r}", **result)
    try:
        seeds, records = entry_draws(entry)
    except InvalidArgumentError as err:
        return VerifyResult(ok=False, why=str(err), **result)
    read = predictions if callable(predictions) else lambda f: predictions if f == PREDICTIONS_FILE else None
    stored = {s: read(draw_file(s)) for s in seeds}
    missing = [draw_file(s) for s, got in stored.items() if got is None]
    if missing:
        return VerifyResult(ok=False, why=f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing",
                            **result)
    other = _other_version(entry)
    if other is not None:  # never re-scored: the bytes of that version may not be here at all
        return VerifyResult(ok=False, why=other, verdict=OTHER_VERSION, **result)
    try:
        latent = check_reference_latent(entry.get("latent"))
        preds = {s: read_predictions(got, latent, draw_file(s)) for s, got in stored.items()}
        scored = score(preds, latent, evaluator=evaluator, draws=draws or Draws(None, data_dir), data_dir=data_dir)
    except LdmnistError as err:
        return VerifyResult(ok=False, why=f"cannot be scored: {err}", **result)
    judged = judge(Claims(entry, scored, seeds, records))
    return VerifyResult(ok=not judged.problems, why="; ".join(judged.problems), recomputed=recomputed(scored),
                        verdict=judged.verdict, leak_check=scored.leak_check.as_dict(), reasons=judged.reasons,
                        **result)


def _claim_problem(where: str, got: Any, key: str, value: float, over: str) -> list[str]:
    """``[what is wrong]`` when a claimed score is not the recomputed ``value`` (to the last bits), else ``[]``."""
    if isinstance(got, (int, float)) and not isinstance(got, bool) \
            and math.isclose(float(got), value, rel_tol=_REL_TOL, abs_tol=1e-12):
        return []
    return [f"{where}claimed {key} {got!r} but the predictions score {value:.6f}{over}"]


def _other_version(entry: dict[str, Any]) -> str | None:
    """Why an entry was scored on another dataset version than its config's current one, or None."""
    latent = entry.get("latent")
    if isinstance(latent, bool) or not isinstance(latent, int) or reference.get(latent) is None:
        return None  # not a reference latent: the scoring path reports it
    scored, current = entry.get("version", versions.FIRST), versions.current(latent)
    if scored == current:
        return None
    return (f"{OTHER_VERSION}: scored on latent-{latent} version {scored!r:.40}, not the current {current}; it is "
            "kept, never ranked with this version's entries")


def guarded(name: str, status: str, check: Callable[[], VerifyResult]) -> VerifyResult:
    """``check()``, or a flagged result naming the error: one bad entry never stops the others (or a push).

    A Hub that stops answering or refuses is not the entry's fault: that error stops the whole check.
    """
    try:
        return check()
    except HubError:
        raise
    except Exception as err:  # untrusted files: whatever they make fail is reported as this entry's fault
        if is_network_error(err):
            raise
        return VerifyResult(name, status, False, f"cannot be checked: {type(err).__name__}: {err}")


def _ranking_ok(ranking: Any) -> bool:
    """True for a card entry's ``ranking`` record of the form :func:`card_entries` writes."""
    return (isinstance(ranking, dict) and all(isinstance(ranking.get(k), (int, float)) and not isinstance(
        ranking.get(k), bool) and math.isfinite(ranking[k]) for k in ("mse", "canonical_mse"))
        and isinstance(ranking.get("seeds"), list))


def _card_record(r: VerifyResult, digests: dict[str, str], before: dict[str, Any]) -> dict[str, Any]:
    """The manifest's record of an entry that verified (``r``), for the card; ``before``: its previous record."""
    keep = ("name", "description", "link", "config", "latent", "version", "scores", "n",
            "predictions_sha256", "data_sha256", "package_version", "submitted_at", "family", "budget")
    entry, c = r.entry or {}, r.leak_check or {}
    # The noise tests and floors do not depend on the draws; the ranking MSE does, so the one of the first
    # check of these very bytes is kept: an unchanged repo gives an unchanged card.
    old = before.get("ranking")
    ranking = {"mse": round(c["mse"], 6), "canonical_mse": round(c["canonical_mse"], 6), "seeds": c["seeds"]}
    # (a manifest is written by the repo's writer: an old ranking MSE is kept only if it agrees with this
    # check's draws within 6 standard errors of the difference of two such means)
    se = float(np.std(c["draw_mse"], ddof=1)) * math.sqrt(2 / len(c["draw_mse"])) if len(c["draw_mse"]) > 1 \
        else 0.0
    if before.get("files") == digests and _ranking_ok(old) \
            and old["canonical_mse"] == ranking["canonical_mse"] and abs(old["mse"] - c["mse"]) <= 6 * se:
        ranking = old
    floors = {k: round(c[k], 6) for k in ("within_class_variance", "oracle_floor")}
    # The card's mean +- sd over the draws submitted and excess +- se, as this check recomputed them.
    scored = {k: round(v, 6) if isinstance(v, float) else v for k, v in (r.recomputed or {}).items()
              if k in SCORED_DRAWS_KEYS}
    return {**{k: entry[k] for k in keep if k in entry}, "files": digests, "verified": True,
            "verdict": r.verdict, "at_floor": r.verdict == AT_FLOOR, "ranking": ranking,
            "scored_draws": scored,
            "leak_check": {"draws": len(c["seeds"]), "alpha": c["alpha"], "z_limit": leak.LEAK_Z,
                           "max_abs_z": round(max(map(abs, [*c["component_z"], c["total_z"]])), 2),
                           "at_floor_accuracy": leak.AT_FLOOR_ACCURACY, **floors}}


def card_entries(list_files: Callable[[], list[str]], read_bytes: Callable[[str], bytes | None],
                 previous: list[dict[str, Any]] | None, *, evaluator: Evaluator | None,
                 data_dir: PathArg = None) -> list[dict[str, Any]]:
    """The accepted entries of a repo that verify, as the manifest's ``submissions`` (for the card).

    ``list_files`` and ``read_bytes`` read the repo being pushed to. With an ``evaluator`` every accepted
    entry is re-scored and checked for a leak (fresh draws); without one, only entries of ``previous`` (the
    manifest's list) that were leak-checked and whose files still have the digests they had when they were
    verified are kept. An entry that does not verify (a leak suspected included), or that cannot be read at
    all, is left off the card with a warning naming it: it never stops the push.
    """
    before = {e.get("name"): e for e in previous or [] if isinstance(e, dict)}
    draws = Draws(None, data_dir)
    out = []
    for name in sorted(entry_names(list_files())):
        entry_path = f"{SUBMISSIONS_DIR}/{name}/{ENTRY_FILE}"
        try:
            entry_bytes = read_bytes(entry_path)
            # Only the predictions files the entry names (one per draw) are read.
            preds = {f: read_bytes(f"{SUBMISSIONS_DIR}/{name}/{f}") for f in entry_files(entry_bytes)}
        except HubError:
            raise  # the Hub is unreachable or refused: not this entry's fault, and the card must not lose it
        except (OSError, ValueError) as err:
            warnings.warn(f"submission {name!r} cannot be read ({err}); it is left off the card", stacklevel=2)
            continue
        blobs = {entry_path: entry_bytes} | {f"{SUBMISSIONS_DIR}/{name}/{f}": b for f, b in preds.items()}
        digests = {p: hashlib.sha256(b).hexdigest() for p, b in blobs.items() if b is not None}
        if evaluator is None:
            old = before.get(name)
            if old is not None and old.get("files") == digests and old.get("verdict") in LISTED \
                    and _other_version(old) is None:
                out.append(old)  # the very bytes verified (and leak-checked) before
            continue
        r = guarded(name, "accepted", lambda e=entry_bytes, p=preds, n=name: verify_entry(
            n, "accepted", e, p.get, evaluator=evaluator, data_dir=data_dir, draws=draws))
        if r.ok and r.entry is not None and r.leak_check is not None:
            out.append(_card_record(r, digests, before.get(name) or {}))
        elif r.verdict == OTHER_VERSION:
            why = r.why.removeprefix(f"{OTHER_VERSION}: ")
            warnings.warn(f"submission {name!r} is of another version: {why}; it is left off the card", stacklevel=2)
        else:
            warnings.warn(f"submission {name!r} does not verify ({r.why}); it is left off the card", stacklevel=2)
    return out


__all__ = ["CHECKS", "SCORED_DRAWS_KEYS", "Check", "Claims", "Draws", "Evaluator", "Judged", "Scored", "card_entries",
           "draw_summary", "guarded", "judge", "new_entry", "no_leak", "one_evaluator", "protocol_fields",
           "recomputed", "reference_data", "same_config", "same_data", "same_predictions", "same_rows", "same_scores",
           "score", "verify_entry"]
