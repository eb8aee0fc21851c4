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

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ldmnist_hub.core import faults, paths
from ldmnist_hub.core.digest import identities, memo_sha256
from ldmnist_hub.errors import IntegrityError, InvalidArgumentError, InvalidArgumentTypeError

PARTS = ("image_encoder", "image_decoder", "class_encoder", "class_decoder", "middle_layers")
STATS_FILE = "stats.json"
ORIGIN_FILE = "origin.json"  # where a pulled variant came from (written by ldmnist_hub.hub.pull)
# sha256 and size of every file the variant serves (weights, pulled shards), and the code hash that made them.
CHECKSUMS_FILE = "checksums.json"
CHECKSUMS_FORMAT = "ldmnist-checksums/1"

def file_entries(root: Path, rels: list[str]) -> dict[str, dict[str, Any]]:
    """``{rel: {"sha256", "size"}}`` of files under ``root``."""
    return {rel: {"sha256": memo_sha256(root / rel), "size": (root / rel).stat().st_size} for rel in rels}


def write_checksums(root: Path, rels: list[str], code_hash: str | None) -> None:
    """Record the sha256 of ``rels`` (paths relative to ``root``) in ``root/checksums.json``, atomically."""
    doc = {"format": CHECKSUMS_FORMAT, "code_hash": code_hash, "files": file_entries(root, rels)}
    tmp = root / f".{CHECKSUMS_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True))
    os.replace(tmp, root / CHECKSUMS_FILE)


# Variants found current in this process, by (folder, code hash): the identity of their stats, checksum record
# and weights when they were (see VariantFiles.is_current).
_CURRENT: dict[tuple[Path, str], tuple[tuple[str, int, int, int, int], ...]] = {}


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

    @property
    def checksums_path(self) -> Path:
        return self.root / CHECKSUMS_FILE

    def checksums(self) -> dict[str, Any] | None:
        """The recorded checksums, or None if the record is missing or damaged (then nothing is trusted)."""
        try:
            doc = json.loads(self.checksums_path.read_text())
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        ok = isinstance(doc, dict) and doc.get("format") == CHECKSUMS_FORMAT and isinstance(doc.get("files"), dict)
        return doc if ok else None

    def stats_or_none(self) -> dict[str, Any] | None:
        """The stats record, or None if it is missing, damaged or differs from its recorded sha256.

        The stats are printed (``ldmnist info``, cards), so a flipped digit must not pass: where the checksum
        record holds the stats file's sha256, a file that differs reads as damaged. Damaged stats are derived
        data: a load recomputes them from the verified weights.
        """
        try:
            raw = self.stats_path.read_bytes()
            doc = json.loads(raw)
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        record = self.checksums()
        entry = (record or {}).get("files", {}).get(STATS_FILE)
        if isinstance(entry, dict) and entry.get("sha256") != hashlib.sha256(raw).hexdigest():
            return None
        return doc if isinstance(doc, dict) and isinstance(doc.get("variant"), dict) else None

    def stats_damaged(self) -> bool:
        """True if a stats file is there but unreadable or not what its checksum record says."""
        return self.stats_path.exists() and self.stats_or_none() is None

    def is_complete(self) -> bool:
        """True if readable stats, all five weight files and their checksums are present."""
        return (self.stats_or_none() is not None and self.checksums() is not None
                and all(self.weights_path(p).is_file() for p in PARTS))

    def weights_current(self, code_hash: str) -> bool:
        """True if the weights were made by the code whose hash is ``code_hash`` and match their checksums.

        Raises:
            IntegrityError: a weight file differs from its recorded sha256 (altered or truncated).
        """
        record = self.checksums()
        present = [p for p in PARTS if self.weights_path(p).is_file()]
        if record is None and present:
            # Weights nobody can check: using them could serve a wrong number, retraining would silently
            # replace weights trained elsewhere (the same name, other scores). Neither: say so.
            raise IntegrityError(f"{self.checksums_path} is missing or damaged, so the weights of {self.root.name} "
                                 f"cannot be checked and are not used; {self.repair_hint()}")
        if record is None or record.get("code_hash") != code_hash:
            return False
        if len(present) != len(PARTS):
            return False
        self.verify([f"weights/{p}.safetensors" for p in PARTS])
        return True

    def is_current(self, code_hash: str) -> bool:
        """True if complete, made by the code whose hash is ``code_hash``, and its weights verify.

        Weights from older code are never reused or served: a change in the
        training code changes the bytes a variant should have. A variant found
        current before in this process whose records and weights all keep their
        identity is current without reading them again.
        """
        before = identities([self.stats_path, self.checksums_path, *(self.weights_path(p) for p in PARTS)])
        if before is not None and _CURRENT.get((self.root, code_hash)) == before:
            return True
        stats = self.stats_or_none()
        current = stats is not None and stats.get("code_hash") == code_hash and self.weights_current(code_hash)
        if current and before is not None:
            _CURRENT[(self.root, code_hash)] = before
        return current

    def verify(self, rels: list[str] | None = None) -> None:
        """Check files (default: every recorded one) against their recorded sha256 and size.

        Raises:
            IntegrityError: a file is missing, unreadable, or differs from its record;
                the message names the file and how to repair the variant.
        """
        record = self.checksums()
        if record is None:
            raise IntegrityError(f"{self.checksums_path} is missing or damaged, so the files of {self.root.name} "
                                 f"cannot be checked; {self.repair_hint()}")
        for rel in record["files"] if rels is None else rels:
            entry = record["files"].get(rel)
            path = self.root / rel
            try:
                found = memo_sha256(path) if entry is not None else None
                size = path.stat().st_size
            except OSError as err:
                raise IntegrityError(f"cannot read {path} ({err.strerror or err}); {self.repair_hint()}") from err
            if entry is None or found != entry.get("sha256") or size != entry.get("size"):
                raise IntegrityError(
                    f"{path} does not match the sha256 recorded when {self.root.name} was written (recorded "
                    f"{(entry or {}).get('sha256', 'nothing')}, found {found}): it was altered, truncated or "
                    f"replaced, and is not used; {self.repair_hint()}")

    def repair_hint(self) -> str:
        """How to repair this variant, for error messages."""
        return (f"rebuild it with `ldmnist build --force` and the arguments that built {self.root.name} (or delete "
                f"{self.root})")

    def stats(self) -> dict[str, Any]:
        """The stats record (see :func:`ldmnist_hub.store.stats.split_stats`).

        Raises:
            IntegrityError: the record is missing or damaged.
        """
        stats = self.stats_or_none()
        if stats is None:
            raise IntegrityError(
                f"{self.stats_path} is missing, damaged or not what its checksum says, so it is not shown; `ldmnist "
                f"build` with the arguments that built {self.root.name} recomputes it from the verified weights "
                "(no training)")
        return stats

    def weights(self, part: str) -> dict[str, np.ndarray]:
        """Tensors of one part as numpy arrays (no torch needed), verified against the recorded sha256.

        Raises:
            IntegrityError: the file differs from its record.
        """
        from safetensors.numpy import load_file

        self.verify([f"weights/{part}.safetensors"])
        return load_file(self.weights_path(part))

    def metadata(self, part: str) -> dict[str, str]:
        """String metadata stored in one part's safetensors header."""
        from safetensors import safe_open

        self.verify([f"weights/{part}.safetensors"])
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


ARROW_RECORD = "arrow.json"


def _home_relative(path: Path) -> str:
    # Relative to LDMNIST_HOME, so a home moved or copied elsewhere keeps its records.
    try:
        return Path(path).resolve().relative_to(paths.home_dir().resolve()).as_posix()
    except ValueError:
        return str(path)


def datasets_own(name: str) -> bool:
    """True for a file ``datasets`` itself writes into a prepared cache folder: not ours, never served by us.

    ``Dataset.map``, ``.filter`` and the like on a loaded split cache their results beside its Arrow files
    (``cache-<fingerprint>.arrow``, ``cache-<fingerprint>_00000_of_00004.arrow``), written through temporary
    files (``tmp*``), and builders take ``*.lock`` files. They are left alone: never part of the record,
    never a reason to encode the variant again (which would delete them under a mapped dataset).

    Examples:
        >>> [datasets_own(n) for n in ("cache-3f2a.arrow", "ldmnist-train.arrow", "dataset_info.json")]
        [True, False, False]
    """
    return name.endswith(".lock") or name.startswith("tmp") or (name.startswith("cache-") and name.endswith(".arrow"))


def _our_files(cache_dir: Path) -> list[str]:
    """Names of the files of a prepared cache folder that the build wrote (its Arrow streams, info, licence)."""
    return sorted(p.name for p in cache_dir.iterdir() if p.is_file() and not datasets_own(p.name))


def record_arrow(files: VariantFiles, cache_dir: Path) -> None:
    """Record the sha256 of the prepared ``datasets`` cache of a variant (Arrow files, dataset_info.json)."""
    rels = _our_files(cache_dir)
    doc = {"format": CHECKSUMS_FORMAT, "cache_dir": _home_relative(cache_dir), "files": file_entries(cache_dir, rels)}
    tmp = files.root / f".{ARROW_RECORD}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True))
    os.replace(tmp, files.root / ARROW_RECORD)


def check_arrow(files: VariantFiles, cache_dir: Path) -> str | None:
    """None if the prepared cache in ``cache_dir`` is exactly what was recorded, else what differs."""
    try:
        doc = json.loads((files.root / ARROW_RECORD).read_text())
        recorded = doc["files"]
        if doc.get("cache_dir") != _home_relative(cache_dir) or not isinstance(recorded, dict):
            return f"no record of the Arrow cache in {cache_dir}"
    except (OSError, ValueError, KeyError, TypeError):
        return f"no readable record of the Arrow cache ({files.root / ARROW_RECORD})"
    present = _our_files(cache_dir)  # datasets' own caches (.map, .filter) beside ours are not ours to judge
    if present != sorted(recorded):
        return f"the files in {cache_dir} are not the recorded ones ({present} against {sorted(recorded)})"
    for name, entry in recorded.items():
        path = cache_dir / name
        try:
            digest = memo_sha256(path)
        except OSError as err:
            return f"cannot read {path} ({err.strerror or err})"
        if digest != entry.get("sha256") or path.stat().st_size != entry.get("size"):
            return f"{path} does not match its recorded sha256 (recorded {entry.get('sha256')}, found {digest})"
    return None


def variant_lock(config_id: str) -> Path:
    """The lock file every writer of the variant ``config_id`` holds (build, rebuild, pull, install)."""
    return paths.locks_dir() / f"variant-{config_id}.lock"


def clean_leftovers(config_id: str) -> None:
    """Remove what killed writers of ``config_id`` left behind (temporary and moved-aside folders).

    Call it holding :func:`variant_lock`: no live writer of this variant owns them then.
    """
    root = paths.variants_dir()
    if not root.is_dir():
        return
    for leftover in [*root.glob(f".{config_id}.*.tmp"), *root.glob(f".{config_id}.*.pull"),
                     *root.glob(f".{config_id}.*.old"), root / f"{config_id}.old"]:
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)


def write_stats(config_id: str, stats: dict[str, Any]) -> None:
    """Replace the stats record of a variant (atomically) and its sha256 in the checksums, leaving weights alone."""
    files = variant_files(config_id)
    record = files.checksums()
    tmp = files.root / f".{STATS_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(stats, indent=2, sort_keys=True))
    os.replace(tmp, files.stats_path)
    if record is not None:
        write_checksums(files.root, sorted({*record["files"], STATS_FILE}), record.get("code_hash"))


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
    tmp = paths.shareable(Path(tempfile.mkdtemp(prefix=f".{config_id}.", suffix=".tmp", dir=final.parent)))
    try:
        (tmp / "weights").mkdir()
        for part in PARTS:
            save_weights(tmp / "weights" / f"{part}.safetensors", state_dicts[part], {**metadata, "part": part})
        (tmp / STATS_FILE).write_text(json.dumps(stats, indent=2, sort_keys=True))
        write_checksums(tmp, [*(f"weights/{p}.safetensors" for p in PARTS), STATS_FILE], stats.get("code_hash"))
        faults.point("store:tmp-written")
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
