"""Issues #18 and #27's leaderboard bars: a leak of the test ``y`` is never accepted or shown; honest entries are.

Entries for the reference latent-8 (the full MNIST): 20 honest models of ``x`` (least squares, least squares
on 5 bootstrap resamples of train, ridge at 4 penalties, kNN at 5 k, the 3-FC MLP at 4 lengths, the train
mean); label leaks (the oracle, the class VAE's mean of the true class; least squares moved 70% of the way to
it, accuracy 0.9996; the class means of the test ``y`` itself, whole and 70%); and leaks of ``y`` (whole; mixed
into least squares and the 150-epoch MLP as ``p + a(y - p)``, a = 0.0125, 0.05 and 0.1; least squares with the
2 components whose error most exceeds their noise moved 70% of the way to ``y``; one such component copied).
Each goes through the real paths twice:

- a folder repo: ``submit`` (whose own leak check must refuse every leak; leaks are then planted by a
  patched client, as an attacker would), ``verify --accept``, then a push and its card;
- the Hub test server (``tests/_support/hub_server.py``, in this process): every entry a pull request
  judged by ``verify --revision refs/pr/N``; then every pull request merged regardless (a careless
  maintainer) and a push, whose card must list only what re-verifies.

Prints one row per entry (kind, the leaderboard's MSE on 16 secret draws, the canonical MSE, the per-component
noise z-scores and their total, the verdicts, accepted, on the cards), the detection figures of the
per-component test (``--detection``: the smallest leak ``p + a(y - p)`` into one component of least squares
that is flagged, per component; the uniform leak's z against the same number of drawn ``y``, the paired test
the noise test replaced; the scatter of one draw's MSE) and the bars: false flags among honest entries 0 of 20,
leaks accepted or on a card 0, label leaks never plainly verified. The folder verify's draws are chosen at
random, as ``verify`` does (printed; ``--draw-seeds`` repeats a run's draws).

Usage:
    LDMNIST_MNIST_DIR=/work/shared/data/mnist python benchmarks/leak_check.py [--draw-seeds S ...] [--out r.json]
    LDMNIST_MNIST_DIR=/work/shared/data/mnist python benchmarks/leak_check.py --detection-only
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests"))
from _support.hub_server import HubServer, hub_env  # noqa: E402
from bars import report  # noqa: E402

LATENT = 8
REPO = "bench/ldmnist"
TOKEN = "hf_bench"
LINK = "https://example.org/model"


def entries() -> list[tuple[str, str, np.ndarray]]:
    """``(name, kind, predictions)`` of every entry: honest, at the floor, leak."""
    import ldmnist_hub as ld
    from ldmnist_hub.benchmark import baselines
    from ldmnist_hub.scoring.codecs import class_means

    x, y, _ = ld.load_numpy(latent=LATENT, split="train", progress=False)
    test_x, test_y, label = ld.load_numpy(latent=LATENT, split="test", progress=False)
    out: list[tuple[str, str, np.ndarray]] = []
    lsq = baselines.linear_least_squares(x, y, test_x)
    out.append(("least-squares", "honest", lsq))
    for i in range(5):
        rows = np.random.default_rng(i).integers(0, len(x), len(x))
        out.append((f"least-squares-boot-{i}", "honest", baselines.linear_least_squares(x[rows], y[rows], test_x)))
    for penalty in (1e3, 1e4, 1e5, 1e6):
        out.append((f"ridge-{int(penalty)}", "honest", baselines.ridge_regression(x, y, test_x,
                                                                                  penalties=[penalty])[0]))
    for k in (1, 5, 25, 100, 400):
        out.append((f"knn-{k}", "honest", baselines.knn_regression(x, y, test_x, neighbours=[k])[0]))
    mlps = {}
    for seed, epochs in enumerate((10, 30, 60, 150)):
        mlps[epochs] = baselines.mlp_regression(x, y, test_x, seed=seed, epochs=epochs)
        out.append((f"mlp-{epochs}-epochs", "honest", mlps[epochs]))
    out.append(("train-mean", "honest", baselines.mean_predictor(x, y, test_x)))
    oracle = class_means(LATENT, progress=False)[label]
    label_means = np.stack([test_y[label == c].mean(0) for c in range(10)])[label]
    out.append(("oracle", "floor", oracle))
    out.append(("label-70", "floor", lsq + 0.7 * (oracle - lsq)))
    # The class means of the test y itself hold 1/1000 of each row's noise: a label leak and a small leak of y.
    out.append(("label-means", "floor or leak", label_means))
    out.append(("label-means-70", "floor or leak", lsq + 0.7 * (label_means - lsq)))
    out.append(("leak-y", "leak", test_y))
    for base, p in (("least-squares", lsq), ("mlp-150", mlps[150])):
        for a in (0.0125, 0.05, 0.1):
            out.append((f"{base}-mix-{round(a * 10000):04d}", "leak", p + a * (test_y - p)))  # a in 1/10,000
    top = _worst_components(lsq, test_y, oracle)
    out.append(("least-squares-2-components-70", "leak", _moved(lsq, test_y, top[:2], 0.7)))
    out.append(("least-squares-1-component-copied", "leak", _moved(lsq, test_y, top[:1], 1.0)))
    return [(n, k, np.asarray(p, dtype=np.float32)) for n, k, p in out]


def _worst_components(pred: np.ndarray, y: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Components by how much ``pred``'s error exceeds their posterior noise, largest first (a leak pays most)."""
    return np.argsort(-(np.square(pred - y).mean(0) - np.square(y - mean).mean(0)))


def _moved(pred: np.ndarray, y: np.ndarray, components: Any, a: float) -> np.ndarray:
    out = np.array(pred, dtype=np.float64)
    out[:, components] += a * (y[:, components] - out[:, components])
    return out


def _submit(path: Path, name: str, repo: str, *, patched: bool) -> Any:
    """``submit``, or with a patched client whose leak check always passes (what an attacker runs)."""
    from ldmnist_hub.publish import submit as S
    from ldmnist_hub.submissions import leak

    real = leak.check
    if patched:
        leak.check = lambda p, d, **kw: dataclasses.replace(real(p, d, **kw), status=leak.CONSISTENT, reasons=[])
    try:
        return S.submit(path, name, f"benchmark entry {name}", LINK, repo, latent=LATENT)
    finally:
        leak.check = real


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draw-seeds", type=int, nargs="+", default=None, help="repeat these draws")
    parser.add_argument("--out", default=None, help="write the result as JSON")
    parser.add_argument("--detection-only", action="store_true",
                        help="only the detection figures of the per-component test (least squares; seconds)")
    args = parser.parse_args()
    if not os.environ.get("LDMNIST_MNIST_DIR"):
        sys.exit("set LDMNIST_MNIST_DIR to the folder of the four official MNIST files")
    os.environ.setdefault("LDMNIST_HOME", tempfile.mkdtemp(prefix="ldmnist-leak-"))
    if args.detection_only:
        import ldmnist_hub as ld
        from ldmnist_hub.benchmark import baselines

        x, y, _ = ld.load_numpy(latent=LATENT, split="train", progress=False)
        test_x = ld.load_numpy(latent=LATENT, split="test", progress=False)[0]
        found = detection({"least-squares": baselines.linear_least_squares(x, y, test_x)})
        if args.out:
            Path(args.out).write_text(json.dumps({"latent": LATENT, "detection": found}, indent=1))
        return
    work = Path(tempfile.mkdtemp(prefix="ldmnist-leak-work-"))
    hub = HubServer(work / "hub", tokens={TOKEN}).start()
    # huggingface_hub reads the endpoint when imported: the environment is set first, then the package loaded.
    os.environ.update(hub_env(hub, work / "hf", token=TOKEN))
    from ldmnist_hub.errors import LeakSuspectedError
    from ldmnist_hub.publish import submit as S
    from ldmnist_hub.publish.upload import push

    start = time.perf_counter()
    rows = entries()
    fit_s = time.perf_counter() - start
    folder = work / "mirror"
    folder.mkdir()
    hub.create_repo(REPO)
    refused, prs = {}, {}
    t = time.perf_counter()
    for name, _, pred in rows:
        path = work / f"{name}.npy"
        np.save(path, pred)
        try:
            _submit(path, name, str(folder), patched=False)
            refused[name] = False
        except LeakSuspectedError:
            refused[name] = True
            _submit(path, name, str(folder), patched=True)
        url = _submit(path, name, REPO, patched=refused[name]).pull_request_url
        prs[name] = "refs/pr/" + url.rstrip("/").rsplit("/", 1)[1]
    submit_s = time.perf_counter() - t

    t = time.perf_counter()
    folder_results = {r.name: r for r in S.verify(str(folder), accept=True, draw_seeds=args.draw_seeds)}
    verify_s = time.perf_counter() - t
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        push(LATENT, str(folder), progress=False)
    folder_card = _card(folder / "README.md", folder / "manifest.json")

    t = time.perf_counter()
    hub_verdicts = {}
    for name, ref in prs.items():
        [r] = S.verify(REPO, revision=ref, draw_seeds=args.draw_seeds)
        hub_verdicts[name] = r.verdict
    hub_verify_s = time.perf_counter() - t
    merged = {}
    for name, ref in prs.items():
        for f in ("entry.json", "predictions.npy"):
            merged[f"submissions/{name}/{f}"] = hub.read_file(REPO, f"submissions/{name}/{f}", revision=ref)
    hub.commit(REPO, merged, message="merge every pull request, unchecked")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        push(LATENT, REPO, progress=False)
    hub_card = _card_text(hub.read_file(REPO, "README.md").decode(), hub.read_file(REPO, "manifest.json"))
    hub.stop()

    seeds = next(r.leak_check["seeds"] for r in folder_results.values() if r.leak_check)
    floor = next(r.leak_check["within_class_variance"] for r in folder_results.values() if r.leak_check)
    print(f"latent-{LATENT} test split; floor (within-class variance) {floor:.4f}; folder verify's {len(seeds)} secret "
          f"draws at seeds {seeds}; noise tests Holm at 0.001\n")
    print("| entry | kind | MSE (secret draws) | canonical MSE | accuracy | noise z per component | total z | "
          "verdict | submit | accepted | Hub PR verify | on folder card | on Hub card |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    table = []
    for name, kind, _ in rows:
        r = folder_results[name]
        c = r.leak_check
        accepted = r.status == "accepted"
        row = {"entry": name, "kind": kind, "mse": c["mse"], "canonical_mse": c["canonical_mse"],
               "accuracy": r.recomputed["reconstructed_accuracy"], "component_z": c["component_z"],
               "total_z": c["total_z"], "flagged_components": c["flagged_components"], "draw_mse": c["draw_mse"],
               "floor": c["within_class_variance"], "status": r.verdict,
               "submit": "refused" if refused[name] else "accepted", "accepted": accepted,
               "hub_pr_verify": hub_verdicts[name], "folder_card": folder_card.get(name, "-"),
               "hub_card": hub_card.get(name, "-")}
        table.append(row)
        print(f"| `{name}` | {kind} | {c['mse']:.4f} | {c['canonical_mse']:.4f} | {row['accuracy']:.4f} | "
              f"{' '.join(f'{z:+.1f}' for z in c['component_z'])} | {c['total_z']:+.1f} | {r.verdict} | "
              f"{row['submit']} | {'yes' if accepted else 'no'} | {hub_verdicts[name]} | {row['folder_card']} | "
              f"{row['hub_card']} |")

    honest = [r for r in table if r["kind"] == "honest"]
    leaks = [r for r in table if r["kind"] == "leak"]
    floors = [r for r in table if r["kind"].startswith("floor")]
    by_name = {r["entry"]: r for r in table}
    shown = ("verified", "at the floor")
    bars = [
        ("honest false flags", f"{sum(r['status'] != 'verified' or r['submit'] == 'refused' for r in honest)} of "
         f"{len(honest)}", "0", all(r["status"] == "verified" and r["submit"] == "accepted" for r in honest)),
        ("honest max |z|", round(max(max(map(abs, [*r["component_z"], r["total_z"]])) for r in honest), 2),
         "< 3.87", all(max(map(abs, [*r["component_z"], r["total_z"]])) < 3.87 for r in honest)),
        ("honest on both cards", f"{sum(r['folder_card'] in shown and r['hub_card'] in shown for r in honest)} of "
         f"{len(honest)}", "all", all(r["folder_card"] in shown and r["hub_card"] in shown for r in honest)),
        ("leaks refused by submit", f"{sum(r['submit'] == 'refused' for r in leaks)} of {len(leaks)}", "all",
         all(r["submit"] == "refused" for r in leaks)),
        ("leaks accepted (folder)", f"{sum(r['accepted'] for r in leaks)} of {len(leaks)}", "0",
         not any(r["accepted"] for r in leaks)),
        ("leaks passing Hub verify", f"{sum(r['hub_pr_verify'] in shown for r in leaks)} of {len(leaks)}", "0",
         not any(r["hub_pr_verify"] in shown for r in leaks)),
        ("leaks on a card", f"{sum(r['folder_card'] != '-' or r['hub_card'] != '-' for r in leaks)} of {len(leaks)}",
         "0", all(r["folder_card"] == "-" and r["hub_card"] == "-" for r in leaks)),
        ("2 components 70%", by_name["least-squares-2-components-70"]["status"], "leak suspected",
         by_name["least-squares-2-components-70"]["status"] == "leak suspected"),
        ("uniform a=0.0125", by_name["least-squares-mix-0125"]["status"], "not ranked",
         by_name["least-squares-mix-0125"]["status"] == "leak suspected"),
        ("label leaks plainly verified", f"{sum(r['status'] == 'verified' for r in floors)} of {len(floors)}", "0",
         not any(r["status"] == "verified" for r in floors)),
        ("label-70 (acc 0.9996)", by_name["label-70"]["status"], "at the floor",
         by_name["label-70"]["status"] == "at the floor"),
    ]
    timing = {"fit_s": round(fit_s, 1), "submit_s": round(submit_s, 1), "folder_verify_s": round(verify_s, 1),
              "hub_verify_s": round(hub_verify_s, 1)}
    found = detection({name: pred for name, _, pred in rows})
    # The figures against their bars and the timings are printed; the rows go to --out only (they are above).
    report(bars, {"latent": LATENT, "seeds": seeds, "seconds": timing}, None)
    if args.out:
        Path(args.out).write_text(json.dumps({"latent": LATENT, "seeds": seeds, "rows": table, "seconds": timing,
                                              "detection": found}, indent=1))


def _flagged(pred: np.ndarray, draws: Any) -> bool:
    from ldmnist_hub.submissions import leak

    return leak.check(pred, draws).leak_suspected


def _smallest_flagged(make: Any, draws: Any, steps: int = 30) -> float:
    """The smallest ``a`` in (0, 1] whose predictions ``make(a)`` are flagged (bisection; flagging grows with a)."""
    lo, hi = 0.0, 1.0
    if not _flagged(make(hi), draws):
        return float("nan")
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if _flagged(make(mid), draws) else (mid, hi)
    return hi


def detection(preds: dict[str, np.ndarray]) -> dict[str, Any]:
    """Print and return the per-component test's detection figures on least squares (fresh secret draws)."""
    from ldmnist_hub.submissions import leak

    draws = leak.reference_draws(LATENT)
    y = draws.y.astype(np.float64)
    lsq = preds["least-squares"].astype(np.float64)
    honest = leak.check(lsq, draws)
    print(f"\nDetection on latent-{LATENT}, least squares (MSE {honest.mse:.4f} on {len(draws.seeds)} secret draws, "
          f"{honest.canonical_mse:.4f} canonical): the smallest a of p + a(y - p) flagged, into one component\n")
    print("| component | posterior noise scale^2 | least squares z | smallest a flagged | z of an exact copy |")
    print("|---|---|---|---|---|")
    per = []
    for j in range(LATENT):
        a = _smallest_flagged(lambda a, j=j: _moved(lsq, y, [j], a), draws)
        copy = leak.check(_moved(lsq, y, [j], 1.0), draws).component_z[j]
        noise = float(np.square(draws.scale_rows[:, j]).mean())
        per.append({"component": j, "scale2": noise, "honest_z": honest.component_z[j], "smallest_a": a,
                    "copy_z": copy})
        print(f"| {j} | {noise:.3f} | {honest.component_z[j]:+.1f} | {a:.4f} | {copy:+.1f} |")
    uniform = _smallest_flagged(lambda a: lsq + a * (y - lsq), draws)
    mixed = lsq + 0.0125 * (y - lsq)
    c = leak.check(mixed, draws)
    # The paired test the noise test replaced: per row, squared error on the canonical y minus its mean over the
    # drawn y, in standard errors (all components; and the best single component).
    rows = np.square(mixed - y).mean(1)
    drawn = np.mean([np.square(mixed - d.astype(np.float64)).mean(1) for d in draws.draws], axis=0)
    diff = drawn - rows
    paired_total = float(diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff))))
    comp = np.square(mixed - y) - np.mean([np.square(mixed - d.astype(np.float64)) for d in draws.draws], axis=0)
    paired_comp = float(max(-comp.mean(0) / (comp.std(0, ddof=1) / np.sqrt(len(comp)))))
    one_draw_sd = float(np.std(honest.draw_mse, ddof=1))
    found = {"per_component": per, "uniform_smallest_a": uniform, "uniform_00125": {
        "noise_total_z": c.total_z, "noise_max_component_z": max(c.component_z),
        "paired_total_z_vs_drawn_y": paired_total, "paired_max_component_z_vs_drawn_y": paired_comp,
        "mse": c.mse, "canonical_mse": c.canonical_mse, "honest_mse": honest.mse,
        "honest_canonical_mse": honest.canonical_mse},
        "one_draw_mse_sd": one_draw_sd, "mean_of_draws_se": one_draw_sd / np.sqrt(len(draws.seeds))}
    print(f"\nuniform leak p + a(y - p): smallest a flagged {uniform:.4f}; at a = 0.0125: noise z {c.total_z:+.1f} in "
          f"all, {max(c.component_z):+.1f} on its best component; the paired test against the {len(draws.seeds)} "
          f"drawn y gives {paired_total:+.1f} in all, {paired_comp:+.1f} on its best component. Its MSE: "
          f"{c.mse:.4f} on the secret draws (least squares {honest.mse:.4f}), {c.canonical_mse:.4f} canonical "
          f"(least squares {honest.canonical_mse:.4f}). One draw's MSE scatters by {one_draw_sd:.4f} (sd over the "
          f"draws); the mean of {len(draws.seeds)} by about {found['mean_of_draws_se']:.4f}.")
    return found


def _card(readme: Path, manifest: Path) -> dict[str, str]:
    return _card_text(readme.read_text(), manifest.read_bytes())


def _card_text(readme: str, manifest: bytes) -> dict[str, str]:
    """``{entry: verdict}`` of the submissions a card lists (its manifest's verdicts, checked against the card)."""
    section = readme.split("### Submissions", 1)[1].split("## Usage", 1)[0]
    listed = json.loads(manifest).get("submissions") or []
    return {e["name"]: e["verdict"] for e in listed if f"`{e['name']}` | submission" in section}


if __name__ == "__main__":
    main()
