"""The one split grammar of LD-MNIST: ``datasets``' own, read here without importing it on common paths.

A split spec is a split name, optionally sliced, joined by ``+``: ``"train"``,
``"test[:100]"``, ``"train[-500:]"``, ``"validation[10%:]"``,
``"test[:33%](pct1_dropremainder)"``. Integer slices mean what Python's
slices mean (bounds clamped), as in ``datasets``, and are resolved here: a warm
``load_numpy`` never pays ``import datasets`` (about 0.9 s). Every other form
(percent slices, rounding modes) is resolved by ``datasets.ReadInstruction``,
the public parser ``datasets`` itself reads with, so a spec selects the same
rows from every loader.
"""

from __future__ import annotations

import re
from typing import Any

from ldmnist_hub.core.config import VariantConfig
from ldmnist_hub.core.schema import SPLITS
from ldmnist_hub.errors import InvalidArgumentError

Rows = list[tuple[str, int, int]]
"""Absolute row ranges ``[(split, start, stop), ...]``, in the order the spec joins them."""

_INTEGER_PART = re.compile(rf"^\s*({'|'.join(SPLITS)})(?:\[(-?\d+)?:(-?\d+)?\])?\s*$")
# A part names one of our splits, then a slice, a rounding mode or nothing ("train.x" is no split of ours).
_NAME = re.compile(rf"^\s*({'|'.join(SPLITS)})\s*(?=[\[(]|$)")
_ALLOWED = ("allowed: 'train', 'validation', 'test', a slice such as 'train[:1000]', 'test[10%:]' or "
            "'train[-100:]', or several joined by '+'")


def _integer_parts(spec: str) -> list[tuple[str, slice]] | None:
    """``[(split, slice), ...]`` of a spec made of integer slices only; None for any other form."""
    parts = []
    for part in spec.split("+"):
        match = _INTEGER_PART.match(part)
        if match is None:
            return None
        name, start, stop = match.groups()
        parts.append((name, slice(None if start is None else int(start), None if stop is None else int(stop))))
    return parts


def _instruction(spec: str) -> Any:
    """``datasets.ReadInstruction`` of a spec this module does not resolve itself."""
    from datasets import ReadInstruction

    try:
        return ReadInstruction.from_spec(spec)
    except (ValueError, AssertionError) as err:
        raise InvalidArgumentError(f"unknown split {spec!r} for ldmnist; {_ALLOWED}") from err


def normal(spec: str) -> str:
    """The spec as ``datasets`` names a split: its parts stripped of spaces (``" test + train"`` -> ``"test+train"``).

    Examples:
        >>> normal(" test[:10] + train ")
        'test[:10]+train'
    """
    return "+".join(part.strip() for part in spec.split("+"))


def names(spec: str) -> list[str]:
    """The split names a spec reads, in order (a name joined twice is listed twice).

    Examples:
        >>> names("test[:10]+train[-5:]")
        ['test', 'train']
    """
    return [_NAME.match(part).group(1) for part in spec.split("+")]  # type: ignore[union-attr]


def check(split: Any, variant: VariantConfig | None = None) -> None:
    """Validate ``split`` before anything is read: a spec (or a list of them) of our splits, or ``None``.

    With ``variant``, every split named must be one the variant has (``validation``: 3.0.0 on).

    Raises:
        InvalidArgumentError: an unknown split, a slice ``datasets`` cannot parse (``"train[:abc]"``), or a
            split this variant lacks (the message names the version that has it).

    Examples:
        >>> check("train[:10]+test")
        >>> check("train[:abc]")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ldmnist_hub.errors.InvalidArgumentError: unknown split 'train[:abc]' for ldmnist; allowed: ...
    """
    if split is None:
        return
    for spec in split if isinstance(split, (list, tuple)) else [split]:
        if not isinstance(spec, str) or not all(_NAME.match(p) for p in spec.split("+")):
            raise InvalidArgumentError(f"unknown split {spec!r} for ldmnist; {_ALLOWED}")
        if _integer_parts(spec) is None:
            _instruction(spec)
        if variant is not None:
            for name in names(spec):
                variant.require_split(name)


def rows(spec: str, lengths: dict[str, int]) -> Rows:
    """The absolute row ranges a (checked) spec selects from splits of the given lengths (``stop < start``: none).

    Raises:
        InvalidArgumentError: the spec selects no rows at all.

    Examples:
        >>> rows("test[:10]+train[-5:]", {"train": 100, "test": 50})
        [('test', 0, 10), ('train', 95, 100)]
        >>> rows("train[10%:20%]", {"train": 100})
        [('train', 10, 20)]
    """
    parts = _integer_parts(spec)
    if parts is not None:
        got = []
        for name, part in parts:
            start, stop, _ = part.indices(lengths[name])
            got.append((name, start, stop))
    else:
        try:
            got = [(a.splitname, a.from_, a.to) for a in _instruction(spec).to_absolute(lengths)]
        except ValueError as err:
            raise InvalidArgumentError(f"unknown split {spec!r} for ldmnist; {_ALLOWED}") from err
    # datasets' own rule, kept: an error only where every part is empty by its bounds ("test[5:5]"); a
    # reversed range ("train[100:50]") selects no rows without one.
    if all(stop == start for _, start, stop in got):
        raise InvalidArgumentError(f"split {spec!r} selects no rows; pick a non-empty slice such as 'test[:100]'")
    return got
