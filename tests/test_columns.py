"""Column selection: what "auto" embeds, reads as numbers and leaves out, and
the warnings that say so, naming the columns."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from training_data import FAST, city_table

from entembed import EntityEmbedder
from entembed._columns import DATE_PATTERN, select_columns, text_content


def _select(X, categorical="auto", numeric="auto", has_names=True):
    return select_columns(X, has_names, categorical, numeric)


@pytest.mark.parametrize(
    "values, kind",
    [
        (["2003-05-12", "2011-11-30", None], "dates"),
        (["05/12/2003", "11/30/2011"], "dates"),
        (["2003-05-12 08:30:00", "2011-11-30T17:05"], "dates"),
        (["12 May 2003", "May 12, 2003"], "dates"),
        (["1545", " 20.5", "-3"], "numbers"),
        ([None, np.nan, None], "empty"),
        (["Oslo", "2003-05-12"], None),
        (["Police Officer III", "Clerk"], None),
        ([1, 2, 3], None),  # numbers in an object column: not text
    ],
)
def test_text_content_tells_dates_numbers_and_empty_columns(values, kind):
    assert text_content(pd.Series(values, dtype=object)) == kind


def test_text_content_reads_every_value_where_the_sample_agrees():
    dates = [f"2003-01-{1 + i % 28:02d} {i // 28 % 24:02d}:00" for i in range(3000)]
    assert text_content(pd.Series(dates)) == "dates"
    assert text_content(pd.Series([*dates, "not a date"])) is None


@given(st.dates())
def test_every_iso_date_is_a_date(day):
    assert DATE_PATTERN.fullmatch(day.isoformat())


def test_auto_leaves_text_dates_out_with_a_warning_naming_the_column():
    X, y = city_table()
    days = pd.date_range("2001-01-01", periods=40).strftime("%Y-%m-%d")
    X["hired"] = np.tile(days, len(X) // 40)
    with pytest.warns(
        UserWarning,
        match=r"Columns \['hired'\] hold dates stored as text \(e.g. '2001-01-01'\); "
        r"they are not embedded. Convert them to numbers first",
    ):
        embedder = EntityEmbedder(**FAST).fit(X, y)
    assert embedder.categorical_columns_ == ["city", "plan"]
    assert "hired" not in embedder.get_feature_names_out()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        listed = EntityEmbedder(categorical_columns=["city", "hired"], **FAST)
        listed.fit(X.drop(columns="plan"), y)
    assert listed.categorical_columns_ == ["city", "hired"]


def test_auto_embeds_numbers_stored_as_text_with_a_warning():
    X, _y = city_table()
    X["zip"] = (X.index % 30 + 1000).astype(str)
    with pytest.warns(
        UserWarning,
        match=r"Columns \['zip'\] hold numbers stored as text \(e.g. '1000'\); they "
        r"are embedded as categories.*convert them with pd.to_numeric",
    ):
        selection = _select(X)
    assert selection.categorical == ["city", "plan", "zip"]


def test_auto_leaves_an_empty_text_column_out_with_a_warning():
    X, _y = city_table()
    X["notes"] = None
    with pytest.warns(
        UserWarning,
        match=r"Columns \['notes'\] have no values \(every row is missing\); they "
        r"are not embedded",
    ):
        selection = _select(X)
    assert selection.categorical == ["city", "plan"]
    assert selection.left_out == ["notes"]
    with pytest.raises(
        ValueError,
        match=r"categorical_columns='auto' found no column to embed: \['notes'\]",
    ):
        with pytest.warns(UserWarning):
            _select(X[["notes", "age"]])


def test_an_array_without_names_is_embedded_whole_with_a_warning():
    X = np.column_stack([np.arange(50) % 5, 1990 + np.arange(50) % 20])
    with pytest.warns(
        UserWarning,
        match=r"X has no column names \(a numpy array\?\), so all its 2 columns "
        r"\('x0', 'x1'\) are embedded as categories, numbers included.*"
        r"categorical_columns=\[0, 2\]",
    ):
        embedder = EntityEmbedder(**FAST).fit(X, np.arange(50.0))
    assert embedder.categorical_columns_ == ["x0", "x1"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EntityEmbedder(categorical_columns=[0], **FAST).fit(X, np.arange(50.0))
    frame = pd.DataFrame(X, columns=["store", "year"])
    with pytest.warns(
        UserWarning,
        match=r"X has no text, category or boolean column, so all its 2 columns "
        r"\('store', 'year'\) are embedded as categories",
    ):
        _select(frame)


def test_passthrough_serves_numbers_and_booleans_and_leaves_text_out():
    X, y = city_table()
    X["member"] = X["age"] > 40
    X["name"] = "x"
    with pytest.warns(
        UserWarning,
        match=r"Columns 'plan' \(category\), 'name' \((object|str)\) are neither "
        r"embedded nor numbers",
    ):
        embedder = EntityEmbedder(categorical_columns=["city"], **FAST).fit(X, y)
    assert embedder.passthrough_columns_ == ["age", "member"]
    out = embedder.transform(X)
    np.testing.assert_array_equal(out[:, -1], X["member"].to_numpy(np.float32))
