"""Shared fixtures: an isolated ``LDMNIST_HOME``, the tiny MNIST fixture and one tiny built variant."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from _support import TINY_DIR

# torch's intra-op threads spin while another process holds the CPUs; on a
# shared 2-core machine that makes a tiny build ~50x slower. One thread keeps
# the suite fast and its arithmetic order fixed (set before torch is imported).
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Variables that would redirect the cache, the raw data or the network policy.
ISOLATED_VARS = ("LDMNIST_MNIST_DIR", "LDMNIST_FASHION_MNIST_DIR", "LDMNIST_OFFLINE", "HF_HUB_OFFLINE", "LDMNIST_REPO")
TINY_LATENT = 4
TINY_TRAIN = {"epochs": 2, "batch_size": 100}


def _isolate(mp: pytest.MonkeyPatch, home: Path) -> None:
    mp.setenv("LDMNIST_HOME", str(home))
    for var in ISOLATED_VARS:
        mp.delenv(var, raising=False)


@pytest.fixture
def tiny_dir() -> Path:
    """Folder of the tiny MNIST fixture (first 300 train / 100 test images, with SHA256SUMS)."""
    return TINY_DIR


@pytest.fixture
def ldmnist_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty, not yet created ``LDMNIST_HOME``; source and offline variables cleared."""
    home = tmp_path / "ldmnist-home"
    _isolate(monkeypatch, home)
    return home


@pytest.fixture
def tiny_kwargs() -> dict[str, Any]:
    """``load_dataset("ldmnist", **tiny_kwargs)`` arguments of the shared tiny variant."""
    return {"latent": TINY_LATENT, "train": dict(TINY_TRAIN), "data_dir": TINY_DIR, "progress": False}


@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """``(home, DatasetDict)`` of the tiny variant (latent 4, 2 epochs), built once per session.

    Tests must treat ``home`` as read-only: point ``LDMNIST_HOME`` at it with
    :func:`tiny_home` and load with ``build=False``.
    """
    from ldmnist_hub import load_dataset

    home = tmp_path_factory.mktemp("tiny-build") / "home"
    with pytest.MonkeyPatch.context() as mp:
        _isolate(mp, home)
        ds = load_dataset("ldmnist", latent=TINY_LATENT, train=dict(TINY_TRAIN), data_dir=TINY_DIR, progress=False)
    return home, ds


@pytest.fixture
def tiny_home(tiny_build: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch) -> Path:
    """``LDMNIST_HOME`` pointed at the session's tiny build (do not write into it)."""
    home, _ = tiny_build
    _isolate(monkeypatch, home)
    return home
