"""The facts every layer shares: the dataset's name, splits, columns, citation and published figures.

Each is defined here once; the builder, the card, the pull side and the
adapters import them. Facts about a raw *source* (its files, class names,
license, citation) are rows of :data:`ldmnist_hub.data.sources.SOURCES`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DATASET_NAME = "ldmnist"
PRETTY_NAME = "LD-MNIST (Low-Dimensional MNIST)"
DESCRIPTION = "MNIST as a regression task between two near-normal latent vectors (image VAE -> class VAE)."
HOMEPAGE = "https://github.com/dimitree54/ld_mnist"
# Every split name a variant may have, in their order. Which ones a variant has is its split layout
# (:data:`TWO_SPLITS` before 3.0.0 and for trained variants, :data:`THREE_SPLITS` from 3.0.0 on).
SPLITS: tuple[str, ...] = ("train", "validation", "test")
# The raw source's own splits (the MNIST files): every variant split is a run of rows of one of them.
SOURCE_SPLITS: tuple[str, ...] = ("train", "test")
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


@dataclass(frozen=True)
class SplitRows:
    """The rows of the raw source one variant split holds: ``source[start:stop]``, in source order.

    ``stop`` None is the end of the source split. ``mnist_index`` of the split's rows counts from ``start``.
    """

    source: str
    start: int = 0
    stop: int | None = None

    def to_list(self) -> list:
        """The JSON form a record stores: ``[source, start, stop]``."""
        return [self.source, self.start, self.stop]


# Versions before 3.0.0, and every trained variant: MNIST's own two splits.
TWO_SPLITS: dict[str, SplitRows] = {"train": SplitRows("train"), "test": SplitRows("test")}
# 3.0.0 on: MNIST's classic 50,000 / 10,000 / 10,000 split; the weights were trained on the 50,000 train rows only.
VALIDATION_START = 50_000
THREE_SPLITS: dict[str, SplitRows] = {"train": SplitRows("train", 0, VALIDATION_START),
                                      "validation": SplitRows("train", VALIDATION_START, None),
                                      "test": SplitRows("test")}


def split_layout(record: Mapping[str, Any]) -> dict[str, SplitRows]:
    """A reference record's split layout (its ``split_rows``; a record without one has :data:`TWO_SPLITS`).

    Examples:
        >>> list(split_layout({"split_rows": {"train": ["train", 0, 50000], "validation": ["train", 50000, None],
        ...                                   "test": ["test", 0, None]}}))
        ['train', 'validation', 'test']
        >>> split_layout({}) == TWO_SPLITS
        True
    """
    rows = record.get("split_rows")
    if rows is None:
        return dict(TWO_SPLITS)
    if not isinstance(rows, Mapping) or not set(rows) <= set(SPLITS) or not {"train", "test"} <= set(rows):
        raise ValueError(f"split_rows must map split names {SPLITS} (train and test among them) to rows; "
                         f"got {rows!r}")
    out = {}
    for name in SPLITS:
        if name in rows:
            source, start, stop = rows[name]
            if source not in SOURCE_SPLITS or not isinstance(start, int) or not (stop is None or isinstance(stop, int)):
                raise ValueError(f"split_rows[{name!r}] must be [source split, start, stop]; got {rows[name]!r}")
            out[name] = SplitRows(source, start, stop)
    return out


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
