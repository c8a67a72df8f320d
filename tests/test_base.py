"""What the estimators share: column parameters, y checks and most_similar."""

import warnings

import numpy as np
import pandas as pd
import pytest
from training_data import FAST, city_table

from entembed import (
    EntityEmbedder,
    EntityEmbeddingClassifier,
)


@pytest.fixture(scope="module")
def fitted():
    X, y = city_table()
    return EntityEmbedder(**FAST).fit(X, y), X, y


def test_error_duplicate_columns_and_bad_y():
    X, y = city_table(n=50)
    duplicated = X.set_axis(["city", "city", "age"], axis=1)
    with pytest.raises(ValueError, match=r"got duplicates: \['city'\]"):
        EntityEmbedder(**FAST).fit(duplicated, y)
    with pytest.raises(
        ValueError, match=r"y has 49 rows but X has 50; pass one target"
    ):
        EntityEmbedder(**FAST).fit(X, y[:-1])
    with pytest.raises(
        ValueError, match=r"The target has 1 NaN or infinite value\(s\)"
    ):
        EntityEmbedder(**FAST).fit(X, np.r_[y[:-1], np.nan])
    with pytest.raises(
        ValueError,
        match=r"requires y to be passed, but the target y is "
        r"None",
    ):
        EntityEmbedder(**FAST).fit(X, None)
    with pytest.raises(ValueError, match=r"only one class \('a'\)"):
        EntityEmbeddingClassifier(**FAST).fit(X, ["a"] * 50)


def test_error_bad_column_parameters():
    X, y = city_table(n=50)
    with pytest.raises(
        ValueError,
        match=r"categorical_columns names columns that are not "
        r"in X: \['town'\]",
    ):
        EntityEmbedder(categorical_columns=["town"], **FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"Columns \['city'\] are in both"):
        EntityEmbedder(
            categorical_columns=["city"], numeric_columns=["city"], **FAST
        ).fit(X, y)
    with pytest.raises(
        ValueError,
        match=r"Numeric input has NaN or infinite values "
        r"\('age': 1\)",
    ):
        EntityEmbedder(**FAST).fit(X.assign(age=[np.nan] + [1.0] * 49), y)
    with pytest.raises(
        ValueError,
        match=r"The 'encoder' parameter of EntityEmbedder must"
        r" be a str among",
    ):
        EntityEmbedder(encoder="hash").fit(X, y)


def test_error_most_similar(fitted):
    embedder, _, _ = fitted
    with pytest.raises(ValueError, match=r"Column 'age' is not embedded"):
        embedder.most_similar("age", 3)
    with pytest.raises(
        ValueError, match=r"Category 'Atlantis' has no vector of its own"
    ):
        embedder.most_similar("city", "Atlantis")


def test_auto_selection_names_the_columns_it_leaves_out():
    X = pd.DataFrame(
        {
            "city": ["a", "b"] * 20,
            "when": pd.date_range("2024-01-01", periods=40),
            "size": np.arange(40.0),
        }
    )
    with pytest.warns(
        UserWarning,
        match=r"Columns 'when' \(datetime64\[.*\]\) are neither embedded nor fed as "
        r"numbers: categorical_columns='auto'",
    ):
        embedder = EntityEmbedder(**FAST).fit(X, np.arange(40.0))
    assert embedder.categorical_columns_ == ["city"]
    assert embedder.numeric_columns_ == ["size"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EntityEmbedder(categorical_columns=["city"], **FAST).fit(X, np.arange(40.0))
