"""A variant's verified split files read, and a reference variant's written, with pyarrow alone.

``import datasets`` costs 0.8-0.9 s, more than the gunzip and the exact encode of
a cold reference variant together on 2 cores, and ``load_numpy`` needs nothing
of it: a prepared cache is Arrow IPC streams and a ``dataset_info.json``, a
pulled copy parquet shards. So the numpy path (:func:`ldmnist_hub.load_numpy`,
every adapter, the evaluator) reads the verified files itself, with the split
grammar of :mod:`ldmnist_hub.loading.splits`, and a missing reference variant
is encoded into the same files ``datasets``' builder writes (the same bytes:
tested), so a later ``load_dataset`` finds them prepared.

Arrays cross into and out of Arrow through raw buffers: ``pa.array(ndarray)`` and
``Array.to_numpy()`` import pandas on first use (0.25-0.45 s).

Columns are copied out into 128-byte aligned arrays: a row of latent-32
(128 bytes) then spans two cache lines, not three, and a shuffled batch's
random rows gather 30% faster (``benchmarks/loaders.py``).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ldmnist_hub.core import paths
from ldmnist_hub.core.schema import DATASET_NAME, DESCRIPTION, HOMEPAGE, LDMNIST_CITATION
from ldmnist_hub.data import sources
from ldmnist_hub.errors import InvalidArgumentError, NotWritableError
from ldmnist_hub.loading import splits

if TYPE_CHECKING:
    import pyarrow as pa

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]
IndexedArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x, y, label, mnist_index
# What datasets' ArrowBasedBuilder writes: record batches of its writer_batch_size.
_BATCH_ROWS = 1000
_ALIGN = 128


def import_arrow() -> None:
    """Import what writing a cache needs (pyarrow: 0.1-0.2 s cold), ahead of its use.

    A cold build calls it while its raw files inflate on other threads, where it costs no time.
    """
    import pyarrow.ipc  # noqa: F401


def arrow_file(folder: Path, split: str) -> Path:
    """The Arrow stream of one split in a prepared cache folder (``ldmnist-train.arrow``)."""
    return folder / f"{DATASET_NAME}-{split}.arrow"


def aligned_empty(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on a 128-byte boundary."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + _ALIGN, np.uint8)
    start = -raw.ctypes.data % _ALIGN
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def column(tables: Sequence[pa.Table], name: str, dtype: type, width: int | None = None) -> np.ndarray:
    """One column of ``tables`` (concatenated) as a writable, aligned numpy array: one copy out of Arrow."""
    rows = sum(t.num_rows for t in tables)
    out = aligned_empty((rows, width) if width else (rows,), dtype)
    flat = out.reshape(-1)
    at = 0
    for table in tables:
        for chunk in table.column(name).chunks:
            # .values ignores a sliced chunk's offset, so slice it here (flatten() would import pyarrow.compute).
            values = chunk.values.slice(chunk.offset * width, len(chunk) * width) if width else chunk
            flat[at:at + len(values)] = _view(values, out.dtype)
            at += len(values)
    return out


def _view(values: pa.Array, dtype: np.dtype) -> np.ndarray:
    """A zero-copy numpy view of a primitive Arrow array (converted if it has nulls or another type)."""
    if values.null_count or values.type.bit_width != 8 * dtype.itemsize:
        return values.to_numpy(zero_copy_only=False).astype(dtype)
    return np.frombuffer(values.buffers()[1], dtype=dtype, count=len(values), offset=values.offset * dtype.itemsize)


def _array(a: np.ndarray, type_: pa.DataType) -> pa.Array:
    """A primitive Arrow array over ``a``'s buffer (no copy)."""
    import pyarrow as pa  # on use: importing the package (or the evaluator) stays light
    return pa.Array.from_buffers(type_, len(a), [None, pa.py_buffer(np.ascontiguousarray(a))])


def read_table(path: Path) -> pa.Table:
    """A pulled copy's parquet shard as one table, ``x`` and ``y`` as fixed-size lists.

    A repo may store ``x`` and ``y`` as variable-length lists (the pull checked that every row holds N values);
    every reader here expects the fixed-size lists a prepared cache holds, so they are rebuilt over the same
    values (no copy).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path, memory_map=True).read()  # pq.read_table imports pandas (via pyarrow.dataset)
    for name in ("x", "y"):
        if not pa.types.is_fixed_size_list(table.schema.field(name).type) and table.num_rows:
            lists = table.column(name).combine_chunks()
            values = lists.flatten()
            fixed = pa.FixedSizeListArray.from_arrays(values, len(values) // len(lists))
            table = table.set_column(table.schema.get_field_index(name), pa.field(name, fixed.type), fixed)
    return table


def _table(path: Path) -> pa.Table:
    """One split's table: an Arrow stream (a prepared cache) or a parquet shard (a pulled copy)."""
    import pyarrow as pa  # on use: importing the package (or the evaluator) stays light
    if path.suffix == ".parquet":
        return read_table(path)
    # Mapped afresh on every read (about 1 ms) and unmapped once the columns are copied out: a memo of
    # the mapping would keep the file's pages, another copy of the split, in this process's memory.
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_stream(source).read_all()


def read_tables(split_files: dict[str, Path], spec: str, open_table: Callable[[Path], Any] = _table) -> list[Any]:
    """The rows a (checked) split spec selects, as one table slice per ``+``-joined part.

    Args:
        split_files: the verified file of each split (Arrow stream or parquet shard).
        spec: a split spec in the grammar of :mod:`ldmnist_hub.loading.splits`.
        open_table: how a split's file is opened (default: a pyarrow table; ``datasets``' table classes for
            :func:`ldmnist_hub.loading.cache.read`).

    Raises:
        InvalidArgumentError: the spec selects no rows.
        FileNotFoundError: a split's file is missing.
    """
    named = dict.fromkeys(splits.names(spec))
    missing = [name for name in named if name not in split_files]
    if missing:
        raise InvalidArgumentError(f"this variant has no {missing[0]!r} split (it has {', '.join(split_files)}); "
                                   "pick one of those")
    tables = {name: open_table(split_files[name]) for name in named}
    selected = splits.rows(spec, {name: t.num_rows for name, t in tables.items()})
    return [tables[name].slice(start, max(0, stop - start)) for name, start, stop in selected]


def read_split(split_files: dict[str, Path], spec: str) -> Arrays:
    """``(x, y, label)`` of a split spec: float32 ``(n, N)``, float32 ``(n, N)``, int64 ``(n,)``, aligned copies."""
    tables = read_tables(split_files, spec)
    width = tables[0].schema.field("x").type.list_size
    return (column(tables, "x", np.float32, width), column(tables, "y", np.float32, width),
            column(tables, "label", np.int64))


def features(latent: int, class_names: Sequence[str]) -> dict:
    """The ``datasets`` features of a variant as ``Features.to_dict()`` gives them (``datasets`` >= 4)."""
    values = {"feature": {"dtype": "float32", "_type": "Value"}, "length": latent, "_type": "List"}
    return {"x": values, "y": dict(values), "label": {"names": list(class_names), "_type": "ClassLabel"},
            "mnist_index": {"dtype": "int64", "_type": "Value"}}


def _split_table(x: np.ndarray, y: np.ndarray, label: np.ndarray, mnist_index: np.ndarray, meta: dict) -> pa.Table:
    import pyarrow as pa  # on use: importing the package (or the evaluator) stays light
    n, latent = x.shape
    schema = pa.schema([("x", pa.list_(pa.float32(), latent)), ("y", pa.list_(pa.float32(), latent)),
                        ("label", pa.int64()), ("mnist_index", pa.int64())],
                       metadata={"huggingface": json.dumps({"info": {"features": meta}})})
    return pa.table([pa.FixedSizeListArray.from_arrays(_array(x.astype(np.float32, copy=False).reshape(-1),
                                                                pa.float32()), latent),
                     pa.FixedSizeListArray.from_arrays(_array(y.astype(np.float32, copy=False).reshape(-1),
                                                                pa.float32()), latent),
                     _array(label.astype(np.int64, copy=False), pa.int64()),
                     _array(mnist_index.astype(np.int64, copy=False), pa.int64())], schema=schema)


def write_cache(folder: Path, config_name: str, source: str, version: str,
                encoded: dict[str, IndexedArrays]) -> None:
    """Write a prepared cache folder as the ``datasets`` builder does: its Arrow streams, info and licence.

    Written in a sibling ``*.incomplete`` folder and renamed into place; the caller holds the variant's
    exclusive lock (so no reader is inside the folder it replaces) and records the files' sha256 afterwards.

    Raises:
        NotWritableError: the disk is full (nothing half-written is kept).
    """
    import pyarrow as pa  # on use: importing the package (or the evaluator) stays light
    src = sources.get_source(source)
    latent = next(iter(encoded.values()))[0].shape[1]
    meta = features(latent, src.classes)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = paths.shareable(Path(tempfile.mkdtemp(prefix=f"{folder.name}.", suffix=".incomplete", dir=folder.parent)))
    try:
        splits = {}
        for split, arrays in encoded.items():
            table = _split_table(*arrays, meta)
            with pa.OSFile(str(arrow_file(tmp, split)), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as out:
                out.write_table(table, max_chunksize=_BATCH_ROWS)
            splits[split] = {"name": split, "num_bytes": table.nbytes, "num_examples": table.num_rows,
                             "dataset_name": DATASET_NAME}
        major, minor, patch = (int(v) for v in version.split("."))
        size = sum(s["num_bytes"] for s in splits.values())
        info = {"description": DESCRIPTION, "citation": f"{src.citation}\n{LDMNIST_CITATION}", "homepage": HOMEPAGE,
                "license": src.license, "features": meta, "builder_name": DATASET_NAME,
                "dataset_name": DATASET_NAME, "config_name": config_name,
                "version": {"version_str": version, "major": major, "minor": minor, "patch": patch},
                "splits": splits, "download_size": 0, "dataset_size": size, "size_in_bytes": size}
        (tmp / "dataset_info.json").write_bytes(json.dumps(info).encode())
        if src.license:
            (tmp / "LICENSE").write_bytes(src.license.encode())
        paths.shareable(tmp)  # mkdtemp's folder is private; the cache is as readable as the rest of the home
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise NotWritableError(f"the disk holding {folder.parent} is full ({err.strerror}) while writing the "
                                   f"Arrow cache of {config_name}; free space there or point LDMNIST_HOME at a "
                                   "larger disk, then load again (nothing half-written is kept)") from err
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def dataset_arrays(ds: Any) -> Arrays:
    """``(x, y, label)`` of a loaded LD-MNIST ``datasets.Dataset`` through pyarrow (never per row).

    Slices (``split="test[:100]"``) are honoured: ``ds.data.table`` is already
    the selected rows unless the dataset carries an indices mapping. Arrow
    buffers are read-only (and memory-mapped); each column is copied once into
    one aligned, writable array.
    """
    if getattr(ds, "_indices", None) is not None:
        ds = ds.flatten_indices()
    table = ds.data.table
    width = ds.features["x"].length
    return (column([table], "x", np.float32, width), column([table], "y", np.float32, width),
            column([table], "label", np.int64))
