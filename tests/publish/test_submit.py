"""Leaderboard submissions: scored on the reference test split, stored with their predictions, re-scored on verify.

Submissions are scored only on reference variants (the official MNIST encoded with shipped weights), so every
test here needs the full MNIST (``LDMNIST_MNIST_DIR``); they use the reference latent-2, encoded in seconds.
Hub clients run in subprocesses against the local Hub-protocol server (see ``hub_server``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support.cli import hub_cli
from _support.hub_server import HubServer
from _support.reference_home import encode_reference, hub_with_repo, needs_full_mnist, use_home

import ldmnist_hub as ld
from ldmnist_hub import cli
from ldmnist_hub.errors import InvalidArgumentError
from ldmnist_hub.hub.card import check_card
from ldmnist_hub.produce import reference
from ldmnist_hub.publish import submit as S
from ldmnist_hub.publish.upload import push

pytestmark = needs_full_mnist
LATENT = 2
TOKEN = "hf_writer"
REPO = "my-org/ldmnist"
LINK = "https://github.com/me/model"


@pytest.fixture(scope="session")
def reference_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ``LDMNIST_HOME`` holding the reference latent-2, encoded once per session from the full MNIST."""
    return encode_reference(tmp_path_factory, LATENT)


@pytest.fixture
def home(reference_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_home(monkeypatch, reference_home)


@pytest.fixture
def preds(home: Path, tmp_path: Path) -> Path:
    """Predictions of an honest model of ``x``: least squares fitted on train (it never sees the test ``y``)."""
    from ldmnist_hub.benchmark.baselines import linear_least_squares

    x, y, _ = ld.load_numpy(latent=LATENT, split="train", progress=False)
    test_x, _, _ = ld.load_numpy(latent=LATENT, split="test", progress=False)
    path = tmp_path / "preds.npy"
    np.save(path, linear_least_squares(x, y, test_x))
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    repo = tmp_path / "mirror"
    repo.mkdir()
    return repo


def _submit(preds: Path, repo: str | Path, name: str = "least-sq") -> S.SubmitResult:
    return S.submit(preds, name, "least squares on train", LINK, str(repo), latent=LATENT,
                    evaluator=ld.evaluate)


def test_a_folder_submission_is_pending_until_verify_accepts_it_and_the_next_push_marks_it_verified(
    preds: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _submit(preds, folder)
    expected = ld.evaluate(np.load(preds), latent=LATENT)
    entry = json.loads((folder / "submissions/pending/least-sq/entry.json").read_text())
    assert entry == result.entry
    assert entry["scores"] == {"mse": expected.mse, "reconstructed_accuracy": expected.reconstructed_accuracy}
    assert entry["n"] == 10000 and entry["config"] == "latent-2"
    assert entry["data_sha256"] == {k: v for k, v in reference.get(LATENT).record["data_sha256"]["test"].items()
                                    if k in ("y", "label")}
    assert entry["predictions_sha256"] == ld.core.digest.array_sha256(np.load(preds))
    np.testing.assert_array_equal(np.load(folder / "submissions/pending/least-sq/predictions.npy"), np.load(preds))

    assert cli.main(["leaderboard", "verify", "--repo", str(folder), "--accept"]) == 0
    out = capsys.readouterr().out
    assert "least-sq" in out and "verified" in out and "1 of 1 verified" in out
    assert (folder / "submissions/least-sq/entry.json").is_file()
    assert not (folder / "submissions/pending/least-sq").exists()
    [check] = S.verify(str(folder), evaluator=ld.evaluate)
    assert (check.name, check.status, check.ok) == ("least-sq", "accepted", True)

    push(LATENT, str(folder), evaluator=ld.evaluate, progress=False)
    card = (folder / "README.md").read_text()
    check_card(card, ["latent-2"])
    section = card.split("### Submissions", 1)[1].split("## Usage", 1)[0]
    assert "`least-sq` | submission, verified" in section and f"{expected.mse:.4f}" in section
    assert json.loads((folder / "manifest.json").read_text())["submissions"][0]["name"] == "least-sq"


def test_a_tampered_claim_or_swapped_predictions_are_flagged_and_kept_off_the_card(
    preds: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _submit(preds, folder, "edited-mse")
    _submit(preds, folder, "swapped")
    assert [r.ok for r in S.verify(str(folder), evaluator=ld.evaluate, accept=True)] == [True, True]
    path = folder / "submissions/edited-mse/entry.json"
    entry = json.loads(path.read_text())
    entry["scores"]["mse"] = 0.001
    path.write_text(json.dumps(entry))
    other = np.load(preds) * 1.1
    np.save(folder / "submissions/swapped/predictions.npy", other)

    assert cli.main(["leaderboard", "verify", "--repo", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "claimed mse 0.001" in out and "predictions digest differs" in out and "2 flagged" in out
    results = {r.name: r for r in S.verify(str(folder), evaluator=ld.evaluate)}
    assert not results["edited-mse"].ok and results["edited-mse"].claimed["mse"] == 0.001
    assert not results["swapped"].ok and "predictions digest" in results["swapped"].why
    with pytest.warns(UserWarning, match="does not verify"):
        push(LATENT, str(folder), evaluator=ld.evaluate, progress=False)
    assert "No verified submissions yet" in (folder / "README.md").read_text()


@pytest.mark.parametrize(("split", "latent", "message"), [("train", LATENT, "50000 rows but split 'test' has 10000"),
                                                           ("test", 4, "shape (n, N) = (10000, 2)")])
def test_predictions_of_another_split_or_latent_are_refused_before_anything_is_written(
    home: Path, folder: Path, tmp_path: Path, split: str, latent: int, message: str
) -> None:
    _, y, _ = ld.load_numpy(latent=latent, split=split, progress=False)
    path = tmp_path / "wrong.npy"
    np.save(path, y)
    with pytest.raises(InvalidArgumentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _submit(path, folder)
    assert list(folder.iterdir()) == []


def test_a_taken_name_or_a_malformed_one_is_refused(preds: Path, folder: Path) -> None:
    _submit(preds, folder, "mine")
    with pytest.raises(InvalidArgumentError, match="'mine' is already taken"):
        _submit(preds, folder, "mine")  # pending
    S.verify(str(folder), evaluator=ld.evaluate, accept=True)
    with pytest.raises(InvalidArgumentError, match="'mine' is already taken"):
        _submit(preds, folder, "mine")  # accepted
    for bad in ("Mine", "my model", "pending", "x" * 65, "../up"):
        with pytest.raises(InvalidArgumentError, match="is not allowed"):
            _submit(preds, folder, bad)
    with pytest.raises(InvalidArgumentError, match="link must be an http"):
        S.submit(preds, "other", "text", "not a url", str(folder), latent=LATENT, evaluator=ld.evaluate)


# ------------------------------------------------------------------------------------------------------------ Hub


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubServer]:
    with hub_with_repo(tmp_path / "hub", TOKEN, REPO) as server:
        yield server


def _cli(hub: HubServer, hf_home: Path, args: list[str]) -> tuple[int, str, str]:
    """``ldmnist ARGS`` in a subprocess talking to the test Hub: (exit code, stdout, stderr)."""
    return hub_cli(hub, hf_home, args, token=TOKEN)


def _submit_args(preds: Path, name: str) -> list[str]:
    return ["submit", "--predictions", str(preds), "--name", name, "--description", "least squares", "--link", LINK,
            "--repo", REPO, "--latent", str(LATENT), "--json"]


def test_a_hub_submission_is_a_pull_request_that_verifies_and_shows_on_the_card_once_merged(
    hub: HubServer, preds: Path, tmp_path: Path
) -> None:
    main = hub.head(REPO)
    rc, out, err = _cli(hub, tmp_path / "hf1", _submit_args(preds, "lsq"))
    assert rc == 0, err
    result: dict[str, Any] = json.loads(out)
    assert "/discussions/" in result["pull_request_url"] and hub.head(REPO) == main
    pr = {"submissions/lsq/entry.json", "submissions/lsq/predictions.npy"}
    assert pr <= set(hub.list_files(REPO, revision="refs/pr/1"))
    assert json.loads(hub.read_file(REPO, "submissions/lsq/entry.json", revision="refs/pr/1")) == result["entry"]

    rc, out, err = _cli(hub, tmp_path / "hf2", ["leaderboard", "verify", "--repo", REPO, "--revision", "refs/pr/1"])
    assert rc == 0 and "lsq" in out and "1 of 1 verified" in out, err
    rc, _, err = _cli(hub, tmp_path / "hf3", _submit_args(preds, "lsq"))  # the name is pending in the PR
    assert rc == 2 and "'lsq' is already taken" in err

    # Tampering inside the PR: a better MSE claimed than the predictions score.
    entry = dict(result["entry"], scores={**result["entry"]["scores"], "mse": 0.0001})
    hub.commit(REPO, {"submissions/lsq/entry.json": json.dumps(entry).encode()}, revision="refs/pr/1")
    rc, out, _ = _cli(hub, tmp_path / "hf4", ["leaderboard", "verify", "--repo", REPO, "--revision", "refs/pr/1"])
    assert rc == 1 and "claimed mse 0.0001" in out and "1 flagged" in out

    # The untampered entry merged to main: the next push re-scores it and marks it verified on the card.
    hub.commit(REPO, {p: hub.read_file(REPO, p, revision="refs/pr/1") for p in pr} |
               {"submissions/lsq/entry.json": json.dumps(result["entry"]).encode()})
    rc, out, err = _cli(hub, tmp_path / "hf5", ["leaderboard", "verify", "--repo", REPO])
    assert rc == 0 and "accepted" in out, err
    rc, _, err = _cli(hub, tmp_path / "hf6", ["push", "--latent", str(LATENT), "--repo", REPO, "--quiet"])
    assert rc == 0, err
    card = hub.read_file(REPO, "README.md").decode()
    check_card(card, ["latent-2"])
    assert "`lsq` | submission, verified" in card
