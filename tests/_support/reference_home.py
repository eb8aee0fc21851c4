"""An ``LDMNIST_HOME`` holding a reference variant encoded from the full MNIST, for tests on real data.

Leaderboard submissions are scored only on reference variants (the official MNIST encoded with the shipped
weights), so their tests need the full MNIST in ``LDMNIST_MNIST_DIR``; without it they skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from _support.hub_server import HubServer

FULL_DIR = os.environ.get("LDMNIST_MNIST_DIR")
needs_full_mnist = pytest.mark.skipif(not FULL_DIR, reason="set LDMNIST_MNIST_DIR to the full MNIST folder to run this")
# Variables that would send a load elsewhere than the test's home.
_REDIRECTS = ("LDMNIST_REPO", "HF_HUB_OFFLINE", "LDMNIST_OFFLINE")


def use_home(mp: pytest.MonkeyPatch, home: Path) -> Path:
    """Point ``LDMNIST_HOME`` at ``home`` and ``LDMNIST_MNIST_DIR`` at the full MNIST; clear redirections."""
    mp.setenv("LDMNIST_HOME", str(home))
    mp.setenv("LDMNIST_MNIST_DIR", str(FULL_DIR))
    for var in _REDIRECTS:
        mp.delenv(var, raising=False)
    return home


def encode_reference(tmp_path_factory: pytest.TempPathFactory, latent: int) -> Path:
    """A fresh ``LDMNIST_HOME`` holding the reference ``latent-N`` (encoded in seconds, no training)."""
    import ldmnist_hub as ld

    home = tmp_path_factory.mktemp(f"reference-{latent}-home") / "home"
    with pytest.MonkeyPatch.context() as mp:
        use_home(mp, home)
        ld.load_numpy(latent=latent, split="test", progress=False)
    return home


@contextmanager
def hub_with_repo(root: Path, token: str, repo: str) -> Iterator[HubServer]:
    """The Hub test server holding one empty dataset ``repo``; it must have logged no server error."""
    with HubServer(root, tokens={token}) as server:
        server.create_repo(repo)
        yield server
        assert server.errors == [], "\n".join(server.errors)


def push_reference_mirror(root: Path, latent: int) -> Path:
    """A folder mirror of the reference ``latent-N`` at ``root/repo``, pushed from a home with the full MNIST."""
    import subprocess
    import sys

    env = {**os.environ, "LDMNIST_HOME": str(root / "home"), "LDMNIST_MNIST_DIR": str(FULL_DIR),
           "OMP_NUM_THREADS": "1"}
    for var in _REDIRECTS:
        env.pop(var, None)
    done = subprocess.run([sys.executable, "-m", "ldmnist_hub.cli", "push", "--latent", str(latent), "--repo",
                           str(root / "repo"), "--quiet"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return root / "repo"
