"""The package namespace: every public name resolves on first use, and ``import ldmnist_hub`` stays cheap."""

from __future__ import annotations

import json
import subprocess
import sys

from _support import REPO_ROOT

import ldmnist_hub


def _fresh(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_import_loads_no_loader_framework_or_hub_code() -> None:
    code = ("import sys, json, ldmnist_hub\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'pyarrow', 'datasets', "
            "'torch', 'huggingface_hub') or m.startswith(('ldmnist_hub.loading', 'ldmnist_hub.hub')))))")
    assert json.loads(_fresh(code)) == []


def test_every_public_name_resolves_and_is_listed() -> None:
    for name in ldmnist_hub.__all__:
        assert getattr(ldmnist_hub, name) is not None, name
        assert name in dir(ldmnist_hub)
    assert "Any" not in dir(ldmnist_hub) and "import_module" not in dir(ldmnist_hub)


def test_benchmark_is_the_function_whichever_is_imported_first() -> None:
    code = ("import ldmnist_hub.benchmark.baselines\nimport ldmnist_hub as ld\n"
            "from ldmnist_hub import benchmark\n"
            "from ldmnist_hub.benchmark.run import benchmark as run\n"
            "print(ld.benchmark is run and benchmark is run and callable(ld.benchmark))")
    assert _fresh(code) == "True"
    assert _fresh("import ldmnist_hub as ld\nprint(type(ld.benchmark).__name__, type(ld.load_numpy).__name__)") == (
        "function function")
