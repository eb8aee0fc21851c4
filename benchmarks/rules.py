"""Issue #28's rule-baseline bars: `ldmnist benchmark --rules` per latent size, its wall time, and the plot.

For each ``--latents`` size runs ``ldmnist benchmark --latent N --rules --draws D --out DIR`` in a fresh
process (one torch thread), times it on the wall clock, and checks the bars: the run within 10 minutes,
every row with ``+-``, backprop's reconstructed accuracy above feedback alignment's. Then draws the
explained fraction by rule and latent size from every ``rules-latent-*.json`` in DIR into
``DIR/rules-explained.png``. ``--plot-only`` redraws the plot from the JSON already there.

    OMP_NUM_THREADS=1 LDMNIST_MNIST_DIR=... python benchmarks/rules.py --latents 8 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bars import report

from ldmnist_hub.benchmark.rules.suite import rules_figure

BOUND_S = 600


def run(latent: int, draws: int, out: Path, rules: str | None) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "ldmnist_hub.cli", "benchmark", "--latent", str(latent), "--draws", str(draws),
           "--out", str(out), "--quiet", "--rules"] + ([rules] if rules else [])
    print("$ ldmnist " + " ".join(cmd[3:]), flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - start
    return wall, json.loads((out / f"rules-latent-{latent}.json").read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--latents", default="8", help="comma-separated latent sizes (default: 8)")
    p.add_argument("--draws", type=int, default=3)
    p.add_argument("--rules", default=None, help="rule names (default: the default set)")
    p.add_argument("--out", default="benchmarks/results")
    p.add_argument("--plot-only", action="store_true")
    p.add_argument("--json", default=None, help="also write the bars' result here")
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    bars, result = [], {}
    if not a.plot_only:
        for latent in (int(x) for x in a.latents.split(",")):
            wall, doc = run(latent, a.draws, out, a.rules)
            acc = {r["rule"]: r["summary"]["reconstructed_accuracy"]["mean"] for r in doc["rules"]}
            table = (out / f"rules-latent-{latent}.md").read_text()
            rows = [line for line in table.splitlines() if line.startswith("| `")]
            bars += [(f"latent {latent} wall s", round(wall, 1), f"< {BOUND_S}", wall < BOUND_S),
                     (f"latent {latent} rows with +-", len(rows), "all", all(" +- " in r for r in rows))]
            if "backprop" in acc and "feedback-alignment" in acc:
                bars.append((f"latent {latent} BP - FA acc", round(acc["backprop"] - acc["feedback-alignment"], 4),
                             "> 0", acc["backprop"] > acc["feedback-alignment"]))
            result[str(latent)] = {"wall_seconds": round(wall, 1), "cpu_seconds": sum(r["cpu_seconds"]
                                                                                     for r in doc["rules"]),
                                   "accuracy": acc, "load_average": os.getloadavg()}
    docs = [json.loads(f.read_text()) for f in sorted(out.glob("rules-latent-*.json"))]
    if docs:
        rules_figure(docs).savefig(out / "rules-explained.png", dpi=110)
        print(f"wrote {out / 'rules-explained.png'}")
    report(bars, result, a.json, width=28)


if __name__ == "__main__":
    main()
