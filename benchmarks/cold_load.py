"""Cold and warm load times of the reference variant, each measured alone in a fresh process (issue #19).

Every figure is one fresh interpreter, timed from before ``import ldmnist_hub``
to the arrays (or ``DatasetDict``) in hand; a cold figure also gets a fresh,
empty ``$LDMNIST_HOME``, so it includes reading the raw MNIST files, the exact
encode and writing the Arrow cache. Each is repeated and the best and median
are printed, with the load average of the machine (another process on the
cores inflates every figure). Bars: cold ``load_numpy(latent=32)`` <= 1.0 s and
cold ``load_dataset`` <= 1.6 s. The breakdown below them (each alone in its own
process): ``import ldmnist_hub``, ``import datasets``, the gunzip of both
splits, and the exact encode on 1 thread and on every core. The bars were set on a machine where
the floor (gunzip + ``import datasets``) took 1.10 s; each is also printed scaled by this machine's
floor over that one.

Usage:
    LDMNIST_MNIST_DIR=../shared/data/mnist python benchmarks/cold_load.py [--latent 32] [--repeat 3] [--out f.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

LOAD = """
import time
t = time.perf_counter()
import ldmnist_hub
{call}
print(time.perf_counter() - t)
"""
CALLS = {
    "load_numpy": "ldmnist_hub.load_numpy(latent={latent}, progress=False)",
    "load_dataset": "ldmnist_hub.load_dataset('ldmnist', latent={latent}, progress=False)",
}
PARTS = {
    "import ldmnist_hub": "import time; t = time.perf_counter(); import ldmnist_hub; print(time.perf_counter() - t)",
    "import datasets": "import time; t = time.perf_counter(); import datasets; print(time.perf_counter() - t)",
    "gunzip both splits": ("from ldmnist_hub.data import sources; import time; t = time.perf_counter()\n"
                           "[sources.load_split('mnist', s) for s in ('train', 'test')]\n"
                           "print(time.perf_counter() - t)"),
    "exact encode": ("from ldmnist_hub.data import sources; from ldmnist_hub.produce import reference; import time\n"
                     "raw = {{s: sources.load_split('mnist', s) for s in ('train', 'test')}}\n"
                     "t = time.perf_counter(); reference.get({latent}).encode(raw, 0); print(time.perf_counter() - t)"),
}
BARS = {"cold load_numpy": 1.0, "cold load_dataset": 1.6}
# The machine, where the bars were set: its floor parts (gunzip 0.23 s + import datasets 0.87 s).
# Machines differ up to 2x in these (an epoch trains 4x faster on one than another), so each bar is also
# printed scaled by this machine's floor over that one, measured in the same run.
BAR_FLOOR = {"gunzip both splits": 0.23, "import datasets": 0.87}


def run(code: str, home: Path, **env: str) -> float:
    """Seconds printed by ``code`` in a fresh interpreter with ``LDMNIST_HOME=home``."""
    environ = {**os.environ, "LDMNIST_HOME": str(home), **env}
    done = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    if done.returncode != 0:
        sys.exit(f"failed:\n{code}\n{done.stderr[-3000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def measure(latent: int, repeat: int) -> dict[str, Any]:
    """Every figure ``repeat`` times: ``{name: [seconds, ...]}``, plus the load averages seen."""
    times: dict[str, list[float]] = {}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        warm_home = Path(tmp) / "warm"
        for call in CALLS.values():
            run(LOAD.format(call=call.format(latent=latent)), warm_home)  # the warm home holds both caches
        for _ in range(repeat):
            for name, call in CALLS.items():
                code = LOAD.format(call=call.format(latent=latent))
                home = Path(tmp) / "cold"
                shutil.rmtree(home, ignore_errors=True)
                loads.append(os.getloadavg()[0])
                times.setdefault(f"cold {name}", []).append(run(code, home))
                times.setdefault(f"warm {name}", []).append(run(code, warm_home))
            for name, code in PARTS.items():
                code = code.format(latent=latent)
                if name == "exact encode":
                    times.setdefault(f"{name} (1 thread)", []).append(run(code, warm_home, LDMNIST_NUM_THREADS="1"))
                    name = f"{name} (every core: {os.cpu_count()})"
                times.setdefault(name, []).append(run(code, warm_home))
    return {"latent": latent, "repeat": repeat, "cpus": os.cpu_count(), "load_average": loads, "seconds": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if not os.environ.get("LDMNIST_MNIST_DIR"):
        sys.exit("set LDMNIST_MNIST_DIR to the folder with the four official MNIST files")
    os.environ.pop("OMP_NUM_THREADS", None)  # the defaults users get: the encoder holds BLAS to one thread per chunk
    os.environ.pop("LDMNIST_NUM_THREADS", None)
    result = measure(args.latent, args.repeat)
    print(f"latent-{args.latent}, {result['cpus']} CPUs, {args.repeat} runs each, load average while measuring "
          f"{min(result['load_average']):.2f}-{max(result['load_average']):.2f}")
    print(f"| {'figure':40s} | best s | median s | bar |")
    print(f"|{'-' * 42}|--------|----------|-----|")
    seconds = result["seconds"]
    scale = sum(min(seconds[k]) for k in BAR_FLOOR) / sum(BAR_FLOOR.values())
    result["bar_scale"] = scale
    for name, values in seconds.items():
        bar = BARS.get(name)
        verdict = "" if bar is None else (f"<= {bar}: {'ok' if min(values) <= bar else 'MISSED'}; scaled "
                                          f"<= {bar * scale:.2f}: {'ok' if min(values) <= bar * scale else 'MISSED'}")
        print(f"| {name:40s} | {min(values):6.3f} | {statistics.median(values):8.3f} | {verdict} |")
    print(f"this machine's floor (gunzip + import datasets) is {scale:.2f}x the issue's machine's "
          f"({sum(BAR_FLOOR.values()):.2f} s); the scaled bars are the bars times that")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
