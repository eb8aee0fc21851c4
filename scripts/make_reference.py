"""Turn trained weights into a shipped reference variant: weights + record.json.

Takes run folders written by ``benchmarks/recipe_sweep.py --save`` (five
safetensors files and ``training.json``), re-writes the weights byte-stably
into ``ldmnist_hub/references/latent-N/``, encodes the official MNIST with the
exact encoder and records the sha256 of every weight file and of every
produced array, the recipe, the training time and machine, and the stats.

Usage:
    LDMNIST_MNIST_DIR=../shared/data/mnist python scripts/make_reference.py runs/ref/latent-32 [...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from safetensors.numpy import load_file

from ldmnist_hub import store
from ldmnist_hub.core import paths
from ldmnist_hub.core.config import TrainConfig
from ldmnist_hub.core.digest import sha256_file
from ldmnist_hub.core.schema import SPLITS
from ldmnist_hub.data import sources
from ldmnist_hub.produce import reference
from ldmnist_hub.produce.build import resolve_source, weights_digest
from ldmnist_hub.produce.exact import ENCODER_VERSION
from ldmnist_hub.store.forward import forward_scores
from ldmnist_hub.store.stats import split_stats


def make(run: Path, out_root: Path) -> dict:
    """Write ``out_root/latent-N/`` from one run folder; return its record."""
    training = json.loads((run / "training.json").read_text())
    latent, cfg = training["latent"], TrainConfig(**training["train"])
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
    (tmp / reference.RECORD_FILE).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    # Encode once without a check to learn the digests, then record them.
    raw = {split: sources.load_split("mnist", split, data.directory) for split in SPLITS}
    ref = reference.Reference(latent, tmp)
    reference._read_record.cache_clear()
    start = time.perf_counter()
    encoded = ref.encode(raw, reference.CANONICAL_DRAW, check=False)
    record["encode_seconds"] = round(time.perf_counter() - start, 2)
    record["data_sha256"] = {split: reference.split_digests(*encoded[split]) for split in SPLITS}
    record["stats"] = {"scores": forward_scores(state, cfg, raw["test"][0], *encoded["test"]),
                       "splits": {split: split_stats(*encoded[split]) for split in SPLITS}}
    (tmp / reference.RECORD_FILE).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders from recipe_sweep.py --save")
    parser.add_argument("--out", type=Path, default=paths.REFERENCE_ROOT)
    args = parser.parse_args()
    for run in args.runs:
        record = make(run, args.out)
        print(json.dumps({"latent": record["latent"], "scores": record["stats"]["scores"],
                          "weights_digest": record["weights_digest"]}))


if __name__ == "__main__":
    main()
