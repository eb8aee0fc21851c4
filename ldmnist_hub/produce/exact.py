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

Because no sum depends on its order, the work may be split any way without
changing a byte: :func:`encode_split_exact` encodes row chunks on a thread pool
(numpy releases the GIL in its matrix products and ufuncs), one thread per core
by default (``$LDMNIST_NUM_THREADS`` caps it).

The result is rounded once to float32. The rounding of weights to the grid
(about 1e-6) is part of the definition of the reference data, far below the
posterior noise. The decoders used for *scoring* stay ordinary float32 numpy
(:mod:`ldmnist_hub.codecs`): an argmax does not need the last bit.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from ldmnist_hub.errors import ExactnessError, InvalidArgumentError

GRID_BITS = 20
# Integer pixels times weights on a 2**-PIXEL_GRID_BITS grid (first layer): 784 * 255 * 2**-30 * max|w| stays
# far below 2**53 for any plausible weight.
PIXEL_GRID_BITS = 30
EXACT_LIMIT = 2.0**53
ENCODER_VERSION = "exact-float64/1"
# SeedSequence spawn keys: one independent noise stream per (split, latent space).
SPLIT_KEYS = {"train": 0, "test": 1}
SPACE_KEYS = {"x": 0, "y": 1}
# Rows per chunk at most: a 1,000-row chunk's float64 pixels (5 MB) stay in cache between their conversion
# and the product; 10,000-row chunks (54 MB) made the train split's encode 40% slower (0.81 s against 0.57 s
# on one thread, measured side by side).
_CHUNK = 1_000
# The same variable caps torch's threads (ldmnist_hub.recipe.train) and `ldmnist build --threads` sets it;
# sweeps set it per job, so an encode job never takes more cores than it reserved.
NUM_THREADS_ENV = "LDMNIST_NUM_THREADS"
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


def encode_threads() -> int:
    """Threads of the exact encoder: ``$LDMNIST_NUM_THREADS`` if set, else every core this process may use.

    Raises:
        InvalidArgumentError: the variable is set but not a positive integer.

    Examples:
        >>> encode_threads() >= 1
        True
    """
    raw = os.environ.get(NUM_THREADS_ENV, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise InvalidArgumentError(f"{NUM_THREADS_ENV} must be a positive integer; got {NUM_THREADS_ENV}={raw!r}")
        return int(raw)
    try:
        return max(1, len(os.sched_getaffinity(0)))  # the cores this process may run on (taskset, cgroups)
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def exact_matmul(
    a: np.ndarray, a_bits: int, w: np.ndarray, w_bits: int, *, a_max: float | None = None
) -> np.ndarray:
    """``a @ w`` for ``a`` on a ``2**-a_bits`` grid and ``w`` on a ``2**-w_bits`` grid, without rounding.

    ``a_max`` is a known bound of ``max|a|`` (e.g. 255 for pixels), saving a pass over ``a``.

    Raises:
        ExactnessError: if the bound ``fan_in * max|a| * max|w| * 2**(a_bits + w_bits)``
            reaches ``2**53``, i.e. some order of summation could round.
    """
    a_abs = float(np.abs(a).max(initial=0.0)) if a_max is None else float(a_max)
    w_abs = float(np.abs(w).max(initial=0.0))
    if a.shape[1] * a_abs * w_abs * 2.0 ** (a_bits + w_bits) >= EXACT_LIMIT:
        raise ExactnessError(
            f"matrix product of fan-in {a.shape[1]} with max|a|={a_abs:.4g}, max|w|={w_abs:.4g} "
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
    for c in reversed(_TAYLOR[:-1]):  # in place: the same two IEEE operations per step, no temporaries
        np.multiply(p, r, out=p)
        np.add(p, c, out=p)
    return np.ldexp(p, np.clip(k, -1074, 1023).astype(np.int64))


def noise(seed: int, split: str, space: str, shape: tuple[int, int]) -> np.ndarray:
    """Standard-normal noise (float64) of one split and latent space, derived from ``seed`` only."""
    seq = np.random.SeedSequence(entropy=seed, spawn_key=(SPLIT_KEYS[split], SPACE_KEYS[space]))
    return np.random.Generator(np.random.PCG64(seq)).standard_normal(shape)


def _scale(logvar: np.ndarray, quirk: bool) -> np.ndarray:
    # The original's quirk: the noise scale is exp(logvar), not exp(logvar / 2).
    return exact_exp(logvar if quirk else 0.5 * logvar)


def _sample(mean: np.ndarray, logvar: np.ndarray, eps: np.ndarray, quirk: bool) -> np.ndarray:
    return (mean + _scale(logvar, quirk) * eps).astype(np.float32)


def class_posterior(class_encoder: dict[str, np.ndarray], logvar_quirk: bool) -> tuple[np.ndarray, np.ndarray]:
    """The class encoder's posterior of each class: ``(mean, scale)``, float64 ``(classes, N)``.

    ``y`` of a row of class ``c`` is ``mean[c] + scale[c] * eps`` (then rounded to float32), ``eps`` standard
    normal from :func:`noise`.
    """
    # The class encoder's input is one-hot: its "product" is a row lookup plus the bias (one exact-order add).
    mean, logvar = (class_encoder[f"{h}.weight"].astype(np.float64).T + class_encoder[f"{h}.bias"].astype(np.float64)
                    for h in ("mean", "logvar"))
    return mean, _scale(logvar, logvar_quirk)


def encode_labels_exact(class_encoder: dict[str, np.ndarray], labels: np.ndarray, *, logvar_quirk: bool, seed: int,
                        split: str) -> np.ndarray:
    """``y`` (float32 ``(n, N)``) of one split: exactly the ``y`` of :func:`encode_split_exact`, without ``x``.

    Examples:
        >>> from ldmnist_hub.produce import reference
        >>> w = reference.get(2).weights("class_encoder")
        >>> encode_labels_exact(w, np.array([0, 1, 2]), logvar_quirk=True, seed=0, split="test").shape
        (3, 2)
    """
    labels = np.asarray(labels, dtype=np.int64)
    # Every step before the noise is elementwise, so it runs on the 10 classes' rows and is looked up after: the
    # same operations on the same operands, hence the same bits, 7,000 times fewer of them.
    mean, scale = class_posterior(class_encoder, logvar_quirk)
    return (mean[labels] + scale[labels] * noise(seed, split, "y", (len(labels), mean.shape[1]))).astype(np.float32)


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
        self.w = {k: v.astype(np.float64) for k, v in weights.items()}  # converted once, not per chunk
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
        # Pixel columns that are 0 in every row of the chunk (MNIST's border: ~110 of 784 in 10,000 rows)
        # add only exact zeros to each sum, so they are left out of the first product: 14% fewer
        # multiplications and a smaller float64 copy of the pixels, the same sums.
        used = np.flatnonzero(pixels.any(axis=0)) if self.hidden else np.arange(pixels.shape[1])
        h = pixels[:, used].astype(np.float64)
        bits, a_max = 0, float(pixels.max(initial=0))  # integer pixels are on the grid 2**0
        for i in range(self.hidden):
            name = f"body.{4 * i}"
            w_bits = PIXEL_GRID_BITS if i == 0 else GRID_BITS
            kernel = self.kernels[name][used] if i == 0 else self.kernels[name]
            h = exact_matmul(h, bits, kernel, w_bits, a_max=a_max) + self.w[f"{name}.bias"]
            h = _batch_norm(np.maximum(h, 0.0), self.w, f"body.{4 * i + 2}", self.bn_eps)
            h, bits, a_max = on_grid(h, GRID_BITS), GRID_BITS, None
        return tuple(  # type: ignore[return-value]
            exact_matmul(h, bits, self.kernels[head], GRID_BITS) + self.w[f"{head}.bias"]
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
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` (float32 ``(n, N)``) of one split, bit-identical on every machine and thread count.

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
        threads: row chunks encoded at once (default :func:`encode_threads`); the bytes do not depend on it.

    Examples:
        >>> from ldmnist_hub.produce import reference
        >>> ref = reference.get(2)
        >>> images, labels = np.zeros((3, 784), np.uint8), np.array([0, 1, 2])
        >>> x, y = encode_split_exact(ref.weights("image_encoder"), ref.weights("class_encoder"), images, labels,
        ...                           hidden=2, bn_eps=1e-3, logvar_quirk=True, seed=0, split="test")
        >>> x.shape, y.dtype
        ((3, 2), dtype('float32'))
    """
    pixels = np.ascontiguousarray(images, dtype=np.uint8).reshape(len(images), -1)
    labels = np.asarray(labels, dtype=np.int64)
    n, latent = len(pixels), image_encoder["mean.bias"].shape[0]
    threads = encode_threads() if threads is None else threads
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InvalidArgumentError(f"threads must be a positive integer; got threads={threads!r}")
    encoder = ExactImageEncoder(image_encoder, hidden, bn_eps)
    x = np.empty((n, latent), np.float32)
    # At least two chunks per thread, so the last chunk to finish leaves no core idle for long.
    chunk = max(1, min(_CHUNK, -(-n // (2 * threads))))

    eps_x: Future = Future()  # x's noise, drawn (in one sequential stream) while the chunks' products run

    def encode_rows(start: int) -> None:
        stop = min(start + chunk, n)
        mean, logvar = encoder(pixels[start:stop])
        x[start:stop] = _sample(mean, logvar, eps_x.result()[start:stop], logvar_quirk)

    def class_codes() -> np.ndarray:
        return encode_labels_exact(class_encoder, labels, logvar_quirk=logvar_quirk, seed=seed, split=split)

    def draw_eps_x() -> None:
        try:
            eps_x.set_result(noise(seed, split, "x", (n, latent)))
        except BaseException as err:  # the chunks waiting on it raise it instead of waiting forever
            eps_x.set_exception(err)
            raise

    with _one_blas_thread(), _pool(threads) as pool:
        y = pool.submit(class_codes)  # y's noise, lookup and exp run beside x's chunks
        if threads == 1:
            draw_eps_x()  # inline tasks run at once: the noise must be there before the first chunk
        chunks = [pool.submit(encode_rows, start) for start in range(0, n, chunk)]
        if threads > 1:
            draw_eps_x()
        _wait(chunks)
        return x, y.result()


class _Inline(Executor):
    """An executor that runs each task at once in the calling thread (one thread: no pool to start)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:  # handed to .result(), as a pool would
            future.set_exception(err)
        return future


def _one_blas_thread() -> Any:
    """BLAS on one thread while the pool runs: each chunk's product is one core's work.

    Two pool threads each starting BLAS threads oversubscribe the cores (OpenBLAS threads spin
    while they wait): the encode of latent-32 took 2.0-2.4 s that way on 2 shared cores, against
    1.35 s with one BLAS thread per chunk. The limit is process-wide while the encode runs.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")


def _pool(threads: int) -> Executor:
    return ThreadPoolExecutor(threads, thread_name_prefix="ldmnist-exact") if threads > 1 else _Inline()


def _wait(futures: Iterable[Future]) -> None:
    for future in list(futures):
        future.result()  # re-raises a chunk's error (e.g. ExactnessError) here
