"""Leaderboard submissions that anyone can check: scored here, stored with their predictions, re-scored on verify.

``submit`` scores a predictions file on the test split of a reference variant
(``latent-N``: the same bytes on every machine) with the one evaluator, and
stores an entry (claimed scores, the sha256 of the predictions array and of the
reference ``y`` and ``label`` it was scored against) next to the predictions:
as a pull request on a Hub dataset repo, or in the pending area of a local
folder. ``verify`` re-scores every stored entry from its predictions and flags
any whose claims do not hold; a push puts only entries that verify onto the
dataset card.

Both also run the leak check (:mod:`ldmnist_hub.submissions.leak`): every entry is
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

The entries, the checks, the verdicts and the leak check are the leaderboard's own package,
:mod:`ldmnist_hub.submissions`; their public names are importable from here as before.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ldmnist_hub.core import versions
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg
from ldmnist_hub.errors import IntegrityError, InvalidArgumentError, LeakSuspectedError
from ldmnist_hub.hub.repo import check_reachable, check_repo_id, is_local_target
from ldmnist_hub.submissions import entries, leak

# The leaderboard's names, importable from here as before they moved to ldmnist_hub.submissions.
from ldmnist_hub.submissions.checks import (
    SCORED_DRAWS_KEYS,
    Claims,
    Draws,
    Evaluator,
    card_entries,
    draw_summary,
    guarded,
    judge,
    new_entry,
    one_evaluator,
    reference_data,
    score,
    verify_entry,
)
from ldmnist_hub.submissions.entries import (
    DRAW_FILE_RE,
    ENTRY_FILE,
    ENTRY_FORMAT,
    FAMILIES,
    FAMILY_RE,
    MAX_BUDGET,
    MAX_DESCRIPTION,
    MAX_DRAWS,
    NAME_RE,
    PENDING,
    PENDING_DIR,
    PREDICTIONS_FILE,
    SPLIT,
    SUBMISSIONS_DIR,
    TEST_ROWS,
    VERIFIED_FILE,
    Predictions,
    check_budget,
    check_family,
    check_name,
    check_reference_latent,
    check_text,
    draw_file,
    entry_draws,
    entry_files,
    max_predictions_bytes,
    parse_predictions,
    predictions_by_draw,
    read_predictions,
)
from ldmnist_hub.submissions.verdicts import (
    AT_FLOOR,
    FLAGGED,
    JSON_VERDICTS,
    LEAK_SUSPECTED,
    OTHER_VERSION,
    VERIFIED,
    VerifyResult,
)


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
        draw_seeds: the posterior draws of the leak check (default:
            :data:`~ldmnist_hub.submissions.leak.LEAK_DRAWS` seeds chosen now at random; ``verify`` chooses its own).
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
        IntegrityError: the test split here is not the reference one, or the entry would not verify (one of the
            checks ``verify`` runs fails on it); nothing is written.
        HubConnectionError: the Hub does not answer (checked before the scoring); nothing was submitted.
        HubError: the Hub refused.
    """
    check_reference_latent(latent)
    if versions.check(latent, version) is not None:
        raise InvalidArgumentError(
            f"latent-{latent} version {version} is an earlier version; the leaderboard ranks entries of the current "
            f"version ({versions.current(latent)}) only: leave version out (--dataset-version) to submit to it")
    check_name(name)
    check_text(description, link)
    family, budget = check_family(family), check_budget(budget)
    files_by_draw = predictions_by_draw(predictions)
    local = bool(repo) and is_local_target(repo)
    if not local:
        check_repo_id(repo)
        check_reachable(endpoint)  # a Hub that does not answer is one clean error before the scoring
    preds = {s: read_predictions(f, latent, repr(str(f))) for s, f in files_by_draw.items()}
    scored = score(preds, latent, evaluator=one_evaluator(evaluator), draws=Draws(draw_seeds, data_dir),
                   data_dir=data_dir, progress=progress)
    entry = new_entry(scored, name=name, description=description, link=link, family=family, budget=budget)
    # The checks verify runs: a leak is refused, and what is stored verifies.
    judged, checked = judge(Claims(entry, scored, *entry_draws(entry))), scored.leak_check
    if judged.verdict == LEAK_SUSPECTED:
        raise LeakSuspectedError(f"leak suspected, nothing was submitted: {'; '.join(checked.reasons)}. A model of "
                                 "x cannot do this: it must not see the test split's y")
    if judged.problems:
        raise IntegrityError(f"the entry would not verify ({'; '.join(judged.problems)}); nothing was submitted")
    files = {ENTRY_FILE: (json.dumps(entry, indent=2, sort_keys=True) + "\n").encode()}
    files |= {draw_file(s): _npy_bytes(p) for s, p in preds.items()}
    summary = draw_summary(scored.by_draw)
    if local:
        paths = entries.store_pending(Path(repo).expanduser(), name, files)
        return SubmitResult(name, repo, entry, paths, leak_check=checked.as_dict(), scores=summary)
    url, paths = entries.open_pull_request(repo, name, files, token=token, endpoint=endpoint)
    return SubmitResult(name, repo, entry, paths, url, checked.as_dict(), summary)


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
        draw_seeds: the posterior draws of the leak check (default:
            :data:`~ldmnist_hub.submissions.leak.LEAK_DRAWS` seeds chosen now from the OS's randomness, unknown to
            any submitter; pass a record's seeds to repeat a check).

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
    draws, scorer = Draws(draw_seeds, data_dir), one_evaluator(evaluator)  # one set of seeds per verification

    def check(stored: entries.Stored) -> VerifyResult:  # one bad entry never stops the others
        return guarded(stored.name, stored.status, lambda: verify_entry(
            stored.name, stored.status, *stored.open(), evaluator=scorer, data_dir=data_dir, draws=draws))

    if local:
        root = Path(repo).expanduser()
        results = [check(stored) for stored in entries.in_folder(root)]
        return entries.accept(root, results) if accept else results
    check_repo_id(repo)
    with entries.on_hub(repo, revision, token=token, endpoint=endpoint) as stored_entries:
        return [check(stored) for stored in stored_entries]


__all__ = ["AT_FLOOR", "FAMILIES", "FLAGGED", "JSON_VERDICTS", "LEAK_SUSPECTED", "MAX_DRAWS", "OTHER_VERSION",
           "VERIFIED", "Evaluator", "SubmitResult",
           "VerifyResult", "card_entries", "check_budget", "check_family", "check_name", "check_reference_latent",
           "draw_file", "draw_summary", "entry_draws", "entry_files", "max_predictions_bytes", "parse_predictions",
           "predictions_by_draw", "read_predictions", "reference_data", "submit", "verify", "verify_entry",
           # the other public names this module had before they moved to ldmnist_hub.submissions
           "DRAW_FILE_RE", "ENTRY_FILE", "ENTRY_FORMAT", "FAMILY_RE", "MAX_BUDGET", "MAX_DESCRIPTION", "NAME_RE",
           "PENDING", "PENDING_DIR", "PREDICTIONS_FILE", "SCORED_DRAWS_KEYS", "SPLIT", "SUBMISSIONS_DIR", "TEST_ROWS",
           "VERIFIED_FILE", "Predictions", "one_evaluator"]
