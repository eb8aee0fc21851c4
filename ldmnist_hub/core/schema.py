"""The facts every layer shares: the dataset's name, splits, columns, citation and published figures.

Each is defined here once; the builder, the card, the pull side and the
adapters import them. Facts about a raw *source* (its files, class names,
license, citation) are rows of :data:`ldmnist_hub.data.sources.SOURCES`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DATASET_NAME = "ldmnist"
PRETTY_NAME = "LD-MNIST (Low-Dimensional MNIST)"
DESCRIPTION = "MNIST as a regression task between two near-normal latent vectors (image VAE -> class VAE)."
HOMEPAGE = "https://github.com/dimitree54/ld_mnist"
SPLITS: tuple[str, ...] = ("train", "test")
DEFAULT_LATENT = 32
NUM_CLASSES = 10
IMAGE_SIDE = 28
IMAGE_PIXELS = IMAGE_SIDE * IMAGE_SIDE
COLUMNS: tuple[str, ...] = ("x", "y", "label", "mnist_index")

LDMNIST_CITATION = """\
@misc{ldmnist,
  title={Low dimensional MNIST dataset},
  author={dimitree54},
  howpublished={\\url{https://github.com/dimitree54/ld_mnist}}
}"""

# The original LD-MNIST's published test results (latent 32): (MSE, reconstructed accuracy).
PUBLISHED = {
    "linear": (0.8701, 0.5984),
    "mlp-torch": (0.8347, 0.9577),
    "mlp-keras": (0.8347, 0.9577),
    "middle-layers": (44.77, 0.9710),
}


def features(latent: int, class_names: Sequence[str]) -> Any:
    """The ``datasets.Features`` of a variant: ``x``/``y`` fixed-length float32 lists, the label, its MNIST row.

    Args:
        latent: the length of ``x`` and ``y``.
        class_names: the ``ClassLabel`` names, from the variant's source
            (``ldmnist_hub.data.sources.get_source(name).classes``).
    """
    import datasets

    return datasets.Features({
        "x": datasets.List(datasets.Value("float32"), length=latent),
        "y": datasets.List(datasets.Value("float32"), length=latent),
        "label": datasets.ClassLabel(names=list(class_names)),
        "mnist_index": datasets.Value("int64"),
    })
