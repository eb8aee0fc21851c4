"""``load_dataset``: ``datasets.load_dataset`` with LD-MNIST variants built in.

``datasets`` 5 refuses dataset scripts and has no plugin hook, so this
function resolves ``"ldmnist"`` itself, into a
:class:`~ldmnist_hub.loading.variant.Variant` whose :meth:`dataset` decides
where the bytes come from (:mod:`ldmnist_hub.loading.origins`) and reads the
verified Arrow cache. Any other path goes straight to ``datasets``.
"""

from __future__ import annotations

import os
from typing import Any

from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE, TrainConfig, check_latent, is_plain_name
from ldmnist_hub.core.schema import DATASET_NAME
from ldmnist_hub.errors import InvalidArgumentError, InvalidArgumentTypeError
from ldmnist_hub.loading.builder import get_builder, prepare, rebuild
from ldmnist_hub.loading.selection import build_command, lookup, resolve_variant
from ldmnist_hub.loading.variant import Variant

# Kept importable from here, where they lived before 0.3 (the builder's run and the name lookup moved out).
__all__ = ["build_command", "get_builder", "load_dataset", "lookup", "prepare", "rebuild", "resolve_variant"]


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
    version: str | None = None,
    **kwargs: Any,
) -> Any:
    """Load LD-MNIST (or any dataset) with ``datasets.load_dataset``'s shape and return types.

    Args:
        path: ``"ldmnist"`` for an LD-MNIST variant; anything else is passed to
            ``datasets.load_dataset`` unchanged (with ``name``, ``split``,
            ``data_dir`` and ``**kwargs``).
        name: config name such as ``"latent-16"``, or any name ``ldmnist list`` prints
            (``"latent-8-trained-1f5b3204"``); alternative to ``latent``.
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
        version: the dataset version of a reference variant, e.g. ``"2.0.0"`` (default: the current one).
            Every released version gives its bytes forever: the current one from the shipped weights, an
            earlier one from a repo or mirror (``repo``) whose files equal that version's shipped record.
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

    Examples:
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
    if isinstance(name, str) and not is_plain_name(name):
        # A printed name such as latent-8-trained-1f5b3204: the variant it was built as, and from where.
        config, built_from = lookup(name)
        if latent is not None and check_latent(latent) != config.latent:
            raise InvalidArgumentError(f"name={name!r} is a latent-{config.latent} variant but latent={latent!r}; "
                                       "pass only one of them")
        data_dir = data_dir if data_dir is not None else built_from
    else:
        config = resolve_variant(name, latent, seed=seed, source=source, train=train, retrain=retrain,
                                 version=version)
    variant = Variant(config, data_dir, build, progress, repo)
    return variant.dataset(split, keep_in_memory=kwargs.get("keep_in_memory", False))
