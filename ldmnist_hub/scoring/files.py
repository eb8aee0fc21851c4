"""Predictions saved to a file (``.npy``, ``.parquet``, ``.csv``), read into what the one evaluator scores.

``ldmnist evaluate --predictions FILE`` scores a file with :func:`ldmnist_hub.evaluate`, so the shell and
Python give the same numbers. Each format is read into an input :func:`~ldmnist_hub.scoring.evaluate.evaluate`
already takes, and its rules apply unchanged (a table with ``mnist_index`` is aligned by it, ``y_pred``
before ``y``, one numeric column per component):

- ``.npy``: one ``(n, N)`` array (``numpy.save``), read without pickles;
- ``.parquet``: an Arrow table (``df.to_parquet``, ``pyarrow.parquet.write_table``);
- ``.csv``: with a header, an Arrow table (one column per component, ``mnist_index`` optional); without one
  (``numpy.savetxt(path, pred, delimiter=",")``), an ``(n, N)`` array.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ldmnist_hub.errors import InvalidArgumentError, NotFoundError

FORMATS = (".npy", ".parquet", ".csv")


def _csv_has_header(path: Path) -> bool:
    with open(path, encoding="utf-8", errors="replace") as f:
        first = f.readline()
    try:
        [float(cell) for cell in first.strip().split(",")]
    except ValueError:
        return True
    return False


def read_predictions_file(path: str | os.PathLike[str]) -> Any:
    """The predictions in ``path`` as a numpy array or an Arrow table, by the file's suffix.

    Example:
        >>> import ldmnist_hub as ld
        >>> ld.evaluate(read_predictions_file("preds.npy"), latent=8)  # doctest: +SKIP
        EvalResult(mse=0.7234, reconstructed_accuracy=0.3638, n=10000)

    Raises:
        NotFoundError: no such file.
        InvalidArgumentError: another suffix, or a file that is not of its format (the message says how to
            write one).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in FORMATS:
        raise InvalidArgumentError(f"predictions file {str(p)!r} must end in {', '.join(FORMATS)}; save them with "
                                   "numpy.save, DataFrame.to_parquet or numpy.savetxt(path, pred, delimiter=',')")
    if not p.is_file():
        raise NotFoundError(f"predictions file {str(p)!r} does not exist")
    try:
        if suffix == ".npy":
            return np.load(p, allow_pickle=False)
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(p)
        if _csv_has_header(p):
            import pyarrow.csv as pcsv

            return pcsv.read_csv(p)
        return np.loadtxt(p, delimiter=",", ndmin=2)
    except (ValueError, OSError, EOFError) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise InvalidArgumentError(f"cannot read {str(p)!r} as {suffix[1:]} predictions ({err}); write an (n, N) "
                                   "array with numpy.save, a table with a 'y_pred' column (one array per row) or "
                                   "one column per component with DataFrame.to_parquet / to_csv") from None
