"""Named points where the fault-injection tests kill the process, as ``kill -9`` would at that moment.

``$LDMNIST_FAULT`` names one point (``build:weights-written``, ``push:files-moved``, ...);
when execution reaches it the process sends itself ``SIGKILL``: no cleanup
handler, ``finally`` block or atexit hook runs. Unset (always, outside the
tests), :func:`point` is a dictionary lookup.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "LDMNIST_FAULT"


def point(name: str) -> None:
    """Die here, by ``SIGKILL``, if ``$LDMNIST_FAULT`` names this point."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
