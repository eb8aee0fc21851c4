"""On-disk artifacts of a variant: safetensors weights and a stats record.

Layout of ``variants/<config_id>/``::

    weights/image_encoder.safetensors   (and image_decoder, class_encoder,
    weights/...                           class_decoder, middle_layers)
    stats.json

A variant folder is written in a sibling temporary folder and renamed into
place in one step, so a reader sees either a complete variant or none.
This module does not import torch: weights are read with ``safetensors.numpy``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ldmnist_hub.core import paths
from ldmnist_hub.errors import InvalidArgumentError, InvalidArgumentTypeError

PARTS = ("image_encoder", "image_decoder", "class_encoder", "class_decoder", "middle_layers")
STATS_FILE = "stats.json"


@dataclass(frozen=True)
class VariantFiles:
    """Paths of one variant's artifacts."""

    root: Path

    @property
    def stats_path(self) -> Path:
        return self.root / STATS_FILE

    def weights_path(self, part: str) -> Path:
        """Path of the safetensors file of one part (see :data:`PARTS`)."""
        if part not in PARTS:
            raise InvalidArgumentError(f"unknown model part {part!r}; expected one of {PARTS}")
        return self.root / "weights" / f"{part}.safetensors"

    def is_complete(self) -> bool:
        """True if the stats and all five weight files are present."""
        return self.stats_path.is_file() and all(self.weights_path(p).is_file() for p in PARTS)

    def is_current(self, code_hash: str) -> bool:
        """True if complete and produced by the code whose hash is ``code_hash``.

        Weights from older code are never reused or served: a change in the
        training code changes the bytes a variant should have.
        """
        return self.is_complete() and self.stats().get("code_hash") == code_hash

    def stats(self) -> dict[str, Any]:
        """The stats record (see :func:`ldmnist_hub.stats.variant_stats`)."""
        return json.loads(self.stats_path.read_text())

    def weights(self, part: str) -> dict[str, np.ndarray]:
        """Tensors of one part as numpy arrays (no torch needed)."""
        from safetensors.numpy import load_file

        return load_file(self.weights_path(part))

    def metadata(self, part: str) -> dict[str, str]:
        """String metadata stored in one part's safetensors header."""
        from safetensors import safe_open

        with safe_open(self.weights_path(part), framework="numpy") as f:
            return dict(f.metadata() or {})


def save_weights(path: Path, arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """Write one safetensors file whose bytes depend only on its tensors and metadata.

    safetensors serialises its header from a hash map, so the same tensors and
    metadata give different file bytes on every write. The header is rewritten
    here as canonical JSON (sorted keys, no spaces, padded to 8 bytes as the
    format requires); tensor data and offsets are untouched.
    """
    from safetensors.numpy import save

    bad = {k: type(v).__name__ for k, v in metadata.items() if not isinstance(v, str)}
    if bad:
        raise InvalidArgumentTypeError(f"safetensors metadata values must be str; got non-str values for {bad}")
    blob = save({k: np.ascontiguousarray(v) for k, v in arrays.items()}, metadata=metadata)
    size = int.from_bytes(blob[:8], "little")
    header = json.dumps(json.loads(blob[8:8 + size]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    path.write_bytes(len(header).to_bytes(8, "little") + header + blob[8 + size:])


def variant_files(config_id: str) -> VariantFiles:
    """Artifacts location of the variant whose cache id is ``config_id``."""
    return VariantFiles(paths.variants_dir() / config_id)


def write_variant(
    config_id: str,
    state_dicts: dict[str, dict[str, np.ndarray]],
    metadata: dict[str, str],
    stats: dict[str, Any],
) -> VariantFiles:
    """Atomically write the weights of all parts and the stats of a variant.

    Args:
        config_id: the variant's cache id (folder name).
        state_dicts: part name -> tensor name -> array, for every part in :data:`PARTS`.
        metadata: string metadata stored in every weights file.
        stats: JSON-serialisable stats record.

    Returns:
        The written variant's files.
    """
    missing = set(PARTS) - set(state_dicts)
    if missing:
        raise InvalidArgumentError(f"state_dicts lacks parts {sorted(missing)}")
    final = variant_files(config_id).root
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{config_id}.", suffix=".tmp", dir=final.parent))
    try:
        (tmp / "weights").mkdir()
        for part in PARTS:
            save_weights(tmp / "weights" / f"{part}.safetensors", state_dicts[part], {**metadata, "part": part})
        (tmp / STATS_FILE).write_text(json.dumps(stats, indent=2, sort_keys=True))
        if final.exists():
            # Replacing a variant: move the old one aside first so the swap is one rename.
            old = final.with_name(final.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return VariantFiles(final)
