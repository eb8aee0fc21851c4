"""Old spellings that keep working for one release (until 0.3), each with a ``FutureWarning``.

Modules moved into subpackages in 0.2 (``ldmnist_hub.pull`` is now
``ldmnist_hub.hub.pull``, ...), and modules moved since (``ldmnist_hub.benchmark.leaderboard``
is now ``ldmnist_hub.benchmark.run``, ``ldmnist_hub.publish.leak`` is
``ldmnist_hub.submissions.leak``); an import of an old path gets the new module
itself, so ``from ldmnist_hub.pull import IntegrityError`` and
``ldmnist_hub.plots.make_plots`` still work. Renamed keywords go through
:func:`renamed_keywords` and :func:`seed_selects_the_variant`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

from ldmnist_hub.errors import InvalidArgumentTypeError

F = TypeVar("F", bound=Callable[..., Any])


REMOVAL = "0.3"
MOVED = {
    "arrays": "loading.arrays", "baselines": "benchmark.baselines", "build": "produce.build", "card": "hub.card",
    "codecs": "scoring.codecs", "config": "core.config", "encode": "recipe.encode", "evaluate": "scoring.evaluate",
    "exact": "produce.exact", "explorer": "viz.explorer", "hub_layout": "hub.layout",
    "importance": "scoring.importance", "keras_mlp": "benchmark.keras_mlp",
    "label_efficiency": "benchmark.label_efficiency", "leaderboard": "benchmark.run",
    "models": "recipe.models", "paths": "core.paths", "plots": "viz.plots", "pull": "hub.pull",
    "reference": "produce.reference", "sources": "data.sources", "stats": "store.stats",
    "synthesis": "viz.synthesis", "tf_adapter": "adapters.tf_adapter", "torch_adapter": "adapters.torch_adapter",
    "train": "recipe.train",
    # Moved inside the package since: the baselines run is not the leaderboard; the leak check is the leaderboard's.
    "benchmark.leaderboard": "benchmark.run", "publish.leak": "submissions.leak",
}
_PACKAGE = __name__.rpartition(".")[0]


def moved_module(old: str) -> ModuleType:
    """The module that ``ldmnist_hub.<old>`` became, with a warning naming the new path."""
    new = f"{_PACKAGE}.{MOVED[old]}"
    warnings.warn(f"{_PACKAGE}.{old} moved to {new}; the old path stops working in {REMOVAL}",
                  FutureWarning, stacklevel=3)
    return importlib.import_module(new)


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves ``import ldmnist_hub.<old>`` to the moved module (the same object, not a copy)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname.startswith(f"{_PACKAGE}.") and fullname.removeprefix(f"{_PACKAGE}.") in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec: Any) -> ModuleType:
        return moved_module(spec.name.removeprefix(f"{_PACKAGE}."))

    def exec_module(self, module: ModuleType) -> None:
        # The module is the new one, already executed.
        return None


def install() -> None:
    """Register the finder once per process."""
    if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
        sys.meta_path.append(_MovedModules())


def renamed_keywords(**old_to_new: str) -> Callable[[F], F]:
    """Decorator: accept each old keyword name for its new one, with one ``FutureWarning`` per call.

    Raises:
        InvalidArgumentTypeError: both the old and the new name were passed.
    """
    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise InvalidArgumentTypeError(
                            f"{func.__name__}() got both {old}= (deprecated) and {new}=; pass only {new}=")
                    _warn(f"{func.__name__}({old}=...) is deprecated; use {new}=")
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate


def seed_selects_the_variant(rng: str) -> Callable[[F], F]:
    """Decorator for the calls whose ``seed`` was a random seed before 0.2 (with ``variant_seed`` beside it).

    ``seed`` now selects the variant, as in every other call, and the random
    seed is ``rng`` (``shuffle_seed``, ``sample_seed``, ``model_seed``). A call
    in the old spelling keeps its old result: ``variant_seed=`` is taken as
    ``seed`` and, when given with it, ``seed=`` as ``rng``. A lone ``seed=``
    gets the new meaning, with a warning saying so until 0.3.
    """
    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            name = func.__name__
            if "variant_seed" in kwargs:
                if rng in kwargs:
                    raise InvalidArgumentTypeError(
                        f"{name}() got variant_seed= (deprecated) with {rng}=; pass seed= and {rng}=")
                if "seed" in kwargs:
                    kwargs[rng] = kwargs.pop("seed")
                    _warn(f"{name}(seed=..., variant_seed=...) is the pre-0.2 spelling; use "
                          f"{name}(seed=<variant seed>, {rng}=<random seed>)")
                else:
                    _warn(f"{name}(variant_seed=...) is deprecated; use seed=")
                kwargs["seed"] = kwargs.pop("variant_seed")
            elif "seed" in kwargs and rng not in kwargs:
                _warn(f"{name}(seed=...) selects the variant's seed since 0.2, as in load_dataset; before, it was "
                      f"the random seed, which is now {rng}=. Pass {rng}= as well to silence this warning")
            return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate


def _warn(message: str) -> None:
    # stacklevel 3: the caller of the decorated function.
    warnings.warn(f"{message} (the old spelling stops working in {REMOVAL})", FutureWarning, stacklevel=3)
