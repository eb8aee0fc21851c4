"""A small, real Hugging Face Hub-protocol HTTP server for offline tests.

It speaks the subset of the Hub protocol that ``huggingface_hub`` (2.x, with Xet disabled) and
``datasets`` use to create repos, push (``upload_folder``, ``create_commit``, ``push_to_hub``) and
read back (``hf_hub_download``, ``HfFileSystem``, ``load_dataset``)::

    with HubServer(tmp_path / "hub", tokens={"hf_test"}) as hub:
        env = hub_env(hub, tmp_path / "client-home")        # token defaults to one of hub.tokens
        run_client("from huggingface_hub import HfApi; HfApi().create_repo('org/ds', repo_type='dataset')", env)
        assert hub.list_files("org/ds") == [".gitattributes"]

What is modelled (all state is guarded by one lock; file contents live on disk, content-addressed):

* repos of type model / dataset / space, public or private, an initial commit with ``.gitattributes``;
* commits with 40-hex ids and full history: any revision can be ``main`` (or another branch), a
  ``refs/pr/N`` ref, a tag (``create_tag``: ``POST /api/{type}s/{repo}/tag/{revision}``, 409 if it exists;
  ``delete_tag``; listed by ``list_repo_refs``) or a (possibly abbreviated) commit id; ``create_pr=1`` commits
  open ``refs/pr/N``; a tag is never committed to;
* ``parentCommit`` (412 when the branch moved), path conflicts, missing deletions and LFS pointers to
  objects that were never uploaded are rejected like the Hub does, without touching the repo;
* per-repo LFS object sets: the batch API only asks for objects the repo does not have yet, and the
  (pre-signed) PUT checks that the bytes hash to the announced sha256 and size;
* ``/resolve`` with ``ETag``, ``X-Repo-Commit``, ``X-Linked-Etag``/``X-Linked-Size`` (LFS), ranges (206/416)
  and the ``X-Error-Code`` headers (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``) that
  ``huggingface_hub`` turns into its typed errors. LFS files are served directly (200/206), not through
  the Hub's 302 to a CDN.

Xet is not emulated, so clients must set ``HF_HUB_DISABLE_XET=1`` (``hub_env`` does). Note that this is
not the production path when ``hf_xet`` is installed: uploads then go to the Xet CAS, and ``upload_folder``
switches to a pipelined uploader that may split a folder into several commits; ``create_commit`` stays a
single atomic commit either way.

Auth: every write needs ``Authorization: Bearer <token>`` with a token from ``tokens``. Like the Hub, an
*unknown* token is rejected with 401 on every route (reads included); no token is fine for public reads.
A missing repo is a 404 and a private repo without a valid token a 401, both flagged ``RepoNotFound``
(so ``huggingface_hub`` raises ``RepositoryNotFoundError``). All tokens act as one user.

Fault injection: ``hub.fail_next_commit = True`` (or ``hub.fail_commits = n``) makes the next commit(s)
answer ``hub.fail_status`` (500) before anything changes; ``hub.fail_lfs_uploads = n`` does the same for
LFS PUT uploads. ``huggingface_hub`` does not retry ``/commit`` but *does* retry 5xx on preupload, the LFS
batch and the LFS PUT (5 retries, 1+2+4+8+8 s of sleep), so to make an upload fail fast use a 4xx
``fail_status`` (e.g. 403) for LFS failures. Every request is logged in ``hub.requests`` as
``(method, raw_path)`` (percent-encoding kept, query string dropped); unexpected server exceptions are
kept in ``hub.errors`` (tests should assert it stays empty).

Client configuration: ``huggingface_hub.constants`` and ``datasets.config`` read ``HF_ENDPOINT``,
``HF_HOME``, the cache folders and ``HF_HUB_DISABLE_XET`` once, *at import time*, and several values are
copied further (URL templates, the set of trusted Hub origins, default arguments). Patching them in an
already-importing process is fragile, so clients run in a fresh interpreter: :func:`hub_env` builds its
environment (every inherited ``HF_*``/``HUGGINGFACE*`` and proxy variable removed, Xet, telemetry and
progress bars off, all caches under ``home``) and :func:`run_client` runs ``python -c code`` in it.
One more outside call to know about: ``load_dataset`` on ``main`` without ``data_dir`` asks the dataset
viewer at ``http://datasets-server.<endpoint host>`` for exported infos; that name does not resolve, the
error is swallowed, but clients that must stay on 127.0.0.1 should set
``datasets.config.USE_PARQUET_EXPORT = False`` first.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

__all__ = ["ClientError", "HubServer", "client_json", "hub_env", "run_client"]

# Plural used in ``/api/{plural}/...`` and the prefix used in web / resolve / LFS urls, per repo type.
_API_PLURAL = {"model": "models", "dataset": "datasets", "space": "spaces"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_PLURAL_TO_TYPE = {v: k for k, v in _API_PLURAL.items()}

# The Hub stores files of 10 MB or more with LFS whatever .gitattributes says.
_LFS_SIZE_THRESHOLD = 10 * 1024 * 1024
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_REPO_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")

# What a new repo on the Hub starts with (a shortened version of the real default file).
_DEFAULT_GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in (
        "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib", "*.lz4",
        "*.mds", "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot", "*.parquet",
        "*.pb", "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors", "*.tar", "*.tflite",
        "*.tgz", "*.wasm", "*.xz", "*.zip", "*.zst", "*tfevents*",
    )
).encode()  # fmt: skip


def _now() -> str:
    """The Hub's timestamp format (``parse_datetime`` in huggingface_hub expects ``...%fZ``)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _git_blob_oid(data: bytes) -> str:
    """Git's object id of a blob (what the Hub reports as ``oid`` / ``ETag`` of a regular file)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


@dataclass(frozen=True)
class _Entry:
    """One file of a commit's tree."""

    sha256: str  # key of the content in the blob store
    size: int
    lfs: bool
    git_oid: str  # git blob id of the content, or of the LFS pointer for LFS files
    last_commit: str  # commit that last wrote this path


@dataclass
class _Commit:
    oid: str
    parent: str | None
    title: str
    message: str
    date: str
    seq: int  # global creation order, to compare "last commit" of directories
    tree: dict[str, _Entry]


@dataclass
class _Repo:
    repo_type: str
    repo_id: str
    private: bool
    created_at: str
    commits: dict[str, _Commit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # "main", "refs/pr/1", ... -> commit oid
    tags: dict[str, str] = field(default_factory=dict)  # tag name -> commit oid (never moves once created)
    lfs_objects: set[str] = field(default_factory=set)
    next_pr: int = 1


class _HttpError(Exception):
    """An error answered as ``{"error": message}`` with the Hub's error headers."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})
        self.body = dict(body or {})  # more keys of the JSON answer


@dataclass
class _Request:
    method: str
    path: str  # raw, still percent-encoded
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"{}")
        except ValueError as err:
            raise _HttpError(400, f"Invalid JSON body: {err}") from None

    def flag(self, name: str) -> bool:
        return self.query.get(name, [""])[-1].lower() in ("1", "true")


@dataclass
class _Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _json_response(obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> _Response:
    return _Response(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})})


def _take_revision(segments: list[str]) -> tuple[str, list[str]]:
    """Split raw url segments into ``(revision, rest)``.

    Clients quote the revision as one segment (``refs%2Fpr%2F1``); special refs sent unquoted
    (``refs/pr/1``) are accepted too.
    """
    if not segments or not segments[0]:
        raise _HttpError(400, "Missing revision")
    if unquote(segments[0]) == "refs" and len(segments) >= 3:
        return "refs/" + unquote(segments[1]) + "/" + unquote(segments[2]), segments[3:]
    return unquote(segments[0]), segments[1:]


def _check_path(path: str) -> str:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts) or parts[0] == ".git":
        raise _HttpError(400, f"Invalid path in repo: {path!r}")
    return path


def _matches(patterns: Iterable[str], path: str) -> bool:
    """gitattributes / gitignore style match: patterns without '/' apply to the basename."""
    base = path.rsplit("/", 1)[-1]
    for pattern in patterns:
        pattern = pattern.lstrip("/")
        if fnmatch.fnmatchcase(path, pattern) or ("/" not in pattern and fnmatch.fnmatchcase(base, pattern)):
            return True
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client connection must never block the test process from exiting
    allow_reuse_address = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Connections reset by a client, or cut by stop(), are expected; anything else is printed.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class HubServer:
    """An in-process Hub server bound to ``127.0.0.1`` on an ephemeral port.

    Args:
        root: folder holding the content-addressed blob store (created if missing).
        tokens: accepted bearer tokens.
        user: the user name every token authenticates as (default namespace of created repos).
        connection_timeout: socket timeout of each client connection, in seconds.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        tokens: Iterable[str] = ("hf_test",),
        *,
        user: str = "user",
        connection_timeout: float = 10.0,
    ) -> None:
        self.root = Path(root)
        self.tokens: set[str] = set(tokens)
        self.user = user
        self.connection_timeout = connection_timeout
        self.requests: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.fail_commits = 0
        self.fail_lfs_uploads = 0
        self.fail_status = 500
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._lock = threading.RLock()
        self._seq = 0
        self._secret = secrets.token_bytes(32)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def fail_next_commit(self) -> bool:
        """Whether the next ``/commit`` request will fail with ``fail_status`` (the repo stays unchanged)."""
        return self.fail_commits > 0

    @fail_next_commit.setter
    def fail_next_commit(self, value: bool) -> None:
        self.fail_commits = 1 if value else 0

    @property
    def server_address(self) -> tuple[str, int]:
        """``(host, port)`` the listening socket is bound to."""
        if self._httpd is None:
            raise RuntimeError("HubServer is not running")
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def endpoint(self) -> str:
        """Base url to use as ``HF_ENDPOINT``, e.g. ``http://127.0.0.1:43121``."""
        host, port = self.server_address
        return f"http://{host}:{port}"

    def start(self) -> HubServer:
        """Bind ``127.0.0.1:0`` and serve from a daemon thread."""
        if self._httpd is not None:
            raise RuntimeError("HubServer already started")
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        self._httpd = _Server(("127.0.0.1", 0), _make_handler(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="hub-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, drop open keep-alive connections and close the socket (bounded in time)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        # Handler threads block reading the next request of a keep-alive connection: wake them up.
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- server-side helpers for tests (no HTTP involved) ------------------------------------

    def create_repo(self, repo_id: str, repo_type: str = "dataset", *, private: bool = False) -> None:
        """Create a repo directly (as the Hub does: one initial commit holding ``.gitattributes``)."""
        with self._lock:
            if (repo_type, repo_id) in self._repos:
                raise ValueError(f"{repo_type} repo {repo_id} already exists")
            self._new_repo(repo_type, repo_id, private)

    def commit(
        self,
        repo_id: str,
        files: Mapping[str, bytes],
        *,
        repo_type: str = "dataset",
        revision: str = "main",
        message: str = "Server-side commit",
        delete: Iterable[str] = (),
        lfs: Iterable[str] = (),
    ) -> str:
        """Commit ``files`` (path -> bytes; paths in ``lfs`` stored as LFS) and delete ``delete``; return the oid."""
        lfs_paths = set(lfs)
        with self._lock:
            repo = self._repo_or_raise(repo_type, repo_id)
            base = repo.commits[repo.refs[revision]]
            tree = dict(base.tree)
            for path in delete:
                tree.pop(path)
            oid = self._next_oid(base.oid, message)
            for path, data in files.items():
                sha = self._store_blob(data)
                if path in lfs_paths:
                    repo.lfs_objects.add(sha)
                    tree[path] = _Entry(sha, len(data), True, _git_blob_oid(_lfs_pointer(sha, len(data))), oid)
                else:
                    tree[path] = _Entry(sha, len(data), False, _git_blob_oid(data), oid)
            self._add_commit(repo, revision, oid, base.oid, message, "", tree)
            return oid

    def list_files(self, repo_id: str, repo_type: str = "dataset", revision: str = "main") -> list[str]:
        """Sorted paths of the files at ``revision``."""
        with self._lock:
            return sorted(self._resolve(self._repo_or_raise(repo_type, repo_id), revision).tree)

    def read_file(self, repo_id: str, path: str, repo_type: str = "dataset", revision: str = "main") -> bytes:
        """Content of ``path`` at ``revision``."""
        with self._lock:
            entry = self._resolve(self._repo_or_raise(repo_type, repo_id), revision).tree[path]
        return self._read_blob(entry.sha256)

    def is_lfs(self, repo_id: str, path: str, repo_type: str = "dataset", revision: str = "main") -> bool:
        """Whether ``path`` is stored as an LFS file at ``revision``."""
        with self._lock:
            return self._resolve(self._repo_or_raise(repo_type, repo_id), revision).tree[path].lfs

    def head(self, repo_id: str, repo_type: str = "dataset", revision: str = "main") -> str:
        """Commit id that ``revision`` points to."""
        with self._lock:
            return self._resolve(self._repo_or_raise(repo_type, repo_id), revision).oid

    def history(self, repo_id: str, repo_type: str = "dataset", revision: str = "main") -> list[str]:
        """Commit ids from ``revision`` back to the initial commit (newest first)."""
        with self._lock:
            repo = self._repo_or_raise(repo_type, repo_id)
            return [c.oid for c in self._ancestors(repo, self._resolve(repo, revision))]

    def refs(self, repo_id: str, repo_type: str = "dataset") -> dict[str, str]:
        """All refs (``main``, ``refs/pr/1``, ...) and their commit ids."""
        with self._lock:
            return dict(self._repo_or_raise(repo_type, repo_id).refs)

    def tags(self, repo_id: str, repo_type: str = "dataset") -> dict[str, str]:
        """All tags and their commit ids."""
        with self._lock:
            return dict(self._repo_or_raise(repo_type, repo_id).tags)

    def tag(self, repo_id: str, tag: str, revision: str = "main", repo_type: str = "dataset") -> str:
        """Tag ``revision`` as ``tag`` directly (as a hand-made tag on the Hub would be); return the commit id."""
        with self._lock:
            repo = self._repo_or_raise(repo_type, repo_id)
            oid = self._resolve(repo, revision).oid
            repo.tags[tag] = oid
            return oid

    def delete_tag(self, repo_id: str, tag: str, repo_type: str = "dataset") -> None:
        """Remove a tag directly (KeyError if there is none)."""
        with self._lock:
            del self._repo_or_raise(repo_type, repo_id).tags[tag]

    def repo_exists(self, repo_id: str, repo_type: str = "dataset") -> bool:
        """Whether the repo exists."""
        with self._lock:
            return (repo_type, repo_id) in self._repos

    # -- storage -----------------------------------------------------------------------------

    def _blob_path(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256[:2] / sha256

    def _store_blob(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        path = self._blob_path(sha)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{sha}.{threading.get_ident()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)  # atomic: concurrent readers never see a partial blob
        return sha

    def _read_blob(self, sha256: str) -> bytes:
        return self._blob_path(sha256).read_bytes()

    def _next_oid(self, parent: str | None, message: str) -> str:
        self._seq += 1
        return hashlib.sha1(f"{parent}\n{message}\n{self._seq}\n{secrets.token_hex(8)}".encode()).hexdigest()

    def _new_repo(self, repo_type: str, repo_id: str, private: bool) -> _Repo:
        repo = _Repo(repo_type=repo_type, repo_id=repo_id, private=private, created_at=_now())
        self._repos[(repo_type, repo_id)] = repo
        oid = self._next_oid(None, "initial commit")
        sha = self._store_blob(_DEFAULT_GITATTRIBUTES)
        entry = _Entry(sha, len(_DEFAULT_GITATTRIBUTES), False, _git_blob_oid(_DEFAULT_GITATTRIBUTES), oid)
        self._add_commit(repo, "main", oid, None, "initial commit", "", {".gitattributes": entry})
        return repo

    def _add_commit(
        self, repo: _Repo, ref: str, oid: str, parent: str | None, title: str, message: str, tree: dict[str, _Entry]
    ) -> _Commit:
        commit = _Commit(oid, parent, title, message, _now(), self._seq, tree)
        repo.commits[oid] = commit
        repo.refs[ref] = oid
        return commit

    def _repo_or_raise(self, repo_type: str, repo_id: str) -> _Repo:
        repo = self._repos.get((repo_type, repo_id))
        if repo is None:
            raise KeyError(f"{repo_type} repo {repo_id} does not exist")
        return repo

    def _resolve(self, repo: _Repo, revision: str | None) -> _Commit:
        rev = revision or "main"
        if rev.startswith("refs/heads/"):
            rev = rev[len("refs/heads/") :]
        if rev in repo.refs:
            return repo.commits[repo.refs[rev]]
        tag = rev[len("refs/tags/") :] if rev.startswith("refs/tags/") else rev
        if tag in repo.tags:
            return repo.commits[repo.tags[tag]]
        if re.fullmatch(r"[0-9a-f]{7,40}", rev):
            found = [c for oid, c in repo.commits.items() if oid.startswith(rev)]
            if len(found) == 1:
                return found[0]
        raise _HttpError(404, f"Invalid rev id: {rev}", code="RevisionNotFound")

    def _ancestors(self, repo: _Repo, commit: _Commit) -> list[_Commit]:
        out = [commit]
        while out[-1].parent is not None:
            out.append(repo.commits[out[-1].parent])
        return out

    def _url(self, repo: _Repo) -> str:
        return f"{self.endpoint}/{_URL_PREFIX[repo.repo_type]}{repo.repo_id}"

    # -- auth --------------------------------------------------------------------------------

    def _user(self, req: _Request) -> str | None:
        """The authenticated user, None without token; 401 for an unknown token (the Hub does the same)."""
        header = req.headers.get("Authorization")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in self.tokens:
            raise _HttpError(401, "Invalid credentials in Authorization header")
        return self.user

    def _require_user(self, req: _Request) -> str:
        user = self._user(req)
        if user is None:
            raise _HttpError(401, "You must be authenticated to access this resource (missing Authorization header)")
        return user

    def _get_repo(self, req: _Request, repo_type: str, repo_id: str, *, write: bool = False) -> _Repo:
        user = self._require_user(req) if write else self._user(req)
        repo = self._repos.get((repo_type, repo_id))
        if repo is None:
            raise _HttpError(404, "Repository not found", code="RepoNotFound")
        if repo.private and user is None:
            # The Hub answers 401 here; RepoNotFound makes huggingface_hub raise RepositoryNotFoundError.
            raise _HttpError(401, "Repository not found", code="RepoNotFound")
        return repo

    # -- routing -----------------------------------------------------------------------------

    def _handle(self, req: _Request) -> _Response:
        segments = req.path.strip("/").split("/")
        if segments[0] == "api":
            return self._route_api(req, segments[1:])
        if segments[0] == "_lfs":
            return self._route_lfs_transfer(req, segments[1:])
        repo_type = "model"
        if segments[0] in ("datasets", "spaces"):
            repo_type, segments = _PLURAL_TO_TYPE[segments[0]], segments[1:]
        if len(segments) == 6 and segments[1].endswith(".git") and segments[2:] == ["info", "lfs", "objects", "batch"]:
            if req.method != "POST":
                raise _HttpError(405, "Method not allowed")
            return self._lfs_batch(req, repo_type, f"{unquote(segments[0])}/{unquote(segments[1][:-4])}")
        if len(segments) >= 4 and segments[2] == "resolve" and req.method in ("GET", "HEAD"):
            repo_id = f"{unquote(segments[0])}/{unquote(segments[1])}"
            return self._resolve_file(req, repo_type, repo_id, segments[3:])
        raise _HttpError(404, f"Route not found: {req.method} {req.path}")

    def _route_api(self, req: _Request, seg: list[str]) -> _Response:
        method = req.method
        if seg == ["repos", "create"] and method == "POST":
            return self._create_repo(req)
        if seg == ["repos", "delete"] and method == "DELETE":
            return self._delete_repo(req)
        if seg == ["validate-yaml"] and method == "POST":
            return self._validate_yaml(req)
        if seg == ["whoami-v2"] and method == "GET":
            user = self._require_user(req)
            return _json_response({"type": "user", "name": user, "fullname": user, "orgs": [], "auth": {}})
        if seg == ["agent-harnesses"] and method == "GET":
            return _json_response({"standardEnvVars": [], "harnesses": {}})
        if len(seg) < 3 or seg[0] not in _PLURAL_TO_TYPE:
            raise _HttpError(404, f"Route not found: {method} {req.path}")
        repo_type, repo_id, rest = _PLURAL_TO_TYPE[seg[0]], f"{unquote(seg[1])}/{unquote(seg[2])}", seg[3:]
        action = rest[0] if rest else ""
        with self._lock:
            if action == "" and method == "GET":
                repo = self._get_repo(req, repo_type, repo_id)
                return _json_response(self._info_json(repo, self._resolve(repo, None), req))
            if action == "revision" and method == "GET":
                repo = self._get_repo(req, repo_type, repo_id)
                revision, _ = _take_revision(rest[1:])
                return _json_response(self._info_json(repo, self._resolve(repo, revision), req))
            if action == "tree" and method == "GET":
                repo = self._get_repo(req, repo_type, repo_id)
                revision, path_segments = _take_revision(rest[1:])
                path = unquote("/".join(path_segments)).strip("/")
                return self._tree(req, repo, self._resolve(repo, revision), path)
            if action == "paths-info" and method == "POST":
                repo = self._get_repo(req, repo_type, repo_id)
                revision, _ = _take_revision(rest[1:])
                return self._paths_info(req, repo, self._resolve(repo, revision))
            if action == "preupload" and method == "POST":
                repo = self._get_repo(req, repo_type, repo_id, write=True)
                revision, _ = _take_revision(rest[1:])
                return self._preupload(req, repo, revision)
            if action == "commit" and method == "POST":
                repo = self._get_repo(req, repo_type, repo_id, write=True)
                revision, _ = _take_revision(rest[1:])
                return self._commit(req, repo, revision)
            if action == "commits" and method == "GET":
                repo = self._get_repo(req, repo_type, repo_id)
                revision, _ = _take_revision(rest[1:])
                return self._commits(repo, self._resolve(repo, revision))
            if action == "refs" and method == "GET":
                return self._refs(req, self._get_repo(req, repo_type, repo_id))
            if action == "tag" and method in ("POST", "DELETE"):
                repo = self._get_repo(req, repo_type, repo_id, write=True)
                return self._tag(req, repo, rest[1:])
            if action == "branch" and method in ("POST", "DELETE"):
                repo = self._get_repo(req, repo_type, repo_id, write=True)
                return self._branch(req, repo, unquote("/".join(rest[1:])))
            if action == "settings" and method == "PUT":
                repo = self._get_repo(req, repo_type, repo_id, write=True)
                visibility = req.json().get("visibility")
                if visibility in ("public", "private"):
                    repo.private = visibility == "private"
                elif "private" in req.json():
                    repo.private = bool(req.json()["private"])
                return _json_response({})
        raise _HttpError(404, f"Route not found: {method} {req.path}")

    # -- repos -------------------------------------------------------------------------------

    def _create_repo(self, req: _Request) -> _Response:
        user = self._require_user(req)
        body = req.json()
        repo_type = body.get("type") or "model"
        name, org = body.get("name"), body.get("organization") or user
        if repo_type not in _API_PLURAL:
            raise _HttpError(400, f"Invalid repo type: {repo_type!r}")
        for part in (name, org):
            if not isinstance(part, str) or not _REPO_NAME_RE.fullmatch(part) or "--" in part or ".." in part:
                raise _HttpError(400, f"Invalid repo name: {org}/{name}")
        repo_id = f"{org}/{name}"
        private = body.get("visibility") == "private" or body.get("private") is True
        with self._lock:
            existing = self._repos.get((repo_type, repo_id))
            if existing is not None:
                url = self._url(existing)
                # create_repo(exist_ok=True) reads "url" from the 409 answer, as the real Hub sends it.
                raise _HttpError(409, f"You already created this {repo_type} repo", headers={"X-Repo-Url": url},
                                 body={"url": url})
            repo = self._new_repo(repo_type, repo_id, private)
            return _json_response({"url": self._url(repo), "name": repo_id, "id": repo_id})

    def _delete_repo(self, req: _Request) -> _Response:
        user = self._require_user(req)
        body = req.json()
        repo_id = f"{body.get('organization') or user}/{body.get('name')}"
        with self._lock:
            if self._repos.pop((body.get("type") or "model", repo_id), None) is None:
                raise _HttpError(404, "Repository not found", code="RepoNotFound")
        return _json_response({})

    def _validate_yaml(self, req: _Request) -> _Response:
        self._user(req)  # an unknown token is rejected, no token is fine
        content = req.json().get("content")
        if not isinstance(content, str):
            return _json_response({"errors": [{"message": "'content' must be a string"}], "warnings": []}, 400)
        metadata, error = _front_matter(content)
        if error:
            return _json_response({"errors": [{"message": error}], "warnings": []}, 400)
        if metadata is not None and not isinstance(metadata, dict):
            return _json_response({"errors": [{"message": "metadata must be a YAML mapping"}], "warnings": []}, 400)
        return _json_response({"errors": [], "warnings": []})

    def _info_json(self, repo: _Repo, commit: _Commit, req: _Request) -> dict[str, Any]:
        blobs = req.flag("blobs")
        siblings: list[dict[str, Any]] = []
        for path, entry in sorted(commit.tree.items()):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                sibling.update(size=entry.size, blobId=entry.git_oid)
                if entry.lfs:
                    sibling["lfs"] = {
                        "sha256": entry.sha256,
                        "size": entry.size,
                        "pointerSize": len(_lfs_pointer(entry.sha256, entry.size)),
                    }
            siblings.append(sibling)
        info: dict[str, Any] = {
            "_id": hashlib.sha1(f"{repo.repo_type}/{repo.repo_id}".encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.oid,
            "lastModified": commit.date,
            "createdAt": repo.created_at,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": siblings,
            "usedStorage": sum(e.size for e in commit.tree.values()),
        }
        if repo.repo_type == "model":
            info["modelId"] = repo.repo_id
        readme = commit.tree.get("README.md")
        if readme is not None:
            card, _ = _front_matter(self._read_blob(readme.sha256).decode("utf-8", "replace"))
            if isinstance(card, dict):
                info["cardData"] = card
        expand = req.query.get("expand", []) + req.query.get("expand[]", [])
        if expand:
            keep = set(expand) | {"_id", "id"}
            info = {k: v for k, v in info.items() if k in keep}
        return info

    def _refs(self, req: _Request, repo: _Repo) -> _Response:
        branches, prs = [], []
        for name, oid in sorted(repo.refs.items()):
            if name.startswith("refs/pr/"):
                prs.append({"name": name, "ref": name, "targetCommit": oid})
            else:
                branches.append({"name": name, "ref": f"refs/heads/{name}", "targetCommit": oid})
        tags = [{"name": t, "ref": f"refs/tags/{t}", "targetCommit": oid} for t, oid in sorted(repo.tags.items())]
        out: dict[str, Any] = {"branches": branches, "converts": [], "tags": tags}
        if req.flag("include_prs"):
            out["pullRequests"] = prs
        return _json_response(out)

    def _branch(self, req: _Request, repo: _Repo, branch: str) -> _Response:
        if not branch or branch.startswith("refs/"):
            raise _HttpError(400, f"Invalid branch name: {branch!r}")
        if req.method == "DELETE":
            if branch == "main":
                raise _HttpError(403, "Cannot delete the main branch")
            if repo.refs.pop(branch, None) is None:
                raise _HttpError(404, f"Invalid rev id: {branch}", code="RevisionNotFound")
            return _json_response({})
        if branch in repo.refs:
            raise _HttpError(409, f"Reference already exists: refs/heads/{branch}")
        start = req.json().get("startingPoint")
        repo.refs[branch] = self._resolve(repo, start).oid
        return _json_response({})

    def _tag(self, req: _Request, repo: _Repo, rest: list[str]) -> _Response:
        """``POST .../tag/{revision}`` with ``{"tag": name}`` creates a tag; ``DELETE .../tag/{name}`` removes one."""
        if req.method == "DELETE":
            name = unquote("/".join(rest))
            if repo.tags.pop(name, None) is None:
                raise _HttpError(404, f"Invalid rev id: {name}", code="RevisionNotFound")
            return _json_response({})
        revision, _ = _take_revision(rest)
        name = req.json().get("tag")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", name) or ".." in name:
            raise _HttpError(400, f"Invalid tag name: {name!r}")
        commit = self._resolve(repo, revision)
        if name in repo.tags:
            raise _HttpError(409, f"Reference already exists: refs/tags/{name}")
        repo.tags[name] = commit.oid
        return _json_response({})

    def _commits(self, repo: _Repo, commit: _Commit) -> _Response:
        return _json_response(
            [
                {
                    "id": c.oid,
                    "title": c.title,
                    "message": c.message,
                    "authors": [{"user": self.user}],
                    "date": c.date,
                }
                for c in self._ancestors(repo, commit)
            ]
        )

    # -- listing -----------------------------------------------------------------------------

    def _folders(self, commit: _Commit) -> dict[str, list[str]]:
        """Every folder of the tree -> the files below it (recursively)."""
        folders: dict[str, list[str]] = {}
        for path in commit.tree:
            parts = path.split("/")
            for i in range(1, len(parts)):
                folders.setdefault("/".join(parts[:i]), []).append(path)
        return folders

    def _file_json(self, repo: _Repo, path: str, entry: _Entry, expand: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "file", "oid": entry.git_oid, "size": entry.size, "path": path}
        if entry.lfs:
            pointer_size = len(_lfs_pointer(entry.sha256, entry.size))
            out["lfs"] = {"oid": entry.sha256, "size": entry.size, "pointerSize": pointer_size}
        if expand:
            last = repo.commits[entry.last_commit]
            out["lastCommit"] = {"id": last.oid, "title": last.title, "date": last.date}
        return out

    def _folder_json(self, repo: _Repo, commit: _Commit, path: str, files: list[str], expand: bool) -> dict[str, Any]:
        digest = hashlib.sha1("".join(f"{p}\0{commit.tree[p].git_oid}\n" for p in sorted(files)).encode())
        out: dict[str, Any] = {"type": "directory", "oid": digest.hexdigest(), "size": 0, "path": path}
        if expand:
            last = max((repo.commits[commit.tree[p].last_commit] for p in files), key=lambda c: c.seq)
            out["lastCommit"] = {"id": last.oid, "title": last.title, "date": last.date}
        return out

    def _tree(self, req: _Request, repo: _Repo, commit: _Commit, path: str) -> _Response:
        recursive, expand = req.flag("recursive"), req.flag("expand")
        folders = self._folders(commit)
        if path and path not in folders:
            raise _HttpError(404, f"Entry not found: {path}", code="EntryNotFound")
        prefix = f"{path}/" if path else ""

        def wanted(p: str) -> bool:
            return p.startswith(prefix) and (recursive or "/" not in p[len(prefix) :])

        # The Hub lists folders before files ("tree first"); no pagination is needed at test sizes.
        out = [self._folder_json(repo, commit, p, files, expand) for p, files in sorted(folders.items()) if wanted(p)]
        out += [self._file_json(repo, p, e, expand) for p, e in sorted(commit.tree.items()) if wanted(p)]
        return _json_response(out)

    def _paths_info(self, req: _Request, repo: _Repo, commit: _Commit) -> _Response:
        # huggingface_hub posts a form (paths=a&paths=b&expand=false); other clients send JSON.
        if "json" in req.headers.get("Content-Type", ""):
            body = req.json()
            paths, expand = body.get("paths", []), bool(body.get("expand"))
        else:
            form = parse_qs(req.body.decode(), keep_blank_values=True)
            paths, expand = form.get("paths", []), form.get("expand", ["false"])[-1].lower() in ("1", "true")
        folders = self._folders(commit)
        out = []
        for path in paths if isinstance(paths, list) else [paths]:
            path = str(path).strip("/")
            if path in commit.tree:
                out.append(self._file_json(repo, path, commit.tree[path], expand))
            elif path in folders:
                out.append(self._folder_json(repo, commit, path, folders[path], expand))
        return _json_response(out)

    # -- upload ------------------------------------------------------------------------------

    def _text_file(self, commit: _Commit, path: str) -> str:
        entry = commit.tree.get(path)
        return self._read_blob(entry.sha256).decode("utf-8", "replace") if entry is not None else ""

    def _preupload(self, req: _Request, repo: _Repo, revision: str) -> _Response:
        commit = self._resolve(repo, revision)
        body = req.json()
        lfs_patterns = [
            line.split()[0]
            for line in self._text_file(commit, ".gitattributes").splitlines()
            if "filter=lfs" in line.split()[1:]
        ]
        gitignore = body.get("gitIgnore")
        if gitignore is None:
            gitignore = self._text_file(commit, ".gitignore")
        ignore_patterns = [ln.strip() for ln in gitignore.splitlines() if ln.strip() and not ln.startswith("#")]
        files = body.get("files")
        if not isinstance(files, list):
            raise _HttpError(400, "'files' must be a list")
        out = []
        for item in files:
            path = _check_path(str(item.get("path", "")))
            size = int(item.get("size", 0))
            sample = base64.b64decode(item.get("sample", ""))
            # Like the Hub: LFS for big files, files tracked by .gitattributes and binary content.
            lfs = size >= _LFS_SIZE_THRESHOLD or _matches(lfs_patterns, path) or b"\0" in sample
            entry = commit.tree.get(path)
            remote_oid = None if entry is None else (entry.sha256 if entry.lfs else entry.git_oid)
            out.append(
                {
                    "path": path,
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": _matches(ignore_patterns, path),
                    "oid": remote_oid,
                }
            )
        return _json_response({"files": out, "commitOid": commit.oid})

    def _commit(self, req: _Request, repo: _Repo, revision: str) -> _Response:
        lines = [json.loads(line) for line in req.body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise _HttpError(400, "The first NDJSON line must be the commit header")
        header = lines[0].get("value", {})
        title = str(header.get("summary") or "").strip()
        if not title:
            raise _HttpError(400, "Commit summary is required")
        parent = header.get("parentCommit")
        create_pr = req.flag("create_pr")

        if self.fail_commits > 0:
            self.fail_commits -= 1
            raise _HttpError(self.fail_status, "Injected commit failure (HubServer.fail_commits)")

        if create_pr:
            base = self._resolve(repo, parent or revision)
            ref = f"refs/pr/{repo.next_pr}"
        else:
            if revision.startswith("refs/heads/"):
                revision = revision[len("refs/heads/") :]
            if revision not in repo.refs:
                self._resolve(repo, revision)  # 404 RevisionNotFound if it is not even a commit
                raise _HttpError(400, f"Cannot commit to {revision!r}: not a branch")
            base, ref = repo.commits[repo.refs[revision]], revision
            if parent is not None and not base.oid.startswith(str(parent)):
                raise _HttpError(412, "A commit has happened since. Please refresh and try again.")

        oid = self._next_oid(base.oid, title)
        tree = self._apply_operations(repo, dict(base.tree), lines[1:], oid)
        commit = self._add_commit(repo, ref, oid, base.oid, title, str(header.get("description") or ""), tree)
        pr_url = None
        if create_pr:
            pr_url = f"{self._url(repo)}/discussions/{repo.next_pr}"
            repo.next_pr += 1
        return _json_response(
            {
                "success": True,
                "commitOid": commit.oid,
                "commitUrl": f"{self._url(repo)}/commit/{commit.oid}",
                "pullRequestUrl": pr_url,
                "hookOutput": "",
            }
        )

    def _apply_operations(
        self, repo: _Repo, tree: dict[str, _Entry], operations: list[dict[str, Any]], oid: str
    ) -> dict[str, _Entry]:
        """Apply NDJSON operations to a copy of a tree; any invalid operation aborts the whole commit."""
        for op in operations:
            key, value = op.get("key"), op.get("value") or {}
            path = str(value.get("path", "")).strip()
            path = _check_path(path.rstrip("/") if key == "deletedFolder" else path)  # folders are sent as "dir/"
            if key == "file":
                content = value.get("content", "")
                data = base64.b64decode(content) if value.get("encoding") == "base64" else str(content).encode()
                tree[path] = _Entry(self._store_blob(data), len(data), False, _git_blob_oid(data), oid)
            elif key == "lfsFile":
                sha = str(value.get("oid", ""))
                if value.get("algo", "sha256") != "sha256" or not _SHA256_RE.fullmatch(sha):
                    raise _HttpError(400, f"Invalid LFS oid for {path!r}")
                if sha not in repo.lfs_objects:
                    raise _HttpError(
                        422, f"Your push was rejected: LFS object {sha} ({path}) was not uploaded to this repo"
                    )
                size = self._blob_path(sha).stat().st_size
                if value.get("size") is not None and int(value["size"]) != size:
                    raise _HttpError(400, f"LFS size mismatch for {path!r}: {value['size']} != {size}")
                tree[path] = _Entry(sha, size, True, _git_blob_oid(_lfs_pointer(sha, size)), oid)
            elif key == "deletedFile":
                if tree.pop(path, None) is None:
                    raise _HttpError(404, f"A file with this name doesn't exist: {path}", code="EntryNotFound")
            elif key == "deletedFolder":
                below = [p for p in tree if p.startswith(path + "/")]
                if not below:
                    raise _HttpError(404, f"A folder with this name doesn't exist: {path}", code="EntryNotFound")
                for p in below:
                    del tree[p]
            else:
                raise _HttpError(400, f"Unknown commit operation: {key!r}")
        for path in tree:
            parts = path.split("/")
            for i in range(1, len(parts)):
                if "/".join(parts[:i]) in tree:
                    raise _HttpError(400, f"Path conflict: {'/'.join(parts[:i])!r} is a file, cannot create {path!r}")
        return tree

    # -- LFS ---------------------------------------------------------------------------------

    def _sign(self, *parts: str) -> str:
        return hmac.new(self._secret, "\n".join(parts).encode(), hashlib.sha256).hexdigest()

    def _lfs_batch(self, req: _Request, repo_type: str, repo_id: str) -> _Response:
        body = req.json()
        operation = body.get("operation")
        if operation not in ("upload", "download"):
            raise _HttpError(400, f"Unsupported LFS operation: {operation!r}")
        with self._lock:
            repo = self._get_repo(req, repo_type, repo_id, write=operation == "upload")
            present = set(repo.lfs_objects)
        objects = []
        for obj in body.get("objects", []):
            oid, size = str(obj.get("oid", "")), obj.get("size")
            if not _SHA256_RE.fullmatch(oid) or not isinstance(size, int) or size < 0:
                error = {"code": 422, "message": "Invalid oid or size"}
                objects.append({"oid": oid, "size": size if isinstance(size, int) else 0, "error": error})
                continue
            base = f"{self.endpoint}/_lfs"
            sig = self._sign(repo_type, repo_id, oid, str(size))
            tail = f"{repo_type}/{quote(repo_id)}/{oid}?size={size}&sig={sig}"
            if operation == "upload":
                if oid in present:
                    objects.append({"oid": oid, "size": size})  # already there: no actions, nothing to send
                    continue
                actions = {
                    "upload": {"href": f"{base}/upload/{tail}", "expires_in": 3600},
                    "verify": {"href": f"{base}/verify/{repo_type}/{quote(repo_id)}", "expires_in": 3600},
                }
            elif oid in present:
                actions = {"download": {"href": f"{base}/download/{tail}", "expires_in": 3600}}
            else:
                objects.append({"oid": oid, "size": size, "error": {"code": 404, "message": "Object does not exist"}})
                continue
            objects.append({"oid": oid, "size": size, "authenticated": True, "actions": actions})
        return _json_response(
            {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
            headers={"Content-Type": "application/vnd.git-lfs+json"},
        )

    def _route_lfs_transfer(self, req: _Request, seg: list[str]) -> _Response:
        """Our stand-in for S3: pre-signed upload / download urls, and the authenticated verify call."""
        if len(seg) == 4 and seg[0] == "verify" and req.method == "POST":
            repo_type, repo_id = seg[1], f"{unquote(seg[2])}/{unquote(seg[3])}"
            body = req.json()
            with self._lock:
                repo = self._get_repo(req, repo_type, repo_id, write=True)
                ok = body.get("oid") in repo.lfs_objects
            if not ok or self._blob_path(str(body.get("oid"))).stat().st_size != body.get("size"):
                raise _HttpError(422, f"LFS object {body.get('oid')} was not uploaded")
            return _json_response({"success": True})
        if len(seg) != 5 or seg[0] not in ("upload", "download"):
            raise _HttpError(404, f"Route not found: {req.method} {req.path}")
        repo_type, repo_id, oid = seg[1], f"{unquote(seg[2])}/{unquote(seg[3])}", seg[4]
        size = req.query.get("size", ["-1"])[-1]
        if not hmac.compare_digest(req.query.get("sig", [""])[-1], self._sign(repo_type, repo_id, oid, size)):
            raise _HttpError(403, "Invalid or missing signature")
        with self._lock:
            repo = self._repos.get((repo_type, repo_id))
            if repo is None:
                raise _HttpError(404, "Repository not found", code="RepoNotFound")
        if seg[0] == "download" and req.method == "GET":
            return _Response(200, self._read_blob(oid), {"Content-Type": "application/octet-stream"})
        if seg[0] != "upload" or req.method != "PUT":
            raise _HttpError(405, "Method not allowed")
        with self._lock:
            if self.fail_lfs_uploads > 0:
                self.fail_lfs_uploads -= 1
                raise _HttpError(self.fail_status, "Injected LFS upload failure (HubServer.fail_lfs_uploads)")
        if len(req.body) != int(size):
            raise _HttpError(400, f"Size mismatch: got {len(req.body)} bytes, expected {size}")
        if hashlib.sha256(req.body).hexdigest() != oid:
            raise _HttpError(400, "sha256 of the uploaded content does not match the LFS oid")
        self._store_blob(req.body)
        with self._lock:
            repo.lfs_objects.add(oid)
        return _Response(200, b"", {"ETag": f'"{oid}"'})

    # -- download ----------------------------------------------------------------------------

    def _resolve_file(self, req: _Request, repo_type: str, repo_id: str, seg: list[str]) -> _Response:
        with self._lock:
            repo = self._get_repo(req, repo_type, repo_id)
            revision, path_segments = _take_revision(seg)
            commit = self._resolve(repo, revision)
            path = unquote("/".join(path_segments))
            entry = commit.tree.get(path)
        headers = {"X-Repo-Commit": commit.oid}
        if entry is None:
            raise _HttpError(404, f"Entry not found: {path}", code="EntryNotFound", headers=headers)
        etag = entry.sha256 if entry.lfs else entry.git_oid
        headers.update(
            {
                "ETag": f'"{etag}"',
                "Accept-Ranges": "bytes",
                "Content-Type": "application/octet-stream",
                "Content-Disposition": f'inline; filename="{quote(path.rsplit("/", 1)[-1])}"',
            }
        )
        if entry.lfs:
            headers.update({"X-Linked-Etag": f'"{entry.sha256}"', "X-Linked-Size": str(entry.size)})
        size = entry.size
        byte_range = _parse_range(req.headers.get("Range"), size)
        if byte_range is None:
            headers["Content-Length"] = str(size)
            data = b"" if req.method == "HEAD" else self._read_blob(entry.sha256)
            return _Response(200, data, headers)
        start, end = byte_range
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(end - start + 1)
        data = b"" if req.method == "HEAD" else self._read_blob(entry.sha256)[start : end + 1]
        return _Response(206, data, headers)


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end)`` (inclusive) of a single ``bytes=`` range; None to serve the whole file; 416 if unsatisfiable."""
    if not header:
        return None
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if match is None or match.group(1) == match.group(2) == "":
        return None  # malformed or multi-range: ignoring Range is allowed by RFC 9110
    if match.group(1) == "":
        length = int(match.group(2))
        start, end = max(size - length, 0), size - 1
        if length == 0:
            start = size
    else:
        start = int(match.group(1))
        end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
    if start >= size or start > end:
        raise _HttpError(416, "Requested range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
    return start, end


def _front_matter(content: str) -> tuple[Any, str | None]:
    """``(metadata, error)`` of a README's YAML block; metadata is None without block (or without PyYAML)."""
    if not content.startswith("---"):
        return None, None
    match = re.match(r"^---[ \t]*\r?\n(.*?\r?\n)?---[ \t]*(\r?\n|$)", content, re.DOTALL)
    if match is None:
        return None, "Unterminated YAML front matter (missing closing '---')"
    try:
        import yaml  # PyYAML ships with huggingface_hub / datasets; optional here
    except ImportError:
        return None, None
    try:
        return yaml.safe_load(match.group(1) or "") or {}, None
    except yaml.YAMLError as err:
        return None, f"Invalid YAML in README.md metadata: {err}"


def _make_handler(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects; every answer carries Content-Length
        server_version = "HubServer/1.0"
        timeout = hub.connection_timeout

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes: without NODELAY, Nagle + delayed ACK add ~40 ms per request.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with hub._lock:
                hub._connections.add(self.connection)

        def finish(self) -> None:
            with hub._lock:
                hub._connections.discard(self.connection)
            super().finish()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the request log is hub.requests

        def do_GET(self) -> None:
            self._serve()

        def do_HEAD(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PUT(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def _read_body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline().strip():  # trailers, then the final CRLF
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _serve(self) -> None:
            url = urlsplit(self.path)
            hub.requests.append((self.command, url.path))
            try:
                # Always drain the body first: an early error must not leave bytes on a keep-alive connection.
                body = self._read_body()
                req = _Request(self.command, url.path, parse_qs(url.query, keep_blank_values=True), self.headers, body)
                response = hub._handle(req)
            except _HttpError as err:
                response = _json_response({"error": err.message, **err.body}, err.status, err.headers)
                # Header values must be latin-1 and single-line.
                response.headers["X-Error-Message"] = err.message.encode("ascii", "replace").decode().replace("\n", " ")
                if err.code:
                    response.headers["X-Error-Code"] = err.code
            except Exception as err:  # a server bug: answer 500 and keep the traceback for the test
                hub.errors.append(traceback.format_exc())
                response = _json_response({"error": f"Internal server error: {err!r}"}, 500)
            self.send_response(response.status)
            headers = {"Content-Length": str(len(response.body)), **response.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD" and response.body:
                self.wfile.write(response.body)

    return Handler


# -- clients -----------------------------------------------------------------------------------


class ClientError(RuntimeError):
    """A client subprocess failed; ``proc`` holds its output."""

    def __init__(self, message: str, proc: subprocess.CompletedProcess[str]) -> None:
        super().__init__(message)
        self.proc = proc


def hub_env(
    hub: HubServer,
    home: str | os.PathLike[str],
    token: str | None = None,
    *,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Full environment for a client process talking to ``hub``, with every HF cache under ``home``.

    Args:
        hub: the running server.
        home: ``HF_HOME`` of the client (a fresh folder gives a fresh cache).
        token: ``HF_TOKEN``; None uses one of ``hub.tokens``, ``""`` runs without any token.
        extra: more variables to set.
    """
    home = Path(home)
    env = {
        key: value
        for key, value in os.environ.items()
        # Inherited HF settings (offline mode, caches, tokens, staging) and proxies would leak into the client.
        if not key.upper().startswith(("HF_", "HUGGINGFACE", "HUGGING_FACE")) and not key.lower().endswith("_proxy")
    }
    env.update(
        {
            "HF_ENDPOINT": hub.endpoint,
            "HF_HUB_DISABLE_XET": "1",  # Xet would upload to a CAS service this server does not emulate
            "HF_HOME": str(home),
            "HF_HUB_CACHE": str(home / "hub"),
            "HF_ASSETS_CACHE": str(home / "assets"),
            "HF_XET_CACHE": str(home / "xet"),
            "HF_DATASETS_CACHE": str(home / "datasets"),
            "HF_MODULES_CACHE": str(home / "modules"),
            "HF_TOKEN_PATH": str(home / "token"),
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_UPDATE_CHECK": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_DISABLE_SYMLINKS_WARNING": "1",
            "HF_HUB_DISABLE_EXPERIMENTAL_WARNING": "1",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    if token is None:
        token = sorted(hub.tokens)[0] if hub.tokens else ""
    if token:
        env["HF_TOKEN"] = token
    env.update(extra or {})
    return env


def run_client(
    code: str, env: Mapping[str, str], timeout: float = 120, cwd: str | os.PathLike[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code`` with ``env``; raise :class:`ClientError` (with its output) unless it exits 0."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise ClientError(
            f"client exited with {proc.returncode}\n--- stdout ---\n{proc.stdout[-4000:]}"
            f"\n--- stderr ---\n{proc.stderr[-8000:]}",
            proc,
        )
    return proc


def client_json(proc: subprocess.CompletedProcess[str]) -> Any:
    """The JSON value printed on the last line of a client's stdout."""
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if not lines:
        raise ClientError(f"client printed nothing\n--- stderr ---\n{proc.stderr[-8000:]}", proc)
    return json.loads(lines[-1])
