"""A Hub that refuses connections: every command that talks to it ends in one clean line, fast.

Each command runs as ``ldmnist ...`` in a fresh interpreter (huggingface_hub reads ``HF_ENDPOINT`` at import),
against ``http://127.0.0.1:<port>`` where nothing listens. Before the probe in ``hub.repo.check_reachable``,
``submit`` and ``leaderboard verify`` retried for about 24 s and ended in a 105-line ``ConnectError`` traceback.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ldmnist_hub.errors import HubConnectionError
from ldmnist_hub.hub import repo as hub_repo

BUDGET_S = 30  # the bar: non-zero, no traceback, within 30 s (process start included)
TOKEN = "hf_test_token"


def _closed_port() -> int:
    """A loopback port nothing listens on (bound once, then released: connecting to it is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def refused(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """``(environment, folder)`` of a client whose Hub endpoint refuses connections."""
    root = tmp_path_factory.mktemp("refused")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("HF_", "HUGGINGFACE", "LDMNIST_"))}
    env.update({"HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}", "HF_HOME": str(root / "hf"),
                "HF_TOKEN": TOKEN, "HF_HUB_DISABLE_TELEMETRY": "1", "LDMNIST_HOME": str(root / "home"),
                "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1", "OMP_NUM_THREADS": "1"})
    np.save(root / "preds.npy", np.zeros((10000, 8), np.float32))
    return env, root


COMMANDS = {
    "submit": ["submit", "--predictions", "preds.npy", "--name", "my-mlp", "--description", "an MLP",
               "--link", "https://example.org/mlp", "--repo", "my-org/ldmnist", "--latent", "8"],
    "leaderboard verify": ["leaderboard", "verify", "--repo", "my-org/ldmnist"],
    "push": ["push", "--latent", "8", "--repo", "my-org/ldmnist", "--quiet"],
    "pull": ["pull", "--latent", "8", "--repo", "my-org/ldmnist"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_refusing_hub_ends_each_command_in_one_clean_line_within_30_s(
    refused: tuple[dict[str, str], Path], command: str
) -> None:
    env, root = refused
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "ldmnist_hub.cli", *COMMANDS[command]], env=env, cwd=root,
                          capture_output=True, text=True, timeout=120, check=False)
    seconds = time.monotonic() - start
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert seconds < BUDGET_S
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ldmnist: error: cannot reach the Hub at " + env["HF_ENDPOINT"])
    assert "connection refused" in lines[0] and "HF_ENDPOINT" in lines[0]  # what failed, and what to do


def test_check_reachable_names_the_endpoint_tries_and_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("LDMNIST_OFFLINE", raising=False)
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(HubConnectionError, match=rf"cannot reach the Hub at {url}: connection refused \(2 tries"):
        hub_repo.check_reachable(url)


def test_check_reachable_in_offline_mode_says_so_without_trying(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubConnectionError, match="offline mode is on"):
        hub_repo.check_reachable("http://127.0.0.1:9")


def test_a_network_error_inside_a_hub_call_becomes_a_connection_error_naming_the_retry_budget() -> None:
    from huggingface_hub.utils import get_session

    client = sys.modules[type(get_session()).__module__.split(".")[0]]  # httpx or requests, whichever is in use
    error = getattr(client, "ConnectError", None) or client.exceptions.ConnectionError
    with pytest.raises(HubConnectionError, match=r"to list the files of my-org/x: .*retries such a request up to 5"):
        with hub_repo.hub_errors("list the files of my-org/x", "http://hub.example"):
            raise error("[Errno 111] Connection refused")


def test_load_with_an_unreachable_repo_and_build_false_says_why_it_could_not_pull(
    ldmnist_home: Path, monkeypatch: pytest.MonkeyPatch, tiny_dir: Path
) -> None:
    from ldmnist_hub import load_dataset

    url = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("HF_ENDPOINT", url)
    with pytest.raises(FileNotFoundError, match=rf"pulling it failed: cannot reach the Hub at {url}"):
        load_dataset("ldmnist", latent=3, train={"epochs": 1}, data_dir=tiny_dir, repo="my-org/ldmnist", build=False,
                     progress=False)

