"""Turn trained weights into a shipped reference variant: weights + record.json.

Takes run folders written by ``benchmarks/recipe_sweep.py --save`` (five
safetensors files and ``training.json``), re-writes the weights byte-stably
into ``ldmnist_hub/references/latent-N/``, encodes the official MNIST with the
exact encoder and records the sha256 of every weight file and of every
produced array, the recipe, the training time and machine, and the stats.

A run trained on MNIST training rows 0-49,999 only (``training.json``'s ``train_rows``, as 3.0.0's are)
gets the three-split layout (``split_rows``: train, validation = rows 50,000-59,999, test). With
``--version X.Y.Z`` the record is that dataset version, and the version it replaces (its record and its
weights) is kept under ``releases/latent-N/`` first, so it stays loadable bit-identically.

Usage:
    LDMNIST_MNIST_DIR=../shared/data/mnist python scripts/make_reference.py runs/ref/latent-32 [...]
    LDMNIST_MNIST_DIR=../shared/data/mnist python scripts/make_reference.py --version 3.0.0 runs/v3/latent-32
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from safetensors.numpy import load_file

from ldmnist_hub import store
from ldmnist_hub.core import paths, versions
from ldmnist_hub.core.config import TrainConfig
from ldmnist_hub.core.digest import sha256_file
from ldmnist_hub.core.schema import SOURCE_SPLITS, THREE_SPLITS, TWO_SPLITS, VALIDATION_START
from ldmnist_hub.data import sources
from ldmnist_hub.produce import reference
from ldmnist_hub.produce.build import resolve_source, weights_digest
from ldmnist_hub.produce.exact import ENCODER_VERSION
from ldmnist_hub.store.forward import forward_scores
from ldmnist_hub.store.stats import split_stats


def archive(out_root: Path, latent: int) -> None:
    """Keep the current version of ``latent-N`` (record and weights) under ``releases/latent-N/<version>``."""
    current = out_root / f"latent-{latent}"
    if not (current / reference.RECORD_FILE).is_file():
        return
    old = json.loads((current / reference.RECORD_FILE).read_bytes()).get("version", versions.FIRST)
    folder = out_root / versions.RELEASES_DIR / f"latent-{latent}"
    (folder / old).mkdir(parents=True, exist_ok=True)
    shutil.copy2(current / reference.RECORD_FILE, folder / f"{old}.json")  # the same bytes: the same digest
    for part in store.PARTS:
        shutil.copy2(current / f"{part}.safetensors", folder / old / f"{part}.safetensors")


def make(run: Path, out_root: Path, version: str | None = None) -> dict:
    """Write ``out_root/latent-N/`` from one run folder; return its record."""
    training = json.loads((run / "training.json").read_text())
    latent, cfg = training["latent"], TrainConfig(**training["train"])
    train_rows = training.get("train_rows", [0, 60_000])
    if train_rows not in ([0, 60_000], [0, VALIDATION_START]):
        raise SystemExit(f"{run} was trained on rows {train_rows}; references use all 60,000 or the first 50,000")
    layout = THREE_SPLITS if train_rows == [0, VALIDATION_START] else TWO_SPLITS
    if cfg.overrides():
        raise SystemExit(f"{run} was trained with the non-canonical recipe {cfg.overrides()}; "
                         "references use TrainConfig()")
    data = resolve_source("mnist")
    if not data.official:
        raise SystemExit(f"{data.directory} is not the official MNIST; set LDMNIST_MNIST_DIR to it")
    out = out_root / f"latent-{latent}"
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    state = {}
    for part in store.PARTS:
        state[part] = {k: v for k, v in load_file(run / f"{part}.safetensors").items()
                       if not k.endswith("num_batches_tracked")}
        store.save_weights(tmp / f"{part}.safetensors", state[part], {"part": part, "reference": f"latent-{latent}"})
    last = training["history"][-1] if training.get("history") else {}
    record = {
        "format": reference.RECORD_FORMAT,
        "latent": latent,
        "encoder": ENCODER_VERSION,
        "train": cfg.to_dict(),
        "training_seed": training["seed"],
        "training": {"seconds": training["seconds"], "epochs": cfg.epochs, "machine": training["machine"],
                     "date": training["date"], "final_epoch": last, "reference": True},
        "weights_sha256": {part: sha256_file(tmp / f"{part}.safetensors") for part in store.PARTS},
        "weights_digest": weights_digest(state),
        "source_sha256": data.fingerprint,
        "data_sha256": {},
        "stats": {},
    }
    if layout is THREE_SPLITS:
        record["split_rows"] = {split: rows.to_list() for split, rows in layout.items()}
        record["train_rows"] = train_rows
    if version is not None:
        record["version"] = version
    (tmp / reference.RECORD_FILE).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    # Encode once without a check to learn the digests, then record them.
    raw = {split: sources.load_split("mnist", split, data.directory) for split in SOURCE_SPLITS}
    ref = reference.Reference(latent, tmp)
    reference._read_record.cache_clear()
    start = time.perf_counter()
    encoded = ref.encode(raw, reference.CANONICAL_DRAW, check=False)
    record["encode_seconds"] = round(time.perf_counter() - start, 2)
    record["data_sha256"] = {split: reference.split_digests(*arrays) for split, arrays in encoded.items()}
    record["stats"] = {"scores": forward_scores(state, cfg, raw["test"][0], *encoded["test"]),
                       "splits": {split: split_stats(*arrays) for split, arrays in encoded.items()}}
    (tmp / reference.RECORD_FILE).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    if version is not None:
        archive(out_root, latent)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders from recipe_sweep.py --save")
    parser.add_argument("--out", type=Path, default=paths.REFERENCE_ROOT)
    parser.add_argument("--version", help="the dataset version of the new record (the current one is archived)")
    args = parser.parse_args()
    for run in args.runs:
        record = make(run, args.out, args.version)
        print(json.dumps({"latent": record["latent"], "scores": record["stats"]["scores"],
                          "weights_digest": record["weights_digest"]}))


if __name__ == "__main__":
    main()
