"""Benchmark the canonical build: time, statistics and the data's character.

Builds a variant from the full MNIST into a fresh ``LDMNIST_HOME`` and reports
the figures issue #2 asks for, each next to its bar:

- build wall time (<= 300 s for latent 32 on 2 cores);
- class-VAE reconstruction accuracy on test (>= 0.998);
- per-component mean (|mean| <= 0.1) and std (0.6 .. 1.05) of train ``x``;
- linear least-squares x -> y reconstructed accuracy on test (0.52 .. 0.68);
- the original's 3-FC MLP (MSE loss) reconstructed accuracy on test (>= 0.9577);
- same seed twice -> identical x, y and weights (``--repeat``);
- warm ``load_dataset`` time after imports (<= 0.1 s);
- ``label`` column == official MNIST labels for both splits.

Usage:
    LDMNIST_MNIST_DIR=../shared/data/mnist python benchmarks/build_canonical.py [--latent 32] [--repeat]
        [--set key=value ...] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def _columns(ds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    table = ds.data.table
    n = ds.features["x"].length
    x = table.column("x").combine_chunks().flatten().to_numpy().reshape(-1, n)
    y = table.column("y").combine_chunks().flatten().to_numpy().reshape(-1, n)
    return x, y, table.column("label").to_numpy()


def _build(home: str, latent: int, overrides: dict) -> tuple[dict, float]:
    os.environ["LDMNIST_HOME"] = home
    from ldmnist_hub import load_dataset

    start = time.perf_counter()
    ds = load_dataset("ldmnist", latent=latent, train=overrides or None)
    return ds, time.perf_counter() - start


def _warm_load_seconds(home: str, latent: int, overrides: dict) -> float:
    # A fresh interpreter, timing only the call after imports, as a user sees it.
    code = (
        "import time, json, ldmnist_hub, datasets\n"
        f"t = time.perf_counter(); ldmnist_hub.load_dataset('ldmnist', latent={latent}, "
        f"train=json.loads({json.dumps(json.dumps(overrides))}) or None, build=False)\n"
        "print(time.perf_counter() - t)"
    )
    env = {**os.environ, "LDMNIST_HOME": home}
    runs = [float(subprocess.check_output([sys.executable, "-c", code], env=env, text=True)) for _ in range(3)]
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--repeat", action="store_true", help="build twice to check determinism")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--mlp-epochs", type=int, default=150)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if not os.environ.get("LDMNIST_MNIST_DIR"):
        sys.exit("set LDMNIST_MNIST_DIR to the folder with the four official MNIST files")
    from ldmnist_hub.cli import _train_overrides

    overrides = _train_overrides(args.overrides)

    from ldmnist_hub import store
    from ldmnist_hub.benchmark.baselines import linear_least_squares, mlp_regression
    from ldmnist_hub.data import sources
    from ldmnist_hub.loading.load import resolve_variant
    from ldmnist_hub.store.identity import variant_cache_id

    home = tempfile.mkdtemp(prefix="ldmnist-bench-")
    ds, build_s = _build(home, args.latent, overrides)
    variant = resolve_variant(latent=args.latent, train=overrides)
    files = store.variant_files(variant_cache_id(variant))
    stats = files.stats()
    (xtr, ytr, ltr), (xte, yte, lte) = _columns(ds["train"]), _columns(ds["test"])
    dec = files.weights("class_decoder")
    w, b = dec["linear.weight"], dec["linear.bias"]

    def score(pred: np.ndarray) -> dict[str, float]:
        return {"mse": float(((pred - yte) ** 2).mean()),
                "reconstructed_accuracy": float(((pred @ w.T + b).argmax(1) == lte).mean())}

    t = time.perf_counter()
    linear = score(linear_least_squares(xtr, ytr, xte))
    linear_s = time.perf_counter() - t
    t = time.perf_counter()
    mlp = score(mlp_regression(xtr, ytr, xte, seed=0, epochs=args.mlp_epochs))
    mlp_s = time.perf_counter() - t

    labels_ok = all(np.array_equal(lab, sources.load_split("mnist", split)[1])
                    for split, lab in (("train", ltr), ("test", lte)))
    result = {
        "variant": files.root.name,
        "build_seconds": round(build_s, 1),
        "train_seconds": stats["training"]["seconds"],
        "epochs": stats["training"]["epochs"],
        "class_vae_accuracy": stats["scores"]["class_vae_accuracy"],
        "image_vae_reconstruction_loss": stats["scores"]["image_vae_reconstruction_loss"],
        "middle_layers_accuracy": stats["scores"]["middle_layers_accuracy"],
        "x_mean_abs_max": float(np.abs(xtr.mean(0)).max()),
        "x_std_min": float(xtr.std(0).min()),
        "x_std_max": float(xtr.std(0).max()),
        "y_std_min": float(ytr.std(0).min()),
        "y_std_max": float(ytr.std(0).max()),
        "x_active_components": int((xtr.std(0) < 0.95).sum()),
        "oracle_mse": stats["splits"]["test"]["oracle_mse"],
        "linear": linear, "linear_seconds": round(linear_s, 2),
        "mlp": mlp, "mlp_seconds": round(mlp_s, 1),
        "labels_equal_official": labels_ok,
        "warm_load_seconds": round(_warm_load_seconds(home, args.latent, overrides), 4),
    }
    if args.repeat:
        ds2, _ = _build(tempfile.mkdtemp(prefix="ldmnist-bench-"), args.latent, overrides)
        files2 = store.variant_files(files.root.name)
        same_arrays = all(np.array_equal(a, c) for s in ("train", "test")
                          for a, c in zip(_columns(ds[s])[:2], _columns(ds2[s])[:2], strict=True))
        same_weights = all(np.array_equal(files.weights(p)[k], files2.weights(p)[k])
                           for p in store.PARTS for k in files.weights(p))
        result["repeat_identical"] = same_arrays and same_weights

    bars = [
        ("build wall time (s)", result["build_seconds"], "<= 300", result["build_seconds"] <= 300),
        ("class-VAE accuracy", result["class_vae_accuracy"], ">= 0.998", result["class_vae_accuracy"] >= 0.998),
        ("x |mean| max", result["x_mean_abs_max"], "<= 0.1", result["x_mean_abs_max"] <= 0.1),
        ("x std range", f"{result['x_std_min']:.3f}..{result['x_std_max']:.3f}", "0.6..1.05",
         result["x_std_min"] >= 0.6 and result["x_std_max"] <= 1.05),
        ("linear rec. accuracy", linear["reconstructed_accuracy"], "0.52..0.68",
         0.52 <= linear["reconstructed_accuracy"] <= 0.68),
        ("MLP rec. accuracy", mlp["reconstructed_accuracy"], ">= 0.9577", mlp["reconstructed_accuracy"] >= 0.9577),
        ("warm load (s)", result["warm_load_seconds"], "<= 0.1", result["warm_load_seconds"] <= 0.1),
        ("labels == official", labels_ok, "True", labels_ok),
    ]
    if args.repeat:
        bars.append(("same seed -> identical", result["repeat_identical"], "True", result["repeat_identical"]))
    from bars import report  # benchmarks/bars.py, beside this script

    report(bars, result, args.out)


if __name__ == "__main__":
    main()
