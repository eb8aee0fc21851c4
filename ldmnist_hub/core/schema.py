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


# The BatchNorm buffer torch adds to a state dict (shape () or (1,), int64); readers ignore it.
OPTIONAL_WEIGHT = "num_batches_tracked"


def weight_shapes(latent: int, hidden: Sequence[int]) -> dict[str, dict[str, tuple[int, ...]]]:
    """The float32 tensors of each part's state dict, by name, with their shapes.

    The layout of the torch modules in ``ldmnist_hub.recipe.models`` (each
    hidden block is Linear, activation, BatchNorm, Dropout), written out here
    without torch so a pulled variant's weights can be checked against the
    recipe before they are used. BatchNorm layers may also hold an int64
    :data:`OPTIONAL_WEIGHT`.

    Args:
        latent: the code size N.
        hidden: the image encoder's hidden widths (``TrainConfig.hidden``); the decoder mirrors them.

    Examples:
        >>> weight_shapes(8, (128, 64))["class_decoder"]
        {'linear.weight': (10, 8), 'linear.bias': (10,)}
    """
    def linear(name: str, n_in: int, n_out: int) -> dict[str, tuple[int, ...]]:
        return {f"{name}.weight": (n_out, n_in), f"{name}.bias": (n_out,)}

    def norm(name: str, n: int) -> dict[str, tuple[int, ...]]:
        return {f"{name}.{k}": (n,) for k in ("weight", "bias", "running_mean", "running_var")}

    def blocks(widths: Sequence[int], n_in: int, start: int) -> tuple[dict[str, tuple[int, ...]], int, int]:
        out: dict[str, tuple[int, ...]] = {}
        for width in widths:  # Linear at start, BatchNorm at start + 2; 4 modules per block
            out |= linear(f"body.{start}", n_in, width) | norm(f"body.{start + 2}", width)
            n_in, start = width, start + 4
        return out, n_in, start

    enc, last, _ = blocks(hidden, IMAGE_PIXELS, 0)
    dec, first, end = blocks(list(reversed(hidden)), latent, 1)  # body.0 is the code's dropout
    mid, _, stop = blocks([latent, latent], latent, 0)
    return {
        "image_encoder": enc | linear("mean", last, latent) | linear("logvar", last, latent),
        "image_decoder": dec | linear(f"body.{end}", first, IMAGE_PIXELS),
        "class_encoder": linear("mean", NUM_CLASSES, latent) | linear("logvar", NUM_CLASSES, latent),
        "class_decoder": linear("linear", latent, NUM_CLASSES),
        "middle_layers": mid | linear(f"body.{stop}", latent, latent),
    }
