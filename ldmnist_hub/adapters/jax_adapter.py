"""JAX adapter: the split on the device, an epoch as one on-device shuffle and gather.

For a dataset of LD-MNIST's size (7.7 MB of ``x`` for latent-32 train) the
fastest JAX input is no input pipeline: the split is copied to the device once
(:func:`jax_arrays`), an epoch is a ``jax.random.permutation`` and one gather
there, and a training epoch can run inside ``jit`` as a ``lax.scan`` over the
``(steps, batch, N)`` arrays of :func:`epoch_batches`. :func:`jax_loader` is
the same as a Python iterator of batches, for loops outside ``jit``.

Batches are handed out by one jitted ``dynamic_slice`` per batch (compiled once
per shape): slicing the three arrays op by op costs 3 dispatches per batch, and
iterating a ``(steps, batch, N)`` array compiles a 100-way unstack on first use
(2.5-4 s on a shared 2-core CPU), while a jitted list of per-batch slices takes
13 s to compile for 235 batches.

For a host-side pipeline, :func:`ldmnist_hub.grain_source` serves the same rows to Grain.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

import numpy as np

from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE
from ldmnist_hub.core.extras import install_hint
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.errors import InvalidArgumentError, MissingDependencyError
from ldmnist_hub.loading.variant import Variant, select

try:
    import jax
    from jax import lax
except ImportError as err:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        f"ldmnist_hub.adapters.jax_adapter needs JAX; install it with {install_hint('jax')}"
    ) from err

Arrays = tuple[jax.Array, jax.Array, jax.Array]


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be a positive integer; got batch_size={batch_size!r}")
    return batch_size


def resolve_device(device: jax.Device | str | None) -> jax.Device | None:
    """A ``jax.Device`` from ``None`` (JAX's default device), a device, or ``"cpu"``, ``"gpu"``, ``"cuda:1"``, ...

    Raises:
        InvalidArgumentError: no such platform or device index here (the message lists the devices there are).

    Examples:
        >>> resolve_device("cpu").platform
        'cpu'
    """
    if device is None or isinstance(device, jax.Device):
        return device
    if not isinstance(device, str):
        raise InvalidArgumentError(f"device must be a jax.Device or a string such as 'cpu', 'gpu' or 'cuda:0'; "
                                   f"got device={device!r}")
    platform, _, index = device.partition(":")
    try:
        devices = jax.devices(platform.strip().lower())
        return devices[int(index) if index else 0]
    except (RuntimeError, ValueError, IndexError):
        raise InvalidArgumentError(f"no JAX device {device!r} here; the devices are {jax.devices()} (for a GPU "
                                   "install a CUDA build of jax, e.g. pip install 'jax[cuda12]')") from None


def _place(arrays: tuple[np.ndarray, np.ndarray, np.ndarray], device: jax.Device | None) -> Arrays:
    x, y, label = arrays
    # JAX's integers are 32-bit unless jax_enable_x64 is set; say so by the dtype instead of a warning.
    label = label.astype(jax.dtypes.canonicalize_dtype(np.int64), copy=False)
    return tuple(jax.device_put(a, device) for a in (x, y, label))  # type: ignore[return-value]


def _permuted(arrays: Sequence[jax.Array], key: jax.Array) -> tuple[jax.Array, ...]:
    perm = jax.random.permutation(key, arrays[0].shape[0])
    # A permutation is in bounds and has no repeats: XLA may skip the bounds clamp and the scatter-safe path.
    return tuple(a.at[perm].get(mode="promise_in_bounds", unique_indices=True) for a in arrays)


def epoch_batches(arrays: Sequence[jax.Array], key: jax.Array | None, batch_size: int) -> tuple[jax.Array, ...]:
    """One epoch of ``arrays`` as ``(steps, batch_size, ...)`` arrays, for ``lax.scan`` inside ``jit``.

    The rows are permuted by ``jax.random.permutation(key, n)`` (``key=None``:
    in order), then cut into ``steps = n // batch_size`` batches. **Remainder
    rule:** the last ``n % batch_size`` rows of the epoch's order are dropped
    (every batch has the same shape, as ``scan`` needs); with a new key each
    epoch they are other rows each time (``jax_loader``'s iterator keeps them by default).

    Traceable: call it inside ``jit`` with ``batch_size`` static.

    Args:
        arrays: arrays with the same first dimension ``n`` (e.g. :func:`jax_arrays`).
        key: a ``jax.random`` key, or ``None`` for the stored order.
        batch_size: rows per batch, at most ``n``.

    Raises:
        InvalidArgumentError: ``batch_size`` is not a positive integer or exceeds ``n`` (no full batch).

    Examples:
        >>> x, y, label = jax_arrays(latent=32, split="train")  # doctest: +SKIP
        >>> @jax.jit
        ... def train_epoch(w, arrays, key):
        ...     xs, ys, _ = epoch_batches(arrays, key, 256)            # (234, 256, 32) each
        ...     def step(w, batch):
        ...         g = jax.grad(lambda w: ((batch[0] @ w - batch[1]) ** 2).mean())(w)
        ...         return w - 0.1 * g, None
        ...     return lax.scan(step, w, (xs, ys))[0]
        >>> w = train_epoch(jax.numpy.zeros((32, 32)), (x, y, label), jax.random.key(0))  # doctest: +SKIP
    """
    batch_size = _check_batch_size(batch_size)
    n = arrays[0].shape[0]
    steps = n // batch_size
    if steps == 0:
        raise InvalidArgumentError(f"batch_size={batch_size} is larger than the {n} rows: no full batch; pick a "
                                   "smaller batch_size")
    if key is not None:
        arrays = _permuted(arrays, key)
    return tuple(a[:steps * batch_size].reshape(steps, batch_size, *a.shape[1:]) for a in arrays)


_epoch_order = jax.jit(_permuted)
# One dispatch for the whole epoch (op by op it is 3 + 2 per column: 13x the jitted cost on a small split).
_epoch_batches = jax.jit(epoch_batches, static_argnums=2)


@partial(jax.jit, static_argnames="size")
def _batch(arrays: tuple[jax.Array, ...], start: jax.Array, size: int) -> tuple[jax.Array, ...]:
    return tuple(lax.dynamic_slice_in_dim(a, start, size) for a in arrays)


class JaxLoader:
    """Iterable of ``(x, y, label)`` batches of device-resident arrays; each iteration is one epoch.

    With ``shuffle``, epoch ``e`` uses ``jax.random.permutation`` under the key
    :meth:`key` ``(e)`` (``fold_in(key(shuffle_seed), e)``), computed on the
    arrays' device together with the gather; ``e`` counts the epochs started
    (or is set with :meth:`set_epoch`), so epochs differ and a new loader with
    the same ``shuffle_seed`` repeats them. :meth:`epoch_batches` gives the same
    epoch as ``(steps, batch, N)`` arrays for a ``lax.scan``.
    """

    def __init__(
        self, x: jax.Array, y: jax.Array, label: jax.Array, *,
        batch_size: int = 256, shuffle: bool = True, drop_last: bool = False, shuffle_seed: int = 0,
    ) -> None:
        self.batch_size = _check_batch_size(batch_size)
        self.x, self.y, self.label = x, y, label
        self.shuffle, self.drop_last, self.shuffle_seed = shuffle, drop_last, shuffle_seed
        self.epoch = 0

    @property
    def arrays(self) -> Arrays:
        """``(x, y, label)`` of the whole split, on the device."""
        return self.x, self.y, self.label

    def __len__(self) -> int:
        n = len(self.label)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next epoch (iteration or :meth:`epoch_batches` call) use the order of ``epoch``."""
        self.epoch = epoch

    def key(self, epoch: int) -> jax.Array:
        """The ``jax.random`` key of ``epoch``'s order."""
        return jax.random.fold_in(jax.random.key(self.shuffle_seed), epoch)

    def _next_key(self, epoch: int | None) -> jax.Array | None:
        if epoch is None:
            epoch, self.epoch = self.epoch, self.epoch + 1
        return self.key(epoch) if self.shuffle else None

    def epoch_batches(self, epoch: int | None = None) -> Arrays:
        """The next epoch (or epoch ``epoch``) as ``(steps, batch, N)``, ``(steps, batch, N)``, ``(steps, batch)``.

        The rows of the iterator's epoch of the same number, without the last
        ``n % batch_size`` (see :func:`epoch_batches` for the remainder rule).
        """
        return _epoch_batches(self.arrays, self._next_key(epoch), self.batch_size)  # type: ignore[return-value]

    def __iter__(self) -> Iterator[Arrays]:
        key = self._next_key(None)
        arrays = self.arrays if key is None else _epoch_order(self.arrays, key)
        n, bs = len(self.label), self.batch_size
        full = n // bs * bs
        for start in range(0, full, bs):
            yield _batch(arrays, start, bs)  # type: ignore[misc]
        if full < n and not self.drop_last:
            yield tuple(a[full:] for a in arrays)  # type: ignore[misc]


def jax_arrays(
    latent: int | Variant = DEFAULT_LATENT,
    split: str = "train",
    *,
    device: jax.Device | str | None = None,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
    version: str | None = None,
) -> Arrays:
    """``(x, y, label)`` of one split as JAX arrays on ``device``: float32 ``(n, N)`` twice, int ``(n,)``.

    Labels are int32 (JAX's integer width) unless ``jax_enable_x64`` is on, then int64.

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
        device: where the arrays live: a ``jax.Device``, ``"cpu"``, ``"gpu"``, ``"cuda:1"``, ...; default
            JAX's default device.

    Raises:
        InvalidArgumentError: an unknown device, bad latent or unknown split.
        FileNotFoundError: the variant is not built and ``build=False``.

    Examples:
        >>> x, y, label = jax_arrays(latent=32, split="test")  # doctest: +SKIP
        >>> x.shape, label.dtype  # doctest: +SKIP
        ((10000, 32), dtype('int32'))
    """
    variant = select(latent, "jax_arrays", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    target = resolve_device(device)
    return _place(variant.numpy(split), target)


def jax_loader(
    latent: int | Variant = DEFAULT_LATENT,
    split: str = "train",
    batch_size: int = 256,
    shuffle: bool = True,
    drop_last: bool = False,
    shuffle_seed: int = 0,
    *,
    device: jax.Device | str | None = None,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
    version: str | None = None,
) -> JaxLoader:
    """Batches ``(x, y, label)`` of one split, the split resident on ``device`` and shuffled there every epoch.

    Args:
        latent: latent size N of the variant.
        split: ``"train"``, ``"test"`` or a slice such as ``"train[:1000]"``.
        batch_size: rows per batch.
        shuffle: a new ``jax.random`` order every epoch (from ``shuffle_seed`` and the epoch number).
        drop_last: drop the last, smaller batch of the iterator (:meth:`JaxLoader.epoch_batches` always does).
        shuffle_seed: seed of the shuffling.
        device: where the split lives and is shuffled (see :func:`jax_arrays`).
        seed: the variant's seed (0 is canonical; for a reference variant, the posterior draw).
        source: the raw data source (``"mnist"``, ``"fashion_mnist"``; see ``ldmnist_hub.data.sources.SOURCES``).
        train: training recipe overrides of the variant (see :class:`~ldmnist_hub.TrainConfig`).
        data_dir: folder with the raw IDX files (default: the source's environment variable, or the download cache).
        build: build the variant if it is not cached (otherwise raise).
        progress: show progress bars while building.
        version: the dataset version of a reference variant (default: the current one).

    Raises:
        InvalidArgumentError: bad ``batch_size``, an unknown device, bad latent or unknown split.

    Examples:
        >>> loader = jax_loader(latent=32, batch_size=256, shuffle_seed=0)  # doctest: +SKIP
        >>> for xb, yb, lb in loader:  # one epoch, batches already on the device  # doctest: +SKIP
        ...     params = update(params, xb, yb)
        >>> xs, ys, ls = loader.epoch_batches()  # next epoch as (234, 256, 32) arrays, for lax.scan  # doctest: +SKIP
    """
    variant = select(latent, "jax_loader", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    _check_batch_size(batch_size)
    target = resolve_device(device)
    return JaxLoader(*_place(variant.numpy(split), target), batch_size=batch_size, shuffle=shuffle,
                     drop_last=drop_last, shuffle_seed=shuffle_seed)
