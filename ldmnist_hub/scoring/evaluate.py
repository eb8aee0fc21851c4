"""The one LD-MNIST evaluator, in numpy: every adapter and framework scores through it.

Two scores, as in the original benchmark:

- ``mse``: mean over all elements of ``(predicted_y - y) ** 2``;
- ``reconstructed_accuracy``: the class VAE's decoder (a linear layer, loaded
  from the variant's safetensors) applied to the predictions, argmax vs the
  true label. The decoder ends in a softmax, which is monotonic, so the argmax
  of the logits is the argmax of the probabilities and the softmax is skipped.

Beside them, their error bars and their place between two fixed predictors
(see :class:`EvalResult`): standard errors over rows, the excess over the
oracle floor (the within-class variance of ``y`` on the scored rows: no model
of ``x`` beats it on average, since ``y`` is a posterior draw given the class)
and the fraction ``explained`` of the way from the train mean (0) to that
floor (1). A subset of a split is scored with ``rows=``.

Predictions may be numpy arrays, nested lists, torch tensors, tf tensors, the
columns pandas, Arrow, Dask, DuckDB and Ray hand out (a column of one array per
row), or a whole table with an ``mnist_index`` column, aligned by it (see
:func:`evaluate`). :mod:`ldmnist_hub.scoring.inputs` converts them, by duck
typing, so this module imports neither framework, nor pandas; here they are
checked against the split and scored.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np

from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE
from ldmnist_hub.core.schema import DEFAULT_LATENT
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.errors import InvalidArgumentError, InvalidArgumentTypeError
from ldmnist_hub.loading.arrays import variant_weights
from ldmnist_hub.loading.variant import Variant, select
from ldmnist_hub.scoring.inputs import as_predictions, to_numpy
from ldmnist_hub.store.stats import oracle_mse

# (variant folder, stats mtime, split) -> (x, y, label) of that split.
_SPLITS: dict[tuple[str, int, str], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
# (variant folder, stats mtime, split) -> the split's mnist_index, read only to align tables.
_INDICES: dict[tuple[str, int, str], np.ndarray] = {}
# (variant folder, stats mtime) -> the mean y of the variant's train split (the predictor that explains 0).
_TRAIN_MEANS: dict[tuple[str, int], np.ndarray] = {}
# (variant folder, stats mtime, split) -> (oracle floor, MSE of the train mean) of the whole split.
_BASELINES: dict[tuple[str, int, str], tuple[float, float]] = {}


def json_number(value: Any) -> Any:
    """``value``, or None where it is a float NaN or infinity (which JSON cannot hold: ``json.dumps`` would write
    ``NaN``, which strict readers refuse)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


@dataclass(frozen=True)
class EvalResult:
    """Scores of predictions on one split.

    Attributes:
        mse: mean squared error against the true ``y`` (over rows and components).
        reconstructed_accuracy: fraction of rows whose decoded class is the true label.
        n: number of rows scored.
        mse_se: standard error of ``mse`` over rows: the sample sd (ddof=1) of the per-row mean squared
            errors over ``sqrt(n)`` (NaN for one row). It measures the rows' sampling noise only, not the
            spread over posterior draws of ``y`` (see :func:`ldmnist_hub.evaluate_draws`).
        reconstructed_accuracy_se: ``sqrt(p * (1 - p) / n)``, the binomial standard error of the accuracy.
        excess_mse: ``mse`` minus the oracle floor of the scored rows: the within-class variance of their
            ``y`` (what predicting each row's class mean of ``y``, over these rows, scores). ``y`` is a
            posterior draw given the class, so a model of ``x`` cannot go below it on average.
        explained: ``(mse_trainmean - mse) / (mse_trainmean - floor)``, where ``mse_trainmean`` is what
            predicting the train split's mean ``y`` scores on these rows: 0 for the train mean, 1 for the
            floor (NaN when the two coincide).
        excess_mse_se: standard error of ``excess_mse`` over rows, paired: the sample sd of each row's squared
            error minus its squared distance to its class mean, over ``sqrt(n)``. Both terms share the row's
            posterior noise, which cancels, so it is much smaller than ``mse_se``: the error bar for how far
            a model is from the floor (NaN for one row).

    Examples:
        >>> print(EvalResult(0.884, 0.961, 10000, 0.0014, 0.0019, 0.0012, 0.947))
        mse 0.8840 +- 0.0014, accuracy 0.961 +- 0.002, excess 0.0012, explained 0.947, n=10000
    """

    mse: float
    reconstructed_accuracy: float
    n: int
    mse_se: float = math.nan
    reconstructed_accuracy_se: float = math.nan
    excess_mse: float = math.nan
    explained: float = math.nan
    excess_mse_se: float = math.nan

    def as_dict(self) -> dict[str, float | int | None]:
        """Plain-JSON form: a score that is NaN (the standard error of one row) is None, JSON's null."""
        return {k: json_number(v) for k, v in asdict(self).items()}

    def __str__(self) -> str:
        return (f"mse {self.mse:.4f} +- {self.mse_se:.4f}, accuracy {self.reconstructed_accuracy:.3f} +- "
                f"{self.reconstructed_accuracy_se:.3f}, excess {self.excess_mse:.4f}, explained "
                f"{self.explained:.3f}, n={self.n}")


def _split_arrays(
    variant: Variant, split: str
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], dict[str, np.ndarray], tuple[str, int, str]]:
    """``(x, y, label)`` of a split, the class decoder's tensors and the cache key, cached per built variant."""
    files = variant.files
    key = (str(files.root), files.stats_path.stat().st_mtime_ns, split)
    if key not in _SPLITS:
        arrays = variant.numpy(split)
        for a in arrays:
            a.flags.writeable = False  # shared between calls: never handed out for writing
        _SPLITS[key] = arrays
    return _SPLITS[key], variant_weights(files, "class_decoder"), key


def _split_index(variant: Variant, split: str) -> np.ndarray:
    """The ``mnist_index`` column of a split (in row order), cached per built variant."""
    files = variant.files
    key = (str(files.root), files.stats_path.stat().st_mtime_ns, split)
    if key not in _INDICES:
        index = variant.mnist_index(split)
        index.flags.writeable = False
        _INDICES[key] = index
    return _INDICES[key]


def _train_mean(variant: Variant, key: tuple[str, int]) -> np.ndarray:
    """The mean ``y`` of the variant's train split (cached under ``key``): from its stats if they hold it."""
    if key not in _TRAIN_MEANS:
        recorded = variant.files.stats().get("splits", {}).get("train", {}).get("y", {}).get("mean")
        if recorded is None:
            (_, y, _), _, _ = _split_arrays(variant, "train")
            recorded = y.astype(np.float64).mean(axis=0)
        mean = np.asarray(recorded, dtype=np.float64)
        mean.flags.writeable = False
        _TRAIN_MEANS[key] = mean
    return _TRAIN_MEANS[key]


def _baselines(y: np.ndarray, label: np.ndarray, train_mean: np.ndarray) -> tuple[float, float]:
    """``(oracle floor, MSE of the train mean)`` on rows ``y`` of classes ``label``."""
    return oracle_mse(y, label), float(np.mean(np.square(y.astype(np.float64) - train_mean)))


def check_rows(rows: Any, size: int, split: str) -> np.ndarray:
    """``rows`` as an int64 array of distinct positions ``0..size-1`` of a split, in the order given.

    Args:
        rows: integer positions in the split (a list, a range, a numpy or torch array), such as one half of
            ``sklearn.model_selection.train_test_split(np.arange(n))``.
        size: the number of rows of the split.
        split: the split's name, for the messages.

    Returns:
        The positions, 1-D ``int64``.

    Raises:
        InvalidArgumentError: ``rows`` is not a non-empty 1-D sequence of integers (a boolean mask, floats,
            a scalar), or holds a position out of range or one twice; the message names the values and the fix.

    Examples:
        >>> check_rows(range(3), 10, "test").tolist()
        [0, 1, 2]
    """
    if isinstance(rows, (str, bytes, dict, set, frozenset)) or np.ndim(rows) == 0:
        raise InvalidArgumentError(f"rows must be a 1-D sequence of integer positions in split {split!r} (such as "
                                   f"[0, 5, 7] or np.arange(100)); got rows={rows!r}")
    positions = to_numpy(rows)
    if positions.ndim != 1:
        raise InvalidArgumentError(f"rows must be a 1-D sequence of integer positions in split {split!r}; got "
                                   f"shape {positions.shape}: flatten it first")
    if len(positions) == 0:
        raise InvalidArgumentError(f"rows selects no rows of split {split!r}, so there is nothing to score; give "
                                   "at least one position, or rows=None for the whole split")
    if positions.dtype == np.bool_:
        raise InvalidArgumentError(f"rows must be integer positions, not a boolean mask (got {len(positions)} "
                                   "booleans): pass np.flatnonzero(mask)")
    if not np.issubdtype(positions.dtype, np.integer):
        raise InvalidArgumentError(f"rows must be integers; got dtype {positions.dtype} (first values "
                                   f"{positions[:3].tolist()}): pass integer positions, e.g. rows.astype(int)")
    # Judged before the cast to int64: a uint64 position of 2**63 or more would wrap to a negative one.
    outside = positions[(positions < 0) | (positions >= size)]
    if len(outside):
        raise InvalidArgumentError(
            f"rows {np.unique(outside)[:5].tolist()} ({len(outside)} value(s)) are out of range for split {split!r} "
            f"of {size} rows: give positions 0..{size - 1} (negative positions are not accepted)")
    positions = positions.astype(np.int64)
    counts = np.bincount(positions, minlength=size)
    if (counts > 1).any():
        repeated = np.flatnonzero(counts > 1)
        raise InvalidArgumentError(
            f"rows {repeated[:5].tolist()} ({len(repeated)} value(s)) appear more than once; each row is scored "
            "once: pass np.unique(rows)")
    return positions


def _align(pred: np.ndarray, index: np.ndarray, split_index: np.ndarray, split: str) -> np.ndarray:
    """Rows of ``pred`` reordered so that row ``i`` is the prediction for the split's ``i``-th ``mnist_index``."""
    if index.dtype == np.bool_ or not np.issubdtype(index.dtype, np.integer):
        raise InvalidArgumentError(f"the table's mnist_index column must hold integers; got dtype {index.dtype} "
                                   "(missing values?): give every row its MNIST index")
    index = index.astype(np.int64, copy=False)
    order = np.argsort(split_index, kind="stable")
    ordered = split_index[order]
    where = np.minimum(np.searchsorted(ordered, index), len(ordered) - 1)
    unknown = index[ordered[where] != index]
    span = f"{ordered[0]}..{ordered[-1]}" if len(ordered) else "nothing"
    if len(unknown):
        raise InvalidArgumentError(
            f"mnist_index values {np.unique(unknown)[:5].tolist()} ({len(unknown)} row(s)) are not rows of split "
            f"{split!r} (its mnist_index spans {span}); drop those rows or pick the split they come from")
    rows = order[where]
    counts = np.bincount(rows, minlength=len(split_index))
    if (counts > 1).any():
        dupes = split_index[counts > 1]
        raise InvalidArgumentError(
            f"mnist_index values {dupes[:5].tolist()} ({len(dupes)} value(s)) appear more than once; give one "
            f"prediction per row of split {split!r}")
    if (counts == 0).any():
        missing = split_index[counts == 0]
        raise InvalidArgumentError(
            f"the table has no prediction for {len(missing)} row(s) of split {split!r} (mnist_index "
            f"{missing[:5].tolist()}{', ...' if len(missing) > 5 else ''}); give one row per mnist_index")
    aligned = np.empty_like(pred)
    aligned[rows] = pred
    return aligned


def _check_predictions(pred: np.ndarray, expected: tuple[int, int], split: str, scope: str | None = None) -> None:
    """Refuse predictions that are not ``expected``-shaped finite numbers; ``scope`` names the rows scored."""
    scope = scope or f"split {split!r}"
    if expected[0] == 0:
        raise InvalidArgumentError(f"split {split!r} selects no rows, so there is nothing to score; pick a "
                                   "non-empty split such as 'test' or 'test[:100]'")
    if pred.dtype == np.bool_ or not (np.issubdtype(pred.dtype, np.integer) or np.issubdtype(pred.dtype, np.floating)):
        raise InvalidArgumentError(
            f"predictions must be a real numeric array (float or int); got dtype {pred.dtype} with shape "
            f"{pred.shape}; an object array is accepted when it is 1-D and each element is a 1-D array of N numbers "
            "(as a pandas Series of arrays gives)")
    if pred.ndim != 2 or pred.shape[1] != expected[1]:
        raise InvalidArgumentError(
            f"predictions must have shape (n, N) = {expected} for {scope}; got shape {pred.shape}")
    if pred.shape[0] != expected[0]:
        raise InvalidArgumentError(
            f"predictions have {pred.shape[0]} rows but {scope} has {expected[0]}; "
            f"expected shape {expected}, got shape {pred.shape}"
        )
    finite = np.isfinite(pred)
    if not finite.all():
        bad = pred.size - int(np.count_nonzero(finite))
        raise InvalidArgumentError(f"predictions must be finite; got {bad} NaN or infinite value(s) of {pred.size}")


def evaluate(
    predicted_y: Any,
    latent: int | Variant = DEFAULT_LATENT,
    split: str = "test",
    *,
    rows: Any = None,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
    version: str | None = None,
) -> EvalResult:
    """Score predicted ``y`` for every row of one split of a variant (or for the rows ``rows`` picks).

    Args:
        predicted_y: ``(n, N)`` predictions in the split's row order: a numpy
            array, nested list, torch tensor or tf tensor; or a column with one
            array of N numbers per row: a pandas ``Series`` (or its
            ``.to_numpy()``, a 1-D object array, as Ray Data numpy batches hold
            too), an Arrow ``FixedSizeList``/``List`` array or ``ChunkedArray``
            (see :func:`~ldmnist_hub.scoring.inputs.to_numpy`). Or a table: a pandas ``DataFrame``, an Arrow
            ``Table``/``RecordBatch`` or a dict of columns. A table's
            predictions are its column ``y_pred`` if it has one, else its column
            ``y``, else its only column besides ``mnist_index``, else one
            numeric column per component (all its other columns, in order); a
            table that fits none of these (e.g. two array columns, neither named
            ``y_pred``) is rejected naming its columns. A table with an
            ``mnist_index`` column (or a DataFrame or Series indexed by it) is
            aligned by it, not by position: its rows may come in any order, and
            each row of the split must appear exactly once. Anything else is
            taken in the split's row order. Any float or integer dtype is
            scored (float16 included; a bfloat16 or float8 tensor is widened
            to float32 first); a masked array only when nothing is masked.
        latent: latent size N of the variant (default 32).
        split: ``"test"`` (default), ``"train"`` or a slice such as ``"test[:100]"``.
        rows: integer positions in the split to score (any subset, in any order, each once; e.g. one half
            of ``train_test_split(np.arange(n))``); the predictions then have ``len(rows)`` rows, one per
            position in that order (a table with ``mnist_index`` is aligned to those rows). ``None``
            (default): every row of the split.
        seed: the variant's seed (0 is canonical; for a reference variant, the posterior draw).
        source: the raw data source (``"mnist"``, ``"fashion_mnist"``; see ``ldmnist_hub.data.sources.SOURCES``).
        train: training recipe overrides of the variant (see :class:`~ldmnist_hub.TrainConfig`).
        data_dir: folder with the raw IDX files (default: the source's environment variable, or the download cache).
        build: build the variant if it is not cached (otherwise raise).
        progress: show progress bars while building.

    Returns:
        The :class:`EvalResult`: ``mse``, ``reconstructed_accuracy``, ``n``, their standard errors over
        rows, ``excess_mse`` over the oracle floor of the scored rows and ``explained``.

    Raises:
        InvalidArgumentError (a ValueError): predictions of a wrong shape or
            length, non-numeric, ragged, missing, masked, NaN or infinite; an ambiguous
            table; ``mnist_index`` values missing, repeated or not in the
            split; an empty split; an unknown split or bad latent; ``rows`` not distinct
            integer positions in the split (see :func:`check_rows`).
        FileNotFoundError: the variant is not built and ``build=False``.

    Examples:
        >>> x, y, label = load_numpy(latent=32, split="test")  # doctest: +SKIP
        >>> evaluate(y, latent=32, split="test").mse  # doctest: +SKIP
        0.0
        >>> df = load_dataset("ldmnist", latent=32, split="test").to_pandas()  # doctest: +SKIP
        >>> evaluate(df.sample(frac=1).rename(columns={"y": "y_pred"}), latent=32).mse  # doctest: +SKIP
        0.0
        >>> half = np.arange(0, 10_000, 2)  # every other test row
        >>> print(evaluate(np.zeros((5000, 8)), latent=8, rows=half))  # doctest: +SKIP
        mse 0.7933 +- 0.0058, accuracy 0.093 +- 0.004, excess 0.1425, explained 0.000, n=5000
    """
    variant = select(latent, "evaluate", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    return score(scored_rows(predicted_y, variant, split, rows))


class ScoredRows(NamedTuple):
    """Checked predictions lined up with the rows they score, and two fixed predictors' scores on those rows.

    Row ``i`` of ``pred``, ``y`` and ``label`` is one scored row; ``floor`` and ``trainmean_mse`` are the
    oracle's and the train mean's MSE on these rows (see :class:`EvalResult`).
    """

    pred: np.ndarray  # (n, N) float64
    y: np.ndarray
    label: np.ndarray
    decoder: dict[str, np.ndarray]  # the class decoder's linear.weight and linear.bias
    floor: float  # the oracle MSE: within-class variance of y on these rows
    trainmean_mse: float  # the MSE of predicting the train split's mean y on these rows


def scored_rows(predicted_y: Any, variant: Variant, split: str, rows: Any = None) -> ScoredRows:
    """Predictions checked and lined up with the rows they score: the first half of :func:`evaluate`.

    Args:
        predicted_y, split, rows: as in :func:`evaluate`.
        variant: the resolved variant.

    Returns:
        The :class:`ScoredRows`; the two baselines of a whole split are computed once per built variant.

    Raises:
        InvalidArgumentError: as :func:`evaluate`.
    """
    pred, index = as_predictions(predicted_y, variant.latent)
    (_, y, label), decoder, key = _split_arrays(variant, split)
    scope, positions = None, None
    if rows is not None:
        positions = check_rows(rows, len(label), split)
        y, label, scope = y[positions], label[positions], f"rows= of split {split!r}"
    if index is not None and y.shape[0]:
        if len(pred):  # numeric, finite, N per row: then align (an empty table is reported as missing rows)
            _check_predictions(pred, (len(pred), y.shape[1]), split, scope)
        split_index = _split_index(variant, split)
        pred = _align(pred, index, split_index if positions is None else split_index[positions], split)
    _check_predictions(pred, y.shape, split, scope)
    if positions is not None:
        baselines = _baselines(y, label, _train_mean(variant, key[:2]))
    else:
        if key not in _BASELINES:
            _BASELINES[key] = _baselines(y, label, _train_mean(variant, key[:2]))
        baselines = _BASELINES[key]
    return ScoredRows(pred.astype(np.float64, copy=False), y, label, decoder, *baselines)


def score(rows: ScoredRows) -> EvalResult:
    """The scores of checked predictions (see :class:`EvalResult`): the second half of :func:`evaluate`.

    Args:
        rows: the predictions lined up with their rows, as :func:`scored_rows` gives them.

    Returns:
        The :class:`EvalResult`.

    Raises:
        InvalidArgumentError: predictions so large that their squared error overflows.
    """
    pred, y, label, decoder, floor, trainmean_mse = rows
    squared = np.square(pred - y)
    mse = float(np.mean(squared))
    logits = pred @ decoder["linear.weight"].T.astype(np.float64) + decoder["linear.bias"]
    accuracy = float(np.mean(logits.argmax(axis=1) == label))
    if not math.isfinite(mse):
        raise InvalidArgumentError(
            f"predictions are too large to score: their mean squared error overflows (got {mse})")
    n = len(label)
    per_row = squared.mean(axis=1)
    mse_se = float(np.std(per_row, ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    excess_se = float(np.std(per_row - _floor_rows(y, label), ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return EvalResult(
        mse=mse, reconstructed_accuracy=accuracy, n=n, mse_se=mse_se,
        reconstructed_accuracy_se=math.sqrt(accuracy * (1.0 - accuracy) / n), excess_mse=mse - floor,
        explained=(trainmean_mse - mse) / (trainmean_mse - floor) if trainmean_mse > floor else math.nan,
        excess_mse_se=excess_se)


def _floor_rows(y: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Each row's squared distance (mean over components) to its class mean of ``y`` over these rows.

    Their mean is the oracle floor of the rows (``store.stats.oracle_mse``).
    """
    y = y.astype(np.float64, copy=False)
    classes, inverse = np.unique(label, return_inverse=True)
    sums = np.zeros((len(classes), y.shape[1]))
    np.add.at(sums, inverse, y)
    means = sums / np.bincount(inverse, minlength=len(classes))[:, None]
    return np.square(y - means[inverse]).mean(axis=1)


def _torch_module(model: Any) -> Any:
    # torch is already imported if model is a torch module; never import it here.
    torch = sys.modules.get("torch")
    return torch if torch is not None and isinstance(model, torch.nn.Module) else None


def _model_output(out: Any, rows: int) -> np.ndarray:
    """One batch's output of a model as numpy, refused when it is not one prediction per input row."""
    if out is None:
        raise InvalidArgumentError(f"the model returned None for a batch of {rows} rows; it must return the "
                                   f"({rows}, N) predictions (is a `return` missing?)")
    array = to_numpy(out)
    if array.ndim == 0 or len(array) != rows:
        raise InvalidArgumentError(f"the model returned shape {array.shape} for a batch of {rows} rows; it must "
                                   f"return one prediction per row, shape ({rows}, N)")
    return array


def predict(model: Any, x: np.ndarray, batch_size: int = 10_000) -> np.ndarray:
    """Run a torch module, a Keras model or a callable on numpy ``x`` in batches.

    A torch module runs in eval mode under ``no_grad`` on its parameters'
    device (its training mode is restored afterwards); a Keras model through
    ``predict``; anything else is called on numpy batches.

    Raises:
        InvalidArgumentError: a bad ``batch_size``, or a model that returns None or not one prediction per row.
        InvalidArgumentTypeError: ``model`` is none of these.
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
                outs = [_model_output(model(torch.from_numpy(x[i:i + batch_size].copy()).to(device)),
                                      len(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]
        finally:
            model.train(was_training)
    elif hasattr(model, "predict") and type(model).__module__.split(".")[0] in ("keras", "tf_keras", "tensorflow"):
        return _model_output(model.predict(x, batch_size=batch_size, verbose=0), len(x))
    elif callable(model):
        outs = [_model_output(model(x[i:i + batch_size]), len(x[i:i + batch_size]))
                for i in range(0, len(x), batch_size)]
    else:
        raise InvalidArgumentTypeError(
            f"model must be a torch module, a Keras model or a callable; got {type(model).__name__}")
    return np.concatenate(outs) if outs else np.zeros((0, x.shape[1]), np.float32)


def evaluate_model(
    model: Any,
    latent: int | Variant = DEFAULT_LATENT,
    split: str = "test",
    *,
    batch_size: int = 10000,
    rows: Any = None,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = True,
    progress: bool = True,
    version: str | None = None,
) -> EvalResult:
    """Predict ``y`` from the split's ``x`` with ``model`` and score it with :func:`evaluate`.

    Args:
        model: a torch ``nn.Module``, a Keras model, or any callable mapping a
            float32 ``(batch, N)`` numpy array to ``(batch, N)`` predictions.
        latent: latent size N of the variant (default 32), or a resolved variant.
        split: the split, as in :func:`ldmnist_hub.load_numpy`.
        seed: the variant's seed (0 is canonical; for a reference variant, the posterior draw).
        source: the raw data source (``"mnist"``, ``"fashion_mnist"``; see ``ldmnist_hub.data.sources.SOURCES``).
        train: training recipe overrides of the variant (see :class:`~ldmnist_hub.TrainConfig`).
        data_dir: folder with the raw IDX files (default: the source's environment variable, or the download cache).
        build: build the variant if it is not cached (otherwise raise).
        progress: show progress bars while building.
        version: the dataset version of a reference variant (default: the current one).
        batch_size: rows per forward pass.
        rows: integer positions in the split: only those rows are predicted and scored (as in :func:`evaluate`).

    Returns:
        The :class:`EvalResult` of the model's predictions.

    Raises:
        InvalidArgumentError: the model returns None or not one prediction per row (see :func:`predict`), the
            predictions do not fit the split, or ``rows`` are not distinct positions in it (see :func:`evaluate`).

    Examples:
        >>> evaluate_model(lambda x: x * 0, latent=32).reconstructed_accuracy  # doctest: +SKIP
        0.098
    """
    variant = select(latent, "evaluate_model", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    (x, _, _), _, _ = _split_arrays(variant, split)
    if rows is not None:
        x = x[check_rows(rows, len(x), split)]
    return evaluate(predict(model, x, batch_size), variant, split, rows=rows)
