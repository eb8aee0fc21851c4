"""Dataset versions: ``latent-N`` version X.Y.Z is one set of bytes forever, after any new version lands.

A new release is simulated the way it would ship: a copy of the package's reference folder whose
``latent-8/record.json`` is version 4.0.0, with the 3.0.0 record moved to ``releases/latent-8/3.0.0.json``
(the weights of 3.0.0 no longer ship). Version 3.0.0 must then load from a mirror, bit-identical to its record.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _support.procs import child_env
from _support.reference_home import FULL_DIR, push_reference_mirror

from ldmnist_hub.core import paths, versions
from ldmnist_hub.core.config import VariantConfig
from ldmnist_hub.errors import InvalidArgumentError
from ldmnist_hub.produce import reference

LATENT = 8
needs_full = pytest.mark.skipif(not FULL_DIR, reason="set LDMNIST_MNIST_DIR to the full MNIST folder to run this")


def test_every_reference_has_a_current_version_and_its_record_ships() -> None:
    for latent in paths.reference_latents():
        current = versions.current(latent)
        assert current == "3.0.0"  # 2.0.0 (versions.FIRST) is the release before
        assert current in versions.released(latent)
        assert versions.record(latent) == reference.get(latent).record


def test_the_current_version_names_the_same_variant_as_no_version() -> None:
    assert VariantConfig(LATENT, version="3.0.0") == VariantConfig(LATENT)
    assert VariantConfig(LATENT, version="v3.0.0").name == "latent-8"
    assert VariantConfig(LATENT).dataset_version == "3.0.0"
    assert "version" not in VariantConfig(LATENT, version="3.0.0").to_dict()  # records keep their old form


@pytest.mark.parametrize(("latent", "version", "match"), [
    (8, "1.0.0", "latent-8 has no version 1.0.0; released versions: 2.0.0, 3.0.0"),
    (8, "2.0", "must be a dataset version such as '2.0.0'"),
    (8, 2, "must be a dataset version such as '2.0.0'"),
    (33, "3.0.0", "this variant is trained here and has no versions"),
])
def test_an_unknown_version_is_refused_naming_the_released_ones(latent: int, version: object, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        VariantConfig(latent, version=version)


# A release after 3.0.0, as the package would ship it (see the module docstring), then a load.
NEW_RELEASE = """
import json, shutil, sys
from pathlib import Path
import ldmnist_hub.core.paths as paths
root = Path(sys.argv[1])
shutil.copytree(paths.REFERENCE_ROOT, root)
record = json.loads((root / "latent-8" / "record.json").read_text())
(root / "releases" / "latent-8").mkdir(parents=True, exist_ok=True)
(root / "releases" / "latent-8" / "3.0.0.json").write_text(json.dumps(record))
(root / "latent-8" / "record.json").write_text(json.dumps({**record, "version": "4.0.0"}))
paths.REFERENCE_ROOT = root
paths._reference_latents.cache_clear()
import ldmnist_hub as ld
from ldmnist_hub.core import versions
from ldmnist_hub.produce.reference import split_digests
assert versions.current(8) == "4.0.0" and list(versions.released(8)) == ["2.0.0", "3.0.0", "4.0.0"]
out = {s: split_digests(*ld.load_numpy(8, s, version="3.0.0", progress=False)) for s in ("train", "test")}
out["name"] = ld.load_dataset("ldmnist", latent=8, version="3.0.0", split="test").info.config_name
print(json.dumps(out))
"""


def _new_release(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", NEW_RELEASE, str(tmp_path / "references")],
                          env=child_env(tmp_path / "home", **env), capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not FULL_DIR:
        pytest.skip("set LDMNIST_MNIST_DIR to the full MNIST folder to run this")
    return push_reference_mirror(tmp_path_factory.mktemp("v3-mirror"), LATENT)


@needs_full
def test_version_3_still_loads_bit_identical_from_a_mirror_after_version_4_lands(mirror: Path,
                                                                                   tmp_path: Path) -> None:
    done = _new_release(tmp_path, LDMNIST_REPO=str(mirror), HF_HUB_OFFLINE="1")
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    record = reference.get(LATENT).record["data_sha256"]
    assert got["train"] == record["train"] and got["test"] == record["test"]
    assert (tmp_path / "home" / "variants" / "latent-8-v3-0-0").is_dir()  # its own name, never latent-8's


@needs_full
def test_an_earlier_version_without_a_repo_says_where_its_bytes_must_come_from(tmp_path: Path) -> None:
    done = _new_release(tmp_path, LDMNIST_MNIST_DIR=str(FULL_DIR))
    assert done.returncode != 0
    assert "latent-8 version 3.0.0 is an earlier version" in done.stderr and "LDMNIST_REPO" in done.stderr


@needs_full
def test_an_earlier_version_from_a_mirror_that_differs_from_its_record_is_refused(mirror: Path,
                                                                                  tmp_path: Path) -> None:
    from test_reference_sources import _alter_one_value

    bad = tmp_path / "bad"
    shutil.copytree(mirror, bad)
    _alter_one_value(bad)
    done = _new_release(tmp_path, LDMNIST_REPO=str(bad), HF_HUB_OFFLINE="1")
    assert done.returncode != 0 and "IntegrityError" in done.stderr
    assert reference.get(LATENT).record["data_sha256"]["test"]["y"] in done.stderr
    assert not (tmp_path / "home" / "variants" / "latent-8-v3-0-0").exists()
