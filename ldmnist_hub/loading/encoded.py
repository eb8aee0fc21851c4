"""A reference variant encoded from local raw files straight into its prepared Arrow cache.

``load_numpy`` and ``load_dataset`` both build a missing reference variant this way: the exact
encode (:func:`ldmnist_hub.produce.build.produce_splits`) and the files ``datasets``' builder would
write (:func:`ldmnist_hub.loading.columns.write_cache`, the same bytes), with no builder to make.
The caller names what it imports next as ``meanwhile``: it runs while the raw files inflate on
other threads (zlib releases the GIL), where it costs a cold load no time.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ldmnist_hub import store
from ldmnist_hub.core import faults
from ldmnist_hub.core.config import VariantConfig
from ldmnist_hub.data import sources
from ldmnist_hub.loading import cache, columns
from ldmnist_hub.produce import reference
from ldmnist_hub.produce.build import produce_splits, resolve_source
from ldmnist_hub.store.identity import builder_hash


def encodable_here(config: VariantConfig, data_dir: str | os.PathLike[str] | None) -> bool:
    """True for a reference variant whose weights ship (the current version's, or an earlier one's where the
    package keeps them) and whose raw files are here (no download, no pull)."""
    return (config.is_reference and (config.version is None or reference.get(config.latent, config.version) is not None)
            and (data_dir is not None or sources.local_dir(config.source) is not None))


def write_reference(
    config: VariantConfig, cid: str, data_dir: str | os.PathLike[str] | None, *, progress: bool,
    meanwhile: Callable[[], object] | None = None,
) -> None:
    """Encode the reference variant ``cid`` and write its prepared cache and the cache's record.

    The caller holds the variant's exclusive lock. ``meanwhile`` runs after pyarrow's import, beside
    the reading of the raw files.
    """
    def imports() -> None:
        columns.import_arrow()
        if meanwhile is not None:
            meanwhile()

    folder = cache.cache_dir(cid)
    data = resolve_source(config.source, data_dir)
    encoded = produce_splits(config, data, cid, builder_hash(), progress=progress, meanwhile=imports)
    columns.write_cache(folder, cid, config.source, cache.BUILDER_VERSION, encoded)
    store.record_arrow(store.variant_files(cid), folder)
    faults.point("build:arrow-recorded")
