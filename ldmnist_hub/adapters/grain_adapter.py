"""Grain adapter: one split as a random-access source, for ``grain.MapDataset.source(...)`` pipelines.

The source holds the split's host arrays (materialised once, see
:func:`ldmnist_hub.load_numpy`) and serves rows as dicts of views, and whole
index batches with one ``np.take`` per column. It imports neither grain nor jax:
any Grain release that takes a ``__len__``/``__getitem__`` source reads it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.loading.variant import Variant, select

Row = dict[str, np.ndarray]


class LDMNISTGrainSource:
    """A random-access source of ``{"x", "y", "label"}`` rows for Grain.

    ``len(src)`` rows; ``src[i]`` is one row (``x``/``y`` float32 ``(N,)``,
    ``label`` an int64 scalar); ``src.__getitems__([i, j, ...])`` (also under
    Grain's batched-read name ``_getitems``) gathers the rows with one
    ``np.take`` per column and returns them as a list of rows. Rows are
    read-only views of the source's arrays; Grain's ``batch`` stacks them into
    new arrays.

    Examples:
        >>> src = LDMNISTGrainSource(np.zeros((3, 2), np.float32), np.ones((3, 2), np.float32), np.arange(3))
        >>> len(src), src[2]["label"], src.__getitems__([2, 0])[1]["y"].tolist()
        (3, np.int64(2), [1.0, 1.0])
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, label: np.ndarray) -> None:
        self.x, self.y, self.label = x, y, label
        for a in (x, y, label):
            a.flags.writeable = False  # rows are views: a pipeline step writing into one would alter the split

    def __len__(self) -> int:
        return len(self.label)

    def __getitem__(self, index: int) -> Row:
        return {"x": self.x[index], "y": self.y[index], "label": self.label[index]}

    def __getitems__(self, indices: Sequence[int]) -> list[Row]:
        idx = np.asarray(indices, dtype=np.int64)
        x, y, label = (np.take(a, idx, axis=0) for a in (self.x, self.y, self.label))
        return [{"x": x[i], "y": y[i], "label": label[i]} for i in range(len(idx))]

    _getitems = __getitems__  # the name of grain's SupportsBatchedReadRandomAccessDataSource protocol

    def __repr__(self) -> str:
        return f"LDMNISTGrainSource(rows={len(self)}, latent={self.x.shape[1]})"


def grain_source(
    latent: int | Variant = DEFAULT_LATENT,
    split: str = "train",
    *,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
    version: str | None = None,
) -> LDMNISTGrainSource:
    """One split as a Grain random-access source of ``{"x", "y", "label"}`` rows.

    Args:
        latent: latent size N of the variant (default 32), or a resolved variant.
        split: the split, as in :func:`ldmnist_hub.load_numpy`.
        seed: the variant's seed (0 is canonical; for a reference variant, the posterior draw).
        source: the raw data source (``"mnist"``, ``"fashion_mnist"``; see ``ldmnist_hub.data.sources.SOURCES``).
        train: training recipe overrides of the variant (see :class:`~ldmnist_hub.TrainConfig`).
        data_dir: folder with the raw IDX files (default: the source's environment variable, or the download cache).
        build: build the variant if it is not cached (otherwise raise).
        progress: show progress bars while building.
        version: the dataset version of a reference variant (default: the current one).

    Raises:
        InvalidArgumentError: bad latent or unknown split.
        FileNotFoundError: the variant is not built and ``build=False``.

    Examples:
        >>> import grain  # doctest: +SKIP
        >>> ds = grain.MapDataset.source(grain_source(latent=32)).shuffle(seed=0).batch(256)  # doctest: +SKIP
        >>> ds[0]["x"].shape, len(ds)  # doctest: +SKIP
        ((256, 32), 235)
    """
    variant = select(latent, "grain_source", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    return LDMNISTGrainSource(*variant.numpy(split))
