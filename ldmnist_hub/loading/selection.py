"""From what a caller typed to one variant: ``latent``/``name`` and the recipe keywords into a ``VariantConfig``.

The names ``ldmnist list`` prints (``latent-8-trained-1f5b3204``, ``latent-8-v2-0-0``)
are looked up here too, and :func:`build_command` gives back the command that
builds exactly a variant, for messages.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

from ldmnist_hub import store
from ldmnist_hub.core import paths, versions
from ldmnist_hub.core.config import (
    CANONICAL_SEED,
    CANONICAL_SOURCE,
    TrainConfig,
    VariantConfig,
    check_latent,
    is_plain_name,
    parse_config_name,
)
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.data import sources
from ldmnist_hub.errors import InvalidArgumentError, InvalidArgumentTypeError, NotFoundError


def resolve_variant(
    name: str | None = None,
    latent: int | None = None,
    *,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: TrainConfig | dict[str, Any] | None = None,
    retrain: bool = False,
    version: str | None = None,
) -> VariantConfig:
    """Turn ``load_dataset``'s ``name``/``latent`` arguments into a :class:`VariantConfig`.

    Raises:
        ValueError: invalid latent size, a malformed name, or a name and a
            latent that disagree (``name="latent-16", latent=32``).

    Examples:
        >>> resolve_variant("latent-16").latent
        16
    """
    # Only the canonical recipe is remembered: TrainConfig(class_lr=1) == TrainConfig(class_lr=1.0), but the two
    # JSON forms (and so the trained names) differ, and a memo must not make a name depend on call history.
    if train is None:
        try:  # the same keywords give the same (immutable) config: resolved once per process
            return _resolved(paths.REFERENCE_ROOT, name, latent, seed, source, retrain, version)
        except TypeError:
            pass  # an unhashable argument: the checks below say what is wrong with it
    return _resolve(name, latent, seed, source, train, retrain, version)


# typed: seed=True must not hit seed=1's entry (the checks refuse a bool); the reference root is in the key
# because the versions a name may take are those of the records under it.
@functools.lru_cache(maxsize=256, typed=True)
def _resolved(root: Path, name: str | None, latent: int | None, seed: int, source: str, retrain: bool,
              version: str | None) -> VariantConfig:
    return _resolve(name, latent, seed, source, None, retrain, version)


def _resolve(name: str | None, latent: int | None, seed: int, source: str,
             train: TrainConfig | dict[str, Any] | None, retrain: bool, version: str | None) -> VariantConfig:
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
    elif train is not None and not isinstance(train, TrainConfig):
        raise InvalidArgumentTypeError(
            f"train must be a dict of recipe fields or a TrainConfig, e.g. train={{'epochs': 2}}; got train={train!r} "
            "(on the command line: --set epochs=2)")
    return VariantConfig(latent=latent, seed=seed, source=source, train=train or TrainConfig(), retrain=retrain,
                         version=version)


_REFERENCE_DRAW = re.compile(r"^latent-(\d+)-seed-(\d+)$")
_EARLIER_VERSION = re.compile(r"^latent-(\d+)-v\d+-\d+-\d+$")
_BUILT_NAME = re.compile(r"^latent-\d+(-[a-z0-9]+)+$")


def lookup(name: str) -> tuple[VariantConfig, str | None]:
    """The variant a printed name stands for (as ``ldmnist list`` shows it), and its raw folder when not official.

    ``latent-N`` and ``latent-N-seed-S`` name reference variants; any other name
    (``latent-8-trained-1f5b3204``, ``...-data-<digest>``) is looked up among the
    variants built in ``$LDMNIST_HOME``.

    Raises:
        NotFoundError: no built variant has that name (the message says how to list them).
    """
    if is_plain_name(name):
        return resolve_variant(name), None
    if not isinstance(name, str) or not _BUILT_NAME.match(name):
        raise InvalidArgumentError(f"config name must look like 'latent-32' (or a name `ldmnist list` prints, such as "
                                   f"'latent-8-trained-1f5b3204'); got name={name!r}")
    draw = _REFERENCE_DRAW.match(name)
    if draw:
        return VariantConfig(latent=int(draw.group(1)), seed=int(draw.group(2))), None
    earlier = _EARLIER_VERSION.match(name)
    if earlier:  # latent-8-v2-0-0: an earlier version (its pulled stats describe it as it was current)
        return VariantConfig(latent=int(earlier.group(1)), version=versions.of_name(name)), None
    stats = store.variant_files(name).stats_or_none()
    if stats is None:
        raise NotFoundError(f"no variant named {name!r} is built in {paths.variants_dir()}; `ldmnist list` shows the "
                            "built ones (or pass latent=, seed=, train= to build one)",
                            cli=f"no variant named {name!r} is built in {paths.variants_dir()}; `ldmnist list` shows "
                                "the built ones (or select one with --latent, --seed, --set to build it)")
    config = VariantConfig.from_dict(stats["variant"])
    return config, stats.get("source_dir") if config.name != name else None


def build_command(variant: VariantConfig, data_dir: str | os.PathLike[str] | None = None) -> str:
    """The ``ldmnist build`` command that builds exactly ``variant`` (its seed, source, recipe and raw files).

    Examples:
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
