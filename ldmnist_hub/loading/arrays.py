"""LD-MNIST as numpy arrays: :func:`load_numpy`, the wrapper of :meth:`Variant.numpy`, and cached weights.

Every adapter (torch, tf.data, JAX, Grain) and the evaluator start from
:meth:`ldmnist_hub.loading.variant.Variant.numpy`: the ``x``/``y`` columns are
fixed-size lists of float32, so ``flatten().to_numpy()`` reads them as one
contiguous buffer (about 1 ms for 70k x 32) instead of iterating rows (about
100x slower). This module imports neither torch nor tensorflow, and on the
common paths not ``datasets`` either (see :mod:`ldmnist_hub.loading.columns`).
"""

from __future__ import annotations

import numpy as np

from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.loading.columns import dataset_arrays
from ldmnist_hub.loading.variant import Variant, select
from ldmnist_hub.store.files import VariantFiles

__all__ = ["dataset_arrays", "load_numpy", "variant_weights"]

# Weights of a variant, keyed by (variant folder, stats mtime, part): a rebuilt
# variant (new stats file) or another LDMNIST_HOME never hits a stale entry.
_WEIGHTS: dict[tuple[str, int, str], dict[str, np.ndarray]] = {}


def load_numpy(
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
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One split of LD-MNIST as numpy arrays.

    Args:
        latent: latent size N of the variant (default 32), or a resolved variant.
        split: ``"train"``, ``"test"`` or a slice such as ``"test[:100]"``.
        seed: the variant's seed (0 is canonical; for a reference variant, the posterior draw).
        source: the raw data source (``"mnist"``, ``"fashion_mnist"``; see ``ldmnist_hub.data.sources.SOURCES``).
        train: training recipe overrides of the variant (see :class:`TrainConfig`).
        data_dir: folder with the raw IDX files (default: the source's environment
            variable, such as ``$LDMNIST_MNIST_DIR``, or the download cache).
        build: build the variant if it is not cached (otherwise raise).
        progress: show progress bars while building.
        version: the dataset version of a reference variant (default: the current one); see
            :func:`ldmnist_hub.load_dataset`.

    Returns:
        ``(x, y, label)``: float32 ``(n, N)``, float32 ``(n, N)``, int64 ``(n,)``,
        all C-contiguous and writable.

    Raises:
        ValueError: bad latent, unknown source or unknown split.
        FileNotFoundError: the variant is not built and ``build=False``.

    Examples:
        >>> x, y, label = load_numpy(latent=32, split="train")  # doctest: +SKIP
        >>> x.shape, x.dtype, label.dtype  # doctest: +SKIP
        ((60000, 32), dtype('float32'), dtype('int64'))
    """
    return select(latent, "load_numpy", seed=seed, source=source, train=train, data_dir=data_dir, build=build,
                  progress=progress, version=version).numpy(split)


def variant_weights(files: VariantFiles, part: str) -> dict[str, np.ndarray]:
    """Tensors of one part of a variant as float32 arrays, cached per built variant."""
    key = (str(files.root), files.stats_path.stat().st_mtime_ns, part)
    if key not in _WEIGHTS:
        _WEIGHTS[key] = {k: np.asarray(v, dtype=np.float32) for k, v in files.weights(part).items()
                         if k != "num_batches_tracked" and not k.endswith(".num_batches_tracked")}
    return _WEIGHTS[key]
