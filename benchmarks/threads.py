"""Issue #13's thread bar: a retrain beside another busy process stays within 2x of its time alone.

Trains the canonical latent-32 recipe for a few epochs (``--retrain --set
epochs=E``, full MNIST) in a fresh ``LDMNIST_HOME``, three times:

1. alone, with the default thread count (1: ``LDMNIST_NUM_THREADS`` unset);
2. beside a competitor that keeps both cores busy (two pure-Python spinning
   processes), default threads;
3. beside the same competitor, with ``LDMNIST_NUM_THREADS=2`` (what torch's
   default would do), to show the cliff the default avoids.

Bar: run 2 <= 2x run 1. Timings hold on the machine that ran them.

Usage:
    LDMNIST_MNIST_DIR=../shared/data/mnist python benchmarks/threads.py [--epochs 3] [--out results.json]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bars import report  # noqa: E402

SPIN = "import time\nend = time.time() + 3600\nwhile time.time() < end:\n    pass\n"


def build_seconds(epochs: int, threads: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "LDMNIST_NUM_THREADS")}
    env["LDMNIST_HOME"] = tempfile.mkdtemp(prefix="ldmnist-threads-")
    if threads:
        env["LDMNIST_NUM_THREADS"] = threads
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ldmnist_hub.cli", "build", "--latent", "32", "--retrain", "--set",
                    f"epochs={epochs}", "--quiet"], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    alone = build_seconds(args.epochs, None)
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(os.cpu_count() or 2)]
    try:
        time.sleep(1.0)
        busy = build_seconds(args.epochs, None)
        busy_two = build_seconds(args.epochs, "2")
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    result = {"epochs": args.epochs, "cores": os.cpu_count(), "alone_s": round(alone, 1), "busy_s": round(busy, 1),
              "busy_two_threads_s": round(busy_two, 1), "ratio": round(busy / alone, 2),
              "ratio_two_threads": round(busy_two / alone, 2)}
    report([("busy / alone, 1 thread", result["ratio"], "<= 2", result["ratio"] <= 2),
            ("busy / alone, 2 threads", result["ratio_two_threads"], "-", True)], result, args.out, width=26)


if __name__ == "__main__":
    main()
