"""``load_dataset``: ``datasets.load_dataset`` with LD-MNIST variants built in.

``datasets`` 5 refuses dataset scripts and has no plugin hook, so this
function resolves ``"ldmnist"`` itself: it instantiates the builder in
``ldmnist_hub.builders.ldmnist`` with the variant's config, a cache id and a
hash of the code that produces the bytes, builds on first use and reloads from
the Arrow cache afterwards. Any other path goes straight to ``datasets``.
"""

from __future__ import annotations

import json
import os
import shlex
import warnings
from typing import Any

from ldmnist_hub.core import paths
from ldmnist_hub.core.config import (
    CANONICAL_SEED,
    CANONICAL_SOURCE,
    TrainConfig,
    VariantConfig,
    check_latent,
    parse_config_name,
)
from ldmnist_hub.core.schema import DATASET_NAME, DEFAULT_LATENT, SPLITS
from ldmnist_hub.data import sources
from ldmnist_hub.errors import InvalidArgumentError, InvalidArgumentTypeError, NotFoundError, PullUnavailable
from ldmnist_hub.hub.repo import configured_repo, is_local_target
from ldmnist_hub.store.identity import builder_hash, variant_cache_id


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
            raise InvalidArgumentError(
                f"name={name!r} asks for latent {from_name} but latent={latent!r}; pass only one of them"
            )
        latent = from_name
    if latent is None:
        latent = DEFAULT_LATENT
    sources.get_source(source)  # an unknown source: one error, listing the known ones, from every entry point
    if isinstance(train, dict):
        train = TrainConfig.from_dict(train)
    return VariantConfig(latent=latent, seed=seed, source=source, train=train or TrainConfig(), retrain=retrain)


def build_command(variant: VariantConfig, data_dir: str | os.PathLike[str] | None = None) -> str:
    """The ``ldmnist build`` command that builds exactly ``variant`` (its seed, source, recipe and raw files).

    Example:
        >>> build_command(VariantConfig(latent=8, seed=2))
        'ldmnist build --latent 8 --seed 2'
    """
    parts = ["ldmnist build", f"--latent {variant.latent}"]
    if variant.seed != CANONICAL_SEED:
        parts.append(f"--seed {variant.seed}")
    if variant.source != CANONICAL_SOURCE:
        parts.append(f"--source {variant.source}")
    if variant.retrain:
        parts.append("--retrain")
    parts += [f"--set {k}={json.dumps(v)}" for k, v in variant.train.overrides().items()]
    if data_dir is not None:
        parts.append(f"--mnist-dir {shlex.quote(str(data_dir))}")
    return " ".join(parts)


def _check_split(split: Any) -> None:
    if split is None:
        return
    names = split if isinstance(split, (list, tuple)) else [split]
    for s in names:
        # Accept datasets' split syntax ("train[:100]", "train+test") but only our two splits.
        bases = [part.split("[", 1)[0].strip() for part in str(s).split("+")]
        if any(base not in SPLITS for base in bases):
            raise InvalidArgumentError(
                f"unknown split {s!r} for ldmnist; allowed: 'train', 'test' (or slices like 'train[:1000]')"
            )


def get_builder(
    variant: VariantConfig,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    progress: bool = True,
    cache_id: str | None = None,
):
    """The ``datasets`` builder of a variant (not yet prepared)."""
    from ldmnist_hub.builders.ldmnist import Ldmnist

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
        ldmnist_hub.errors.IntegrityError: a pulled file does not match the manifest.

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
        raise InvalidArgumentTypeError(f"load_dataset('ldmnist') got unexpected arguments {sorted(unknown)}")
    variant = resolve_variant(name, latent, seed=seed, source=source, train=train, retrain=retrain)
    _check_split(split)
    from ldmnist_hub import store

    cid = variant_cache_id(variant, data_dir)
    builder = get_builder(variant, data_dir, progress=progress, cache_id=cid)
    prepared = os.path.exists(os.path.join(builder.cache_dir, "dataset_info.json"))
    keep = kwargs.get("keep_in_memory", False)
    files = store.variant_files(cid)
    complete = prepared and files.is_current(builder_hash())
    # A reference variant is encoded from the shipped weights (exact, seconds, checked against its record):
    # never pulled, and allowed even with build=False, which forbids training.
    if not complete and not variant.is_reference:
        from ldmnist_hub.hub import pull

        if pull.published_files(files) is not None:
            return pull.load_published(files, split, keep)
        why = _pull(variant, cid, configured_repo(repo), build)
        if why is None:
            return pull.load_published(files, split, keep)
        if not build:
            raise NotFoundError(
                f"LD-MNIST variant {cid!r} is not built yet{why}; run `{build_command(variant, data_dir)}` "
                "or call load_dataset(..., build=True)"
            )
    if not complete:
        # A prepared dataset whose weights were deleted is rebuilt from scratch.
        builder.download_and_prepare(download_mode="force_redownload" if prepared else None)
    return builder.as_dataset(split=split, in_memory=keep)


def _pull(variant: VariantConfig, cid: str, repo: str | None, build: bool) -> str | None:
    """Try the published repo; None if the variant was pulled, else why not (for messages)."""
    from ldmnist_hub import store
    from ldmnist_hub.hub import pull

    if repo is None:
        return ""
    if store.variant_files(cid).is_current(builder_hash()):
        # Our own current weights (only the Arrow cache is missing): re-encoding them beats replacing them.
        return ""
    if paths.offline() and not is_local_target(repo):
        return f" (offline: not looking in {repo})"
    try:
        if pull.pull_variant(variant, cid, repo) is not None:
            return None
        return f" and {repo} does not publish it"
    except PullUnavailable as err:
        if build:
            warnings.warn(f"{err}; building {variant.name} locally instead", stacklevel=3)
        return f" and pulling it failed: {err}"
