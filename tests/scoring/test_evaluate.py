"""Specification of the one evaluator: ``load_numpy``, ``evaluate`` and ``evaluate_model``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support.variants import built_files

from ldmnist_hub.loading.arrays import load_numpy
from ldmnist_hub.scoring.evaluate import EvalResult, evaluate, evaluate_model

N_ROWS = {"train": 300, "test": 100}


@pytest.fixture
def variant(tiny_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments that select the tiny variant in every function of this layer."""
    return {k: tiny_kwargs[k] for k in ("latent", "train", "data_dir", "progress")}


@pytest.mark.parametrize("split", ["train", "test"])
def test_load_numpy_gives_contiguous_float32_and_int64_arrays_equal_to_the_dataset(
    split: str, tiny_build: tuple[Path, Any], tiny_home: Path, variant: dict[str, Any]
) -> None:
    x, y, label = load_numpy(split=split, build=False, **variant)
    assert (x.shape, y.shape, label.shape) == ((N_ROWS[split], 4), (N_ROWS[split], 4), (N_ROWS[split],))
    assert (x.dtype, y.dtype, label.dtype) == (np.float32, np.float32, np.int64)
    assert all(a.flags.c_contiguous and a.flags.writeable for a in (x, y, label))
    ref = tiny_build[1][split].with_format("numpy")
    np.testing.assert_array_equal(x, np.asarray(ref["x"]))
    np.testing.assert_array_equal(y, np.asarray(ref["y"]))
    np.testing.assert_array_equal(label, np.asarray(ref["label"]))


def test_load_numpy_honours_slices(tiny_home: Path, variant: dict[str, Any]) -> None:
    x, _, label = load_numpy(split="test[10:20]", build=False, **variant)
    full_x, _, full_label = load_numpy(split="test", build=False, **variant)
    np.testing.assert_array_equal(x, full_x[10:20])
    np.testing.assert_array_equal(label, full_label[10:20])


def test_load_numpy_of_an_unbuilt_latent_raises_file_not_found(tiny_home: Path, variant: dict[str, Any]) -> None:
    with pytest.raises(FileNotFoundError, match="not built"):
        load_numpy(split="test", build=False, **{**variant, "latent": 5})


@pytest.mark.parametrize("split", ["validation", "dev", "TEST"])
def test_unknown_split_is_rejected_naming_the_allowed_ones(
    split: str, tiny_home: Path, variant: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="unknown split"):
        load_numpy(split=split, build=False, **variant)
    with pytest.raises(ValueError, match="unknown split"):
        evaluate(np.zeros((100, 4)), split=split, build=False, **variant)


def test_evaluate_of_an_unbuilt_latent_raises_file_not_found(tiny_home: Path, variant: dict[str, Any]) -> None:
    with pytest.raises(FileNotFoundError, match="not built"):
        evaluate(np.zeros((100, 5)), split="test", build=False, **{**variant, "latent": 5})


def test_true_y_scores_zero_mse_and_the_class_vae_accuracy(tiny_home: Path, variant: dict[str, Any]) -> None:
    _, y, _ = load_numpy(split="test", build=False, **variant)
    res = evaluate(y, split="test", build=False, **variant)
    assert isinstance(res, EvalResult)
    assert res.mse == 0.0
    assert res.n == 100
    scores = built_files(variant["latent"], variant).stats()["scores"]
    assert res.reconstructed_accuracy == pytest.approx(scores["class_vae_accuracy"], abs=1e-12)
    assert res.as_dict() == {"mse": 0.0, "reconstructed_accuracy": res.reconstructed_accuracy, "n": 100,
                             "mse_se": 0.0, "reconstructed_accuracy_se": res.reconstructed_accuracy_se,
                             "excess_mse": res.excess_mse, "explained": res.explained,
                             "excess_mse_se": res.excess_mse_se}


def test_true_y_on_train_matches_the_torch_class_decoder(tiny_home: Path, variant: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    from ldmnist_hub.produce.build import load_models

    _, y, label = load_numpy(split="train", build=False, **variant)
    models = load_models(built_files(variant["latent"], variant))
    with torch.no_grad():
        expected = (models.class_decoder(torch.from_numpy(y)).argmax(1).numpy() == label).mean()
    assert evaluate(y, split="train", build=False, **variant).reconstructed_accuracy == pytest.approx(expected)


def test_class_means_beat_zeros(tiny_home: Path, variant: dict[str, Any]) -> None:
    _, y_train, label_train = load_numpy(split="train", build=False, **variant)
    _, _, label = load_numpy(split="test", build=False, **variant)
    means = np.stack([y_train[label_train == c].mean(0) for c in range(10)])
    oracle = evaluate(means[label], split="test", build=False, **variant)
    zeros = evaluate(np.zeros((100, 4), np.float32), split="test", build=False, **variant)
    assert oracle.mse < zeros.mse
    assert oracle.reconstructed_accuracy > zeros.reconstructed_accuracy


def test_numpy_list_and_torch_predictions_score_the_same(tiny_home: Path, variant: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    _, y, _ = load_numpy(split="test", build=False, **variant)
    pred = y + np.random.default_rng(0).normal(0, 0.5, y.shape).astype(np.float32)
    ref = evaluate(pred, split="test", build=False, **variant)
    as_torch = torch.from_numpy(pred)
    for other in (pred.tolist(), as_torch, as_torch.clone().requires_grad_(), pred.astype(np.float64)):
        res = evaluate(other, split="test", build=False, **variant)
        assert res.mse == pytest.approx(ref.mse, abs=1e-6)
        assert res.reconstructed_accuracy == pytest.approx(ref.reconstructed_accuracy, abs=1e-6)


@pytest.mark.parametrize(
    ("pred", "match"),
    [
        (np.zeros((100, 3)), r"shape \(n, N\) = \(100, 4\).*got shape \(100, 3\)"),
        (np.zeros(400), r"\(100, 4\).*got shape \(400,\)"),
        (np.zeros((99, 4)), r"99 rows but split 'test' has 100.*got shape \(99, 4\)"),
        (np.full((100, 4), np.nan), "finite; got 400 NaN or infinite"),
        (np.where(np.eye(100, 4) > 0, np.inf, 0.0), "finite; got 4 NaN or infinite"),
        (np.zeros((100, 4), bool), "numeric.*bool"),
        (np.full((100, 4), "a"), "numeric.*<U1"),
        (np.zeros((100, 4), object), "numeric.*object"),
        ([[0.0] * 4] * 99 + [[0.0] * 3], "rectangular"),
    ],
    ids=["columns", "1-d", "length", "nan", "inf", "bool", "str", "object", "ragged"],
)
def test_bad_predictions_get_a_clear_error(pred: Any, match: str, tiny_home: Path, variant: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=match):
        evaluate(pred, split="test", build=False, **variant)


def test_evaluate_model_scores_callables_and_torch_modules_like_their_predictions(
    tiny_home: Path, variant: dict[str, Any]
) -> None:
    torch = pytest.importorskip("torch")
    x, _, _ = load_numpy(split="test", build=False, **variant)
    layer = torch.nn.Linear(4, 4)
    with torch.no_grad():
        expected = evaluate(layer(torch.from_numpy(x)), split="test", build=False, **variant)
    model = torch.nn.Sequential(layer, torch.nn.Dropout(0.5)).train()
    res = evaluate_model(model, split="test", batch_size=30, build=False, **variant)
    assert res.mse == pytest.approx(expected.mse, abs=1e-6)
    assert res.reconstructed_accuracy == expected.reconstructed_accuracy
    assert model.training  # mode restored
    weight, bias = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    res_np = evaluate_model(lambda xb: xb @ weight.T + bias, split="test", batch_size=7, build=False, **variant)
    assert res_np.mse == pytest.approx(expected.mse, abs=1e-6)


def test_evaluate_is_fast_once_the_data_is_warm(tiny_home: Path, variant: dict[str, Any]) -> None:
    _, y, _ = load_numpy(split="test", build=False, **variant)
    evaluate(y, split="test", build=False, **variant)
    start = time.perf_counter()
    for _ in range(10):
        evaluate(y, split="test", build=False, **variant)
    assert (time.perf_counter() - start) / 10 < 0.02


def test_evaluate_and_codecs_import_neither_torch_nor_tensorflow() -> None:
    code = ("import sys, ldmnist_hub.scoring.evaluate, ldmnist_hub.scoring.codecs, ldmnist_hub.loading.arrays; "
            "print('torch' in sys.modules, 'tensorflow' in sys.modules)")
    assert subprocess.check_output([sys.executable, "-c", code], text=True).split() == ["False", "False"]


# Inputs from pandas, Arrow, Dask, DuckDB and Ray (issue #13).

def _noisy_test_predictions(variant: dict[str, Any]) -> np.ndarray:
    _, y, _ = load_numpy(split="test", build=False, **variant)
    return y + np.random.default_rng(0).normal(0, 0.5, y.shape).astype(np.float32)


def _object_rows(pred: np.ndarray) -> np.ndarray:
    """A 1-D object array of row arrays, as Ray Data numpy batches and ``Series.to_numpy()`` hold."""
    rows = np.empty(len(pred), dtype=object)
    rows[:] = list(pred)
    return rows


def _test_frame(variant: dict[str, Any], pred: np.ndarray) -> Any:
    from ldmnist_hub.loading.load import load_dataset

    frame = load_dataset("ldmnist", split="test", build=False, **variant).to_pandas()
    frame["y_pred"] = list(pred)
    return frame


def test_pandas_arrow_and_ray_style_columns_score_exactly_like_numpy(tiny_home: Path, variant: dict[str, Any]) -> None:
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    pred = _noisy_test_predictions(variant)
    ref = evaluate(pred, split="test", build=False, **variant)
    fixed = pa.FixedSizeListArray.from_arrays(pa.array(pred.ravel()), 4)
    kinds = {
        "pandas Series of arrays": pd.Series(list(pred)),
        "Series.to_numpy() (object)": pd.Series(list(pred)).to_numpy(),
        "Ray-style object batch": _object_rows(pred),
        "Ray-style dict batch": {"y_pred": _object_rows(pred)},
        "Arrow fixed-size list": fixed,
        "Arrow ChunkedArray": pa.chunked_array([fixed.slice(0, 30), fixed.slice(30)]),
        "Arrow list": pa.array(pred.tolist(), pa.list_(pa.float32())),
        "pandas ArrowDtype Series": pd.Series(fixed, dtype=pd.ArrowDtype(fixed.type)),
        "list of arrays": list(pred),
    }
    for name, values in kinds.items():
        assert evaluate(values, split="test", build=False, **variant) == ref, name


def test_a_sliced_arrow_column_scores_its_own_rows(tiny_home: Path, variant: dict[str, Any]) -> None:
    pa = pytest.importorskip("pyarrow")
    pred = _noisy_test_predictions(variant)
    column = pa.FixedSizeListArray.from_arrays(pa.array(pred.ravel()), 4).slice(10, 10)  # an offset into the buffer
    expected = evaluate(pred[10:20], split="test[10:20]", build=False, **variant)
    assert evaluate(column, split="test[10:20]", build=False, **variant) == expected


def test_a_dataframe_is_aligned_by_mnist_index_not_by_position(tiny_home: Path, variant: dict[str, Any]) -> None:
    pa = pytest.importorskip("pyarrow")
    pytest.importorskip("pandas")
    pred = _noisy_test_predictions(variant)
    ref = evaluate(pred, split="test", build=False, **variant)
    frame = _test_frame(variant, pred)
    shuffled = frame.sample(frac=1.0, random_state=0)
    assert not np.array_equal(shuffled["mnist_index"].to_numpy(), np.arange(100))
    assert evaluate(frame, split="test", build=False, **variant) == ref
    assert evaluate(shuffled, split="test", build=False, **variant) == ref
    assert evaluate(shuffled.set_index("mnist_index"), split="test", build=False, **variant) == ref
    assert evaluate(shuffled.set_index("mnist_index")["y_pred"], split="test", build=False, **variant) == ref
    table = pa.Table.from_pandas(shuffled[["mnist_index", "y_pred"]], preserve_index=False)
    assert evaluate(table, split="test", build=False, **variant) == ref
    as_dict = {"mnist_index": shuffled["mnist_index"].to_numpy(), "y_pred": shuffled["y_pred"].to_numpy()}
    assert evaluate(as_dict, split="test", build=False, **variant) == ref
    # Without mnist_index the rows are taken in order, so the shuffle changes the score.
    assert evaluate(shuffled[["y_pred"]], split="test", build=False, **variant) != ref


def test_a_dataframe_of_a_slice_is_aligned_within_the_slice(tiny_home: Path, variant: dict[str, Any]) -> None:
    pytest.importorskip("pandas")
    pred = _noisy_test_predictions(variant)
    part = _test_frame(variant, pred).iloc[10:20].sample(frac=1.0, random_state=1)
    expected = evaluate(pred[10:20], split="test[10:20]", build=False, **variant)
    assert evaluate(part, split="test[10:20]", build=False, **variant) == expected


def test_table_prediction_columns_follow_the_documented_rule(tiny_home: Path, variant: dict[str, Any]) -> None:
    pd = pytest.importorskip("pandas")
    pred = _noisy_test_predictions(variant)
    ref = evaluate(pred, split="test", build=False, **variant)
    index = np.arange(100)[::-1]
    reversed_pred = pred[::-1]
    components = pd.DataFrame({"mnist_index": index, **{f"c{k}": reversed_pred[:, k] for k in range(4)}})
    only_column = pd.DataFrame({"mnist_index": index, "pred": list(reversed_pred)})
    y_pred_beats_y = pd.DataFrame({"y": list(np.zeros_like(pred)), "y_pred": list(reversed_pred),
                                   "mnist_index": index})
    y_alone = pd.DataFrame({"x": list(np.zeros_like(pred)), "y": list(reversed_pred), "mnist_index": index})
    for frame in (components, only_column, y_pred_beats_y, y_alone):
        assert evaluate(frame, split="test", build=False, **variant) == ref, list(frame.columns)


@pytest.mark.parametrize(
    ("columns", "match"),
    [
        ({"x": "rows", "pred": "rows"}, r"cannot tell which columns.*\['mnist_index', 'x', 'pred'\].*'y_pred'"),
        ({"pred": "rows", "label": "labels"}, r"cannot tell which columns.*\['mnist_index', 'pred', 'label'\]"),
        ({"label": "labels", **{f"c{k}": k for k in range(4)}},
         r"columns \['label', 'c0', 'c1', 'c2', 'c3'\] give 5 value\(s\) per row but latent 4 needs 4"),
        ({}, r"no prediction column.*'y_pred'"),
    ],
    ids=["two-array-columns", "array-and-scalar", "extra-component", "none"],
)
def test_ambiguous_tables_are_rejected_naming_their_columns(
    columns: dict[str, Any], match: str, tiny_home: Path, variant: dict[str, Any]
) -> None:
    pd = pytest.importorskip("pandas")
    from ldmnist_hub.errors import InvalidArgumentError

    pred, (_, _, label) = _noisy_test_predictions(variant), load_numpy(split="test", build=False, **variant)
    data = {"rows": list(pred), "labels": label}
    frame = pd.DataFrame({"mnist_index": np.arange(100), **{
        name: data[v] if isinstance(v, str) else pred[:, v] for name, v in columns.items()}})
    with pytest.raises(InvalidArgumentError, match=match):
        evaluate(frame, split="test", build=False, **variant)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda f: f.iloc[1:], r"no prediction for 1 row\(s\) of split 'test' \(mnist_index \[0\]\)"),
        (lambda f: f.assign(mnist_index=np.r_[7, 1:100]), r"values \[7\] \(1 value\(s\)\) appear more than once"),
        (lambda f: f.assign(mnist_index=np.r_[1:100, 100]), r"values \[100\] .*not rows of split 'test' .*0\.\.99"),
        (lambda f: f.assign(mnist_index=np.r_[-1, 1:100]), r"values \[-1\] .*not rows of split 'test'"),
        (lambda f: f.assign(mnist_index=np.r_[np.nan, 1:100]), r"must hold integers; got dtype float64"),
        (lambda f: f.iloc[:0], r"no prediction for 100 row\(s\)"),
    ],
    ids=["missing", "duplicate", "past-the-end", "negative", "nan", "empty"],
)
def test_bad_mnist_index_gets_a_clear_error(edit: Any, match: str, tiny_home: Path, variant: dict[str, Any]) -> None:
    pytest.importorskip("pandas")
    from ldmnist_hub.errors import InvalidArgumentError

    frame = _test_frame(variant, _noisy_test_predictions(variant))
    with pytest.raises(InvalidArgumentError, match=match):
        evaluate(edit(frame), split="test", build=False, **variant)


def test_a_whole_split_frame_for_a_slice_names_the_rows_outside_it(tiny_home: Path, variant: dict[str, Any]) -> None:
    pytest.importorskip("pandas")
    from ldmnist_hub.errors import InvalidArgumentError

    frame = _test_frame(variant, _noisy_test_predictions(variant))
    with pytest.raises(InvalidArgumentError, match=r"\(90 row\(s\)\) are not rows of split 'test\[:10\]'.*0\.\.9"):
        evaluate(frame, split="test[:10]", build=False, **variant)


def test_bad_columns_of_arrays_get_a_clear_error(tiny_home: Path, variant: dict[str, Any]) -> None:
    pa = pytest.importorskip("pyarrow")
    from ldmnist_hub.errors import InvalidArgumentError

    pred = _noisy_test_predictions(variant)
    ragged = _object_rows(pred)
    ragged[5] = pred[5, :3]
    with_none = _object_rows(pred)
    with_none[3] = None
    nulls = pa.array([*pred.tolist()[:99], None], pa.list_(pa.float32(), 4))
    cases = [
        (ragged, r"row 0 has 4 values but row 5 has 3"),
        (with_none, r"row 3 is None, not an array"),
        (nulls, r"1 missing \(null\) row"),
        (pa.array([*pred.tolist()[:99], [0.0]], pa.list_(pa.float32())), r"rows of lengths \[1, 4\]"),
        (pa.chunked_array([pa.array(pred[:50].tolist(), pa.list_(pa.float32())),
                           pa.array(pred[50:, :3].tolist(), pa.list_(pa.float32()))]), r"chunks have rows"),
        (_object_rows(np.zeros((100, 4), bool)), r"numeric.*bool"),
    ]
    for values, match in cases:
        with pytest.raises(InvalidArgumentError, match=match):
            evaluate(values, split="test", build=False, **variant)


def test_an_empty_split_still_selects_no_rows(tiny_home: Path, variant: dict[str, Any]) -> None:
    pytest.importorskip("pandas")
    from ldmnist_hub.errors import InvalidArgumentError

    frame = _test_frame(variant, _noisy_test_predictions(variant))
    for values in (np.zeros((0, 4)), frame.iloc[:0]):
        with pytest.raises(InvalidArgumentError, match="selects no rows"):
            evaluate(values, split="test[:0]", build=False, **variant)


def test_evaluate_imports_neither_pandas_nor_pyarrow() -> None:
    code = "import sys, ldmnist_hub.scoring.evaluate; print('pandas' in sys.modules, 'pyarrow' in sys.modules)"
    assert subprocess.check_output([sys.executable, "-c", code], text=True).split() == ["False", "False"]
