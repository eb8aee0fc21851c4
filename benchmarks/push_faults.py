"""Issue #12's bars for pushes to a local folder: concurrent pushers lose no variant, a killed re-push loses no version.

- ``--rounds`` rounds (default 20) of two pushers of different latents started together (a file barrier
  after their imports) on one fresh folder: how many rounds end with both variants in the manifest, every
  listed file matching its sha256 (bar: all);
- ``--kills`` re-pushes (default 20) of a variant with changed content (its stats.json and two pictures),
  each SIGKILLed by this process after a random delay between 0 and the measured push duration (counted
  from the moment the pusher has imported and loaded the variant); then a pull into a fresh
  ``LDMNIST_HOME``: how many pulls succeed and leave the folder exactly the old or exactly the new version
  (bar: all), and where the kills landed.

The variants are the tiny fixture's by default (built here, in a temporary ``LDMNIST_HOME``, in seconds);
``--data-dir`` and ``--set`` pick others (a full-MNIST build takes minutes; its pushes last longer, so the
kills spread over more of the push).

Usage:
    python benchmarks/push_faults.py [--rounds 20] [--kills 20] [--seed 0] [--out results.json]
    python benchmarks/push_faults.py --data-dir ../shared/data/mnist --latents 8 4 --set epochs=5
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TINY_DIR = ROOT / "tests" / "fixtures" / "mnist-tiny"

# One pusher: imports and loads the variant, says "ready", waits at the barrier if any, pushes, says how long.
PUSHER = """
import json, os, sys, time
from pathlib import Path
from ldmnist_hub.loading.load import load_dataset
from ldmnist_hub.publish.upload import push
kw = dict(train={train!r}, data_dir={data!r}, progress=False)
load_dataset("ldmnist", latent={latent}, build=False, **kw)
print("ready", flush=True)
barrier = os.environ.get("BARRIER")
if barrier:
    Path(barrier, str(os.getpid())).touch()
    while len(os.listdir(barrier)) < 2:
        time.sleep(0.002)
t = time.perf_counter()
r = push({latent}, {repo!r}, build=False, allow_unofficial_source=True, pictures={pictures!r}, **kw)
print(json.dumps({{"push_s": time.perf_counter() - t, "changed": r.changed}}), flush=True)
"""


def _spawn(home: Path, repo: Path, latent: int, train: dict[str, Any], data: Path, pictures: Path | None = None,
           **env: str) -> subprocess.Popen[str]:
    code = PUSHER.format(latent=latent, repo=str(repo), train=train, data=str(data),
                         pictures=None if pictures is None else str(pictures))
    full = {**os.environ, "LDMNIST_HOME": str(home), "OMP_NUM_THREADS": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            **env}
    full.pop("LDMNIST_REPO", None)
    return subprocess.Popen([sys.executable, "-c", code], env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(repo: Path, *names: Path) -> dict[str, str]:
    """Every published file's sha256 (hidden state left out; the folder's name, or ``names``, elided from the card:
    a copied folder's card names the folder it was pushed to)."""
    from ldmnist_hub.hub import folder_tx
    from ldmnist_hub.hub import layout as hub_layout

    shot = {p.relative_to(repo).as_posix(): _sha(p) for p in sorted(repo.rglob("*")) if p.is_file()
            and not p.relative_to(repo).as_posix().startswith(folder_tx.STATE_DIR + "/")}
    card = (repo / hub_layout.CARD).read_text()
    for name in (repo, *names):
        card = card.replace(str(name), "<repo>")
    shot[hub_layout.CARD] = hashlib.sha256(card.encode()).hexdigest()
    return shot


def consistent(repo: Path) -> list[str]:
    """The repo's configs if every file its manifest lists matches its sha256 and size, else raise."""
    from ldmnist_hub.hub import layout as hub_layout
    from ldmnist_hub.hub.card import check_card

    manifest = json.loads((repo / hub_layout.MANIFEST).read_text())
    for config, entry in manifest["variants"].items():
        for rel, want in entry["files"].items():
            if hub_layout.file_entry(repo / rel) != want:
                raise AssertionError(f"{rel} of {config} does not match the manifest")
    check_card((repo / hub_layout.CARD).read_text(), sorted(manifest["variants"]))
    return sorted(manifest["variants"])


def _pictures(folder: Path, config: str) -> Path:
    """Two 1x1 PNGs named as `ldmnist plots` names them (a push only copies them)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    folder.mkdir(parents=True, exist_ok=True)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b""))
    for name in ("histograms", "reconstructions"):
        (folder / f"{name}-{config}.png").write_bytes(png)
    return folder


def concurrent_rounds(work: Path, home: Path, latents: list[int], train: dict[str, Any], data: Path,
                      rounds: int) -> dict[str, Any]:
    """Two pushers of different latents at once on a fresh folder, ``rounds`` times."""
    both, seconds, failures = 0, [], []
    for i in range(rounds):
        repo, barrier = work / f"concurrent-{i}", work / f"barrier-{i}"
        barrier.mkdir()
        t = time.perf_counter()
        procs = [_spawn(home, repo, latent, train, data, BARRIER=str(barrier)) for latent in latents]
        outs = [p.communicate(timeout=600) for p in procs]
        seconds.append(time.perf_counter() - t)
        try:
            if any(p.returncode != 0 for p in procs):
                raise AssertionError("; ".join(err.strip().splitlines()[-1] for _, err in outs if err.strip()))
            configs = consistent(repo)
            if len(configs) != len(latents):
                raise AssertionError(f"only {configs} in the manifest")
            both += 1
        except AssertionError as err:
            failures.append(f"round {i}: {err}")
        shutil.rmtree(repo, ignore_errors=True)
    return {"rounds": rounds, "both_present": both, "failures": failures,
            "round_wall_s_mean": round(statistics.mean(seconds), 3), "round_wall_s_max": round(max(seconds), 3)}


def killed_repushes(work: Path, home: Path, latent: int, train: dict[str, Any], data: Path, kills: int,
                    rng: random.Random) -> dict[str, Any]:
    """Re-pushes of changed content, each killed at a random moment, then pulled from a fresh home."""
    from ldmnist_hub.hub import folder_tx
    from ldmnist_hub.loading.load import load_dataset, resolve_variant
    from ldmnist_hub.publish.upload import push
    from ldmnist_hub.store.identity import variant_cache_id

    config = variant_cache_id(resolve_variant(latent=latent, train=train), data)
    kw: dict[str, Any] = {"train": train, "data_dir": data, "progress": False}
    template = work / "old"
    push(latent, str(template), build=False, allow_unofficial_source=True, **kw)
    old = snapshot(template)
    stats_path = home / "variants" / config / "stats.json"
    stats = json.loads(stats_path.read_text())
    stats["training"]["seconds"] += 1.0  # new bytes for the same config
    stats_path.write_text(json.dumps(stats, indent=2, sort_keys=True))
    pics = _pictures(work / "pics", config)

    def copy(name: str) -> Path:
        shutil.copytree(template, work / name, ignore=shutil.ignore_patterns(folder_tx.STATE_DIR))
        return work / name

    durations = []
    for i in range(3):  # an uninterrupted re-push, timed from "ready" (imports and load done)
        repo = copy(f"clean-{i}")
        proc = _spawn(home, repo, latent, train, data, pics)
        out, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise SystemExit(f"a clean re-push failed: {err}")
        durations.append(json.loads(out.splitlines()[-1])["push_s"])
    new = snapshot(work / "clean-0")
    push_s = statistics.median(durations)

    landed: dict[str, int] = {}
    ok, failures, pull_s = 0, [], []
    for i in range(kills):
        repo = copy(f"kill-{i}")
        proc = _spawn(home, repo, latent, train, data, pics)
        proc.stdout.readline()  # "ready"
        time.sleep(rng.uniform(0, push_s))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=600)
        left = folder_tx.pending(repo)
        where = ("finished before the kill" if proc.returncode == 0 else
                 "after the commit point" if left and (left[0] / folder_tx.JOURNAL).is_file() else
                 "while staging" if left else "after the cleanup" if snapshot(repo, template) == new else
                 "before staging")
        landed[where] = landed.get(where, 0) + 1
        os.environ["LDMNIST_HOME"] = str(work / f"fresh-{i}")
        t = time.perf_counter()
        try:
            load_dataset("ldmnist", latent=latent, build=False, repo=str(repo), **kw)
            pull_s.append(time.perf_counter() - t)
            shot = snapshot(repo, template)
            consistent(repo)
            if shot not in (old, new) or folder_tx.pending(repo):
                raise AssertionError("the folder is neither the old nor the new version")
            ok += 1
        except Exception as err:  # every failure is counted and shown, none stops the run
            failures.append(f"kill {i} ({where}): {type(err).__name__}: {err}")
        finally:
            os.environ["LDMNIST_HOME"] = str(home)
        shutil.rmtree(repo, ignore_errors=True)
        shutil.rmtree(work / f"fresh-{i}", ignore_errors=True)
    return {"kills": kills, "pulled_old_or_new": ok, "failures": failures, "kills_landed": landed,
            "push_s_median": round(push_s, 3), "pull_after_kill_s_mean": round(statistics.mean(pull_s or [0]), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20, help="rounds of two concurrent pushers")
    parser.add_argument("--kills", type=int, default=20, help="re-pushes killed at a random moment")
    parser.add_argument("--latents", type=int, nargs=2, default=[4, 3], help="the two latents (the first is re-pushed)")
    parser.add_argument("--data-dir", default=str(TINY_DIR), help="raw files (default: the tiny test fixture)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="training overrides (default epochs=2 batch_size=100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill delays")
    parser.add_argument("--out", default=None, help="write the figures here as JSON")
    args = parser.parse_args()
    train: dict[str, Any] = {"epochs": 2, "batch_size": 100}
    for item in args.set:
        key, _, value = item.partition("=")
        train[key] = json.loads(value)
    data = Path(args.data_dir).resolve()
    import datasets

    datasets.disable_progress_bars()
    os.environ["OMP_NUM_THREADS"] = "1"
    with tempfile.TemporaryDirectory(prefix="ldmnist-push-faults-") as tmp:
        work = Path(tmp)
        home = work / "home"
        os.environ["LDMNIST_HOME"] = str(home)
        os.environ.pop("LDMNIST_REPO", None)
        from ldmnist_hub.loading.load import load_dataset

        t = time.perf_counter()
        for latent in args.latents:  # built here, so each push only copies
            load_dataset("ldmnist", latent=latent, train=train, data_dir=data, progress=False)
        build_s = time.perf_counter() - t
        t = time.perf_counter()
        race = concurrent_rounds(work, home, args.latents, train, data, args.rounds)
        race["wall_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        kill = killed_repushes(work, home, args.latents[0], train, data, args.kills, random.Random(args.seed))
        kill["wall_s"] = round(time.perf_counter() - t, 1)
    result = {"latents": args.latents, "train": train, "data_dir": str(data), "build_s": round(build_s, 1),
              "concurrent": race, "killed": kill}
    bars = [
        ("concurrent: both present", f"{race['both_present']}/{race['rounds']}", f"{race['rounds']}/{race['rounds']}",
         race["both_present"] == race["rounds"]),
        ("  round wall (s, mean)", race["round_wall_s_mean"], "-", True),
        ("killed: old or new", f"{kill['pulled_old_or_new']}/{kill['kills']}", f"{kill['kills']}/{kill['kills']}",
         kill["pulled_old_or_new"] == kill["kills"]),
        ("  push (s, median)", kill["push_s_median"], "-", True),
        ("  pull after kill (s)", kill["pull_after_kill_s_mean"], "-", True),
        *((f"  kills {where}", n, "-", True) for where, n in sorted(kill["kills_landed"].items())),
    ]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bars import report  # benchmarks/bars.py, beside this script

    report(bars, result, args.out, width=34)


if __name__ == "__main__":
    main()
