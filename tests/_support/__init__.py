"""Helpers the tests share: the Hub-protocol test server and small accessors of the tiny fixture's variants."""

from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = TESTS_DIR.parent
TINY_DIR = TESTS_DIR / "fixtures" / "mnist-tiny"
"""The tiny real MNIST subset every fast test builds on (see its README)."""
