"""Loading a variant: ``load_dataset`` (the ``datasets`` builder behind it) and numpy arrays."""

from ldmnist_hub.loading.builder import get_builder
from ldmnist_hub.loading.load import load_dataset
from ldmnist_hub.loading.selection import resolve_variant

__all__ = ["get_builder", "load_dataset", "resolve_variant"]
