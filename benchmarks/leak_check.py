"""Issue #18's leaderboard bar: a leak of the test ``y`` is never accepted or shown; honest entries always are.

Entries for the reference latent-8 (the full MNIST): 20 honest models of ``x`` (least squares, least squares
on 5 bootstrap resamples of train, ridge at 4 penalties, kNN at 5 k, the 3-FC MLP at 4 lengths, the train
mean), 2 at the floor (the oracle, the class VAE's mean of the true class; the class means of the true test
labels, a label leak), and 5 leaks of ``y`` (whole, and mixed into least squares and the 150-epoch MLP as
``p + a(y - p)``, a = 0.05 and 0.1). Each goes through the real paths twice:

- a folder repo: ``submit`` (whose own leak check must refuse every leak; leaks are then planted by a
  patched client, as an attacker would), ``verify --accept``, then a push and its card;
- the Hub test server (``tests/_support/hub_server.py``, in this process): every entry a pull request
  judged by ``verify --revision refs/pr/N``; then every pull request merged regardless (a careless
  maintainer) and a push, whose card must list only what re-verifies.

Prints one row per entry (kind, MSE against the canonical ``y``, MSE and paired z against each draw, the
floor, the verdicts, accepted, on the cards) and the bars: false flags among honest entries 0 of 20, leaks
accepted or on a card 0, floor entries marked "at the floor". The folder verify's draws are chosen at
random, as ``verify`` does (printed; ``--draw-seeds`` repeats a run's draws).

Usage:
    LDMNIST_MNIST_DIR=/work/shared/data/mnist python benchmarks/leak_check.py [--draw-seeds S S S] [--out r.json]
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
    out.append(("oracle", "floor", class_means(LATENT, progress=False)[label]))
    out.append(("label-means", "floor", np.stack([test_y[label == c].mean(0) for c in range(10)])[label]))
    out.append(("leak-y", "leak", test_y))
    for base, p in (("least-squares", lsq), ("mlp-150", mlps[150])):
        for a in (0.05, 0.1):
            out.append((f"{base}-mix-{round(a * 100):03d}", "leak", p + a * (test_y - p)))
    return [(n, k, np.asarray(p, dtype=np.float32)) for n, k, p in out]


def _submit(path: Path, name: str, repo: str, *, patched: bool) -> Any:
    """``submit``, or with a patched client whose leak check always passes (what an attacker runs)."""
    from ldmnist_hub.publish import leak
    from ldmnist_hub.publish import submit as S

    real = leak.check
    if patched:
        leak.check = lambda p, d: dataclasses.replace(real(p, d), status=leak.CONSISTENT, reasons=[])
    try:
        return S.submit(path, name, f"benchmark entry {name}", LINK, repo, latent=LATENT)
    finally:
        leak.check = real


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draw-seeds", type=int, nargs="+", default=None, help="repeat these draws")
    parser.add_argument("--out", default=None, help="write the result as JSON")
    args = parser.parse_args()
    if not os.environ.get("LDMNIST_MNIST_DIR"):
        sys.exit("set LDMNIST_MNIST_DIR to the folder of the four official MNIST files")
    os.environ.setdefault("LDMNIST_HOME", tempfile.mkdtemp(prefix="ldmnist-leak-"))
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
    print(f"latent-{LATENT} test split; floor (within-class variance) {floor:.4f}; folder verify's draws at seeds "
          f"{seeds}; |z| limit 4\n")
    print("| entry | kind | MSE canonical | MSE per draw | z per draw | floor | status | submit | accepted | "
          "Hub PR verify | on folder card | on Hub card |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    table = []
    for name, kind, _ in rows:
        r = folder_results[name]
        c = r.leak_check
        accepted = r.status == "accepted"
        row = {"entry": name, "kind": kind, "mse": c["mse"], "draw_mse": c["draw_mse"], "draw_z": c["draw_z"],
               "floor": c["within_class_variance"], "status": r.verdict,
               "submit": "refused" if refused[name] else "accepted", "accepted": accepted,
               "hub_pr_verify": hub_verdicts[name], "folder_card": folder_card.get(name, "-"),
               "hub_card": hub_card.get(name, "-")}
        table.append(row)
        print(f"| `{name}` | {kind} | {c['mse']:.4f} | {' / '.join(f'{m:.4f}' for m in c['draw_mse'])} | "
              f"{' / '.join(f'{z:+.1f}' for z in c['draw_z'])} | {c['within_class_variance']:.4f} | {r.verdict} | "
              f"{row['submit']} | {'yes' if accepted else 'no'} | {hub_verdicts[name]} | {row['folder_card']} | "
              f"{row['hub_card']} |")

    honest = [r for r in table if r["kind"] == "honest"]
    leaks = [r for r in table if r["kind"] == "leak"]
    floors = [r for r in table if r["kind"] == "floor"]
    shown = ("verified", "at the floor")
    bars = [
        ("honest false flags", f"{sum(r['status'] not in shown or r['submit'] == 'refused' for r in honest)} of "
         f"{len(honest)}", "0", all(r["status"] in shown and r["submit"] == "accepted" for r in honest)),
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
        ("floor entries marked", f"{sum(r['folder_card'] == r['hub_card'] == 'at the floor' for r in floors)} of "
         f"{len(floors)}", "all", all(r["folder_card"] == r["hub_card"] == "at the floor" for r in floors)),
    ]
    timing = {"fit_s": round(fit_s, 1), "submit_s": round(submit_s, 1), "folder_verify_s": round(verify_s, 1),
              "hub_verify_s": round(hub_verify_s, 1)}
    # The figures against their bars and the timings are printed; the rows go to --out only (they are above).
    report(bars, {"latent": LATENT, "seeds": seeds, "seconds": timing}, None)
    if args.out:
        Path(args.out).write_text(json.dumps({"latent": LATENT, "seeds": seeds, "rows": table, "seconds": timing},
                                             indent=1))


def _card(readme: Path, manifest: Path) -> dict[str, str]:
    return _card_text(readme.read_text(), manifest.read_bytes())


def _card_text(readme: str, manifest: bytes) -> dict[str, str]:
    """``{entry: verdict}`` of the submissions a card lists (its manifest's verdicts, checked against the card)."""
    section = readme.split("### Submissions", 1)[1].split("## Usage", 1)[0]
    listed = json.loads(manifest).get("submissions") or []
    return {e["name"]: e["verdict"] for e in listed if f"`{e['name']}` | submission" in section}


if __name__ == "__main__":
    main()
