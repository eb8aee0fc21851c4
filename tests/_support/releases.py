"""A later release of a reference variant, laid out as the package would ship it, for tests of dataset versions.

:func:`make_release` copies the package's reference folder with ``latent-N/record.json`` at a new version and
the old record moved to ``releases/latent-N/<old>.json`` (the old version's weights no longer ship; here the
bytes stay the same, only their version moves on). :func:`use_release` points this process at it;
:func:`release_prelude` is the code that does the same first thing in a subprocess.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ldmnist_hub.core import paths, versions


def make_release(root: Path, latent: int = 8, version: str = "4.0.0") -> Path:
    """A copy of the shipped references at ``root`` in which ``latent-N``'s current version is ``version``."""
    shutil.copytree(paths.REFERENCE_ROOT, root)
    record = json.loads((root / f"latent-{latent}" / paths.REFERENCE_RECORD).read_text())
    old = record.get("version", versions.FIRST)
    (root / versions.RELEASES_DIR / f"latent-{latent}").mkdir(parents=True, exist_ok=True)
    (root / versions.RELEASES_DIR / f"latent-{latent}" / f"{old}.json").write_text(json.dumps(record))
    (root / f"latent-{latent}" / paths.REFERENCE_RECORD).write_text(json.dumps({**record, "version": version}))
    return root


def use_release(mp: pytest.MonkeyPatch, root: Path) -> None:
    """Make ``root`` (from :func:`make_release`) this process's shipped references until ``mp`` is undone."""
    mp.setattr(paths, "REFERENCE_ROOT", root)


def release_prelude(root: Path) -> str:
    """Python code that makes ``root`` the shipped references of the process that runs it (run it first)."""
    return ("from pathlib import Path\nimport ldmnist_hub.core.paths as paths\n"
            f"paths.REFERENCE_ROOT = Path({str(root)!r})\npaths._reference_latents.cache_clear()\n")
