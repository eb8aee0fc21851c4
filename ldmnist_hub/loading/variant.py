"""A variant resolved once and handed down: every entry point takes the same keywords and builds one of these.

``latent``, ``seed`` (the variant's seed: the posterior draw of a reference
variant, the training seed of a trained one), ``source``, ``train``,
``data_dir``, ``build`` and ``progress`` mean the same in every public call;
:func:`resolve` turns them into a :class:`Variant` that the scoring,
adapter, benchmark and picture layers use without re-deriving anything.
Random seeds of other things have their own names (``shuffle_seed``,
``sample_seed``, ``model_seed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE, TrainConfig, VariantConfig
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.data import sources
from ldmnist_hub.errors import IntegrityError, NotFoundError
from ldmnist_hub.hub.pull import published_files
from ldmnist_hub.loading.load import build_command, load_dataset, resolve_variant
from ldmnist_hub.store.files import VariantFiles, variant_files
from ldmnist_hub.store.identity import builder_hash, variant_cache_id


@dataclass(frozen=True)
class Variant:
    """One LD-MNIST variant: its config, where its raw files are, and whether it may be built here.

    Example:
        >>> v = resolve(latent=32)
        >>> v.name, v.class_names[:3]
        ('latent-32', ('0', '1', '2'))
    """

    config: VariantConfig
    data_dir: PathArg = None
    build: bool = True
    progress: bool = True

    @property
    def latent(self) -> int:
        return self.config.latent

    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def source(self) -> str:
        return self.config.source

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def class_names(self) -> tuple[str, ...]:
        """The label names of the variant's source (``"0"``..``"9"`` for MNIST)."""
        return sources.get_source(self.source).classes

    @cached_property
    def cache_id(self) -> str:
        """The variant's name, with ``-data-<digest>`` when built from non-official raw files."""
        return variant_cache_id(self.config, self.data_dir)

    def load_kwargs(self) -> dict[str, Any]:
        """The keywords of :func:`ldmnist_hub.load_dataset` that select this variant."""
        return {"latent": self.latent, "seed": self.seed, "source": self.source, "train": self.config.train,
                "retrain": self.config.retrain, "version": self.config.version, "data_dir": self.data_dir,
                "build": self.build, "progress": self.progress}

    def files(self) -> VariantFiles:
        """Weights and stats of the variant, building (or pulling) it first if needed and allowed.

        Raises:
            NotFoundError: the variant is not built and ``build=False``.
        """
        files = variant_files(self.cache_id)
        try:
            current = files.is_current(builder_hash())
        except IntegrityError:
            if not self.config.is_reference:
                raise
            current = False  # a damaged copy of shipped weights: load_dataset writes it again
        if not current and published_files(files) is None:
            # load_dataset builds (or raises NotFoundError naming the fix when build=False).
            load_dataset("ldmnist", split="test[:1]", **self.load_kwargs())
        return files

    def require(self, purpose: str) -> VariantFiles:
        """:meth:`files`, with a "not built" error that says what the variant was needed for."""
        try:
            return self.files()
        except FileNotFoundError as err:
            said = f"LD-MNIST variant {self.cache_id!r} is not built, so there is nothing to {purpose}; run " \
                   f"`{self.build_command()}` first, or "
            raise NotFoundError(said + "pass build=True", cli=said + "add --build") from err

    def build_command(self) -> str:
        """The ``ldmnist build`` command that builds exactly this variant."""
        return build_command(self.config, self.data_dir)

    def trained_with(self) -> TrainConfig:
        """The recipe the variant's weights were trained with, as its stats record it."""
        return VariantConfig.from_dict(self.files().stats()["variant"]).train


def resolve(
    latent: int = DEFAULT_LATENT,
    *,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    retrain: bool = False,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
    version: str | None = None,
) -> Variant:
    """Resolve the variant keywords every public entry point takes into one :class:`Variant`.

    Raises:
        InvalidArgumentError: a bad latent, seed, recipe field, or an unknown
            ``source`` (the message lists the known ones).
    """
    config = resolve_variant(latent=latent, seed=seed, source=source, train=train, retrain=retrain, version=version)
    return Variant(config, data_dir, build, progress)
