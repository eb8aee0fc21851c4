"""Predictions saved to a file (``.npy``, ``.parquet``, ``.csv``), read into what the one evaluator scores.

``ldmnist evaluate --predictions FILE`` scores a file with :func:`ldmnist_hub.evaluate`, so the shell and
Python give the same numbers. Each format is read into an input :func:`~ldmnist_hub.scoring.evaluate.evaluate`
already takes, and its rules apply unchanged (a table with ``mnist_index`` is aligned by it, ``y_pred``
before ``y``, one numeric column per component):

- ``.npy``: one ``(n, N)`` array (``numpy.save``), read without pickles;
- ``.parquet``: an Arrow table (``df.to_parquet``, ``pyarrow.parquet.write_table``);
- ``.csv``: with a header (``DataFrame(pred).to_csv(path, index=False)``'s ``0,1,...`` included), an Arrow table
  (one column per component, ``mnist_index`` optional); without one
  (``numpy.savetxt(path, pred, delimiter=",")``), an ``(n, N)`` array; UTF-8 text.

Predictions files are untrusted, and every reader of one (``ldmnist evaluate``, ``submit``, ``leaderboard
verify``) reads it here: only a regular file is opened (a FIFO would block the reader, a device never ends),
and a ``.npy`` file's header is parsed and checked (:func:`read_npy`: dtype, shape, the bytes it declares
against the bytes the file holds) before a byte of its payload is read, never with pickles.
"""

from __future__ import annotations

import codecs
import io
import math
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ldmnist_hub.core.config import MAX_LATENT
from ldmnist_hub.core.types import PathArg
from ldmnist_hub.data.sources import SOURCES
from ldmnist_hub.errors import InvalidArgumentError, NotFoundError

FORMATS = (".npy", ".parquet", ".csv")
# numpy's own bound on a .npy header (numpy.lib.format's max_header_size); the magic string adds 12 bytes.
NPY_MAX_HEADER = 10_000
# The widest dtype accepted (float64, int64).
NPY_MAX_ITEMSIZE = 8
MAX_ROWS = max(sum(source.sizes.values()) for source in SOURCES.values())
# The most numbers a predictions file may declare: every row of a source at the largest latent (287 MB as float64).
MAX_ITEMS = MAX_ROWS * MAX_LATENT
_KINDS = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}


def open_regular(path: PathArg, what: str) -> BinaryIO:
    """``path`` opened for binary reading, if it is a regular file (a link to one included).

    A FIFO, device, socket or folder is refused before it is opened: opening a FIFO blocks until a writer
    comes, and a device such as ``/dev/zero`` never ends. The file is opened non-blocking and checked again
    once open, so one swapped in meanwhile is refused too.

    Examples:
        >>> with open_regular("preds.npy", "predictions file 'preds.npy'") as f:  # doctest: +SKIP
        ...     magic = f.read(6)

    Raises:
        NotFoundError: no such file.
        InvalidArgumentError: not a regular file, or it cannot be read (the message says what it is).
    """
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISREG(mode):
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            mode = os.fstat(fd).st_mode
            if stat.S_ISREG(mode):
                return os.fdopen(fd, "rb")
            os.close(fd)
    except FileNotFoundError:
        raise NotFoundError(f"{what} does not exist; check the path") from None
    except OSError as err:
        raise InvalidArgumentError(f"{what} cannot be read ({err.strerror or err})") from None
    raise InvalidArgumentError(f"{what} is {_KINDS.get(stat.S_IFMT(mode), 'not a regular file')}, not a regular "
                               "file; save the predictions to a file and pass that")


def _npy_header(f: BinaryIO, what: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` from a ``.npy`` header; nothing past the header is read."""
    from numpy.lib import format as npy

    try:
        version = npy.read_magic(f)
        if version == (1, 0):
            return npy.read_array_header_1_0(f, max_header_size=NPY_MAX_HEADER)
        if version == (2, 0):
            return npy.read_array_header_2_0(f, max_header_size=NPY_MAX_HEADER)
        raise ValueError(f"its format version is {version[0]}.{version[1]}; numpy.save writes 1.0 or 2.0")
    except (ValueError, TypeError, OverflowError, EOFError) as err:
        raise InvalidArgumentError(f"cannot read {what}: it is not a numpy .npy file of predictions ({err}); save "
                                   "them with numpy.save(path, predicted_y)") from None


def read_npy(data: bytes | PathArg, what: str,
             check_shape: Callable[[tuple[int, ...]], None] | None = None) -> np.ndarray:
    """Read an untrusted ``.npy`` file of predictions, judging its header before any of its payload.

    The header (at most numpy's 10,000 bytes) is parsed first: the dtype must be a plain float or integer
    of at most 8 bytes (no objects, no fields, never a pickle), the shape must pass ``check_shape`` (by
    default: at most 2 dimensions and :data:`MAX_ITEMS` numbers, what any split of any variant holds), and the
    bytes the header declares must be exactly what follows it. So a header claiming ``(1e11, 8)`` is refused
    in microseconds, and no more than the declared (bounded) size is ever read.

    Args:
        data: the file's path (a regular file: see :func:`open_regular`), or its bytes.
        what: how to name the file in errors.
        check_shape: raises :class:`InvalidArgumentError` for a declared shape the caller refuses.

    Returns:
        The array, in the file's dtype and order (a Fortran-ordered array is read in its own order).

    Examples:
        >>> read_npy("preds.npy", "predictions file 'preds.npy'").shape  # doctest: +SKIP
        (10000, 32)

    Raises:
        NotFoundError: no such file.
        InvalidArgumentError: not a regular file, not a ``.npy`` file, another dtype, a refused shape, or a
            size that disagrees with the header (the message names what was found).
    """
    f = io.BytesIO(data) if isinstance(data, bytes) else open_regular(data, what)
    with f:
        size = len(data) if isinstance(data, bytes) else os.fstat(f.fileno()).st_size
        shape, fortran, dtype = _npy_header(f, what)
        if dtype.hasobject or dtype.names is not None or dtype.subdtype is not None or dtype.kind not in "fiu" \
                or dtype.itemsize > NPY_MAX_ITEMSIZE:
            raise InvalidArgumentError(f"{what} must hold plain float or integer numbers of predicted y (e.g. "
                                       f"float32); its header declares dtype {dtype}")
        shape = tuple(shape)
        if check_shape is not None:
            check_shape(shape)
        _any_split(shape, what)  # whatever check_shape allows: never more than a split of any variant holds
        declared = math.prod(shape) * dtype.itemsize
        held = size - f.tell()
        payload = bytearray(declared if held == declared else 0)
        got = f.readinto(payload) if payload else 0
        if held != declared or got != declared or f.read(1):  # one byte more would show a file that grew
            raise InvalidArgumentError(f"{what} declares {declared} bytes of {dtype} data after its header but holds "
                                       f"{held}; the file is truncated or padded: save it again with numpy.save")
    arr = np.frombuffer(payload, dtype=dtype)
    return arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)


def _any_split(shape: tuple[int, ...], what: str) -> None:
    """Refuse a shape no split of any variant has: more than 2 dimensions or :data:`MAX_ITEMS` numbers."""
    if len(shape) > 2 or any(d < 0 for d in shape) or math.prod(shape) > MAX_ITEMS:
        raise InvalidArgumentError(
            f"{what} declares shape {shape}; predictions are an (n, N) array of one split: at most {MAX_ROWS} rows "
            f"of N <= {MAX_LATENT} numbers. Save them with numpy.save(path, predicted_y)")


def _check_utf8(f: BinaryIO, what: str) -> None:
    """Refuse a CSV that is not UTF-8 text, naming the first bad byte (then rewind)."""
    decoder, offset, held = codecs.getincrementaldecoder("utf-8")(), 0, 0
    try:
        while chunk := f.read(1 << 20):
            held = len(decoder.getstate()[0])  # bytes of a character split across chunks, decoded with this one
            decoder.decode(chunk)
            offset += len(chunk)
        held = len(decoder.getstate()[0])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as err:
        at = offset - held + err.start
        raise InvalidArgumentError(
            f"cannot read {what} as csv predictions: it is not UTF-8 text ('utf-8' codec: {err.reason}, byte "
            f"0x{err.object[err.start]:02x} at offset {at}); save it as UTF-8 (DataFrame.to_csv and numpy.savetxt "
            "write UTF-8)") from None
    f.seek(0)


def _csv_has_header(f: BinaryIO) -> bool:
    """True if the first line names columns: any cell not a number, or exactly ``0,1,...,k-1`` (k > 1), the
    header ``pandas.DataFrame(pred).to_csv(path, index=False)`` writes."""
    first = f.readline().decode("utf-8", errors="replace")
    f.seek(0)
    cells = [cell.strip() for cell in first.strip().split(",")]
    try:
        [float(cell) for cell in cells]
    except ValueError:
        return True
    return len(cells) > 1 and cells == [str(i) for i in range(len(cells))]


def read_predictions_file(path: str | os.PathLike[str]) -> Any:
    """The predictions in ``path`` as a numpy array or an Arrow table, by the file's suffix.

    Examples:
        >>> import ldmnist_hub as ld
        >>> ld.evaluate(read_predictions_file("preds.npy"), latent=8)  # doctest: +SKIP
        EvalResult(mse=0.7234, reconstructed_accuracy=0.3638, n=10000)

    Raises:
        NotFoundError: no such file.
        InvalidArgumentError: another suffix, not a regular file (a FIFO, a device), a ``.npy`` header that
            declares more than any split holds, a CSV that is not UTF-8, or a file that is not of its format
            (the message says how to write one).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in FORMATS:
        raise InvalidArgumentError(f"predictions file {str(p)!r} must end in {', '.join(FORMATS)}; save them with "
                                   "numpy.save, DataFrame.to_parquet or numpy.savetxt(path, pred, delimiter=',')")
    what = f"predictions file {str(p)!r}"
    if suffix == ".npy":
        return read_npy(p, what)
    try:
        with open_regular(p, what) as f:
            if suffix == ".parquet":
                import pyarrow.parquet as pq

                return pq.read_table(f)
            _check_utf8(f, repr(str(p)))
            if _csv_has_header(f):
                import pyarrow.csv as pcsv

                return pcsv.read_csv(f)
            return np.loadtxt(io.TextIOWrapper(f, encoding="utf-8"), delimiter=",", ndmin=2)
    except (InvalidArgumentError, NotFoundError):
        raise
    except (ValueError, OSError, EOFError) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise InvalidArgumentError(f"cannot read {str(p)!r} as {suffix[1:]} predictions ({err}); write an (n, N) "
                                   "array with numpy.save, a table with a 'y_pred' column (one array per row) or "
                                   "one column per component with DataFrame.to_parquet / to_csv") from None
