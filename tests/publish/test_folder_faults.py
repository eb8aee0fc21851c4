"""Specification of pushes to a local folder under concurrency and ``kill -9``: no variant is ever lost, and a
pull always gets exactly the old or exactly the new version (issue #12, items 2, 3 and 12).

Pushes that must die or race run in subprocesses (``$LDMNIST_FAULT`` makes one SIGKILL itself at a named point);
the variants are built in the parent first, so each push takes about a second.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import warnings
import zlib
from pathlib import Path
from typing import Any

import pytest
from _support import REPO_ROOT, TINY_DIR

from ldmnist_hub import cli, store
from ldmnist_hub.errors import InvalidArgumentError
from ldmnist_hub.hub import folder_tx
from ldmnist_hub.hub import layout as hub_layout
from ldmnist_hub.hub.card import check_card
from ldmnist_hub.loading.load import load_dataset
from ldmnist_hub.publish.upload import push

TRAIN = {"epochs": 2, "batch_size": 100}
CONFIG = "latent-4-trained-51d7e6e5-data-87c1edf0"  # the tiny variant's cache id (fixture raw files)
CONFIG_3 = "latent-3-trained-51d7e6e5-data-87c1edf0"
POINTS = ("push:staged", "push:half-moved", "push:moved")

# A push in a subprocess: waits at a file barrier (so racing pushers really overlap), then pushes.
PUSH = """
import json, os, sys, time
from pathlib import Path
from ldmnist_hub.publish.upload import push
barrier = os.environ.get("BARRIER")
if barrier:
    Path(barrier, str(os.getpid())).touch()
    while len(os.listdir(barrier)) < int(os.environ["PARTIES"]):
        time.sleep(0.002)
r = push({latent}, {repo!r}, train={train!r}, data_dir={data!r}, build=False, allow_unofficial_source=True,
         pictures={pictures!r}, progress=False)
print(json.dumps({{"changed": r.changed, "config": r.config}}))
"""


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LDMNIST_FAULT", "LDMNIST_REPO")}
    return {**env, "LDMNIST_HOME": str(home), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT), **extra}


def _spawn(home: Path, repo: Path, latent: int = 4, pictures: Path | None = None, **env: str) -> subprocess.Popen[str]:
    code = PUSH.format(latent=latent, repo=str(repo), train=TRAIN, data=str(TINY_DIR),
                       pictures=None if pictures is None else str(pictures))
    return subprocess.Popen([sys.executable, "-c", code], env=_env(home, **env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out + err


def _png(path: Path, shade: int) -> None:
    """A valid 1x1 grey PNG (its bytes depend on ``shade``)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes([0, shade])))
                     + chunk(b"IEND", b""))


def _pictures(folder: Path, shade: int, names: tuple[str, ...] = ("histograms", "reconstructions")) -> Path:
    """A folder as `ldmnist plots --out` leaves it for the tiny variant."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        _png(folder / f"{name}-{CONFIG}.png", shade)
    return folder


def _retouch_stats(home: Path) -> None:
    """Change the bytes of the built variant's stats.json (its training time): a re-push then changes the repo."""
    path = home / "variants" / CONFIG / "stats.json"
    stats = json.loads(path.read_text())
    stats["training"]["seconds"] += 1.0
    path.write_text(json.dumps(stats, indent=2, sort_keys=True))
    # As store.write_stats does: the stats are covered by the checksum record, so a new version re-records it.
    record = json.loads((path.parent / store.CHECKSUMS_FILE).read_text())
    store.write_checksums(path.parent, sorted(record["files"]), record["code_hash"])


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _snapshot(repo: Path) -> dict[str, str]:
    """What a reader of ``repo`` can see: every published file's sha256 (the folder's own name elided)."""
    shot = {}
    for p in sorted(repo.rglob("*")):
        rel = p.relative_to(repo).as_posix()
        if p.is_file() and not rel.startswith(folder_tx.STATE_DIR + "/"):
            shot[rel] = _sha(p)
    # The card and the Croissant record name the repo itself (its folder, for a folder repo).
    for named in (hub_layout.CARD, "croissant.json"):
        if (repo / named).is_file():
            shot[named] = hashlib.sha256((repo / named).read_text().replace(str(repo), "<repo>").encode()).hexdigest()
    return shot


def _check_consistent(repo: Path) -> dict[str, Any]:
    """The repo as a reader needs it: every listed file present and matching, the card listing every config."""
    manifest = json.loads((repo / hub_layout.MANIFEST).read_text())
    for entry in manifest["variants"].values():
        for rel, want in entry["files"].items():
            assert hub_layout.file_entry(repo / rel) == want, rel
    check_card((repo / hub_layout.CARD).read_text(), sorted(manifest["variants"]))
    assert folder_tx.pending(repo) == []
    return manifest


def _pull(repo: Path, fresh: Path, monkeypatch: pytest.MonkeyPatch, latent: int = 4) -> Path:
    """``load_dataset`` of the tiny variant from ``repo`` into the empty home ``fresh``; the pulled stats.json."""
    monkeypatch.setenv("LDMNIST_HOME", str(fresh))
    ds = load_dataset("ldmnist", latent=latent, train=TRAIN, data_dir=TINY_DIR, build=False, progress=False,
                      repo=str(repo))
    assert ds["train"].num_rows == 300 and ds["test"].num_rows == 100
    return fresh / "variants" / (CONFIG if latent == 4 else CONFIG_3) / "stats.json"


@pytest.fixture
def home(tiny_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the tiny build's LDMNIST_HOME, loaded once in it (pushes from it need no work)."""
    copy = tmp_path / "ldmnist-home"
    shutil.copytree(tiny_home, copy)
    monkeypatch.setenv("LDMNIST_HOME", str(copy))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a copied cache may be re-encoded from its weights, once
        load_dataset("ldmnist", latent=4, train=TRAIN, data_dir=TINY_DIR, progress=False)
    return copy


@pytest.fixture
def versions(home: Path, tmp_path: Path) -> dict[str, Any]:
    """A repo holding the old version (no pictures), the snapshots of the old and new version, and the
    new version's pictures folder; the home's variant already has the new version's stats."""
    repo = tmp_path / "repo"
    push(4, str(repo), train=TRAIN, data_dir=TINY_DIR, build=False, allow_unofficial_source=True, progress=False)
    old = _snapshot(repo)
    old_stats = _sha(repo / "weights" / CONFIG / "stats.json")
    _retouch_stats(home)
    pics = _pictures(tmp_path / "pics", 200)
    reference = tmp_path / "reference"  # the same re-push, uninterrupted, on a copy: what "new" looks like
    shutil.copytree(repo, reference, ignore=shutil.ignore_patterns(folder_tx.STATE_DIR))
    push(4, str(reference), train=TRAIN, data_dir=TINY_DIR, build=False, allow_unofficial_source=True,
         pictures=pics, progress=False)
    new = _snapshot(reference)
    assert new != old and new[f"weights/{CONFIG}/stats.json"] != old_stats
    return {"repo": repo, "old": old, "new": new, "pics": pics,
           "new_stats": _sha(home / "variants" / CONFIG / "stats.json")}


def test_fault_2_two_concurrent_pushers_of_different_latents_both_land(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_dataset("ldmnist", latent=3, train=TRAIN, data_dir=TINY_DIR, progress=False)  # built here: pushes are fast
    for round_ in range(3):  # the unlocked code lost a variant in about 2 rounds of 3
        repo, barrier = tmp_path / f"repo-{round_}", tmp_path / f"barrier-{round_}"
        barrier.mkdir()
        procs = [_spawn(home, repo, latent, BARRIER=str(barrier), PARTIES="2") for latent in (4, 3)]
        results = [_finish(p) for p in procs]
        assert [rc for rc, _ in results] == [0, 0], results
        manifest = _check_consistent(repo)
        assert sorted(manifest["variants"]) == [CONFIG_3, CONFIG], f"round {round_}"
    assert _pull(repo, tmp_path / "fresh-4", monkeypatch, 4).is_file()
    assert _pull(repo, tmp_path / "fresh-3", monkeypatch, 3).is_file()


@pytest.mark.parametrize(("point", "recovered_by"), [(p, "pull") for p in POINTS] + [("push:half-moved", "push")])
def test_fault_3_a_repush_killed_at_any_point_leaves_exactly_the_new_version(
    point: str, recovered_by: str, versions: dict[str, Any], home: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = versions["repo"]
    rc, out = _finish(_spawn(home, repo, 4, versions["pics"], LDMNIST_FAULT=point))
    assert rc == -signal.SIGKILL, out
    # The journal was complete at each of these points: the push committed, and recovery rolls it forward.
    (txdir,) = folder_tx.pending(repo)
    assert (txdir / folder_tx.JOURNAL).is_file()
    if recovered_by == "pull":
        pulled = _pull(repo, tmp_path / "fresh", monkeypatch)
        assert _sha(pulled) == versions["new_stats"]
    else:
        again = push(4, str(repo), train=TRAIN, data_dir=TINY_DIR, build=False, allow_unofficial_source=True,
                     pictures=versions["pics"], progress=False)
        assert not again.changed  # the recovered repo already holds exactly what this push brings
    _check_consistent(repo)
    assert _snapshot(repo) == versions["new"]


def test_fault_3_a_push_killed_while_staging_is_undone_and_the_old_version_stays(
    versions: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = versions["repo"]
    # What a pusher killed before its journal leaves: some staged files (here, junk) and no journal.
    txdir = folder_tx.staging_root(repo) / "20250101T000000-1-dead"
    (txdir / CONFIG).mkdir(parents=True)
    (txdir / CONFIG / "train-00000-of-00001.parquet").write_bytes(b"half a shard")
    (txdir / hub_layout.MANIFEST).write_text("{not json")
    stats = _pull(repo, tmp_path / "fresh", monkeypatch)
    assert _sha(stats) == versions["old"][f"weights/{CONFIG}/stats.json"]
    assert not txdir.exists()
    _check_consistent(repo)
    assert _snapshot(repo) == versions["old"]


def test_datasets_never_sees_the_hidden_state_folder(versions: dict[str, Any], tmp_path: Path) -> None:
    import datasets

    repo = versions["repo"]
    staged = folder_tx.staging_root(repo) / "x" / CONFIG
    staged.mkdir(parents=True)
    for split in ("train", "test"):
        shutil.copy(repo / hub_layout.shard_path(CONFIG, split), staged)
    by_card = datasets.load_dataset(str(repo), CONFIG, cache_dir=str(tmp_path / "dc1"))
    bare = tmp_path / "bare"  # no card: datasets globs every parquet file it sees
    shutil.copytree(repo, bare)
    (bare / hub_layout.CARD).unlink()
    inferred = datasets.load_dataset(str(bare), cache_dir=str(tmp_path / "dc2"))
    for ds in (by_card, inferred):
        assert (ds["train"].num_rows, ds["test"].num_rows) == (300, 100)


def _as_reader(code: str, env: dict[str, str]) -> dict[str, Any]:
    """Run ``code`` as a user who cannot write the repo: ``nobody`` when we are root (who writes anything)."""
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    proc = subprocess.run([*prefix, sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


READER = """
import json
from ldmnist_hub.errors import PullUnavailable
from ldmnist_hub.hub.pull import pull_variant
from ldmnist_hub.loading.load import load_dataset, resolve_variant
from ldmnist_hub.store.identity import variant_cache_id
v = resolve_variant(latent=4, train={train!r})
out = {{}}
try:
    pull_variant(v, variant_cache_id(v, {data!r}), {repo!r})
except PullUnavailable as err:
    out["pull_variant"] = str(err)
try:
    load_dataset("ldmnist", latent=4, train={train!r}, data_dir={data!r}, build=False, progress=False, repo={repo!r})
except FileNotFoundError as err:
    out["load_dataset"] = str(err)
print(json.dumps(out))
"""


def test_fault_3_an_interrupted_push_on_a_read_only_folder_is_a_clear_pull_error(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: no way to read as a user who cannot write")
    # Outside tmp_path (pytest's folders are private to us), so another user can read it.
    outer = Path(tempfile.mkdtemp(prefix="ldmnist-ro-"))
    try:
        outer.chmod(0o755)
        repo, fresh = outer / "repo", outer / "fresh-home"
        push(4, str(repo), train=TRAIN, data_dir=TINY_DIR, build=False, allow_unofficial_source=True, progress=False)
        _retouch_stats(home)
        rc, out = _finish(_spawn(home, repo, 4, LDMNIST_FAULT="push:half-moved"))
        assert rc == -signal.SIGKILL, out
        fresh.mkdir()
        fresh.chmod(0o777)
        if os.geteuid() != 0:
            for p in [repo, *repo.rglob("*")]:
                p.chmod(p.stat().st_mode & ~0o222)
        code = READER.format(train=TRAIN, data=str(TINY_DIR), repo=str(repo))
        got = _as_reader(code, _env(fresh, HF_HOME=str(fresh / "hf")))
        assert f"an interrupted push left {folder_tx.pending(repo)[0].name}" in got["pull_variant"]
        assert f"run `ldmnist push --repo {repo}` (any variant) again from a machine that can write it" in \
            got["pull_variant"]
        assert "pulling it failed: an interrupted push left" in got["load_dataset"]
        assert "not writable" in got["pull_variant"] and (repo / hub_layout.MANIFEST).is_file()
        # Once it can be written, the next pull finishes the push.
        for p in [repo, *repo.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o200)
        assert _sha(_pull(repo, tmp_path / "fresh", monkeypatch)) == _sha(home / "variants" / CONFIG / "stats.json")
        _check_consistent(repo)
    finally:
        for p in [outer, *outer.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o700)
        shutil.rmtree(outer)


@pytest.mark.parametrize(("option", "message"), [
    ({"create_pr": True}, r"--create-pr \(create_pr=True\) needs a Hub repo; a local folder has no pull requests: "
                          r"push to a Hub repo such as my-org/ldmnist, or leave it out"),
    ({"revision": "dev"}, r"--revision dev \(revision='dev'\) needs a Hub repo; a local folder has no branches"),
    ({"private": True}, r"--private \(private=True\) needs a Hub repo; a local folder has no visibility setting"),
])
def test_fault_12_hub_only_options_are_refused_for_a_folder_before_any_work(
    option: dict[str, Any], message: str, tiny_home: Path, tmp_path: Path
) -> None:
    # Latent 5 is not built: had the push started working, it would be training now.
    with pytest.raises(InvalidArgumentError, match=message):
        push(5, str(tmp_path / "out"), train=TRAIN, data_dir=TINY_DIR, allow_unofficial_source=True,
             progress=False, **option)
    assert not (tmp_path / "out").exists()


def test_fault_12_cli_refuses_create_pr_for_a_folder(tiny_home: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["push", "--latent", "4", "--set", "epochs=2", "--set", "batch_size=100", "--mnist-dir", str(TINY_DIR),
            "--no-build", "--quiet", "--allow-unofficial-source", "--repo", str(tmp_path / "m"), "--create-pr"]
    assert cli.main(argv) == 2
    assert "--create-pr (create_pr=True) needs a Hub repo" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_fault_12_a_repush_without_pictures_keeps_them_and_new_pictures_replace_them(
    home: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    kw: dict[str, Any] = {"train": TRAIN, "data_dir": TINY_DIR, "build": False, "allow_unofficial_source": True,
                          "progress": False}
    push(4, str(repo), pictures=_pictures(tmp_path / "pics", 10), **kw)
    images = {f"images/{CONFIG}/{n}.png" for n in ("histograms", "reconstructions")}
    first = {p: _sha(repo / p) for p in images}

    _retouch_stats(home)
    kept = push(4, str(repo), **kw)
    assert kept.changed and not set(kept.deleted) & images
    manifest = _check_consistent(repo)
    assert images <= set(manifest["variants"][CONFIG]["files"])
    assert {p: _sha(repo / p) for p in images} == first
    card = (repo / hub_layout.CARD).read_text()
    assert f"![histograms of {CONFIG}](images/{CONFIG}/histograms.png)" in card
    assert not push(4, str(repo), **kw).changed  # and again: nothing to do

    replaced = push(4, str(repo), pictures=_pictures(tmp_path / "pics2", 99, ("histograms",)), **kw)
    assert replaced.deleted == [f"images/{CONFIG}/reconstructions.png"]
    manifest = _check_consistent(repo)
    listed = {p for p in manifest["variants"][CONFIG]["files"] if p.startswith("images/")}
    assert listed == {f"images/{CONFIG}/histograms.png"}
    assert not (repo / "images" / CONFIG / "reconstructions.png").exists()
    assert _sha(repo / "images" / CONFIG / "histograms.png") != first[f"images/{CONFIG}/histograms.png"]
