"""Where a variant's bytes come from: one ordered list of origins, asked in turn under the variant's lock.

:meth:`ldmnist_hub.loading.variant.Variant.prepare` makes this choice once for
every loader (numpy, ``datasets``, the adapters, the evaluator), like the
module factories of ``datasets``: the **store** (a prepared, verified Arrow
cache or a pulled copy), an exact **encode from local raw files**, a configured
**repo or mirror**, a **download** of the raw files, and **training**, if
allowed. Each origin has one job: it writes the variant into the store and
returns ``None``, or returns why it did not (the reasons name what was tried in
the error that ends the search). A fault that must not be papered over (a file
that contradicts its record, a full disk) stops the search where it happens.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ldmnist_hub import store
from ldmnist_hub.core import faults, paths, versions
from ldmnist_hub.core.config import VariantConfig
from ldmnist_hub.core.schema import SPLITS
from ldmnist_hub.core.warn import warn
from ldmnist_hub.data import sources
from ldmnist_hub.errors import IntegrityError, NotFoundError, PullUnavailable, SourceError
from ldmnist_hub.hub import pull
from ldmnist_hub.hub.repo import REPO_ENV, is_local_target
from ldmnist_hub.loading import builder, cache, columns, encoded
from ldmnist_hub.loading.selection import build_command
from ldmnist_hub.produce import reference
from ldmnist_hub.store.identity import builder_hash

Meanwhile = Callable[[], object] | None
"""What a cold encode imports while the raw files inflate (``load_dataset``: ``datasets``' reader)."""


@dataclass(frozen=True)
class Wanted:
    """What the origins are asked for: one variant, where its raw files are, which repo, what is allowed.

    Attributes:
        config: the variant.
        cache_id: its name in the store (``-data-<digest>`` for non-official raw files).
        data_dir: folder with the raw files, or None for the source's environment variable or the cache.
        repo: the repo or mirror to pull from (the argument, else ``$LDMNIST_REPO``), or None.
        build: whether training is allowed (a reference variant is produced either way).
        progress: show progress bars and lock notes.
    """

    config: VariantConfig
    cache_id: str
    data_dir: str | os.PathLike[str] | None
    repo: str | None
    build: bool
    progress: bool

    @cached_property
    def files(self) -> store.VariantFiles:
        """The variant's weights, stats and records in the store."""
        return store.variant_files(self.cache_id)

    @cached_property
    def folder(self) -> Path:
        """The variant's prepared Arrow cache folder (it may not exist)."""
        return cache.cache_dir(self.cache_id)

    @property
    def what(self) -> str:
        """The variant, for lock notes."""
        return f"the variant {self.cache_id}"


@dataclass(frozen=True)
class Served:
    """The verified files a variant's splits are read from: the prepared cache, or the shards of a pulled copy."""

    wanted: Wanted
    split_files: dict[str, Path]
    pulled: bool

    def numpy(self, split: str) -> columns.Arrays:
        """``(x, y, label)`` of a split spec, read with pyarrow."""
        return columns.read_split(self.split_files, split)

    def column(self, split: str, name: str) -> Any:
        """One column (such as ``mnist_index``) of a split spec, as a writable int64 array."""
        return columns.column(columns.read_tables(self.split_files, split), name, np.int64)

    def dataset(self, split: Any, keep_in_memory: bool = False) -> Any:
        """A ``datasets.Dataset`` of a split spec, or a ``DatasetDict`` of every split (``split=None``)."""
        if self.pulled:
            files = self.wanted.files
            info = pull.published_info(files)
            # A pull writes the stats last: a copy pulled again is another fingerprint.
            identity = f"{files.root.relative_to(paths.home_dir()).as_posix()}@{files.stats_path.stat().st_mtime_ns}"
        else:
            import datasets

            info = datasets.DatasetInfo.from_directory(str(self.wanted.folder))
            # The fingerprint datasets' builder gives these rows: later .map caches stay valid.
            identity = self.wanted.folder.relative_to(paths.datasets_cache_dir()).as_posix()
        return cache.read(self.split_files, split, info, identity, keep_in_memory)


class Store:
    """The store: a prepared Arrow cache whose files equal its record, or a pulled copy that passed its checks."""

    name = "the store"

    def serve(self, wanted: Wanted) -> Served | None:
        """The variant's verified files, or None if it is not in the store (yet).

        Raises:
            IntegrityError: altered weights of a trained variant, or a pulled copy whose files no longer match.
        """
        if cache.ready(wanted.config, wanted.files, wanted.folder):
            # The splits written (a reference variant encoded from a tiny copy of MNIST has no validation rows).
            split_files = {s: path for s in SPLITS if (path := columns.arrow_file(wanted.folder, s)).is_file()}
            return Served(wanted, split_files, pulled=False)
        shards = pull.published_files(wanted.files)
        if shards is not None:
            return Served(wanted, shards, pulled=True)
        return None


class LocalFiles:
    """An exact encode, with the weights the package ships, of raw files that are here (no download, no pull)."""

    name = "local raw files"

    def produce(self, wanted: Wanted, tried: list[str], meanwhile: Meanwhile = None) -> str | None:
        config = wanted.config
        if not config.is_reference:
            return ""  # a trained variant's weights are trained (or pulled), never shipped
        if not encoded.encodable_here(config, wanted.data_dir):
            src = sources.get_source(config.source)
            return f"local {config.source} files: none in ${src.env_var} or {paths.sources_dir(config.source)}"
        encoded.write_reference(config, wanted.cache_id, wanted.data_dir, progress=wanted.progress,
                                meanwhile=meanwhile)
        return None


class Mirror:
    """A configured repo or mirror (a Hub dataset repo or a folder): pulled, installed only where it checks out.

    A reference variant is accepted only where every array's sha256 equals the shipped record; an earlier
    version is read at its tag; a trained variant's files are checked against its manifest and its weights.
    """

    name = "a repo or mirror"

    def produce(self, wanted: Wanted, tried: list[str], meanwhile: Meanwhile = None) -> str | None:
        if wanted.config.version is not None:
            return self._earlier_version(wanted)
        if wanted.config.is_reference:
            return self._reference(wanted)
        return self._trained(wanted)

    def _reference(self, wanted: Wanted) -> str | None:
        repo, cid = wanted.repo, wanted.cache_id
        if repo is None:
            return f"a repo or mirror: none configured (--repo, ${REPO_ENV})"
        if paths.offline() and not is_local_target(repo):
            return f"{repo}: not asked (offline)"
        pull.discard_unchecked(wanted.files)
        try:
            if pull.pull_variant(wanted.config, cid, repo) is not None:
                return None
        except IntegrityError as err:
            src = sources.get_source(wanted.config.source)
            raise IntegrityError(f"{err}. A reference variant is accepted from a repo only where every array "
                                 f"equals the shipped record; point --mnist-dir/${src.env_var} at the official "
                                 f"files, or use another repo") from err
        except PullUnavailable as err:
            return f"{repo}: {err}"
        return f"{repo}: does not publish {cid}"

    def _earlier_version(self, wanted: Wanted) -> str | None:
        """An earlier version's bytes when they cannot be encoded here (on the Hub: at its tag ``latent-N-vX.Y.Z``).

        Raises:
            NotFoundError: a version whose weights do not ship, with no repo configured (the message says where
                its bytes must come from) or a repo that lacks them.
        """
        variant, repo = wanted.config, wanted.repo
        what = f"latent-{variant.latent} version {variant.version}"
        # Its weights ship: a download of the raw files (the next origin) encodes it exactly, so a mirror that
        # lacks it is one more place tried, not the end of the search.
        ships = reference.get(variant.latent, variant.version) is not None
        if repo is None and ships:
            return f"a repo or mirror: none configured (--repo, ${REPO_ENV})"
        if repo is None:
            raise NotFoundError(
                f"{what} is an earlier version: the package ships its record, not its weights, so its bytes come "
                f"from a repo or mirror that holds them; pass repo=... (--repo) or set ${REPO_ENV} (the current "
                f"version, {variant.as_current().dataset_version}, needs none)")
        if ships and paths.offline() and not is_local_target(repo):
            return f"{repo}: not asked (offline)"
        revision = None if is_local_target(repo) else versions.tag(variant.latent, variant.version)
        try:
            got = pull.pull_variant(variant.as_current(), wanted.cache_id, repo, revision=revision,
                                    version=variant.version)
        except PullUnavailable as err:
            if ships:
                return f"{repo}: {err}"
            raise NotFoundError(f"{what} could not be read from {repo}: {err}") from err
        if got is None:
            where = f"its tag {revision}" if revision else "its manifest"
            if ships:
                return f"{repo}: {where} holds no latent-{variant.latent}"
            raise NotFoundError(f"{repo} does not publish {what} ({where} holds no latent-{variant.latent}); use a "
                                "repo that does")
        return None

    def _trained(self, wanted: Wanted) -> str | None:
        """Pull a trained variant; its reason, said after "not built yet", when it was not pulled.

        Raises:
            IntegrityError: a file of the repo does not match its manifest; the message gives the command that
                builds the same variant here instead, without pulling.
        """
        variant, cid, repo = wanted.config, wanted.cache_id, wanted.repo
        pull.discard_unchecked(wanted.files)  # a copy pulled without this version's checks: never used
        if repo is None:
            return ""
        if wanted.files.is_current(builder_hash()):
            # Our own current weights (only the Arrow cache is missing): re-encoding them beats replacing them.
            return ""
        if paths.offline() and not is_local_target(repo):
            if wanted.build:  # the repo was asked for: training instead must not be silent
                said = f"offline (HF_HUB_OFFLINE/LDMNIST_OFFLINE is set): not looking in {repo} for {cid}; " \
                       "training it locally instead (unset them to pull it, or "
                warn(said + "pass build=False)", cli=said + "add --no-train)")
            return f" (offline: not looking in {repo})"
        try:
            if pull.pull_variant(variant, cid, repo, data_dir=wanted.data_dir) is not None:
                return None
        except IntegrityError as err:
            raise IntegrityError(f"{err}. To build the same variant here instead, without pulling: "
                                 f"`LDMNIST_REPO= {build_command(variant, wanted.data_dir)}`") from err
        except PullUnavailable as err:
            if wanted.build:
                warn(f"{err}; building {variant.name} locally instead")
            return f" and pulling it failed: {err}"
        return f" and {repo} does not publish it"


class Download:
    """A reference variant encoded from a verified download of its raw files (sha256-checked, into the cache)."""

    name = "a download of the raw files"

    def produce(self, wanted: Wanted, tried: list[str], meanwhile: Meanwhile = None) -> str | None:
        config = wanted.config
        if not config.is_reference or reference.get(config.latent, config.version) is None:
            return ""  # trained, or an earlier version whose weights do not ship (the mirror said why)
        try:
            encoded.write_reference(config, wanted.cache_id, wanted.data_dir, progress=wanted.progress,
                                    meanwhile=meanwhile)
        except (SourceError, NotFoundError) as err:
            src = sources.get_source(config.source)
            download = str(err).rstrip(".")
            raise SourceError(f"{wanted.cache_id} could not be produced; tried, in order: " + "; ".join(tried)
                              + f"; a download of the raw files: {download}. Fix one: point ${src.env_var} at the "
                              f"official {config.source} files, configure a mirror that publishes {wanted.cache_id} "
                              f"(${REPO_ENV}), or allow the download") from err
        return None


class Train:
    """Training the variant's weights with its recipe, then encoding (the ``datasets`` builder), if allowed."""

    name = "training"

    def produce(self, wanted: Wanted, tried: list[str], meanwhile: Meanwhile = None) -> str | None:
        if not wanted.build:
            raise not_built(wanted, "".join(tried))
        made = builder.get_builder(wanted.config, wanted.data_dir, progress=wanted.progress, cache_id=wanted.cache_id)
        if Path(made.cache_dir) != wanted.folder:
            raise RuntimeError(f"datasets puts the cache of {wanted.cache_id} in {made.cache_dir}, not {wanted.folder}")
        builder.prepare(made, wanted.progress)
        store.record_arrow(wanted.files, wanted.folder)
        faults.point("build:arrow-recorded")
        return None


STORE = Store()
ORIGINS = (LocalFiles(), Mirror(), Download(), Train())
"""The origins after the store, in the order they are asked (a reference variant never reaches training)."""


def produce(wanted: Wanted, meanwhile: Meanwhile = None) -> Served:
    """The variant's files from the store, else from the first origin that writes them; call under its lock.

    Raises:
        NotFoundError: a trained variant that is not built, with ``build=False`` (the message says why it was
            not pulled and how to build it).
        SourceError: a reference variant that no origin could produce (the message lists what was tried).
        IntegrityError: a file contradicts its record.
    """
    store.clean_leftovers(wanted.cache_id)
    served = STORE.serve(wanted)  # another process may have produced it while we waited for the lock
    if served is not None:
        return served
    tried: list[str] = []
    for origin in ORIGINS:
        why = origin.produce(wanted, tried, meanwhile)
        if why is None:
            served = STORE.serve(wanted)
            if served is None:  # written, yet not what its records say: never served, never papered over
                raise IntegrityError(f"{origin.name} wrote {wanted.cache_id} into {wanted.files.root}, but the files "
                                     "do not verify against their records; run `ldmnist clean` and load again")
            return served
        if why:
            tried.append(why)
    raise RuntimeError(f"no origin produced {wanted.cache_id}: {tried}")  # Download or Train raise first


def refused_without_a_lock(wanted: Wanted) -> NotFoundError | None:
    """The error for a trained variant that may neither be built nor pulled: nothing may be written, not a lock."""
    if not wanted.config.is_reference and not wanted.build and wanted.repo is None:
        return not_built(wanted, "")
    return None


def not_built(wanted: Wanted, why: str) -> NotFoundError:
    """The "not built yet" error of a trained variant, with why it was not pulled and the command that builds it."""
    command = build_command(wanted.config, wanted.data_dir)
    return NotFoundError(f"LD-MNIST variant {wanted.cache_id!r} is not built yet{why}; run `{command}` or call "
                         "load_dataset(..., build=True)",
                         cli=f"LD-MNIST variant {wanted.cache_id!r} is not built yet{why}; building it means "
                             f"training it here: run `{command}`")
