"""TensorFlow adapter: one split of LD-MNIST as a ``tf.data.Dataset`` of whole batches.

``datasets.Dataset.to_tf_dataset`` is about 12x slower than a bare
``from_tensor_slices(...).batch().prefetch()`` pipeline for LD-MNIST's tiny
rows (see DESIGN.md), and that bare pipeline with ``shuffle`` in front is 2.7x
slower again than gathering the whole epoch at once: ``Dataset.shuffle`` and
``batch`` handle every row as its own element. So :func:`tf_dataset`
materialises the columns once (through pyarrow, see :func:`ldmnist_hub.load_numpy`)
and makes each *batch* one element: per epoch one seeded permutation, one
``tf.gather`` per column, and a reshape to ``(steps, batch, N)`` sliced along
its first axis (measured in ``benchmarks/loaders.py``).
"""

from __future__ import annotations

from ldmnist_hub._deprecated import seed_selects_the_variant
from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE
from ldmnist_hub.core.extras import install_hint
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.errors import InvalidArgumentError, MissingDependencyError
from ldmnist_hub.loading.variant import Variant, select

try:
    import tensorflow as tf
except ImportError as err:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        f"ldmnist_hub.adapters.tf_adapter needs TensorFlow; install it with {install_hint('tf')}"
    ) from err


def _batches(columns: tuple[tf.Tensor, ...], batch_size: int, drop_remainder: bool) -> tf.data.Dataset:
    """The rows of ``columns`` as a dataset of whole batches: full ones sliced from a reshape, then the rest."""
    n = int(columns[0].shape[0])
    full = n // batch_size * batch_size
    ds = tf.data.Dataset.from_tensor_slices(
        tuple(tf.reshape(c[:full], (-1, batch_size, *c.shape[1:])) for c in columns))
    if full < n and not drop_remainder:  # decided here: n is known, so no empty batch is ever made
        ds = ds.concatenate(tf.data.Dataset.from_tensors(tuple(c[full:] for c in columns)))
    return ds


def _device_name(device: str | None) -> str | None:
    """The full name of a logical device (``"gpu"``, ``"GPU:0"``, ``"/device:GPU:1"``), or None for the host.

    Raises:
        InvalidArgumentError: no such device here (the message lists the devices there are).
    """
    if device is None:
        return None
    names = [d.name for d in tf.config.list_logical_devices()]
    try:
        spec = tf.DeviceSpec.from_string(device if ":" in device or "/" in device else f"/{device}:0")
    except (TypeError, ValueError):
        spec = None
    wanted = None if spec is None else f"/device:{(spec.device_type or '').upper()}:{spec.device_index or 0}"
    if wanted not in names:
        raise InvalidArgumentError(f"no TensorFlow device {device!r} here; the devices are {names}")
    return None if wanted.startswith("/device:CPU:") else wanted


@seed_selects_the_variant(rng="shuffle_seed")
def tf_dataset(
    latent: int | Variant = DEFAULT_LATENT,
    split: str = "train",
    batch_size: int = 256,
    *,
    shuffle: bool | None = None,
    shuffle_seed: int = 0,
    include_label: bool = False,
    drop_remainder: bool = False,
    device: str | None = None,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
    version: str | None = None,
) -> tf.data.Dataset:
    """Batches ``(x, y)`` of one split, float32 ``(b, N)`` each, as a ``tf.data.Dataset``.

    Each element is a whole batch. With ``shuffle``, each epoch (each iteration
    of the dataset) draws a new seed from ``Dataset.random(shuffle_seed)``,
    permutes the rows with ``stateless_shuffle`` under it and gathers every
    column once; the batches are slices of that gather. With the same
    ``shuffle_seed`` (and TensorFlow global seed), a new dataset repeats the same
    sequence of epoch orders. The cardinality is the number of batches, so
    Keras shows its progress from the first epoch.

    Args:
        latent: latent size N of the variant.
        split: ``"train"``, ``"test"`` or a slice such as ``"train[:1000]"``.
        batch_size: rows per batch.
        shuffle: shuffle every epoch; default ``True`` for a ``"train"`` split
            (or slices of it), ``False`` otherwise.
        shuffle_seed: seed of the shuffling (the op-level seed of the per-epoch ``Dataset.random``).
        include_label: yield ``(x, y, label)`` with int64 ``(b,)`` labels. Keras'
            ``fit`` reads a third element as sample weights, so leave it off
            for ``model.fit(ds)``.
        drop_remainder: drop the last, smaller batch.
        device: ``"GPU:0"`` (or ``"gpu"``, ``"/device:GPU:1"``): batches are copied there ahead of use by
            ``tf.data.experimental.prefetch_to_device`` (tf.data itself runs on the host). ``None`` or a
            CPU: the plain pipeline, batches in host memory.
        seed: the variant's seed (0 is canonical; for a reference variant, the posterior draw).
        source: the raw data source (``"mnist"``, ``"fashion_mnist"``; see ``ldmnist_hub.data.sources.SOURCES``).
        train: training recipe overrides of the variant (see :class:`~ldmnist_hub.TrainConfig`).
        data_dir: folder with the raw IDX files (default: the source's environment variable, or the download cache).
        build: build the variant if it is not cached (otherwise raise).
        progress: show progress bars while building.
        version: the dataset version of a reference variant (default: the current one).

    Returns:
        A ``tf.data.Dataset``; iterate it once per epoch.

    Raises:
        ValueError: bad ``batch_size``, an unknown device, bad latent or unknown split (before any build).
        FileNotFoundError: the variant is not built and ``build=False``.

    Examples:
        >>> import keras  # doctest: +SKIP
        >>> ds = tf_dataset(latent=32, split="train", batch_size=256)  # doctest: +SKIP
        >>> model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(32)])  # doctest: +SKIP
        >>> model.compile("adam", "mse")  # doctest: +SKIP
        >>> model.fit(ds, epochs=5)  # doctest: +SKIP
    """
    variant = select(latent, "tf_dataset", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be a positive integer; got batch_size={batch_size!r}")
    target = _device_name(device)
    x, y, label = variant.numpy(split)
    if shuffle is None:
        shuffle = all(part.split("[", 1)[0].strip() == "train" for part in split.split("+"))
    n = len(label)
    columns = tuple(tf.constant(a) for a in ((x, y, label) if include_label else (x, y)))
    if shuffle:
        def epoch(epoch_seed: tf.Tensor) -> tf.data.Dataset:
            perm = tf.random.experimental.stateless_shuffle(tf.range(n), seed=tf.stack([epoch_seed, 0]))
            return _batches(tuple(tf.gather(c, perm) for c in columns), batch_size, drop_remainder)

        # One new seed per iteration of the dataset, i.e. per epoch; the sequence repeats for a new dataset.
        ds = tf.data.Dataset.random(seed=shuffle_seed, rerandomize_each_iteration=True).take(1).flat_map(epoch)
        steps = n // batch_size if drop_remainder else -(-n // batch_size)
        ds = ds.apply(tf.data.experimental.assert_cardinality(steps))
    else:
        ds = _batches(columns, batch_size, drop_remainder)
    if target is not None:
        return ds.apply(tf.data.experimental.prefetch_to_device(target))
    return ds.prefetch(tf.data.AUTOTUNE)
