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
from pathlib import Path
from typing import Any

from . import hub_layout, store
from .config import VariantConfig

REPO_ENV = "LDMNIST_REPO"
PUBLISHED_DIR = "published"  # parquet shards of a pulled variant, inside its cache folder
ORIGIN_FILE = "origin.json"


class IntegrityError(RuntimeError):
    """A downloaded artifact does not match the sha256 in the repo's manifest."""


class PullUnavailable(RuntimeError):
    """The repo could not be read (unreachable, unauthorised, ...); the caller may build locally instead."""


def configured_repo(repo: str | None = None) -> str | None:
    """The published repo to pull from: ``repo``, else ``$LDMNIST_REPO``, else None (no pulling)."""
    return repo or os.environ.get(REPO_ENV) or None


def offline() -> bool:
    """True if the Hub must not be contacted."""
    flags = (os.environ.get(v, "").lower() for v in ("HF_HUB_OFFLINE", "LDMNIST_OFFLINE"))
    return any(f in ("1", "true", "yes", "on") for f in flags)


def published_files(files: store.VariantFiles) -> dict[str, Path] | None:
    """``{split: parquet path}`` of a pulled variant, or None if it was not pulled (or is incomplete)."""
    if not (files.root / ORIGIN_FILE).is_file() or not files.is_complete():
        return None
    shards = {s: files.root / PUBLISHED_DIR / f"{s}.parquet" for s in hub_layout.SPLITS}
    return shards if all(p.is_file() for p in shards.values()) else None


class _Reader:
    """Reads files of a published repo: a local folder or a Hub dataset repo."""

    def __init__(self, repo: str, revision: str | None, token: str | None, endpoint: str | None) -> None:
        from .publish import check_repo_id, is_local_target

        self.repo, self.revision = repo, revision
        self.folder = Path(repo).expanduser() if is_local_target(repo) else None
        if self.folder is None:
            from huggingface_hub import HfApi

            check_repo_id(repo)
            self.api = HfApi(endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None, token=token)

    def fetch(self, path: str) -> Path | None:
        """Local path of a repo file (downloaded into the Hub cache if remote), None if absent."""
        if self.folder is not None:
            p = self.folder / path
            return p if p.is_file() else None
        from huggingface_hub.errors import (
            HfHubHTTPError,
            LocalEntryNotFoundError,
            RemoteEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        try:
            return Path(self.api.hf_hub_download(self.repo, path, repo_type="dataset", revision=self.revision))
        except (RemoteEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError):
            return None
        except LocalEntryNotFoundError as err:  # the Hub could not be reached and nothing is cached
            raise PullUnavailable(f"cannot reach the Hub at {self.api.endpoint} for {self.repo}: {err}") from err
        except HfHubHTTPError as err:
            raise PullUnavailable(f"the Hub refused {self.repo}/{path}: {err}") from err
        except OSError as err:  # connection refused, DNS, timeouts (requests/httpx errors subclass OSError or wrap it)
            raise PullUnavailable(f"cannot reach the Hub for {self.repo}: {err}") from err


def pull_variant(
    variant: VariantConfig,
    cache_id: str,
    repo: str,
    *,
    revision: str | None = None,
    token: str | None = None,
    endpoint: str | None = None,
) -> store.VariantFiles | None:
    """Download ``variant`` from ``repo`` into the cache folder ``cache_id``, verifying every file.

    Returns:
        The installed variant's files, or None if the repo does not publish this
        variant (no manifest, no such config, or the config has another recipe).

    Raises:
        IntegrityError: a file's sha256 or size differs from the manifest's; nothing is installed.
        PullUnavailable: the repo cannot be read (network, authorisation).
    """
    try:
        reader = _Reader(repo, revision, token, endpoint)
        manifest_path = reader.fetch(hub_layout.MANIFEST)
    except PullUnavailable:
        raise
    except Exception as err:  # httpx/requests connection errors do not share one base class
        raise PullUnavailable(f"cannot read {repo}: {err}") from err
    if manifest_path is None:
        return None
    manifest = hub_layout.parse_manifest(manifest_path.read_text(), repo)
    entry = manifest["variants"].get(variant.name)
    if entry is None or entry.get("variant") != variant.to_dict():
        return None
    expected = entry["files"]
    config = variant.name
    wanted = {hub_layout.shard_path(config, s) for s in hub_layout.SPLITS}
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
        try:
            got = reader.fetch(path)
        except PullUnavailable:
            raise
        except Exception as err:
            raise PullUnavailable(f"cannot download {repo}/{path}: {err}") from err
        if got is None:
            raise IntegrityError(f"{repo}: {path} is listed in the manifest but missing from the repo")
        actual = hub_layout.file_entry(got)
        if actual != expected[path]:
            raise IntegrityError(
                f"{repo}: {path} does not match the manifest (sha256 {actual['sha256'][:16]}..., "
                f"{actual['size']} bytes; expected {expected[path]['sha256'][:16]}..., "
                f"{expected[path]['size']} bytes). "
                "The file was altered or corrupted; it was not used. Report it to the repo's owner, or build "
                f"locally with `ldmnist build --latent {variant.latent}`"
            )
        local[path] = got
    return _install(cache_id, config, local, {"repo": repo, "revision": revision or "main", "config": config})


def _install(cache_id: str, config: str, local: dict[str, Path], origin: dict[str, Any]) -> store.VariantFiles:
    """Copy verified files into the variant's cache folder, swapping the folder in with one rename."""
    final = store.variant_files(cache_id).root
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache_id}.", suffix=".pull", dir=final.parent))
    try:
        (tmp / "weights").mkdir()
        (tmp / PUBLISHED_DIR).mkdir()
        wdir = hub_layout.weights_dir(config) + "/"
        for path, src in local.items():
            if path.startswith(wdir):
                name = path[len(wdir):]
                dest = tmp / (store.STATS_FILE if name == "stats.json" else
                              name if name.endswith(".json") else f"weights/{name}")
            else:
                dest = tmp / PUBLISHED_DIR / f"{path.rsplit('/', 1)[-1].split('-', 1)[0]}.parquet"
            shutil.copyfile(src, dest)
        (tmp / ORIGIN_FILE).write_text(json.dumps(origin, indent=2) + "\n")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return store.variant_files(cache_id)


def load_published(files: store.VariantFiles, split: str | None, keep_in_memory: bool = False) -> Any:
    """The pulled parquet shards as a ``DatasetDict`` (or one split), with the variant's features."""
    import datasets

    from . import paths
    from .card import features

    shards = published_files(files)
    if shards is None:
        raise FileNotFoundError(f"no pulled copy under {files.root}")
    latent = VariantConfig.from_dict(files.stats()["variant"]).latent
    return datasets.load_dataset(
        "parquet", data_files={s: str(p) for s, p in shards.items()}, features=features(latent), split=split,
        cache_dir=str(paths.datasets_cache_dir()), keep_in_memory=keep_in_memory,
    )
