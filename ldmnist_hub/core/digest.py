"""The two digests the package records: of a file's bytes and of an array's values."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks.

    Raises:
        FileNotFoundError: ``path`` does not exist.

    Examples:
        >>> len(sha256_file("tests/fixtures/mnist-tiny/SHA256SUMS"))
        64
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# sha256 of files already read in this process, keyed by everything that changes when a file is
# replaced or rewritten: inode, size, mtime and ctime (``touch -r`` can restore an mtime, not a ctime).
_DIGESTS: dict[tuple[str, int, int, int, int], str] = {}


def file_identity(path: str | os.PathLike[str]) -> tuple[str, int, int, int, int]:
    """``(path, inode, size, mtime_ns, ctime_ns)`` of a file: equal only if it was not touched since."""
    st = os.stat(path)
    return str(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def identities(paths: list[Path]) -> tuple[tuple[str, int, int, int, int], ...] | None:
    """The :func:`file_identity` of each path, in order; None if one cannot be read (missing, say).

    A check that read exactly these files may be skipped while this tuple is unchanged: the trust
    :func:`memo_sha256` gives each file's digest.
    """
    try:
        return tuple(file_identity(p) for p in paths)
    except OSError:
        return None


def memo_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file, computed once per process for as long as its identity is unchanged."""
    key = file_identity(path)
    if key not in _DIGESTS:
        _DIGESTS[key] = sha256_file(path)
    return _DIGESTS[key]


def array_sha256(a: np.ndarray) -> str:
    """Hex sha256 of an array's dtype, shape and little-endian C-order bytes."""
    a = np.ascontiguousarray(a)
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()
