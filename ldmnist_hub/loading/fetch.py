"""``ldmnist pull``: install a published variant from a repo into ``$LDMNIST_HOME`` on purpose, not as a
side effect of a load.

``load_dataset(..., repo=...)`` already pulls when the variant is not here; this is the explicit step (a
machine that is then taken offline, a cache to fill before a job). Every file is checked exactly as a
load's pull checks it (:func:`ldmnist_hub.hub.pull.pull_variant`), under the variant's writer lock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ldmnist_hub import store
from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE
from ldmnist_hub.core.locks import exclusive
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.errors import InvalidArgumentError, NotFoundError
from ldmnist_hub.hub import pull
from ldmnist_hub.hub.repo import REPO_ENV, configured_repo, is_local_target
from ldmnist_hub.loading.selection import resolve_variant
from ldmnist_hub.store.identity import variant_cache_id


def _origin(files: store.VariantFiles) -> dict[str, Any] | None:
    """Where an installed variant was pulled from (its ``origin.json``), or None if it was not pulled."""
    try:
        doc = json.loads((files.root / store.ORIGIN_FILE).read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


@dataclass(frozen=True)
class PullResult:
    """What :func:`pull_into_home` did.

    Attributes:
        name: the variant's name (its config in the repo).
        repo: where it came from.
        pulled: False when a checked copy from a repo was already installed and ``force`` was not given.
        folder: the variant's folder in the home.
        commit: the Hub commit it was pulled at (None for a local folder).
    """

    name: str
    repo: str
    pulled: bool
    folder: str
    commit: str | None = None


def pull_into_home(
    latent: int = DEFAULT_LATENT,
    repo: str | None = None,
    *,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    revision: str | None = None,
    force: bool = False,
    progress: bool = True,
) -> PullResult:
    """Pull one variant from ``repo`` (default ``$LDMNIST_REPO``) into the home, checked before it is installed.

    Args:
        latent, seed, source, train, data_dir: the variant, as in :func:`ldmnist_hub.load_dataset`.
        repo: a Hub dataset repo id (``owner/name``) or a local folder (``./hub-mirror``).
        revision: the Hub revision (default ``main``).
        force: pull again even when a checked pulled copy is installed.
        progress: the waiting note when another process holds the variant.

    Returns:
        A :class:`PullResult`.

    Raises:
        InvalidArgumentError: no repo given or configured, or a repo name that is neither a folder nor
            ``owner/name``.
        NotFoundError: the repo does not publish this variant (name and recipe).
        IntegrityError: a file fails a check; nothing was installed.
        PullUnavailable: the repo cannot be read (the Hub does not answer, refuses, an unreadable manifest).

    Examples:
        >>> pull_into_home(32, "my-org/ldmnist").folder  # doctest: +SKIP
        '/home/me/.cache/ldmnist_hub/variants/latent-32'
    """
    repo = configured_repo(repo)
    if repo is None:
        raise InvalidArgumentError(f"no repo to pull from: pass repo= or set ${REPO_ENV}",
                                   cli=f"no repo to pull from: pass --repo (a folder ./mirror or owner/name) or set "
                                       f"${REPO_ENV}")
    if is_local_target(repo) and not Path(repo).expanduser().is_dir():  # the one folder-or-Hub-id rule
        raise NotFoundError(f"the repo folder {repo!r} does not exist; pass a folder a push wrote (or owner/name)",
                            cli=f"the repo folder {repo!r} does not exist; pass --repo a folder a push wrote (or "
                                "owner/name)")
    variant = resolve_variant(latent=latent, seed=seed, source=source, train=train)
    cid = variant_cache_id(variant, data_dir)
    files = store.variant_files(cid)
    with exclusive(store.variant_lock(cid), f"the variant {cid}", quiet=not progress):
        store.clean_leftovers(cid)
        pull.discard_unchecked(files)
        origin = _origin(files)
        if not force and origin is not None and pull.published_files(files) is not None:
            return PullResult(cid, str(origin.get("repo")), False, str(files.root), origin.get("commit"))
        installed = pull.pull_variant(variant, cid, repo, revision=revision, data_dir=data_dir)
    if installed is None:
        raise NotFoundError(f"{repo} does not publish {cid} (no config of that name and recipe in its "
                            "manifest.json); push it there first, or build it here with load_dataset",
                            cli=f"{repo} does not publish {cid} (no config of that name and recipe in its "
                                f"manifest.json); push it there first (`ldmnist push ... --repo {repo}`), or build "
                                "it here with `ldmnist build`")
    origin = _origin(installed) or {}
    return PullResult(cid, repo, True, str(installed.root), origin.get("commit"))
