"""Tabular input: to_frame, column matching, and the checks every estimator
shares (empty tables, numeric columns)."""

import numpy as np
import pandas as pd
import pytest

from entembed._dataframe import (
    check_finite_numeric,
    check_not_empty,
    match_columns,
    numeric_array,
    to_frame,
)


def test_to_frame_keeps_rows_in_order_with_a_fresh_index_and_no_copy():
    X = pd.DataFrame({"a": ["x", "y", "z"]}, index=[10, 5, 7])
    frame, has_names = to_frame(X)
    assert has_names and frame.index.tolist() == [0, 1, 2]
    assert frame["a"].tolist() == ["x", "y", "z"]
    assert X.index.tolist() == [10, 5, 7]  # the caller's frame is untouched
    frame, has_names = to_frame(np.array([[1, 2], [3, 4]]))
    assert not has_names and frame.columns.tolist() == ["x0", "x1"]


def test_match_columns_by_name_or_position():
    fitted = {"columns": ["a", "b"], "required": ["a", "b"], "estimator": "E"}
    X = pd.DataFrame({"b": [1], "a": [2], "extra": [3]})
    assert match_columns(X, fitted_with_names=True, **fitted)["a"].tolist() == [2]
    with pytest.warns(UserWarning, match=r"X has feature names, but E was fitted"):
        frame = match_columns(X[["a", "b"]], fitted_with_names=False, **fitted)
    assert frame.columns.tolist() == ["a", "b"]
    with pytest.raises(ValueError, match=r"Column 'a' was seen in fit but is missing"):
        match_columns(X[["b"]], fitted_with_names=True, **fitted)


def test_numeric_array_is_float32_with_nan_for_missing():
    frame = pd.DataFrame({"a": [1, None, 3], "b": pd.array([1, pd.NA, 2], "Int64")})
    out = numeric_array(frame, ["b", "a"])
    assert out.dtype == np.float32 and out.shape == (3, 2)
    np.testing.assert_array_equal(np.isnan(out), [[0, 0], [1, 1], [0, 0]])


def test_error_empty_tables_name_the_estimator():
    with pytest.raises(
        ValueError,
        match=r"Found array with 0 sample\(s\) \(shape=\(0, 1\)\) while a minimum "
        r"of 1 is required by EntityEmbedder: fit needs at least one row",
    ):
        check_not_empty(pd.DataFrame({"a": []}), "EntityEmbedder")
    with pytest.raises(
        ValueError, match=r"0 feature\(s\) \(shape=\(2, 0\)\).*at least one column"
    ):
        check_not_empty(pd.DataFrame(index=[0, 1]), "CategoryVocabulary")


def test_error_numeric_columns_named():
    frame = pd.DataFrame({"size": ["big", "small"]})
    with pytest.raises(
        ValueError, match=r"Numeric column 'size' has non-numeric values \(dtype"
    ):
        numeric_array(frame, ["size"])
    values = np.array([[1.0, np.nan], [np.inf, np.nan]], dtype=np.float32)
    with pytest.raises(
        ValueError,
        match=r"Numeric input has NaN or infinite values \('age': 1, 'income': 2\)\. "
        r"Impute or drop them first",
    ):
        check_finite_numeric(values, ["age", "income"])
    check_finite_numeric(np.zeros((2, 0), np.float32), [])  # nothing to check
