"""The local store: each variant's files (weights, stats, checksums), their identity (code hash, cache id) and stats.

``from ldmnist_hub import store`` gives the variant-files API of
:mod:`ldmnist_hub.store.files`, the names every caller uses.
"""

from ldmnist_hub.store.files import (
    ARROW_RECORD,
    CHECKSUMS_FILE,
    ORIGIN_FILE,
    PARTS,
    STATS_FILE,
    VariantFiles,
    check_arrow,
    clean_leftovers,
    record_arrow,
    save_weights,
    variant_files,
    variant_lock,
    write_checksums,
    write_stats,
    write_variant,
)

__all__ = [
    "ARROW_RECORD", "CHECKSUMS_FILE", "ORIGIN_FILE", "PARTS", "STATS_FILE", "VariantFiles", "check_arrow",
    "clean_leftovers", "record_arrow", "save_weights", "variant_files", "variant_lock", "write_checksums",
    "write_stats", "write_variant",
]
