"""Issue #12's bars: the fault table, and the load times with every served file verified.

- Runs the fault-injection tests (``tests/store/test_faults.py``,
  ``tests/publish/test_folder_faults.py``, issue #18's attacks from outside:
  ``tests/store/test_trust_faults.py``, ``tests/publish/test_pull_checks.py``,
  ``tests/publish/test_leak_check.py``, and issue #27's: writers through links and
  planted journals, ``tests/publish/test_writers_inside.py``; hostile files, a bad
  environment, missing extras and long builds, ``tests/test_cli_faults.py``;
  ``datasets``' own files in our folder, ``tests/loading/test_datasets_own_files.py``)
  and prints one row per attack: the defect number (or issue part) that found
  it, the attack, and the result.
  Each test asserts nothing lost, nothing wrong served and a clear error, so
  the bar is 0 failed rows.
- Cold ``load_dataset("ldmnist", latent=32)`` (nothing cached, bar <= 3 s) and
  warm (after imports, bar <= 0.1 s), each in a fresh process, with the
  sha256 checks of the weights and the Arrow cache on (they always are).

Usage:
    LDMNIST_MNIST_DIR=../shared/data/mnist python benchmarks/fault_table.py [--skip-loads] [--out results.json]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bars import report  # noqa: E402
from reference import load_times  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SUITES = ["tests/store/test_faults.py", "tests/publish/test_folder_faults.py", "tests/store/test_trust_faults.py",
          "tests/publish/test_pull_checks.py", "tests/publish/test_leak_check.py",
          "tests/publish/test_writers_inside.py", "tests/test_cli_faults.py",
          "tests/loading/test_datasets_own_files.py"]
# Suites whose tests are not named test_fault_<row>_...: the row of the issue they answer (issues #18, #27's parts).
SUITE_ROWS = {"test_pull_checks": "18.2-3", "test_leak_check": "18.1", "test_writers_inside": "27.1",
              "test_cli_faults": "27.5,7", "test_datasets_own_files": "27.6"}


def fault_rows() -> tuple[list[dict[str, str]], float]:
    """Run the fault suites; one row per test case: defect number, attack, outcome, seconds."""
    xml = Path(tempfile.mkdtemp(prefix="ldmnist-faults-")) / "junit.xml"
    suites = [s for s in SUITES if (ROOT / s).is_file()]
    start = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}", *suites],
                   cwd=ROOT, env=env, check=False)
    seconds = time.perf_counter() - start
    rows = []
    for case in ET.parse(xml).getroot().iter("testcase"):
        name = case.get("name", "")
        parts = name.removeprefix("test_").split("_", 2)
        suite = case.get("classname", "").rsplit(".", 1)[-1]
        row = parts[1] if parts[0] == "fault" and len(parts) > 2 else SUITE_ROWS.get(suite, "-")
        what = (parts[2] if parts[0] == "fault" and len(parts) > 2 else name.removeprefix("test_")).replace("_", " ")
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        rows.append({"row": row, "attack": what, "result": "FAILED" if failed else "skipped" if skipped else "held",
                     "seconds": case.get("time", "?"), "file": case.get("classname", "")})
    return rows, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-loads", action="store_true", help="only the fault table")
    parser.add_argument("--out", default=None, help="write the result as JSON here")
    args = parser.parse_args()

    rows, seconds = fault_rows()
    print("\n| defect | attack | result | s |\n|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (r["row"].zfill(3), r["attack"])):
        print(f"| {r['row']} | {r['attack']} | {r['result']} | {float(r['seconds']):.1f} |")
    failed = [r for r in rows if r["result"] == "FAILED"]
    result: dict = {"rows": rows, "fault_suite_seconds": round(seconds, 1), "failed_rows": len(failed)}
    bars = [("fault rows that failed", len(failed), "0", not failed), ("fault rows run", len(rows), "> 0", bool(rows))]
    if not args.skip_loads:
        times = load_times(32)
        result.update(times)
        bars += [("cold load (s)", times["cold_load_seconds"], "<= 3", times["cold_load_seconds"] <= 3),
                 ("warm load (s)", times["warm_load_seconds"], "<= 0.1", times["warm_load_seconds"] <= 0.1)]
    report(bars, result, args.out)


if __name__ == "__main__":
    main()
