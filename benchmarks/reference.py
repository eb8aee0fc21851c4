"""Issue #10's bars: the reference variants' character, load times and bit-identity.

For the reference latent (default 32), from a fresh ``LDMNIST_HOME``:

- cold ``load_dataset("ldmnist", latent=N)`` in a fresh process, MNIST local,
  nothing cached (bar <= 3 s), and warm after imports (bar <= 0.1 s);
- test-split character: ``x`` components with std < 0.9 (8-14, at 0.6-0.75),
  the rest (0.95-1.05), means (+-0.05); class-VAE accuracy (>= 0.998); least
  squares (0.52-0.68); the original's eval MLP (>= 0.9577); the jointly trained
  middle layers (>= 0.96); class-conditional synthesis (>= 0.90); oracle floor;
- sha256 of the produced arrays against the record under several numeric
  settings (BLAS threads and kernels, numpy SIMD paths), each in a fresh process;
- every shipped reference size: its record's scores (the latent-size ladder);
- ``--draws K``: least squares and the MLP over K posterior draws (seeds 0..K-1);
- ``--retrain``: train the reference recipe anew on this machine (time, and how
  far its figures land from the reference).

Usage:
    LDMNIST_MNIST_DIR=../shared/data/mnist python benchmarks/reference.py [--latent 32] [--draws 3] [--retrain]
        [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

SETTINGS = [
    {},
    {"OPENBLAS_NUM_THREADS": "1"},
    {"OPENBLAS_CORETYPE": "Haswell"},
    {"OPENBLAS_CORETYPE": "Sandybridge", "OPENBLAS_NUM_THREADS": "2"},
    {"NPY_DISABLE_CPU_FEATURES": "AVX512F AVX512_SKX"},
]


def _fresh(code: str, home: str, extra: dict[str, str] | None = None) -> str:
    env = {**os.environ, "LDMNIST_HOME": home, **(extra or {})}
    return subprocess.check_output([sys.executable, "-c", code], env=env, text=True).strip().splitlines()[-1]


def load_times(latent: int) -> dict[str, float]:
    """Cold (nothing cached) and warm load_dataset times, each in a fresh process, after imports."""
    home = tempfile.mkdtemp(prefix="ldmnist-ref-")
    code = ("import time, ldmnist_hub, datasets\n"
            f"t = time.perf_counter(); ldmnist_hub.load_dataset('ldmnist', latent={latent}, progress=False)\n"
            "print(time.perf_counter() - t)")
    cold = float(_fresh(code, home))
    warm = min(float(_fresh(code, home)) for _ in range(3))
    return {"cold_load_seconds": round(cold, 3), "warm_load_seconds": round(warm, 4), "home": home}


def digests_under_settings(latent: int) -> list[dict]:
    """Encode the reference in a fresh process per numeric setting; compare with the record."""
    from ldmnist_hub.produce import reference

    code = ("import json\nfrom ldmnist_hub import reference, sources\n"
            f"ref = reference.get({latent})\n"
            "raw = {s: sources.load_split('mnist', s) for s in ('train', 'test')}\n"
            "out = ref.encode(raw, 0, check=False)\n"
            "print(json.dumps({s: reference.split_digests(*out[s]) for s in out}))")
    want = reference.get(latent).record["data_sha256"]
    rows = []
    for setting in SETTINGS:
        got = json.loads(_fresh(code, tempfile.mkdtemp(prefix="ldmnist-ref-"), setting))
        rows.append({"setting": setting or "default", "identical": got == want})
    return rows


def character(latent: int, seed: int, mlp_epochs: int, retrain: bool = False) -> dict:
    """The bars' figures of the test split of one draw (or of a retrained variant)."""
    from recipe_sweep import figures

    from ldmnist_hub import store
    from ldmnist_hub.loading.arrays import dataset_arrays
    from ldmnist_hub.loading.load import load_dataset, resolve_variant
    from ldmnist_hub.store.identity import variant_cache_id

    t = time.perf_counter()
    ds = load_dataset("ldmnist", latent=latent, seed=seed, retrain=retrain, progress=False)
    seconds = time.perf_counter() - t
    (x_tr, y_tr, _), (x_te, y_te, l_te) = dataset_arrays(ds["train"]), dataset_arrays(ds["test"])
    files = store.variant_files(variant_cache_id(resolve_variant(latent=latent, seed=seed, retrain=retrain)))
    dec = files.weights("class_decoder")
    out = figures(x_tr, y_tr, x_te, y_te, l_te, dec["linear.weight"], dec["linear.bias"], mlp_epochs)
    out.update(variant=files.root.name, load_seconds=round(seconds, 1), scores=files.stats()["scores"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--draws", type=int, default=1, help="posterior draws (seeds) to score")
    parser.add_argument("--mlp-epochs", type=int, default=150)
    parser.add_argument("--retrain", action="store_true", help="also retrain the reference recipe here")
    parser.add_argument("--no-synthesis", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not os.environ.get("LDMNIST_MNIST_DIR"):
        sys.exit("set LDMNIST_MNIST_DIR to the folder with the four official MNIST files")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # recipe_sweep.figures
    from ldmnist_hub.produce import reference

    result: dict = {"latent": args.latent, **load_times(args.latent)}
    os.environ["LDMNIST_HOME"] = result.pop("home")
    result["digests"] = digests_under_settings(args.latent)
    result["draws"] = [character(args.latent, seed, args.mlp_epochs) for seed in range(args.draws)]
    if not args.no_synthesis:
        from ldmnist_hub.viz.synthesis import synthesize

        syn = synthesize(args.latent, progress=False)
        result["synthesis_rate"] = round(syn.rate, 4)
        result["synthesis_reference_rate"] = round(syn.reference_rate, 4)
    result["ladder"] = {n: {k: round(v, 4) for k, v in reference.get(n).record["stats"]["scores"].items()}
                        for n in reference.available()}
    if args.retrain:
        result["retrain"] = character(args.latent, 0, args.mlp_epochs, retrain=True)

    d0 = result["draws"][0]
    bars = [
        ("cold load (s)", result["cold_load_seconds"], "<= 3", result["cold_load_seconds"] <= 3),
        ("warm load (s)", result["warm_load_seconds"], "<= 0.1", result["warm_load_seconds"] <= 0.1),
        ("sha256 == record, all settings", all(r["identical"] for r in result["digests"]), "True",
         all(r["identical"] for r in result["digests"])),
        ("x comps std < 0.9", d0["x_low_std_count"], "8..14", 8 <= d0["x_low_std_count"] <= 14),
        ("  their std range", str(d0["x_low_std_range"]), "0.6..0.75",
         bool(d0["x_low_std_range"]) and 0.6 <= d0["x_low_std_range"][0] and d0["x_low_std_range"][1] <= 0.75),
        ("  the rest", str(d0["x_rest_std_range"]), "0.95..1.05",
         0.95 <= d0["x_rest_std_range"][0] and d0["x_rest_std_range"][1] <= 1.05),
        ("x |mean| max", d0["x_abs_mean_max"], "<= 0.05", d0["x_abs_mean_max"] <= 0.05),
        ("class-VAE accuracy", d0["scores"]["class_vae_accuracy"], ">= 0.998",
         d0["scores"]["class_vae_accuracy"] >= 0.998),
        ("linear rec. accuracy", d0["linear_acc"], "0.52..0.68", 0.52 <= d0["linear_acc"] <= 0.68),
        ("eval MLP rec. accuracy", d0["mlp_acc"], ">= 0.9577", d0["mlp_acc"] >= 0.9577),
        ("middle layers accuracy", d0["scores"]["middle_layers_accuracy"], ">= 0.96",
         d0["scores"]["middle_layers_accuracy"] >= 0.96),
    ]
    if "synthesis_rate" in result:
        bars.append(("synthesis recognised", result["synthesis_rate"], ">= 0.90", result["synthesis_rate"] >= 0.90))
    if len(result["draws"]) > 1:
        for key in ("linear_acc", "mlp_acc", "linear_mse", "mlp_mse"):
            values = np.array([d[key] for d in result["draws"]])
            result[f"{key}_over_draws"] = {"mean": round(float(values.mean()), 4),
                                           "std": round(float(values.std(ddof=1)), 4)}
    from bars import report  # benchmarks/bars.py, beside this script

    report(bars, result, args.out, width=32)


if __name__ == "__main__":
    main()
