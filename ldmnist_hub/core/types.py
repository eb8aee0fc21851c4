"""Type aliases shared by the public entry points."""

from __future__ import annotations

import os
from typing import Any

from ldmnist_hub.core.config import TrainConfig

PathArg = str | os.PathLike[str] | None
"""A folder argument: a path, or None for the default (an environment variable or the cache)."""

Train = TrainConfig | dict[str, Any] | None
"""A training recipe: a :class:`TrainConfig`, a dict of its fields, or None for the canonical one."""
