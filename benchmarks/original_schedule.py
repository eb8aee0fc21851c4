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
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The original's schedule (pretrain_autoencoder.py): one Adam rate for everything, batch 10,000,
# ReduceLROnPlateau(factor 0.9, patience 50) on the training loss, 30,000 steps = 5,000 epochs.
ORIGINAL = {"epochs": 5000, "batch_size": 10_000, "lr": 1e-3, "class_lr": 1e-3, "lr_schedule": "plateau",
            "plateau_patience": 50}


def snapshot_path(out: Path, epoch: int) -> Path:
    return out / f"snapshot-{epoch:05d}.pt"


def run_training(out: Path, latent: int, seed: int, every: int, snapshot: int, overrides: dict) -> None:
    import torch

    from ldmnist_hub.core.config import TrainConfig
    from ldmnist_hub.data import sources
    from ldmnist_hub.recipe.train import torch_threads, train

    cfg = TrainConfig(**{**ORIGINAL, **overrides})
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.json").write_text(json.dumps({"latent": latent, "seed": seed, "train": cfg.to_dict()}, indent=1))
    images, labels = sources.load_split("mnist", "train")
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
    if train_cfg["lr_schedule"] != "plateau" or epochs < state["epoch"]:
        sys.exit(f"only a plateau run can be extended, to at least its {state['epoch']} epochs")
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


def measure(out: Path, mlp_epochs: int) -> None:
    import torch
    from recipe_sweep import figures

    from ldmnist_hub.core.config import TrainConfig
    from ldmnist_hub.data import sources
    from ldmnist_hub.recipe.encode import encode_split, score_models
    from ldmnist_hub.recipe.models import LDMNISTModels
    from ldmnist_hub.recipe.train import torch_threads

    spec = json.loads((out / "recipe.json").read_text())
    cfg = TrainConfig.from_dict(spec["train"])
    latent, seed = spec["latent"], spec["seed"]
    raw = {split: sources.load_split("mnist", split) for split in ("train", "test")}
    print("| epoch | x comps std < 0.9 (range) | \\|mean\\| max | class VAE | linear acc / MSE | eval MLP acc / MSE "
          "| middle layers | within-class variance |")
    print("|---|---|---|---|---|---|---|---|")
    for snap in sorted(out.glob("snapshot-*.pt")):
        epoch = int(snap.stem.split("-")[1])
        done = out / f"figures-{epoch:05d}.json"
        if done.is_file():  # measured before (a snapshot never changes): print it again
            _print_row(json.loads(done.read_text()))
            continue
        models = LDMNISTModels(latent, cfg)
        models.load_state_dict(torch.load(snap, weights_only=True))
        models.eval()
        with torch_threads():
            (xtr, ytr), (xte, yte) = (encode_split(models, *raw[s], seed, s) for s in ("train", "test"))
            labels = raw["test"][1]
            scores = score_models(models, raw["test"][0], labels, xte, yte)
            w = models.class_decoder.linear.weight.detach().numpy()
            b = models.class_decoder.linear.bias.detach().numpy()
            f = figures(xtr, ytr, xte, yte, labels, w, b, mlp_epochs)
        row = {"epoch": epoch, **{k: round(v, 4) for k, v in scores.items()}, **f}
        done.write_text(json.dumps(row, indent=1))
        _print_row(row)


def _print_row(f: dict) -> None:
    low = "-".join(map(str, f["x_low_std_range"]))
    print(f"| {f['epoch']} | {f['x_low_std_count']} ({low}) | {f['x_abs_mean_max']} | {f.get('class_vae_accuracy')} "
          f"| {f['linear_acc']} / {f['linear_mse']} | {f['mlp_acc']} / {f['mlp_mse']} "
          f"| {f.get('middle_layers_accuracy')} | {f['oracle_mse']} |", flush=True)


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
    e = sub.add_parser("extend", help="let a finished plateau run go on to more epochs (then train again)")
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--epochs", type=int, required=True, help="the new total")
    m = sub.add_parser("measure", help="the fidelity table of every snapshot")
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--mlp-epochs", type=int, default=150)
    args = parser.parse_args()
    if args.command == "train":
        run_training(args.out, args.latent, args.seed, args.every, args.snapshot, json.loads(args.set))
    elif args.command == "extend":
        extend(args.out, args.epochs)
    else:
        measure(args.out, args.mlp_epochs)


if __name__ == "__main__":
    main()
