"""How many package functions one warm public call runs: the depth a reader follows from the API to the work.

Usage: ``python benchmarks/call_depth.py [--latent 32] [--out results/call_depth.json]``

Each call is made once (to build, load and cache what it needs), then profiled
once with :func:`sys.setprofile`; the figures are the distinct functions whose
file is under ``ldmnist_hub/`` that the warm call entered (every code object,
comprehensions and lambdas included; ``named`` leaves those out), and the files
they are in. Bars (issue #26): ``load_numpy(latent=32, split="test")`` at most 30
functions in at most 10 files; ``evaluate(y, latent=32)`` at most 35 functions.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ldmnist_hub as ld

PACKAGE_DIR = str(Path(ld.__file__).resolve().parent)


def package_calls(call: Callable[[], Any]) -> set[tuple[str, int, str]]:
    """The ``(file, first line, name)`` of every package function one run of ``call`` enters."""
    seen: set[tuple[str, int, str]] = set()

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            if code.co_filename.startswith(PACKAGE_DIR):
                seen.add((code.co_filename, code.co_firstlineno, code.co_name))

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return seen


def main(argv: list[str] | None = None) -> None:
    from bars import report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--out", default=None)
    parser.add_argument("--list", action="store_true", help="print the functions each call runs")
    args = parser.parse_args(argv)
    _, y, _ = ld.load_numpy(latent=args.latent, split="test")
    calls = {"load_numpy": lambda: ld.load_numpy(latent=args.latent, split="test"),
             "evaluate": lambda: ld.evaluate(y, latent=args.latent)}
    result: dict[str, Any] = {}
    for name, call in calls.items():
        call()  # the first call builds and caches; the profiled one is warm
        seen = package_calls(call)
        files = sorted({Path(f).relative_to(PACKAGE_DIR).as_posix() for f, _, _ in seen})
        named = [n for _, _, n in seen if not n.startswith("<")]
        result[name] = {"functions": len(seen), "named": len(named), "files": len(files), "file_list": files,
                        "function_list": sorted(f"{Path(f).relative_to(PACKAGE_DIR).as_posix()}:{n}"
                                                for f, _, n in seen)}
        if args.list:
            print(f"{name}:", *result[name]["function_list"], sep="\n  ")
    bars = [("load_numpy functions", result["load_numpy"]["functions"], "<= 30",
             result["load_numpy"]["functions"] <= 30),
            ("load_numpy files", result["load_numpy"]["files"], "<= 10", result["load_numpy"]["files"] <= 10),
            ("evaluate functions", result["evaluate"]["functions"], "<= 35", result["evaluate"]["functions"] <= 35)]
    report(bars, {k: {f: v[f] for f in ("functions", "named", "files")} for k, v in result.items()}, args.out)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
