"""The published files read with the oldest ``datasets`` we claim (hub.compat.OLDEST_DATASETS), in its own venv.

``datasets`` < 4 does not know the ``List`` feature type: a mirror must load
there with fixed-length ``Sequence`` features. The venv is made once per
session (about 20 s, from PyPI); without network the test skips, except where
``LDMNIST_REQUIRE_OLD_DATASETS=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from _support import TINY_DIR

from ldmnist_hub.hub.compat import OLDEST_DATASETS
from ldmnist_hub.publish.upload import push

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def old_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("old-datasets")
    venv.create(root, with_pip=True)
    python = root / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", f"datasets=={OLDEST_DATASETS}"],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        if os.environ.get("LDMNIST_REQUIRE_OLD_DATASETS"):
            raise RuntimeError(f"could not install datasets=={OLDEST_DATASETS}: {done.stderr[-2000:]}")
        pytest.skip(f"could not install datasets=={OLDEST_DATASETS} (no package index?)")
    return python


def test_a_mirror_loads_with_the_oldest_datasets_with_fixed_length_features(
    old_python: Path, ldmnist_home: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "mirror"
    config = push(4, str(folder), train={"epochs": 2, "batch_size": 100}, data_dir=TINY_DIR,
                  allow_unofficial_source=True, progress=False).config
    code = (
        "import datasets, json, sys\n"
        f"ds = datasets.load_dataset({str(folder)!r}, {config!r})\n"
        f"shard = datasets.load_dataset('parquet', data_files={str(folder / config / 'test-00000-of-00001.parquet')!r})"
        "['train']\n"
        "x = ds['train'].features['x']\n"
        "print(json.dumps({'version': datasets.__version__, 'rows': {s: ds[s].num_rows for s in ds},\n"
        "    'x': [type(x).__name__, getattr(x, 'length', None)],\n"
        "    'shard_x': getattr(shard.features['x'], 'length', None),\n"
        "    'labels': ds['train'].features['label'].names, 'first': ds['test'][0]['x']}))\n"
    )
    done = subprocess.run([str(old_python), "-c", code], capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")})
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["version"] == OLDEST_DATASETS
    assert got["rows"] == {"train": 300, "test": 100}
    assert got["x"] == ["Sequence", 4] and got["shard_x"] == 4
    assert got["labels"] == [str(d) for d in range(10)]
    from ldmnist_hub.loading.arrays import load_numpy

    x, _, _ = load_numpy(4, "test", train={"epochs": 2, "batch_size": 100}, data_dir=TINY_DIR, build=False,
                         progress=False)
    assert got["first"] == [float(v) for v in x[0]]
    assert sys.version_info >= (3, 10)
