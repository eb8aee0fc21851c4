"""Fresh ``python -c`` and ``ldmnist`` processes against one ``LDMNIST_HOME``, for fault and trust tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Variables that would send a process elsewhere than the test's home, or kill it at a fault point.
REDIRECTS = ("LDMNIST_REPO", "LDMNIST_FAULT", "LDMNIST_LOCK_TIMEOUT")


def child_env(home: Path, *, keep_mnist: bool = False, **extra: str) -> dict[str, str]:
    """This process's environment for a child using ``home``: redirections cleared, one torch thread.

    ``keep_mnist`` keeps ``$LDMNIST_MNIST_DIR`` (tests on the full MNIST); otherwise it is cleared too.
    """
    drop = REDIRECTS if keep_mnist else (*REDIRECTS, "LDMNIST_MNIST_DIR")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, "LDMNIST_HOME": str(home), "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def run_python(code: str, home: Path, *, timeout: float = 240, prefix: list[str] | None = None,
               keep_mnist: bool = False, **extra: str) -> subprocess.CompletedProcess[str]:
    """``python -c code`` in a fresh interpreter (``prefix``: e.g. ``setpriv`` to run as another user)."""
    return subprocess.run([*(prefix or []), sys.executable, "-c", code],
                          env=child_env(home, keep_mnist=keep_mnist, **extra), capture_output=True, text=True,
                          timeout=timeout)


def run_cli(args: list[str], home: Path, *, timeout: float = 240, keep_mnist: bool = False,
            **extra: str) -> subprocess.CompletedProcess[str]:
    """``ldmnist ARGS`` in a fresh interpreter; its exit code is the process's."""
    return run_python(f"import sys\nfrom ldmnist_hub.cli import main\nsys.exit(main({args!r}))", home,
                      timeout=timeout, keep_mnist=keep_mnist, **extra)
