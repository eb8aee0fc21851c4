"""Encode MNIST splits into LD-MNIST rows, and score the trained models.

``x`` and ``y`` are *samples* from the VAE posteriors, as in the original;
the noise comes from a generator seeded by the variant's seed, so encoding is a
deterministic function of (weights, seed, split).
"""

from __future__ import annotations

import numpy as np
import torch

from ldmnist_hub.core.schema import NUM_CLASSES
from ldmnist_hub.recipe.models import LDMNISTModels, sample_code
from ldmnist_hub.recipe.train import ENCODE_STREAM, images_to_float, make_generator

SPLIT_STREAMS = {"train": 0, "test": 1}
_CHUNK = 10_000


@torch.no_grad()
def encode_split(
    models: LDMNISTModels, images: np.ndarray, labels: np.ndarray, seed: int, split: str
) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``x`` (image codes) and ``y`` (label codes) for one split, in input order.

    Returns:
        Two float32 arrays of shape (n, latent).
    """
    models.eval()
    gen = make_generator(seed, ENCODE_STREAM + SPLIT_STREAMS[split])
    quirk = models.cfg.logvar_quirk
    xs, ys = [], []
    for start in range(0, len(images), _CHUNK):
        flat = images_to_float(images[start:start + _CHUNK])
        onehot = torch.nn.functional.one_hot(
            torch.from_numpy(np.asarray(labels[start:start + _CHUNK], dtype=np.int64)), NUM_CLASSES
        ).float()
        xs.append(sample_code(*models.image_encoder(flat), quirk, gen))
        ys.append(sample_code(*models.class_encoder(onehot), quirk, gen))
    return torch.cat(xs).numpy().astype(np.float32), torch.cat(ys).numpy().astype(np.float32)


@torch.no_grad()
def score_models(
    models: LDMNISTModels, images: np.ndarray, labels: np.ndarray, x: np.ndarray, y: np.ndarray
) -> dict[str, float]:
    """Test-set quality of the trained parts, computed on the encoded samples.

    - ``class_vae_accuracy``: class decoder on the sampled ``y`` vs the label;
    - ``image_vae_reconstruction_loss``: per-pixel BCE of the decoded sampled ``x``;
    - ``middle_layers_accuracy``: class decoder after the middle layers on ``x``.
    """
    models.eval()
    target = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    class_acc = (models.class_decoder(yt).argmax(1) == target).double().mean().item()
    middle_acc = (models.class_decoder(models.middle_layers(xt)).argmax(1) == target).double().mean().item()
    rec = 0.0
    for start in range(0, len(images), _CHUNK):
        flat = images_to_float(images[start:start + _CHUNK])
        logits = models.image_decoder(xt[start:start + _CHUNK])
        rec += torch.nn.functional.binary_cross_entropy_with_logits(logits, flat, reduction="sum").item()
    return {
        "class_vae_accuracy": class_acc,
        "image_vae_reconstruction_loss": rec / images.size,
        "middle_layers_accuracy": middle_acc,
    }
