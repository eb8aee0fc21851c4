"""``ldmnist ARGS`` run in a fresh interpreter against the Hub test server (see :mod:`_support.hub_server`)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from _support.hub_server import HubServer, hub_env, run_client

# The variables a client process needs from the test's own environment: the cache and the raw MNIST.
PASSED_VARS = ("LDMNIST_HOME", "LDMNIST_MNIST_DIR")


def hub_cli(
    hub: HubServer, hf_home: Path, args: list[str], *, token: str, timeout: float = 180
) -> tuple[int, str, str]:
    """``ldmnist ARGS`` in a subprocess talking to ``hub``: (exit code, stdout, stderr)."""
    code = textwrap.dedent(f"""
        import sys
        from ldmnist_hub import cli
        rc = cli.main({args!r})
        sys.stdout.flush()
        print("RC", rc)
    """)
    env = hub_env(hub, hf_home, token=token, extra={k: os.environ[k] for k in PASSED_VARS if k in os.environ})
    proc = run_client(code, env, timeout=timeout)
    lines = proc.stdout.strip().splitlines()
    return int(lines[-1].split()[1]), "\n".join(lines[:-1]), proc.stderr
