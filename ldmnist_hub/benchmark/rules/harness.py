"""The protocol every learning-rule baseline runs under, in one place: data, draws, network, budget, tuning, timing.

A rule is a subclass of :class:`ReferenceNet` (N-256-256-N, tanh) whose
``set_grads(x, y)`` fills every parameter's ``.grad`` for one batch; Adam
takes the step. Everything else is this module's, the same for every rule:

- **data**: posterior draw ``s`` of a reference variant is its ``seed``; a
  rule trains on draw ``s``'s training rows and is scored on draw ``s``'s test
  split, for each ``s`` in ``draws`` (the network's initialisation and batch
  order are seeded with ``s`` too);
- **tuning**: each learning rate of :attr:`Protocol.learning_rates` is trained
  on the first draw and scored (MSE) on the tuning rows of
  :func:`ldmnist_hub.benchmark.protocol.tuning_split` (``validation``, or until
  3.0.0 the last 10,000 train rows); the best rate is used for every draw;
- **budget**: :attr:`Protocol.epochs` epochs of batches of 256, Adam with a
  cosine decay of the rate to 0;
- **timing**: CPU seconds (``time.process_time``) beside wall seconds, with
  torch pinned to :attr:`Protocol.threads` threads.

To try a rule of your own, copy ``backprop.py``, change ``set_grads``, and
run ``python your_rule.py --latent 8``. A JAX rule (``backprop_jax.py``)
brings its own training loop under the same budget
(:mod:`ldmnist_hub.benchmark.rules.harness_jax`: ``fit`` and ``predict``) and is
tuned, timed and scored here like the others.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from ldmnist_hub.benchmark.protocol import HIDDEN, Protocol, TuningSplit, tuning_split
from ldmnist_hub.errors import InvalidArgumentError
from ldmnist_hub.loading.arrays import load_numpy
from ldmnist_hub.loading.variant import Variant, resolve
from ldmnist_hub.recipe.train import torch_threads
from ldmnist_hub.scoring.evaluate import evaluate


class ReferenceNet(torch.nn.Module):
    """The reference architecture, N-256-256-N with tanh; a rule subclasses it and defines ``set_grads``.

    Weights and biases start uniform in +-1/sqrt(fan-in) (torch's default),
    drawn from ``generator``.
    """

    def __init__(self, latent: int, generator: torch.Generator, hidden: int = HIDDEN) -> None:
        super().__init__()
        sizes = (latent, hidden, hidden, latent)
        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        for layer in self.layers:
            bound = 1.0 / math.sqrt(layer.in_features)
            torch.nn.init.uniform_(layer.weight, -bound, bound, generator=generator)
            torch.nn.init.uniform_(layer.bias, -bound, bound, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The prediction of ``y`` (what is scored)."""
        for layer in self.layers[:-1]:
            x = torch.tanh(layer(x))
        return self.layers[-1](x)

    def set_grads(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The learning rule: fill each parameter's ``.grad`` for the batch; return the batch's MSE."""
        raise NotImplementedError(f"{type(self).__name__} must define set_grads(x, y): the learning rule")


def train(net: ReferenceNet, x: np.ndarray, y: np.ndarray, *, lr: float, protocol: Protocol,
          generator: torch.Generator) -> list[float]:
    """Train ``net`` on ``(x, y)`` under the protocol's budget; return the mean training loss of each epoch."""
    xt, yt = torch.tensor(x), torch.tensor(y)
    steps = math.ceil(len(xt) / protocol.batch_size)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    decay = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=protocol.epochs * steps)
    losses = []
    for _ in range(protocol.epochs):
        order = torch.randperm(len(xt), generator=generator)
        total = 0.0
        for i in range(steps):
            idx = order[i * protocol.batch_size:(i + 1) * protocol.batch_size]
            opt.zero_grad(set_to_none=True)
            total += float(net.set_grads(xt[idx], yt[idx]))
            opt.step()
            decay.step()
        losses.append(total / steps)
    return losses


def predict(net: ReferenceNet, x: np.ndarray) -> np.ndarray:
    """The net's predictions for ``x`` as float32 numpy."""
    if not isinstance(net, torch.nn.Module):  # a rule with its own loop (harness_jax.JaxRule): it predicts
        return net.predict(x)
    with torch.no_grad():
        return net(torch.tensor(x)).numpy()


@dataclass(frozen=True)
class DrawScore:
    """A rule's test scores on one posterior draw, and the cost of its training run."""

    draw: int
    mse: float
    floor_mse: float  # the oracle floor of this draw's test split (the within-class variance of its y)
    excess_mse: float  # mse - floor_mse
    explained: float  # 0 = the train mean of y, 1 = the oracle floor
    reconstructed_accuracy: float
    cpu_seconds: float
    wall_seconds: float
    final_train_loss: float


@dataclass(frozen=True)
class RuleRun:
    """A rule under the protocol: the chosen learning rate, the tuning scores and one score per draw."""

    rule: str
    lr: float
    tuning: dict[str, float]  # learning rate -> MSE on the tuning rows (first draw)
    tuning_rows: str
    draws: list[DrawScore]
    cpu_seconds: float  # all training runs of the rule, tuning included
    wall_seconds: float
    protocol: Protocol

    def stat(self, name: str) -> tuple[float, float]:
        """Mean and sample sd over draws of a :class:`DrawScore` field (sd is nan for one draw)."""
        values = np.array([getattr(d, name) for d in self.draws], dtype=np.float64)
        return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else math.nan

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (``mean``/``sd`` summaries beside the per-draw scores)."""
        d = asdict(self)
        d["protocol"]["learning_rates"] = list(self.protocol.learning_rates)
        d["summary"] = {k: dict(zip(("mean", "sd"), self.stat(k), strict=True))
                        for k in ("mse", "excess_mse", "explained", "reconstructed_accuracy")}
        return d


def draw_variant(variant: Variant, draw: int) -> Variant:
    """The same variant at another seed (for a reference variant: another posterior draw)."""
    return resolve(variant.latent, seed=draw, source=variant.source, train=variant.config.train,
                   version=variant.config.version, data_dir=variant.data_dir, build=variant.build,
                   progress=False)


class _Trained(NamedTuple):
    net: ReferenceNet
    losses: list[float]
    cpu_seconds: float
    wall_seconds: float


def _train_on(make: Callable[[int, torch.Generator], ReferenceNet], split: TuningSplit, draw: int, lr: float,
              protocol: Protocol) -> _Trained:
    """A fresh net trained on a draw's training rows; its initialisation and batch order seeded with the draw."""
    cpu, wall = time.process_time(), time.perf_counter()
    x, y = split.fit_rows()
    net = make(x.shape[1], torch.Generator().manual_seed(draw))
    if isinstance(net, torch.nn.Module):
        losses = train(net, x, y, lr=lr, protocol=protocol, generator=torch.Generator().manual_seed(draw))
    else:  # a rule with its own training loop under the same budget (harness_jax.JaxRule: one jit per run)
        losses = net.fit(x, y, lr=lr, protocol=protocol)
    return _Trained(net, losses, time.process_time() - cpu, time.perf_counter() - wall)


def _score(variant: Variant, trained: _Trained) -> DrawScore:
    """Test scores of a trained net on its draw, by the one evaluator (its floor, excess and explained)."""
    x, _, _ = load_numpy(variant, "test")
    score = evaluate(predict(trained.net, x), variant, "test")
    return DrawScore(variant.seed, round(score.mse, 6), round(score.mse - score.excess_mse, 6),
                     round(score.excess_mse, 6), round(score.explained, 4), score.reconstructed_accuracy,
                     round(trained.cpu_seconds, 2), round(trained.wall_seconds, 2), round(trained.losses[-1], 6))


def run_rule(
    make: Callable[[int, torch.Generator], ReferenceNet],
    variant: Variant,
    *,
    name: str | None = None,
    draws: Sequence[int] = (0, 1, 2),
    protocol: Protocol | None = None,
    progress: Callable[[str], None] | None = None,
) -> RuleRun:
    """Tune ``make``'s rule on the first draw, train it on every draw and score it on each draw's test split.

    Args:
        make: ``make(latent, generator)`` returns a fresh :class:`ReferenceNet` subclass (e.g. the class).
        variant: the resolved variant (its ``seed`` is replaced by each draw).
        name: the rule's name in the results (default: the class name).
        draws: the posterior draws (variant seeds); the first one tunes.
        protocol: budget and grid (default :class:`Protocol`).
        progress: called with a line after each training run.

    Example:
        >>> from ldmnist_hub.benchmark.rules.backprop import Backprop
        >>> run = run_rule(Backprop, resolve(8), draws=[0, 1, 2])  # doctest: +SKIP
        >>> run.stat("reconstructed_accuracy")  # doctest: +SKIP
        (0.95..., 0.00...)
    """
    protocol = protocol or Protocol()
    draws = list(draws)
    if not draws or len(set(draws)) != len(draws):
        raise InvalidArgumentError(f"draws must be one or more distinct seeds; got {draws!r}")
    name = name or getattr(make, "__name__", type(make).__name__)
    say = progress or (lambda line: None)
    cpu, wall = time.process_time(), time.perf_counter()

    def trained_on(v: Variant, split: TuningSplit, lr: float) -> _Trained:
        run = _train_on(make, split, v.seed, lr, protocol)
        say(f"{name}: draw {v.seed}, lr {lr:g}, train loss {run.losses[-1]:.4f}, {run.cpu_seconds:.1f} CPU s")
        return run

    with torch_threads(protocol.threads):
        first = draw_variant(variant, draws[0])
        split = tuning_split(first, quiet=True)
        runs = {lr: trained_on(first, split, lr) for lr in protocol.learning_rates}
        held_x, held_y = split.held_out_rows()
        tuning = {f"{lr:g}": round(float(np.mean((predict(r.net, held_x) - held_y) ** 2)), 6)
                  for lr, r in runs.items()}
        best = min(protocol.learning_rates, key=lambda lr: tuning[f"{lr:g}"])
        scores = [_score(first, runs[best])]
        for draw in draws[1:]:
            v = draw_variant(variant, draw)
            scores.append(_score(v, trained_on(v, tuning_split(v, quiet=True), best)))
    return RuleRun(name, best, tuning, split.source, scores, round(time.process_time() - cpu, 2),
                   round(time.perf_counter() - wall, 2), protocol)


def main(make: Callable[[int, torch.Generator], ReferenceNet], argv: Sequence[str] | None = None) -> None:
    """Command line of a rule module: ``python -m ldmnist_hub.benchmark.rules.backprop --latent 8``."""
    p = argparse.ArgumentParser(description="Train one learning rule under the LD-MNIST protocol and score it.")
    p.add_argument("--latent", type=int, default=8)
    p.add_argument("--draws", type=int, default=3, help="posterior draws 0..D-1 (default: 3)")
    p.add_argument("--epochs", type=int, default=Protocol.epochs)
    args = p.parse_args(argv)
    run = run_rule(make, resolve(args.latent), draws=range(args.draws), protocol=Protocol(epochs=args.epochs),
                   progress=print)
    for key in ("mse", "excess_mse", "explained", "reconstructed_accuracy"):
        mean, sd = run.stat(key)
        print(f"{key:<24}{mean:.4f} +- {sd:.4f}")
    print(f"learning rate {run.lr:g} (tuned on {run.tuning_rows}: {run.tuning}); {run.cpu_seconds:.0f} CPU s")
