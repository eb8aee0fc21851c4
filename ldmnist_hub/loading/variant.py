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

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE, TrainConfig, VariantConfig
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.data import sources
from ldmnist_hub.errors import IntegrityError, InvalidArgumentTypeError, NotFoundError
from ldmnist_hub.hub.pull import published_files
from ldmnist_hub.loading.load import build_command, load_dataset, resolve_variant
from ldmnist_hub.store.files import VariantFiles, variant_files
from ldmnist_hub.store.identity import builder_hash, variant_cache_id


@dataclass(frozen=True)
class Variant:
    """One LD-MNIST variant: its config, where its raw files are, and whether it may be built here.

    Examples:
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


R = TypeVar("R")


# The keywords that select a variant, declared once (in resolve's signature): selects_variant copies them,
# less retrain (a rebuild is load_dataset's and the handle's business), and latent may be a resolved Variant.
_SELECTION = {name: p.replace(annotation="int | Variant") if name == "latent" else p
              for name, p in inspect.signature(resolve).parameters.items() if name != "retrain"}
SELECTION_KEYWORDS = tuple(name for name in _SELECTION if name != "latent")


def selects_variant(*, build: bool = True, progress: bool = True) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Decorator: a body taking a resolved ``variant`` becomes a public function taking the selection keywords.

    The body's ``variant`` parameter becomes ``latent`` (same position, default
    :data:`DEFAULT_LATENT`) and the seven keywords of :func:`resolve` (all but ``retrain``) are
    appended keyword-only, so each public function declares only what is its
    own. ``latent`` may also be an already resolved :class:`Variant`: a layer
    above hands it down, so the variant is resolved once per public call.
    ``build`` and ``progress`` are the function's defaults of ``build=`` and
    ``progress=`` (a picture or a benchmark of a built variant does not build).

    Raises:
        InvalidArgumentTypeError: a resolved variant passed with selection keywords beside it.

    Examples:
        >>> @selects_variant()
        ... def name_of(variant: Variant) -> str:
        ...     return variant.name
        >>> name_of(8), name_of(resolve(16))
        ('latent-8', 'latent-16')
    """
    def decorate(body: Callable[..., R]) -> Callable[..., R]:
        own = inspect.signature(body)
        params, keyword_only = [], []
        for p in own.parameters.values():
            if p.name == "variant":
                params.append(_SELECTION["latent"].replace(kind=p.kind))
            elif p.kind is not inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty \
                    and params and params[-1].name == "latent":
                # latent before a required argument (keras_mlp_regression(latent, test_x)) is required too.
                params[-1] = params[-1].replace(default=inspect.Parameter.empty)
                params.append(p)
            elif p.kind is inspect.Parameter.KEYWORD_ONLY:
                keyword_only.append(p)
            else:
                params.append(p)
        defaults = {"build": build, "progress": progress}
        selection = [p.replace(default=defaults.get(p.name, p.default)) for p in _SELECTION.values()
                     if p.name != "latent"]
        public = own.replace(parameters=[*params, *keyword_only, *selection])

        @functools.wraps(body)
        def wrapper(*args: Any, **kwargs: Any) -> R:
            bound = public.bind(*args, **kwargs)
            passed = {k: bound.arguments.pop(k) for k in SELECTION_KEYWORDS if k in bound.arguments}
            latent = bound.arguments.pop("latent", DEFAULT_LATENT)
            if isinstance(latent, Variant):
                if passed:
                    raise InvalidArgumentTypeError(
                        f"{body.__name__}() got the resolved variant {latent.name!r} and {', '.join(passed)}=; "
                        "pass either a resolved variant or the keywords that select one")
                variant = latent
            else:
                variant = resolve(latent, **{**defaults, **passed})
            bound.arguments["variant"] = variant
            return body(**{p: bound.arguments[p] for p in own.parameters if p in bound.arguments})

        wrapper.__signature__ = public  # type: ignore[attr-defined]
        wrapper.__annotations__ = {**{p.name: p.annotation for p in public.parameters.values()},
                                   "return": public.return_annotation}
        return wrapper
    return decorate
