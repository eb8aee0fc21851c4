"""``load_dataset``: ``datasets.load_dataset`` with LD-MNIST variants built in.

``datasets`` 5 refuses dataset scripts and has no plugin hook, so this
function resolves ``"ldmnist"`` itself: it instantiates the builder in
``ldmnist_hub.builders.ldmnist`` with the variant's config, a cache id and a
hash of the code that produces the bytes, builds on first use and reloads from
the Arrow cache afterwards. Any other path goes straight to ``datasets``.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

from ldmnist_hub import store
from ldmnist_hub.core import faults, paths, versions
from ldmnist_hub.core.config import (
    CANONICAL_SEED,
    CANONICAL_SOURCE,
    TrainConfig,
    VariantConfig,
    check_latent,
    is_plain_name,
    parse_config_name,
)
from ldmnist_hub.core.locks import exclusive, shared
from ldmnist_hub.core.schema import DATASET_NAME, DEFAULT_LATENT
from ldmnist_hub.core.warn import warn
from ldmnist_hub.data import sources
from ldmnist_hub.errors import (
    IntegrityError,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    NotFoundError,
    NotWritableError,
    PullUnavailable,
    SourceError,
)
from ldmnist_hub.hub import pull
from ldmnist_hub.hub.repo import REPO_ENV, configured_repo, is_local_target
from ldmnist_hub.loading import cache, encoded
from ldmnist_hub.produce import reference
from ldmnist_hub.store.identity import builder_hash, variant_cache_id


def resolve_variant(
    name: str | None = None,
    latent: int | None = None,
    *,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: TrainConfig | dict[str, Any] | None = None,
    retrain: bool = False,
    version: str | None = None,
) -> VariantConfig:
    """Turn ``load_dataset``'s ``name``/``latent`` arguments into a :class:`VariantConfig`.

    Raises:
        ValueError: invalid latent size, a malformed name, or a name and a
            latent that disagree (``name="latent-16", latent=32``).

    Examples:
        >>> resolve_variant("latent-16").latent
        16
    """
    if latent is not None:
        check_latent(latent)
    if name is not None:
        from_name = parse_config_name(name)
        if latent is not None and latent != from_name:
            raise InvalidArgumentError(
                f"name={name!r} asks for latent {from_name} but latent={latent!r}; pass only one of them"
            )
        latent = from_name
    if latent is None:
        latent = DEFAULT_LATENT
    sources.get_source(source)  # an unknown source: one error, listing the known ones, from every entry point
    if isinstance(train, dict):
        train = TrainConfig.from_dict(train)
    elif train is not None and not isinstance(train, TrainConfig):
        raise InvalidArgumentTypeError(
            f"train must be a dict of recipe fields or a TrainConfig, e.g. train={{'epochs': 2}}; got train={train!r} "
            "(on the command line: --set epochs=2)")
    return VariantConfig(latent=latent, seed=seed, source=source, train=train or TrainConfig(), retrain=retrain,
                         version=version)


_REFERENCE_DRAW = re.compile(r"^latent-(\d+)-seed-(\d+)$")
_EARLIER_VERSION = re.compile(r"^latent-(\d+)-v\d+-\d+-\d+$")
_BUILT_NAME = re.compile(r"^latent-\d+(-[a-z0-9]+)+$")


def lookup(name: str) -> tuple[VariantConfig, str | None]:
    """The variant a printed name stands for (as ``ldmnist list`` shows it), and its raw folder when not official.

    ``latent-N`` and ``latent-N-seed-S`` name reference variants; any other name
    (``latent-8-trained-1f5b3204``, ``...-data-<digest>``) is looked up among the
    variants built in ``$LDMNIST_HOME``.

    Raises:
        NotFoundError: no built variant has that name (the message says how to list them).
    """
    if is_plain_name(name):
        return resolve_variant(name), None
    if not isinstance(name, str) or not _BUILT_NAME.match(name):
        raise InvalidArgumentError(f"config name must look like 'latent-32' (or a name `ldmnist list` prints, such as "
                                   f"'latent-8-trained-1f5b3204'); got name={name!r}")
    draw = _REFERENCE_DRAW.match(name)
    if draw:
        return VariantConfig(latent=int(draw.group(1)), seed=int(draw.group(2))), None
    earlier = _EARLIER_VERSION.match(name)
    if earlier:  # latent-8-v2-0-0: an earlier version (its pulled stats describe it as it was current)
        return VariantConfig(latent=int(earlier.group(1)), version=versions.of_name(name)), None
    stats = store.variant_files(name).stats_or_none()
    if stats is None:
        raise NotFoundError(f"no variant named {name!r} is built in {paths.variants_dir()}; `ldmnist list` shows the "
                            "built ones (or pass latent=, seed=, train= to build one)",
                            cli=f"no variant named {name!r} is built in {paths.variants_dir()}; `ldmnist list` shows "
                                "the built ones (or select one with --latent, --seed, --set to build it)")
    config = VariantConfig.from_dict(stats["variant"])
    return config, stats.get("source_dir") if config.name != name else None


def build_command(variant: VariantConfig, data_dir: str | os.PathLike[str] | None = None) -> str:
    """The ``ldmnist build`` command that builds exactly ``variant`` (its seed, source, recipe and raw files).

    Examples:
        >>> build_command(VariantConfig(latent=8, seed=2))
        'ldmnist build --latent 8 --seed 2'
    """
    parts = ["ldmnist build", f"--latent {variant.latent}"]
    if variant.seed != CANONICAL_SEED:
        parts.append(f"--seed {variant.seed}")
    if variant.source != CANONICAL_SOURCE:
        parts.append(f"--source {variant.source}")
    if variant.retrain:
        parts.append("--retrain")
    parts += [f"--set {k}={json.dumps(v)}" for k, v in variant.train.overrides().items()]
    if data_dir is not None:
        parts.append(f"--mnist-dir {shlex.quote(str(data_dir))}")
    return " ".join(parts)


def get_builder(
    variant: VariantConfig,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    progress: bool = True,
    cache_id: str | None = None,
):
    """The ``datasets`` builder of a variant (not yet prepared)."""
    from ldmnist_hub.builders.ldmnist import Ldmnist

    cid = cache_id or variant_cache_id(variant, data_dir)
    return Ldmnist(
        cache_dir=str(paths.datasets_cache_dir()),
        dataset_name=DATASET_NAME,
        config_id=cid,
        hash=builder_hash(),
        name=cid,
        latent=variant.latent,
        seed=variant.seed,
        source=variant.source,
        training=json.dumps(variant.train.to_dict(), sort_keys=True),
        retrain=variant.retrain,
        data_dir=None if data_dir is None else str(data_dir),
        progress=progress,
    )


def load_dataset(
    path: str,
    name: str | None = None,
    *,
    latent: int | None = None,
    split: str | None = None,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: TrainConfig | dict[str, Any] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    build: bool = True,
    progress: bool = True,
    repo: str | None = None,
    retrain: bool = False,
    version: str | None = None,
    **kwargs: Any,
) -> Any:
    """Load LD-MNIST (or any dataset) with ``datasets.load_dataset``'s shape and return types.

    Args:
        path: ``"ldmnist"`` for an LD-MNIST variant; anything else is passed to
            ``datasets.load_dataset`` unchanged (with ``name``, ``split``,
            ``data_dir`` and ``**kwargs``).
        name: config name such as ``"latent-16"``, or any name ``ldmnist list`` prints
            (``"latent-8-trained-1f5b3204"``); alternative to ``latent``.
        latent: latent size 1..512 (default 32).
        split: ``"train"``, ``"test"`` or a slice like ``"test[:100]"``;
            ``None`` returns a ``DatasetDict`` with both.
        seed: for a reference variant, the posterior draw (0 is canonical; other
            seeds are other draws from the same weights, for error bars); for a
            trained variant, the training and encoding seed.
        source: raw data source (``"mnist"``; see ``ldmnist_hub.sources.SOURCES``).
        train: training recipe overrides (a :class:`TrainConfig` or dict of its fields).
        data_dir: folder with the raw IDX files; default ``$LDMNIST_MNIST_DIR``,
            else a verified download into the cache.
        build: build the variant if it is not cached (otherwise raise).
        progress: show progress bars while building.
        retrain: train new weights with the recipe instead of using the shipped
            reference weights; the result is named ``latent-N-trained-<digest>``,
            never ``latent-N``, and depends on the machine.
        version: the dataset version of a reference variant, e.g. ``"2.0.0"`` (default: the current one).
            Every released version gives its bytes forever: the current one from the shipped weights, an
            earlier one from a repo or mirror (``repo``) whose files equal that version's shipped record.
        repo: published repo to try before training a variant (a Hub dataset
            repo id or a local folder); default ``$LDMNIST_REPO``, none if unset.
            Pulled files are verified against the repo's sha256 manifest.
            Reference variants are always encoded locally.
        **kwargs: for ``"ldmnist"``, ``keep_in_memory``; otherwise anything
            ``datasets.load_dataset`` accepts.

    Returns:
        ``datasets.DatasetDict`` (``split=None``) or ``datasets.Dataset``.

    Raises:
        ValueError: bad latent, name/latent conflict, unknown split.
        FileNotFoundError: the variant is not built (nor published) and
            ``build=False``, or the raw data folder is missing.
        ldmnist_hub.errors.IntegrityError: a pulled file does not match the manifest.

    Examples:
        >>> ds = load_dataset("ldmnist", latent=32)  # doctest: +SKIP
        >>> ds["train"][0]["label"]  # doctest: +SKIP
        5
    """
    if path != DATASET_NAME:
        import datasets

        return datasets.load_dataset(path, name, split=split, data_dir=data_dir, **kwargs)
    unknown = set(kwargs) - {"keep_in_memory"}
    if unknown:
        raise InvalidArgumentTypeError(f"load_dataset('ldmnist') got unexpected arguments {sorted(unknown)}")
    if isinstance(name, str) and not is_plain_name(name):
        # A printed name such as latent-8-trained-1f5b3204: the variant it was built as, and from where.
        variant, built_from = lookup(name)
        if latent is not None and check_latent(latent) != variant.latent:
            raise InvalidArgumentError(f"name={name!r} is a latent-{variant.latent} variant but latent={latent!r}; "
                                       "pass only one of them")
        data_dir = data_dir if data_dir is not None else built_from
    else:
        variant = resolve_variant(name, latent, seed=seed, source=source, train=train, retrain=retrain,
                                  version=version)
    cache.check_split(split, variant)
    cid = variant_cache_id(variant, data_dir)
    keep = kwargs.get("keep_in_memory", False)
    files = store.variant_files(cid)
    folder = cache.cache_dir(cid)
    lock_path, what = store.variant_lock(cid), f"the variant {cid}"
    # The warm path makes no builder and writes nothing (a read-only LDMNIST_HOME serves what it holds). Its
    # shared lock waits out a writer (`build --force`, an install) so it never sees a half-swapped variant; and
    # everything it serves is first checked against its recorded sha256, once per process per file.
    with shared(lock_path, what, quiet=not progress):
        if cache.ready(variant, files, folder):
            return cache.read(folder, split, keep)
        if pull.published_files(files) is not None:
            return pull.load_published(files, split, keep)
    if not variant.is_reference and not build and configured_repo(repo) is None:
        raise _not_built(variant, cid, data_dir, "")  # nothing may be written: not even a lock
    with exclusive(lock_path, what, quiet=not progress):
        store.clean_leftovers(cid)
        if not cache.ready(variant, files, folder):  # another process may have built it while we waited
            if encoded.encodable_here(variant, data_dir):
                # The builder's files without a builder; datasets (read next) is imported while MNIST inflates.
                encoded.write_reference(variant, cid, data_dir, progress=progress, meanwhile=cache.import_reader)
            else:
                builder = get_builder(variant, data_dir, progress=progress, cache_id=cid)
                if Path(builder.cache_dir) != folder:
                    raise RuntimeError(f"datasets puts the cache of {cid} in {builder.cache_dir}, not {folder}")
                _produce(variant, cid, builder, files, data_dir, repo, build, progress)
        if pull.published_files(files) is not None:
            return pull.load_published(files, split, keep)
        # Read under the lock: no rebuild can delete the files between the check and the memory map.
        return cache.read(folder, split, keep)


def _produce(variant: VariantConfig, cid: str, builder: Any, files: store.VariantFiles,
             data_dir: str | os.PathLike[str] | None, repo: str | None, build: bool, progress: bool) -> None:
    """Pull or build the variant and record its Arrow cache; the caller holds the variant's lock.

    A reference variant comes from, in order: local raw files (encoded exactly with the shipped weights, in
    seconds, checked against the record); a configured repo or mirror (pulled, accepted only where every
    array's sha256 equals the record); a download of the raw files. It is allowed even with ``build=False``,
    which forbids training only.
    """
    if variant.version is not None:
        _earlier_version(variant, cid, configured_repo(repo))
        return
    if variant.is_reference:
        if data_dir is None and sources.local_dir(variant.source) is None:
            _reference_without_raw_files(variant, cid, builder, configured_repo(repo), progress)
            return
    else:
        why = _pull(variant, cid, configured_repo(repo), build, data_dir)
        if why is None:
            return
        if not build:
            raise _not_built(variant, cid, data_dir, why)
    prepare(builder, progress)
    store.record_arrow(files, Path(builder.cache_dir))
    faults.point("build:arrow-recorded")


def _reference_without_raw_files(variant: VariantConfig, cid: str, builder: Any, repo: str | None,
                                 progress: bool) -> None:
    """No raw files here: the reference bytes from a repo or mirror, else from a download of the raw files."""
    src = sources.get_source(variant.source)
    tried = [f"local {variant.source} files: none in ${src.env_var} or {paths.sources_dir(variant.source)}"]
    if repo is None:
        tried.append(f"a repo or mirror: none configured (--repo, ${REPO_ENV})")
    elif paths.offline() and not is_local_target(repo):
        tried.append(f"{repo}: not asked (offline)")
    else:
        files = store.variant_files(cid)
        pull.discard_unchecked(files)
        try:
            if pull.pull_variant(variant, cid, repo) is not None:
                return
            tried.append(f"{repo}: does not publish {cid}")
        except IntegrityError as err:
            raise IntegrityError(f"{err}. A reference variant is accepted from a repo only where every array "
                                 f"equals the shipped record; point --mnist-dir/${src.env_var} at the official "
                                 f"files, or use another repo") from err
        except PullUnavailable as err:
            tried.append(f"{repo}: {err}")
    try:
        prepare(builder, progress)
    except (SourceError, NotFoundError) as err:
        download = str(err).rstrip(".")
        raise SourceError(f"{cid} could not be produced; tried, in order: " + "; ".join(tried) + f"; a download of "
                          f"the raw files: {download}. Fix one: point ${src.env_var} at the official {variant.source} "
                          f"files, configure a mirror that publishes {cid} (${REPO_ENV}), or allow the "
                          "download") from err
    store.record_arrow(store.variant_files(cid), Path(builder.cache_dir))


def _earlier_version(variant: VariantConfig, cid: str, repo: str | None) -> None:
    """An earlier version's bytes when they cannot be encoded here: pulled, accepted only where they equal its record.

    On the Hub the version is the revision tagged ``latent-N-vX.Y.Z``; a folder mirror is read as it is.
    """
    current = variant.as_current()
    what = f"latent-{variant.latent} version {variant.version}"
    if repo is None and reference.get(variant.latent, variant.version) is not None:
        src = sources.get_source(variant.source)
        raise NotFoundError(
            f"{what} is an earlier version whose weights ship, so it is encoded here exactly from the raw "
            f"{variant.source} files, which are not here: point ${src.env_var} (data_dir=...) at them, or pass "
            f"repo=... (--repo, ${REPO_ENV}) to pull its bytes from a repo that holds them")
    if repo is None:
        raise NotFoundError(
            f"{what} is an earlier version: the package ships its record, not its weights, so its bytes come from a "
            f"repo or mirror that holds them; pass repo=... (--repo) or set ${REPO_ENV} (the current version, "
            f"{current.dataset_version}, needs none)")
    revision = None if is_local_target(repo) else versions.tag(variant.latent, variant.version)
    try:
        got = pull.pull_variant(current, cid, repo, revision=revision, version=variant.version)
    except PullUnavailable as err:
        raise NotFoundError(f"{what} could not be read from {repo}: {err}") from err
    if got is None:
        where = f"its tag {revision}" if revision else "its manifest"
        raise NotFoundError(f"{repo} does not publish {what} ({where} holds no latent-{variant.latent}); use a repo "
                            "that does")


def _not_built(variant: VariantConfig, cid: str, data_dir: str | os.PathLike[str] | None, why: str) -> NotFoundError:
    return NotFoundError(f"LD-MNIST variant {cid!r} is not built yet{why}; run `{build_command(variant, data_dir)}` "
                         "or call load_dataset(..., build=True)",
                         cli=f"LD-MNIST variant {cid!r} is not built yet{why}; building it means training it "
                             f"here: run `{build_command(variant, data_dir)}`")


def prepare(builder: Any, progress: bool) -> None:
    """Prepare (encode and write) a builder's Arrow cache from scratch; the caller holds the variant's lock.

    Whatever a killed build left in the cache (a half-written ``.incomplete`` folder, data without weights)
    is removed first, so the result never mixes two builds.
    """
    import datasets

    cache_dir = Path(builder.cache_dir)
    for leftover in cache_dir.parent.glob(f"{cache_dir.name}*.incomplete"):
        shutil.rmtree(leftover, ignore_errors=True)
    was_enabled = datasets.utils.logging.is_progress_bar_enabled()
    if not progress:
        datasets.disable_progress_bars()  # --quiet: no "Generating split" bars either
    try:
        builder.download_and_prepare(download_mode="force_redownload" if cache_dir.exists() else None)
    except Exception as err:
        full = _disk_full(err)
        if full is None:
            raise
        for leftover in cache_dir.parent.glob(f"{cache_dir.name}*.incomplete"):
            shutil.rmtree(leftover, ignore_errors=True)
        need_mb = 70_000 * (8 * builder.config.latent + 16) / 1e6  # rows x (x and y float32, two int64)
        raise NotWritableError(
            f"the disk holding {paths.datasets_cache_dir()} is full ({full.strerror}) while writing the Arrow cache "
            f"of {builder.config.name} (about {need_mb:.0f} MB); free space there or point LDMNIST_HOME at a larger "
            "disk, then load again (nothing half-written is kept)") from err
    finally:
        if not progress and was_enabled:
            datasets.enable_progress_bars()


def _disk_full(err: BaseException) -> OSError | None:
    """The out-of-space ``OSError`` behind ``err`` (datasets wraps it in DatasetGenerationError), if any."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def rebuild(variant: VariantConfig, data_dir: str | os.PathLike[str] | None = None, *, progress: bool = True) -> Any:
    """Build a variant again from scratch (``ldmnist build --force``), holding its lock throughout.

    The weights, stats and Arrow cache are deleted under the lock and written again; a concurrent load
    waits, and a kill at any point leaves nothing that a later load would serve unverified.
    """
    cid = variant_cache_id(variant, data_dir)
    builder = get_builder(variant, data_dir, progress=progress, cache_id=cid)
    files = store.variant_files(cid)
    with exclusive(store.variant_lock(cid), f"the variant {cid}", quiet=not progress):
        store.clean_leftovers(cid)
        shutil.rmtree(files.root, ignore_errors=True)
        shutil.rmtree(builder.cache_dir, ignore_errors=True)
        faults.point("force:deleted")
        prepare(builder, progress)
        store.record_arrow(files, Path(builder.cache_dir))
        return cache.read(Path(builder.cache_dir), None)


def _pull(variant: VariantConfig, cid: str, repo: str | None, build: bool,
          data_dir: str | os.PathLike[str] | None) -> str | None:
    """Try the published repo; None if the variant was pulled, else why not (for messages).

    Raises:
        IntegrityError: a file of the repo does not match its manifest; the message gives the command
            that builds the same variant locally without pulling.
    """
    pull.discard_unchecked(store.variant_files(cid))  # a copy pulled without this version's checks: never used
    if repo is None:
        return ""
    if store.variant_files(cid).is_current(builder_hash()):
        # Our own current weights (only the Arrow cache is missing): re-encoding them beats replacing them.
        return ""
    if paths.offline() and not is_local_target(repo):
        if build:  # the repo was asked for: training instead must not be silent
            said = f"offline (HF_HUB_OFFLINE/LDMNIST_OFFLINE is set): not looking in {repo} for {cid}; training it " \
                   "locally instead (unset them to pull it, or "
            warn(said + "pass build=False)", cli=said + "add --no-train)")
        return f" (offline: not looking in {repo})"
    try:
        if pull.pull_variant(variant, cid, repo, data_dir=data_dir) is not None:
            return None
        return f" and {repo} does not publish it"
    except IntegrityError as err:
        raise IntegrityError(f"{err}. To build the same variant here instead, without pulling: "
                             f"`LDMNIST_REPO= {build_command(variant, data_dir)}`") from err
    except PullUnavailable as err:
        if build:
            warn(f"{err}; building {variant.name} locally instead")
        return f" and pulling it failed: {err}"
