"""Old spellings keep working for one release, each with one FutureWarning and the same result."""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ldmnist_hub as ld
from ldmnist_hub import _deprecated, errors
from ldmnist_hub.data.sources import SOURCES


@pytest.mark.parametrize(("old", "new"), sorted(_deprecated.MOVED.items()))
def test_an_old_module_path_is_the_moved_module_with_a_warning(old: str, new: str) -> None:
    if new.startswith("adapters."):
        pytest.importorskip("torch" if "torch" in new else "tensorflow")
    if new in ("benchmark.keras_mlp",):
        pytest.importorskip("tensorflow")
    code = (f"import warnings, importlib\nwarnings.simplefilter('error')\n"
            f"new = importlib.import_module('ldmnist_hub.{new}')\n"
            f"warnings.simplefilter('always')\nwith warnings.catch_warnings(record=True) as w:\n"
            f"    old = importlib.import_module('ldmnist_hub.{old}')\n"
            f"assert old is new, (old, new)\n"
            f"assert [x.category.__name__ for x in w] == ['FutureWarning'], [str(x.message) for x in w]\n"
            f"assert 'ldmnist_hub.{new}' in str(w[0].message)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_old_error_import_paths_still_resolve() -> None:
    with pytest.warns(FutureWarning, match="ldmnist_hub.hub.pull"):
        from ldmnist_hub.pull import IntegrityError
    assert IntegrityError is errors.IntegrityError
    with pytest.warns(FutureWarning, match="ldmnist_hub.data.sources"):
        assert importlib.import_module("ldmnist_hub.sources").SourceError is errors.SourceError
    with pytest.warns(FutureWarning, match="ldmnist_hub.viz.plots"):
        assert ld.plots.make_plots is importlib.import_module("ldmnist_hub.viz.plots").make_plots


def test_every_package_error_is_an_ldmnist_error_and_its_builtin() -> None:
    for name in dir(errors):
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Warning):
            assert issubclass(obj, errors.LdmnistWarning), name  # our warnings have their own root
        elif isinstance(obj, type) and issubclass(obj, Exception) and obj is not errors.LdmnistError:
            assert issubclass(obj, errors.LdmnistError), name
    assert issubclass(errors.NotFoundError, FileNotFoundError)
    assert issubclass(errors.InvalidArgumentError, ValueError)
    assert issubclass(errors.MissingDependencyError, ImportError)
    assert issubclass(errors.IntegrityError, RuntimeError)
    assert errors.exit_code(errors.InvalidArgumentError("x")) == 2 and errors.exit_code(errors.SourceError("x")) == 1


def _rows(loader: Any) -> np.ndarray:
    return np.concatenate([b[0].numpy() for b in loader])


def test_torch_loader_in_the_old_spelling_gives_one_warning_and_the_same_batches(
    tiny_home: Path, tiny_kwargs: dict[str, Any]
) -> None:
    kw = {**tiny_kwargs, "build": False}
    new = _rows(ld.torch_loader(split="train", batch_size=64, shuffle_seed=7, seed=0, **kw))
    with pytest.warns(FutureWarning, match="pre-0.2 spelling") as record:
        old = _rows(ld.torch_loader(split="train", batch_size=64, seed=7, variant_seed=0, **kw))
    assert len(record) == 1
    np.testing.assert_array_equal(old, new)


def test_a_renamed_keyword_alone_gives_one_warning_and_the_same_result(
    tiny_home: Path, tiny_kwargs: dict[str, Any]
) -> None:
    from ldmnist_hub.data.sources import load_split
    from ldmnist_hub.scoring.codecs import image_posterior

    images = load_split("mnist", "test", tiny_kwargs["data_dir"])[0][:5]
    kw = {k: v for k, v in tiny_kwargs.items() if k != "progress"}
    latent = kw.pop("latent")
    new = image_posterior(images, latent, seed=0, build=False, **kw)
    with pytest.warns(FutureWarning, match=r"image_posterior\(variant_seed=...\) is deprecated; use seed=") as rec:
        old = image_posterior(images, latent, variant_seed=0, build=False, **kw)
    assert len(rec) == 1
    np.testing.assert_array_equal(old[0], new[0])
    with pytest.raises(TypeError, match="both variant_seed= .* and seed="):
        image_posterior(images, latent, variant_seed=0, seed=0, build=False, **kw)


def test_a_lone_seed_where_it_used_to_be_random_warns_that_it_now_selects_the_variant(
    tiny_home: Path, tiny_kwargs: dict[str, Any]
) -> None:
    with pytest.warns(FutureWarning, match="selects the variant's seed since 0.2.*shuffle_seed"):
        ld.torch_loader(split="test", seed=0, build=False, **tiny_kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ld.torch_loader(split="test", seed=0, shuffle_seed=3, build=False, **tiny_kwargs)


KNOWN = ", ".join(sorted(SOURCES))


def _entry_points(tmp_path: Path) -> dict[str, Any]:
    from ldmnist_hub.viz.explorer import write_explorer
    from ldmnist_hub.viz.plots import make_plots
    from ldmnist_hub.viz.synthesis import synthesize

    kw = {"source": "nope", "latent": 4}
    return {
        "load_dataset": lambda: ld.load_dataset("ldmnist", **kw),
        "load_numpy": lambda: ld.load_numpy(**kw),
        "evaluate": lambda: ld.evaluate(np.zeros((10, 4)), **kw),
        "evaluate_model": lambda: ld.evaluate_model(lambda x: x, **kw),
        "decode_images": lambda: ld.decode_images(np.zeros((1, 4)), **kw),
        "decode_labels": lambda: ld.decode_labels(np.zeros((1, 4)), **kw),
        "encode_images": lambda: ld.encode_images(np.zeros((1, 28, 28), np.uint8), **kw),
        "torch_dataset": lambda: ld.torch_dataset(**kw),
        "torch_loader": lambda: ld.torch_loader(**kw),
        "tf_dataset": lambda: ld.tf_dataset(**kw),
        "benchmark": lambda: ld.benchmark(models=["mean"], label_efficiency_sizes=None, **kw),
        "synthesize": lambda: synthesize(**kw),
        "make_plots": lambda: make_plots(out_dir=tmp_path / "p", **kw),
        "write_explorer": lambda: write_explorer(out=tmp_path / "e.html", **kw),
        "push": lambda: ld.push(repo=str(tmp_path / "mirror"), **kw),
    }


@pytest.mark.parametrize("entry", sorted(_entry_points(Path("/nonexistent"))))
def test_an_unknown_source_gets_one_clear_error_from_every_entry_point(
    entry: str, ldmnist_home: Path, tmp_path: Path
) -> None:
    if entry.startswith("torch"):
        pytest.importorskip("torch")
    if entry == "tf_dataset":
        pytest.importorskip("tensorflow")
    with pytest.raises(errors.InvalidArgumentError, match=f"unknown source 'nope'; known sources: {KNOWN}"):
        _entry_points(tmp_path)[entry]()
    assert not ldmnist_home.exists() or not any((ldmnist_home / "variants").glob("*"))


def test_the_cli_rejects_an_unknown_source_with_exit_code_2(ldmnist_home: Path, capsys: pytest.CaptureFixture) -> None:
    from ldmnist_hub.cli import main

    for cmd in (["build"], ["info"], ["benchmark", "--models", "mean"], ["explore"], ["plots"]):
        assert main([*cmd, "--latent", "4", "--source", "nope"]) == 2
        assert f"unknown source 'nope'; known sources: {KNOWN}" in capsys.readouterr().err
