"""Is the tuning split as hard as test? An MLP fit on the training rows, scored on the tuning rows and on test.

Issue #25's bar: an MLP (scikit-learn ``MLPRegressor((256, 256))``, 15 iterations, seed 0) fit on 3.0.0's
``train`` scores within 0.01 reconstructed accuracy on ``validation`` and on ``test`` (latent 32 and 8). For
comparison the same fit on 2.0.0's ``train[:50000]``, scored on ``train[50000:]`` (the same MNIST rows, but
the 2.0.0 VAEs were trained on them) and on test: the gap issue #25 measured (0.026 and 0.033).

Usage:
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 LDMNIST_MNIST_DIR=../shared/data/mnist python benchmarks/split_gap.py
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import ldmnist_hub as ld


def gap(latent: int, version: str | None) -> dict:
    """Reconstructed accuracy and MSE of the MLP on the tuning rows and on test, for one version."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    if version == "2.0.0":  # two splits: the tuning rows are the last 10,000 of train
        x, y, _ = ld.load_numpy(latent, "train[:50000]", version=version)
        tune = "train[50000:]"
    else:
        x, y, _ = ld.load_numpy(latent, "train", version=version)
        tune = "validation"
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 15 iterations is the fixed budget
        mlp = MLPRegressor(hidden_layer_sizes=(256, 256), max_iter=15, random_state=0).fit(x, y)
    row = {"latent": latent, "version": version or ld.variant(latent=latent).version, "fit_rows": len(x),
           "fit_seconds": round(time.perf_counter() - start, 1)}
    for name, split in (("tuning", tune), ("test", "test")):
        xs, _, _ = ld.load_numpy(latent, split, version=version)
        res = ld.evaluate(mlp.predict(xs), latent=latent, split=split, version=version)
        row[name] = {"split": split, "accuracy": round(res.reconstructed_accuracy, 4), "mse": round(res.mse, 4)}
    row["accuracy_gap"] = round(row["tuning"]["accuracy"] - row["test"]["accuracy"], 4)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latents", default="32,8")
    parser.add_argument("--versions", default="current,2.0.0")
    args = parser.parse_args()
    for latent in (int(v) for v in args.latents.split(",")):
        for version in args.versions.split(","):
            print(json.dumps(gap(latent, None if version == "current" else version)), flush=True)


if __name__ == "__main__":
    main()
