"""The torch modules behind LD-MNIST: image VAE, class VAE and middle layers.

Layer sizes follow the original (v3) recipe; every knob that differs between
the original and the canonical recipe comes from :class:`~ldmnist_hub.config.TrainConfig`.
This module imports torch and is only imported when training or encoding.
"""

from __future__ import annotations

import torch
from torch import nn

from ldmnist_hub.core.config import TrainConfig
from ldmnist_hub.core.schema import IMAGE_PIXELS, NUM_CLASSES


class SeededDropout(nn.Module):
    """Dropout drawing its mask from an explicit generator, never the global RNG.

    ``nn.Dropout`` has no generator argument; training must be reproducible
    without touching torch's global seed, so the owner sets ``generator``.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.generator: torch.Generator | None = None

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return h
        keep = torch.rand(h.shape, generator=self.generator, dtype=h.dtype, device=h.device) >= self.p
        return h * keep / (1.0 - self.p)


class FrozenBatchNorm(nn.BatchNorm1d):
    """BatchNorm that always normalises with its stored statistics and never updates them.

    This is what Keras' BatchNormalization does in inference mode, the mode the
    original's training loop ran in: with the initial statistics (mean 0,
    variance 1) it is the learnable affine ``weight * h / sqrt(1 + eps) + bias``.
    The state dict is that of ``BatchNorm1d``, so readers need no special case.
    """

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return nn.functional.batch_norm(
            h, self.running_mean, self.running_var, self.weight, self.bias, training=False, eps=self.eps
        )


def _block(n_in: int, n_out: int, act: nn.Module, cfg: TrainConfig, dropout: float) -> list[nn.Module]:
    # Dense -> activation -> BatchNorm -> Dropout, the order the original uses.
    bn_class = FrozenBatchNorm if cfg.batch_norm == "frozen" else nn.BatchNorm1d
    return [nn.Linear(n_in, n_out), act, bn_class(n_out, eps=cfg.bn_eps, momentum=cfg.bn_momentum),
            SeededDropout(dropout if cfg.train_dropout else 0.0)]


def sample_code(
    mean: torch.Tensor, logvar: torch.Tensor, quirk: bool, generator: torch.Generator | None
) -> torch.Tensor:
    """Draw a latent code from the posterior ``(mean, logvar)``.

    With ``quirk`` the noise scale is ``exp(logvar)``, as in the original
    LD-MNIST; otherwise the textbook ``exp(logvar / 2)``.
    """
    eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    scale = torch.exp(logvar) if quirk else torch.exp(0.5 * logvar)
    return mean + scale * eps


def kl_term(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The original's KL term, ``-mean(1 + logvar - mean^2 - exp(logvar))`` (no 1/2)."""
    return -torch.mean(1 + logvar - mean.square() - torch.exp(logvar))


class ImageEncoder(nn.Module):
    """784 pixels in [0, 1] -> (mean, logvar) of an N-dim Gaussian posterior."""

    def __init__(self, latent: int, cfg: TrainConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        n_in = IMAGE_PIXELS
        for width in cfg.hidden:
            layers += _block(n_in, width, nn.ReLU(), cfg, cfg.dropout)
            n_in = width
        self.body = nn.Sequential(*layers)
        self.mean = nn.Linear(n_in, latent)
        self.logvar = nn.Linear(n_in, latent)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(images.reshape(images.shape[0], IMAGE_PIXELS))
        return self.mean(h), self.logvar(h)


class ImageDecoder(nn.Module):
    """N-dim code -> 784 pixel logits (``sigmoid`` gives the image)."""

    def __init__(self, latent: int, cfg: TrainConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = [SeededDropout(cfg.code_dropout if cfg.train_dropout else 0.0)]
        n_in = latent
        for width in reversed(cfg.hidden):
            layers += _block(n_in, width, nn.LeakyReLU(cfg.leaky_slope), cfg, cfg.dropout)
            n_in = width
        layers.append(nn.Linear(n_in, IMAGE_PIXELS))
        self.body = nn.Sequential(*layers)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.body(code)


class ClassEncoder(nn.Module):
    """One-hot label -> (mean, logvar): two linear maps, i.e. a table per class."""

    def __init__(self, latent: int) -> None:
        super().__init__()
        self.mean = nn.Linear(NUM_CLASSES, latent)
        self.logvar = nn.Linear(NUM_CLASSES, latent)

    def forward(self, onehot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mean(onehot), self.logvar(onehot)


class ClassDecoder(nn.Module):
    """N-dim code -> 10 class logits (``softmax`` gives the probabilities)."""

    def __init__(self, latent: int) -> None:
        super().__init__()
        self.linear = nn.Linear(latent, NUM_CLASSES)

    def forward(self, code: torch.Tensor, grad_scale: float = 1.0) -> torch.Tensor:
        if grad_scale == 1.0:
            return self.linear(code)
        # Same forward value; the weights receive only grad_scale of the gradient.
        w, b = self.linear.weight, self.linear.bias
        return nn.functional.linear(code, _scale_grad(w, grad_scale), _scale_grad(b, grad_scale))


class MiddleLayers(nn.Module):
    """3 x Dense(N) mapping an image code to a class code (the original's example model).

    ``width``: the two hidden layers' width (default N, the original's).
    """

    def __init__(self, latent: int, cfg: TrainConfig, width: int | None = None) -> None:
        super().__init__()
        act = nn.LeakyReLU(cfg.leaky_slope)
        width = latent if width is None else width
        self.body = nn.Sequential(
            *_block(latent, width, act, cfg, cfg.middle_dropout),
            *_block(width, width, act, cfg, cfg.middle_dropout),
            nn.Linear(width, latent),
        )

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.body(code)


def seed_module(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Keras-style init (Glorot-uniform weights, zero biases) from ``generator``,
    and make every :class:`SeededDropout` inside draw its masks from it."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight, generator=generator)
            nn.init.zeros_(m.bias)
        elif isinstance(m, SeededDropout):
            m.generator = generator
    return module


def _scale_grad(t: torch.Tensor, scale: float) -> torch.Tensor:
    """Identity in the forward pass; multiplies the gradient by ``scale``."""
    if scale == 0.0:
        return t.detach()
    return t.detach() + scale * (t - t.detach())


class LDMNISTModels(nn.Module):
    """The five trained parts of one variant, kept together for training and saving."""

    PARTS = ("image_encoder", "image_decoder", "class_encoder", "class_decoder", "middle_layers")

    def __init__(self, latent: int, cfg: TrainConfig, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.latent = latent
        self.cfg = cfg
        self.image_encoder = ImageEncoder(latent, cfg)
        self.image_decoder = ImageDecoder(latent, cfg)
        self.class_encoder = ClassEncoder(latent)
        self.class_decoder = ClassDecoder(latent)
        self.middle_layers = MiddleLayers(latent, cfg)
        if generator is not None:
            seed_module(self, generator)

    def losses(
        self, images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator, kl_scale: float = 1.0
    ) -> dict[str, torch.Tensor]:
        """All loss terms for one batch (images in [0, 1], labels int64).

        ``kl_scale`` multiplies ``cfg.kl_weight`` (the warm-up schedule).
        """
        cfg = self.cfg
        onehot = nn.functional.one_hot(labels, NUM_CLASSES).to(images.dtype)
        flat = images.reshape(images.shape[0], IMAGE_PIXELS)

        x_mean, x_logvar = self.image_encoder(flat)
        x = sample_code(x_mean, x_logvar, cfg.logvar_quirk, generator)
        image_rec = nn.functional.binary_cross_entropy_with_logits(self.image_decoder(x), flat)
        image_kl = kl_scale * cfg.kl_weight * kl_term(x_mean, x_logvar)

        y_mean, y_logvar = self.class_encoder(onehot)
        y = sample_code(y_mean, y_logvar, cfg.logvar_quirk, generator)
        class_logits = self.class_decoder(y)
        class_rec = _softmax_bce(class_logits, onehot)
        class_kl = kl_scale * cfg.kl_weight * kl_term(y_mean, y_logvar)

        # The classification term trains the middle layers fully; joint_weight and
        # joint_decoder_weight decide how much of it also shapes the image
        # encoder and the class decoder.
        pred_logits = self.class_decoder(
            self.middle_layers(_scale_grad(x, cfg.joint_weight)), cfg.joint_decoder_weight
        )
        classification = _softmax_bce(pred_logits, onehot)

        total = image_rec + image_kl + class_rec + class_kl + classification
        return {
            "total": total,
            "image_rec": image_rec,
            "image_kl": image_kl,
            "class_rec": class_rec,
            "class_kl": class_kl,
            "classification": classification,
            "class_acc": (class_logits.argmax(1) == labels).float().mean(),
            "middle_acc": (pred_logits.argmax(1) == labels).float().mean(),
        }


def _softmax_bce(logits: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    # Keras' binary_crossentropy on softmax outputs, averaged over the 10 classes;
    # computed from log-probabilities for stability.
    logp = torch.log_softmax(logits, dim=1)
    log1mp = torch.log1p(-torch.exp(logp).clamp(max=1 - 1e-7))
    return -(onehot * logp + (1 - onehot) * log1mp).mean()
