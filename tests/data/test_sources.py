"""Specification of ldmnist_hub.data.sources, on the tiny MNIST fixture and (when present) the full data."""

from __future__ import annotations

import dataclasses
import gzip
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _support import TINY_DIR

from ldmnist_hub.core.schema import SOURCE_SPLITS as SPLITS
from ldmnist_hub.data import sources
from ldmnist_hub.data.sources import (
    KINDS,
    Source,
    SourceFile,
    download,
    find_local,
    get_source,
    load_split,
    read_idx,
    resolve_dir,
    sha256_file,
    source_fingerprint,
)
from ldmnist_hub.errors import SourceError

FIXTURE = TINY_DIR
FIXTURE_COUNTS = {"train": 300, "test": 100}
FIRST_LABELS = {"train": [5, 0, 4, 1, 9, 2, 1, 3, 1, 4], "test": [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]}
# Label counts of digits 0-9, from /work/shared/data/mnist/SOURCES.md.
LABEL_COUNTS = {
    "train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}
MNIST = get_source("mnist")
FULL_DIR = os.environ.get("LDMNIST_MNIST_DIR")
needs_full = pytest.mark.skipif(not FULL_DIR, reason="set LDMNIST_MNIST_DIR to the full MNIST folder to run this")


def fixture_path(split: str, kind: str) -> Path:
    return FIXTURE / MNIST.files[split][kind].filename


def raw_idx(split: str, kind: str) -> bytes:
    """Decompressed IDX bytes of a fixture file."""
    return gzip.decompress(fixture_path(split, kind).read_bytes())


def fixture_source(mirrors: tuple[str, ...]) -> Source:
    """The mnist row with the fixture's sha256 as the official ones, served by ``mirrors``."""
    files = {
        split: {kind: SourceFile(f.filename, sha256_file(FIXTURE / f.filename)) for kind, f in kinds.items()}
        for split, kinds in MNIST.files.items()
    }
    return dataclasses.replace(MNIST, files=files, mirrors=mirrors)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the cache at tmp, clear source/offline variables and proxies (the test server is local)."""
    monkeypatch.setenv("LDMNIST_HOME", str(tmp_path / "home"))
    for var in ("LDMNIST_MNIST_DIR", "LDMNIST_FASHION_MNIST_DIR", "HF_HUB_OFFLINE", "LDMNIST_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


class MirrorServer:
    """A local HTTP server with three mirrors under /broken/ (HTTP 500), /corrupt/ and /good/."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                mirror, _, name = self.path.strip("/").partition("/")
                local = FIXTURE / name
                if mirror == "broken" or not local.is_file():
                    self.send_error(500 if mirror == "broken" else 404)
                    return
                body = bytearray(local.read_bytes())
                if mirror == "corrupt":
                    body[len(body) // 2] ^= 0xFF
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(bytes(body))

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def mirror(self, name: str) -> str:
        return f"{self.base}{name}/"


@pytest.fixture
def server() -> Iterator[MirrorServer]:
    mirrors = MirrorServer()
    mirrors.thread.start()
    yield mirrors
    mirrors.httpd.shutdown()
    mirrors.httpd.server_close()


@pytest.mark.parametrize("split", SPLITS)
def test_read_idx_fixture_gives_shapes_dtypes_and_official_first_labels(split: str) -> None:
    images = read_idx(fixture_path(split, "images"), expected_kind="images", expected_count=FIXTURE_COUNTS[split])
    labels = read_idx(fixture_path(split, "labels"), expected_kind="labels", expected_count=FIXTURE_COUNTS[split])
    assert images.shape == (FIXTURE_COUNTS[split], 28, 28) and images.dtype == np.uint8
    assert labels.shape == (FIXTURE_COUNTS[split],) and labels.dtype == np.uint8
    assert labels[:10].tolist() == FIRST_LABELS[split]


@pytest.mark.parametrize("split", SPLITS)
def test_load_split_fixture_returns_uint8_images_and_int64_labels(split: str) -> None:
    images, labels = load_split("mnist", split, FIXTURE)
    assert images.shape == (FIXTURE_COUNTS[split], 28, 28) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels[:10].tolist() == FIRST_LABELS[split]


@needs_full
@pytest.mark.parametrize("split", SPLITS)
def test_full_mnist_label_counts_equal_sources_md(split: str) -> None:
    images, labels = load_split("mnist", split, FULL_DIR)
    assert images.shape == (MNIST.sizes[split], 28, 28)
    assert np.bincount(labels, minlength=10).tolist() == LABEL_COUNTS[split]
    assert labels[:10].tolist() == FIRST_LABELS[split]


@pytest.mark.parametrize("name", ["plain.idx", "plain.gz"])
def test_read_idx_detects_gzip_by_magic_bytes_not_suffix(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(raw_idx("test", "labels"))
    assert read_idx(path, expected_kind="labels")[:10].tolist() == FIRST_LABELS["test"]


@pytest.mark.parametrize("form", ["two members", "zero padding"])
def test_read_idx_reads_every_gzip_member_and_skips_zero_padding(tmp_path: Path, form: str) -> None:
    raw = raw_idx("test", "images")
    half = len(raw) // 2
    data = (gzip.compress(raw[:half]) + gzip.compress(raw[half:]) if form == "two members"
            else gzip.compress(raw) + b"\0" * 1000)
    path = tmp_path / "images.gz"
    path.write_bytes(data)
    got = read_idx(path, expected_kind="images")
    assert got.flags.writeable
    assert got.tobytes() == raw[16:]


def test_read_idx_gives_the_same_bytes_with_the_standard_librarys_zlib(monkeypatch: pytest.MonkeyPatch) -> None:
    import zlib

    from ldmnist_hub.data import idx

    fast = read_idx(fixture_path("test", "images"), expected_kind="images")
    monkeypatch.setattr(idx, "_inflate", zlib)  # a platform without zlib-ng's wheel
    np.testing.assert_array_equal(read_idx(fixture_path("test", "images"), expected_kind="images"), fast)
    assert fast.tobytes() == raw_idx("test", "images")[16:]


def test_read_idx_refuses_a_header_promising_more_than_any_idx_file_before_allocating(tmp_path: Path) -> None:
    path = tmp_path / "huge.idx"
    path.write_bytes(bytes([0, 0, 8, 9]) + b"\xff\xff\xff\xff" * 9 + b"\0" * 100)  # 9 dims of 2**32 - 1
    with pytest.raises(SourceError, match=r"huge.idx: header promises 4973\d+ bytes: it inflates to more than"):
        read_idx(path)


def test_read_idx_rejects_bytes_after_the_last_gzip_member(tmp_path: Path) -> None:
    path = tmp_path / "tail.gz"
    path.write_bytes(gzip.compress(raw_idx("test", "labels")) + b"junk")
    with pytest.raises(SourceError, match=r"tail.gz: corrupt gzip stream .*4 bytes after the last gzip member"):
        read_idx(path)


def test_read_idx_rejects_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "cut"
    path.write_bytes(raw_idx("test", "images")[:-10])
    with pytest.raises(SourceError, match=r"cut: truncated: header promises 78400 bytes, file has 78390"):
        read_idx(path, expected_kind="images")


def test_read_idx_rejects_trailing_bytes(tmp_path: Path) -> None:
    path = tmp_path / "long"
    path.write_bytes(raw_idx("test", "labels") + b"junk")
    with pytest.raises(SourceError, match=r"long: 4 trailing bytes: header promises 100 bytes, file has 104"):
        read_idx(path, expected_kind="labels")


def test_read_idx_rejects_labels_file_read_as_images() -> None:
    with pytest.raises(SourceError, match=r"t10k-labels-idx1-ubyte.gz: IDX file has 1 dimension\(s\); expected 3"):
        read_idx(fixture_path("test", "labels"), expected_kind="images")


@pytest.mark.parametrize(
    ("header", "message"),
    [(b"\x01\x00\x08\x01", r"bad IDX magic number 01000801"), (b"\x00\x00\x0d\x01", r"type byte 0x0d; expected 0x08")],
)
def test_read_idx_rejects_bad_magic_and_non_uint8_type(tmp_path: Path, header: bytes, message: str) -> None:
    path = tmp_path / "bad"
    path.write_bytes(header + raw_idx("test", "labels")[4:])
    with pytest.raises(SourceError, match=message):
        read_idx(path)


def test_read_idx_rejects_wrong_count() -> None:
    with pytest.raises(SourceError, match=r"100 items; expected 10000"):
        read_idx(fixture_path("test", "labels"), expected_kind="labels", expected_count=10000)


@pytest.mark.parametrize("cut", ["half", "flipped"])
def test_read_idx_rejects_corrupt_gzip_naming_file_and_fix(tmp_path: Path, cut: str) -> None:
    data = bytearray(fixture_path("test", "images").read_bytes())
    if cut == "half":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF
    path = tmp_path / "broken.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(SourceError, match=r"broken.gz: corrupt gzip stream .*Delete it and download it again"):
        read_idx(path)


def flipped_copy(tmp_path: Path, with_sums: bool) -> Path:
    """A copy of the fixture with one byte of the train labels flipped; keeps SHA256SUMS if asked."""
    directory = tmp_path / "copy"
    shutil.copytree(FIXTURE, directory)
    if not with_sums:
        (directory / "SHA256SUMS").unlink()
    target = directory / MNIST.files["train"]["labels"].filename
    data = bytearray(target.read_bytes())
    data[-12] ^= 0x01
    target.write_bytes(bytes(data))
    return directory


@pytest.mark.parametrize(
    ("with_sums", "expected"),
    [
        (True, r"train-labels-idx1-ubyte.gz: sha256 [0-9a-f]{64}, expected 80343520\w+ \(from .*SHA256SUMS\)"),
        (False, r"train-images-idx3-ubyte.gz: sha256 c56b7f2b\w+, expected 440fcabf\w+ \(from the official mnist"),
    ],
)
def test_find_local_rejects_wrong_checksum(tmp_path: Path, with_sums: bool, expected: str) -> None:
    """With SHA256SUMS a flipped byte fails its entry; without it the fixture fails the official sha256."""
    directory = flipped_copy(tmp_path, with_sums)
    with pytest.raises(SourceError, match=expected + r".*delete it and download or copy it again"):
        find_local(MNIST, directory)


def test_find_local_accepts_uncompressed_files(tmp_path: Path) -> None:
    for split in SPLITS:
        for kind in KINDS:
            (tmp_path / MNIST.files[split][kind].filename.removesuffix(".gz")).write_bytes(raw_idx(split, kind))
    found = find_local(MNIST, tmp_path)
    assert found["train"]["images"].name == "train-images-idx3-ubyte"
    with pytest.raises(SourceError, match=r"300 items; expected 60000"):
        load_split("mnist", "train", tmp_path)


def test_find_local_lists_missing_files(tmp_path: Path) -> None:
    shutil.copy(fixture_path("test", "labels"), tmp_path)
    missing = r"lacks train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz \("
    with pytest.raises(FileNotFoundError, match=missing):
        find_local(MNIST, tmp_path)


@pytest.mark.parametrize("origin", ["env", "arg"])
def test_missing_dir_error_names_env_var_and_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, origin: str
) -> None:
    missing = tmp_path / "nowhere"
    if origin == "env":
        monkeypatch.setenv("LDMNIST_MNIST_DIR", str(missing))
        match = r"^\$LDMNIST_MNIST_DIR: mnist folder .*nowhere does not exist; set LDMNIST_MNIST_DIR to"
    else:
        match = r"^the data_dir argument: mnist folder .*nowhere does not exist; set LDMNIST_MNIST_DIR to"
    with pytest.raises(FileNotFoundError, match=match):
        resolve_dir("mnist", missing if origin == "arg" else None)
    assert not missing.exists()


def test_resolve_dir_takes_env_var_before_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDMNIST_MNIST_DIR", str(FIXTURE))
    assert resolve_dir("mnist") == FIXTURE


def test_load_split_rejects_unknown_split() -> None:
    with pytest.raises(ValueError, match=r"unknown split 'validation'; allowed: 'train', 'test'"):
        load_split("mnist", "validation", FIXTURE)


def test_get_source_rejects_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"unknown source 'kmnist'; known sources: fashion_mnist, mnist"):
        get_source("kmnist")


def test_source_fingerprint_lists_sha256_of_files_used() -> None:
    expected = dict(reversed(line.split()) for line in (FIXTURE / "SHA256SUMS").read_text().splitlines())
    assert source_fingerprint("mnist", FIXTURE) == expected


@pytest.mark.parametrize("var", ["LDMNIST_OFFLINE", "HF_HUB_OFFLINE"])
def test_offline_with_nothing_cached_fails_without_network(
    server: MirrorServer, monkeypatch: pytest.MonkeyPatch, var: str
) -> None:
    monkeypatch.setenv(var, "1")
    monkeypatch.setattr(sources, "SOURCES", {"mnist": fixture_source((server.mirror("good"),))})
    with pytest.raises(SourceError, match=r"offline mode is on .*Set LDMNIST_MNIST_DIR .*or unset"):
        resolve_dir("mnist")
    assert server.requests == []


def test_download_tries_mirrors_in_order_and_verifies(server: MirrorServer, tmp_path: Path) -> None:
    source = fixture_source(tuple(server.mirror(m) for m in ("broken", "corrupt", "good")))
    dest = download(source, tmp_path / "dest", timeout=5, progress=False)
    names = [f.filename for split in SPLITS for f in source.files[split].values()]
    assert server.requests == [f"/{m}/{n}" for n in names for m in ("broken", "corrupt", "good")]
    assert sorted(p.name for p in dest.iterdir()) == sorted(names)
    assert find_local(source, dest)["test"]["labels"] == dest / "t10k-labels-idx1-ubyte.gz"
    server.requests.clear()
    download(source, dest, timeout=5, progress=True)
    assert server.requests == []


def test_download_when_all_mirrors_fail_lists_each_and_leaves_no_temp_files(
    server: MirrorServer, tmp_path: Path
) -> None:
    mirrors = (server.mirror("broken"), server.mirror("corrupt"))
    source = fixture_source(mirrors)
    dest = tmp_path / "dest"
    with pytest.raises(SourceError) as info:
        download(source, dest, timeout=5, progress=False)
    message = str(info.value)
    assert "could not download train-images-idx3-ubyte.gz" in message
    assert f"{mirrors[0]}train-images-idx3-ubyte.gz: HTTPError: HTTP Error 500" in message
    assert f"{mirrors[1]}train-images-idx3-ubyte.gz: SourceError: sha256 " in message
    assert "set LDMNIST_MNIST_DIR" in message
    assert list(dest.iterdir()) == []


def test_resolve_dir_downloads_into_cache_once(server: MirrorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "SOURCES", {"mnist": fixture_source((server.mirror("good"),))})
    first = resolve_dir("mnist")
    assert first == Path(os.environ["LDMNIST_HOME"]) / "sources" / "mnist"
    assert len(server.requests) == 4
    assert resolve_dir("mnist") == first and len(server.requests) == 4
