"""Accessors of the variants the tests build on the tiny fixture."""

from __future__ import annotations

from typing import Any

from ldmnist_hub.loading.variant import resolve
from ldmnist_hub.store.files import VariantFiles


def built_files(latent: int, variant: dict[str, Any]) -> VariantFiles:
    """The files (weights, stats) of the already built tiny variant described by ``variant``'s keywords."""
    return resolve(latent, train=variant["train"], data_dir=variant["data_dir"], build=False).files
