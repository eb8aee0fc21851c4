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

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from ldmnist_hub import store
from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE, TrainConfig, VariantConfig
from ldmnist_hub.core.locks import exclusive, shared
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.data import sources
from ldmnist_hub.errors import IntegrityError, InvalidArgumentError, InvalidArgumentTypeError, NotFoundError
from ldmnist_hub.hub.pull import published_files
from ldmnist_hub.loading import cache, columns, encoded
from ldmnist_hub.loading.load import build_command, load_dataset, resolve_variant
from ldmnist_hub.store.files import VariantFiles, variant_files
from ldmnist_hub.store.identity import builder_hash, variant_cache_id

# The keywords beside ``latent`` that every public function taking a variant declares, in this order:
# seed, source, train, data_dir, build, progress, version (as in resolve, which also takes retrain).
SELECTION_KEYWORDS = ("seed", "source", "train", "data_dir", "build", "progress", "version")

# Memory-mapped datasets of splits served through ``datasets``, keyed by (variant folder, stats mtime,
# builder hash, split): a rebuilt variant (new stats file) or another LDMNIST_HOME never hits a stale entry.
_DATASETS: dict[tuple[str, int, str, str], Any] = {}


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
        build: build (or pull) the variant on first need if it is not cached (otherwise raise).
        progress: show progress bars while building.

    Examples:
        >>> v = resolve(latent=32)
        >>> v.name, v.class_names[:3]
        ('latent-32', ('0', '1', '2'))
    """

    config: VariantConfig
    data_dir: PathArg = None
    build: bool = True
    progress: bool = True

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
                "build": self.build, "progress": self.progress}

    @property
    def files(self) -> VariantFiles:
        """Weights and stats of the variant, built (or pulled) first if needed and allowed.

        Raises:
            NotFoundError: the variant is not built and ``build=False``.
        """
        files = variant_files(self.cache_id)
        try:
            current = files.is_current(builder_hash())
        except IntegrityError:
            if not self.config.is_reference:
                raise
            current = False  # a damaged copy of shipped weights: load_dataset writes it again
        if not current and published_files(files) is None:
            # load_dataset builds (or raises NotFoundError naming the fix when build=False).
            load_dataset("ldmnist", split="test[:1]", **self.load_kwargs())
        return files

    @property
    def stats(self) -> dict[str, Any]:
        """The variant's build record: its recipe (``"variant"``), ``"scores"``, split sizes and more."""
        return self.files.stats()

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

    def dataset(self, split: str | None = None) -> Any:
        """The variant as a Hugging Face ``DatasetDict`` (or a ``Dataset`` of one ``split``).

        Examples:
            >>> resolve(latent=32).dataset("test[:10]").num_rows  # doctest: +SKIP
            10
        """
        return load_dataset("ldmnist", split=split, **self.load_kwargs())

    def numpy(self, split: str = "train") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One split as numpy arrays ``(x, y, label)``: float32 ``(n, N)``, float32 ``(n, N)``, int64 ``(n,)``.

        A built variant is read from its verified Arrow files with pyarrow alone
        (a reference variant not yet built is encoded and written into the same
        files); ``datasets`` serves what only it does (percent slices, trained
        and published variants), its memory-mapped dataset remembered per split.

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
        if not isinstance(split, str):
            raise InvalidArgumentError(f"split must be one string such as 'train' or 'test[:100]'; got split={split!r}")
        cache.check_split(split, self.config)  # load_dataset's error for a bad split, before anything is built
        arrays = self._read_with_pyarrow(split)
        if arrays is not None:
            return arrays
        files = variant_files(self.cache_id)
        code_hash = builder_hash()
        # Constructing the datasets builder costs ~10 ms, several times the copy itself; a variant
        # already loaded in this process (same folder, same stats file) reuses its memory-mapped Dataset.
        try:
            key = (str(files.root), files.stats_path.stat().st_mtime_ns, code_hash, split)
        except FileNotFoundError:
            key = None
        try:
            usable = key is not None and (files.is_current(code_hash) or published_files(files) is not None)
        except (IntegrityError, OSError):
            # Damaged, or being rebuilt right now (this check takes no lock): load_dataset decides under its locks,
            # the same way for every entry point (waits out a writer, repairs a reference copy, else raises).
            usable = False
        ds = _DATASETS.get(key) if usable else None  # type: ignore[arg-type]
        if ds is None:
            ds = self.dataset(split)
            try:
                _DATASETS[(str(files.root), files.stats_path.stat().st_mtime_ns, code_hash, split)] = ds
            except FileNotFoundError:
                pass  # rebuilt or pulled elsewhere since: served, not remembered
        return columns.dataset_arrays(ds)

    def _read_with_pyarrow(self, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The split read (or, for a reference variant, encoded and written) with pyarrow alone; None to ask datasets.

        The same locks and checks as :func:`ldmnist_hub.load_dataset`: a shared lock and the verified cache for
        a read, the variant's exclusive lock to write. ``datasets`` is asked for what only it defines or does:
        percent slices and empty selections, trained and published variants, damaged weights of a trained one.
        """
        if columns.parse_split(split) is None:
            return None
        cid = self.cache_id
        files, folder = variant_files(cid), cache.cache_dir(cid)
        lock, what, quiet = store.variant_lock(cid), f"the variant {cid}", not self.progress
        try:
            with shared(lock, what, quiet=quiet):
                if cache.ready(self.config, files, folder):
                    return columns.read_split(folder, split)
            if not encoded.encodable_here(self.config, self.data_dir):
                return None  # load_dataset pulls, trains, asks a mirror for a reference, or says how to build it
            with exclusive(lock, what, quiet=quiet):
                store.clean_leftovers(cid)
                if not cache.ready(self.config, files, folder):  # another process may have built it meanwhile
                    encoded.write_reference(self.config, cid, self.data_dir, progress=self.progress)
                return columns.read_split(folder, split)
        except IntegrityError:
            return None  # load_dataset decides, as for every entry point: a reference copy is rewritten, else it raises


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
) -> Variant:
    """Resolve the variant keywords every public entry point takes into one :class:`Variant`.

    Raises:
        InvalidArgumentError: a bad latent, seed, recipe field, or an unknown
            ``source`` (the message lists the known ones).
    """
    config = resolve_variant(latent=latent, seed=seed, source=source, train=train, retrain=retrain, version=version)
    return Variant(config, data_dir, build, progress)


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
