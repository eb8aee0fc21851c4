"""Cut the tiny MNIST test fixture (tests/fixtures/mnist-tiny/) from the official files.

Writes the first 300 train and first 100 test images and labels as gzipped IDX
files with the official file names, deterministically (gzip mtime 0, no stored
name), plus a ``SHA256SUMS`` that vouches for them and a README.

Usage:
    python scripts/make_fixture.py [MNIST_DIR] [--out tests/fixtures/mnist-tiny]

MNIST_DIR defaults to $LDMNIST_MNIST_DIR, else ../shared/data/mnist (relative
to the repository root). Its files are checked against the official sha256.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
from pathlib import Path

import numpy as np

from ldmnist_hub.core.digest import sha256_file
from ldmnist_hub.data import sources

REPO_ROOT = Path(__file__).resolve().parent.parent
COUNTS = {"train": 300, "test": 100}
README = """\
# mnist-tiny: a test fixture cut from MNIST

The first {train} training and first {test} test images and labels of the
official MNIST files, in the original order, as gzipped IDX files with the
official file names. `SHA256SUMS` lists their sha256; `ldmnist_hub.data.sources`
checks a folder's files against it and then accepts counts other than the
official 60,000/10,000.

Data: the MNIST database (Y. LeCun, C. Cortes, C. J. C. Burges), CC BY-SA 3.0.

Made, byte for byte reproducibly, by:

    python scripts/make_fixture.py /path/to/mnist --out tests/fixtures/mnist-tiny
"""


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialize a uint8 array as IDX: zero magic, type 0x08, ndim, big-endian dims, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def gzip_bytes(data: bytes) -> bytes:
    """Gzip ``data`` deterministically: level 9, mtime 0, no file name in the header."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as f:
        f.write(data)
    return buffer.getvalue()


def make_fixture(mnist_dir: Path, out: Path) -> dict[str, str]:
    """Write the fixture into ``out`` and return ``{filename: sha256}``."""
    source = sources.get_source("mnist")
    found = sources.find_local(source, mnist_dir)
    out.mkdir(parents=True, exist_ok=True)
    sums = {}
    for split in sources.SPLITS:
        for kind in sources.KINDS:
            full = sources.read_idx(found[split][kind], expected_kind=kind, expected_count=source.sizes[split])
            name = source.files[split][kind].filename
            (out / name).write_bytes(gzip_bytes(idx_bytes(full[: COUNTS[split]])))
            sums[name] = sha256_file(out / name)
    (out / sources.CHECKSUMS_FILE).write_text("".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items())))
    (out / "README.md").write_text(README.format(**COUNTS))
    return sums


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_dir = os.environ.get("LDMNIST_MNIST_DIR") or str(REPO_ROOT.parent / "shared" / "data" / "mnist")
    parser.add_argument("mnist_dir", nargs="?", default=default_dir, help="folder with the official MNIST .gz files")
    parser.add_argument("--out", default=str(REPO_ROOT / "tests" / "data" / "mnist-tiny"), help="fixture folder")
    args = parser.parse_args()
    for name, digest in make_fixture(Path(args.mnist_dir), Path(args.out)).items():
        print(f"{digest}  {name}")


if __name__ == "__main__":
    main()
