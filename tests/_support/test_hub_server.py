"""The offline Hub server (``tests/_support/hub_server.py``) against the real ``huggingface_hub`` and ``datasets``
clients.

Clients run in subprocesses (see the module docstring of ``hub_server``); every connection goes to 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _support.hub_server import HubServer, client_json, hub_env, run_client

TOKEN = "hf_test_token"
REPO = "org/ds"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubServer]:
    """A running server; fails the test if the server hit an unexpected exception."""
    with HubServer(tmp_path / "hub", tokens={TOKEN}) as server:
        yield server
        assert server.errors == [], "\n".join(server.errors)


def _client(hub: HubServer, home: Path, *snippets: str, token: str | None = None, timeout: float = 120) -> Any:
    """Run the (each dedented) ``snippets`` against ``hub`` in a fresh interpreter; return the JSON printed last."""
    code = "\n".join(textwrap.dedent(snippet) for snippet in snippets)
    return client_json(run_client(code, hub_env(hub, home, token=token), timeout=timeout))


def _http(
    hub: HubServer, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request with urllib (no huggingface_hub involved); errors are returned, not raised."""
    req = urllib.request.Request(hub.endpoint + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), err.read()


def test_upload_folder_list_and_download_regular_and_lfs_files(hub: HubServer, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub" / "deep").mkdir(parents=True)
    (src / "notes.txt").write_text("hello hub\n")
    (src / "weights.safetensors").write_bytes(b"\0\1" + hashlib.sha256(b"seed").digest() * 128)  # 4 KiB, binary
    (src / "sub" / "deep" / "more.txt").write_text("nested\n")

    out = _client(
        hub,
        tmp_path / "home",
        f"""
        import json
        from huggingface_hub import HfApi, hf_hub_download
        api = HfApi()
        url = api.create_repo(repo_id="{REPO}", repo_type="dataset")
        info = api.upload_folder(repo_id="{REPO}", repo_type="dataset", folder_path={str(src)!r})
        paths = {{p: hf_hub_download("{REPO}", p, repo_type="dataset") for p in ("notes.txt", "weights.safetensors")}}
        print(json.dumps({{
            "url": url, "repo_id": url.repo_id, "oid": info.oid,
            "files": api.list_repo_files("{REPO}", repo_type="dataset"),
            "sha": api.dataset_info("{REPO}").sha,
            "downloads": {{p: open(f, "rb").read().hex() for p, f in paths.items()}},
        }}))
        """,
    )

    assert out["url"] == f"{hub.endpoint}/datasets/{REPO}" and out["repo_id"] == REPO
    assert out["files"] == [".gitattributes", "notes.txt", "sub/deep/more.txt", "weights.safetensors"]
    assert out["oid"] == out["sha"] == hub.head(REPO)
    for path in ("notes.txt", "weights.safetensors"):
        assert bytes.fromhex(out["downloads"][path]) == (src / path).read_bytes()
    # Small text goes in the commit itself, binary content through LFS, as on the Hub.
    assert not hub.is_lfs(REPO, "notes.txt") and hub.is_lfs(REPO, "weights.safetensors")
    lfs_oid = hashlib.sha256((src / "weights.safetensors").read_bytes()).hexdigest()
    assert [p for m, p in hub.requests if m == "PUT"] == [f"/_lfs/upload/dataset/{REPO}/{lfs_oid}"]
    assert hub.read_file(REPO, "sub/deep/more.txt") == b"nested\n"


BUILD = """
import numpy as np
from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

CONFIGS = {"c1": (0, ["zero", "one", "two"]), "c2": (1, ["neg", "pos"])}

def build(config):
    seed, names = CONFIGS[config]
    features = Features({"x": List(Value("float32"), length=4), "label": ClassLabel(names=names)})
    rng = np.random.default_rng(seed)
    def split(n):
        x = rng.standard_normal((n, 4)).astype("float32").tolist()
        return Dataset.from_dict({"x": x, "label": rng.integers(0, len(names), n).tolist()}, features=features)
    return DatasetDict({"train": split(12), "test": split(5)})
"""


def test_push_to_hub_two_configs_load_them_back_then_delete_one(hub: HubServer, tmp_path: Path) -> None:
    pushed = _client(
        hub,
        tmp_path / "push-home",
        BUILD,
        f"""
        import json
        infos = [build(c).push_to_hub("{REPO}", config_name=c, data_dir=c) for c in ("c1", "c2")]
        print(json.dumps([i.oid for i in infos]))
        """,
    )
    files = hub.list_files(REPO)
    assert {f"{c}/{s}-00000-of-00001.parquet" for c in ("c1", "c2") for s in ("train", "test")} <= set(files)
    assert all(hub.is_lfs(REPO, f) for f in files if f.endswith(".parquet"))
    assert pushed[-1] == hub.head(REPO)
    readme = hub.read_file(REPO, "README.md").decode()
    assert "config_name: c1" in readme and "config_name: c2" in readme
    assert ("POST", "/api/validate-yaml") in hub.requests  # the card's metadata is checked before committing

    # A fresh HF cache: everything comes from the server.
    out = _client(
        hub,
        tmp_path / "load-home",
        BUILD,
        f"""
        import json
        import datasets
        import pyarrow.parquet as pq
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete, DatasetCard, HfApi, HfFileSystem
        from huggingface_hub.errors import HfHubHTTPError
        # The dataset viewer lives on another host (datasets-server.<endpoint host>): keep the client on 127.0.0.1.
        datasets.config.USE_PARQUET_EXPORT = False
        out = {{}}
        for config in ("c1", "c2"):
            loaded, expected = datasets.load_dataset("{REPO}", config), build(config)
            out[config] = {{
                split: [loaded[split].to_dict() == expected[split].to_dict(),
                        loaded[split].features == expected[split].features]
                for split in ("train", "test")
            }}
            out[config + "_names"] = loaded["train"].features["label"].names
        # Parquet read through fsspec: ranged GETs on /resolve.
        with HfFileSystem().open("datasets/{REPO}/c1/train-00000-of-00001.parquet", block_size=512) as f:
            out["pyarrow"] = pq.read_table(f).to_pydict()["x"] == build("c1")["train"]["x"]

        api = HfApi()
        before = api.dataset_info("{REPO}").sha
        card = DatasetCard.load("{REPO}", repo_type="dataset")
        card.data["configs"] = [c for c in card.data["configs"] if c["config_name"] != "c2"]
        card.data["dataset_info"] = [i for i in card.data["dataset_info"] if i["config_name"] != "c2"]
        ops = [CommitOperationDelete("c2/"), CommitOperationAdd("README.md", str(card).encode())]
        info = api.create_commit("{REPO}", ops, commit_message="Drop c2", repo_type="dataset", parent_commit=before)
        try:  # the branch moved: a commit on the old parent must be refused
            api.create_commit("{REPO}", [CommitOperationAdd("x.txt", b"x")], commit_message="stale",
                              repo_type="dataset", parent_commit=before)
            out["stale"] = None
        except HfHubHTTPError as err:
            out["stale"] = err.response.status_code
        out["after"] = {{"oid": info.oid, "files": api.list_repo_files("{REPO}", repo_type="dataset"),
                        "configs": datasets.get_dataset_config_names("{REPO}")}}
        print(json.dumps(out))
        """,
    )

    for config in ("c1", "c2"):
        assert out[config] == {"train": [True, True], "test": [True, True]}
    assert out["c1_names"] == ["zero", "one", "two"] and out["c2_names"] == ["neg", "pos"]
    assert out["pyarrow"] is True
    assert out["stale"] == 412
    assert out["after"]["oid"] == hub.head(REPO)
    assert not any(f.startswith("c2/") for f in out["after"]["files"])
    assert "c1/train-00000-of-00001.parquet" in out["after"]["files"]
    assert out["after"]["configs"] == ["c1"]
    assert "c2" not in hub.read_file(REPO, "README.md").decode()


def test_writes_with_a_wrong_or_missing_token_get_401_and_change_nothing(hub: HubServer, tmp_path: Path) -> None:
    hub.create_repo(REPO)
    hub.commit(REPO, {"a.txt": b"a"})
    hub.create_repo("org/secret", private=True)
    history = hub.history(REPO)

    out = _client(
        hub,
        tmp_path / "home",
        f"""
        import json
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
        def status(fn):
            try:
                fn()
            except HfHubHTTPError as err:
                return [type(err).__name__, err.response.status_code]
            return "ok"
        bad, anonymous, good = HfApi(), HfApi(token=False), HfApi(token="{TOKEN}")
        print(json.dumps({{
            "create": status(lambda: bad.create_repo("org/new", repo_type="dataset")),
            "create_exist_ok": status(lambda: bad.create_repo("{REPO}", repo_type="dataset", exist_ok=True)),
            "upload": status(lambda: bad.upload_file(path_or_fileobj=b"x", path_in_repo="b.txt",
                                                     repo_id="{REPO}", repo_type="dataset")),
            "anonymous_upload": status(lambda: anonymous.upload_file(path_or_fileobj=b"x", path_in_repo="b.txt",
                                                                     repo_id="{REPO}", repo_type="dataset")),
            "bad_token_read": status(lambda: bad.list_repo_files("{REPO}", repo_type="dataset")),
            "anonymous_read": anonymous.list_repo_files("{REPO}", repo_type="dataset"),
            "private_anonymous": status(lambda: anonymous.list_repo_files("org/secret", repo_type="dataset")),
            "private_with_token": good.list_repo_files("org/secret", repo_type="dataset"),
        }}))
        """,
        token="hf_wrong",
    )

    for key in ("create", "create_exist_ok", "upload", "anonymous_upload", "bad_token_read"):
        assert out[key][1] == 401, (key, out[key])
    assert out["anonymous_read"] == [".gitattributes", "a.txt"]
    assert out["private_anonymous"] == ["RepositoryNotFoundError", 401]
    assert out["private_with_token"] == [".gitattributes"]
    assert hub.history(REPO) == history and hub.list_files(REPO) == [".gitattributes", "a.txt"]
    assert not hub.repo_exists("org/new")

    # The raw protocol: LFS batch and commit without / with a wrong token.
    batch = json.dumps({"operation": "upload", "objects": [{"oid": "0" * 64, "size": 1}]}).encode()
    commit = b'{"key": "header", "value": {"summary": "x"}}\n'
    writes = ((f"/datasets/{REPO}.git/info/lfs/objects/batch", batch), (f"/api/datasets/{REPO}/commit/main", commit))
    for path, body in writes:
        for headers in ({}, {"Authorization": "Bearer nope"}):
            status, resp_headers, payload = _http(hub, "POST", path, headers, body)
            assert status == 401 and "error" in json.loads(payload) and resp_headers["X-Error-Message"]
    assert hub.history(REPO) == history


def test_create_pr_leaves_main_unchanged_and_is_readable_at_refs_pr(hub: HubServer, tmp_path: Path) -> None:
    hub.create_repo(REPO)
    hub.commit(REPO, {"data.txt": b"v1"})
    main_before = hub.head(REPO)

    out = _client(
        hub,
        tmp_path / "home",
        f"""
        import json
        from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download
        api = HfApi()
        ops = [CommitOperationAdd("data.txt", b"v2"), CommitOperationAdd("blob.bin", b"\\0binary" * 100)]
        info = api.create_commit("{REPO}", ops, commit_message="Proposal", repo_type="dataset", create_pr=True)
        read = lambda p, rev: open(hf_hub_download("{REPO}", p, repo_type="dataset", revision=rev), "rb").read()
        print(json.dumps({{
            "pr_url": info.pr_url, "pr_revision": info.pr_revision, "pr_num": info.pr_num, "oid": info.oid,
            "main": api.list_repo_files("{REPO}", repo_type="dataset"),
            "pr": api.list_repo_files("{REPO}", repo_type="dataset", revision=info.pr_revision),
            "main_data": read("data.txt", "main").decode(), "pr_data": read("data.txt", "refs/pr/1").decode(),
            "pr_blob": len(read("blob.bin", "refs/pr/1")),
            "by_oid": read("data.txt", info.oid).decode(),
        }}))
        """,
    )

    assert out["pr_url"] == f"{hub.endpoint}/datasets/{REPO}/discussions/1"
    assert (out["pr_revision"], out["pr_num"]) == ("refs/pr/1", 1)
    assert out["main"] == [".gitattributes", "data.txt"] and out["main_data"] == "v1"
    assert out["pr"] == [".gitattributes", "blob.bin", "data.txt"] and out["pr_data"] == "v2"
    assert out["pr_blob"] == 700 and out["by_oid"] == "v2" and hub.is_lfs(REPO, "blob.bin", revision="refs/pr/1")
    assert hub.head(REPO) == main_before and hub.refs(REPO)["refs/pr/1"] == out["oid"]
    assert ("GET", f"/api/datasets/{REPO}/tree/refs%2Fpr%2F1") in hub.requests  # revision sent URL-encoded


def test_injected_failures_leave_the_repo_unchanged(hub: HubServer, tmp_path: Path) -> None:
    hub.create_repo(REPO)
    hub.commit(REPO, {"a.txt": b"a"})
    history = hub.history(REPO)
    src = tmp_path / "src"
    src.mkdir()
    (src / "b.txt").write_text("b\n")
    (src / "w.safetensors").write_bytes(b"\0" * 3000)
    code = f"""
        import json
        from huggingface_hub import HfApi
        api = HfApi()
        try:
            api.upload_folder(repo_id="{REPO}", repo_type="dataset", folder_path={str(src)!r})
            error = None
        except Exception as err:
            error = [type(err).__name__, getattr(getattr(err, "response", None), "status_code", None)]
        print(json.dumps({{"error": error, "files": api.list_repo_files("{REPO}", repo_type="dataset")}}))
        """

    # An LFS upload refused mid-push (4xx: huggingface_hub retries 5xx uploads with sleeps).
    hub.fail_lfs_uploads, hub.fail_status = 1, 403
    out = _client(hub, tmp_path / "home", code)
    assert out["error"] is not None and out["files"] == [".gitattributes", "a.txt"]
    assert not any(p.endswith("/commit/main") for _, p in hub.requests)
    assert hub.history(REPO) == history

    # The commit itself fails (500; /commit is not retried) after the LFS object went up.
    hub.fail_status = 500
    hub.fail_next_commit = True
    out = _client(hub, tmp_path / "home", code)
    assert out["error"] == ["HfHubHTTPError", 500] and out["files"] == [".gitattributes", "a.txt"]
    assert hub.history(REPO) == history and not hub.fail_next_commit

    # Disarmed: the same push goes through, without uploading the LFS object a second time.
    puts = sum(m == "PUT" for m, _ in hub.requests)
    out = _client(hub, tmp_path / "home", code)
    assert out["error"] is None and out["files"] == [".gitattributes", "a.txt", "b.txt", "w.safetensors"]
    assert sum(m == "PUT" for m, _ in hub.requests) == puts
    assert hub.history(REPO)[1:] == history


def test_branches_refs_history_copies_deletions_and_listing_helpers(hub: HubServer, tmp_path: Path) -> None:
    hub.create_repo("org/m", repo_type="model")
    hub.commit("org/m", {"a.txt": b"a", "w/x.safetensors": b"\0" * 100}, repo_type="model", lfs=["w/x.safetensors"])

    out = _client(
        hub,
        tmp_path / "home",
        """
        import json, pathlib
        from huggingface_hub import CommitOperationCopy, HfApi, HfFileSystem, snapshot_download
        api = HfApi()
        snapshot = pathlib.Path(snapshot_download("org/m"))
        api.create_branch("org/m", branch="dev")
        api.upload_file(path_or_fileobj=b"dev", path_in_repo="dev.txt", repo_id="org/m", revision="dev")
        ops = [CommitOperationCopy("w/x.safetensors", "copy.safetensors"), CommitOperationCopy("a.txt", "b.txt")]
        api.create_commit("org/m", ops, commit_message="copy")
        api.delete_file("a.txt", "org/m")
        api.update_repo_settings("org/m", private=True)
        paths_info = api.get_paths_info("org/m", ["b.txt", "w", "missing"], expand=True)
        print(json.dumps({
            "snapshot": sorted(str(p.relative_to(snapshot)) for p in snapshot.rglob("*") if p.is_file()),
            "branches": sorted(b.name for b in api.list_repo_refs("org/m").branches),
            "titles": [c.title for c in api.list_repo_commits("org/m")],
            "main": api.list_repo_files("org/m"), "dev": api.list_repo_files("org/m", revision="dev"),
            "paths_info": [[type(p).__name__, p.path, p.last_commit.title] for p in paths_info],
            "glob": HfFileSystem().glob("org/m/**/*.safetensors"),
            "exists": [api.file_exists("org/m", "b.txt"), api.file_exists("org/m", "a.txt"),
                       api.repo_exists("org/none"), api.revision_exists("org/m", "dev")],
            "private": api.model_info("org/m").private,
            "whoami": api.whoami()["name"],
        }))
        """,
    )

    assert out["snapshot"] == [".gitattributes", "a.txt", "w/x.safetensors"]
    assert out["branches"] == ["dev", "main"]
    assert out["titles"] == ["Delete a.txt with huggingface_hub", "copy", "Server-side commit", "initial commit"]
    assert out["main"] == [".gitattributes", "b.txt", "copy.safetensors", "w/x.safetensors"]
    assert out["dev"] == [".gitattributes", "a.txt", "dev.txt", "w/x.safetensors"]
    assert out["paths_info"] == [["RepoFile", "b.txt", "copy"], ["RepoFolder", "w", "Server-side commit"]]
    assert out["glob"] == ["org/m/copy.safetensors", "org/m/w/x.safetensors"]
    assert out["exists"] == [True, False, False, True]
    assert out["private"] is True and out["whoami"] == hub.user
    assert hub.is_lfs("org/m", "copy.safetensors", repo_type="model")  # an LFS copy stays a pointer
    assert hub.read_file("org/m", "b.txt", repo_type="model") == b"a"


def test_tags_name_a_commit_that_never_moves_and_every_read_resolves_them(hub: HubServer, tmp_path: Path) -> None:
    hub.create_repo(REPO)
    first = hub.commit(REPO, {"data/a.txt": b"version one"})
    out = _client(
        hub,
        tmp_path / "home",
        """
        import json
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError
        api = HfApi()
        first = api.repo_info("org/ds", repo_type="dataset").sha
        api.create_tag("org/ds", tag="latent-8-v2.0.0", repo_type="dataset", revision=first)
        api.upload_file(path_or_fileobj=b"version two", path_in_repo="data/a.txt", repo_id="org/ds",
                        repo_type="dataset")
        try:
            api.create_tag("org/ds", tag="latent-8-v2.0.0", repo_type="dataset")  # never moved
            again = None
        except HfHubHTTPError as err:
            again = err.response.status_code
        api.create_tag("org/ds", tag="latent-8-v2.0.0", repo_type="dataset", exist_ok=True)
        tag = "latent-8-v2.0.0"
        with open(hf_hub_download("org/ds", "data/a.txt", repo_type="dataset", revision=tag)) as f:
            tagged = f.read()
        try:
            api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="org/ds", repo_type="dataset",
                            revision=tag)
            committed = True
        except HfHubHTTPError:
            committed = False
        print(json.dumps({
            "tags": [[t.name, t.ref, t.target_commit] for t in api.list_repo_refs("org/ds", repo_type="dataset").tags],
            "again": again, "tagged": tagged, "committed": committed,
            "files": api.list_repo_files("org/ds", repo_type="dataset", revision=tag),
            "info": [p.path for p in api.get_paths_info("org/ds", ["data/a.txt"], repo_type="dataset",
                                                           revision=tag)],
            "sha": api.dataset_info("org/ds", revision=tag).sha,
            "exists": api.revision_exists("org/ds", tag, repo_type="dataset"),
        }))
        api.delete_tag("org/ds", tag=tag, repo_type="dataset")
        """,
    )
    assert out["tags"] == [["latent-8-v2.0.0", "refs/tags/latent-8-v2.0.0", first]]
    assert out["again"] == 409 and out["tagged"] == "version one" and out["committed"] is False
    assert out["files"] == [".gitattributes", "data/a.txt"] and out["info"] == ["data/a.txt"]
    assert out["sha"] == first and out["exists"] is True
    assert hub.tags(REPO) == {} and hub.read_file(REPO, "data/a.txt") == b"version two"


def test_resolve_serves_ranges_and_hub_headers(hub: HubServer) -> None:
    data = bytes(range(256)) * 4
    hub.create_repo(REPO)
    oid = hub.commit(REPO, {"blob.bin": data, "a.txt": b"text"}, lfs=["blob.bin"])
    url = f"/datasets/{REPO}/resolve/main/blob.bin"

    status, headers, body = _http(hub, "GET", url, {"Range": "bytes=10-19"})
    assert (status, body, headers["Content-Range"]) == (206, data[10:20], "bytes 10-19/1024")
    assert headers["Content-Length"] == "10" and headers["Accept-Ranges"] == "bytes"
    assert _http(hub, "GET", url, {"Range": "bytes=1000-"})[2] == data[1000:]
    assert _http(hub, "GET", url, {"Range": "bytes=-5"})[2] == data[-5:]
    assert _http(hub, "GET", url, {"Range": "bytes=1020-5000"})[1]["Content-Range"] == "bytes 1020-1023/1024"
    status, headers, _ = _http(hub, "GET", url, {"Range": "bytes=2000-"})
    assert status == 416 and headers["Content-Range"] == "bytes */1024"

    status, headers, body = _http(hub, "HEAD", url)
    sha = hashlib.sha256(data).hexdigest()
    assert (status, body, headers["Content-Length"], headers["X-Repo-Commit"]) == (200, b"", "1024", oid)
    assert headers["ETag"] == headers["X-Linked-Etag"] == f'"{sha}"' and headers["X-Linked-Size"] == "1024"
    status, headers, body = _http(hub, "GET", f"/datasets/{REPO}/resolve/{oid}/a.txt")
    git_oid = hashlib.sha1(b"blob 4\0text").hexdigest()
    assert (status, body, headers["ETag"]) == (200, b"text", f'"{git_oid}"') and "X-Linked-Etag" not in headers

    for path, code in (
        (f"/datasets/{REPO}/resolve/main/missing.bin", "EntryNotFound"),
        (f"/datasets/{REPO}/resolve/refs%2Fpr%2F9/blob.bin", "RevisionNotFound"),
        ("/datasets/org/nope/resolve/main/blob.bin", "RepoNotFound"),
    ):
        status, headers, _ = _http(hub, "GET", path)
        assert (status, headers.get("X-Error-Code")) == (404, code), path
    assert _http(hub, "HEAD", f"/datasets/{REPO}/resolve/main/missing.bin")[1]["X-Repo-Commit"] == oid


def test_binds_loopback_only_and_stops_quickly(tmp_path: Path) -> None:
    hub = HubServer(tmp_path / "hub").start()
    host, port = hub.server_address
    assert host == "127.0.0.1" and hub.endpoint == f"http://127.0.0.1:{port}"
    # An idle keep-alive connection (as httpx leaves them) must not hold the shutdown.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/api/datasets/org/none")
    assert conn.getresponse().read() and conn.sock is not None
    start = time.monotonic()
    hub.stop()
    assert time.monotonic() - start < 2
    conn.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert hub.errors == []
