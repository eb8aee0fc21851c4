"""The two digests the package records: of a file's bytes and of an array's values."""

from __future__ import annotations

import hashlib
import os

import numpy as np

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks.

    Raises:
        FileNotFoundError: ``path`` does not exist.

    Example:
        >>> len(sha256_file("tests/fixtures/mnist-tiny/SHA256SUMS"))
        64
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def array_sha256(a: np.ndarray) -> str:
    """Hex sha256 of an array's dtype, shape and little-endian C-order bytes."""
    a = np.ascontiguousarray(a)
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()
