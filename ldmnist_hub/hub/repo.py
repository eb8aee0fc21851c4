"""What both sides of the hub (push and pull) ask of a repo name: a local folder or a Hub id, and its errors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ldmnist_hub.core import paths
from ldmnist_hub.errors import HubError, InvalidArgumentError

REPO_ENV = "LDMNIST_REPO"


def configured_repo(repo: str | None = None) -> str | None:
    """The published repo to pull from: ``repo``, else ``$LDMNIST_REPO``, else None (no pulling)."""
    return repo or os.environ.get(REPO_ENV) or None


def is_local_target(repo: str) -> bool:
    """True if ``repo`` names a local folder (a path) rather than a Hub repo id.

    Raises:
        InvalidArgumentError: a folder whose name is not UTF-8 (its parquet files could not be opened).
    """
    local = repo in (".", "..") or repo.startswith(("./", "../", "/", "~")) or Path(repo).is_dir()
    if local:
        paths.utf8_path(Path(repo), "the repo folder")
    return local


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


@contextmanager
def hub_errors(what: str) -> Iterator[None]:
    """Turn the Hub client's failures into :class:`HubError` naming ``what`` was tried.

    Its HTTP refusals (401, 403, 412, 5xx) are ``HfHubHTTPError``; a failed
    LFS upload inside a commit is a bare ``RuntimeError`` that chains the refusal.
    """
    from huggingface_hub.errors import HfHubHTTPError

    try:
        yield
    except HubError:
        raise
    except (HfHubHTTPError, RuntimeError) as err:
        cause = f" ({err.__cause__})" if err.__cause__ is not None and not isinstance(err, HfHubHTTPError) else ""
        raise HubError(f"the Hub refused to {what}: {err}{cause}") from err


def remote_missing() -> tuple[type[BaseException], ...]:
    """huggingface_hub's "no such repo / revision / file on the server" errors (names differ across versions)."""
    from huggingface_hub import errors

    names = ("RemoteEntryNotFoundError", "RepositoryNotFoundError", "RevisionNotFoundError")
    found = tuple(getattr(errors, n) for n in names if hasattr(errors, n))
    # Before huggingface_hub 1.0 a missing remote file raised EntryNotFoundError itself.
    return found if hasattr(errors, "RemoteEntryNotFoundError") else (*found, errors.EntryNotFoundError)
