"""Publishing to and pulling from a Hub: ``ldmnist push`` and ``load_dataset`` against the local Hub-protocol server.

The real ``huggingface_hub`` and ``datasets`` clients run in subprocesses (they read ``HF_ENDPOINT`` at import)
and talk only to the server on 127.0.0.1 (see ``hub_server``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support.hub_server import ClientError, HubServer, client_json, hub_env, run_client

from ldmnist_hub.hub import layout as hub_layout
from ldmnist_hub.hub.card import check_card
from ldmnist_hub.loading.arrays import load_numpy

TOKEN = "hf_writer"
REPO = "my-org/ldmnist"
CONFIG = "latent-4-trained-51d7e6e5-data-87c1edf0"  # the tiny variant's cache id (fixture raw files)
TRAIN = '{"epochs": 2, "batch_size": 100}'


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubServer]:
    with HubServer(tmp_path / "hub", tokens={TOKEN}) as server:
        yield server
        assert server.errors == [], "\n".join(server.errors)


@pytest.fixture
def home(tiny_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the tiny build's LDMNIST_HOME (pushing a second latent builds into it)."""
    copy = tmp_path / "ldmnist-home"
    shutil.copytree(tiny_home, copy)
    monkeypatch.setenv("LDMNIST_HOME", str(copy))
    return copy


def _push_cmd(tiny_dir: Path, latent: int = 4, *extra: str) -> str:
    args = ["push", "--latent", str(latent), "--repo", REPO, "--mnist-dir", str(tiny_dir), "--quiet", "--json",
            "--allow-unofficial-source", "--set", "epochs=2", "--set", "batch_size=100", *extra]
    return f"import json, sys\nfrom ldmnist_hub import cli\nrc = cli.main({args!r})\nprint(json.dumps({{'rc': rc}}))"


def _run(hub: HubServer, hf_home: Path, code: str, token: str | None = TOKEN, **env: str) -> Any:
    return client_json(run_client(textwrap.dedent(code), hub_env(hub, hf_home, token=token, extra=env), timeout=180))


def _manifest(hub: HubServer) -> dict[str, Any]:
    return json.loads(hub.read_file(REPO, hub_layout.MANIFEST))


def test_push_two_variants_repush_and_load_with_plain_datasets(
    hub: HubServer, home: Path, tiny_dir: Path, tmp_path: Path
) -> None:
    out = run_client(_push_cmd(tiny_dir), hub_env(hub, tmp_path / "hf1", token=TOKEN), timeout=180)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"rc": 0}
    first = json.loads(out.stdout.split("\n{\"rc\"")[0])
    assert first["changed"] and first["config"] == CONFIG and first["commit_url"]
    files = hub.list_files(REPO)
    assert {hub_layout.shard_path(CONFIG, "train"), f"weights/{CONFIG}/class_decoder.safetensors",
            "README.md", "manifest.json"} <= set(files)
    assert hub.is_lfs(REPO, hub_layout.shard_path(CONFIG, "train"))
    manifest = _manifest(hub)
    for path, entry in manifest["variants"][CONFIG]["files"].items():
        data = hub.read_file(REPO, path)
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (entry["sha256"], entry["size"])
    check_card(hub.read_file(REPO, "README.md").decode(), [CONFIG])
    # The Hub's own YAML check ran on the card (huggingface_hub posts README metadata to validate-yaml).
    assert any(path == "/api/validate-yaml" for _, path in hub.requests)
    first_blobs = {p: hub.read_file(REPO, p) for p in files if CONFIG in p}

    # Same variant again: nothing changes, no commit.
    commits = len(hub.history(REPO))
    out = run_client(_push_cmd(tiny_dir), hub_env(hub, tmp_path / "hf2", token=TOKEN), timeout=180)
    assert '"changed": false' in out.stdout and len(hub.history(REPO)) == commits

    # A second variant: the first survives byte for byte, the card lists both, the default stays.
    run_client(_push_cmd(tiny_dir, 3), hub_env(hub, tmp_path / "hf3", token=TOKEN), timeout=180)
    second = "latent-3-trained-51d7e6e5-data-87c1edf0"
    manifest = _manifest(hub)
    assert sorted(manifest["variants"]) == [second, CONFIG] and manifest["default"] == CONFIG
    assert {p: hub.read_file(REPO, p) for p in first_blobs} == first_blobs
    card = hub.read_file(REPO, "README.md").decode()
    check_card(card, [second, CONFIG])
    assert "default: true" in card

    # Plain datasets, no ldmnist_hub: both configs load and equal what was pushed.
    got = _run(hub, tmp_path / "hf4", f"""
        import json, datasets, numpy as np
        datasets.config.USE_PARQUET_EXPORT = False  # no datasets-server lookups
        out = {{}}
        for cfg in ({CONFIG!r}, {second!r}):
            ds = datasets.load_dataset({REPO!r}, cfg)
            t = ds["test"].with_format("numpy")
            out[cfg] = {{"x": np.stack(t["x"][:]).tolist(), "label": np.asarray(t["label"][:]).tolist(),
                        "names": ds["train"].features["label"].names, "length": ds["train"].features["x"].length,
                        "rows": [ds["train"].num_rows, ds["test"].num_rows]}}
        print(json.dumps(out))
    """)
    x, _, label = load_numpy(4, "test", train=json.loads(TRAIN), data_dir=tiny_dir, build=False, progress=False)
    np.testing.assert_array_equal(np.array(got[CONFIG]["x"], np.float32), x)
    assert got[CONFIG]["label"] == label.tolist() and got[CONFIG]["names"] == [str(d) for d in range(10)]
    assert got[CONFIG]["length"] == 4 and got[second]["length"] == 3 and got[second]["rows"] == [300, 100]


def test_cold_load_dataset_pulls_from_the_hub_and_detects_tampering(
    hub: HubServer, home: Path, tiny_dir: Path, tmp_path: Path
) -> None:
    run_client(_push_cmd(tiny_dir), hub_env(hub, tmp_path / "hf1", token=TOKEN), timeout=180)
    pull = f"""
        import json, numpy as np
        from ldmnist_hub import load_numpy
        x, y, label = load_numpy(4, "test", train={TRAIN}, data_dir={str(tiny_dir)!r}, build=False, progress=False)
        print(json.dumps({{"x": x.tolist(), "label": label.tolist()}}))
    """
    # A fresh LDMNIST_HOME and HF cache, no raw MNIST: the variant can only come from the Hub.
    got = _run(hub, tmp_path / "hf2", pull, token="", LDMNIST_HOME=str(tmp_path / "fresh"), LDMNIST_REPO=REPO)
    x, _, label = load_numpy(4, "test", train=json.loads(TRAIN), data_dir=tiny_dir, build=False, progress=False)
    np.testing.assert_array_equal(np.array(got["x"], np.float32), x)
    assert got["label"] == label.tolist()

    # Tamper with one weight file on the server, leaving the manifest as it was.
    path = f"weights/{CONFIG}/class_decoder.safetensors"
    data = bytearray(hub.read_file(REPO, path))
    data[-1] ^= 1
    hub.commit(REPO, {path: bytes(data)}, message="tamper")
    with pytest.raises(ClientError) as err:
        _run(hub, tmp_path / "hf3", pull, token="", LDMNIST_HOME=str(tmp_path / "fresh2"), LDMNIST_REPO=REPO)
    stderr = err.value.proc.stderr
    assert "IntegrityError" in stderr and "class_decoder.safetensors does not match" in stderr
    assert not (tmp_path / "fresh2" / "variants" / CONFIG).exists()


def test_a_wrong_token_gets_401_and_changes_nothing(hub: HubServer, home: Path, tiny_dir: Path, tmp_path: Path) -> None:
    proc = run_client(_push_cmd(tiny_dir), hub_env(hub, tmp_path / "hf", token="hf_wrong"), timeout=180)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 1}
    assert "401" in proc.stderr and "ldmnist: error" in proc.stderr
    assert not hub.repo_exists(REPO)


def test_a_failure_mid_push_leaves_the_repo_unchanged(hub: HubServer, home: Path, tiny_dir: Path,
                                                      tmp_path: Path) -> None:
    run_client(_push_cmd(tiny_dir), hub_env(hub, tmp_path / "hf1", token=TOKEN), timeout=180)
    before = {p: hub.read_file(REPO, p) for p in hub.list_files(REPO)}
    hub.fail_status = 403  # not retried by the client
    hub.fail_lfs_uploads = 1  # the second variant's first shard upload fails
    proc = run_client(_push_cmd(tiny_dir, 3), hub_env(hub, tmp_path / "hf2", token=TOKEN), timeout=180)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 1}
    hub.fail_next_commit = True  # now the upload passes and the commit itself fails
    hub.fail_status = 500
    proc = run_client(_push_cmd(tiny_dir, 3), hub_env(hub, tmp_path / "hf3", token=TOKEN), timeout=180)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 1}
    after = {p: hub.read_file(REPO, p) for p in hub.list_files(REPO)}
    assert after == before  # no config listed whose files are missing: the card and manifest never changed
    check_card(after["README.md"].decode(), [CONFIG])


def test_create_pr_leaves_main_unchanged(hub: HubServer, home: Path, tiny_dir: Path, tmp_path: Path) -> None:
    run_client(_push_cmd(tiny_dir), hub_env(hub, tmp_path / "hf1", token=TOKEN), timeout=180)
    main = hub.head(REPO)
    out = run_client(_push_cmd(tiny_dir, 3, "--create-pr"), hub_env(hub, tmp_path / "hf2", token=TOKEN), timeout=180)
    result = json.loads(out.stdout.split("\n{\"rc\"")[0])
    assert result["pull_request_url"] and "/discussions/" in result["pull_request_url"]
    assert hub.head(REPO) == main
    in_pr = json.loads(hub.read_file(REPO, "manifest.json", revision="refs/pr/1"))["variants"]
    assert "latent-3-trained-51d7e6e5-data-87c1edf0" in in_pr


def test_an_unreachable_hub_is_a_clear_error_and_load_dataset_falls_back(
    home: Path, tiny_dir: Path, tmp_path: Path, hub: HubServer
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = hub_env(hub, tmp_path / "hf", token=TOKEN, extra={"HF_ENDPOINT": dead})
    proc = run_client(_push_cmd(tiny_dir), env, timeout=180)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 1}
    assert "ldmnist: error" in proc.stderr
    code = f"""
        import json
        from ldmnist_hub import load_dataset
        try:
            load_dataset("ldmnist", latent=4, train={TRAIN}, data_dir={str(tiny_dir)!r}, build=False, progress=False)
        except FileNotFoundError as e:
            print(json.dumps({{"error": str(e)}}))
    """
    env = hub_env(hub, tmp_path / "hf2", token="", extra={"HF_ENDPOINT": dead, "LDMNIST_REPO": REPO,
                                                          "LDMNIST_HOME": str(tmp_path / "fresh")})
    got = client_json(run_client(textwrap.dedent(code), env, timeout=180))
    assert "pulling it failed" in got["error"] and "ldmnist build --latent 4" in got["error"]


def test_a_concurrent_push_fails_cleanly_instead_of_dropping_a_config(
    hub: HubServer, home: Path, tiny_dir: Path, tmp_path: Path
) -> None:
    run_client(_push_cmd(tiny_dir), hub_env(hub, tmp_path / "hf1", token=TOKEN), timeout=180)
    # Another writer commits between our push reading the repo (pinning its head) and committing.
    code = _push_cmd(tiny_dir, 3).replace("rc = cli.main(", textwrap.dedent(f"""
        import ldmnist_hub.publish.upload as P
        from huggingface_hub import HfApi
        _pin = P._HubTarget._pin
        def pin(self):
            head = _pin(self)
            if not getattr(self, "_raced", False):
                self._raced = True
                HfApi().upload_file(path_or_fileobj=b"x", path_in_repo="other.txt", repo_id={REPO!r},
                                    repo_type="dataset")
            return head
        P._HubTarget._pin = pin
        rc = cli.main("""))
    proc = run_client(code, hub_env(hub, tmp_path / "hf2", token=TOKEN), timeout=180)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 1}
    assert "412" in proc.stderr or "parent" in proc.stderr.lower()
    assert list(_manifest(hub)["variants"]) == [CONFIG]  # the first config is still listed
    assert "other.txt" in hub.list_files(REPO)  # and the other writer's commit survived
