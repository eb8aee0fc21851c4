"""Features written in the form every ``datasets`` release reads.

``datasets`` 4 renamed the fixed-length list feature from ``Sequence`` to
``List``; older releases fail on ``List`` in a parquet file's schema metadata
(``Feature type 'List' not found``) and read the card's YAML ``list:`` as a
variable-length list. ``datasets`` 5 still reads the older spellings as
``List(..., length=N)``, so published files use them: one form for all.
"""

from __future__ import annotations

import json
from typing import Any

# The oldest release the published files are tested with (tests/publish/test_old_datasets.py).
OLDEST_DATASETS = "3.6.0"


def legacy_feature_dict(node: Any) -> Any:
    """A ``Features.to_dict()`` tree with every ``{"_type": "List"}`` written as ``{"_type": "Sequence"}``."""
    if isinstance(node, dict):
        out = {k: legacy_feature_dict(v) for k, v in node.items()}
        if out.get("_type") == "List":
            out["_type"] = "Sequence"
        return out
    if isinstance(node, list):
        return [legacy_feature_dict(v) for v in node]
    return node


def legacy_yaml_features(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A card's YAML feature list with ``list:`` entries written as ``sequence:``, in place (readers take the
    first key after ``name`` as the feature's type, so the order is kept)."""
    return [{("sequence" if key == "list" else key): value for key, value in item.items()} for item in items]


def parquet_metadata(features: Any) -> dict[bytes, bytes]:
    """The ``huggingface`` schema metadata of a parquet shard, in the legacy form."""
    return {b"huggingface": json.dumps({"info": {"features": legacy_feature_dict(features.to_dict())}}).encode()}
