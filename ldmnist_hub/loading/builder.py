"""Training a variant with the ``datasets`` builder (:mod:`ldmnist_hub.builders.ldmnist`), and ``build --force``.

A reference variant needs no builder (its exact encode writes the same files,
:mod:`ldmnist_hub.loading.encoded`); a trained one is trained and encoded by
the builder's ``download_and_prepare``, run here under the variant's lock.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any

from ldmnist_hub import store
from ldmnist_hub.core import faults, paths
from ldmnist_hub.core.config import VariantConfig
from ldmnist_hub.core.locks import exclusive
from ldmnist_hub.core.schema import DATASET_NAME
from ldmnist_hub.errors import NotWritableError
from ldmnist_hub.store.identity import builder_hash, variant_cache_id


def get_builder(
    variant: VariantConfig,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    progress: bool = True,
    cache_id: str | None = None,
):
    """The ``datasets`` builder of a variant (not yet prepared)."""
    from ldmnist_hub.builders.ldmnist import Ldmnist

    cid = cache_id or variant_cache_id(variant, data_dir)
    return Ldmnist(
        cache_dir=str(paths.datasets_cache_dir()),
        dataset_name=DATASET_NAME,
        config_id=cid,
        hash=builder_hash(),
        name=cid,
        latent=variant.latent,
        seed=variant.seed,
        source=variant.source,
        training=json.dumps(variant.train.to_dict(), sort_keys=True),
        retrain=variant.retrain,
        data_dir=None if data_dir is None else str(data_dir),
        progress=progress,
    )


def prepare(builder: Any, progress: bool) -> None:
    """Prepare (encode and write) a builder's Arrow cache from scratch; the caller holds the variant's lock.

    Whatever a killed build left in the cache (a half-written ``.incomplete`` folder, data without weights)
    is removed first, so the result never mixes two builds.
    """
    import datasets

    cache_dir = Path(builder.cache_dir)
    for leftover in cache_dir.parent.glob(f"{cache_dir.name}*.incomplete"):
        shutil.rmtree(leftover, ignore_errors=True)
    was_enabled = datasets.utils.logging.is_progress_bar_enabled()
    if not progress:
        datasets.disable_progress_bars()  # --quiet: no "Generating split" bars either
    try:
        builder.download_and_prepare(download_mode="force_redownload" if cache_dir.exists() else None)
    except Exception as err:
        full = _disk_full(err)
        if full is None:
            raise
        for leftover in cache_dir.parent.glob(f"{cache_dir.name}*.incomplete"):
            shutil.rmtree(leftover, ignore_errors=True)
        need_mb = 70_000 * (8 * builder.config.latent + 16) / 1e6  # rows x (x and y float32, two int64)
        raise NotWritableError(
            f"the disk holding {paths.datasets_cache_dir()} is full ({full.strerror}) while writing the Arrow cache "
            f"of {builder.config.name} (about {need_mb:.0f} MB); free space there or point LDMNIST_HOME at a larger "
            "disk, then load again (nothing half-written is kept)") from err
    finally:
        if not progress and was_enabled:
            datasets.enable_progress_bars()


def _disk_full(err: BaseException) -> OSError | None:
    """The out-of-space ``OSError`` behind ``err`` (datasets wraps it in DatasetGenerationError), if any."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def rebuild(variant: VariantConfig, data_dir: str | os.PathLike[str] | None = None, *,
            progress: bool = True) -> store.VariantFiles:
    """Build a variant again from scratch (``ldmnist build --force``), holding its lock throughout.

    The weights, stats and Arrow cache are deleted under the lock and written again; a concurrent load
    waits, and a kill at any point leaves nothing that a later load would serve unverified.

    Returns:
        The variant's files (weights, stats and records), written again.
    """
    cid = variant_cache_id(variant, data_dir)
    builder = get_builder(variant, data_dir, progress=progress, cache_id=cid)
    files = store.variant_files(cid)
    with exclusive(store.variant_lock(cid), f"the variant {cid}", quiet=not progress):
        store.clean_leftovers(cid)
        shutil.rmtree(files.root, ignore_errors=True)
        shutil.rmtree(builder.cache_dir, ignore_errors=True)
        faults.point("force:deleted")
        prepare(builder, progress)
        store.record_arrow(files, Path(builder.cache_dir))
        return files
