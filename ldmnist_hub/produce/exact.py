"""Bit-exact encoding of MNIST with fixed weights: the same float32 bytes on every machine.

Training differs between machines; a forward pass need not. Floating-point
results depend on the machine only where the order of a *sum* does (BLAS
kernels, thread counts, SIMD widths) or where a library function (``exp``) is
implemented differently. This module removes both:

- **Matrix products are exact.** Each product's inputs are put on a binary grid
  (weights and activations rounded to multiples of ``2**-GRID_BITS``, the raw
  pixels are integers 0..255 with ``1/255`` folded into the first weights), so
  every partial sum is an integer multiple of the grid below ``2**53``: float64
  adds it without rounding, in any order, on any BLAS. :func:`exact_matmul`
  checks that bound and raises :class:`ExactnessError` if it could fail.
- **Everything else is elementwise IEEE arithmetic** (``+ - * /``, ``sqrt``,
  ``rint``, ``ldexp``), correctly rounded on every IEEE-754 machine, and
  ``exp`` is computed from those operations (:func:`exact_exp`) instead of libm.
- **Noise** is ``numpy.random.Generator(PCG64)`` with a fixed seed derivation,
  whose ``standard_normal`` stream numpy keeps stable across platforms.

The result is rounded once to float32. The rounding of weights to the grid
(about 1e-6) is part of the definition of the reference data, far below the
posterior noise. The decoders used for *scoring* stay ordinary float32 numpy
(:mod:`ldmnist_hub.codecs`): an argmax does not need the last bit.
"""

from __future__ import annotations

import numpy as np

from ldmnist_hub.errors import ExactnessError

GRID_BITS = 20
# Integer pixels times weights on a 2**-PIXEL_GRID_BITS grid (first layer): 784 * 255 * 2**-30 * max|w| stays
# far below 2**53 for any plausible weight.
PIXEL_GRID_BITS = 30
EXACT_LIMIT = 2.0**53
ENCODER_VERSION = "exact-float64/1"
# SeedSequence spawn keys: one independent noise stream per (split, latent space).
SPLIT_KEYS = {"train": 0, "test": 1}
SPACE_KEYS = {"x": 0, "y": 1}
_CHUNK = 10_000
_LN2_HI = 6.93147180369123816490e-01  # ln 2 with trailing zero bits, so k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
# Taylor coefficients 1/i! for |r| <= ln(2)/2: the 15th term is below 1e-17 of the result.
_TAYLOR = [1.0]
for _i in range(1, 16):
    _TAYLOR.append(_TAYLOR[-1] / _i)


def on_grid(a: np.ndarray, bits: int) -> np.ndarray:
    """``a`` rounded to the nearest multiple of ``2**-bits`` (float64; exact scaling by powers of two)."""
    return np.rint(np.asarray(a, dtype=np.float64) * 2.0**bits) * 2.0**-bits


def exact_matmul(a: np.ndarray, a_bits: int, w: np.ndarray, w_bits: int) -> np.ndarray:
    """``a @ w`` for ``a`` on a ``2**-a_bits`` grid and ``w`` on a ``2**-w_bits`` grid, without rounding.

    Raises:
        ExactnessError: if the bound ``fan_in * max|a| * max|w| * 2**(a_bits + w_bits)``
            reaches ``2**53``, i.e. some order of summation could round.
    """
    bound = a.shape[1] * float(np.abs(a).max(initial=0.0)) * float(np.abs(w).max(initial=0.0))
    if bound * 2.0 ** (a_bits + w_bits) >= EXACT_LIMIT:
        raise ExactnessError(
            f"matrix product of fan-in {a.shape[1]} with max|a|={np.abs(a).max():.4g}, max|w|={np.abs(w).max():.4g} "
            f"on grids 2**-{a_bits} x 2**-{w_bits} may round; the weights do not suit the exact encoder"
        )
    return a @ w


def exact_exp(v: np.ndarray) -> np.ndarray:
    """``exp(v)`` in float64 from IEEE operations only (no libm, no SIMD-specific code path).

    Cody-Waite range reduction ``v = k ln2 + r`` and a Taylor polynomial in
    Horner form; about 2 ulp from the true value, and identical on every machine.
    """
    v = np.asarray(v, dtype=np.float64)
    k = np.rint(v * _INV_LN2)
    r = (v - k * _LN2_HI) - k * _LN2_LO
    p = np.full_like(r, _TAYLOR[-1])
    for c in reversed(_TAYLOR[:-1]):
        p = p * r + c
    return np.ldexp(p, np.clip(k, -1074, 1023).astype(np.int64))


def noise(seed: int, split: str, space: str, shape: tuple[int, int]) -> np.ndarray:
    """Standard-normal noise (float64) of one split and latent space, derived from ``seed`` only."""
    seq = np.random.SeedSequence(entropy=seed, spawn_key=(SPLIT_KEYS[split], SPACE_KEYS[space]))
    return np.random.Generator(np.random.PCG64(seq)).standard_normal(shape)


def _sample(mean: np.ndarray, logvar: np.ndarray, eps: np.ndarray, quirk: bool) -> np.ndarray:
    # The original's quirk: the noise scale is exp(logvar), not exp(logvar / 2).
    scale = exact_exp(logvar if quirk else 0.5 * logvar)
    return (mean + scale * eps).astype(np.float32)


def _batch_norm(h: np.ndarray, w: dict[str, np.ndarray], name: str, eps: float) -> np.ndarray:
    scale = w[f"{name}.weight"].astype(np.float64) / np.sqrt(w[f"{name}.running_var"].astype(np.float64) + eps)
    return (h - w[f"{name}.running_mean"].astype(np.float64)) * scale + w[f"{name}.bias"].astype(np.float64)


class ExactImageEncoder:
    """The image encoder's posterior ``(mean, logvar)`` from integer pixels, bit-exact.

    Mirrors :class:`ldmnist_hub.models.ImageEncoder` in eval mode: hidden blocks
    of Linear, ReLU, BatchNorm (stored statistics), then two linear heads.
    """

    def __init__(self, weights: dict[str, np.ndarray], hidden: int, bn_eps: float) -> None:
        self.hidden = hidden
        self.bn_eps = bn_eps
        self.w = weights
        # Weights as (in, out) on their grids, computed once.
        self.kernels = {}
        for i in range(hidden):
            name = f"body.{4 * i}"
            wt = weights[f"{name}.weight"].astype(np.float64).T
            self.kernels[name] = on_grid(wt / 255.0, PIXEL_GRID_BITS) if i == 0 else on_grid(wt, GRID_BITS)
        for head in ("mean", "logvar"):
            self.kernels[head] = on_grid(weights[f"{head}.weight"].astype(np.float64).T, GRID_BITS)

    def __call__(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior of uint8 images ``(n, 784)``: two float64 arrays ``(n, N)``."""
        h = pixels.astype(np.float64)
        bits = 0  # integer pixels are on the grid 2**0
        for i in range(self.hidden):
            name = f"body.{4 * i}"
            w_bits = PIXEL_GRID_BITS if i == 0 else GRID_BITS
            h = exact_matmul(h, bits, self.kernels[name], w_bits) + self.w[f"{name}.bias"].astype(np.float64)
            h = _batch_norm(np.maximum(h, 0.0), self.w, f"body.{4 * i + 2}", self.bn_eps)
            h, bits = on_grid(h, GRID_BITS), GRID_BITS
        return tuple(  # type: ignore[return-value]
            exact_matmul(h, bits, self.kernels[head], GRID_BITS) + self.w[f"{head}.bias"].astype(np.float64)
            for head in ("mean", "logvar")
        )


def encode_split_exact(
    image_encoder: dict[str, np.ndarray],
    class_encoder: dict[str, np.ndarray],
    images: np.ndarray,
    labels: np.ndarray,
    *,
    hidden: int,
    bn_eps: float,
    logvar_quirk: bool,
    seed: int,
    split: str,
) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` (float32 ``(n, N)``) of one split, bit-identical on every machine.

    Args:
        image_encoder: the image encoder's tensors (safetensors names of
            :class:`ldmnist_hub.models.ImageEncoder`).
        class_encoder: the class encoder's tensors (``mean.weight`` ... ``logvar.bias``).
        images: uint8 ``(n, 28, 28)`` or ``(n, 784)``, in MNIST order.
        labels: integer ``(n,)`` in 0..9.
        hidden: number of hidden blocks of the image encoder.
        bn_eps: BatchNorm epsilon of the recipe.
        logvar_quirk: sample as ``mean + exp(logvar) * eps`` (the original's form).
        seed: the posterior draw; noise derives from ``(seed, split, space)``.
        split: ``"train"`` or ``"test"`` (selects the noise stream).
    """
    pixels = np.ascontiguousarray(images, dtype=np.uint8).reshape(len(images), -1)
    labels = np.asarray(labels, dtype=np.int64)
    latent = image_encoder["mean.bias"].shape[0]
    eps_x = noise(seed, split, "x", (len(pixels), latent))
    eps_y = noise(seed, split, "y", (len(pixels), latent))
    encoder = ExactImageEncoder(image_encoder, hidden, bn_eps)
    x = np.empty((len(pixels), latent), np.float32)
    for start in range(0, len(pixels), _CHUNK):
        stop = start + _CHUNK
        mean, logvar = encoder(pixels[start:stop])
        x[start:stop] = _sample(mean, logvar, eps_x[start:stop], logvar_quirk)
    # The class encoder's input is one-hot: its "product" is a row lookup plus the bias (one exact-order add).
    heads = [class_encoder[f"{h}.weight"].astype(np.float64).T[labels] + class_encoder[f"{h}.bias"].astype(np.float64)
             for h in ("mean", "logvar")]
    y = _sample(heads[0], heads[1], eps_y, logvar_quirk)
    return x, y
