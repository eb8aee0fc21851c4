"""Measure the data's character for training-recipe variants, without the cache.

Trains on the full MNIST in-process for each recipe given (JSON of
``TrainConfig`` overrides, plus an optional ``latent``), encodes both splits and
prints one JSON line per recipe: class-VAE accuracy, image-VAE loss, x/y
component std ranges, linear least-squares and 3-FC MLP reconstructed accuracy.
This is how the canonical recipe was chosen (see benchmarks/README.md).

Usage:
    LDMNIST_MNIST_DIR=../shared/data/mnist python benchmarks/recipe_sweep.py '{}' '{"joint_weight": 0.1}'
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def main() -> None:
    from ldmnist_hub import sources
    from ldmnist_hub.baselines import linear_least_squares, mlp_regression
    from ldmnist_hub.config import TrainConfig
    from ldmnist_hub.encode import encode_split, score_models
    from ldmnist_hub.train import train

    raw = {split: sources.load_split("mnist", split) for split in ("train", "test")}
    for spec in sys.argv[1:] or ["{}"]:
        over = json.loads(spec)
        latent = over.pop("latent", 32)
        mlp_epochs = over.pop("mlp_epochs", 150)
        result = train(*raw["train"], latent, TrainConfig(**over), 0, progress=False)
        (xtr, ytr), (xte, yte) = (encode_split(result.models, *raw[s], 0, s) for s in ("train", "test"))
        labels = raw["test"][1]
        scores = score_models(result.models, raw["test"][0], labels, xte, yte)
        w = result.models.class_decoder.linear.weight.detach().numpy()
        b = result.models.class_decoder.linear.bias.detach().numpy()

        def acc(pred: np.ndarray, w: np.ndarray = w, b: np.ndarray = b, labels: np.ndarray = labels) -> float:
            return round(float(((pred @ w.T + b).argmax(1) == labels).mean()), 4)

        t = time.perf_counter()
        mlp = acc(mlp_regression(xtr, ytr, xte, epochs=mlp_epochs))
        print(json.dumps({
            "recipe": over, "latent": latent, "train_seconds": round(result.seconds, 1),
            **{k: round(v, 4) for k, v in scores.items()},
            "x_std": [round(float(xtr.std(0).min()), 3), round(float(xtr.std(0).max()), 3)],
            "y_std": [round(float(ytr.std(0).min()), 3), round(float(ytr.std(0).max()), 3)],
            "linear_acc": acc(linear_least_squares(xtr, ytr, xte)),
            "mlp_acc": mlp, "mlp_seconds": round(time.perf_counter() - t, 1),
        }), flush=True)


if __name__ == "__main__":
    main()
