"""Issue #13's Croissant bar: a two-config mirror of full-size reference variants, read back with mlcroissant.

Pushes the reference latent-16 and latent-32 (encoded from the shipped
weights: seconds, no training) to a fresh local folder, validates its
``croissant.json`` with ``mlcroissant`` and loads every record of each config,
comparing them with ``load_numpy``. Bars: 60,000 train and 10,000 test records
per config, values equal.

Usage:
    LDMNIST_MNIST_DIR=../shared/data/mnist python benchmarks/croissant.py [--out results.json]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bars import report  # noqa: E402

LATENTS = (16, 32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    os.environ.setdefault("LDMNIST_HOME", tempfile.mkdtemp(prefix="ldmnist-croissant-"))
    import mlcroissant as mlc

    import ldmnist_hub as ld

    folder = Path(tempfile.mkdtemp(prefix="ldmnist-mirror-"))
    for latent in LATENTS:
        ld.push(latent, str(folder), progress=False)
    os.chdir(folder)
    start = time.perf_counter()
    dataset = mlc.Dataset(jsonld="croissant.json")
    result: dict = {"mirror": str(folder), "configs": {}}
    bars = []
    for latent in LATENTS:
        config = f"latent-{latent}"
        t = time.perf_counter()
        rows: dict[str, list] = collections.defaultdict(list)
        for record in dataset.records(record_set=config):
            rows[record[f"{config}/split"].decode()].append(record)
        seconds = time.perf_counter() - t
        counts = {split: len(r) for split, r in rows.items()}
        equal = True
        for split, records in rows.items():
            records.sort(key=lambda r: r[f"{config}/mnist_index"])
            x, y, label = ld.load_numpy(latent, split, progress=False)
            equal &= bool(np.array_equal(np.array([r[f"{config}/x"] for r in records], np.float32), x)
                          and np.array_equal(np.array([r[f"{config}/y"] for r in records], np.float32), y)
                          and np.array_equal([r[f"{config}/label"] for r in records], label))
        result["configs"][config] = {"records": counts, "equal_to_load_numpy": equal, "load_s": round(seconds, 1)}
        bars += [(f"{config} records", f"{counts.get('train', 0)}/{counts.get('test', 0)}", "60000/10000",
                  counts == {"train": 60000, "test": 10000}),
                 (f"{config} values equal", equal, "True", equal)]
    result["total_s"] = round(time.perf_counter() - start, 1)
    report(bars, result, args.out)


if __name__ == "__main__":
    main()
