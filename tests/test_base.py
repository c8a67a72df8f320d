"""What the estimators share: column parameters, y checks and most_similar."""

import numpy as np
import pandas as pd
import pytest

from entembed import (
    EntityEmbedder,
    EntityEmbeddingClassifier,
)

FAST = {"hidden_units": (16,), "max_epochs": 3, "batch_size": 64, "random_state": 0}


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "city": rng.choice([f"city{i}" for i in range(12)], n),
            "plan": pd.Categorical(rng.choice(["a", "b", "c"], n)),
            "age": rng.normal(40, 10, n),
        }
    )
    effect = {f"city{i}": i % 4 for i in range(12)}
    y = X["city"].map(effect).to_numpy(float) + 0.02 * X["age"].to_numpy()
    return X, y + rng.normal(0, 0.1, n)


@pytest.fixture(scope="module")
def fitted():
    X, y = _data()
    return EntityEmbedder(**FAST).fit(X, y), X, y


def test_error_duplicate_columns_and_bad_y():
    X, y = _data(n=50)
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
    X, y = _data(n=50)
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
