"""A reference variant loads from anywhere that holds its exact bytes: the store, raw MNIST, a mirror, a download.

An air-gapped machine with a mirror and no MNIST gets the recorded bytes; a mirror with one altered value is
refused, naming the array and both digests; with nothing anywhere, the error lists each place tried.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _support.procs import child_env
from _support.reference_home import push_reference_mirror

from ldmnist_hub.produce import reference

FULL_DIR = os.environ.get("LDMNIST_MNIST_DIR")
needs_full = pytest.mark.skipif(not FULL_DIR, reason="set LDMNIST_MNIST_DIR to the full MNIST folder to run this")
LATENT = 8
PROBE = (
    "import json, ldmnist_hub as ld\n"
    "from ldmnist_hub.produce.reference import split_digests\n"
    f"out = {{s: split_digests(*ld.load_numpy({LATENT}, s, progress=False)) for s in ('train', 'test')}}\n"
    f"out['accuracy'] = ld.evaluate(ld.load_numpy({LATENT}, 'test')[1], latent={LATENT}).reconstructed_accuracy\n"
    "print(json.dumps(out))\n"
)


def _air_gapped(home: Path, **extra: str) -> dict[str, str]:
    """No MNIST anywhere, no network: only what ``extra`` points at."""
    return child_env(home, HF_HUB_OFFLINE="1", **extra)


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder mirror of the reference latent-8, pushed from a home that has the official MNIST."""
    if not FULL_DIR:
        pytest.skip("set LDMNIST_MNIST_DIR to the full MNIST folder to run this")
    return push_reference_mirror(tmp_path_factory.mktemp("mirror"), LATENT)


@needs_full
def test_an_air_gapped_machine_with_only_a_mirror_gets_the_recorded_bytes(mirror: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = _run(PROBE, _air_gapped(home, LDMNIST_REPO=str(mirror)))
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    record = reference.get(LATENT).record["data_sha256"]
    assert got["train"] == record["train"] and got["test"] == record["test"]
    assert got["accuracy"] > 0.99
    assert not (home / "sources").exists()  # nothing was downloaded
    again = _run(PROBE, _air_gapped(home))  # then served from the store, the mirror no longer needed
    assert again.returncode == 0 and json.loads(again.stdout.strip().splitlines()[-1]) == got, again.stderr


def _alter_one_value(repo: Path) -> None:
    """Change one float of the test split's y and update the manifest, as a hostile mirror would."""
    shard = repo / f"latent-{LATENT}" / "test-00000-of-00001.parquet"
    table = pq.read_table(shard)
    y = table.column("y").combine_chunks()
    values = y.flatten().to_numpy().copy()
    values[123] += 0.5
    table = table.set_column(table.schema.get_field_index("y"), table.schema.field("y"),
                             pa.FixedSizeListArray.from_arrays(pa.array(values), LATENT))
    pq.write_table(table, shard)
    manifest = json.loads((repo / "manifest.json").read_text())
    entry = manifest["variants"][f"latent-{LATENT}"]["files"][str(shard.relative_to(repo))]
    entry.update(sha256=hashlib.sha256(shard.read_bytes()).hexdigest(), size=shard.stat().st_size)
    (repo / "manifest.json").write_text(json.dumps(manifest, indent=1))


@needs_full
def test_a_mirror_with_one_altered_value_is_refused_naming_the_array_and_both_digests(mirror: Path,
                                                                                     tmp_path: Path) -> None:
    import shutil

    bad = tmp_path / "bad-mirror"
    shutil.copytree(mirror, bad)
    _alter_one_value(bad)
    home = tmp_path / "home"
    done = _run(PROBE, _air_gapped(home, LDMNIST_REPO=str(bad)))
    assert done.returncode != 0 and "IntegrityError" in done.stderr
    recorded = reference.get(LATENT).record["data_sha256"]["test"]["y"]
    assert "'y'" in done.stderr or " y " in done.stderr, done.stderr[-2000:]
    assert recorded in done.stderr, done.stderr[-2000:]  # the recorded digest, beside the one found
    assert not (home / "variants" / f"latent-{LATENT}").exists()  # nothing installed


def test_with_no_raw_files_and_no_mirror_the_error_lists_every_place_tried(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "ldmnist_hub.cli", "build", "--latent", str(LATENT), "--quiet"],
                          env=_air_gapped(tmp_path / "home", LDMNIST_REPO="some-org/ldmnist"), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    for place in ("local mnist files: none in $LDMNIST_MNIST_DIR", "some-org/ldmnist: not asked (offline)",
                  "a download of the raw files: offline mode is on"):
        assert place in done.stderr
    assert "Fix one" in done.stderr
