"""Issue #18's race bar: fresh-process loads while `ldmnist build --force` rebuilds the same variant in a loop.

One process rebuilds the tiny fixture's trained latent-3 variant with ``build --force`` over and over;
meanwhile ``--loads`` fresh processes each load its test split (``load_numpy``) and report the sum of
``x``. The bar: 0 errors, and every load serves the same bytes (one variant, rebuilt identically on this
machine: a reader sees the old or the new complete variant, never a mixture). Also counts how many
rebuilds ran during the loads, so a run where the loop never overlapped the readers is visible.

Usage:
    python benchmarks/race_loads.py [--loads 30]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "mnist-tiny"
ARGS = ["build", "--latent", "3", "--mnist-dir", str(TINY), "--set", "epochs=2", "--set", "batch_size=100",
        "--quiet"]
LOAD = ("import json, ldmnist_hub as ld\n"
        f"x = ld.load_numpy(3, 'test', train={{'epochs': 2, 'batch_size': 100}}, data_dir={str(TINY)!r}, "
        "progress=False)[0]\nprint(json.dumps(float(x.astype('float64').sum())))\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=30)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="ldmnist-race-")) / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("LDMNIST_REPO", "LDMNIST_FAULT", "LDMNIST_MNIST_DIR")}
    env.update(LDMNIST_HOME=str(home), OMP_NUM_THREADS="1")
    first = subprocess.run([sys.executable, "-c", LOAD], env=env, capture_output=True, text=True, check=True)
    stop, count = home.parent / "stop", home.parent / "rebuilds"
    loop = subprocess.Popen([sys.executable, "-c", "import pathlib\nfrom ldmnist_hub.cli import main\nn = 0\n"
                             f"while not pathlib.Path({str(stop)!r}).exists():\n"
                             f"    assert main({[*ARGS, '--force']!r}) == 0\n    n += 1\n"
                             f"    pathlib.Path({str(count)!r}).write_text(str(n))\n"], env=env,
                            stdout=subprocess.DEVNULL)
    errors, sums, start = [], [], time.perf_counter()
    try:
        for _ in range(args.loads):
            done = subprocess.run([sys.executable, "-c", LOAD], env=env, capture_output=True, text=True)
            if done.returncode != 0:
                errors.append(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "?")
            else:
                sums.append(json.loads(done.stdout))
    finally:
        stop.touch()
        loop.wait(timeout=300)
    rebuilds = int(count.read_text()) if count.exists() else 0
    result = {"loads": args.loads, "errors": len(errors), "distinct_results": len(set(sums)),
              "equal_to_first_build": set(sums) <= {json.loads(first.stdout)}, "rebuilds_during_loads": rebuilds,
              "seconds": round(time.perf_counter() - start, 1), "error_lines": errors[:5]}
    print(json.dumps(result, indent=2))
    ok = not errors and result["equal_to_first_build"] and rebuilds > 0
    print(f"bar: {args.loads} fresh loads during a build --force loop, {len(errors)} errors, "
          f"{rebuilds} rebuilds overlapped: {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
