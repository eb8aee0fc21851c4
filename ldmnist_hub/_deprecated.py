"""Old spellings that keep working for one release (until 0.4), each with a ``FutureWarning``.

Modules moved into subpackages in 0.3 (``ldmnist_hub.pull`` is now
``ldmnist_hub.hub.pull``, ...); an import of an old path gets the new module
itself, so ``from ldmnist_hub.pull import IntegrityError`` and
``ldmnist_hub.plots.make_plots`` still work. Renamed keywords go through
:func:`renamed_keyword`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType
from typing import Any

REMOVAL = "0.4"
MOVED = {
    "arrays": "loading.arrays", "baselines": "benchmark.baselines", "build": "produce.build", "card": "hub.card",
    "codecs": "scoring.codecs", "config": "core.config", "encode": "recipe.encode", "evaluate": "scoring.evaluate",
    "exact": "produce.exact", "explorer": "viz.explorer", "hub_layout": "hub.layout",
    "importance": "scoring.importance", "keras_mlp": "benchmark.keras_mlp",
    "label_efficiency": "benchmark.label_efficiency", "leaderboard": "benchmark.leaderboard",
    "models": "recipe.models", "paths": "core.paths", "plots": "viz.plots", "pull": "hub.pull",
    "reference": "produce.reference", "sources": "data.sources", "stats": "store.stats",
    "synthesis": "viz.synthesis", "tf_adapter": "adapters.tf_adapter", "torch_adapter": "adapters.torch_adapter",
    "train": "recipe.train",
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
        package, _, name = fullname.rpartition(".")
        if package == _PACKAGE and name in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec: Any) -> ModuleType:
        return moved_module(spec.name.rpartition(".")[2])

    def exec_module(self, module: ModuleType) -> None:
        # The module is the new one, already executed.
        return None


def install() -> None:
    """Register the finder once per process."""
    if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
        sys.meta_path.append(_MovedModules())


def renamed_keyword(func: str, old: str, new: str, old_value: Any, new_value: Any, default: Any) -> Any:
    """The value of keyword ``new`` when a caller may still pass its old name ``old``.

    Raises:
        TypeError: both spellings were given.
    """
    if old_value is default:
        return new_value
    if new_value is not default:
        raise TypeError(f"{func}() got both {old}= (deprecated) and {new}=; pass only {new}=")
    warnings.warn(f"{func}({old}=...) is deprecated; use {new}= (the old name stops working in {REMOVAL})",
                  FutureWarning, stacklevel=3)
    return old_value
