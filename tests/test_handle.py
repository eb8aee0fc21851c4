"""Specification of the per-variant handle, ``ldmnist_hub.variant(...)``: resolved once, the same results as the
module functions, on the tiny variant (latent 4)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ldmnist_hub as ld
from ldmnist_hub.errors import InvalidArgumentTypeError
from ldmnist_hub.loading import variant as variant_module


@pytest.fixture
def select(tiny_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keywords that select the (already built) tiny variant."""
    return {"train": tiny_kwargs["train"], "data_dir": tiny_kwargs["data_dir"], "build": False, "progress": False}


@pytest.fixture
def handle(tiny_home: Path, tiny_kwargs: dict[str, Any], select: dict[str, Any]) -> ld.LDMNISTVariant:
    return ld.variant(tiny_kwargs["latent"], **select)


def test_the_handle_names_its_variant_files_and_stats(handle: ld.LDMNISTVariant, tiny_kwargs: dict[str, Any]) -> None:
    assert handle.latent == tiny_kwargs["latent"] and handle.resolved.seed == 0 and handle.resolved.source == "mnist"
    assert handle.name.startswith(f"latent-{tiny_kwargs['latent']}-trained-")
    assert handle.version is None  # a trained variant has no dataset versions
    assert handle.files.is_complete() and handle.stats == handle.files.stats()
    assert handle.stats["variant"]["latent"] == tiny_kwargs["latent"]


def test_a_reference_handle_carries_its_dataset_version(ldmnist_home: Path) -> None:
    v = ld.variant(8)
    assert (v.name, v.version) == ("latent-8", ld.VariantConfig(latent=8).dataset_version)


def test_numpy_evaluate_and_decode_labels_equal_the_module_functions(
    handle: ld.LDMNISTVariant, tiny_kwargs: dict[str, Any], select: dict[str, Any]
) -> None:
    latent = tiny_kwargs["latent"]
    for split in ("train", "test[:10]"):
        for mine, theirs in zip(handle.numpy(split), ld.load_numpy(latent, split, **select), strict=True):
            np.testing.assert_array_equal(mine, theirs)
    _, y, _ = handle.numpy("test")
    pred = y + 0.1
    assert handle.evaluate(pred) == ld.evaluate(pred, latent, **select)
    assert handle.evaluate(pred[:10], split="test[:10]") == ld.evaluate(pred[:10], latent, "test[:10]", **select)
    np.testing.assert_array_equal(handle.decode_labels(y), ld.decode_labels(y, latent, **select))


def test_torch_loader_batches_equal_the_module_functions_for_one_shuffle_seed(
    handle: ld.LDMNISTVariant, tiny_kwargs: dict[str, Any], select: dict[str, Any]
) -> None:
    pytest.importorskip("torch")
    mine = list(handle.torch_loader("train", batch_size=64, shuffle_seed=7))
    theirs = list(ld.torch_loader(tiny_kwargs["latent"], "train", 64, shuffle_seed=7, **select))
    assert len(mine) == len(theirs) == 5
    for a, b in zip(mine, theirs, strict=True):
        for ta, tb in zip(a, b, strict=True):
            assert ta.equal(tb)


def test_the_handle_resolves_once_however_many_methods_are_called(
    tiny_home: Path, tiny_kwargs: dict[str, Any], select: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ldmnist_hub import handle as handle_module

    calls: list[int] = []
    real = variant_module.resolve

    def counting(latent: int, **kwargs: Any) -> Any:
        calls.append(latent)
        return real(latent, **kwargs)

    monkeypatch.setattr(variant_module, "resolve", counting)
    monkeypatch.setattr(handle_module, "resolve", counting)
    v = ld.variant(tiny_kwargs["latent"], **select)
    _, y, _ = v.numpy("test")
    v.evaluate(y)
    v.decode_labels(y)
    v.decode_images(y)
    assert calls == [tiny_kwargs["latent"]]


def test_methods_have_the_module_signature_without_the_selection_keywords(handle: ld.LDMNISTVariant) -> None:
    assert list(inspect.signature(handle.numpy).parameters) == ["split"]
    assert list(inspect.signature(handle.evaluate).parameters) == ["predicted_y", "split", "rows"]
    assert list(inspect.signature(handle.evaluate_draws).parameters) == ["predictions", "split", "seeds", "rows"]
    assert list(inspect.signature(handle.encode_images).parameters) == ["images", "sample", "sample_seed"]
    # Each method names its module function, whose docstring holds the details.
    assert "ldmnist_hub.decode_images" in handle.decode_images.__doc__


def test_the_handle_is_the_resolved_variant_and_its_methods_are_plain_functions(handle: ld.LDMNISTVariant) -> None:
    assert isinstance(handle, variant_module.Variant) and handle.resolved is handle
    for name in ("numpy", "dataset", "torch_loader", "evaluate", "decode_images"):
        assert inspect.isfunction(getattr(type(handle), name)), name


def test_module_functions_keep_their_selection_keywords() -> None:
    for func in (ld.load_numpy, ld.evaluate, ld.decode_images, ld.encode_images, ld.torch_loader, ld.tf_dataset):
        params = inspect.signature(func).parameters
        assert "latent" in params and set(variant_module.SELECTION_KEYWORDS) <= set(params), func.__name__


def test_a_resolved_variant_with_selection_keywords_beside_it_is_refused(
    handle: ld.LDMNISTVariant, tiny_kwargs: dict[str, Any]
) -> None:
    with pytest.raises(InvalidArgumentTypeError, match=r"resolved variant .* and seed=; pass either"):
        ld.load_numpy(handle.resolved, "test", seed=1)

