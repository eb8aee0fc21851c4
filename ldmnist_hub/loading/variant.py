"""The one LD-MNIST variant object: resolved once from the selection keywords, then handed down.

``latent``, ``seed`` (the variant's seed: the posterior draw of a reference
variant, the training seed of a trained one), ``source``, ``train``,
``data_dir``, ``build``, ``progress`` and ``version`` mean the same in every
public call; :func:`resolve` turns them into a :class:`Variant`, which carries
the variant's files, stats and splits, and which the scoring, adapter,
benchmark and picture layers take without re-deriving anything. A public
function writes the keywords out in its own signature and hands them to
:func:`select`, which also passes an already resolved variant through.
Random seeds of other things have their own names (``shuffle_seed``,
``sample_seed``, ``model_seed``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import numpy as np

from ldmnist_hub import store
from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE, TrainConfig, VariantConfig
from ldmnist_hub.core.locks import exclusive, shared
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.data import sources
from ldmnist_hub.errors import IntegrityError, InvalidArgumentError, InvalidArgumentTypeError, NotFoundError
from ldmnist_hub.hub.pull import published_files
from ldmnist_hub.hub.repo import configured_repo
from ldmnist_hub.loading import cache, origins, splits
from ldmnist_hub.loading.selection import build_command, resolve_variant
from ldmnist_hub.store.files import VariantFiles, variant_files
from ldmnist_hub.store.identity import builder_hash, variant_cache_id

T = TypeVar("T")

# The keywords beside ``latent`` that every public function taking a variant declares, in this order:
# seed, source, train, data_dir, build, progress, version (as in resolve, which also takes retrain).
SELECTION_KEYWORDS = ("seed", "source", "train", "data_dir", "build", "progress", "version")

@dataclass(frozen=True)
class Variant:
    """One LD-MNIST variant: its validated selection, its files, stats and splits; made by :func:`resolve`.

    Resolving validates the keywords and builds nothing: the variant is built
    (or pulled) on first need, when ``build=True``. :func:`ldmnist_hub.variant`
    returns the same object with the framework loaders and the scorer as methods
    too (:class:`ldmnist_hub.LDMNISTVariant`).

    Attributes:
        config: the variant's validated config (latent, seed, source, recipe, version).
        data_dir: folder with the raw IDX files (default: the source's environment variable or the cache).
        build: train the variant on first need if no origin has it (a reference variant is encoded either way).
        progress: show progress bars while building.
        repo: the repo or mirror to pull from when the variant is not here (default ``$LDMNIST_REPO``).

    Examples:
        >>> v = resolve(latent=32)
        >>> v.name, v.class_names[:3]
        ('latent-32', ('0', '1', '2'))
    """

    config: VariantConfig
    data_dir: PathArg = None
    build: bool = True
    progress: bool = True
    repo: str | None = None

    @property
    def latent(self) -> int:
        """The latent size N: ``x`` and ``y`` are ``(n, N)``."""
        return self.config.latent

    @property
    def seed(self) -> int:
        """The variant's seed (a reference variant's posterior draw, a trained one's training seed)."""
        return self.config.seed

    @property
    def source(self) -> str:
        """The raw data source, such as ``"mnist"``."""
        return self.config.source

    @property
    def name(self) -> str:
        """The variant's name, such as ``latent-32`` (its cache folder adds ``-data-<digest>`` for other raw files)."""
        return self.config.name

    @property
    def version(self) -> str | None:
        """The dataset version of a reference variant (current unless ``version=`` picked one); ``None`` if trained."""
        return self.config.dataset_version

    @property
    def resolved(self) -> Variant:
        """The variant itself (the handle and the resolved variant were two objects before 0.3; kept for them)."""
        return self

    @property
    def class_names(self) -> tuple[str, ...]:
        """The label names of the variant's source (``"0"``..``"9"`` for MNIST)."""
        return sources.get_source(self.source).classes

    @cached_property
    def cache_id(self) -> str:
        """The variant's name, with ``-data-<digest>`` when built from non-official raw files."""
        return variant_cache_id(self.config, self.data_dir)

    def load_kwargs(self) -> dict[str, Any]:
        """The keywords of :func:`ldmnist_hub.load_dataset` that select this variant."""
        return {"latent": self.latent, "seed": self.seed, "source": self.source, "train": self.config.train,
                "retrain": self.config.retrain, "version": self.config.version, "data_dir": self.data_dir,
                "build": self.build, "progress": self.progress, "repo": self.repo}

    @property
    def files(self) -> VariantFiles:
        """Weights and stats of the variant, prepared first (:meth:`prepare`) if they are not here.

        Raises:
            NotFoundError: the variant is not built and ``build=False``.
        """
        files = variant_files(self.cache_id)
        try:
            current = files.is_current(builder_hash())
        except IntegrityError:
            if not self.config.is_reference:
                raise
            current = False  # a damaged copy of shipped weights: prepare() writes it again
        if not current and published_files(files) is None:
            self.prepare()
        return files

    @property
    def stats(self) -> dict[str, Any]:
        """The variant's build record: its recipe (``"variant"``), ``"scores"``, split sizes and more."""
        return self.files.stats()

    def prepare(self) -> VariantFiles:
        """Make sure the variant's bytes are here, from the first origin that has them, and return its files.

        The origins, in order (:mod:`ldmnist_hub.loading.origins`): the store; an exact encode of local raw
        files; the repo or mirror; a download of the raw files; training, when ``build=True``.

        Raises:
            NotFoundError: a trained variant that is not built, with ``build=False``.
            SourceError: a reference variant that no origin could produce (the message lists what was tried).
        """
        self._read(lambda served: None)
        return variant_files(self.cache_id)

    def require(self, purpose: str) -> VariantFiles:
        """:attr:`files`, with a "not built" error that says what the variant was needed for."""
        try:
            return self.files
        except FileNotFoundError as err:
            said = f"LD-MNIST variant {self.cache_id!r} is not built, so there is nothing to {purpose}; run " \
                   f"`{self.build_command()}` first, or "
            raise NotFoundError(said + "pass build=True", cli=said + "add --build") from err

    def build_command(self) -> str:
        """The ``ldmnist build`` command that builds exactly this variant."""
        return build_command(self.config, self.data_dir)

    def trained_with(self) -> TrainConfig:
        """The recipe the variant's weights were trained with, as its stats record it."""
        return VariantConfig.from_dict(self.stats["variant"]).train

    def dataset(self, split: Any = None, keep_in_memory: bool = False) -> Any:
        """The variant as a Hugging Face ``DatasetDict`` (or a ``Dataset`` of one ``split``).

        Args:
            split: a split spec such as ``"test[:10]"``, a list of them, or None for every split.
            keep_in_memory: copy the rows into memory instead of memory-mapping the cache.

        Raises:
            InvalidArgumentError: an unknown split, or one the variant lacks.

        Examples:
            >>> resolve(latent=32).dataset("test[:10]").num_rows  # doctest: +SKIP
            10
        """
        splits.check(split, self.config)  # before anything is built
        # A cold encode imports datasets' reader (0.9-1.4 s) while the raw files inflate.
        return self._read(lambda served: served.dataset(split, keep_in_memory), meanwhile=cache.import_reader)

    def numpy(self, split: str = "train") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One split as numpy arrays ``(x, y, label)``: float32 ``(n, N)``, float32 ``(n, N)``, int64 ``(n,)``.

        The verified files are read with pyarrow alone (no ``datasets`` import for integer slices), with
        the split grammar of ``datasets`` (:mod:`ldmnist_hub.loading.splits`); each column is one aligned,
        writable copy.

        Args:
            split: ``"train"``, ``"validation"``, ``"test"`` or a slice such as ``"test[:100]"``.

        Raises:
            InvalidArgumentError: ``split`` is not one string, or names no split of the variant.
            NotFoundError: the variant is not built and ``build=False``.

        Examples:
            >>> x, y, label = resolve(latent=32).numpy("test")  # doctest: +SKIP
            >>> x.shape, x.dtype, label.dtype  # doctest: +SKIP
            ((10000, 32), dtype('float32'), dtype('int64'))
        """
        self._check_one_split(split)
        return self._read(lambda served: served.numpy(split))

    def mnist_index(self, split: str = "train") -> np.ndarray:
        """The ``mnist_index`` column of a split: each row's index in the MNIST file it was encoded from (int64)."""
        self._check_one_split(split)
        return self._read(lambda served: served.column(split, "mnist_index"))

    def _check_one_split(self, split: Any) -> None:
        """Refuse anything but one split spec of this variant, before anything is built."""
        if not isinstance(split, str):
            raise InvalidArgumentError(f"split must be one string such as 'train' or 'test[:100]'; got split={split!r}")
        splits.check(split, self.config)

    def _read(self, read: Callable[[origins.Served], T], meanwhile: origins.Meanwhile = None) -> T:
        """``read`` of the variant's verified files, from the store or from the first origin that produces them.

        The one place that decides where the bytes come from, for every loader. A shared lock waits out a
        writer (``build --force``, an install) so no read sees a half-swapped variant; what is missing is
        produced under the variant's exclusive lock, and read under it.
        """
        wanted = origins.Wanted(self.config, self.cache_id, self.data_dir, configured_repo(self.repo), self.build,
                                self.progress)
        lock, quiet = store.variant_lock(wanted.cache_id), not self.progress
        with shared(lock, wanted.what, quiet=quiet):
            served = origins.STORE.serve(wanted)
            if served is not None:
                return read(served)
        refused = origins.refused_without_a_lock(wanted)
        if refused is not None:
            raise refused
        with exclusive(lock, wanted.what, quiet=quiet):
            return read(origins.produce(wanted, meanwhile))


def resolve(
    latent: int = DEFAULT_LATENT,
    *,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    retrain: bool = False,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
    version: str | None = None,
    repo: str | None = None,
) -> Variant:
    """Resolve the variant keywords every public entry point takes into one :class:`Variant`.

    ``repo`` is the repo or mirror to pull the variant from when it is not here (default ``$LDMNIST_REPO``).

    Raises:
        InvalidArgumentError: a bad latent, seed, recipe field, or an unknown
            ``source`` (the message lists the known ones).
    """
    config = resolve_variant(latent=latent, seed=seed, source=source, train=train, retrain=retrain, version=version)
    return Variant(config, data_dir, build, progress, repo)


_CANONICAL = {"seed": CANONICAL_SEED, "source": CANONICAL_SOURCE, "train": None, "data_dir": None, "version": None}


def select(
    latent: int | Variant,
    caller: str,
    *,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
    version: str | None = None,
) -> Variant:
    """The variant a public function was asked for: ``latent`` itself when it is resolved, else :func:`resolve`.

    Every public function that takes a variant declares ``latent`` and the
    :data:`SELECTION_KEYWORDS` in its own signature and passes them here, so a
    layer above can hand down a variant it resolved once.

    Args:
        latent: the latent size N, or an already resolved :class:`Variant`.
        caller: the public function's name, for the error below.
        seed: the variant's seed.
        source: the raw data source.
        train: training recipe overrides.
        data_dir: folder with the raw IDX files.
        build: build the variant on first need if it is not cached.
        progress: show progress bars while building.
        version: the dataset version of a reference variant.

    Raises:
        InvalidArgumentTypeError: a resolved variant passed with keywords that select another one beside it.

    Examples:
        >>> select(8, "f").name, select(resolve(16), "f").name
        ('latent-8', 'latent-16')
    """
    if isinstance(latent, Variant):
        given = {"seed": seed, "source": source, "train": train, "data_dir": data_dir, "version": version}
        beside = [name for name, value in given.items() if value != _CANONICAL[name]]
        if beside:
            raise InvalidArgumentTypeError(
                f"{caller}() got the resolved variant {latent.name!r} and {'=, '.join(beside)}=; "
                "pass either a resolved variant or the keywords that select one")
        return latent
    return resolve(latent, seed=seed, source=source, train=train, data_dir=data_dir, build=build, progress=progress,
                   version=version)
