"""One handle per variant: :func:`variant` resolves it once and every accessor hangs off the result.

Like ``tfds.builder("mnist")`` (``.info``, ``.as_dataset()``) or HF's
``load_dataset_builder``: the variant is selected once, then its files, stats,
splits, framework loaders, scorer and codecs are methods. The module functions
(:func:`ldmnist_hub.load_numpy`, :func:`ldmnist_hub.torch_loader`,
:func:`ldmnist_hub.evaluate`, ...) take the same resolved variant, so a method
and its module function give the same result; the methods are those functions
with the variant filled in (their signatures and docstrings, without the
selection keywords).

Examples:
    >>> import ldmnist_hub as ld
    >>> v = ld.variant(latent=32)
    >>> v.name, v.latent
    ('latent-32', 32)
    >>> x, y, label = v.numpy("test")  # doctest: +SKIP
    >>> v.evaluate(y).mse  # doctest: +SKIP
    0.0
"""

from __future__ import annotations

import functools
import inspect
from importlib import import_module
from typing import Any

from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.loading.variant import SELECTION_KEYWORDS, Variant, resolve
from ldmnist_hub.store.files import VariantFiles


class _Method:
    """A module function as a method of :class:`LDMNISTVariant`, the handle's resolved variant as its ``latent``.

    The module is imported on first use, so a handle costs no torch,
    tensorflow or jax import until one of their methods is called.
    """

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __get__(self, handle: LDMNISTVariant | None, owner: type) -> Any:
        if handle is None:
            return self
        func = getattr(import_module(f"ldmnist_hub.{self.module}"), self.name)
        params = list(inspect.signature(func).parameters.values())
        at = [p.name for p in params].index("latent")
        resolved = handle.resolved

        @functools.wraps(func)
        def method(*args: Any, **kwargs: Any) -> Any:
            if len(args) > at:  # a positional argument after latent: it goes after the variant
                return func(*args[:at], resolved, *args[at:], **kwargs)
            return func(*args, latent=resolved, **kwargs)

        kept = [p for p in params if p.name != "latent" and p.name not in SELECTION_KEYWORDS]
        method.__signature__ = inspect.signature(func).replace(parameters=kept)  # type: ignore[attr-defined]
        return method


class LDMNISTVariant:
    """A resolved LD-MNIST variant and everything that can be done with it; made by :func:`variant`.

    Attributes:
        resolved: the :class:`~ldmnist_hub.loading.variant.Variant` every method hands down (its ``seed``,
            ``source``, ``config`` and ``cache_id`` too).

    Examples:
        >>> v = variant(latent=8)
        >>> v.name, v.version is None or v.version.count(".") == 2
        ('latent-8', True)
    """

    def __init__(self, resolved: Variant) -> None:
        self.resolved = resolved

    def __repr__(self) -> str:
        return f"LDMNISTVariant({self.resolved.cache_id!r})"

    @property
    def name(self) -> str:
        """The variant's name, such as ``latent-32`` (its cache folder adds ``-data-<digest>`` for other raw files)."""
        return self.resolved.name

    @property
    def latent(self) -> int:
        """The latent size N: ``x`` and ``y`` are ``(n, N)``."""
        return self.resolved.latent

    @property
    def version(self) -> str | None:
        """The dataset version of a reference variant (current unless ``version=`` picked one); ``None`` if trained."""
        return self.resolved.config.dataset_version

    @property
    def files(self) -> VariantFiles:
        """Weights and stats of the variant, built (or pulled) first if needed and ``build=True``.

        Raises:
            NotFoundError: the variant is not built and ``build=False``.
        """
        return self.resolved.files()

    @property
    def stats(self) -> dict[str, Any]:
        """The variant's build record: its recipe (``"variant"``), ``"scores"``, split sizes and more."""
        return self.files.stats()

    def dataset(self, split: str | None = None) -> Any:
        """The variant as a Hugging Face ``DatasetDict`` (or a ``Dataset`` of one ``split``).

        Examples:
            >>> variant(latent=32).dataset("test[:10]").num_rows  # doctest: +SKIP
            10
        """
        from ldmnist_hub.loading.load import load_dataset

        return load_dataset("ldmnist", split=split, **self.resolved.load_kwargs())

    numpy = _Method("loading.arrays", "load_numpy")
    torch_dataset = _Method("adapters.torch_adapter", "torch_dataset")
    torch_loader = _Method("adapters.torch_adapter", "torch_loader")
    tf_dataset = _Method("adapters.tf_adapter", "tf_dataset")
    jax_arrays = _Method("adapters.jax_adapter", "jax_arrays")
    jax_loader = _Method("adapters.jax_adapter", "jax_loader")
    grain_source = _Method("adapters.grain_adapter", "grain_source")
    evaluate = _Method("scoring.evaluate", "evaluate")
    evaluate_model = _Method("scoring.evaluate", "evaluate_model")
    evaluate_draws = _Method("scoring.draws", "evaluate_draws")
    decode_images = _Method("scoring.codecs", "decode_images")
    decode_labels = _Method("scoring.codecs", "decode_labels")
    encode_images = _Method("scoring.codecs", "encode_images")


def variant(
    latent: int = DEFAULT_LATENT,
    *,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    retrain: bool = False,
    version: str | None = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
) -> LDMNISTVariant:
    """Select one LD-MNIST variant, resolved once, as a handle whose methods load, adapt, score and decode it.

    Resolving validates the keywords and builds nothing: the variant is
    built (or pulled) on first need, when ``build=True``.

    Args:
        latent, seed, source, train, data_dir, build, progress, version: select the variant, as in
            :func:`ldmnist_hub.load_numpy`.
        retrain: train it again even if it is cached, as in :func:`ldmnist_hub.load_dataset`.

    Raises:
        InvalidArgumentError: a bad latent, seed, recipe field, version or an unknown ``source``.

    Examples:
        >>> v = variant(latent=32)
        >>> x, y, label = v.numpy("train")  # doctest: +SKIP
        >>> loader = v.torch_loader(batch_size=256, shuffle_seed=0)  # doctest: +SKIP
        >>> v.evaluate(v.numpy("test")[1]).reconstructed_accuracy  # doctest: +SKIP
        0.998
    """
    return LDMNISTVariant(resolve(latent, seed=seed, source=source, train=train, retrain=retrain,
                                  data_dir=data_dir, build=build, progress=progress, version=version))

