"""The local store: each variant's files (weights, stats), their identity (code hash, cache id) and stats.

``from ldmnist_hub import store`` gives the variant-files API of
:mod:`ldmnist_hub.store.files`, the names every caller uses.
"""

from ldmnist_hub.store.files import PARTS, STATS_FILE, VariantFiles, save_weights, variant_files, write_variant

__all__ = ["PARTS", "STATS_FILE", "VariantFiles", "save_weights", "variant_files", "write_variant"]
