"""Issue #5's bars: push the canonical latent-32 variant to a local Hub-protocol server, then a cold
``load_dataset("ldmnist", latent=32)`` from it in a fresh cache, with the time of each step; and the card's
metadata checks.

The server is the test suite's (``tests/_support/hub_server.py``) on 127.0.0.1; the real ``huggingface_hub`` and
``datasets`` clients run in subprocesses (they read ``HF_ENDPOINT`` when imported).

Usage (latent-32 must be built: ``ldmnist build --latent 32``)::

    python benchmarks/publish.py [--json runs/publish.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from _support.hub_server import HubServer, client_json, hub_env, run_client  # noqa: E402

REPO = "ldmnist/ld-mnist"
TOKEN = "hf_bench"

PUSH = """
import json, time
t = time.perf_counter()
from ldmnist_hub import push
imported = time.perf_counter() - t
r = push(32, {repo!r}, build=False, progress=False)
print(json.dumps({{"import_s": round(imported, 2), "changed": r.changed, "files": len(r.files), **r.seconds}}))
"""

PULL = """
import json, time
t0 = time.perf_counter()
from ldmnist_hub import load_dataset
from ldmnist_hub import load_numpy
from ldmnist_hub import evaluate
t1 = time.perf_counter()
ds = load_dataset("ldmnist", latent=32, build=False, progress=False)
t2 = time.perf_counter()
ds = load_dataset("ldmnist", latent=32, build=False, progress=False)
t3 = time.perf_counter()
x, y, label = load_numpy(32, "test", build=False)
res = evaluate(y, 32)
print(json.dumps({"import_s": round(t1 - t0, 2), "cold_load_s": round(t2 - t1, 2), "warm_load_s": round(t3 - t2, 3),
                  "rows": [ds["train"].num_rows, ds["test"].num_rows], "evaluate_true_y_mse": res.mse}))
"""

CARD = """
import json
from huggingface_hub import DatasetCard, HfApi
from datasets import get_dataset_config_names, get_dataset_default_config_name
import datasets
datasets.config.USE_PARQUET_EXPORT = False
card = DatasetCard.load({repo!r}, repo_type="dataset")
card.validate(repo_type="dataset")          # the Hub's validate-yaml route
data = card.data.to_dict()
print(json.dumps({{"license": data["license"], "configs": get_dataset_config_names({repo!r}),
                  "default": get_dataset_default_config_name({repo!r}),
                  "features": [f["name"] for f in data["dataset_info"]["features"]]}}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None, help="write the figures here")
    a = ap.parse_args()
    from ldmnist_hub.core import paths
    from ldmnist_hub.hub.card import check_card

    home = str(paths.home_dir())
    with tempfile.TemporaryDirectory() as tmp, HubServer(Path(tmp) / "hub", tokens={TOKEN}) as hub:
        tmp_path = Path(tmp)
        t = time.perf_counter()
        pushed = client_json(run_client(textwrap.dedent(PUSH.format(repo=REPO)),
                                        hub_env(hub, tmp_path / "hf-push", token=TOKEN,
                                                extra={"LDMNIST_HOME": home}), timeout=600))
        pushed["wall_s"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        pulled = client_json(run_client(textwrap.dedent(PULL), hub_env(
            hub, tmp_path / "hf-pull", token="",
            extra={"LDMNIST_HOME": str(tmp_path / "fresh-home"), "LDMNIST_REPO": REPO}), timeout=600))
        pulled["wall_s"] = round(time.perf_counter() - t, 2)
        card = client_json(run_client(textwrap.dedent(CARD.format(repo=REPO)),
                                      hub_env(hub, tmp_path / "hf-card", token=""), timeout=600))
        text = hub.read_file(REPO, "README.md").decode()
        check_card(text, ["latent-32"])
        figures = {"push": pushed, "cold_pull_load": pulled, "card": card, "card_bytes": len(text),
                   "repo_files": hub.list_files(REPO), "server_errors": hub.errors}
    print(json.dumps(figures, indent=2))
    if a.json:
        Path(a.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
