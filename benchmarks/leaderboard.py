"""Issue #4's bars: the leaderboard run's wall time, its character, determinism, and torch-vs-Keras agreement.

Runs ``ldmnist benchmark --latent 32`` as a user would (a subprocess, imports
included) and checks:

- wall time of the whole command (bar: under 15 minutes on 2 cores);
- linear-regression reconstructed accuracy in 0.52-0.68 and the torch MLP's
  against the original's 0.9577;
- torch and Keras MLPs within noise of each other: the binomial standard
  error of an accuracy difference on 10,000 test rows, and (``--seeds K``) the
  spread of each framework's MLP over seeds 0..K-1;
- ``--draws K``: every model on posterior draws 0..K-1 of the reference
  variant (``--seed``: the same weights, other samples of ``x`` and
  ``y``): mean and standard deviation of each model's MSE and accuracy, the
  error bars of a score;
- ``--repeat``: a second run with the same seed gives the same scores;
- ``--ceiling``: how much class information ``x`` holds at all: a wide MLP
  classifier (2 x 256 ReLU, cross-entropy on the labels, 40 epochs) on ``x``.
  Reconstructed accuracy of a regression model cannot exceed what a
  classifier trained on the labels themselves reaches, up to noise.

Usage (the variant must be built: ``ldmnist build --latent 32``)::

    LDMNIST_MNIST_DIR=../shared/data/mnist python benchmarks/leaderboard.py --repeat --seeds 3
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "ldmnist_hub.cli", "benchmark", "--quiet", "--json"]


def run(args: list[str]) -> tuple[dict, float]:
    start = time.perf_counter()
    out = subprocess.run(CLI + args, check=True, capture_output=True, text=True).stdout
    return json.loads(out), time.perf_counter() - start


def scores(doc: dict) -> dict:
    doc = dict(doc, rows=[{k: v for k, v in r.items() if k not in ("train_seconds", "cpu_seconds")}
                          for r in doc["rows"]])
    doc.pop("settings")
    return doc


def classifier_ceiling(latent: int, epochs: int = 40, width: int = 256) -> dict[int, float]:
    """Test accuracy every 10 epochs of a wide MLP classifier trained on x with the true labels (seed 0)."""
    import torch

    from ldmnist_hub import load_numpy

    xtr, _, ltr = load_numpy(latent, "train", build=False, progress=False)
    xte, _, lte = load_numpy(latent, "test", build=False, progress=False)
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(latent, width), torch.nn.ReLU(), torch.nn.Linear(width, width),
                              torch.nn.ReLU(), torch.nn.Linear(width, 10))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    x, lab, xt = torch.tensor(xtr), torch.tensor(ltr), torch.tensor(xte)
    out = {}
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 256):
            idx = order[i:i + 256]
            loss = torch.nn.functional.cross_entropy(net(x[idx]), lab[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch % 10 == 0:
            with torch.no_grad():
                out[epoch] = round(float((net(xt).argmax(1).numpy() == lte).mean()), 4)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latent", type=int, default=32)
    ap.add_argument("--repeat", action="store_true", help="run twice and compare the scores")
    ap.add_argument("--seeds", type=int, default=1, help="also train both MLPs with seeds 1..K-1")
    ap.add_argument("--draws", type=int, default=1, help="also score every model on posterior draws 1..K-1")
    ap.add_argument("--ceiling", action="store_true", help="train a wide classifier on x (the accuracy ceiling)")
    ap.add_argument("--json", default=None, help="write the figures here")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        doc, seconds = run(["--latent", str(a.latent), "--out", tmp])
    rows = {r["model"]: r for r in doc["rows"]}
    figures: dict = {"wall_seconds": round(seconds, 1), "floor_mse": doc["floor_mse"], "spread": doc["spread"],
                     "rows": {m: {k: r[k] for k in ("mse", "excess_mse", "reconstructed_accuracy", "train_seconds",
                                                   "cpu_seconds")}
                              for m, r in rows.items()},
                     "label_efficiency": doc["label_efficiency"]}
    torch_acc, keras_acc = rows["mlp-torch"]["reconstructed_accuracy"], rows["mlp-keras"]["reconstructed_accuracy"]
    p = (torch_acc + keras_acc) / 2
    figures["mlp_gap"] = round(abs(torch_acc - keras_acc), 4)
    figures["mlp_gap_binomial_se"] = round(math.sqrt(2 * p * (1 - p) / 10_000), 4)
    if a.seeds > 1:
        per_seed: dict[str, list[float]] = {"mlp-torch": [torch_acc], "mlp-keras": [keras_acc]}
        for s in range(1, a.seeds):
            extra, _ = run(["--latent", str(a.latent), "--models", "mlp-torch,mlp-keras", "--model-seed", str(s),
                            "--label-sizes", ""])
            for r in extra["rows"]:
                per_seed[r["model"]].append(r["reconstructed_accuracy"])
        figures["mlp_accuracy_per_seed"] = per_seed
    if a.draws > 1:
        per_draw = {m: {"mse": [r["mse"]], "reconstructed_accuracy": [r["reconstructed_accuracy"]]}
                    for m, r in rows.items()}
        for d in range(1, a.draws):
            extra, _ = run(["--latent", str(a.latent), "--seed", str(d), "--build", "--label-sizes", ""])
            for r in extra["rows"]:
                for k in ("mse", "reconstructed_accuracy"):
                    per_draw[r["model"]][k].append(r[k])
        figures["over_draws"] = {m: {k: {"mean": round(statistics.mean(v), 4), "std": round(statistics.stdev(v), 4),
                                         "values": v} for k, v in d.items()} for m, d in per_draw.items()}
    if a.repeat:
        again, seconds2 = run(["--latent", str(a.latent), "--label-sizes", ",".join(
            str(r["labels"]) for r in doc["label_efficiency"] or [])])
        figures["repeat_wall_seconds"] = round(seconds2, 1)
        figures["same_seed_same_scores"] = scores(again) == scores(doc)

    if a.ceiling:
        figures["classifier_ceiling_per_epoch"] = classifier_ceiling(a.latent)
    lin = rows["linear"]["reconstructed_accuracy"]
    print(json.dumps(figures, indent=2))
    print(f"\nwhole run            {seconds:.0f} s (bar < 900 s)")
    print(f"linear accuracy      {lin:.4f} (bar 0.52-0.68): {'ok' if 0.52 <= lin <= 0.68 else 'MISSED'}")
    print(f"torch MLP accuracy   {torch_acc:.4f} (bar >= 0.9577): {'ok' if torch_acc >= 0.9577 else 'MISSED'}")
    print(f"keras MLP accuracy   {keras_acc:.4f}; gap {figures['mlp_gap']} vs binomial SE "
          f"{figures['mlp_gap_binomial_se']}")
    if a.ceiling:
        best = max(figures["classifier_ceiling_per_epoch"].values())
        print(f"classifier on x      best test accuracy {best:.4f} (the ceiling for reconstructed accuracy)")
    if a.draws > 1:
        print(f"\nover {a.draws} posterior draws (mean +- std):")
        for m, d in figures["over_draws"].items():
            print(f"  {m:<14} MSE {d['mse']['mean']:.4f} +- {d['mse']['std']:.4f}   accuracy "
                  f"{d['reconstructed_accuracy']['mean']:.4f} +- {d['reconstructed_accuracy']['std']:.4f}")
    if a.repeat:
        print(f"same seed, same table: {figures['same_seed_same_scores']}")
    if a.json:
        Path(a.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
