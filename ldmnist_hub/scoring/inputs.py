"""Predictions as numpy, whatever holds them: the evaluator's one converter of array-likes and tables.

:func:`as_predictions` takes what :func:`ldmnist_hub.evaluate` accepts and gives
the ``(n, N)`` array (and a table's ``mnist_index``, by which the evaluator
aligns its rows); :func:`to_numpy` converts any one array-like. Accepted: numpy
arrays (masked ones with nothing masked), nested lists, torch and tf tensors,
the columns pandas, Arrow, Dask, DuckDB and Ray hand out (a column of one
array per row), and whole tables. Conversion is by duck typing: this module
imports no framework, nor pandas or pyarrow (a value that is one of their
objects means they are imported already). Shapes, values and rows are checked
against the split by :mod:`ldmnist_hub.scoring.evaluate`.
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

import numpy as np

from ldmnist_hub.errors import InvalidArgumentError

INDEX_COLUMN = "mnist_index"
# The prediction column of a table, by name, in this order (see ldmnist_hub.evaluate's docstring).
PREDICTION_COLUMNS = ("y_pred", "y")


class Predictions(NamedTuple):
    """Predictions as numpy, before any check against the split."""

    values: np.ndarray  # the (n, N) predictions, in the order given
    index: np.ndarray | None  # a table's mnist_index column (rows are aligned by it), else None


def as_predictions(obj: Any, latent: int) -> Predictions:
    """``obj`` as numpy predictions of a variant of latent size ``latent``, with a table's ``mnist_index``.

    Args:
        obj: the predictions, as :func:`ldmnist_hub.evaluate` takes them: an array-like (see :func:`to_numpy`)
            or a table (a pandas ``DataFrame``, a ``Series`` indexed by ``mnist_index``, an Arrow
            ``Table``/``RecordBatch`` or a dict of columns), whose prediction columns are chosen by the
            rule :func:`ldmnist_hub.evaluate` documents.
        latent: the variant's latent size N: a table's prediction columns must give N values per row.

    Returns:
        The :class:`Predictions`: the values in the order given, and the table's ``mnist_index`` or None.

    Raises:
        InvalidArgumentError: as :func:`to_numpy`; a table whose prediction columns give other than ``latent``
            values per row (naming its columns).

    Examples:
        >>> as_predictions({"mnist_index": [1, 0], "y_pred": [[0.5, 1.0], [2.0, 3.0]]}, 2).index.tolist()
        [1, 0]
    """
    columns = _table_columns(obj)
    if columns is None:
        return Predictions(to_numpy(obj), None)
    pred, index, used = _table_predictions(columns)
    if len(pred) and pred.ndim == 2 and pred.shape[1] != latent:
        raise InvalidArgumentError(
            f"the table's prediction columns {[str(c) for c in used]} give {pred.shape[1]} value(s) per row but "
            f"latent {latent} needs {latent}; put one array of {latent} numbers per row in a column "
            f"'y_pred', or keep only 'mnist_index' and {latent} component columns")
    return Predictions(pred, index)


def _is_sized_row(value: Any) -> bool:
    return hasattr(value, "__len__") and not isinstance(value, (str, bytes, dict))


def _stack_rows(values: np.ndarray) -> np.ndarray:
    """A 1-D object array of equal-length 1-D numeric rows (pandas, Ray, DuckDB) as one ``(n, N)`` array."""
    if values.ndim != 1 or len(values) == 0 or not (_is_sized_row(values[0]) or values[0] is None):
        return values  # rejected with the dtype and what is accepted, in _check_predictions
    try:
        return np.stack(values)
    except (ValueError, TypeError):
        pass
    # The slow path only diagnoses: which row is missing or of another length.
    width = len(values[0])
    for i, row in enumerate(values):
        if not _is_sized_row(row):
            raise InvalidArgumentError(
                f"predictions row {i} is {row!r}, not an array: every row must be an array of {width} numbers; "
                "fill or drop missing rows first")
        if len(row) != width:
            raise InvalidArgumentError(
                f"predictions rows must all have the same length; row 0 has {width} values but row {i} has "
                f"{len(row)}: give one array of N numbers per row")
    raise InvalidArgumentError(f"predictions rows could not be stacked into one (n, {width}) array; give one 1-D "
                               "array of numbers per row")


def _arrow_to_numpy(values: Any, pa: Any) -> np.ndarray:
    """An Arrow array or chunked array as numpy: list and fixed-size-list columns become ``(n, N)``."""
    if isinstance(values, pa.ChunkedArray):
        # Empty chunks say nothing about the width of a List column's rows.
        parts = [part for part in (_arrow_to_numpy(chunk, pa) for chunk in values.chunks) if len(part)]
        if not parts:
            return np.empty((0, values.type.list_size) if pa.types.is_fixed_size_list(values.type) else (0,))
        shapes = sorted({p.shape[1:] for p in parts})
        if len(shapes) > 1:
            raise InvalidArgumentError(f"predictions rows must all have the same length; the Arrow chunks have rows "
                                       f"of shapes {shapes[:5]}: give one list of N numbers per row")
        return np.concatenate(parts)
    kind = values.type
    if not (pa.types.is_fixed_size_list(kind) or pa.types.is_list(kind) or pa.types.is_large_list(kind)):
        return values.to_numpy(zero_copy_only=False)
    if values.null_count:
        raise InvalidArgumentError(
            f"predictions have {values.null_count} missing (null) row(s) in the Arrow column of type {kind}; "
            "give one array of N numbers for every row")
    if pa.types.is_fixed_size_list(kind):
        width = kind.list_size
    else:
        lengths = np.unique(values.value_lengths().to_numpy(zero_copy_only=False))
        if len(lengths) > 1:
            raise InvalidArgumentError(f"predictions rows must all have the same length; the Arrow column has rows "
                                       f"of lengths {lengths.tolist()[:5]}: give one list of N numbers per row")
        width = int(lengths[0]) if len(lengths) else 0
    flat = values.flatten().to_numpy(zero_copy_only=False)  # flatten() honours slices (offsets)
    return flat.reshape(len(values), width)


def to_numpy(values: Any) -> np.ndarray:
    """Convert predictions to one numpy array, without importing a framework or pandas.

    Accepted: numpy arrays, nested lists, torch and tf tensors (and anything
    with ``__array__``, such as a Dask array); a 1-D object array of
    equal-length 1-D numeric arrays (a pandas ``Series.to_numpy()``, a Ray
    Data numpy batch's column) and a pandas ``Series`` of arrays, stacked to
    ``(n, N)``; an Arrow ``FixedSizeList``/``List``/``LargeList`` array or
    ``ChunkedArray`` (a DuckDB or Ray Arrow column), flattened to ``(n, N)``;
    and a table (pandas ``DataFrame``, Arrow ``Table``/``RecordBatch``, or a
    dict of columns such as a Ray numpy batch), whose prediction columns are
    chosen as :func:`ldmnist_hub.evaluate` documents and returned in the table's
    row order (only :func:`as_predictions` gives its ``mnist_index``, by which the evaluator aligns rows).

    Float dtypes numpy lacks (a torch ``bfloat16`` or ``float8`` tensor, the ``ml_dtypes`` ``bfloat16`` of JAX
    and TensorFlow arrays) are widened to float32, which holds them exactly. A numpy masked array with
    nothing masked is its data; one with masked values is refused (those values have no prediction).

    Raises:
        InvalidArgumentError: ragged rows, missing rows, masked values, or an ambiguous table (naming its
            columns).
    """
    if isinstance(values, np.ma.MaskedArray):
        masked = int(np.ma.count_masked(values))
        if masked:
            raise InvalidArgumentError(
                f"predictions are a masked array with {masked} masked value(s) of {values.size}; every value is "
                "scored, so fill them (e.g. predictions.filled(0.0)) or predict every row")
        values = np.ma.getdata(values)
    if isinstance(values, np.ndarray):
        return _stack_rows(values) if values.dtype == object else _widened(values)
    if hasattr(values, "detach") and hasattr(values, "cpu"):  # torch.Tensor
        tensor = values.detach().cpu()
        if tensor.is_floating_point() and str(tensor.dtype) not in _NUMPY_TORCH_FLOATS:
            tensor = tensor.float()  # numpy has no bfloat16 or float8; float32 holds them exactly
        return tensor.numpy()
    # pandas and pyarrow are imported already if values is one of their objects: never import them here.
    pa, pd = sys.modules.get("pyarrow"), sys.modules.get("pandas")
    columns = _table_columns(values)
    if columns is not None:
        return _table_predictions(columns)[0]
    if pd is not None and isinstance(values, pd.Series):
        if pa is not None and hasattr(values.array, "__arrow_array__") and type(values.dtype).__name__ == "ArrowDtype":
            return _arrow_to_numpy(values.array.__arrow_array__(), pa)
        return to_numpy(values.to_numpy())
    if pa is not None and isinstance(values, (pa.Array, pa.ChunkedArray)):
        return _arrow_to_numpy(values, pa)
    if hasattr(values, "numpy") and callable(values.numpy):  # tf.Tensor, jax/other array types
        return to_numpy(np.asarray(values.numpy()))
    try:
        array = np.asarray(values)
    except ValueError as err:  # ragged nested lists
        raise InvalidArgumentError(f"predictions must be a rectangular (n, N) array; could not convert: {err}") from err
    return _stack_rows(array) if array.dtype == object else _widened(array)


# The torch float dtypes that Tensor.numpy() converts; any other float tensor is widened to float32 first.
_NUMPY_TORCH_FLOATS = ("torch.float16", "torch.float32", "torch.float64")


def _widened(array: np.ndarray) -> np.ndarray:
    """``array``, with the ``ml_dtypes`` floats numpy itself lacks (bfloat16, float8, ...) widened to float32."""
    if array.dtype.kind == "V" and array.dtype.names is None and array.dtype.name.startswith(("bfloat", "float")):
        return array.astype(np.float32)
    return array


def _table_columns(values: Any) -> dict[Any, Any] | None:
    """``{name: column}`` of a pandas DataFrame, an Arrow Table/RecordBatch or a dict of columns; else None."""
    pa, pd = sys.modules.get("pyarrow"), sys.modules.get("pandas")
    if pd is not None and isinstance(values, pd.DataFrame):
        if not values.columns.is_unique:
            dupes = sorted({str(c) for c in values.columns[values.columns.duplicated()]})
            raise InvalidArgumentError(f"the DataFrame has duplicate column names {dupes}; rename them")
        columns = {name: values[name] for name in values.columns}
        if INDEX_COLUMN not in columns and values.index.name == INDEX_COLUMN:  # df.set_index("mnist_index")
            columns[INDEX_COLUMN] = values.index.to_numpy()
        return columns
    if pd is not None and isinstance(values, pd.Series) and values.index.name == INDEX_COLUMN:
        return {PREDICTION_COLUMNS[0]: values.reset_index(drop=True), INDEX_COLUMN: values.index.to_numpy()}
    if pa is not None and isinstance(values, pa.RecordBatchReader):
        values = values.read_all()
    if pa is not None and isinstance(values, (pa.Table, pa.RecordBatch)):
        if len(set(values.column_names)) != len(values.column_names):
            raise InvalidArgumentError(f"the Arrow table has duplicate column names {values.column_names}; rename them")
        return {name: values.column(name) for name in values.column_names}
    if isinstance(values, dict):  # a Ray Data numpy batch, DuckDB's fetchnumpy()
        return dict(values)
    return None


def _table_predictions(columns: dict[Any, Any]) -> tuple[np.ndarray, np.ndarray | None, list[Any]]:
    """``(predictions, mnist_index or None, the columns used)`` of a table, by the rule ``evaluate`` documents."""
    columns = dict(columns)
    index = to_numpy(columns.pop(INDEX_COLUMN)) if INDEX_COLUMN in columns else None
    named = next((name for name in PREDICTION_COLUMNS if name in columns), None)
    used = [named] if named is not None else list(columns)
    if not used:
        raise InvalidArgumentError(
            f"the table has no prediction column (columns: {[INDEX_COLUMN] if index is not None else []}); "
            "add a column 'y_pred' with one array of N numbers per row")
    arrays = [to_numpy(columns[name]) for name in used]
    if len(arrays) == 1:
        pred = arrays[0]
        return (pred[:, None] if pred.ndim == 1 else pred), index, used
    # Several columns, none named y_pred or y: one scalar numeric column per component, or ambiguous.
    scalar = [a.ndim == 1 and a.dtype != object and np.issubdtype(a.dtype, np.number) for a in arrays]
    if not all(scalar):
        shown = [str(c) for c in ([INDEX_COLUMN] if index is not None else []) + used]
        raise InvalidArgumentError(
            f"cannot tell which columns of the table hold the predictions: columns {shown}; name the prediction "
            "column 'y_pred' (one array of N numbers per row), or keep only 'mnist_index' and one numeric "
            "column per component")
    return np.stack(arrays, axis=1), index, used

