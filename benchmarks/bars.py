"""Shared output of the benchmark scripts: a table of figures against their bars, and the JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def report(bars: Sequence[tuple[str, Any, str, bool]], result: dict[str, Any], out: str | None,
           width: int = 24) -> None:
    """Print ``(figure, measured, bar, ok)`` rows and the full result; write the result to ``out`` if given."""
    print(f"\n{'figure':<{width}}{'measured':>22}  {'bar':<12}ok")
    for name, value, bar, ok in bars:
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"{name:<{width}}{shown:>22}  {bar:<12}{'yes' if ok else 'NO'}")
    print(json.dumps(result, indent=1))
    if out:
        with open(out, "w") as f:
            json.dump(result, f, indent=1)
