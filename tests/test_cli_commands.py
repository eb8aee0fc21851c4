"""``ldmnist evaluate``, ``pull``, ``clean``, the line before training, and CLI words for CLI users."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support import TINY_DIR
from _support.reference_home import encode_reference, needs_full_mnist, use_home

import ldmnist_hub as ld
from ldmnist_hub.cli import main
from ldmnist_hub.core import paths
from ldmnist_hub.errors import TrainingWarning
from ldmnist_hub.publish.upload import push

TINY = ["--latent", "4", "--set", "epochs=2", "--set", "batch_size=100", "--mnist-dir", str(TINY_DIR)]
_SCORES = re.compile(r"MSE (\S+), reconstructed accuracy (\S+) \(n (\d+)\)")


# ----------------------------------------------------------------------------------------------- evaluate


@pytest.fixture(scope="module")
def reference_8(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home holding the reference latent-8 (full MNIST, encoded in seconds)."""
    if not os.environ.get("LDMNIST_MNIST_DIR"):
        pytest.skip("set LDMNIST_MNIST_DIR to the full MNIST folder to run this")
    return encode_reference(tmp_path_factory, 8)


def _least_squares(latent: int) -> np.ndarray:
    x, y, _ = ld.load_numpy(latent=latent, split="train", progress=False)
    xt, _, _ = ld.load_numpy(latent=latent, split="test", progress=False)
    w = np.linalg.lstsq(np.c_[x, np.ones(len(x))], y, rcond=None)[0]
    return (np.c_[xt, np.ones(len(xt))] @ w).astype(np.float32)


def _write(pred: np.ndarray, fmt: str, folder: Path, latent: int) -> Path:
    """``pred`` saved the ways users save predictions; tables shuffled and keyed by mnist_index."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / f"p-{fmt}.{fmt.split('-')[0]}"
    if fmt == "npy":
        np.save(path, pred)
    elif fmt == "csv":
        # No header: an (n, N) array. Text is read back as float64: 17 digits give exactly the float32 values.
        np.savetxt(path, pred, delimiter=",", fmt="%.17g")
    else:
        index = np.asarray(ld.load_dataset("ldmnist", latent=latent, split="test", progress=False)["mnist_index"])
        order = np.random.default_rng(0).permutation(len(pred))
        if fmt == "parquet":
            values = pa.FixedSizeListArray.from_arrays(pa.array(pred[order].ravel()), latent)
            pq.write_table(pa.table({"mnist_index": index[order], "y_pred": values}), path)
        else:  # csv-header: one column per component
            import pyarrow.csv as pcsv

            # float64 columns: Arrow writes them with round-trip digits, read back exactly as the float32 values.
            cols = {"mnist_index": index[order], **{f"y{i}": pred[order, i].astype(np.float64) for i in range(latent)}}
            pcsv.write_csv(pa.table(cols), path)
    return path


@pytest.mark.parametrize("fmt", ["npy", "parquet", "csv", "csv-header"])
def test_evaluate_prints_the_same_mse_and_accuracy_as_ld_evaluate(
    reference_8: Path, fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_home(monkeypatch, reference_8)
    pred = _least_squares(8)
    want = ld.evaluate(pred, latent=8, progress=False)
    assert main(["evaluate", "--predictions", str(_write(pred, fmt, tmp_path, 8)), "--latent", "8"]) == 0
    mse, acc, n = _SCORES.search(capsys.readouterr().out).groups()
    assert (float(mse), float(acc), int(n)) == (want.mse, want.reconstructed_accuracy, want.n)  # exactly
    assert main(["evaluate", "--predictions", str(tmp_path / f"p-{fmt}.{fmt.split('-')[0]}"), "--latent", "8",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == want.as_dict()


def test_evaluate_of_a_file_it_cannot_read_is_a_usage_error_naming_the_formats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p.txt").write_text("1,2\n")
    assert main(["evaluate", "--predictions", str(tmp_path / "p.txt")]) == 2
    assert "must end in .npy, .parquet, .csv" in capsys.readouterr().err
    (tmp_path / "p.npy").write_bytes(b"not numpy")
    assert main(["evaluate", "--predictions", str(tmp_path / "p.npy")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["evaluate", "--predictions", str(tmp_path / "missing.npy")]) == 2


def test_evaluate_a_variant_by_name_scores_the_tiny_build(tiny_home: Path, tiny_build: tuple[Path, Any],
                                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, ds = tiny_build
    y = np.asarray(ds["test"]["y"], np.float32)
    np.save(tmp_path / "y.npy", y)
    assert main(["evaluate", "--predictions", str(tmp_path / "y.npy"), *TINY]) == 0
    mse, acc, n = _SCORES.search(capsys.readouterr().out).groups()
    assert float(mse) == 0.0 and int(n) == 100


def test_evaluate_reads_the_csv_pandas_writes_with_column_numbers_as_its_header(
    tiny_home: Path, tiny_build: tuple[Path, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pd = pytest.importorskip("pandas")
    _, ds = tiny_build
    y = np.asarray(ds["test"]["y"], np.float64)
    pd.DataFrame(y).to_csv(tmp_path / "y.csv", index=False)  # header "0,1,2,3": names, not a row of predictions
    assert (tmp_path / "y.csv").read_text().startswith("0,1,2,3\n")
    assert main(["evaluate", "--predictions", str(tmp_path / "y.csv"), *TINY]) == 0
    mse, _, n = _SCORES.search(capsys.readouterr().out).groups()
    assert float(mse) == 0.0 and int(n) == 100
    np.savetxt(tmp_path / "rows.csv", np.tile(np.arange(4.0), (100, 1)), delimiter=",")  # no header: all rows
    assert main(["evaluate", "--predictions", str(tmp_path / "rows.csv"), *TINY]) == 0
    assert "(n 100)" in capsys.readouterr().out


def test_evaluate_json_of_one_row_is_strict_json_with_null_for_its_nan_error_bar(
    tiny_home: Path, tiny_build: tuple[Path, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, ds = tiny_build
    np.save(tmp_path / "one.npy", np.asarray(ds["test"]["y"][:1], np.float32))
    assert main(["evaluate", "--predictions", str(tmp_path / "one.npy"), "--split", "test[:1]", "--json", *TINY]) == 0
    doc = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert doc["n"] == 1 and doc["mse"] == 0.0 and doc["mse_se"] is None


# ----------------------------------------------------------------------------------------------- pull


def test_pull_installs_a_variant_from_a_folder_once_and_it_then_loads_offline(
    tiny_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mirror = tmp_path / "mirror"
    push(4, str(mirror), train={"epochs": 2, "batch_size": 100}, data_dir=TINY_DIR, build=False,
         allow_unofficial_source=True, progress=False)
    home = tmp_path / "fresh-home"
    monkeypatch.setenv("LDMNIST_HOME", str(home))
    assert main(["pull", *TINY, "--repo", str(mirror)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pulled latent-4-trained-51d7e6e5-data-87c1edf0 from ") and "every file checked" in out
    assert main(["pull", *TINY, "--repo", str(mirror)]) == 0
    assert "already installed" in capsys.readouterr().out
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ds = ld.load_dataset("ldmnist", latent=4, train={"epochs": 2, "batch_size": 100}, data_dir=TINY_DIR, build=False,
                         progress=False)
    assert ds["test"].num_rows == 100


def test_pull_of_a_variant_the_repo_lacks_or_a_missing_folder_says_so(
    tiny_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mirror = tmp_path / "mirror"
    push(4, str(mirror), train={"epochs": 2, "batch_size": 100}, data_dir=TINY_DIR, build=False,
         allow_unofficial_source=True, progress=False)
    assert main(["pull", "--latent", "5", "--set", "epochs=2", "--repo", str(mirror)]) == 2
    assert "does not publish latent-5-trained-" in capsys.readouterr().err
    assert main(["pull", "--latent", "4", "--repo", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["pull", "--latent", "4", "--repo", "mirror2"]) == 2
    assert "neither an existing folder nor a Hub repo id" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------- clean


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def tiny_copy(tiny_build: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the tiny build's home, as LDMNIST_HOME."""
    home = tmp_path / "home"
    shutil.copytree(tiny_build[0], home)
    monkeypatch.setenv("LDMNIST_HOME", str(home))
    for var in ("LDMNIST_MNIST_DIR", "LDMNIST_REPO", "HF_HUB_OFFLINE", "LDMNIST_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    return home


def test_clean_is_a_dry_run_that_shows_sizes_and_keeps_trained_weights(
    tiny_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _tree(tiny_copy)
    assert main(["clean"]) == 0
    captured = capsys.readouterr()
    assert _tree(tiny_copy) == before  # nothing deleted without --yes
    rows = {line.split()[0]: line.split() for line in captured.out.splitlines()[2:]}
    name = "latent-4-trained-51d7e6e5-data-87c1edf0"
    assert rows[f"variants/{name}"][2:4] == ["trained", "no"]  # minutes to retrain, and other bytes: never by default
    assert rows[f"datasets/ldmnist/{name}"][2:5] == ["arrow", "cache", "no"]  # rewritten only by a build
    assert "dry run: would free" in captured.err and "add --yes" in captured.err
    assert re.search(r"^\S+: \d+\.\d MB in \d+ entries$", captured.out.splitlines()[0])


def test_clean_yes_removes_leftovers_keeps_trained_variants_and_never_touches_the_shipped_weights(
    tiny_copy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "latent-4-trained-51d7e6e5-data-87c1edf0"
    leftover = tiny_copy / "variants" / f".{name}.k1ll3d.pull"  # what a killed pull leaves
    (leftover / "weights").mkdir(parents=True)
    (leftover / "weights" / "x.safetensors").write_bytes(b"\0" * 1000)
    shipped = _tree(paths.REFERENCE_ROOT)
    expected = ld.load_numpy(4, "test", train={"epochs": 2, "batch_size": 100}, data_dir=TINY_DIR, build=False,
                             progress=False)
    assert main(["clean", "--yes"]) == 0
    assert "freed" in capsys.readouterr().err
    assert not leftover.exists()
    assert (tiny_copy / "variants" / name / "weights").is_dir()

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a clean must never make a variant train again")

    monkeypatch.setattr("ldmnist_hub.recipe.train.train", no_training)
    got = ld.load_numpy(4, "test", train={"epochs": 2, "batch_size": 100}, data_dir=TINY_DIR, build=False,
                        progress=False)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    assert _tree(paths.REFERENCE_ROOT) == shipped  # the package's reference weights are never touched


def test_clean_name_removes_one_variant_and_an_unknown_name_is_refused(
    tiny_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "latent-4-trained-51d7e6e5-data-87c1edf0"
    assert main(["clean", "--name", "latent-9-nope"]) == 2
    assert "no variant named 'latent-9-nope'" in capsys.readouterr().err
    assert main(["clean", "--name", name, "--yes", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["path"] for r in rows if r["removed"]} >= {f"variants/{name}", f"datasets/ldmnist/{name}"}
    assert not (tiny_copy / "variants" / name).exists()
    assert (tiny_copy / "locks").is_dir()  # locks are never removed


@needs_full_mnist
def test_clean_removes_a_reference_variant_by_default_and_it_comes_back_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_home(monkeypatch, tmp_path / "home")
    before = ld.load_numpy(latent=8, split="test", progress=False)
    assert main(["clean", "--yes"]) == 0
    assert not (tmp_path / "home" / "variants" / "latent-8").exists()
    for a, b in zip(ld.load_numpy(latent=8, split="test", progress=False), before, strict=True):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------------------------- training


def test_the_line_before_training_says_why_how_long_the_name_and_how_to_refuse_in_cli_words(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDMNIST_")}
    env.update(LDMNIST_HOME=str(tmp_path / "home"), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "ldmnist_hub.cli", "build", "--latent", "3", "--set", "epochs=1",
                           "--set", "batch_size=100", "--mnist-dir", str(TINY_DIR), "--quiet"],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    [line] = [s for s in proc.stderr.splitlines() if s.strip()]  # one line, our words only
    assert line.startswith("ldmnist: warning: the recipe differs from the canonical one (--set batch_size=100 "
                           "--set epochs=1), so it is trained here: 1 epoch, about ")
    assert re.search(r"on this machine \(\d+\.\d\d s an epoch, timed now\); it will be named "
                     r"'latent-3-trained-[0-9a-f]{8}-data-87c1edf0'", line)
    assert line.endswith("stop it now (Ctrl-C) and add --no-train")
    assert "UserWarning" not in proc.stderr and "builder.py" not in proc.stderr


def test_the_training_warning_in_python_points_at_the_callers_line_and_says_build_false(ldmnist_home: Path) -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ld.load_dataset("ldmnist", latent=3, train={"epochs": 1, "batch_size": 100}, data_dir=TINY_DIR,
                        progress=False)
    [w] = [w for w in seen if issubclass(w.category, TrainingWarning)]
    assert w.filename == __file__  # the user's line, not datasets/builder.py
    assert "train={'batch_size': 100, 'epochs': 1}" in str(w.message)
    assert str(w.message).endswith("stop it now and pass build=False")


def test_a_size_without_reference_weights_says_so_before_training(
    ldmnist_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ldmnist_hub.core.config import VariantConfig
    from ldmnist_hub.produce.build import training_notice

    notice = training_notice(VariantConfig(latent=12), "latent-12-trained-1f5b3204", 1290.0, 1.84)
    assert str(notice).startswith("latent 12 has no reference weights (shipped: 2, 4, 8, 16, 32, 64), so it is "
                                  "trained here: 700 epochs, about 22 min on this machine (1.84 s an epoch")
    assert "'latent-12-trained-1f5b3204'" in notice.cli_message and notice.cli_message.endswith("add --no-train")
    retrain = training_notice(VariantConfig(latent=32, retrain=True), "latent-32-trained-x", 5400.0, 7.7)
    assert "about 1 h 30 min" in str(retrain) and "retrain=True" in str(retrain)
    assert "--retrain asks for new weights" in retrain.cli_message


def test_build_no_train_refuses_to_train_and_says_how_in_flags(
    ldmnist_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("--no-train must never train")

    monkeypatch.setattr("ldmnist_hub.recipe.train.train", no_training)
    assert main(["build", "--latent", "3", "--mnist-dir", str(TINY_DIR), "--no-train"]) == 2
    err = capsys.readouterr().err
    assert "is not built yet; building it means training it here: run `ldmnist build --latent 3" in err
    assert "build=True" not in err and "load_dataset" not in err


def test_help_says_what_the_default_does_and_info_offers_no_retrain(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "train the VAEs" not in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["build", "--help"])
    text = capsys.readouterr().out
    assert "--no-train" in text and "no training" in text
    with pytest.raises(SystemExit):
        main(["info", "--help"])
    assert "--retrain" not in capsys.readouterr().out


def test_info_of_an_unbuilt_variant_exits_1_and_suggests_flags(
    ldmnist_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", "--latent", "12"]) == 1
    err = capsys.readouterr().err
    assert "ldmnist build --latent 12" in err and "latent=" not in err


def test_ctrl_c_ends_the_command_with_130_and_no_traceback(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("ldmnist_hub.store.inventory.inventory", interrupted)
    assert main(["list"]) == 130
    assert capsys.readouterr().err.startswith("ldmnist: interrupted")
