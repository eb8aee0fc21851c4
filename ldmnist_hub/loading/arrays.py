"""LD-MNIST as numpy arrays, materialised from the Arrow data in one step.

Every adapter (torch, tf.data, JAX, Grain) and the evaluator start from :func:`load_numpy`:
the ``x``/``y`` columns are fixed-size lists of float32, so
``flatten().to_numpy()`` reads them as one contiguous buffer
(about 1 ms for 70k x 32) instead of iterating rows (about 100x slower).
This module imports neither torch nor tensorflow, and on the common paths
not ``datasets`` either (see :mod:`ldmnist_hub.loading.columns`): a built
variant is read from its verified Arrow files with pyarrow, and a reference
variant not yet built is encoded and written into the same files.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ldmnist_hub import store
from ldmnist_hub.core.locks import exclusive, shared
from ldmnist_hub.errors import IntegrityError, InvalidArgumentError
from ldmnist_hub.hub.pull import published_files
from ldmnist_hub.loading import cache, columns, encoded
from ldmnist_hub.loading.load import load_dataset
from ldmnist_hub.loading.variant import Variant, selects_variant
from ldmnist_hub.store.files import VariantFiles, variant_files
from ldmnist_hub.store.identity import builder_hash

# Weights of a variant, keyed by (variant folder, stats mtime, part): a rebuilt
# variant (new stats file) or another LDMNIST_HOME never hits a stale entry.
_DATASETS: dict[tuple[str, int, str, str], Any] = {}
_WEIGHTS: dict[tuple[str, int, str], dict[str, np.ndarray]] = {}


def _column(table: Any, name: str, dtype: type, width: int | None = None) -> np.ndarray:
    # Arrow buffers are read-only (and memory-mapped); users expect arrays they can
    # write. Copying the chunks' zero-copy views into one aligned array makes that one copy.
    return columns.column([table], name, dtype, width)


def dataset_arrays(ds: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, y, label)`` of a loaded LD-MNIST ``datasets.Dataset`` through pyarrow (never per row).

    Slices (``split="test[:100]"``) are honoured: ``ds.data.table`` is already
    the selected rows unless the dataset carries an indices mapping.
    """
    if getattr(ds, "_indices", None) is not None:
        ds = ds.flatten_indices()
    table = ds.data.table
    width = ds.features["x"].length
    return _column(table, "x", np.float32, width), _column(table, "y", np.float32, width), _column(
        table, "label", np.int64
    )


def split_arrays(variant: Variant, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One split of a resolved variant as numpy arrays (the body of :func:`load_numpy`)."""
    if not isinstance(split, str):
        raise InvalidArgumentError(f"split must be one string such as 'train' or 'test[:100]'; got split={split!r}")
    cache.check_split(split, variant.config)  # load_dataset's error for a bad split, before anything is built
    arrays = _without_datasets(variant, split)
    if arrays is not None:
        return arrays
    files = variant_files(variant.cache_id)
    code_hash = builder_hash()
    # Constructing the datasets builder costs ~10 ms, several times the copy itself;
    # a variant already loaded in this process (same folder, same stats file) reuses
    # its memory-mapped Dataset. A rebuilt or deleted variant misses the memo.
    try:
        key = (str(files.root), files.stats_path.stat().st_mtime_ns, code_hash, split)
    except FileNotFoundError:
        key = None
    try:
        usable = key is not None and (files.is_current(code_hash) or published_files(files) is not None)
    except (IntegrityError, OSError):
        # Damaged, or being rebuilt right now (this check takes no lock): load_dataset decides under its locks,
        # the same way for every entry point (waits out a writer, repairs a reference copy, else raises).
        usable = False
    ds = _DATASETS.get(key) if usable else None
    if ds is None:
        ds = load_dataset("ldmnist", split=split, **variant.load_kwargs())
        try:
            _DATASETS[(str(files.root), files.stats_path.stat().st_mtime_ns, code_hash, split)] = ds
        except FileNotFoundError:
            pass  # rebuilt or pulled elsewhere since: served, not remembered
    return dataset_arrays(ds)


def _without_datasets(variant: Variant, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The split read (or, for a reference variant, encoded and written) with pyarrow alone; None to ask datasets.

    The same locks and checks as :func:`ldmnist_hub.load_dataset`: a shared lock and the verified cache for
    a read, the variant's exclusive lock to write. ``datasets`` is asked for what only it defines or does:
    percent slices and empty selections, trained and published variants, damaged weights of a trained one.
    """
    if columns.parse_split(split) is None:
        return None
    cid = variant.cache_id
    files, folder = variant_files(cid), cache.cache_dir(cid)
    lock, what, quiet = store.variant_lock(cid), f"the variant {cid}", not variant.progress
    try:
        with shared(lock, what, quiet=quiet):
            if cache.ready(variant.config, files, folder):
                return columns.read_split(folder, split)
        if not encoded.encodable_here(variant.config, variant.data_dir):
            return None  # load_dataset pulls, trains, asks a mirror for a reference, or says how to build it
        with exclusive(lock, what, quiet=quiet):
            store.clean_leftovers(cid)
            if not cache.ready(variant.config, files, folder):  # another process may have built it meanwhile
                encoded.write_reference(variant.config, cid, variant.data_dir, progress=variant.progress)
            return columns.read_split(folder, split)
    except IntegrityError:
        return None  # load_dataset decides, as for every entry point: a reference copy is rewritten, else it raises


@selects_variant()
def load_numpy(variant: Variant, split: str = "train") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One split of LD-MNIST as numpy arrays.

    Args:
        latent: latent size N of the variant (default 32).
        split: ``"train"``, ``"test"`` or a slice such as ``"test[:100]"``.
        seed: the variant's seed (0 is canonical; for a reference variant, the posterior draw).
        source: the raw data source (``"mnist"``, ``"fashion_mnist"``; see ``ldmnist_hub.data.sources.SOURCES``).
        train: training recipe overrides of the variant (see :class:`TrainConfig`).
        data_dir: folder with the raw IDX files (default: the source's environment
            variable, such as ``$LDMNIST_MNIST_DIR``, or the download cache).
        build: build the variant if it is not cached (otherwise raise).
        progress: show progress bars while building.
        version: the dataset version of a reference variant (default: the current one); see
            :func:`ldmnist_hub.load_dataset`.

    Returns:
        ``(x, y, label)``: float32 ``(n, N)``, float32 ``(n, N)``, int64 ``(n,)``,
        all C-contiguous and writable.

    Raises:
        ValueError: bad latent, unknown source or unknown split.
        FileNotFoundError: the variant is not built and ``build=False``.

    Examples:
        >>> x, y, label = load_numpy(latent=32, split="train")  # doctest: +SKIP
        >>> x.shape, x.dtype, label.dtype  # doctest: +SKIP
        ((60000, 32), dtype('float32'), dtype('int64'))
    """
    return split_arrays(variant, split)


def variant_weights(files: VariantFiles, part: str) -> dict[str, np.ndarray]:
    """Tensors of one part of a variant as float32 arrays, cached per built variant."""
    key = (str(files.root), files.stats_path.stat().st_mtime_ns, part)
    if key not in _WEIGHTS:
        _WEIGHTS[key] = {k: np.asarray(v, dtype=np.float32) for k, v in files.weights(part).items()
                         if k != "num_batches_tracked" and not k.endswith(".num_batches_tracked")}
    return _WEIGHTS[key]
