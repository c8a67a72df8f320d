"""Tabular input: turn what users pass (pandas, polars, numpy, lists) into a pandas
DataFrame without copying data, and check its shape and column names.

Every estimator in entembed reads its input through :func:`to_frame`, so the
rules for names, duplicates and dimensions are stated once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._warnings import warn


def _is_polars(X) -> bool:
    return type(X).__module__.split(".")[0] == "polars"


def _polars_to_pandas(X) -> pd.DataFrame:
    if type(X).__name__ == "LazyFrame":
        raise TypeError(
            "Got a polars LazyFrame; call .collect() on it first and pass the "
            "resulting DataFrame."
        )
    if type(X).__name__ == "Series":
        raise ValueError(
            "Expected a 2-D table, got a polars Series; use X.to_frame() to pass "
            "a single column."
        )
    # Column by column keeps polars' nulls as None/NaN and needs no pyarrow.
    return pd.DataFrame({name: X.get_column(name).to_numpy() for name in X.columns})


def _check_unique(names) -> None:
    seen, duplicated = set(), []
    for name in names:
        if name in seen and name not in duplicated:
            duplicated.append(name)
        seen.add(name)
    if duplicated:
        raise ValueError(
            f"Column names must be unique, got duplicates: {duplicated}. Rename or "
            "drop the duplicated columns before fitting."
        )


def to_frame(X) -> tuple[pd.DataFrame, bool]:
    """Return ``X`` as a pandas DataFrame with string column names.

    Parameters
    ----------
    X : pandas.DataFrame, polars.DataFrame, array-like of shape (n_rows, n_cols)
        The table. Data is not copied where pandas can avoid it.

    Returns
    -------
    frame : pandas.DataFrame
        The same rows in the same order, with a fresh ``RangeIndex`` so that a
        caller can never reorder or drop rows by aligning on the index.
    has_names : bool
        True when ``X`` carried string column names (a DataFrame); False when
        the columns were named positionally ``x0, x1, ...``.
    """
    if _is_polars(X):
        X = _polars_to_pandas(X)
    if isinstance(X, pd.Series):
        raise ValueError(
            "Expected a 2-D table, got a pandas Series; use X.to_frame() to pass "
            "a single column."
        )
    if isinstance(X, pd.DataFrame):
        names = list(X.columns)
        _check_unique(names)
        n_str = sum(isinstance(name, str) for name in names)
        if 0 < n_str < len(names):
            raise TypeError(
                "Column names must all be strings, got a mix of "
                f"{sorted({type(n).__name__ for n in names})}. Convert them with "
                "X.columns = X.columns.astype(str)."
            )
        has_names = n_str == len(names) and len(names) > 0
        for name, dtype in X.dtypes.items():
            _check_not_complex(dtype, f"column {name!r}")
        # A shallow copy with fresh axes: no data is copied (set_axis and
        # reset_index copy every column under pandas 2), and X is untouched.
        frame = X.copy(deep=False)
        if not has_names:
            frame.columns = [f"x{i}" for i in range(len(names))]
        frame.index = pd.RangeIndex(len(frame))
        return frame, has_names

    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(
            "Got a sparse matrix; entembed encodes categorical columns and needs "
            "dense input. Pass a DataFrame or a dense array (X.toarray())."
        )
    array = np.asarray(X)
    if array.ndim != 2:
        raise ValueError(
            f"Expected a 2-D table, got an array with {array.ndim} dimension(s) "
            f"(shape {array.shape}). Reshape your data with X.reshape(-1, 1) if it "
            "has a single column."
        )
    _check_not_complex(array.dtype, "X")
    frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
    return frame, False


def _check_not_complex(dtype, name) -> None:
    if isinstance(dtype, np.dtype) and dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported: {name} has dtype {dtype}. Pass real "
            "numbers or categories."
        )


def match_columns(
    X,
    *,
    columns: list[str],
    required: list[str],
    fitted_with_names: bool,
    estimator: str,
) -> pd.DataFrame:
    """``X`` as a DataFrame that has the ``required`` columns, by name.

    ``columns`` are all columns seen in fit (named ``x0, x1, ...`` when fit saw
    no names). A table with names is matched by name: order may differ and
    extra columns are ignored (they stay in the frame; callers read columns by
    name, so no data is copied). A table without names is matched by position
    and must have as many columns as fit saw.
    """
    frame, has_names = to_frame(X)
    if has_names and fitted_with_names:
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise ValueError(
                f"Column {missing[0]!r} was seen in fit but is missing from X "
                f"(missing: {missing}). Pass a table with all of the columns "
                f"{required}."
            )
        return frame
    if has_names != fitted_with_names:
        warn(
            f"X has feature names, but {estimator} was fitted without feature "
            "names; columns are matched by position."
            if has_names
            else f"X does not have valid feature names, but {estimator} was fitted "
            "with feature names; columns are matched by position."
        )
    if frame.shape[1] != len(columns):
        raise ValueError(
            f"X has {frame.shape[1]} features, but {estimator} is expecting "
            f"{len(columns)} features as input."
        )
    frame.columns = columns  # frame is to_frame's own shallow copy
    return frame


def check_not_empty(frame: pd.DataFrame, estimator: str) -> None:
    """Refuse a table without rows or without columns to fit on."""
    for size, what in ((len(frame), "sample"), (frame.shape[1], "feature")):
        if size == 0:
            raise ValueError(
                f"Found array with 0 {what}(s) (shape={frame.shape}) while a "
                f"minimum of 1 is required by {estimator}: fit needs at least one "
                f"{'row' if what == 'sample' else 'column'} to learn from."
            )


def numeric_array(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    """The ``names`` columns as one float32 array (NaN for missing values)."""
    out = np.empty((len(frame), len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        try:
            out[:, j] = frame[name].to_numpy(dtype=np.float32, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"Numeric column {name!r} has non-numeric values (dtype "
                f"{frame[name].dtype}). List it in categorical_columns, or "
                "convert it to numbers."
            ) from exc
    return out


def check_finite_numeric(values: np.ndarray, names) -> None:
    """Raise naming each numeric column that has NaN or infinite values."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    counts = bad.sum(axis=0).tolist()
    where = ", ".join(f"{names[j]!r}: {c}" for j, c in enumerate(counts) if c)
    raise ValueError(
        f"Numeric input has NaN or infinite values ({where}). Impute or drop them "
        "first, or pass those columns as categorical."
    )
