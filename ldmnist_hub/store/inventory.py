"""What the local store holds: one row per variant folder, for ``ldmnist list``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ldmnist_hub.core import paths, versions
from ldmnist_hub.core.config import TrainConfig
from ldmnist_hub.errors import InvalidArgumentTypeError
from ldmnist_hub.store.files import ORIGIN_FILE, variant_files


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _recipe(train: dict[str, Any]) -> str:
    try:
        overrides = TrainConfig.from_dict(train).overrides()
    except (InvalidArgumentTypeError, ValueError, TypeError):  # a recipe this version does not know: shown raw
        overrides = train
    return "canonical" if not overrides else ",".join(f"{k}={v}" for k, v in sorted(overrides.items()))


def _origin(folder: Path, stats: dict[str, Any]) -> tuple[str, str]:
    """``(kind, where it came from)``: pulled from a repo, or built here (reference or trained)."""
    try:
        repo = json.loads((folder / ORIGIN_FILE).read_text()).get("repo")
    except (OSError, ValueError, AttributeError):
        return stats.get("kind", "trained"), f"built from {stats.get('source_dir') or 'the official files'}"
    return "pulled", f"pulled from {repo}"


def inventory() -> list[dict[str, Any]]:
    """Every variant in ``$LDMNIST_HOME``: name, kind (reference, trained, pulled), dataset version, recipe, size
    and origin (``version`` is None for a trained variant: only reference variants have versions).

    A folder whose stats cannot be read is listed as ``damaged`` rather than skipped.

    Examples:
        >>> [r["name"] for r in inventory()]  # doctest: +SKIP
        ['latent-32', 'latent-8-trained-1f5b3204']
    """
    root = paths.variants_dir()
    rows = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if not folder.is_dir() or folder.name.startswith(".") or folder.name.endswith(".old"):
            continue
        stats = variant_files(folder.name).stats_or_none()
        if stats is None:
            rows.append({"name": folder.name, "kind": "damaged", "latent": "?", "seed": "?", "source": "?",
                         "version": versions.of_name(folder.name), "recipe": "?", "bytes": _size(folder),
                         "origin": str(folder)})
            continue
        variant = stats["variant"]
        kind, origin = _origin(folder, stats)
        rows.append({"name": folder.name, "kind": kind, "latent": variant.get("latent"), "seed": variant.get("seed"),
                     "source": variant.get("source"), "version": versions.of_name(folder.name),
                     "recipe": _recipe(variant.get("train") or {}),
                     "bytes": _size(folder), "origin": origin})
    return rows
