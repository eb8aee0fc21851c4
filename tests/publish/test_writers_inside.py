"""Every writer of a repo folder stays inside it (issue #27, item 1).

A repo folder is written by others too: whoever shares it, or the author of a repo that was copied, cloned or
unpacked. Each attack here plants real symbolic links, FIFOs and journals, then runs the writer as a user
would, and checks the refusal and that nothing outside the repo was written or changed (the victim files
are compared byte for byte). Writers: a push's recovery of a transaction (run by every push and every pull
of the folder), ``submit`` and ``leaderboard verify --accept``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from _support.reference_home import encode_reference, needs_full_mnist, use_home

import ldmnist_hub as ld
from ldmnist_hub import cli
from ldmnist_hub.core.paths import check_inside
from ldmnist_hub.errors import IntegrityError, NotWritableError
from ldmnist_hub.hub import folder_tx
from ldmnist_hub.publish import submit as S

LINK = "https://github.com/me/model"
TXID = "20250101T000000-4242-0badc0de"


def _tree(root: Path) -> dict[str, bytes | str]:
    """Every entry under ``root`` as its bytes (files) or ``-> target`` (links, never followed)."""
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = f"-> {os.readlink(p)}"
            elif p.is_file():
                out[rel] = p.read_bytes()
            elif not p.is_dir():
                out[rel] = "special"
    return out


def _unlocked(root: Path) -> dict[str, bytes | str]:
    """The repo's tree but the push lock (and its owner note), which every writer takes."""
    return {k: v for k, v in _tree(root).items() if folder_tx.LOCK_FILE not in k}


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Fail instead of hanging: a blocked open() of a FIFO is interrupted by the alarm."""
    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ------------------------------------------------------------------------------------- the one inside-check


@pytest.mark.parametrize("rel", ["../x", "/etc/passwd", "a/../../x", ""])
def test_the_inside_check_refuses_a_path_that_is_not_below_the_repo(rel: str, tmp_path: Path) -> None:
    with pytest.raises(NotWritableError, match="not a path inside it"):
        check_inside(tmp_path, [rel])


def test_the_inside_check_names_a_link_on_any_component_even_a_dangling_one(tmp_path: Path) -> None:
    (tmp_path / "submissions").mkdir()
    (tmp_path / "submissions" / "pending").symlink_to(tmp_path / "nowhere")
    with pytest.raises(NotWritableError, match=r"submissions/pending is a symbolic link \(to .*nowhere\)"):
        check_inside(tmp_path, ["submissions/pending/x/entry.json"])
    check_inside(tmp_path, ["submissions/x/entry.json", "new/folder/file"])  # real folders, missing ones: fine


# ------------------------------------------------------------- a push's transaction: only its own is recovered


def _repo(tmp_path: Path, name: str = "repo") -> Path:
    root = tmp_path / name
    (root / "weights").mkdir(parents=True)
    (root / "README.md").write_text("the published card\n")
    (root / "weights" / "stats.json").write_text("{}\n")
    return root


def _journal(root: Path, txdir: Path, install: list[str], **override: object) -> None:
    """A journal exactly as a committed push writes it (for ``root``), fields replaced by ``override``."""
    doc = {"format": folder_tx.JOURNAL_FORMAT, "complete": True, "created": 0.0, "install": install,
           "delete": [], "txid": txdir.name, "folder": os.stat(root).st_ino, **override}
    (txdir / folder_tx.JOURNAL).write_text(json.dumps(doc))


def _stage(root: Path, files: dict[str, bytes], txid: str = TXID) -> Path:
    txdir = folder_tx.staging_root(root) / txid
    for rel, data in files.items():
        (txdir / rel).parent.mkdir(parents=True, exist_ok=True)
        (txdir / rel).write_bytes(data)
    txdir.mkdir(parents=True, exist_ok=True)
    return txdir


def test_a_journal_this_user_left_in_this_folder_is_finished_by_a_pull(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    txdir = _stage(root, {"README.md": b"the new card\n"})
    _journal(root, txdir, ["README.md"])
    folder_tx.settle_for_read(root)  # what a pull does first
    assert (root / "README.md").read_bytes() == b"the new card\n" and folder_tx.pending(root) == []


def test_a_repo_copied_with_a_pending_journal_is_refused_and_nothing_applied(tmp_path: Path) -> None:
    original = _repo(tmp_path, "original")
    txdir = _stage(original, {"README.md": b"the new card\n"})
    _journal(original, txdir, ["README.md"])
    copy = tmp_path / "copy"
    shutil.copytree(original, copy, symlinks=True)  # cp -r, rsync, tar, git clone: another folder
    before = _unlocked(copy)
    with pytest.raises(IntegrityError, match=r"its journal.json was written for another transaction or folder.*"
                                             r"nothing of it was applied"):
        folder_tx.settle_for_read(copy)
    assert _unlocked(copy) == before
    folder_tx.settle_for_read(original)  # the folder it was written in finishes it
    assert (original / "README.md").read_bytes() == b"the new card\n"


# Each plants, in a repo whose writer is not us, what recovery would otherwise apply; ``victim`` is outside it.
def _linked_staging_folder(root: Path, victim: Path) -> None:
    # The "staged" card is a file outside: applying would move it into the repo (gone from where it was).
    (victim / "README.md").write_bytes(b"someone's private file\n")
    _journal(root, victim, ["README.md"], txid=TXID)
    folder_tx.staging_root(root).mkdir(parents=True)
    (folder_tx.staging_root(root) / TXID).symlink_to(victim, target_is_directory=True)


def _staged_file_linked_outside(root: Path, victim: Path) -> None:
    txdir = _stage(root, {})
    (txdir / "README.md").symlink_to(victim / "secret.txt")
    _journal(root, txdir, ["README.md"])


def _staged_folder_linked_outside(root: Path, victim: Path) -> None:
    txdir = _stage(root, {})
    (txdir / "weights").symlink_to(victim, target_is_directory=True)
    _journal(root, txdir, ["weights/secret.txt"])


def _journal_of_another_transaction(root: Path, victim: Path) -> None:
    txdir = _stage(root, {"README.md": b"planted card\n"})
    _journal(root, txdir, ["README.md"], txid="20240101T000000-1-00000000")


def _journal_without_its_folder(root: Path, victim: Path) -> None:
    txdir = _stage(root, {"README.md": b"planted card\n"})
    _journal(root, txdir, ["README.md"], folder=None, txid=None)  # written by hand: it names no folder


def _journal_that_is_a_fifo(root: Path, victim: Path) -> None:
    txdir = _stage(root, {"README.md": b"planted card\n"})
    os.mkfifo(txdir / folder_tx.JOURNAL)  # opening it would block the pull forever


def _linked_destination_folder(root: Path, victim: Path) -> None:
    shutil.rmtree(root / "weights")
    (root / "weights").symlink_to(victim, target_is_directory=True)
    txdir = _stage(root, {"weights/secret.txt": b"overwritten\n"})
    _journal(root, txdir, ["weights/secret.txt"])


def _linked_state_folder(root: Path, victim: Path) -> None:
    (victim / "staging" / TXID).mkdir(parents=True)
    (victim / "staging" / TXID / "README.md").write_bytes(b"planted card\n")
    (root / folder_tx.STATE_DIR).symlink_to(victim, target_is_directory=True)
    _journal(root, victim / "staging" / TXID, ["README.md"])


PLANTED: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "a staging folder that is a link to a folder outside": (_linked_staging_folder, "it is a symbolic link"),
    "a staged file that is a link to a file outside": (_staged_file_linked_outside, "README.md is a symbolic link"),
    "a staged folder that is a link outside": (_staged_folder_linked_outside, r"weights is a symbolic link"),
    "a journal of another transaction": (_journal_of_another_transaction, "written for another transaction"),
    "a journal that names no folder": (_journal_without_its_folder, "written for another transaction or folder"),
    "a journal that is a FIFO": (_journal_that_is_a_fifo, "journal.json is not a regular file"),
    "a journal writing through a linked repo folder": (_linked_destination_folder, "weights is a symbolic link"),
    "a linked state folder": (_linked_state_folder, r"\.ldmnist is a symbolic link"),
}


@pytest.mark.parametrize("writer", ["pull", "push"])
@pytest.mark.parametrize("attack", list(PLANTED))
def test_a_planted_transaction_is_refused_never_applied_and_nothing_outside_changes(
    attack: str, writer: str, tmp_path: Path
) -> None:
    root, victim = _repo(tmp_path), tmp_path / "outside"
    victim.mkdir()
    (victim / "secret.txt").write_bytes(b"someone's private file\n")
    plant, match = PLANTED[attack]
    plant(root, victim)
    repo_before, outside_before = _unlocked(root), _tree(victim)
    with _deadline(20), pytest.raises((IntegrityError, NotWritableError), match=match):
        if writer == "pull":
            folder_tx.settle_for_read(root)
        else:
            with folder_tx.transaction(root):
                raise AssertionError("the push went on past a planted transaction")
    assert _tree(victim) == outside_before  # byte-identical, nothing moved in or out
    assert _unlocked(root) == repo_before  # nothing applied, nothing deleted: the planted state stays to be seen


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_staging_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    txdir = _stage(root, {"README.md": b"planted card\n"})
    _journal(root, txdir, ["README.md"])
    for p in [txdir, *txdir.rglob("*")]:
        os.lchown(p, 65534, 65534)
    with pytest.raises(IntegrityError, match="it belongs to user id 65534, not to this user"):
        folder_tx.settle_for_read(root)
    assert (root / "README.md").read_text() == "the published card\n"


# ------------------------------------------------------------------ submit and verify --accept (full MNIST)

LATENT = 2


@pytest.fixture(scope="module")
def reference_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference latent-2, encoded once for the module (its users are marked needs_full_mnist)."""
    return encode_reference(tmp_path_factory, LATENT)


@pytest.fixture
def preds(reference_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Least squares on train: an honest entry that verifies."""
    from ldmnist_hub.benchmark.baselines import linear_least_squares

    use_home(monkeypatch, reference_home)
    x, y, _ = ld.load_numpy(latent=LATENT, split="train", progress=False)
    test_x, _, _ = ld.load_numpy(latent=LATENT, split="test", progress=False)
    path = tmp_path / "preds.npy"
    np.save(path, linear_least_squares(x, y, test_x))
    return path


def _submit(preds: Path, repo: Path, name: str = "lsq") -> S.SubmitResult:
    return S.submit(preds, name, "least squares on train", LINK, str(repo), latent=LATENT, evaluator=ld.evaluate)


def _outside(tmp_path: Path) -> Path:
    victim = tmp_path / "outside"
    victim.mkdir()
    (victim / "victim.txt").write_bytes(b"a file the repo's writer wants overwritten\n")
    return victim


def _move_out(repo: Path, rel: str, victim: Path) -> None:
    """Move ``repo/rel`` to the folder outside and leave a link to it in its place."""
    target = victim / rel.replace("/", "-")
    shutil.move(str(repo / rel), target)
    (repo / rel).symlink_to(target, target_is_directory=True)


ACCEPT_LINKS = ["submissions/pending/lsq/verified.json", "submissions/pending/lsq", "submissions/pending",
                "submissions"]


@needs_full_mnist
@pytest.mark.parametrize("linked", ACCEPT_LINKS)
def test_verify_accept_through_a_link_is_refused_and_writes_nothing_outside(
    linked: str, preds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "mirror"
    repo.mkdir()
    _submit(preds, repo)
    victim = _outside(tmp_path)
    if linked.endswith("verified.json"):
        (repo / linked).symlink_to(victim / "victim.txt")  # verify --accept once overwrote this with JSON
    else:
        _move_out(repo, linked, victim)
    outside_before, repo_before = _tree(victim), _unlocked(repo)
    assert cli.main(["leaderboard", "verify", "--repo", str(repo), "--accept"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ldmnist: error: refusing to write") and f"{linked} is a symbolic link" in err
    assert len(err.splitlines()) == 1
    assert _tree(victim) == outside_before  # byte-identical: nothing outside written or changed
    assert _unlocked(repo) == repo_before


@needs_full_mnist
@pytest.mark.parametrize("linked", ["submissions/pending", "submissions"])
def test_submit_through_a_linked_submissions_folder_is_refused_and_writes_nothing_outside(
    linked: str, preds: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "mirror"
    (repo / linked).mkdir(parents=True)
    victim = _outside(tmp_path)
    _move_out(repo, linked, victim)
    outside_before = _tree(victim)
    with pytest.raises(NotWritableError, match=f"{linked} is a symbolic link"):
        _submit(preds, repo)
    assert _tree(victim) == outside_before


@needs_full_mnist
def test_submit_refuses_a_dangling_link_in_the_entrys_place(preds: Path, tmp_path: Path) -> None:
    repo = tmp_path / "mirror"
    (repo / "submissions" / "pending").mkdir(parents=True)
    victim = _outside(tmp_path)
    (repo / "submissions" / "pending" / "lsq").symlink_to(victim / "made-by-submit")
    with pytest.raises(NotWritableError, match="pending/lsq is a symbolic link"):
        _submit(preds, repo)
    assert not (victim / "made-by-submit").exists()


@needs_full_mnist
def test_an_honest_entry_is_still_accepted_with_its_record(preds: Path, tmp_path: Path) -> None:
    repo = tmp_path / "mirror"
    repo.mkdir()
    _submit(preds, repo)
    [result] = S.verify(str(repo), evaluator=ld.evaluate, accept=True)
    assert result.status == "accepted"
    record = json.loads((repo / "submissions" / "lsq" / "verified.json").read_text())
    assert record["verdict"] == result.verdict
    assert not list((repo / "submissions" / "lsq").glob(".*"))  # the temporary file was renamed in
