"""The prepared Arrow cache of a variant: where it is, whether it may be served, and reading it with no writes.

Instantiating a ``datasets`` builder takes a lock file in the cache root (and
may delete an empty cache folder), so a builder cannot even be made on a
read-only ``LDMNIST_HOME``. Serving a built variant therefore never makes one:
the cache folder's path is computed here (the layout ``datasets`` uses:
``<root>/<dataset>/<config>/<version>/<hash>``), checked against the variant's
recorded sha256 and read as ``datasets`` tables (memory-mapped) with the one
split grammar every loader uses. Nothing is written and no lock is taken.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ldmnist_hub import store
from ldmnist_hub.core import paths
from ldmnist_hub.core.config import VariantConfig
from ldmnist_hub.core.digest import identities
from ldmnist_hub.core.schema import DATASET_NAME
from ldmnist_hub.errors import IntegrityError
from ldmnist_hub.loading import columns, splits
from ldmnist_hub.store.identity import builder_hash

# The builder's version (ldmnist_hub.builders.ldmnist.VERSION); tests/loading pin the two equal.
BUILDER_VERSION = "3.0.0"
_INFO_FILE = "dataset_info.json"
def cache_dir(cache_id: str) -> Path:
    """Folder of the prepared Arrow cache of the variant ``cache_id`` (it may not exist)."""
    return paths.datasets_cache_dir() / DATASET_NAME / cache_id / BUILDER_VERSION / builder_hash()


# Prepared caches verified in this process, by folder: the identity (inode, size, mtime, ctime) of the folder
# and of every file the check reads, taken before it. Unchanged identities mean unchanged bytes, the trust
# core.digest.memo_sha256 already gives each file's sha256, so a warm load re-reads no record.
_VERIFIED: dict[Path, tuple[tuple[str, int, int, int, int], ...]] = {}


def _identities(files: store.VariantFiles, folder: Path) -> tuple[tuple[str, int, int, int, int], ...] | None:
    """The identity of the folder, its files, the variant's records and weights; None if one is missing."""
    try:
        listed = sorted(folder.iterdir())
    except OSError:
        return None
    return identities([folder, *listed, files.checksums_path, files.stats_path, files.root / store.ARROW_RECORD,
                       *(files.weights_path(part) for part in store.PARTS)])


def ready(variant: VariantConfig, files: store.VariantFiles, folder: Path) -> bool:
    """True if the prepared Arrow cache, the weights and the stats are there, current and verified.

    A folder verified before in this process whose files all keep their identity is ready without
    reading its records again.

    Raises:
        IntegrityError: altered weights (or an unreadable checksum record) of a trained variant: nothing
            else can restore them.
    """
    before = _identities(files, folder)
    if before is not None and _VERIFIED.get(folder) == before:
        return True
    if not (folder / _INFO_FILE).is_file():
        return False
    try:
        if not files.is_current(builder_hash()):
            return False
    except IntegrityError:
        if variant.is_reference:
            return False  # the shipped weights are the original: the copy is written again
        raise
    why = store.check_arrow(files, folder)
    if why is not None and (files.root / store.ARROW_RECORD).is_file():
        # The weights verify, so the data is encoded again from them (exactly: the same bytes as before).
        warnings.warn(f"{why}; encoding {files.root.name} again from its verified weights", stacklevel=4)
    if why is None and before is not None:
        _VERIFIED[folder] = before
    return why is None


def import_reader() -> None:
    """Import what :func:`read` needs (``datasets``: 0.9-1.4 s), ahead of its use by a cold build."""
    import datasets.table  # noqa: F401


def read(split_files: dict[str, Path], split: Any, info: Any, identity: str, keep_in_memory: bool = False) -> Any:
    """Verified split files as a ``datasets.Dataset`` (one spec), a list of them, or a ``DatasetDict`` (``None``).

    The rows are those :func:`ldmnist_hub.loading.columns.read_tables` selects for ``load_numpy`` (one split
    grammar, :mod:`ldmnist_hub.loading.splits`), held in ``datasets``' table classes: an Arrow stream
    memory-mapped (``MemoryMappedTable``, which pickles as its path and slices) unless ``keep_in_memory``, a
    pulled parquet shard in memory.

    Args:
        split_files: the verified file of each split (Arrow stream or parquet shard).
        split: a split spec, a list of them, or None for every split.
        info: the ``datasets.DatasetInfo`` the datasets carry.
        identity: what the files are (their folder, relative to the cache root), for the fingerprint: the one
            ``datasets``' builder gives the same rows, so ``.map`` caches stay valid across processes.

    Raises:
        InvalidArgumentError: the split selects no rows, or names a split the files lack.
        FileNotFoundError: a file vanished while being read (a concurrent rebuild).
    """
    import datasets
    from datasets.fingerprint import Hasher
    from datasets.table import InMemoryTable, MemoryMappedTable, concat_tables

    def open_table(path: Path) -> Any:
        if path.suffix == ".parquet":
            return InMemoryTable(columns.read_table(path))
        return (InMemoryTable if keep_in_memory else MemoryMappedTable).from_file(str(path))

    def one(spec: str) -> Any:
        parts = columns.read_tables(split_files, spec, open_table)
        hasher = Hasher()
        hasher.update(identity)
        hasher.update(spec)
        table = parts[0] if len(parts) == 1 else concat_tables(parts)
        return datasets.Dataset(table, info=info.copy(), split=datasets.Split(splits.normal(spec)),
                                fingerprint=hasher.hexdigest())

    if split is None:
        return datasets.DatasetDict({name: one(name) for name in split_files})
    if isinstance(split, (list, tuple)):
        return [one(s) for s in split]
    return one(split)
