"""``load_dataset``: ``datasets.load_dataset`` with LD-MNIST variants built in.

``datasets`` 5 refuses dataset scripts and has no plugin hook, so this
function resolves ``"ldmnist"`` itself: it instantiates the builder in
``ldmnist_hub.builders.ldmnist`` with the variant's config, a cache id and a
hash of the code that produces the bytes, builds on first use and reloads from
the Arrow cache afterwards. Any other path goes straight to ``datasets``.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import paths
from .config import CANONICAL_SEED, CANONICAL_SOURCE, TrainConfig, VariantConfig, check_latent, parse_config_name

DATASET_NAME = "ldmnist"
SPLITS = ("train", "test")
DEFAULT_LATENT = 32
# Files whose content decides the produced bytes: a change in any invalidates caches.
_CODE_MODULES = ("builders.ldmnist", "config", "models", "train", "encode", "exact", "reference", "build", "_version")


@lru_cache(maxsize=1)
def builder_hash() -> str:
    """Hash of the builder and of the library code that determines a variant's bytes."""
    import importlib.util

    digest = hashlib.sha256()
    for mod in _CODE_MODULES:
        # find_spec locates builders/ both in a wheel and in an editable install.
        origin = importlib.util.find_spec(f"{__package__}.{mod}").origin
        digest.update(mod.encode() + b"\0" + Path(origin).read_bytes())
    from . import reference

    # The shipped records pin the reference bytes: new reference weights invalidate every cache of them.
    for latent in reference.available():
        record = reference.get(latent).root / reference.RECORD_FILE
        digest.update(f"reference-{latent}".encode() + b"\0" + record.read_bytes())
    return digest.hexdigest()[:16]


def resolve_variant(
    name: str | None = None,
    latent: int | None = None,
    *,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: TrainConfig | dict[str, Any] | None = None,
    retrain: bool = False,
) -> VariantConfig:
    """Turn ``load_dataset``'s ``name``/``latent`` arguments into a :class:`VariantConfig`.

    Raises:
        ValueError: invalid latent size, a malformed name, or a name and a
            latent that disagree (``name="latent-16", latent=32``).

    Example:
        >>> resolve_variant("latent-16").latent
        16
    """
    if latent is not None:
        check_latent(latent)
    if name is not None:
        from_name = parse_config_name(name)
        if latent is not None and latent != from_name:
            raise ValueError(
                f"name={name!r} asks for latent {from_name} but latent={latent!r}; pass only one of them"
            )
        latent = from_name
    if latent is None:
        latent = DEFAULT_LATENT
    if isinstance(train, dict):
        train = TrainConfig(**train)
    return VariantConfig(latent=latent, seed=seed, source=source, train=train or TrainConfig(), retrain=retrain)


def _check_split(split: Any) -> None:
    if split is None:
        return
    names = split if isinstance(split, (list, tuple)) else [split]
    for s in names:
        # Accept datasets' split syntax ("train[:100]", "train+test") but only our two splits.
        bases = [part.split("[", 1)[0].strip() for part in str(s).split("+")]
        if any(base not in SPLITS for base in bases):
            raise ValueError(
                f"unknown split {s!r} for ldmnist; allowed: 'train', 'test' (or slices like 'train[:1000]')"
            )


def _fingerprint_memo_path() -> Path:
    return paths.home_dir() / "fingerprints.json"


def source_is_official(source: str, data_dir: str | os.PathLike[str] | None) -> tuple[bool, str]:
    """Whether the local raw files are the official ones, and their short digest.

    Hashing ~12 MB of MNIST on every load would dominate a warm load, so the
    answer is memoised per folder, keyed by each file's size and mtime.
    """
    from . import sources

    src = sources.get_source(source)
    # The memo is consulted before resolve_dir, which verifies (hashes) the files.
    directory = Path(data_dir if data_dir is not None else os.environ[src.env_var])
    stamp = []
    for kinds in src.files.values():
        for f in kinds.values():
            for candidate in (directory / f.filename, directory / f.filename.removesuffix(".gz")):
                if candidate.is_file():
                    st = candidate.stat()
                    stamp.append([candidate.name, st.st_size, st.st_mtime_ns])
    key = f"{source}:{directory.resolve()}"
    memo_path = _fingerprint_memo_path()
    try:
        memo = json.loads(memo_path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        memo = {}
    entry = memo.get(key)
    if entry and entry["stamp"] == stamp:
        return entry["official"], entry["digest"]
    # data_dir (None for the env var) keeps resolve_dir's error naming where the folder came from.
    directory = sources.resolve_dir(source, data_dir)
    fingerprint = sources.source_fingerprint(source, directory)
    official = sources.is_official(source, fingerprint)
    digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:8]
    memo[key] = {"stamp": stamp, "official": official, "digest": digest}
    memo_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = memo_path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(memo))
    os.replace(tmp, memo_path)
    return official, digest


def variant_cache_id(variant: VariantConfig, data_dir: str | os.PathLike[str] | None = None) -> str:
    """Cache id of a variant built from ``data_dir`` (or the source's env var / download cache)."""
    from . import sources

    env_var = sources.get_source(variant.source).env_var
    if data_dir is None and not os.environ.get(env_var):
        # Only the official files are ever downloaded into our cache.
        return variant.name
    official, digest = source_is_official(variant.source, data_dir)
    return variant.name if official else f"{variant.name}-data-{digest}"


def get_builder(
    variant: VariantConfig,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    progress: bool = True,
    cache_id: str | None = None,
):
    """The ``datasets`` builder of a variant (not yet prepared)."""
    from .builders.ldmnist import Ldmnist

    cid = cache_id or variant_cache_id(variant, data_dir)
    return Ldmnist(
        cache_dir=str(paths.datasets_cache_dir()),
        dataset_name=DATASET_NAME,
        config_id=cid,
        hash=builder_hash(),
        name=cid,
        latent=variant.latent,
        seed=variant.seed,
        source=variant.source,
        training=json.dumps(variant.train.to_dict(), sort_keys=True),
        retrain=variant.retrain,
        data_dir=None if data_dir is None else str(data_dir),
        progress=progress,
    )


def load_dataset(
    path: str,
    name: str | None = None,
    *,
    latent: int | None = None,
    split: str | None = None,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: TrainConfig | dict[str, Any] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    build: bool = True,
    progress: bool = True,
    repo: str | None = None,
    retrain: bool = False,
    **kwargs: Any,
):
    """Load LD-MNIST (or any dataset) with ``datasets.load_dataset``'s shape and return types.

    Args:
        path: ``"ldmnist"`` for an LD-MNIST variant; anything else is passed to
            ``datasets.load_dataset`` unchanged (with ``name``, ``split``,
            ``data_dir`` and ``**kwargs``).
        name: config name such as ``"latent-16"``; alternative to ``latent``.
        latent: latent size 1..512 (default 32).
        split: ``"train"``, ``"test"`` or a slice like ``"test[:100]"``;
            ``None`` returns a ``DatasetDict`` with both.
        seed: for a reference variant, the posterior draw (0 is canonical; other
            seeds are other draws from the same weights, for error bars); for a
            trained variant, the training and encoding seed.
        source: raw data source (``"mnist"``; see ``ldmnist_hub.sources.SOURCES``).
        train: training recipe overrides (a :class:`TrainConfig` or dict of its fields).
        data_dir: folder with the raw IDX files; default ``$LDMNIST_MNIST_DIR``,
            else a verified download into the cache.
        build: build the variant if it is not cached (otherwise raise).
        progress: show progress bars while building.
        retrain: train new weights with the recipe instead of using the shipped
            reference weights; the result is named ``latent-N-trained-<digest>``,
            never ``latent-N``, and depends on the machine.
        repo: published repo to try before training a variant (a Hub dataset
            repo id or a local folder); default ``$LDMNIST_REPO``, none if unset.
            Pulled files are verified against the repo's sha256 manifest.
            Reference variants are always encoded locally.
        **kwargs: for ``"ldmnist"``, ``keep_in_memory``; otherwise anything
            ``datasets.load_dataset`` accepts.

    Returns:
        ``datasets.DatasetDict`` (``split=None``) or ``datasets.Dataset``.

    Raises:
        ValueError: bad latent, name/latent conflict, unknown split.
        FileNotFoundError: the variant is not built (nor published) and
            ``build=False``, or the raw data folder is missing.
        ldmnist_hub.pull.IntegrityError: a pulled file does not match the manifest.

    Example:
        >>> ds = load_dataset("ldmnist", latent=32)  # doctest: +SKIP
        >>> ds["train"][0]["label"]  # doctest: +SKIP
        5
    """
    if path != DATASET_NAME:
        import datasets

        return datasets.load_dataset(path, name, split=split, data_dir=data_dir, **kwargs)
    unknown = set(kwargs) - {"keep_in_memory"}
    if unknown:
        raise TypeError(f"load_dataset('ldmnist') got unexpected arguments {sorted(unknown)}")
    variant = resolve_variant(name, latent, seed=seed, source=source, train=train, retrain=retrain)
    _check_split(split)
    from . import store

    cid = variant_cache_id(variant, data_dir)
    builder = get_builder(variant, data_dir, progress=progress, cache_id=cid)
    prepared = os.path.exists(os.path.join(builder.cache_dir, "dataset_info.json"))
    keep = kwargs.get("keep_in_memory", False)
    files = store.variant_files(cid)
    complete = prepared and files.is_current(builder_hash())
    # A reference variant is encoded from the shipped weights (exact, seconds, checked against its record):
    # never pulled, and allowed even with build=False, which forbids training.
    if not complete and not variant.is_reference:
        from . import pull

        if pull.published_files(files) is not None:
            return pull.load_published(files, split, keep)
        why = _pull(variant, cid, pull.configured_repo(repo), build)
        if why is None:
            return pull.load_published(files, split, keep)
        if not build:
            raise FileNotFoundError(
                f"LD-MNIST variant {cid!r} is not built yet{why}; run `ldmnist build --latent {variant.latent}` "
                "or call load_dataset(..., build=True)"
            )
    if not complete:
        # A prepared dataset whose weights were deleted is rebuilt from scratch.
        builder.download_and_prepare(download_mode="force_redownload" if prepared else None)
    return builder.as_dataset(split=split, in_memory=keep)


def _pull(variant: VariantConfig, cid: str, repo: str | None, build: bool) -> str | None:
    """Try the published repo; None if the variant was pulled, else why not (for messages)."""
    from . import pull, store

    if repo is None:
        return ""
    if store.variant_files(cid).is_current(builder_hash()):
        # Our own current weights (only the Arrow cache is missing): re-encoding them beats replacing them.
        return ""
    if pull.offline():
        return f" (offline: not looking in {repo})"
    try:
        if pull.pull_variant(variant, cid, repo) is not None:
            return None
        return f" and {repo} does not publish it"
    except pull.PullUnavailable as err:
        if build:
            warnings.warn(f"{err}; building {variant.name} locally instead", stacklevel=3)
        return f" and pulling it failed: {err}"
