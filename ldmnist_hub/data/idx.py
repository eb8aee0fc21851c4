"""A strict reader of IDX files of unsigned bytes (the MNIST format), gzipped or not.

Its code shapes every produced byte, so it is part of the builder hash
(:func:`ldmnist_hub.store.identity.builder_hash`).
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ldmnist_hub.core.schema import IMAGE_SIDE
from ldmnist_hub.errors import InvalidArgumentError, SourceError

try:  # zlib-ng inflates the same bytes 1.6x faster than the system zlib (the train images: 0.16 s against 0.26 s)
    from zlib_ng import zlib_ng as _inflate
except ImportError:  # pragma: no cover - a platform without its wheel: the standard library's zlib
    _inflate = zlib

KINDS: tuple[str, ...] = ("images", "labels")
IMAGE_SHAPE: tuple[int, int] = (IMAGE_SIDE, IMAGE_SIDE)

_GZIP_MAGIC = b"\x1f\x8b"
_IDX_UINT8 = 0x08
_NDIM = {"images": 3, "labels": 1}
# The largest IDX file we read (60,000 images of 28x28 is 47 MB); anything bigger is refused.
MAX_IDX_BYTES = 256 * 1024 * 1024
_PIECE = 1 << 20


def _inflated(path: Path, data: bytes) -> Iterator[bytes]:
    """The gunzipped bytes of ``data`` (every gzip member, zero padding allowed), in pieces of at most 1 MiB.

    zlib (or zlib-ng) inflates with the GIL released, so files read on threads inflate side by side; the pieces let
    the caller fill its array as they come (no whole-file ``bytes`` and copy of it, 0.05 s of MNIST's
    train images) and stop as soon as the header's promise is exceeded (a gzip bomb is never inflated).
    """
    try:
        while data:
            stream = _inflate.decompressobj(wbits=31)  # 31: a gzip header and trailer around the deflate data
            pending = data
            while not stream.eof:
                piece = stream.decompress(pending, _PIECE)
                pending = stream.unconsumed_tail
                if piece:
                    yield piece
                elif not pending:
                    raise EOFError("compressed file ended before the end-of-stream marker was reached")
            data = stream.unused_data.lstrip(b"\0")  # gzip allows zero padding after a member
            if data and not data.startswith(_GZIP_MAGIC):
                raise gzip.BadGzipFile(f"{len(data)} bytes after the last gzip member are not a gzip member")
    except (EOFError, gzip.BadGzipFile, zlib.error, _inflate.error) as e:
        raise SourceError(
            f"{path}: corrupt gzip stream ({type(e).__name__}: {e}); expected a complete gzip file. "
            "Delete it and download it again (or copy it again from a good source)."
        ) from e


def _pieces(path: Path) -> Iterator[bytes | memoryview]:
    """The bytes of ``path``, gunzipped when it starts with the gzip magic bytes, in pieces."""
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(_GZIP_MAGIC):
        yield from _inflated(path, data)
    else:
        view = memoryview(data)
        yield from (view[at:at + _PIECE] for at in range(0, len(data), _PIECE))


def _bomb(path: Path, promise: str = "") -> SourceError:
    return SourceError(f"{path}: {promise}inflates to more than {MAX_IDX_BYTES} bytes, far beyond any MNIST-like "
                       "IDX file; not the original file. Delete it and get the original again.")


def read_idx(
    path: str | os.PathLike[str],
    *,
    expected_kind: str | None = None,
    expected_count: int | None = None,
) -> np.ndarray:
    """Read an IDX file of unsigned bytes, strictly.

    The file may be gzipped; that is told by its first bytes (``1f 8b``), not by
    its name. The header must have two zero magic bytes, the type byte ``0x08``
    (uint8) and its dimensions; the payload must be exactly as long as the
    dimensions promise.

    Args:
        path: The IDX file, gzipped or not.
        expected_kind: ``"images"`` requires 3 dimensions with 28x28 images,
            ``"labels"`` requires 1 dimension; ``None`` accepts any.
        expected_count: Required number of items (first dimension), or ``None``.

    Returns:
        A writable uint8 array: ``(n, 28, 28)`` for images, ``(n,)`` for labels.

    Raises:
        ValueError: ``expected_kind`` is not ``"images"``, ``"labels"`` or ``None``.
        FileNotFoundError: ``path`` does not exist.
        SourceError: the file is not a valid IDX file of the expected kind and count.

    Examples:
        >>> labels = read_idx("tests/fixtures/mnist-tiny/t10k-labels-idx1-ubyte.gz", expected_kind="labels")
        >>> labels[:3].tolist()
        [7, 2, 1]
    """
    if expected_kind is not None and expected_kind not in _NDIM:
        raise InvalidArgumentError(f"expected_kind must be one of {KINDS} or None, got {expected_kind!r}")
    path = Path(path)
    pieces = _pieces(path)
    data = b""
    for piece in pieces:  # the header: 4 bytes, then 4 per dimension (pieces are far longer than that)
        data += bytes(piece)
        if len(data) >= 4 and len(data) >= 4 + 4 * data[3]:
            break
    fix = "Delete it and get the original file again."
    if len(data) < 4:
        raise SourceError(f"{path}: truncated: {len(data)} bytes, shorter than the 4-byte IDX magic number. {fix}")
    if data[0] != 0 or data[1] != 0:
        raise SourceError(
            f"{path}: bad IDX magic number {data[:4].hex()}; expected it to start with 0000. "
            f"Not an IDX file? {fix}"
        )
    if data[2] != _IDX_UINT8:
        raise SourceError(f"{path}: IDX type byte 0x{data[2]:02x}; expected 0x08 (unsigned byte). {fix}")
    ndim = data[3]
    if expected_kind is not None and ndim != _NDIM[expected_kind]:
        raise SourceError(
            f"{path}: IDX file has {ndim} dimension(s); expected {_NDIM[expected_kind]} for {expected_kind}. "
            "Are the images and labels files swapped?"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise SourceError(f"{path}: truncated: header needs {header} bytes, file has {len(data)}. {fix}")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    if expected_kind == "images" and dims[1:] != IMAGE_SHAPE:
        raise SourceError(f"{path}: images of {dims[1:]} pixels; expected {IMAGE_SHAPE}. {fix}")
    promised = math.prod(dims)  # Python integers: a hostile header cannot overflow it
    if header + promised > MAX_IDX_BYTES:
        raise _bomb(path, f"header promises {promised} bytes: it ")
    # The payload goes straight into the (writable) array the caller gets, piece by piece.
    out = np.empty(promised, np.uint8)
    present = min(len(data) - header, promised)
    out[:present] = np.frombuffer(data, np.uint8, count=present, offset=header)
    extra = len(data) - header - present
    for piece in pieces:
        take = min(len(piece), promised - present)
        out[present:present + take] = np.frombuffer(piece, np.uint8, count=take)
        present += take
        extra += len(piece) - take
        if header + present + extra > MAX_IDX_BYTES:
            raise _bomb(path)
    if present < promised:
        raise SourceError(f"{path}: truncated: header promises {promised} bytes, file has {present}. {fix}")
    if extra:
        raise SourceError(
            f"{path}: {extra} trailing bytes: header promises {promised} bytes, file has {present + extra}. {fix}"
        )
    if expected_count is not None and dims[0] != expected_count:
        raise SourceError(f"{path}: {dims[0]} items; expected {expected_count}. {fix}")
    return out.reshape(dims)
