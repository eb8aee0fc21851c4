"""One writer at a time: an exclusive file lock that says who holds it while others wait.

The lock is ``filelock``'s (an ``flock`` on the lock file), so the kernel
releases it the moment its holder dies, ``kill -9`` included: a dead holder
never blocks anyone. A *stopped* holder (``kill -STOP``, a debugger) does keep
it; after ``patience`` seconds the waiter prints which process holds it and
keeps waiting, up to ``$LDMNIST_LOCK_TIMEOUT`` seconds (default: forever), then
raises :class:`~ldmnist_hub.errors.LockTimeoutError` naming that process.

Readers take the same file as a *shared* ``flock`` (:func:`shared`), opened
read-only, so they wait for a writer without writing anything themselves: a
read-only ``LDMNIST_HOME`` can still be read safely while its owner rebuilds it.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from ldmnist_hub.errors import InvalidArgumentError, LockTimeoutError, NotWritableError

TIMEOUT_ENV = "LDMNIST_LOCK_TIMEOUT"
PATIENCE_S = 2.0
_POLL_S = 0.05
# Locks this process holds exclusively: a shared lock on one of them would wait for ourselves (flock locks
# belong to open file descriptions, not processes), so a reader inside its own writer skips it.
_HELD: set[str] = set()


def _owner_path(path: Path) -> Path:
    return path.with_name(path.name + ".owner")


def holder(path: Path) -> dict[str, object]:
    """Who holds (or last held) the lock at ``path``: ``{"pid", "host", "since"}``, empty if unknown."""
    try:
        doc = json.loads(_owner_path(path).read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _describe(path: Path) -> str:
    who = holder(path)
    pid = who.get("pid")
    if not isinstance(pid, int):
        return f"another process holding {path}"
    state = ""
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "T":
                state = ", stopped: resume it (kill -CONT) or end it"
    except (OSError, IndexError):
        pass
    return f"process {pid} on {who.get('host', '?')} holding {path}{state}"


def lock_timeout() -> float | None:
    """Seconds ``$LDMNIST_LOCK_TIMEOUT`` lets a writer wait for a lock (None: unset, wait forever).

    Examples:
        >>> lock_timeout()  # LDMNIST_LOCK_TIMEOUT=30  # doctest: +SKIP
        30.0

    Raises:
        InvalidArgumentError: the value is not a number of seconds >= 0 (``abc``, ``-5``, ``nan``): named,
            rather than silently read as "forever".
    """
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not value >= 0:  # nan and negative values too
        raise InvalidArgumentError(f"${TIMEOUT_ENV} must be a number of seconds >= 0 (e.g. {TIMEOUT_ENV}=600), or "
                                   f"unset to wait forever; got {TIMEOUT_ENV}={raw!r}")
    return value


@contextmanager
def exclusive(path: str | os.PathLike[str], what: str, *, patience: float = PATIENCE_S,
              quiet: bool = False) -> Iterator[None]:
    """Hold the exclusive lock at ``path`` (created with its folder) while the block runs.

    Args:
        path: the lock file.
        what: what the lock guards, for messages ("the variant latent-32").
        patience: seconds to wait silently before saying who holds it.
        quiet: never print the waiting note (the timeout error still names the holder).

    Raises:
        NotWritableError: the lock file cannot be created (a read-only folder, a file in the way).
        LockTimeoutError: ``$LDMNIST_LOCK_TIMEOUT`` passed while another process held it.
    """
    path = Path(path)
    limit = lock_timeout()  # a bad value is named now, not when a lock happens to be busy
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path))
        try:
            lock.acquire(timeout=patience)
        except Timeout:
            if not quiet:
                print(f"ldmnist: waiting for {_describe(path)} (it is writing {what})", file=sys.stderr, flush=True)
            try:
                lock.acquire(timeout=-1 if limit is None else limit)
            except Timeout:
                raise LockTimeoutError(
                    f"gave up after {patience + (limit or 0):.0f} s waiting for {_describe(path)} (it is writing "
                    f"{what}); end that process, or raise ${TIMEOUT_ENV}") from None
    except LockTimeoutError:
        raise  # a TimeoutError is an OSError too: a busy lock is not a read-only folder
    except OSError as err:
        raise NotWritableError(
            f"cannot create the lock {path} for {what} ({err.strerror or err}); make {path.parent} writable, or point "
            "LDMNIST_HOME at a writable folder") from err
    try:
        try:
            tmp = _owner_path(path).with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}))
            os.replace(tmp, _owner_path(path))
        except OSError:
            pass  # the owner note is for messages only
        _HELD.add(str(path))
        yield
    finally:
        _HELD.discard(str(path))
        _owner_path(path).unlink(missing_ok=True)
        lock.release()


@contextmanager
def shared(path: str | os.PathLike[str], what: str, *, patience: float = PATIENCE_S,
           quiet: bool = False) -> Iterator[None]:
    """Hold a shared lock on ``path`` while the block reads what the exclusive holder writes.

    The lock file is opened read-only and never created: where it does not exist (or cannot be read) no
    writer has ever run, and the block runs without it. Waits while a writer holds :func:`exclusive`,
    with the same notes and ``$LDMNIST_LOCK_TIMEOUT`` as a writer.

    Raises:
        LockTimeoutError: ``$LDMNIST_LOCK_TIMEOUT`` passed while a writer held it.
    """
    path = Path(path)
    limit = lock_timeout()
    if str(path) in _HELD:
        yield
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        start, said = time.monotonic(), False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - start
                if waited >= patience and not said and not quiet:
                    print(f"ldmnist: waiting for {_describe(path)} (it is writing {what})", file=sys.stderr,
                          flush=True)
                    said = True
                if limit is not None and waited >= patience + limit:
                    raise LockTimeoutError(
                        f"gave up after {waited:.0f} s waiting for {_describe(path)} (it is writing {what}); end "
                        f"that process, or raise ${TIMEOUT_ENV}") from None
                time.sleep(_POLL_S)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
