"""Issue #14's sweep bar: a 4-job build sweep on a 2-worker local Ray cluster against the same jobs run serially.

Four tiny-fixture builds (latents 2 and 3, seeds 0 and 1, ``--epochs`` epochs
at batch 100, one thread each), each in a fresh ``LDMNIST_HOME``:

1. serially, in this process, after torch is imported (the best case for serial);
2. as a sweep on a local Ray cluster with ``--workers`` CPUs, timed once the
   cluster is up (its start-up is reported apart); the workers' own start-up
   (importing torch) is inside the sweep's time.

3. ``ldmnist sweep`` of the same jobs in a subprocess (its own cluster, one
   worker) killed with SIGKILL (its whole process group) as soon as its first
   result is stored, then run again: the re-run must compute only the missing
   jobs and leave the stored results untouched.

Bars: sweep faster than serial (ratio serial / sweep > 1; the ceiling is the
worker count); after a kill, the re-run completes every job and recomputes none
that had finished. Timings hold on the machine that ran them.

Usage:
    python benchmarks/sweep.py [--epochs 100] [--workers 2] [--out results.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch: the serial run gets the workers' budget
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bars import report  # noqa: E402

TINY_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "mnist-tiny"


def killed_and_rerun(epochs: int) -> dict:
    """Kill a CLI sweep after its first stored result, run it again; what was kept and what was computed."""
    import signal
    import subprocess

    out = Path(tempfile.mkdtemp(prefix="ldmnist-sweep-kill-"))
    env = {**os.environ, "LDMNIST_HOME": str(out / "home")}
    cmd = [sys.executable, "-m", "ldmnist_hub.cli", "sweep", "--kind", "build", "--latents", "2,3", "--seeds", "0,1",
           "--mnist-dir", str(TINY_DIR), "--set", f"epochs={epochs}", "--set", "batch_size=100", "--workers", "1",
           "--out", str(out / "sweep"), "--quiet"]
    jobs = out / "sweep" / "jobs"
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None and not (jobs.is_dir() and any(jobs.glob("*.json"))):
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the cluster it started
    proc.wait()
    kept = {p.name: p.stat().st_mtime_ns for p in jobs.glob("*.json")}
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    after = {p.name: p.stat().st_mtime_ns for p in jobs.glob("*.json")}
    return {"results_at_kill": len(kept), "rerun_exit": again.returncode, "results_after_rerun": len(after),
            "finished_untouched": all(after.get(k) == v for k, v in kept.items()),
            "recomputed_after_rerun": len(after) - len(kept)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    import ray
    import torch  # noqa: F401  (imported before the clock starts: serial pays no import)

    from ldmnist_hub.benchmark.sweep import grid, run_job, sweep

    jobs = grid("build", [2, 3], [0, 1], train={"epochs": args.epochs, "batch_size": 100}, data_dir=str(TINY_DIR))
    os.environ["LDMNIST_HOME"] = tempfile.mkdtemp(prefix="ldmnist-sweep-serial-")
    start = time.perf_counter()
    serial = [run_job(job) for job in jobs]
    serial_s = time.perf_counter() - start

    os.environ["LDMNIST_HOME"] = tempfile.mkdtemp(prefix="ldmnist-sweep-ray-")
    start = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, _node_ip_address="127.0.0.1",
             object_store_memory=100 * 1024 * 1024, log_to_driver=False)
    cluster_s = time.perf_counter() - start
    try:
        start = time.perf_counter()
        result = sweep(jobs, out=tempfile.mkdtemp(prefix="ldmnist-sweep-out-"), progress=False)
        sweep_s = time.perf_counter() - start
    finally:
        ray.shutdown()
    same = [{k: v for k, v in r["result"].items() if k != "train_seconds"} for r in result.records] == [
        {k: v for k, v in r.items() if k != "train_seconds"} for r in serial]
    ratio = serial_s / sweep_s
    out = {"jobs": len(jobs), "epochs": args.epochs, "workers": args.workers, "cores": os.cpu_count(),
           "serial_s": round(serial_s, 2), "cluster_start_s": round(cluster_s, 2), "sweep_s": round(sweep_s, 2),
           "speedup": round(ratio, 2), "speedup_with_cluster_start": round(serial_s / (sweep_s + cluster_s), 2),
           "serial_job_train_s": [r["train_seconds"] for r in serial],
           "sweep_job_train_s": [r["result"]["train_seconds"] for r in result.records], "same_results": same,
           "load_average_1min": round(os.getloadavg()[0], 2)}  # other processes on the cores skew both runs
    out["killed"] = kill = killed_and_rerun(args.epochs)
    resumed = kill["rerun_exit"] == 0 and kill["results_after_rerun"] == len(jobs) and kill["finished_untouched"]
    report([("serial s", out["serial_s"], "-", True), ("cluster start s", out["cluster_start_s"], "-", True),
            ("sweep s", out["sweep_s"], "-", True), ("speed-up serial / sweep", out["speedup"], "> 1", ratio > 1),
            ("same results as serial", same, "True", same),
            ("killed: kept / rerun did", f"{kill['results_at_kill']} / {kill['recomputed_after_rerun']}",
             "rest only", resumed)], out, args.out, width=26)


if __name__ == "__main__":
    main()
