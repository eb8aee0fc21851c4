"""Functions with more than 60 lines of code, docstring aside (issue #26's bar: no more than 9).

Usage: ``python benchmarks/long_functions.py [--limit 60]``: lists each such function of ``ldmnist_hub``
(file, name, lines of code) and their count. Lines of code are the function's lines less its docstring's, less
blank lines and comment-only lines.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "ldmnist_hub"


def code_lines(source: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of ``node`` holding code: its span less its docstring, blank lines and comment-only lines."""
    lines = source.splitlines()[node.lineno - 1:node.end_lineno]
    skip: set[int] = set()
    body0 = node.body[0]
    if isinstance(body0, ast.Expr) and isinstance(body0.value, ast.Constant) and isinstance(body0.value.value, str):
        skip.update(range(body0.lineno - node.lineno, body0.end_lineno - node.lineno + 1))
    return sum(1 for i, line in enumerate(lines)
               if i not in skip and line.strip() and not line.strip().startswith("#"))


def long_functions(limit: int) -> list[tuple[str, str, int]]:
    """``(file, function, lines)`` of every function of the package over ``limit`` lines of code."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = code_lines(source, node)
                if n > limit:
                    found.append((path.relative_to(PACKAGE).as_posix(), node.name, n))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=60)
    args = parser.parse_args()
    found = long_functions(args.limit)
    for file, name, n in sorted(found, key=lambda f: -f[2]):
        print(f"{n:5d}  {file}:{name}")
    print(f"{len(found)} functions over {args.limit} lines of code (bar: no more than 9)")


if __name__ == "__main__":
    main()
