"""The original LD-MNIST's own schedule, run: resumable training and its fidelity table (issue #20).

The as-run network (no dropout, frozen-statistics BatchNorm, full joint gradient) on the
original's schedule: batch 10,000, Adam 1e-3 for every part (the class VAE included),
x0.9 after a 50-epoch plateau of the training loss, up to 5,000 epochs. On 2 CPU cores that
is hours, so the run checkpoints its whole state every ``--every`` epochs and resumes from
the checkpoint when started again (same weights as an uninterrupted run on the same
machine). Every ``--snapshot`` epochs the models are kept, so the table can show the
trajectory.

Usage:
    # train (in the background, log to a file); run the same line again to resume
    OMP_NUM_THREADS=1 LDMNIST_MNIST_DIR=../shared/data/mnist \\
        python benchmarks/original_schedule.py train --out runs/original-32 > runs/original-32.log 2>&1 &
    # the fidelity table of every snapshot so far (test split)
    LDMNIST_MNIST_DIR=../shared/data/mnist python benchmarks/original_schedule.py measure --out runs/original-32
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# One BLAS thread, set before numpy loads OpenBLAS: a second thread spinning beside the training job made the
# SGD fit 12x slower on 2 cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The original's schedule as it ran (pretrain_autoencoder.py): one Adam rate for everything, batch 10,000,
# 30,000 steps = 5,000 epochs. Its ReduceLROnPlateau(factor 0.9, patience 50) never reached the optimizers
# (`Adam(lr_schedule.get_lr)` is evaluated once, when the tf.function step is traced): the rate stayed 1e-3.
# Issue #20's replica ran the plateau decay: pass --set '{"lr_schedule": "plateau"}' to run it again.
ORIGINAL = {"epochs": 5000, "batch_size": 10_000, "lr": 1e-3, "class_lr": 1e-3, "lr_schedule": "constant",
            "plateau_patience": 50}
# Version 3.0.0 trains on MNIST training rows 0-49,999 only; 50,000-59,999 are the validation split.
TRAIN_ROWS = 50_000


def snapshot_path(out: Path, epoch: int) -> Path:
    return out / f"snapshot-{epoch:05d}.pt"


def run_training(out: Path, latent: int, seed: int, every: int, snapshot: int, overrides: dict,
                 train_rows: int) -> None:
    import torch

    from ldmnist_hub.core.config import TrainConfig
    from ldmnist_hub.data import sources
    from ldmnist_hub.recipe.train import torch_threads, train

    cfg = TrainConfig(**{**ORIGINAL, **overrides})
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.json").write_text(json.dumps(
        {"latent": latent, "seed": seed, "train_rows": [0, train_rows], "train": cfg.to_dict()}, indent=1))
    images, labels = sources.load_split("mnist", "train")
    images, labels = images[:train_rows], labels[:train_rows]
    last = [time.perf_counter()]

    def on_checkpoint(epoch: int, models) -> None:
        now = time.perf_counter()
        print(json.dumps({"epoch": epoch, "seconds_since_last": round(now - last[0], 1)}), flush=True)
        last[0] = now
        if epoch % snapshot == 0 or epoch == cfg.epochs:
            torch.save(models.state_dict(), snapshot_path(out, epoch))

    with torch_threads():
        result = train(images, labels, latent, cfg, seed, progress=False, checkpoint=out / "checkpoint.pt",
                       checkpoint_every=every, on_checkpoint=on_checkpoint)
    (out / "history.json").write_text(json.dumps(result.history))
    print(json.dumps({"done": True, "epochs": cfg.epochs, "train_seconds": round(result.seconds, 1)}), flush=True)


def extend(out: Path, epochs: int) -> None:
    """Let a run whose schedule is the plateau one go on to ``epochs`` in all: its checkpoint's total is rewritten.

    The plateau schedule never looks at the total, so the extended run is the same trajectory as one started
    with ``epochs`` (its first epochs are this run's, bit for bit); a one-cycle schedule is refused.
    """
    import torch

    path = out / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    train_cfg = state["identity"]["train"]
    if train_cfg["lr_schedule"] == "onecycle" or epochs < state["epoch"]:
        sys.exit(f"only a plateau or constant run can be extended, to at least its {state['epoch']} epochs")
    train_cfg["epochs"] = epochs
    torch.save(state, path)
    recipe = json.loads((out / "recipe.json").read_text())
    recipe["train"]["epochs"] = epochs
    (out / "recipe.json").write_text(json.dumps(recipe, indent=1))
    again = json.dumps({**_overrides(recipe), "epochs": epochs})
    print(f"{out}: extended to {epochs} epochs; resume it with train --out {out} --set '{again}'")


def _overrides(recipe: dict) -> dict:
    """The ``--set`` that reproduces ``recipe`` over the original schedule's defaults."""
    from ldmnist_hub.core.config import TrainConfig

    defaults = TrainConfig(**ORIGINAL).to_dict()
    return {k: v for k, v in recipe["train"].items() if defaults.get(k) != v}


def sgd_linear(x: np.ndarray, y: np.ndarray, queries: list[np.ndarray], checkpoints: tuple[int, ...],
               seed: int = 0) -> dict[int, list[np.ndarray]]:
    """The original's first ``eval.py`` linear row: ``Dense(N)`` fit by SGD 1e-3 on MSE, batch 10,000.

    Keras' defaults as it ran them: Glorot-uniform kernel, zero bias, shuffled batches, and
    ReduceLROnPlateau(loss, 0.9, 50) (a ``model.fit`` callback, so this decay did run). Returns the
    predictions for each of ``queries`` after each epoch count in ``checkpoints``.
    """
    rng = np.random.default_rng(seed)
    n, d = x.shape
    k = y.shape[1]
    limit = np.sqrt(6.0 / (d + k))
    # float32 as Keras trained it; one shuffled copy per epoch, then contiguous batches.
    w = rng.uniform(-limit, limit, (d, k)).astype(np.float32)
    b = np.zeros(k, np.float32)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    lr, best, wait = 1e-3, np.inf, 0
    out: dict[int, list[np.ndarray]] = {}
    for epoch in range(1, max(checkpoints) + 1):
        order = rng.permutation(n)
        xs, ys = x32[order], y32[order]
        total = 0.0
        for i in range(0, n, 10_000):
            xb = xs[i:i + 10_000]
            err = xb @ w + b - ys[i:i + 10_000]
            total += float(np.square(err).mean()) * len(xb)
            grad = (2.0 / err.size) * err
            w -= np.float32(lr) * (xb.T @ grad)
            b -= np.float32(lr) * grad.sum(0)
        loss = total / n
        if loss < best - 1e-4:  # Keras' ReduceLROnPlateau: an improvement is one of more than min_delta 1e-4
            best, wait = loss, 0
        else:
            wait += 1
            if wait >= 50:  # patience 50: decay x0.9, then wait again
                lr, wait = lr * 0.9, 0
        if epoch in checkpoints:
            out[epoch] = [q.astype(np.float64) @ w + b for q in queries]
    return out


def fidelity(models, raw: dict, seed: int, train_rows: int, mlp_epochs: int) -> dict:
    """Every row of issue #25's fidelity table for one snapshot, on the validation and test splits.

    Models are fit on the ``train`` rows only (MNIST training rows ``[0, train_rows)``); ``validation``
    is the rest of MNIST's training split (empty when the run trained on all 60,000).
    """
    import torch

    from ldmnist_hub.benchmark.baselines import linear_least_squares, mlp_regression
    from ldmnist_hub.recipe.encode import encode_split, score_models
    from ldmnist_hub.store.stats import oracle_mse

    (x_all, y_all), (x_te, y_te) = (encode_split(models, *raw[s], seed, s) for s in ("train", "test"))
    labels_all, labels_te = raw["train"][1], raw["test"][1]
    parts = {"train": slice(0, train_rows), "validation": slice(train_rows, None)}
    x_tr, y_tr = x_all[parts["train"]], y_all[parts["train"]]
    evals = {"test": (x_te, y_te, labels_te)}
    if train_rows < len(x_all):
        evals = {"validation": (x_all[parts["validation"]], y_all[parts["validation"]],
                                labels_all[parts["validation"]]), **evals}
    w = models.class_decoder.linear.weight.detach().numpy().astype(np.float64)
    b = models.class_decoder.linear.bias.detach().numpy().astype(np.float64)

    def scores(pred: np.ndarray, y: np.ndarray, labels: np.ndarray) -> list[float]:
        acc = float(((pred.astype(np.float64) @ w.T + b).argmax(1) == labels).mean())
        return [round(acc, 4), round(float(((pred.astype(np.float64) - y) ** 2).mean()), 4)]

    def span(a: np.ndarray) -> list[float]:
        return [round(float(a.min()), 3), round(float(a.max()), 3)] if len(a) else []

    x_std, y_std = x_te.astype(np.float64).std(0), y_tr.astype(np.float64).std(0)
    queries = [e[0] for e in evals.values()]
    linear = [linear_least_squares(x_tr, y_tr, q) for q in queries]
    t = time.perf_counter()
    mlp = np.split(mlp_regression(x_tr, y_tr, np.concatenate(queries), epochs=mlp_epochs),
                   np.cumsum([len(q) for q in queries])[:-1])
    mlp_seconds = time.perf_counter() - t
    sgd = sgd_linear(x_tr, y_tr, queries, (5000, 10_000))
    with torch.no_grad():
        middle = [models.middle_layers(torch.from_numpy(q)).numpy() for q in queries]
    test_scores = score_models(models, raw["test"][0], labels_te, x_te, y_te)
    row: dict = {
        "x_low_std_count": int((x_std < 0.9).sum()), "x_low_std_range": span(x_std[x_std < 0.9]),
        "x_rest_std_range": span(x_std[x_std >= 0.9]),
        "x_abs_mean_max": round(float(np.abs(x_te.astype(np.float64).mean(0)).max()), 3),
        "y_low_std_count": int((y_std < 0.9).sum()), "y_low_std_range": span(y_std[y_std < 0.9]),
        "train_y_std": round(float(y_tr.astype(np.float64).std()), 4),
        "class_vae_accuracy": round(test_scores["class_vae_accuracy"], 4),
        "mlp_seconds": round(mlp_seconds, 1),
    }
    for i, (split, (_, y, labels)) in enumerate(evals.items()):
        row[split] = {
            "oracle_mse": round(oracle_mse(y, labels), 4),
            "linear": scores(linear[i], y, labels),
            "sgd_linear_5000": scores(sgd[5000][i], y, labels),
            "sgd_linear_10000": scores(sgd[10_000][i], y, labels),
            "mlp": scores(mlp[i], y, labels),
            "middle_layers": scores(middle[i], y, labels),
        }
    return row


def measure(out: Path, mlp_epochs: int, every: int) -> None:
    import torch

    from ldmnist_hub.core.config import TrainConfig
    from ldmnist_hub.data import sources
    from ldmnist_hub.recipe.models import LDMNISTModels
    from ldmnist_hub.recipe.train import torch_threads

    spec = json.loads((out / "recipe.json").read_text())
    cfg = TrainConfig.from_dict(spec["train"])
    latent, seed = spec["latent"], spec["seed"]
    train_rows = spec.get("train_rows", [0, 60_000])[1]
    raw = {split: sources.load_split("mnist", split) for split in ("train", "test")}
    print(HEADER)
    for snap in sorted(out.glob("snapshot-*.pt")):
        epoch = int(snap.stem.split("-")[1])
        if epoch % every:
            continue
        done = out / f"fidelity-{epoch:05d}.json"
        if done.is_file():  # measured before (a snapshot never changes): print it again
            _print_row(json.loads(done.read_text()))
            continue
        models = LDMNISTModels(latent, cfg)
        models.load_state_dict(torch.load(snap, weights_only=True))
        models.eval()
        with torch_threads():
            row = {"epoch": epoch, "train_rows": train_rows, **fidelity(models, raw, seed, train_rows, mlp_epochs)}
        done.write_text(json.dumps(row, indent=1))
        _print_row(row)


HEADER = ("| epoch | split | `x` < 0.9 (range) | `y` < 0.9 (range) | train `y` std | class VAE | least squares "
          "acc / MSE | SGD linear 5k / 10k acc (MSE) | eval MLP acc / MSE | middle layers acc / MSE "
          "| within-class var. |\n|---|---|---|---|---|---|---|---|---|---|---|")


def _print_row(f: dict) -> None:
    def pair(v: list[float]) -> str:
        return f"{v[0]} / {v[1]}"

    for split in ("validation", "test"):
        if split not in f:
            continue
        s = f[split]
        print(f"| {f['epoch']} | {split} | {f['x_low_std_count']} ({'-'.join(map(str, f['x_low_std_range']))}) "
              f"| {f['y_low_std_count']} ({'-'.join(map(str, f['y_low_std_range']))}) | {f['train_y_std']} "
              f"| {f['class_vae_accuracy']} | {pair(s['linear'])} "
              f"| {s['sgd_linear_5000'][0]} ({s['sgd_linear_5000'][1]}) / {s['sgd_linear_10000'][0]} "
              f"({s['sgd_linear_10000'][1]}) | {pair(s['mlp'])} | {pair(s['middle_layers'])} | {s['oracle_mse']} |",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train (or resume) the original schedule")
    t.add_argument("--out", type=Path, required=True, help="folder of the checkpoint, snapshots and recipe")
    t.add_argument("--latent", type=int, default=32)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--every", type=int, default=25, help="epochs between checkpoints")
    t.add_argument("--snapshot", type=int, default=500, help="epochs between kept snapshots")
    t.add_argument("--set", default="{}", help="JSON TrainConfig overrides of the original schedule")
    t.add_argument("--train-rows", type=int, default=TRAIN_ROWS,
                   help="train on MNIST training rows [0, this) (60000 for issue #20's runs)")
    e = sub.add_parser("extend", help="let a finished plateau run go on to more epochs (then train again)")
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--epochs", type=int, required=True, help="the new total")
    m = sub.add_parser("measure", help="the fidelity table of every snapshot")
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--mlp-epochs", type=int, default=150)
    m.add_argument("--every", type=int, default=1000, help="measure the snapshots whose epoch is a multiple of this")
    args = parser.parse_args()
    if args.command == "train":
        run_training(args.out, args.latent, args.seed, args.every, args.snapshot, json.loads(args.set),
                     args.train_rows)
    elif args.command == "extend":
        extend(args.out, args.epochs)
    else:
        measure(args.out, args.mlp_epochs, args.every)


if __name__ == "__main__":
    main()
