"""Measure the data's character for training-recipe variants, without the cache.

Trains on the full MNIST in-process for each recipe given (JSON of
``TrainConfig`` overrides, plus optional ``latent``, ``seed`` and
``mlp_epochs``), encodes both splits with the torch models and prints one JSON
line per recipe with the figures issue #10's bars are about (test split):
class-VAE accuracy, image-VAE loss, jointly trained middle layers, how many
``x`` components have std < 0.9 and their range, the oracle floor, and the
reconstructed accuracy and MSE of least squares and of the original's eval MLP
(the middle-layers architecture, dropout 0.1, MSE loss, trained in training
mode). This is how the canonical recipe was chosen (benchmarks/README.md).

With ``--save DIR`` each run's weights (byte-stable safetensors) and its
training record go to ``DIR/latent-N[-tag]/``: that is how the reference
weights in ``ldmnist_hub/reference/`` were trained (see
``scripts/make_reference.py`` for turning them into a reference record).

Usage:
    LDMNIST_MNIST_DIR=../shared/data/mnist python benchmarks/recipe_sweep.py '{}' '{"epochs": 150}'
    LDMNIST_MNIST_DIR=... python benchmarks/recipe_sweep.py --save runs/ref '{"latent": 32}' '{"latent": 16}'
    # 3.0.0's references: the train rows only (start again to resume from the checkpoint)
    LDMNIST_MNIST_DIR=... python benchmarks/recipe_sweep.py --save runs/v3 '{"latent": 32, "train_rows": 50000}'
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def figures(x_train, y_train, x_test, y_test, labels_test, class_w, class_b, mlp_epochs: int) -> dict:
    """The bars' figures of one encoded variant (test split), from its arrays and class decoder."""
    from ldmnist_hub.benchmark.baselines import linear_least_squares, mlp_regression
    from ldmnist_hub.store.stats import oracle_mse

    def acc(pred: np.ndarray) -> float:
        return round(float(((pred @ class_w.T + class_b).argmax(1) == labels_test).mean()), 4)

    def mse(pred: np.ndarray) -> float:
        return round(float(((pred.astype(np.float64) - y_test) ** 2).mean()), 4)

    std = x_test.astype(np.float64).std(0)
    low, rest = std[std < 0.9], std[std >= 0.9]

    def span(a: np.ndarray) -> list[float]:
        return [round(float(a.min()), 3), round(float(a.max()), 3)] if len(a) else []

    linear = linear_least_squares(x_train, y_train, x_test)
    t = time.perf_counter()
    mlp = mlp_regression(x_train, y_train, x_test, epochs=mlp_epochs)
    return {
        "x_low_std_count": int(len(low)),
        "x_low_std_range": span(low),
        "x_rest_std_range": span(rest),
        "x_abs_mean_max": round(float(np.abs(x_test.astype(np.float64).mean(0)).max()), 3),
        "oracle_mse": round(oracle_mse(y_test, labels_test), 4),
        "linear_acc": acc(linear), "linear_mse": mse(linear),
        "mlp_acc": acc(mlp), "mlp_mse": mse(mlp), "mlp_seconds": round(time.perf_counter() - t, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*", default=["{}"], help="JSON TrainConfig overrides, one run each")
    parser.add_argument("--save", type=Path, help="write each run's weights and record under this folder")
    args = parser.parse_args()

    from ldmnist_hub import store
    from ldmnist_hub.core.config import TrainConfig
    from ldmnist_hub.data import sources
    from ldmnist_hub.produce.build import machine
    from ldmnist_hub.recipe.encode import encode_split, score_models
    from ldmnist_hub.recipe.train import train

    raw = {split: sources.load_split("mnist", split) for split in ("train", "test")}
    for spec in args.recipes:
        over = json.loads(spec)
        latent = over.pop("latent", 32)
        seed = over.pop("seed", 0)
        mlp_epochs = over.pop("mlp_epochs", 150)
        tag = over.pop("tag", "")
        # 3.0.0 trains on MNIST training rows [0, 50000) only; rows past it are its validation split.
        train_rows = over.pop("train_rows", len(raw["train"][1]))
        cfg = TrainConfig(**over)
        out = args.save / (f"latent-{latent}" + (f"-{tag}" if tag else "")) if args.save else None
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
        images, labels = (a[:train_rows] for a in raw["train"])
        # With --save the run checkpoints every 25 epochs and resumes when started again.
        result = train(images, labels, latent, cfg, seed, progress=False,
                       checkpoint=out / "checkpoint.pt" if out is not None else None, checkpoint_every=25)
        (xtr, ytr), (xte, yte) = (encode_split(result.models, images, labels, seed, "train"),
                                  encode_split(result.models, *raw["test"], seed, "test"))
        labels = raw["test"][1]
        scores = score_models(result.models, raw["test"][0], labels, xte, yte)
        w = result.models.class_decoder.linear.weight.detach().numpy()
        b = result.models.class_decoder.linear.bias.detach().numpy()
        row = {"recipe": over, "latent": latent, "seed": seed, "train_rows": [0, train_rows],
               "train_seconds": round(result.seconds, 1),
               **{k: round(v, 4) for k, v in scores.items()},
               **figures(xtr, ytr, xte, yte, labels, w, b, mlp_epochs)}
        print(json.dumps(row), flush=True)
        if out is not None:
            for part in store.PARTS:
                state = {k: v.detach().cpu().numpy() for k, v in getattr(result.models, part).state_dict().items()
                         if not k.endswith("num_batches_tracked")}
                store.save_weights(out / f"{part}.safetensors", state, {"part": part})
            record = {"latent": latent, "seed": seed, "train": cfg.to_dict(), "train_rows": [0, train_rows],
                      "seconds": round(result.seconds, 1),
                      "machine": machine(), "date": time.strftime("%Y-%m-%d"), "sweep_figures": row,
                      "history": [{k: round(v, 6) for k, v in r.items()} for r in result.history]}
            (out / "training.json").write_text(json.dumps(record, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
