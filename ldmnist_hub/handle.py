"""One object per variant: :func:`variant` resolves it once and every accessor hangs off the result.

Like ``tfds.builder("mnist")`` (``.info``, ``.as_dataset()``) or HF's
``load_dataset_builder``: the variant is selected once, then its files, stats,
splits, framework loaders, scorer and codecs are methods. The object is a
:class:`~ldmnist_hub.loading.variant.Variant` (the one the lower layers take),
which holds the selection, the files, the stats and the numpy splits; this
layer, above the adapters and the scorer, adds them as ordinary methods. The
module functions (:func:`ldmnist_hub.load_numpy`, :func:`ldmnist_hub.torch_loader`,
:func:`ldmnist_hub.evaluate`, ...) take the same object as ``latent``, so a
method and its module function give the same result.

Examples:
    >>> import ldmnist_hub as ld
    >>> v = ld.variant(latent=32)
    >>> v.name, v.latent
    ('latent-32', 32)
    >>> x, y, label = v.numpy("test")  # doctest: +SKIP
    >>> v.evaluate(y).mse  # doctest: +SKIP
    0.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.loading.variant import Variant, resolve

if TYPE_CHECKING:
    from ldmnist_hub.adapters.grain_adapter import LDMNISTGrainSource
    from ldmnist_hub.adapters.jax_adapter import Arrays, JaxLoader
    from ldmnist_hub.adapters.torch_adapter import BatchLoader, LDMNISTTorchDataset
    from ldmnist_hub.scoring.draws import DrawsResult
    from ldmnist_hub.scoring.evaluate import EvalResult


class LDMNISTVariant(Variant):
    """A resolved LD-MNIST variant and everything that can be done with it; made by :func:`variant`.

    Its selection, :attr:`files`, :attr:`stats`, :meth:`numpy` and :meth:`dataset` are those of
    :class:`~ldmnist_hub.loading.variant.Variant`; the methods below load it into a framework,
    score predictions on it and run its codecs, each the module function of the same name with
    this variant as its ``latent``.

    Examples:
        >>> v = variant(latent=8)
        >>> v.name, v.version is None or v.version.count(".") == 2
        ('latent-8', True)
    """

    def __repr__(self) -> str:
        return f"LDMNISTVariant({self.cache_id!r})"

    def torch_dataset(self, split: str = "train") -> LDMNISTTorchDataset:
        """A map-style ``torch.utils.data.Dataset`` of one split; see :func:`ldmnist_hub.torch_dataset`."""
        from ldmnist_hub.adapters.torch_adapter import torch_dataset

        return torch_dataset(self, split)

    def torch_loader(self, split: str = "train", batch_size: int = 256, shuffle: bool = True,
                     drop_last: bool = False, shuffle_seed: int = 0, *, device: Any = None) -> BatchLoader:
        """Batches ``(x, y, label)`` of one split as torch tensors; see :func:`ldmnist_hub.torch_loader`."""
        from ldmnist_hub.adapters.torch_adapter import torch_loader

        return torch_loader(self, split, batch_size, shuffle, drop_last, shuffle_seed, device=device)

    def tf_dataset(self, split: str = "train", batch_size: int = 256, *, shuffle: bool | None = None,
                   shuffle_seed: int = 0, include_label: bool = False, drop_remainder: bool = False,
                   device: str | None = None) -> Any:
        """One split as a batched ``tf.data.Dataset``; see :func:`ldmnist_hub.tf_dataset`."""
        from ldmnist_hub.adapters.tf_adapter import tf_dataset

        return tf_dataset(self, split, batch_size, shuffle=shuffle, shuffle_seed=shuffle_seed,
                          include_label=include_label, drop_remainder=drop_remainder, device=device)

    def jax_arrays(self, split: str = "train", *, device: Any = None) -> Arrays:
        """One split as JAX arrays on one device; see :func:`ldmnist_hub.jax_arrays`."""
        from ldmnist_hub.adapters.jax_adapter import jax_arrays

        return jax_arrays(self, split, device=device)

    def jax_loader(self, split: str = "train", batch_size: int = 256, shuffle: bool = True,
                   drop_last: bool = False, shuffle_seed: int = 0, *, device: Any = None) -> JaxLoader:
        """Batches of one split on a JAX device; see :func:`ldmnist_hub.jax_loader`."""
        from ldmnist_hub.adapters.jax_adapter import jax_loader

        return jax_loader(self, split, batch_size, shuffle, drop_last, shuffle_seed, device=device)

    def grain_source(self, split: str = "train") -> LDMNISTGrainSource:
        """One split as a Grain random-access source; see :func:`ldmnist_hub.grain_source`."""
        from ldmnist_hub.adapters.grain_adapter import grain_source

        return grain_source(self, split)

    def evaluate(self, predicted_y: Any, split: str = "test", *, rows: Any = None) -> EvalResult:
        """Score predicted label codes against the split's ``y``; see :func:`ldmnist_hub.evaluate`."""
        from ldmnist_hub.scoring.evaluate import evaluate

        return evaluate(predicted_y, self, split, rows=rows)

    def evaluate_model(self, model: Any, split: str = "test", *, batch_size: int = 10_000,
                       rows: Any = None) -> EvalResult:
        """Score a model's predictions from the split's ``x``; see :func:`ldmnist_hub.evaluate_model`."""
        from ldmnist_hub.scoring.evaluate import evaluate_model

        return evaluate_model(model, self, split, batch_size=batch_size, rows=rows)

    def evaluate_draws(self, predictions: Mapping[int, Any] | Any, split: str = "test", *,
                       seeds: Sequence[int] | None = None, rows: Any = None) -> DrawsResult:
        """Score predictions on several posterior draws of ``y``; see :func:`ldmnist_hub.evaluate_draws`."""
        from ldmnist_hub.scoring.draws import evaluate_draws

        return evaluate_draws(predictions, self, split, seeds=seeds, rows=rows)

    def decode_images(self, x: Any) -> np.ndarray:
        """Decode image codes ``x`` ``(n, N)`` into images; see :func:`ldmnist_hub.decode_images`."""
        from ldmnist_hub.scoring.codecs import decode_images

        return decode_images(x, self)

    def decode_labels(self, y: Any) -> np.ndarray:
        """Class probabilities ``(n, 10)`` of label codes ``y``; see :func:`ldmnist_hub.decode_labels`."""
        from ldmnist_hub.scoring.codecs import decode_labels

        return decode_labels(y, self)

    def encode_images(self, images: Any, sample: bool = True, sample_seed: int | np.random.Generator = 0
                      ) -> np.ndarray:
        """Encode images into image codes ``x``; see :func:`ldmnist_hub.encode_images`."""
        from ldmnist_hub.scoring.codecs import encode_images

        return encode_images(images, self, sample=sample, sample_seed=sample_seed)


def variant(
    latent: int = DEFAULT_LATENT,
    *,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    retrain: bool = False,
    version: str | None = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
    repo: str | None = None,
) -> LDMNISTVariant:
    """Select one LD-MNIST variant, resolved once, as an object whose methods load, adapt, score and decode it.

    Resolving validates the keywords and builds nothing: the variant is
    built (or pulled) on first need, when ``build=True``.

    Args:
        latent: latent size N of the variant (default 32).
        seed: the variant's seed (0 is canonical; for a reference variant, the posterior draw).
        source: the raw data source, as in :func:`ldmnist_hub.load_numpy`.
        train: training recipe overrides of the variant (see :class:`~ldmnist_hub.TrainConfig`).
        retrain: train it again even if it is cached, as in :func:`ldmnist_hub.load_dataset`.
        version: the dataset version of a reference variant (default: the current one).
        data_dir: folder with the raw IDX files, as in :func:`ldmnist_hub.load_numpy`.
        build: build (or pull) the variant on first need if it is not cached (otherwise raise).
        progress: show progress bars while building.
        repo: repo or mirror to pull the variant from when it is not here (default ``$LDMNIST_REPO``), as in
            :func:`ldmnist_hub.load_dataset`.

    Raises:
        InvalidArgumentError: a bad latent, seed, recipe field, version or an unknown ``source``.

    Examples:
        >>> v = variant(latent=32)
        >>> x, y, label = v.numpy("train")  # doctest: +SKIP
        >>> loader = v.torch_loader(batch_size=256, shuffle_seed=0)  # doctest: +SKIP
        >>> v.evaluate(v.numpy("test")[1]).reconstructed_accuracy  # doctest: +SKIP
        0.998
    """
    chosen = resolve(latent, seed=seed, source=source, train=train, retrain=retrain, data_dir=data_dir, build=build,
                     progress=progress, version=version, repo=repo)
    return LDMNISTVariant(chosen.config, chosen.data_dir, chosen.build, chosen.progress, chosen.repo)
