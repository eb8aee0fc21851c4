"""The exact encoder on several threads: the same bytes as on one, because no sum depends on its order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _support import REPO_ROOT, TINY_DIR

from ldmnist_hub.data import sources
from ldmnist_hub.errors import InvalidArgumentError
from ldmnist_hub.produce import exact, reference

FULL_DIR = os.environ.get("LDMNIST_MNIST_DIR")
needs_full = pytest.mark.skipif(not FULL_DIR, reason="set LDMNIST_MNIST_DIR to the full MNIST folder to run this")


def _encode(latent: int, images: np.ndarray, labels: np.ndarray, threads: int) -> tuple[np.ndarray, np.ndarray]:
    ref = reference.get(latent)
    cfg = ref.record["train"]
    return exact.encode_split_exact(ref.weights("image_encoder"), ref.weights("class_encoder"), images, labels,
                                    hidden=len(cfg["hidden"]), bn_eps=cfg["bn_eps"], logvar_quirk=cfg["logvar_quirk"],
                                    seed=0, split="train", threads=threads)


@pytest.mark.parametrize("threads", [2, 3, 8])
def test_any_thread_count_gives_the_bytes_of_one_thread(threads: int) -> None:
    images, labels = sources.load_split("mnist", "train", TINY_DIR)
    x1, y1 = _encode(8, images, labels, 1)
    xn, yn = _encode(8, images, labels, threads)
    assert x1.tobytes() == xn.tobytes() and y1.tobytes() == yn.tobytes()


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_a_bad_thread_count_is_refused(threads: object) -> None:
    images, labels = sources.load_split("mnist", "test", TINY_DIR)
    with pytest.raises(InvalidArgumentError, match="threads must be a positive integer"):
        _encode(2, images, labels, threads)  # type: ignore[arg-type]


def test_the_thread_count_comes_from_ldmnist_num_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDMNIST_NUM_THREADS", "3")
    assert exact.encode_threads() == 3
    monkeypatch.delenv("LDMNIST_NUM_THREADS")
    assert exact.encode_threads() == len(os.sched_getaffinity(0))  # every core this process may use
    monkeypatch.setenv("LDMNIST_NUM_THREADS", "all")
    with pytest.raises(InvalidArgumentError, match="LDMNIST_NUM_THREADS must be a positive integer"):
        exact.encode_threads()


@needs_full
@pytest.mark.parametrize("threads", ["1", "2"])
def test_reference_latent_32_has_its_recorded_sha256_on_one_and_two_threads(threads: str, tmp_path: Path) -> None:
    """A fresh process encoding the full MNIST with 1 or 2 encoder threads produces the recorded bytes."""
    code = (
        "import json\n"
        "from ldmnist_hub.data import sources\nfrom ldmnist_hub.produce import exact, reference\n"
        "ref = reference.get(32)\n"
        "raw = {s: sources.load_split('mnist', s) for s in ('train', 'test')}\n"
        "out = ref.encode(raw, 0, check=False)\n"
        "print(json.dumps({'threads': exact.encode_threads(),"
        " 'sha': {s: reference.split_digests(*out[s]) for s in out}}))\n"
    )
    env = {**os.environ, "LDMNIST_MNIST_DIR": FULL_DIR, "LDMNIST_HOME": str(tmp_path), "LDMNIST_NUM_THREADS": threads}
    env.pop("OMP_NUM_THREADS", None)  # BLAS left to its default: the encoder holds it to one thread per chunk
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                          cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["threads"] == int(threads)
    assert got["sha"] == reference.get(32).record["data_sha256"]
