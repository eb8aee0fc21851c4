"""Issue #18's attacks on the local store: shared read-only homes, loads racing a rebuild, silent repairs.

Each test is one row of the fault table (``benchmarks/fault_table.py``): ``test_fault_18_<what>``. As in
``test_faults.py``, each asserts that nothing is lost, nothing wrong is served and the error is clear.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support import TINY_DIR
from _support.procs import child_env, run_cli, run_python

import ldmnist_hub as ld
from ldmnist_hub.core import locks
from ldmnist_hub.errors import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    LockTimeoutError,
    ReferenceMismatchError,
)
from ldmnist_hub.produce import reference

LATENT = 3
TRAIN = {"epochs": 2, "batch_size": 100}
KW: dict[str, Any] = {"latent": LATENT, "train": TRAIN, "data_dir": TINY_DIR, "progress": False}
CLI_ARGS = ["--latent", str(LATENT), "--mnist-dir", str(TINY_DIR), "--set", "epochs=2", "--set", "batch_size=100"]
FULL_DIR = os.environ.get("LDMNIST_MNIST_DIR")
needs_full = pytest.mark.skipif(not FULL_DIR, reason="set LDMNIST_MNIST_DIR to the full MNIST folder to run this")
LOAD = ("import ldmnist_hub as ld, json\n"
        f"x = ld.load_numpy({LATENT}, 'test', train={TRAIN!r}, data_dir={str(TINY_DIR)!r}, progress=False)[0]\n"
        "print(json.dumps(float(x.astype('float64').sum())))\n")


def _env(home: Path, **extra: str) -> dict[str, str]:
    return child_env(home, keep_mnist=True, **extra)


def _python(code: str, home: Path, timeout: float = 240, prefix: list[str] | None = None,
            **extra: str) -> subprocess.CompletedProcess[str]:
    return run_python(code, home, timeout=timeout, prefix=prefix, keep_mnist=True, **extra)


def _cli(args: list[str], home: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(args, home, keep_mnist=True, **extra)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): _sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A home with the tiny trained latent-3 variant built, and the test split's x sum it serves."""
    home = tmp_path_factory.mktemp("trust") / "home"
    done = _python(LOAD, home)
    assert done.returncode == 0, done.stderr
    return home, json.loads(done.stdout)


@pytest.fixture
def home(built: tuple[Path, float], tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(built[0], copy, symlinks=True)
    return copy


def _variant(home: Path) -> Path:
    (folder,) = [p for p in (home / "variants").iterdir() if p.is_dir() and not p.name.startswith(".")]
    return folder


# ------------------------------------------------------------------------------------- no silent repairs


@pytest.mark.parametrize("damage", ["deleted", "not-json", "emptied-files"])
def test_fault_18_a_damaged_checksum_record_of_trained_weights_is_an_error_never_a_retrain(home: Path,
                                                                                          damage: str) -> None:
    folder = _variant(home)
    weights_before = _tree_digest(folder / "weights")
    record = folder / "checksums.json"
    if damage == "deleted":
        record.unlink()
    elif damage == "not-json":
        record.write_text("{ not json")
    else:
        doc = json.loads(record.read_text())
        record.write_text(json.dumps({**doc, "files": "x"}))
    for run in (_python(LOAD, home), _cli(["build", *CLI_ARGS, "--quiet"], home)):
        assert run.returncode == 1, run.stderr
        assert "checksums.json is missing or damaged" in run.stderr and "ldmnist build --force" in run.stderr
        assert "train latent" not in run.stderr  # no training bar: nothing was retrained
    assert _tree_digest(folder / "weights") == weights_before  # weights trained here are kept, untouched


def test_fault_18_a_flipped_digit_in_stats_is_never_printed(home: Path, built: tuple[Path, float]) -> None:
    stats = _variant(home) / "stats.json"
    good = json.loads(stats.read_text())
    # One digit of a printed score (0.1803 -> 0.1903), the file otherwise as written.
    bad = {**good, "scores": {**good["scores"], "class_vae_accuracy": good["scores"]["class_vae_accuracy"] + 0.01}}
    stats.write_text(json.dumps(bad, indent=2, sort_keys=True))
    info = _cli(["info", *CLI_ARGS], home)
    assert info.returncode == 1 and "Traceback" not in info.stderr, info.stderr
    assert "stats.json is missing, damaged or not what its checksum says" in info.stderr
    # A load recomputes the derived stats from the verified weights (no training) and serves the same data.
    done = _python(LOAD, home)
    assert done.returncode == 0 and json.loads(done.stdout) == built[1], done.stderr
    assert "recomputing it from the verified weights" in done.stderr and "train latent" not in done.stderr
    again = json.loads(stats.read_text())
    assert again["scores"] == good["scores"] and again["splits"] == good["splits"]
    assert _cli(["info", *CLI_ARGS], home).returncode == 0


@needs_full
def test_fault_18_damaged_reference_weights_are_rewritten_the_same_way_by_every_entry_point(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _python("import ldmnist_hub as ld; ld.load_numpy(8, 'test', progress=False)", home).returncode == 0
    weights = home / "variants" / "latent-8" / "weights" / "class_decoder.safetensors"
    intact = _sha(weights)
    record = reference.get(8).record["data_sha256"]["test"]
    calls = {
        "load_numpy": "ld.load_numpy(8, 'test', progress=False)",
        "torch_loader": "next(iter(ld.torch_loader(latent=8, split='test', batch_size=10)))",
        "evaluate": "ld.evaluate(ld.load_numpy(8, 'test', progress=False)[1], latent=8, split='test')",
        "load_dataset": "ld.load_dataset('ldmnist', latent=8, split='test', progress=False)",
    }
    for name, call in calls.items():
        data = bytearray(weights.read_bytes())
        data[-3] ^= 0xFF
        weights.write_bytes(bytes(data))
        done = _python("import ldmnist_hub as ld, json\nfrom ldmnist_hub.produce.reference import split_digests\n"
                       f"{call}\nprint(json.dumps(split_digests(*ld.load_numpy(8, 'test', progress=False))))", home)
        assert done.returncode == 0, (name, done.stderr)
        assert "writing latent-8 again from the shipped reference weights" in done.stderr, name
        assert json.loads(done.stdout.splitlines()[-1]) == record, name
        assert _sha(weights) == intact, name


# --------------------------------------------------------------------------------------------- lock errors


def test_fault_18_a_lock_timeout_is_a_timeout_not_a_read_only_folder(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locks" / "variant-x.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom ldmnist_hub.core.locks import exclusive\n"
                               f"with exclusive({str(path)!r}, 'x', quiet=True):\n"
                               "    print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("LDMNIST_LOCK_TIMEOUT", "0.5")
        with pytest.raises(LockTimeoutError, match=f"process {holder.pid} .* holding"):
            with locks.exclusive(path, "x", patience=0.2, quiet=True):
                pass
        with pytest.raises(LockTimeoutError, match="raise \\$LDMNIST_LOCK_TIMEOUT"):
            with locks.shared(path, "x", patience=0.2, quiet=True):
                pass
    finally:
        holder.kill()
        holder.wait()
    with locks.shared(path, "x"):  # the holder is gone: readers pass at once
        pass


# ------------------------------------------------------------------------------------ shared read-only home


def _as_other_user() -> list[str]:
    """Run as ``nobody`` when we are root (root writes anywhere, so a read-only folder needs another user)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: no way to read as a user who cannot write")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


READ_ONLY_PROBE = """
import contextlib, io, json
import numpy as np
import ldmnist_hub as ld
from ldmnist_hub.cli import main
from ldmnist_hub.produce.reference import split_digests
out = {}
for n in (8, 32):
    ds = ld.load_dataset("ldmnist", latent=n)
    out[f"load_dataset-{n}"] = {s: d.num_rows for s, d in ds.items()}
    out[f"slice-{n}"] = ld.load_dataset("ldmnist", latent=n, split="test[:10]").num_rows
    out[f"load_numpy-{n}"] = split_digests(*ld.load_numpy(latent=n, split="test"))
    out[f"torch-{n}"] = list(next(iter(ld.torch_loader(latent=n, batch_size=256)))[0].shape)
    out[f"tf-{n}"] = list(next(iter(ld.tf_dataset(latent=n, split="test", batch_size=256)))[0].shape)
    out[f"evaluate-{n}"] = ld.evaluate(ld.load_numpy(latent=n, split="test")[1], latent=n).reconstructed_accuracy
    for args in (["info", "--latent", str(n)], ["benchmark", "--latent", str(n), "--models", "mean"]):
        err, std = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
            rc = main(args)
        out[" ".join(args[:1]) + f"-{n}"] = [rc, err.getvalue()[-300:]]
print(json.dumps(out))
"""


@needs_full
def test_fault_18_a_read_only_home_serves_every_built_variant_through_every_entry_point() -> None:
    prefix = _as_other_user()
    outer = Path(tempfile.mkdtemp(prefix="ldmnist-ro-home-"))  # outside pytest's private folders
    try:
        outer.chmod(0o755)
        home = outer / "home"
        built = _python("import ldmnist_hub as ld\nfor n in (8, 32): ld.load_dataset('ldmnist', latent=n, "
                        "progress=False)", home)
        assert built.returncode == 0, built.stderr
        for p in [home, *home.rglob("*")]:
            assert p.stat().st_mode & 0o004, f"{p} is not readable by others"  # a shared cache must be
            p.chmod(p.stat().st_mode & ~0o222)
        before = _tree_digest(home)
        done = _python(READ_ONLY_PROBE, home, prefix=prefix, HOME=str(outer), HF_HOME=str(outer / "hf"))
        assert done.returncode == 0, done.stderr[-3000:]
        got = json.loads(done.stdout.strip().splitlines()[-1])
        for n in (8, 32):
            assert got[f"load_dataset-{n}"] == {"train": 50000, "validation": 10000, "test": 10000}
            assert got[f"slice-{n}"] == 10
            assert got[f"load_numpy-{n}"] == reference.get(n).record["data_sha256"]["test"]
            assert got[f"torch-{n}"] == [256, n] and got[f"tf-{n}"] == [256, n]
            assert got[f"evaluate-{n}"] > 0.99
            assert got[f"info-{n}"][0] == 0 and got[f"benchmark-{n}"][0] == 0, got
        assert _tree_digest(home) == before  # nothing written, nothing changed
        # A write that is really needed names the folder that must be writable.
        need = _python("import ldmnist_hub as ld; ld.load_numpy(16, 'test', progress=False)", home, prefix=prefix,
                       HOME=str(outer))
        assert need.returncode != 0 and "NotWritableError" in need.stderr
        assert "make" in need.stderr and "writable" in need.stderr and str(home / "locks") in need.stderr
    finally:
        for p in [outer, *outer.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o700)
        shutil.rmtree(outer)


# ------------------------------------------------------------------------------ loads racing build --force

RACE_LOADS = 30


def test_fault_18_fresh_loads_during_a_build_force_loop_never_fail(home: Path, built: tuple[Path, float]) -> None:
    stop = home.parent / "stop"
    loop = subprocess.Popen(
        [sys.executable, "-c", "import pathlib\nfrom ldmnist_hub.cli import main\n"
                               f"while not pathlib.Path({str(stop)!r}).exists():\n"
                               f"    assert main({['build', *CLI_ARGS, '--force', '--quiet']!r}) == 0"],
        env=_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        errors, sums = [], set()
        for _ in range(RACE_LOADS):
            done = _python(LOAD, home)
            if done.returncode != 0:
                errors.append(done.stderr[-3000:])
            else:
                sums.add(json.loads(done.stdout))
            assert loop.poll() is None, loop.stderr.read() if loop.stderr else ""
    finally:
        stop.touch()
        loop.wait(timeout=240)
    assert errors == []
    assert sums == {built[1]}  # the old or the new variant: the same bytes on this machine, never a mixture


# ------------------------------------------------------------------------------------------ raw tracebacks


def test_fault_18_a_damaged_shipped_reference_record_is_a_clear_error(tmp_path: Path) -> None:
    for text in ("{ not json", "[]", json.dumps({"format": "ldmnist-reference/1"}), "\xff"):
        path = tmp_path / "record.json"
        path.write_text(text, errors="surrogateescape") if text != "\xff" else path.write_bytes(b"\xff\xfe")
        reference._read_record.cache_clear()
        with pytest.raises(ReferenceMismatchError, match="reinstall it"):
            reference._read_record(path)


def _mounted_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True).returncode == 0


def test_fault_18_a_disk_full_during_the_arrow_write_is_a_clear_error_and_keeps_nothing(tmp_path: Path) -> None:
    disk = tmp_path / "small-disk"
    if not _mounted_tmpfs(disk, "600k"):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        home = disk / "home"
        done = _cli(["build", *CLI_ARGS, "--quiet"], home)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert "is full (No space left on device)" in done.stderr and "point LDMNIST_HOME at a larger" in done.stderr
        assert not [p for p in (home / "datasets").rglob("*") if p.suffix == ".arrow" or "incomplete" in p.name]
    finally:
        subprocess.run(["umount", str(disk)], check=False)


@pytest.mark.parametrize("what", ["home", "repo"])
def test_fault_18_a_non_utf8_path_is_a_clear_error(tmp_path: Path, what: str) -> None:
    odd = os.fsdecode(os.fsencode(str(tmp_path)) + b"/h\xffme")
    os.makedirs(odd)
    home = Path(odd) if what == "home" else tmp_path / "home"
    args = ["build", *CLI_ARGS, "--quiet"] if what == "home" else ["push", *CLI_ARGS, "--repo", odd]
    done = _cli(args, home)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "is not a UTF-8 path" in done.stderr and "h\\\\xffme" in done.stderr


@pytest.mark.parametrize("split", ["train[:abc]", "test[1:2:3]", "train[", "valid", "train+nope[:3]"])
def test_fault_18_a_malformed_split_is_refused_before_anything_is_read(split: str, ldmnist_home: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown split"):
        ld.load_dataset("ldmnist", latent=8, split=split)
    assert not ldmnist_home.exists()


@pytest.mark.parametrize("split", ["test[:10]", "train[10%:20%]", "test[-5:]", "train[:1%](pct1_dropremainder)",
                                   "train[:3]+test[:2]"])
def test_fault_18_datasets_split_syntax_still_works(built: tuple[Path, float], split: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDMNIST_HOME", str(built[0]))
    ds = ld.load_dataset("ldmnist", split=split, build=False, **KW)
    want = {"test[:10]": 10, "train[10%:20%]": 30, "test[-5:]": 5, "train[:1%](pct1_dropremainder)": 3,
            "train[:3]+test[:2]": 5}
    assert ds.num_rows == want[split]


@pytest.mark.parametrize("train", ["epochs=2", 2, ["epochs", 2]])
def test_fault_18_a_recipe_that_is_not_a_dict_is_refused(train: Any, ldmnist_home: Path) -> None:
    with pytest.raises(InvalidArgumentTypeError, match="train must be a dict of recipe fields"):
        ld.load_dataset("ldmnist", latent=8, train=train)


def test_fault_18_variant_folders_are_readable_by_other_users(built: tuple[Path, float]) -> None:
    mask = os.umask(0)
    os.umask(mask)
    for folder in [_variant(built[0]), *(_variant(built[0]).rglob("*"))]:
        mode = folder.stat().st_mode & 0o777
        assert mode & 0o044 == 0o044 & ~mask, (folder, oct(mode))


def test_fault_18_an_interrupted_reader_never_blocks_a_writer(home: Path) -> None:
    # A reader killed while it holds the shared lock releases it with its descriptors.
    reader = subprocess.Popen([sys.executable, "-c", "import time\nfrom ldmnist_hub.core.locks import shared\n"
                               f"with shared({str(home / 'locks' / next((home / 'locks').iterdir()).name)!r}, 'x'):\n"
                               "    print('in', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline().strip() == "in"
    os.kill(reader.pid, signal.SIGKILL)
    reader.wait()
    start = time.perf_counter()
    assert _cli(["build", *CLI_ARGS, "--force", "--quiet"], home).returncode == 0
    assert time.perf_counter() - start < 120
    assert np.isfinite(json.loads(_python(LOAD, home).stdout))
