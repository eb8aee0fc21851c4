"""Raw MNIST-like data as uint8 arrays: sources as data, a strict IDX reader, local dirs, downloads.

Each source (MNIST, Fashion-MNIST) is one row of :data:`SOURCES`: its four
gzipped IDX files with their sha256, the mirrors that serve them, the class
names and the environment variable that points at a local copy. Adding a
source is adding a row, not code.

Where the files come from (:func:`resolve_dir`), first match wins:

1. the ``data_dir`` argument,
2. the source's environment variable (``LDMNIST_MNIST_DIR``, ...),
3. the download cache ``$LDMNIST_HOME/sources/<name>/`` if it holds valid files,
4. a download from the mirrors into that cache (refused when
   ``HF_HUB_OFFLINE`` or ``LDMNIST_OFFLINE`` is set).

Checksum rule (:func:`find_local`): a directory may hold a ``SHA256SUMS`` file
in ``sha256sum`` format. Files it lists are checked against it, and the
directory is then taken to hold its own data (e.g. the tiny test fixture), so
split sizes are not enforced. Files it does not list are checked against the
official sha256 of the table (a ``.gz`` file) or, when uncompressed, only by the
strict IDX reader and the official split size.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import numpy as np

from ldmnist_hub.core import paths
from ldmnist_hub.core.digest import array_sha256, memo_sha256, sha256_file
from ldmnist_hub.core.schema import SOURCE_SPLITS
from ldmnist_hub.data.idx import KINDS, read_idx
from ldmnist_hub.errors import InvalidArgumentError, NotFoundError, SourceError

CHECKSUMS_FILE = "SHA256SUMS"
_CHUNK = 1 << 20
_OFFLINE_VARS = "HF_HUB_OFFLINE/LDMNIST_OFFLINE"


@dataclasses.dataclass(frozen=True)
class SourceFile:
    """One file of a source.

    Attributes:
        filename: Name of the gzipped file, e.g. ``"train-images-idx3-ubyte.gz"``.
        sha256: sha256 of the official gzipped file, as the mirrors serve it.
        alt_sha256: Other known-good gzip encodings of the same IDX bytes (e.g.
            a distribution's repackaged copy); accepted in a local directory.
    """

    filename: str
    sha256: str
    alt_sha256: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Source:
    """A MNIST-like source, declared as data.

    Attributes:
        name: Key in :data:`SOURCES` and folder name of its download cache.
        files: ``files[split][kind]`` for split ``"train"``/``"test"`` and kind
            ``"images"``/``"labels"``.
        sizes: Number of examples of each split in the official files.
        mirrors: Base URLs, each ending in ``/``, tried in order.
        classes: Class names, indexed by label.
        env_var: Environment variable naming a local folder with the files.
        license: Licence of the data, as a Hub license identifier (``cc-by-sa-3.0``, ``mit``).
        homepage: Where the data is described.
        citation: BibTeX of the reference to cite.
        hub_dataset: the source's dataset on the Hugging Face Hub (for a card's ``source_datasets``).
        license_note: where the licence comes from, for a card (the Hub copies state others sometimes).
        label_sha256: :func:`labels_digest` of each split's official labels, in file order: a pulled
            variant's labels are checked against it without the raw files (a few bytes per source).
    """

    name: str
    files: dict[str, dict[str, SourceFile]]
    sizes: dict[str, int]
    mirrors: tuple[str, ...]
    classes: tuple[str, ...]
    env_var: str
    license: str
    homepage: str
    citation: str
    hub_dataset: str = ""
    license_note: str = ""
    label_sha256: dict[str, str] = dataclasses.field(default_factory=dict)


_MNIST_CITATION = """\
@article{lecun1998gradient,
  title={Gradient-based learning applied to document recognition},
  author={LeCun, Yann and Bottou, L{\\'e}on and Bengio, Yoshua and Haffner, Patrick},
  journal={Proceedings of the IEEE},
  volume={86},
  number={11},
  pages={2278--2324},
  year={1998}
}"""

_FASHION_MNIST_CITATION = """\
@article{xiao2017fashion,
  title={Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning Algorithms},
  author={Xiao, Han and Rasul, Kashif and Vollgraf, Roland},
  journal={arXiv preprint arXiv:1708.07747},
  year={2017}
}"""

SOURCES: dict[str, Source] = {
    "mnist": Source(
        name="mnist",
        files={
            "train": {
                "images": SourceFile(
                    "train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
                ),
                "labels": SourceFile(
                    "train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
                ),
            },
            "test": {
                "images": SourceFile(
                    "t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
                ),
                "labels": SourceFile(
                    "t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
                ),
            },
        },
        sizes={"train": 60000, "test": 10000},
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        classes=tuple(str(d) for d in range(10)),
        env_var="LDMNIST_MNIST_DIR",
        license="cc-by-sa-3.0",
        homepage="http://yann.lecun.com/exdb/mnist/",
        citation=_MNIST_CITATION,
        hub_dataset="ylecun/mnist",
        license_note=("MNIST's page states CC BY-SA 3.0 (Yann LeCun and Corinna Cortes); the Hub's ylecun/mnist card "
                      "says mit. This derivative follows the original page: cc-by-sa-3.0, which also allows it."),
        label_sha256={"train": "709bf8e34a5eecad0ba9e319b1d154e9069f3e5492f2bb65e5da9a7ce1e406b2",
                      "test": "bc4f9655c228502ea84fb679f1b5c618ad81c0ca308f62e8b89621010716f3d7"},
    ),
    # sha256: the official files (md5 as published by Zalando Research). The
    # alt_sha256 are Debian's `dataset-fashion-mnist` copies: same deflate
    # stream, gzip header rewritten (no file name, mtime 2020-06-05).
    "fashion_mnist": Source(
        name="fashion_mnist",
        files={
            "train": {
                "images": SourceFile(
                    "train-images-idx3-ubyte.gz",
                    "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                    ("b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",),
                ),
                "labels": SourceFile(
                    "train-labels-idx1-ubyte.gz",
                    "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                    ("0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",),
                ),
            },
            "test": {
                "images": SourceFile(
                    "t10k-images-idx3-ubyte.gz",
                    "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                    ("cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",),
                ),
                "labels": SourceFile(
                    "t10k-labels-idx1-ubyte.gz",
                    "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                    ("8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",),
                ),
            },
        },
        sizes={"train": 60000, "test": 10000},
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        ),
        classes=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        env_var="LDMNIST_FASHION_MNIST_DIR",
        license="mit",
        homepage="https://github.com/zalandoresearch/fashion-mnist",
        citation=_FASHION_MNIST_CITATION,
        hub_dataset="zalando-datasets/fashion_mnist",
        license_note="Fashion-MNIST is released under the MIT licence by Zalando Research.",
        label_sha256={"train": "88995d042facf70155ca62b7a88dd4014d224cd706334779814e1776a30f60f3",
                      "test": "33177131bc427da42cf335c3e428fe9353fa2ed1a70f539380e18ac1faa5b3a9"},
    ),
}


def get_source(name: str) -> Source:
    """Return the source declared under ``name``.

    Args:
        name: A key of :data:`SOURCES`, e.g. ``"mnist"``.

    Returns:
        The :class:`Source` row.

    Raises:
        ValueError: ``name`` is not a known source.

    Examples:
        >>> get_source("mnist").sizes["test"]
        10000
    """
    if name not in SOURCES:
        raise InvalidArgumentError(f"unknown source {name!r}; known sources: {', '.join(sorted(SOURCES))}")
    return SOURCES[name]


def labels_digest(labels: np.ndarray) -> str:
    """The recorded digest of a split's labels (:attr:`Source.label_sha256`): ``array_sha256`` of them as int64.

    Examples:
        >>> _, labels = load_split("mnist", "test", "tests/fixtures/mnist-tiny")
        >>> len(labels_digest(labels))
        64
    """
    return array_sha256(np.asarray(labels, dtype=np.int64))


def _read_checksums(directory: Path) -> dict[str, str]:
    """Entries of ``directory/SHA256SUMS`` (``sha256sum`` format) as ``{filename: sha256}``; empty if absent."""
    sums_path = directory / CHECKSUMS_FILE
    if not sums_path.is_file():
        return {}
    sums = {}
    for number, line in enumerate(sums_path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition(" ")
        if not sep or len(digest) != 64:
            raise SourceError(
                f"{sums_path}:{number}: expected '<sha256>  <filename>' (sha256sum format), got {line!r}. "
                "Fix or delete that line."
            )
        sums[name.strip().lstrip("*")] = digest.lower()
    return sums


def _missing_files_hint(source: Source) -> str:
    names = ", ".join(f.filename for split in SOURCE_SPLITS for f in source.files[split].values())
    return f"set {source.env_var} to a folder holding {names} (gzipped, or uncompressed without .gz)"


def find_local(source: Source, directory: str | os.PathLike[str]) -> dict[str, dict[str, Path]]:
    """Find and checksum the files of ``source`` in a local folder.

    Each file may be there as ``<name>.gz`` (preferred) or uncompressed as
    ``<name>``. Expected checksums: the folder's ``SHA256SUMS`` entry if it lists
    the file, else for a ``.gz`` the table's official sha256 (or a known
    repackaged copy's). An uncompressed file not listed in ``SHA256SUMS`` is not
    hashed; the strict reader and the split-size check of :func:`load_split`
    guard it instead.

    Args:
        source: The source whose files to look for.
        directory: The folder to look in.

    Returns:
        ``paths[split][kind]`` for every split and kind.

    Raises:
        FileNotFoundError: the folder or some of its files are missing.
        SourceError: a file's sha256 differs from the expected one.

    Examples:
        >>> found = find_local(get_source("mnist"), "tests/fixtures/mnist-tiny")
        >>> found["test"]["labels"].name
        't10k-labels-idx1-ubyte.gz'
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise NotFoundError(
            f"{source.name} folder {directory} does not exist; {_missing_files_hint(source)}, "
            f"or leave {source.env_var} unset to download into {paths.sources_dir(source.name)}"
        )
    found: dict[str, dict[str, Path]] = {split: {} for split in SOURCE_SPLITS}
    missing = []
    for split in SOURCE_SPLITS:
        for kind in KINDS:
            gz_path = directory / source.files[split][kind].filename
            raw_path = gz_path.with_suffix("")
            for candidate in (gz_path, raw_path):
                if candidate.is_symlink() and not candidate.exists():
                    raise SourceError(f"{candidate} is a broken symbolic link (or a link loop); point it at the "
                                      "real file, or copy the file there")
            if gz_path.is_file() or raw_path.is_file():
                found[split][kind] = gz_path if gz_path.is_file() else raw_path
            else:
                missing.append(gz_path.name)
    if missing:
        raise NotFoundError(
            f"{directory} lacks {', '.join(missing)} (looked for each as .gz and uncompressed); "
            f"{_missing_files_hint(source)}"
        )
    checksums = _read_checksums(directory)
    for split in SOURCE_SPLITS:
        for kind in KINDS:
            entry, path = source.files[split][kind], found[split][kind]
            if path.name in checksums:
                expected: tuple[str, ...] = (checksums[path.name],)
                origin = str(directory / CHECKSUMS_FILE)
            elif path.name == entry.filename:
                expected = (entry.sha256, *entry.alt_sha256)
                origin = f"the official {source.name} checksums"
            else:
                continue
            actual = memo_sha256(path)  # once per process while the file is untouched
            if actual not in expected:
                raise SourceError(
                    f"{path}: sha256 {actual}, expected {' or '.join(expected)} (from {origin}). "
                    "The file is corrupt or not the original: delete it and download or copy it again."
                )
    return found


def _fetch(url: str, target: Path, sha256: str, *, timeout: float, progress: bool) -> None:
    """Download ``url`` to ``target`` atomically, verifying its sha256; leaves nothing behind on failure."""
    with tempfile.NamedTemporaryFile(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False
    ) as tmp:
        tmp_path = Path(tmp.name)
        try:
            digest = _stream(url, tmp, target.name, timeout=timeout, progress=progress)
        except BaseException:
            tmp.close()
            tmp_path.unlink(missing_ok=True)
            raise
    if digest != sha256:
        tmp_path.unlink()
        raise SourceError(f"sha256 {digest}, expected {sha256}")
    os.replace(paths.shareable(tmp_path), target)


def _stream(url: str, out: IO[bytes], desc: str, *, timeout: float, progress: bool) -> str:
    """Copy ``url`` into ``out`` chunk by chunk, with an optional tqdm bar; return the sha256 of the bytes."""
    import urllib.request  # on use: http.client, ssl and email cost a cold load 20-30 ms to import

    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = response.headers.get("Content-Length")
        bar = None
        if progress:
            import tqdm  # a hard dependency, imported only when a bar is drawn

            bar = tqdm.tqdm(total=int(total) if total else None, unit="B", unit_scale=True, desc=desc)
        try:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
    return digest.hexdigest()

def download(
    source: Source,
    dest: str | os.PathLike[str] | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    timeout: float = 30.0,
    progress: bool = True,
) -> Path:
    """Download the missing or invalid files of ``source``, verified and atomically.

    Files already in ``dest`` with the table's sha256 are kept. Every other
    file is fetched from each mirror in turn into a temporary file in ``dest``,
    hashed while written, and renamed into place only if its sha256 matches.

    Args:
        source: The source to download.
        dest: Target folder; default ``paths.sources_dir(source.name)``.
        mirrors: Base URLs (ending in ``/``) to try in order; default ``source.mirrors``.
        timeout: Seconds to wait on each connection or read.
        progress: Draw a tqdm progress bar per file.

    Returns:
        The folder holding all four verified ``.gz`` files.

    Raises:
        SourceError: offline mode is on and files are missing (no network is
            touched), or every mirror failed for some file.

    Examples:
        >>> folder = download(get_source("mnist"))  # doctest: +SKIP
        >>> sorted(p.name for p in folder.glob("*.gz"))[0]  # doctest: +SKIP
        't10k-images-idx3-ubyte.gz'
    """
    import http.client  # on use, as urllib in _stream

    dest = Path(dest) if dest is not None else paths.sources_dir(source.name)
    mirrors = tuple(source.mirrors if mirrors is None else mirrors)
    wanted = [source.files[split][kind] for split in SOURCE_SPLITS for kind in KINDS]
    todo = [f for f in wanted if not ((dest / f.filename).is_file() and sha256_file(dest / f.filename) == f.sha256)]
    if not todo:
        return dest
    names = ", ".join(f.filename for f in todo)
    if paths.offline():
        raise SourceError(
            f"offline mode is on ({_OFFLINE_VARS} is set), so {names} cannot be downloaded into {dest}. "
            f"Set {source.env_var} to a folder holding them, or unset {_OFFLINE_VARS} to allow the download."
        )
    dest.mkdir(parents=True, exist_ok=True)
    for entry in todo:
        failures = []
        for mirror in mirrors:
            url = mirror + entry.filename
            try:
                _fetch(url, dest / entry.filename, entry.sha256, timeout=timeout, progress=progress)
            except (OSError, http.client.HTTPException, SourceError) as e:
                failures.append(f"  {url}: {type(e).__name__}: {e}")
                continue
            break
        else:
            tried = f"could not download {entry.filename} into {dest}; every mirror failed:\n" + "\n".join(failures)
            get = f"\nGet a copy some other way and set {source.env_var} to its folder"
            raise SourceError(f"{tried}{get} (or pass data_dir).", cli=f"{tried}{get} (or pass --mnist-dir).")
    return dest


def _locate(source: Source, data_dir: str | os.PathLike[str] | None) -> tuple[Path, dict[str, dict[str, Path]]]:
    """The folder :func:`resolve_dir` picks and the files :func:`find_local` found in it."""
    if data_dir is not None:
        origin, directory = ("the data_dir argument", "--mnist-dir"), Path(data_dir)
    elif os.environ.get(source.env_var):
        origin, directory = (f"${source.env_var}",) * 2, Path(os.environ[source.env_var])
    else:
        cache = paths.sources_dir(source.name)
        try:
            return cache, find_local(source, cache)
        except (FileNotFoundError, SourceError):
            directory = download(source, cache)
            return directory, find_local(source, directory)
    try:
        return directory, find_local(source, directory)
    except FileNotFoundError as e:
        raise NotFoundError(f"{origin[0]}: {e}", cli=f"{origin[1]}: {e}") from e


def local_dir(source_name: str = "mnist") -> Path | None:
    """The folder :func:`resolve_dir` would use without downloading (the environment variable's, else the
    download cache), or None when neither holds valid files. Never downloads, never raises for missing files."""
    source = get_source(source_name)
    env = os.environ.get(source.env_var)
    for directory in ([Path(env)] if env else []) + [paths.sources_dir(source.name)]:
        try:
            find_local(source, directory)
            return directory
        except (OSError, SourceError):
            continue
    return None


def resolve_dir(source_name: str = "mnist", data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder holding valid files of a source, downloading only into the cache.

    Order: ``data_dir``; else the source's environment variable; else the
    download cache if it holds valid files; else :func:`download` into it.
    Folders from ``data_dir`` or the environment are never downloaded into.

    Args:
        source_name: A key of :data:`SOURCES`.
        data_dir: Explicit folder with the files, or ``None``.

    Returns:
        The folder; its files passed :func:`find_local`.

    Raises:
        ValueError: unknown ``source_name``.
        FileNotFoundError: the explicit or environment folder lacks files
            (the message says which of the two it came from).
        SourceError: a checksum fails, or the download is impossible.

    Examples:
        >>> resolve_dir("mnist", "tests/fixtures/mnist-tiny").name
        'mnist-tiny'
    """
    return _locate(get_source(source_name), data_dir)[0]


def load_split(
    source_name: str, split: str, data_dir: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of a source as arrays.

    Count rule: images and labels must have the same count; files checked
    against the official table (or uncompressed ones, which have no checksum)
    must also hold exactly ``source.sizes[split]`` items. Files vouched for by
    the folder's ``SHA256SUMS`` (a subset such as the test fixture) may hold any
    count.

    Args:
        source_name: A key of :data:`SOURCES`.
        split: ``"train"`` or ``"test"``.
        data_dir: Explicit folder with the files; see :func:`resolve_dir`.

    Returns:
        ``(images, labels)``: uint8 ``(n, 28, 28)`` and int64 ``(n,)``.

    Raises:
        ValueError: unknown source or split.
        FileNotFoundError: see :func:`resolve_dir`.
        SourceError: a file is corrupt, fails its checksum or has the wrong count.

    Examples:
        >>> images, labels = load_split("mnist", "test", "tests/fixtures/mnist-tiny")
        >>> images.shape, labels.dtype
        ((100, 28, 28), dtype('int64'))
    """
    source = get_source(source_name)
    if split not in SOURCE_SPLITS:
        raise InvalidArgumentError(f"unknown split {split!r}; allowed: {', '.join(repr(s) for s in SOURCE_SPLITS)}")
    directory, found = _locate(source, data_dir)
    vouched = _read_checksums(directory)
    files = found[split]
    counts = {kind: None if files[kind].name in vouched else source.sizes[split] for kind in KINDS}
    images = read_idx(files["images"], expected_kind="images", expected_count=counts["images"])
    labels = read_idx(files["labels"], expected_kind="labels", expected_count=counts["labels"])
    if len(images) != len(labels):
        raise SourceError(
            f"{files['images']} holds {len(images)} images but {files['labels']} holds {len(labels)} labels; "
            "expected equal counts. Replace both with files from the same release."
        )
    if len(labels) == 0:
        raise SourceError(f"{files['labels']} holds no items; expected the {split} split of {source.name}. "
                          "Replace it with the original file.")
    if int(labels.max()) >= len(source.classes):
        raise SourceError(
            f"{files['labels']} holds label {int(labels.max())}; {source.name} has {len(source.classes)} classes "
            f"(labels 0..{len(source.classes) - 1}). Replace it with the original file.")
    return images, labels.astype(np.int64)


def source_fingerprint(source_name: str, data_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """sha256 of the files a source's data would be read from, for provenance.

    Args:
        source_name: A key of :data:`SOURCES`.
        data_dir: Explicit folder with the files; see :func:`resolve_dir`.

    Returns:
        ``{filename: sha256}`` of the four files actually used.

    Raises:
        ValueError: unknown source.
        FileNotFoundError: see :func:`resolve_dir`.
        SourceError: a checksum fails, or the download is impossible.

    Examples:
        >>> fp = source_fingerprint("mnist", "tests/fixtures/mnist-tiny")
        >>> sorted(fp)[0]
        't10k-images-idx3-ubyte.gz'
    """
    _, found = _locate(get_source(source_name), data_dir)
    return {path.name: memo_sha256(path) for kinds in found.values() for path in kinds.values()}


def is_official(source_name: str, fingerprint: dict[str, str]) -> bool:
    """True if ``fingerprint`` (from :func:`source_fingerprint`) names the official files of a source.

    Byte-different copies of the same content listed in the table (``alt_sha256``,
    e.g. Debian's re-gzipped Fashion-MNIST) count as official.

    Examples:
        >>> is_official("mnist", source_fingerprint("mnist", "tests/fixtures/mnist-tiny"))
        False
    """
    source = get_source(source_name)
    table = {f.filename: {f.sha256, *f.alt_sha256} for kinds in source.files.values() for f in kinds.values()}
    return set(fingerprint) == set(table) and all(fingerprint[name] in table[name] for name in table)
