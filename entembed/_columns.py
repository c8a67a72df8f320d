"""Which columns of a table are embedded, which are read as numbers, and which
are left out: the rules of ``categorical_columns`` and ``numeric_columns``.

``"auto"`` guesses from each column's dtype and, for text columns, from its
values: text that holds dates or nothing at all is not embedded, and text
that holds numbers is embedded with a warning. Every guess that a user might
not expect is said in a warning that names the columns and the fix; listing
the columns explicitly silences it. pandas only (no torch).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd

from ._warnings import warn

_CATEGORICAL_KINDS = "OUSb"  # object, unicode, bytes, bool
# Distinct values read to tell what a text column holds; all of them are read
# only where these agree.
_SAMPLE = 1_000
_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?: ?[AaPp][Mm])?)?"
_ZONE = r"(?: ?(?:Z|UTC|[+-]\d{2}:?\d{2}))?"
_MONTH = r"[A-Za-z]{3,9}\.?"
DATE_PATTERN = re.compile(
    r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"  # 2003-05-12, 2003/5/12
    r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"  # 05/12/2003, 12.05.2003
    rf"|\d{{1,2}}[ -]{_MONTH}[ -]\d{{4}}"  # 12 May 2003, 12-May-2003
    rf"|{_MONTH} \d{{1,2}},? \d{{4}})" + _TIME + _ZONE  # May 12, 2003
)


def is_categorical_dtype(dtype) -> bool:
    """Whether "auto" column selection embeds a column of this dtype."""
    if isinstance(dtype, (pd.CategoricalDtype, pd.StringDtype, pd.BooleanDtype)):
        return True
    return isinstance(dtype, np.dtype) and dtype.kind in _CATEGORICAL_KINDS


def is_number(values: pd.Series) -> bool:
    """A numeric column that is not boolean: read as a number."""
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(
        values
    )


def is_passable(values: pd.Series) -> bool:
    """A column ``remainder="passthrough"`` can serve as float32: numbers and
    booleans."""
    return pd.api.types.is_numeric_dtype(values)


def text_content(values: pd.Series) -> str | None:
    """What a text column holds: ``"empty"`` (every row missing), ``"dates"``
    or ``"numbers"`` (every value parses as one), or None (text)."""
    if isinstance(values.dtype, (pd.CategoricalDtype, pd.BooleanDtype)) or (
        values.dtype.kind == "b"
    ):
        return None  # the user's own choice of a categorical dtype
    present = values.dropna()
    if len(present) == 0:
        return "empty"
    sample = pd.unique(present.iloc[: 50 * _SAMPLE])[:_SAMPLE]
    kind = _kind_of_strings(sample)
    if kind is not None and len(sample) == _SAMPLE:
        kind = _kind_of_strings(pd.unique(present))  # confirm on every value
    return kind


def _kind_of_strings(values: np.ndarray) -> str | None:
    if not all(isinstance(v, str) for v in values):
        return None
    text = pd.Series(values, dtype=object).str.strip()
    if text.str.fullmatch(DATE_PATTERN).all():
        return "dates"
    if pd.to_numeric(text, errors="coerce").notna().all():
        return "numbers"
    return None


@dataclass(frozen=True)
class ColumnSelection:
    """The columns a fit embeds and reads as numbers, and the columns it
    leaves out (neither)."""

    categorical: list[str]
    numeric: list[str]
    left_out: list[str]


def select_columns(
    frame: pd.DataFrame,
    has_names: bool,
    categorical_columns,
    numeric_columns,
) -> ColumnSelection:
    """Resolve ``categorical_columns`` and ``numeric_columns`` on this table.

    ``"auto"`` embeds text, category and boolean columns, except text columns
    that hold dates or no value at all (left out, with a warning); a table
    with none of these (a numeric array, say) is embedded whole, with a
    warning. ``numeric_columns="auto"`` reads the other numeric columns.
    """
    columns = list(frame.columns)
    if isinstance(categorical_columns, str):
        categorical, set_aside = _auto_categorical(frame, has_names)
    else:
        categorical = _named(
            "categorical_columns", categorical_columns, columns, has_names
        )
        if not categorical:
            raise ValueError(
                "categorical_columns is empty; name at least one column to "
                "embed, or use 'auto'."
            )
        set_aside = []
    numbers = [c for c in columns if c not in categorical and is_number(frame[c])]
    if numeric_columns is None:
        numeric = []
    elif isinstance(numeric_columns, str):
        numeric = numbers
    else:
        numeric = _named("numeric_columns", numeric_columns, columns, has_names)
        both = sorted(set(numeric) & set(categorical))
        if both:
            raise ValueError(
                f"Columns {both} are in both categorical_columns and "
                "numeric_columns; list each column once."
            )
    left_out = [
        c for c in columns if c not in categorical and not is_passable(frame[c])
    ]
    unexplained = [c for c in left_out if c not in set_aside]
    if unexplained:
        described = ", ".join(f"{c!r} ({frame[c].dtype})" for c in unexplained)
        warn(
            f"Columns {described} are neither embedded nor numbers, so they "
            "are left out (not read, not passed on). List them in "
            "categorical_columns to embed them, or convert them to numbers "
            "(e.g. a date to its year or weekday)."
        )
    return ColumnSelection(categorical, numeric, left_out)


def _auto_categorical(frame: pd.DataFrame, has_names: bool):
    """``categorical_columns="auto"``: the columns to embed, and those set
    aside with a warning of their own (dates and empty columns as text)."""
    columns = list(frame.columns)
    candidates = [c for c in columns if is_categorical_dtype(frame[c].dtype)]
    if not candidates:
        _warn_all_embedded(columns, has_names)
        return columns, []
    found: dict[str, list[str]] = {"dates": [], "numbers": [], "empty": []}
    for column in candidates:
        kind = text_content(frame[column])
        if kind is not None:
            found[kind].append(column)
    _warn_found(frame, found)
    set_aside = found["dates"] + found["empty"]
    categorical = [c for c in candidates if c not in set_aside]
    if not categorical:
        raise ValueError(
            f"categorical_columns='auto' found no column to embed: {set_aside} "
            "hold dates or nothing. List the columns to embed in "
            "categorical_columns."
        )
    return categorical, set_aside


def _warn_all_embedded(columns: list[str], has_names: bool) -> None:
    shown = ", ".join(map(repr, columns[:5])) + (", ..." if len(columns) > 5 else "")
    if has_names:
        warn(
            f"X has no text, category or boolean column, so all its "
            f"{len(columns)} columns ({shown}) are embedded as categories, "
            "numbers included. Convert the categorical ones with "
            "X[col].astype('category') so that the others are read as numbers, "
            "or list the columns to embed in categorical_columns."
        )
    else:
        warn(
            f"X has no column names (a numpy array?), so all its {len(columns)} "
            f"columns ({shown}) are embedded as categories, numbers included. "
            "Pass a DataFrame whose categorical columns hold text or categories, "
            "or list the positions to embed in categorical_columns (e.g. "
            "categorical_columns=[0, 2])."
        )


def _warn_found(frame: pd.DataFrame, found: dict[str, list[str]]) -> None:
    def example(columns):
        return repr(frame[columns[0]].dropna().iloc[0])

    if found["dates"]:
        warn(
            f"Columns {found['dates']} hold dates stored as text (e.g. "
            f"{example(found['dates'])}); they are not embedded. Convert them "
            "to numbers first (e.g. pd.to_datetime(X[col]).dt.year, or days "
            "since a date; skrub's DatetimeEncoder derives such features), or "
            "list them in categorical_columns to embed each date as a category."
        )
    if found["empty"]:
        warn(
            f"Columns {found['empty']} have no values (every row is missing); "
            "they are not embedded. Drop them, or list them in "
            "categorical_columns to embed them anyway."
        )
    if found["numbers"]:
        warn(
            f"Columns {found['numbers']} hold numbers stored as text (e.g. "
            f"{example(found['numbers'])}); they are embedded as categories, as "
            "codes (ZIP codes, flight numbers) should be. If they are "
            "quantities, convert them with pd.to_numeric to read them as "
            "numbers; list them in categorical_columns to embed them without "
            "this warning."
        )


def _named(parameter, requested, columns, has_names) -> list[str]:
    requested = list(requested)
    if not has_names and all(isinstance(c, Integral) for c in requested):
        requested = [f"x{c}" for c in requested]  # positions in an array
    unknown = [c for c in requested if c not in columns]
    if unknown:
        raise ValueError(
            f"{parameter} names columns that are not in X: {unknown}. The "
            f"columns of X are {columns}."
        )
    return requested
