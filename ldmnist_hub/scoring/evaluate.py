"""The one LD-MNIST evaluator, in numpy: every adapter and framework scores through it.

Two scores, as in the original benchmark:

- ``mse``: mean over all elements of ``(predicted_y - y) ** 2``;
- ``reconstructed_accuracy``: the class VAE's decoder (a linear layer, loaded
  from the variant's safetensors) applied to the predictions, argmax vs the
  true label. The decoder ends in a softmax, which is monotonic, so the argmax
  of the logits is the argmax of the probabilities and the softmax is skipped.

Predictions may be numpy arrays, nested lists, torch tensors or tf tensors;
they are converted by duck typing, so this module imports neither framework.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.errors import InvalidArgumentError, InvalidArgumentTypeError
from ldmnist_hub.loading.arrays import split_arrays, variant_weights
from ldmnist_hub.loading.variant import Variant, resolve

# (variant folder, stats mtime, split) -> (x, y, label) of that split.
_SPLITS: dict[tuple[str, int, str], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


@dataclass(frozen=True)
class EvalResult:
    """Scores of predictions on one split.

    Attributes:
        mse: mean squared error against the true ``y`` (over rows and components).
        reconstructed_accuracy: fraction of rows whose decoded class is the true label.
        n: number of rows scored.
    """

    mse: float
    reconstructed_accuracy: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        """Plain-JSON form."""
        return asdict(self)


def _split_arrays(
    variant: Variant, split: str
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], dict[str, np.ndarray]]:
    """``(x, y, label)`` of a split and the class decoder's tensors, cached per built variant."""
    files = variant.files()
    key = (str(files.root), files.stats_path.stat().st_mtime_ns, split)
    if key not in _SPLITS:
        arrays = split_arrays(variant, split)
        for a in arrays:
            a.flags.writeable = False  # shared between calls: never handed out for writing
        _SPLITS[key] = arrays
    return _SPLITS[key], variant_weights(files, "class_decoder")


def to_numpy(values: Any) -> np.ndarray:
    """Convert numpy arrays, lists, torch tensors or tf tensors to numpy without importing a framework."""
    if isinstance(values, np.ndarray):
        return values
    if hasattr(values, "detach") and hasattr(values, "cpu"):  # torch.Tensor
        return values.detach().cpu().numpy()
    if hasattr(values, "numpy") and callable(values.numpy):  # tf.Tensor, jax/other array types
        return np.asarray(values.numpy())
    try:
        return np.asarray(values)
    except ValueError as err:  # ragged nested lists
        raise InvalidArgumentError(f"predictions must be a rectangular (n, N) array; could not convert: {err}") from err


def _check_predictions(pred: np.ndarray, expected: tuple[int, int], split: str) -> None:
    if pred.dtype == np.bool_ or not (np.issubdtype(pred.dtype, np.integer) or np.issubdtype(pred.dtype, np.floating)):
        raise InvalidArgumentError(f"predictions must be a real numeric array (float or int); got dtype {pred.dtype}")
    if pred.ndim != 2 or pred.shape[1] != expected[1]:
        raise InvalidArgumentError(
            f"predictions must have shape (n, N) = {expected} for split {split!r}; got shape {pred.shape}")
    if pred.shape[0] != expected[0]:
        raise InvalidArgumentError(
            f"predictions have {pred.shape[0]} rows but split {split!r} has {expected[0]}; "
            f"expected shape {expected}, got shape {pred.shape}"
        )
    finite = np.isfinite(pred)
    if not finite.all():
        bad = pred.size - int(np.count_nonzero(finite))
        raise InvalidArgumentError(f"predictions must be finite; got {bad} NaN or infinite value(s) of {pred.size}")


def evaluate(
    predicted_y: Any,
    latent: int = DEFAULT_LATENT,
    split: str = "test",
    *,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
) -> EvalResult:
    """Score predicted ``y`` for every row of one split of a variant.

    Args:
        predicted_y: ``(n, N)`` predictions in the split's row order: a numpy
            array, nested list, torch tensor or tf tensor.
        latent: latent size N of the variant (default 32).
        split: ``"test"`` (default), ``"train"`` or a slice such as ``"test[:100]"``.
        seed, source, train, data_dir, build, progress: select (and if needed build) the
            variant, as in :func:`ldmnist_hub.load_numpy`.

    Returns:
        The :class:`EvalResult` (``mse``, ``reconstructed_accuracy``, ``n``).

    Raises:
        ValueError: predictions of a wrong shape or length, non-numeric, NaN or
            infinite; an unknown split or bad latent.
        FileNotFoundError: the variant is not built and ``build=False``.

    Example:
        >>> x, y, label = load_numpy(latent=32, split="test")  # doctest: +SKIP
        >>> evaluate(y, latent=32, split="test").mse  # doctest: +SKIP
        0.0
    """
    pred = to_numpy(predicted_y)
    variant = resolve(latent, seed=seed, source=source, train=train, data_dir=data_dir, build=build, progress=progress)
    (_, y, label), decoder = _split_arrays(variant, split)
    _check_predictions(pred, y.shape, split)
    pred = pred.astype(np.float64, copy=False)
    mse = float(np.mean(np.square(pred - y)))
    logits = pred @ decoder["linear.weight"].T.astype(np.float64) + decoder["linear.bias"]
    accuracy = float(np.mean(logits.argmax(axis=1) == label))
    if not math.isfinite(mse):
        raise InvalidArgumentError(
            f"predictions are too large to score: their mean squared error overflows (got {mse})")
    return EvalResult(mse=mse, reconstructed_accuracy=accuracy, n=len(label))


def _torch_module(model: Any) -> Any:
    # torch is already imported if model is a torch module; never import it here.
    torch = sys.modules.get("torch")
    return torch if torch is not None and isinstance(model, torch.nn.Module) else None


def predict(model: Any, x: np.ndarray, batch_size: int = 10_000) -> np.ndarray:
    """Run a torch module, a Keras model or a callable on numpy ``x`` in batches.

    A torch module runs in eval mode under ``no_grad`` on its parameters'
    device (its training mode is restored afterwards); a Keras model through
    ``predict``; anything else is called on numpy batches.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be a positive integer; got batch_size={batch_size!r}")
    torch = _torch_module(model)
    if torch is not None:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                # The cached x is read-only; torch wants writable memory, so each batch is copied.
                outs = [to_numpy(model(torch.from_numpy(x[i:i + batch_size].copy()).to(device)))
                        for i in range(0, len(x), batch_size)]
        finally:
            model.train(was_training)
    elif hasattr(model, "predict") and type(model).__module__.split(".")[0] in ("keras", "tf_keras", "tensorflow"):
        return to_numpy(model.predict(x, batch_size=batch_size, verbose=0))
    elif callable(model):
        outs = [to_numpy(model(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]
    else:
        raise InvalidArgumentTypeError(
            f"model must be a torch module, a Keras model or a callable; got {type(model).__name__}")
    return np.concatenate(outs) if outs else np.zeros((0, x.shape[1]), np.float32)


def evaluate_model(
    model: Any,
    latent: int = DEFAULT_LATENT,
    split: str = "test",
    *,
    batch_size: int = 10_000,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
) -> EvalResult:
    """Predict ``y`` from the split's ``x`` with ``model`` and score it with :func:`evaluate`.

    Args:
        model: a torch ``nn.Module``, a Keras model, or any callable mapping a
            float32 ``(batch, N)`` numpy array to ``(batch, N)`` predictions.
        latent, split, seed, source, train, data_dir, build, progress: as in :func:`evaluate`.
        batch_size: rows per forward pass.

    Example:
        >>> evaluate_model(lambda x: x * 0, latent=32).reconstructed_accuracy  # doctest: +SKIP
        0.098
    """
    variant = resolve(latent, seed=seed, source=source, train=train, data_dir=data_dir, build=build, progress=progress)
    (x, _, _), _ = _split_arrays(variant, split)
    return evaluate(predict(model, x, batch_size), latent, split, seed=seed, source=source, train=train,
                    data_dir=data_dir, build=build, progress=progress)
