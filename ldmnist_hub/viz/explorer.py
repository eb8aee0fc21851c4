"""A one-file HTML explorer of a variant's latent space: sliders, the live decoded image, class probabilities.

The page runs the image decoder, the middle layers and the class decoder in its own JavaScript, with the same
eval-mode forward pass as :mod:`ldmnist_hub.codecs`, from weights embedded as base64 float32 arrays. It needs no
network and no server: open the file with ``file://``. This module imports neither torch nor tensorflow.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE, VariantConfig
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.errors import InvalidArgumentError
from ldmnist_hub.loading.arrays import variant_weights
from ldmnist_hub.loading.variant import Variant, select
from ldmnist_hub.scoring.codecs import decode_images
from ldmnist_hub.scoring.importance import decoding_importance, importance_order
from ldmnist_hub.store.forward import BLOCK

PAYLOAD_FORMAT = 1
DEFAULT_SAMPLES = 200
# Test rows the slider order is computed on; the ranking of components is stable well below this.
IMPORTANCE_ROWS = 500
# Sliders span at least +-SLIDER_SPAN (the prior's bulk) and always every embedded code.
SLIDER_SPAN = 3.0
_TEMPLATE = "explorer_page.html"


def encode_array(a: np.ndarray) -> dict[str, Any]:
    """``{"shape", "b64"}`` of an array as little-endian float32, the form the page decodes."""
    a = np.ascontiguousarray(a, dtype="<f4")
    return {"shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode("ascii")}


def payload_array(entry: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`encode_array`: the float32 array of one embedded ``{"shape", "b64"}`` entry.

    Examples:
        >>> payload_array(encode_array(np.eye(2))).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    return np.frombuffer(base64.b64decode(entry["b64"]), dtype="<f4").reshape(entry["shape"]).astype(np.float32)


def _layers(w: dict[str, np.ndarray], start: int, count: int, eps: float, final: str) -> list[dict[str, Any]]:
    """``count`` hidden blocks of ``body`` from ``start`` (as ``codecs._blocks``), then the final Linear."""
    out = []
    for i in range(start, start + BLOCK * count, BLOCK):
        bn = f"body.{i + 2}"
        # Eval-mode BatchNorm is an affine map; folding it in float64 keeps the page within ~1e-7 of numpy.
        scale = w[f"{bn}.weight"].astype(np.float64) / np.sqrt(w[f"{bn}.running_var"].astype(np.float64) + eps)
        shift = w[f"{bn}.bias"] - w[f"{bn}.running_mean"] * scale
        out.append({"w": encode_array(w[f"body.{i}.weight"]), "b": encode_array(w[f"body.{i}.bias"]),
                    "act": "leaky", "bn": {"scale": encode_array(scale), "shift": encode_array(shift)}})
    last = f"body.{start + BLOCK * count}"
    out.append({"w": encode_array(w[f"{last}.weight"]), "b": encode_array(w[f"{last}.bias"]), "act": final})
    return out


def _check_count(n_samples: Any) -> int:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise InvalidArgumentError(f"n_samples must be a positive integer such as 200; got n_samples={n_samples!r}")
    return int(n_samples)


def explorer_payload(
    latent: int | Variant = DEFAULT_LATENT,
    *,
    n_samples: int = DEFAULT_SAMPLES,
    sample_seed: int = 0,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = False,
    progress: bool = False,
    version: str | None = None,
) -> dict[str, Any]:
    """The JSON object the explorer page embeds: weights, slider order and ranges, sample and class-mean codes.

    Args:
        latent: latent size N of the variant (default 32), or a resolved variant.
        seed: the variant's seed (0 is canonical; for a reference variant, the posterior draw).
        source: the raw data source (``"mnist"``, ``"fashion_mnist"``; see ``ldmnist_hub.data.sources.SOURCES``).
        train: training recipe overrides of the variant (see :class:`~ldmnist_hub.TrainConfig`).
        data_dir: folder with the raw IDX files (default: the source's environment variable, or the download cache).
        build: build the variant if it is not built (default: raise).
        n_samples: test codes to embed for "random test sample" (at most the test split's size).
        sample_seed: seed of the generator that picks the embedded test rows and the rows the
            decoding importance is measured on.
        progress: show progress bars while building.
        version: the dataset version of a reference variant (default: the current one).

    Returns:
        A plain-JSON dict; arrays are ``{"shape", "b64"}`` entries (read them with :func:`payload_array`).
        ``order`` lists the components from most to least important for decoding.

    Raises:
        ValueError: a bad latent or ``n_samples``.
        FileNotFoundError: the variant is not built and ``build`` is False (names ``ldmnist build --latent N``).

    Examples:
        >>> p = explorer_payload(32)  # doctest: +SKIP
        >>> payload_array(p["samples"]["codes"]).shape, p["order"][:3]  # doctest: +SKIP
        ((200, 32), [2, 19, 10])
    """
    variant = select(latent, "explorer_payload", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    latent = variant.latent
    n_samples = _check_count(n_samples)
    files = variant.require("explore")
    built = VariantConfig.from_dict(files.stats()["variant"])
    cfg = built.train
    class_names = list(variant.class_names)
    # Built now: the splits are read without building or progress bars.
    loaded = dataclasses.replace(variant, build=False, progress=False)
    x_train, _, label_train = loaded.numpy("train")
    x_test, _, label_test = loaded.numpy("test")

    perm = np.random.default_rng(sample_seed).permutation(len(x_test))
    picked = perm[:n_samples]
    importance = decoding_importance(x_test[perm[:IMPORTANCE_ROWS]], lambda z: decode_images(z, loaded))

    x_all, label_all = np.concatenate([x_train, x_test]), np.concatenate([label_train, label_test])
    counts = np.bincount(label_all, minlength=len(class_names))
    means = np.zeros((len(class_names), latent), np.float32)
    for k in np.flatnonzero(counts):
        means[k] = x_all[label_all == k].astype(np.float64).mean(axis=0)
    lo = np.minimum(np.floor(x_all.min(axis=0) * 10) / 10, -SLIDER_SPAN)
    hi = np.maximum(np.ceil(x_all.max(axis=0) * 10) / 10, SLIDER_SPAN)

    decoder = variant_weights(files, "image_decoder")
    middle = variant_weights(files, "middle_layers")
    head = variant_weights(files, "class_decoder")
    return {
        "format": PAYLOAD_FORMAT,
        "variant": built.name,
        "latent": latent,
        "seed": variant.seed,
        "leaky_slope": cfg.leaky_slope,
        "decoder": _layers(decoder, 1, len(cfg.hidden), cfg.bn_eps, "sigmoid"),  # body.0 is dropout
        "middle": _layers(middle, 0, 2, cfg.bn_eps, "none"),
        "class_decoder": {"w": encode_array(head["linear.weight"]), "b": encode_array(head["linear.bias"]),
                          "act": "none"},
        "importance": [float(v) for v in importance],
        "order": [int(j) for j in importance_order(importance)],
        "ranges": {"lo": [float(v) for v in lo], "hi": [float(v) for v in hi]},
        "samples": {"codes": encode_array(x_test[picked]), "rows": [int(r) for r in picked],
                    "labels": [int(v) for v in label_test[picked]], "sample_seed": sample_seed},
        "class_means": {"codes": encode_array(means), "counts": [int(c) for c in counts]},
        "class_names": class_names,
    }


def render_explorer(payload: dict[str, Any]) -> str:
    """The explorer page's HTML for a payload from :func:`explorer_payload`."""
    template = resources.files(__package__).joinpath(_TEMPLATE).read_text(encoding="utf-8")
    # "<" escaped as \u003c keeps the JSON valid and stops any "</script>" inside it from closing the tag.
    blob = json.dumps(payload, separators=(",", ":")).replace("<", "\\u003c")
    return template.replace("{{TITLE}}", html.escape(payload["variant"])).replace("{{PAYLOAD}}", blob)


def _check_out(out: Any) -> Path:
    """Fail before the work starts when ``out`` cannot be a writable file."""
    if not isinstance(out, (str, os.PathLike)) or not str(out):
        raise InvalidArgumentError(f"out must be a file path such as 'explorer.html'; got out={out!r}")
    path = Path(out).expanduser()
    if path.is_dir():
        raise InvalidArgumentError(
            f"out={str(out)!r} is a folder; pass a file path such as {str(path / 'explorer.html')!r}")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidArgumentError(
            f"cannot write out={str(out)!r}: {str(folder)!r} is not a writable folder; "
            "pass a path in a folder you can write to"
        )
    return path


def write_explorer(
    latent: int | Variant = DEFAULT_LATENT,
    out: str | os.PathLike[str] = "explorer.html",
    *,
    n_samples: int = DEFAULT_SAMPLES,
    sample_seed: int = 0,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = False,
    progress: bool = False,
    version: str | None = None,
) -> Path:
    """Write the self-contained explorer page of a variant to ``out`` (missing parent folders are created).

    Arguments are those of :func:`explorer_payload`. For latent 32 the file is about 0.7 MB.

    Returns:
        The path written.

    Raises:
        ValueError: a bad latent or ``n_samples``, or ``out`` is a folder or not writable.
        FileNotFoundError: the variant is not built and ``build`` is False (names ``ldmnist build --latent N``).

    Examples:
        >>> write_explorer(32, "explorer.html")  # doctest: +SKIP
        PosixPath('explorer.html')
    """
    variant = select(latent, "write_explorer", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    path = _check_out(out)
    page = render_explorer(explorer_payload(variant, n_samples=n_samples, sample_seed=sample_seed))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    except OSError as err:
        raise InvalidArgumentError(
            f"cannot write the explorer to {str(path)!r} ({err}); pass a path you can write to") from err
    return path
