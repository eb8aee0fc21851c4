"""TensorFlow adapter: one split of LD-MNIST as a ``tf.data.Dataset`` of whole batches.

``datasets.Dataset.to_tf_dataset`` is about 12x slower than a bare
``from_tensor_slices(...).batch().prefetch()`` pipeline for LD-MNIST's tiny
rows (see DESIGN.md), so :func:`tf_dataset` materialises the columns once
(through pyarrow, see :func:`ldmnist_hub.load_numpy`) and builds exactly that
pipeline, with a seeded shuffle in front of the batching.
"""

from __future__ import annotations

from ldmnist_hub._deprecated import seed_selects_the_variant
from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE
from ldmnist_hub.core.extras import install_hint
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.errors import InvalidArgumentError, MissingDependencyError
from ldmnist_hub.loading.arrays import load_numpy

try:
    import tensorflow as tf
except ImportError as err:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        f"ldmnist_hub.adapters.tf_adapter needs TensorFlow; install it with {install_hint('tf')}"
    ) from err


@seed_selects_the_variant(rng="shuffle_seed")
def tf_dataset(
    latent: int = DEFAULT_LATENT,
    split: str = "train",
    batch_size: int = 256,
    *,
    shuffle: bool | None = None,
    shuffle_seed: int = 0,
    include_label: bool = False,
    drop_remainder: bool = False,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
) -> tf.data.Dataset:
    """Batches ``(x, y)`` of one split, float32 ``(b, N)`` each, as a ``tf.data.Dataset``.

    The pipeline is ``from_tensor_slices`` -> ``shuffle`` (whole split, seeded,
    reshuffled every epoch) -> ``batch`` -> ``prefetch(AUTOTUNE)``. With the
    same ``shuffle_seed``, a new dataset repeats the same sequence of epoch orders.

    Args:
        latent: latent size N of the variant.
        split: ``"train"``, ``"test"`` or a slice such as ``"train[:1000]"``.
        batch_size: rows per batch.
        shuffle: shuffle every epoch; default ``True`` for a ``"train"`` split
            (or slices of it), ``False`` otherwise.
        shuffle_seed: seed of the shuffling (the op-level seed of ``Dataset.shuffle``).
        include_label: yield ``(x, y, label)`` with int64 ``(b,)`` labels. Keras'
            ``fit`` reads a third element as sample weights, so leave it off
            for ``model.fit(ds)``.
        drop_remainder: drop the last, smaller batch.
        seed, source, train, data_dir, build, progress: select the variant, as in
            :func:`ldmnist_hub.load_numpy` (``seed`` is the variant's seed, 0 canonical).

    Returns:
        A ``tf.data.Dataset``; iterate it once per epoch.

    Raises:
        ValueError: bad ``batch_size``, bad latent or unknown split (before any build).
        FileNotFoundError: the variant is not built and ``build=False``.

    Example:
        >>> import keras  # doctest: +SKIP
        >>> ds = tf_dataset(latent=32, split="train", batch_size=256)  # doctest: +SKIP
        >>> model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(32)])  # doctest: +SKIP
        >>> model.compile("adam", "mse")  # doctest: +SKIP
        >>> model.fit(ds, epochs=5)  # doctest: +SKIP
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be a positive integer; got batch_size={batch_size!r}")
    x, y, label = load_numpy(latent, split, seed=seed, source=source, train=train, data_dir=data_dir, build=build,
                             progress=progress)
    if shuffle is None:
        shuffle = all(part.split("[", 1)[0].strip() == "train" for part in split.split("+"))
    ds = tf.data.Dataset.from_tensor_slices((x, y, label) if include_label else (x, y))
    if shuffle:
        ds = ds.shuffle(max(len(label), 1), seed=shuffle_seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
