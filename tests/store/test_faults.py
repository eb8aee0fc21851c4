"""Fault injection against the local store: what a hostile user, a kill -9 or a second process can do to it.

Each test is one row of the fault table (``benchmarks/fault_table.py`` prints
it from this file's results): ``test_fault_<row>_<what>``, where ``<row>`` is
the defect's number in the issue that found it. Every test asserts the same
three things: nothing is lost, nothing wrong is served, the error is clear.
Kills are real ``SIGKILL`` s at named points (``ldmnist_hub.core.faults``).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support import TINY_DIR
from _support.procs import child_env, run_cli, run_python

import ldmnist_hub as ld
from ldmnist_hub.errors import IntegrityError, InvalidArgumentError, SourceError

LATENT = 3
TRAIN = {"epochs": 2, "batch_size": 100}
KW: dict[str, Any] = {"latent": LATENT, "train": TRAIN, "data_dir": TINY_DIR, "progress": False}
CLI_ARGS = ["--latent", str(LATENT), "--mnist-dir", str(TINY_DIR), "--set", "epochs=2", "--set", "batch_size=100"]
LOAD = ("import ldmnist_hub as ld, json\n"
        f"x = ld.load_numpy({LATENT}, 'test', train={TRAIN!r}, data_dir={str(TINY_DIR)!r}, progress=False)[0]\n"
        "print(json.dumps(float(x.astype('float64').sum())))\n")


def _env(home: Path, **extra: str) -> dict[str, str]:
    return child_env(home, **extra)


def _python(code: str, home: Path, timeout: float = 180, **extra: str) -> subprocess.CompletedProcess[str]:
    return run_python(code, home, timeout=timeout, **extra)


def _cli(args: list[str], home: Path, timeout: float = 180, **extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(args, home, timeout=timeout, **extra)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A home with the tiny latent-3 variant built, and the test split's x sum it serves."""
    home = tmp_path_factory.mktemp("faults") / "home"
    done = _python(LOAD, home)
    assert done.returncode == 0, done.stderr
    return home, json.loads(done.stdout)


@pytest.fixture
def home(built: tuple[Path, float], tmp_path: Path) -> Path:
    """A private copy of the built home, for one test to attack."""
    copy = tmp_path / "home"
    shutil.copytree(built[0], copy, symlinks=True)  # records are relative to the home: a copy keeps them
    return copy


def _variant_dir(home: Path) -> Path:
    (folder,) = [p for p in (home / "variants").iterdir() if p.is_dir() and not p.name.startswith(".")]
    return folder


def _arrow_files(home: Path) -> list[Path]:
    return sorted((home / "datasets").rglob("*.arrow"))


def _flip(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_fault_1_flipped_weight_bytes_are_refused_naming_the_file(home: Path) -> None:
    target = _variant_dir(home) / "weights" / "class_decoder.safetensors"
    _flip(target, offset=len(target.read_bytes()) - 5)  # inside the tensor data, past the header
    done = _python("import ldmnist_hub as ld, numpy as np\n"
                   f"print(ld.evaluate(np.zeros((100, {LATENT})), train={TRAIN!r}, latent={LATENT}, "
                   f"data_dir={str(TINY_DIR)!r}, progress=False))", home)
    assert done.returncode != 0 and "IntegrityError" in done.stderr
    assert "class_decoder.safetensors does not match the sha256" in done.stderr
    assert "ldmnist build --force" in done.stderr
    cli = _cli(["build", *CLI_ARGS, "--quiet"], home)
    assert cli.returncode == 1 and "Traceback" not in cli.stderr and "class_decoder.safetensors" in cli.stderr


def test_fault_1_truncated_weights_are_refused_naming_the_file(home: Path) -> None:
    target = _variant_dir(home) / "weights" / "image_decoder.safetensors"
    target.write_bytes(target.read_bytes()[:100])
    cli = _cli(["build", *CLI_ARGS, "--quiet"], home)
    assert cli.returncode == 1 and "Traceback" not in cli.stderr
    assert "image_decoder.safetensors does not match the sha256" in cli.stderr


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_fault_1_altered_arrow_data_is_never_served(home: Path, built: tuple[Path, float], damage: str) -> None:
    for arrow in _arrow_files(home):
        if damage == "flip":
            _flip(arrow)
        else:
            arrow.write_bytes(arrow.read_bytes()[: len(arrow.read_bytes()) // 3])
    done = _python(LOAD, home)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == built[1]  # encoded again from the verified weights: the same bytes
    assert "encoding" in done.stderr and "again from its verified weights" in done.stderr


def test_fault_4_a_force_rebuild_killed_after_the_weights_leaves_no_mixed_variant(home: Path) -> None:
    killed = _cli(["build", *CLI_ARGS, "--force", "--quiet"], home, LDMNIST_FAULT="build:weights-written")
    assert killed.returncode == -signal.SIGKILL
    done = _python(LOAD + "import ldmnist_hub.store as s\n"
                   "print(json.dumps([v.stats()['splits']['test']['x']['mean'] for v in "
                   "[s.variant_files(p.name) for p in s.variant_files('x').root.parent.iterdir() "
                   "if not p.name.startswith('.')]]))\n", home)
    assert done.returncode == 0, done.stderr
    served_sum = json.loads(done.stdout.splitlines()[0])
    (means,) = json.loads(done.stdout.splitlines()[1])
    # The served x is the one the stats describe: no old Arrow data with new weights.
    assert np.isclose(served_sum / (100 * LATENT), np.mean(means), atol=1e-5)


@pytest.mark.parametrize("point", ["force:deleted", "store:tmp-written"])
def test_fault_4_a_killed_force_rebuild_is_finished_by_the_next_load(home: Path, point: str) -> None:
    killed = _cli(["build", *CLI_ARGS, "--force", "--quiet"], home, LDMNIST_FAULT=point)
    assert killed.returncode == -signal.SIGKILL
    done = _python(LOAD, home)
    assert done.returncode == 0, done.stderr
    # Killed writers leave nothing behind once the next writer has run.
    assert not [p for p in (home / "variants").iterdir() if p.name.endswith((".tmp", ".old", ".pull"))]


def test_fault_4_force_and_a_concurrent_load_both_finish_with_one_consistent_variant(home: Path) -> None:
    force = subprocess.Popen([sys.executable, "-c", "import sys\nfrom ldmnist_hub.cli import main\n"
                              f"sys.exit(main({['build', *CLI_ARGS, '--force', '--quiet']!r}))"],
                             env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    load = _python(LOAD, home)
    out, err = force.communicate(timeout=180)
    assert force.returncode == 0, err
    assert load.returncode == 0, load.stderr
    again = _python(LOAD, home)
    assert again.returncode == 0 and again.stdout == load.stdout or json.loads(again.stdout) == json.loads(load.stdout)


def test_fault_4_two_builders_of_one_variant_train_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    procs = [subprocess.Popen([sys.executable, "-c", LOAD], env=_env(home), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    assert outs[0][0] == outs[1][0]
    stats = json.loads((_variant_dir(home) / "stats.json").read_text())
    assert "recovered" not in stats["training"]


@pytest.mark.parametrize("memo", [b"[1, 2]", b'{"mnist:/x": {}}', b"\x00\xff\xfe garbage", None])
def test_fault_6_a_damaged_fingerprint_memo_is_ignored(home: Path, built: tuple[Path, float],
                                                       memo: bytes | None) -> None:
    path = home / "fingerprints.json"
    if memo is None:
        path.unlink(missing_ok=True)
        path.mkdir()
    else:
        path.write_bytes(memo)
    done = _python(LOAD, home)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == built[1]


@pytest.mark.parametrize("damage", ["garbage", "deleted", "not-a-dict"])
def test_fault_6_damaged_stats_are_rebuilt_from_intact_weights_without_training(
    home: Path, built: tuple[Path, float], damage: str
) -> None:
    folder = _variant_dir(home)
    weights_before = {p.name: p.read_bytes() for p in (folder / "weights").iterdir()}
    stats = folder / "stats.json"
    if damage == "garbage":
        stats.write_bytes(b"{not json")
    elif damage == "deleted":
        stats.unlink()
    else:
        stats.write_text("[1, 2, 3]")
    done = _python(LOAD, home, LDMNIST_FAULT="train:start")
    assert done.returncode == 0, done.stderr  # a training run would have been killed at its start
    assert json.loads(done.stdout) == built[1]
    assert {p.name: p.read_bytes() for p in (folder / "weights").iterdir()} == weights_before
    assert "recovered" in json.loads(stats.read_text())["training"]


def test_fault_7_raw_files_replaced_with_a_restored_mtime_are_noticed(tmp_path: Path) -> None:
    from ldmnist_hub.store import identity

    raw = tmp_path / "raw"
    shutil.copytree(TINY_DIR, raw)
    os.environ["LDMNIST_HOME"] = str(tmp_path / "home")
    try:
        first = identity.source_is_official("mnist", raw)
        victim = raw / "t10k-labels-idx1-ubyte.gz"
        st = victim.stat()
        labels = bytearray(gzip.decompress(victim.read_bytes()))
        labels[8], labels[9] = labels[9], labels[8]  # two labels swapped: same size, other data
        victim.write_bytes(gzip.compress(bytes(labels), mtime=0)[: st.st_size].ljust(st.st_size, b"\0"))
        os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))  # touch -r: the old mtime
        with pytest.raises(SourceError):  # the memo is not trusted: the new bytes are checked (and fail)
            identity.source_is_official("mnist", raw)
    finally:
        del os.environ["LDMNIST_HOME"]
    assert first[0] is False


def test_fault_8_a_stopped_lock_holder_is_named_and_a_dead_one_never_blocks(home: Path) -> None:
    cid = _variant_dir(home).name
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time\nfrom ldmnist_hub import store\nfrom ldmnist_hub.core.locks import "
         f"exclusive\nwith exclusive(store.variant_lock({cid!r}), 'test'):\n    print('held', flush=True)\n"
         "    time.sleep(120)\n"], env=_env(home), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        os.kill(holder.pid, signal.SIGSTOP)
        shutil.rmtree(next((home / "datasets").rglob("*.arrow")).parent)  # the next load must write
        waited = _cli(["build", *CLI_ARGS], home, LDMNIST_LOCK_TIMEOUT="3")
        assert waited.returncode == 1 and "Traceback" not in waited.stderr
        assert f"waiting for process {holder.pid}" in waited.stderr and "stopped" in waited.stderr
        assert "gave up" in waited.stderr
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        start = time.perf_counter()
        done = _cli(["build", *CLI_ARGS, "--quiet"], home, LDMNIST_LOCK_TIMEOUT="3")
        assert done.returncode == 0, done.stderr
        assert "waiting" not in done.stderr and time.perf_counter() - start < 60
    finally:
        if holder.poll() is None:
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait(timeout=10)


def test_fault_9_a_numpy_integer_latent_is_a_latent(home: Path, built: tuple[Path, float]) -> None:
    done = _python(LOAD.replace(f"load_numpy({LATENT}", f"load_numpy(__import__('numpy').int64({LATENT})"), home)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == built[1]


def test_fault_11_ldmnist_home_that_is_a_file_gets_a_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    done = _cli(["build", *CLI_ARGS, "--quiet"], home)
    assert done.returncode in (1, 2) and "Traceback" not in done.stderr
    assert str(home) in done.stderr


def _idx_labels(path: Path, labels: list[int]) -> None:
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1]) + len(labels).to_bytes(4, "big") + bytes(labels), mtime=0))


def _fake_source(tmp_path: Path, labels: list[int]) -> Path:
    """The tiny fixture with another test-labels file (and SHA256SUMS vouching for it)."""
    from ldmnist_hub.core.digest import sha256_file

    raw = tmp_path / "raw"
    shutil.copytree(TINY_DIR, raw)
    _idx_labels(raw / "t10k-labels-idx1-ubyte.gz", labels)
    sums = [f"{sha256_file(p)}  {p.name}" for p in sorted(raw.glob("*.gz"))]
    (raw / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    return raw


@pytest.mark.parametrize(("labels", "message"), [([200] * 100, "holds label 200; mnist has 10 classes"),
                                                  ([], "holds no items")])
def test_fault_11_bad_label_files_get_a_clear_error(tmp_path: Path, labels: list[int], message: str) -> None:
    from ldmnist_hub.data.sources import load_split

    raw = _fake_source(tmp_path, labels)
    if labels:
        with pytest.raises(SourceError, match=message):
            load_split("mnist", "test", raw)
    else:
        with pytest.raises(SourceError, match="0 items|holds no items|labels"):
            load_split("mnist", "test", raw)


def test_fault_11_a_symlink_loop_is_named_as_one(tmp_path: Path) -> None:
    from ldmnist_hub.data.sources import load_split

    raw = tmp_path / "raw"
    shutil.copytree(TINY_DIR, raw)
    target = raw / "t10k-images-idx3-ubyte.gz"
    target.unlink()
    target.symlink_to(target)
    with pytest.raises(SourceError, match="broken symbolic link .or a link loop"):
        load_split("mnist", "test", raw)


def test_fault_13_a_gzip_bomb_is_refused_without_inflating_it(tmp_path: Path) -> None:
    from ldmnist_hub.data.idx import MAX_IDX_BYTES, read_idx

    bomb = tmp_path / "bomb.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as f:
        header = bytes([0, 0, 8, 1]) + (MAX_IDX_BYTES + 1).to_bytes(4, "big")
        f.write(header)
        chunk = b"\0" * (1 << 24)
        for _ in range(MAX_IDX_BYTES // len(chunk) + 1):
            f.write(chunk)
    assert bomb.stat().st_size < 2_000_000
    with pytest.raises(SourceError, match="inflates to more than"):
        read_idx(bomb)


def test_fault_13_quiet_builds_print_no_progress_bars(tmp_path: Path) -> None:
    done = _cli(["build", *CLI_ARGS, "--quiet"], tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert "Generating" not in done.stderr and "%|" not in done.stderr


def test_fault_13_codecs_refuse_non_finite_codes_and_evaluate_an_empty_slice(home: Path) -> None:
    os.environ["LDMNIST_HOME"] = str(home)
    try:
        codes = np.zeros((2, LATENT), np.float32)
        codes[1, 0] = np.nan
        kw = {k: v for k, v in KW.items() if k != "latent"}
        with pytest.raises(InvalidArgumentError, match="must be finite; got 1 NaN"):
            ld.decode_images(codes, LATENT, build=False, **kw)
        with pytest.raises(InvalidArgumentError, match="selects no rows"):
            ld.evaluate(np.zeros((0, LATENT)), LATENT, "test[:0]", build=False, **kw)
    finally:
        del os.environ["LDMNIST_HOME"]


def test_integrity_error_is_never_a_wrong_number(home: Path) -> None:
    """The evaluator's scores come only from verified weights: a flipped decoder byte stops it, always."""
    target = _variant_dir(home) / "weights" / "class_decoder.safetensors"
    _flip(target, offset=len(target.read_bytes()) - 9)
    os.environ["LDMNIST_HOME"] = str(home)
    try:
        from ldmnist_hub.core import digest

        digest._DIGESTS.clear()
        kw = {k: v for k, v in KW.items() if k != "latent"}
        with pytest.raises(IntegrityError, match="class_decoder"):
            ld.evaluate(np.zeros((100, LATENT)), LATENT, build=False, **kw)
    finally:
        del os.environ["LDMNIST_HOME"]
