"""Specification of publishing to a local folder (the Hub layout without a server) and pulling back from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ldmnist_hub import cli
from ldmnist_hub.errors import CardTemplateError, IntegrityError
from ldmnist_hub.hub import layout as hub_layout
from ldmnist_hub.hub.card import check_card
from ldmnist_hub.loading.arrays import load_numpy
from ldmnist_hub.loading.load import load_dataset
from ldmnist_hub.publish.upload import push

NAME = "latent-4-trained-51d7e6e5"  # the tiny variant's name (2 epochs, batch 100)
CONFIG = f"{NAME}-data-87c1edf0"  # ... and its cache id: built from the fixture's raw files, not the official ones


@pytest.fixture
def variant(tiny_kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: tiny_kwargs[k] for k in ("train", "data_dir", "progress")}


@pytest.fixture
def mirror(tmp_path: Path, tiny_home: Path, variant: dict[str, Any]) -> Path:
    """A local repo holding the tiny variant."""
    folder = tmp_path / "mirror"
    push(4, str(folder), build=False, allow_unofficial_source=True, **variant)
    return folder


def _pull_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, repo: str) -> Path:
    """A fresh, empty LDMNIST_HOME whose load_dataset looks in ``repo`` (no raw MNIST anywhere)."""
    home = tmp_path / "fresh-home"
    monkeypatch.setenv("LDMNIST_HOME", str(home))
    monkeypatch.setenv("LDMNIST_REPO", repo)
    return home


def test_push_writes_the_hub_layout_with_a_manifest_of_true_checksums(mirror: Path) -> None:
    manifest = json.loads((mirror / hub_layout.MANIFEST).read_text())
    assert manifest["default"] == CONFIG and list(manifest["variants"]) == [CONFIG]
    files = manifest["variants"][CONFIG]["files"]
    assert sorted(files) == sorted([
        f"{CONFIG}/train-00000-of-00001.parquet", f"{CONFIG}/test-00000-of-00001.parquet",
        *(f"weights/{CONFIG}/{p}.safetensors" for p in
          ("image_encoder", "image_decoder", "class_encoder", "class_decoder", "middle_layers")),
        f"weights/{CONFIG}/stats.json",
    ])
    for path, entry in files.items():
        assert hub_layout.file_entry(mirror / path) == entry
    card = (mirror / hub_layout.CARD).read_text()
    check_card(card, [CONFIG])
    assert "license: cc-by-sa-3.0" in card and "length: 4" in card and "class_label" in card
    assert files[f"weights/{CONFIG}/stats.json"]["sha256"] in card  # checksums table
    assert "dimitree54/ld_mnist" in card and "LeCun" in card


def test_plain_datasets_loads_the_folder_as_pushed(mirror: Path, tiny_home: Path, variant: dict[str, Any]) -> None:
    import datasets

    ds = datasets.load_dataset(str(mirror), CONFIG)
    assert ds["train"].features["label"].names == [str(d) for d in range(10)]
    assert ds["test"].features["x"].length == 4
    for split in ("train", "test"):
        x, y, label = load_numpy(4, split, build=False, **variant)
        got = ds[split].with_format("numpy")
        np.testing.assert_array_equal(np.stack(got["x"]), x)
        np.testing.assert_array_equal(np.stack(got["y"]), y)
        np.testing.assert_array_equal(got["label"], label)


def test_repush_is_a_no_op_and_a_second_variant_leaves_the_first(
    mirror: Path, tiny_home: Path, variant: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {p: p.stat().st_mtime_ns for p in mirror.rglob("*") if p.is_file()}
    again = push(4, str(mirror), build=False, allow_unofficial_source=True, **variant)
    assert not again.changed
    assert {p: p.stat().st_mtime_ns for p in mirror.rglob("*") if p.is_file()} == before

    # A second variant (latent 3) is built in a writable copy of the home, then pushed beside the first.
    import shutil

    home = tmp_path / "home-copy"
    shutil.copytree(tiny_home, home)
    monkeypatch.setenv("LDMNIST_HOME", str(home))
    second = push(3, str(mirror), allow_unofficial_source=True, **variant)
    assert second.changed and second.config == "latent-3-trained-51d7e6e5-data-87c1edf0"
    manifest = json.loads((mirror / hub_layout.MANIFEST).read_text())
    assert sorted(manifest["variants"]) == ["latent-3-trained-51d7e6e5-data-87c1edf0", CONFIG]
    assert manifest["default"] == CONFIG  # the default does not move
    first_files = [p for p in before if CONFIG in str(p)]
    assert all(p.stat().st_mtime_ns == before[p] for p in first_files)
    check_card((mirror / hub_layout.CARD).read_text(), sorted(manifest["variants"]))


def test_load_dataset_pulls_a_published_variant_into_a_fresh_cache(
    mirror: Path, tiny_home: Path, variant: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = [load_numpy(4, s, build=False, **variant) for s in ("train", "test")]
    _pull_home(monkeypatch, tmp_path, str(mirror))
    # No data_dir and no raw MNIST: the only way to get this variant is the repo.
    ds = load_dataset("ldmnist", latent=4, train=variant["train"], data_dir=variant["data_dir"], build=False,
                      progress=False)
    assert ds["train"].num_rows == 300 and ds["test"].features["label"].names[3] == "3"
    for split, (x, y, label) in zip(("train", "test"), expected, strict=True):
        got = load_numpy(4, split, train=variant["train"], data_dir=variant["data_dir"], build=False, progress=False)
        for a, b in zip(got, (x, y, label), strict=True):
            np.testing.assert_array_equal(a, b)
    from ldmnist_hub import decode_labels, evaluate

    kw = {"train": variant["train"], "data_dir": variant["data_dir"], "build": False}
    assert evaluate(expected[1][1], 4, **kw).mse == 0.0
    assert decode_labels(expected[1][1][:5], 4, **kw).shape == (5, 10)


def test_a_tampered_weight_file_is_detected_and_never_installed(
    mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variant: dict[str, Any]
) -> None:
    weights = mirror / "weights" / CONFIG / "class_decoder.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    home = _pull_home(monkeypatch, tmp_path, str(mirror))
    with pytest.raises(IntegrityError, match="class_decoder.safetensors does not match the manifest"):
        load_dataset("ldmnist", latent=4, train=variant["train"], data_dir=variant["data_dir"], build=False,
                     progress=False)
    assert not (home / "variants" / CONFIG).exists()


def test_a_variant_the_repo_does_not_publish_falls_through_to_the_build(
    mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variant: dict[str, Any]
) -> None:
    _pull_home(monkeypatch, tmp_path, str(mirror))
    with pytest.raises(FileNotFoundError, match="does not publish it; run `ldmnist build --latent 4 --set epochs=3 "):
        load_dataset("ldmnist", latent=4, train={**variant["train"], "epochs": 3}, data_dir=variant["data_dir"],
                     build=False, progress=False)


def test_offline_skips_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variant: dict[str, Any]) -> None:
    _pull_home(monkeypatch, tmp_path, "my-org/ldmnist")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="offline: not looking in my-org/ldmnist"):
        load_dataset("ldmnist", latent=4, train=variant["train"], build=False, progress=False)


@pytest.mark.parametrize("repo", ["bad repo!!", "a/b/c", "-org/name", ""])
def test_a_malformed_repo_id_is_rejected_before_anything_happens(repo: str, tiny_home: Path,
                                                                 variant: dict[str, Any]) -> None:
    # owner/name that the Hub refuses, or neither a folder nor owner/name (both readings named)
    with pytest.raises(ValueError, match="not a valid Hub repo id|repo is empty|neither an existing folder nor a Hub"):
        push(4, repo, build=False, allow_unofficial_source=True, **variant)


def test_nothing_to_push_names_the_build_command(tiny_home: Path, tmp_path: Path, variant: dict[str, Any]) -> None:
    with pytest.raises(FileNotFoundError, match=r"nothing to push for latent 5: .*ldmnist build --latent 5"):
        push(5, str(tmp_path / "out"), build=False, allow_unofficial_source=True, **variant)
    assert not (tmp_path / "out").exists()


def test_no_token_is_a_clear_error(tiny_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   variant: dict[str, Any]) -> None:
    from huggingface_hub import constants

    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    with pytest.raises(ValueError, match=r"'my-org/ldmnist' is read as a Hub repo id \(owner/name; a local folder is "
                       r"written ./my-org/ldmnist\), and no Hugging Face token was found: run `hf auth login`, set "
                       "HF_TOKEN, or pass token="):
        push(4, "my-org/ldmnist", build=False, allow_unofficial_source=True, **variant)


def test_a_card_template_error_publishes_nothing(tiny_home: Path, tmp_path: Path, variant: dict[str, Any]) -> None:
    template = tmp_path / "card.md"
    template.write_text("# $repo_id\n\n$no_such_field\n")
    with pytest.raises(CardTemplateError, match=r"unknown placeholder \$no_such_field; known: \$repo_id"):
        push(4, str(tmp_path / "out"), build=False, allow_unofficial_source=True, card_template=template, **variant)
    assert not (tmp_path / "out").exists()


def test_an_unofficial_source_needs_an_explicit_flag(tiny_home: Path, tmp_path: Path,
                                                     variant: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not the official mnist.*pass allow_unofficial_source=True") as err:
        push(4, str(tmp_path / "out"), build=False, **variant)
    assert err.value.cli_message.endswith("add --allow-unofficial-source")  # the same error in flags
    assert not (tmp_path / "out").exists()


def test_cli_push_to_a_folder_and_its_bad_input(tiny_home: Path, tiny_dir: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    base = ["push", "--latent", "4", "--set", "epochs=2", "--set", "batch_size=100", "--mnist-dir", str(tiny_dir),
            "--no-build", "--quiet", "--allow-unofficial-source"]
    assert cli.main([*base, "--repo", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert f"pushed {CONFIG} to {tmp_path / 'm'}: 11 files, 0 deleted" in out
    assert cli.main([*base, "--repo", str(tmp_path / "m")]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert cli.main([*base, "--repo", "not a repo"]) == 2
    assert ("--repo not a repo is neither an existing folder nor a Hub repo id (owner/name): write --repo ./not a "
            "repo for a local folder") in capsys.readouterr().err
    assert cli.main([*base, "--repo", "not/a repo"]) == 2
    assert "not a valid Hub repo id" in capsys.readouterr().err


def test_the_card_claims_no_text_language(mirror: Path) -> None:
    import yaml

    meta = yaml.safe_load((mirror / "README.md").read_text().split("---")[1])
    # vectors and class ids, no text: no `language: []` beside `language_creators` (the Hub leaves them out)
    assert not {"language", "language_creators", "multilinguality"} & set(meta)
    assert meta["annotations_creators"] == ["expert-generated", "machine-generated"]


def test_a_new_folder_needs_its_parent_unless_create(tiny_home: Path, tmp_path: Path, variant: dict[str, Any],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    deep = tmp_path / "nonexistent" / "deep" / "folder"
    with pytest.raises(FileNotFoundError, match=r"does not exist and neither does .*nonexistent'.*pass create=True"):
        push(4, str(deep), build=False, allow_unofficial_source=True, **variant)
    assert not (tmp_path / "nonexistent").exists()  # a typo never starts a mirror
    assert push(4, str(deep), build=False, allow_unofficial_source=True, create=True, **variant).changed
    assert (deep / hub_layout.MANIFEST).is_file()
    monkeypatch.chdir(tmp_path)
    assert push(4, "./mirror-here", build=False, allow_unofficial_source=True, **variant).changed  # parent exists


@pytest.mark.parametrize("repo", ["mirror2", "a/b/c"])
def test_a_name_that_is_neither_a_folder_nor_owner_name_names_both_readings(
    repo: str, tiny_home: Path, tmp_path: Path, variant: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=rf"neither an existing folder nor a Hub repo id \(owner/name\): pass "
                                         rf"'\./{repo}' for a local folder .* or 'your-name/"):
        push(4, repo, build=False, allow_unofficial_source=True, **variant)
    (tmp_path / repo).mkdir(parents=True)  # an existing folder is a folder, ./ or not
    assert push(4, repo, build=False, allow_unofficial_source=True, **variant).repo == repo


def test_cli_push_refuses_a_deep_new_folder_in_flags_and_creates_it_with_create(
    tiny_home: Path, tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ["push", "--latent", "4", "--set", "epochs=2", "--set", "batch_size=100", "--mnist-dir", str(tiny_dir),
            "--no-build", "--quiet", "--allow-unofficial-source", "--repo", str(tmp_path / "a" / "b")]
    assert cli.main(base) == 2
    err = capsys.readouterr().err
    assert "add --create to make the whole path" in err and "create=True" not in err
    assert cli.main([*base, "--create"]) == 0 and (tmp_path / "a" / "b" / hub_layout.MANIFEST).is_file()


def test_cli_no_token_speaks_flags_and_says_it_read_a_hub_id(tiny_home: Path, tiny_dir: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    assert cli.main(["push", "--latent", "4", "--repo", "me/mirror2", "--no-build", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "'me/mirror2' is read as a Hub repo id" in err and "./me/mirror2" in err
    assert "token=" not in err


def test_pictures_go_onto_the_card_and_stay_on_the_repo(tiny_home: Path, tmp_path: Path, variant: dict[str, Any],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from ldmnist_hub.viz.plots import make_plots

    pics = tmp_path / "pics"
    make_plots(4, pics, plots=["histograms", "reconstructions"], build=False, **variant)
    folder = tmp_path / "mirror"
    push(4, str(folder), build=False, allow_unofficial_source=True, pictures=pics, **variant)
    card = (folder / "README.md").read_text()
    assert f"![histograms of {CONFIG}](images/{CONFIG}/histograms.png)" in card
    assert card.index("histograms.png") < card.index("reconstructions.png")
    assert (folder / "images" / CONFIG / "reconstructions.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="holds no pictures of"):
        push(4, str(folder), build=False, allow_unofficial_source=True, pictures=tmp_path, **variant)
    # Pulling fetches data, weights and stats only.
    home = _pull_home(monkeypatch, tmp_path, str(folder))
    load_dataset("ldmnist", latent=4, train=variant["train"], data_dir=variant["data_dir"], build=False, progress=False)
    assert not list((home / "variants").rglob("*.png"))


def test_a_kept_leaderboard_is_shown_on_the_card(tiny_home: Path, tmp_path: Path, variant: dict[str, Any],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from ldmnist_hub.benchmark.run import benchmark

    home = tmp_path / "home-copy"
    shutil.copytree(tiny_home, home)
    monkeypatch.setenv("LDMNIST_HOME", str(home))
    fast = {"mlp_epochs": 1, "label_efficiency_sizes": None, "build": False}
    with pytest.raises(ValueError, match="left out"):
        benchmark(4, ["linear"], **fast, **variant).keep()
    result = benchmark(4, **fast, **variant)
    result.keep()
    folder = tmp_path / "mirror"
    push(4, str(folder), build=False, allow_unofficial_source=True, **variant)
    card = (folder / "README.md").read_text()
    linear = next(r for r in result.rows if r.model == "linear")
    assert f"| `linear` | numpy | {linear.mse:.4f} | {linear.excess_mse:+.4f} |" in card
    assert (folder / "weights" / CONFIG / "leaderboard.json").is_file()


def test_a_manifest_cannot_make_pull_write_outside_the_variant_folder(
    mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variant: dict[str, Any]
) -> None:
    manifest_path = mirror / hub_layout.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    evil = tmp_path / "evil.txt"
    evil_src = mirror / "weights" / CONFIG / "stats.json"
    for odd in (f"weights/{CONFIG}/../../../../evil.txt", f"weights/{CONFIG}/{tmp_path}/evil.txt"):
        manifest["variants"][CONFIG]["files"][odd] = hub_layout.file_entry(evil_src)
    manifest_path.write_text(json.dumps(manifest))
    home = _pull_home(monkeypatch, tmp_path, str(mirror))
    load_dataset("ldmnist", latent=4, train=variant["train"], data_dir=variant["data_dir"], build=False, progress=False)
    assert not evil.exists() and not list(tmp_path.rglob("evil.txt"))
    assert sorted(p.name for p in (home / "variants" / CONFIG / "weights").iterdir()) == sorted(
        f"{part}.safetensors" for part in
        ("image_encoder", "image_decoder", "class_encoder", "class_decoder", "middle_layers"))


def test_pull_refuses_an_unofficial_build_listed_under_the_plain_name(
    mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variant: dict[str, Any]
) -> None:
    manifest_path = mirror / hub_layout.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["variants"][NAME] = manifest["variants"][CONFIG]  # as if someone published the subset as the real one
    manifest_path.write_text(json.dumps(manifest))
    home = _pull_home(monkeypatch, tmp_path, str(mirror))
    with pytest.warns(UserWarning, match="built from unofficial raw files; not using it"):
        with pytest.raises(FileNotFoundError, match="does not publish it"):
            load_dataset("ldmnist", latent=4, train=variant["train"], build=False, progress=False)
    assert not (home / "variants").exists() or not any((home / "variants").iterdir())


def test_a_malformed_manifest_entry_is_an_integrity_error(
    mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variant: dict[str, Any]
) -> None:
    manifest_path = mirror / hub_layout.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["variants"][CONFIG]["files"] = ["not", "a", "dict"]
    manifest_path.write_text(json.dumps(manifest))
    _pull_home(monkeypatch, tmp_path, str(mirror))
    with pytest.raises(IntegrityError, match="manifest entry of .* is malformed"):
        load_dataset("ldmnist", latent=4, train=variant["train"], data_dir=variant["data_dir"], build=False,
                     progress=False)


@pytest.mark.parametrize("damage", ["deleted", "overwritten", "truncated"])
def test_a_re_push_restores_a_damaged_file_of_a_folder_mirror(damage: str, mirror: Path,
                                                              variant: dict[str, Any]) -> None:
    manifest = json.loads((mirror / hub_layout.MANIFEST).read_text())
    shard = mirror / f"{CONFIG}/test-00000-of-00001.parquet"
    good = shard.read_bytes()
    if damage == "deleted":
        shard.unlink()
    elif damage == "overwritten":
        shard.write_bytes(good[:100] + bytes(len(good) - 100))  # the same size, other bytes
    else:
        shard.write_bytes(good[: len(good) // 2])
    result = push(4, str(mirror), build=False, allow_unofficial_source=True, **variant)
    assert result.changed and f"{CONFIG}/test-00000-of-00001.parquet" in result.files
    assert not shard.is_symlink() and shard.read_bytes() == good
    assert json.loads((mirror / hub_layout.MANIFEST).read_text()) == manifest
    # Repaired: the next push has nothing to do.
    assert not push(4, str(mirror), build=False, allow_unofficial_source=True, **variant).changed
