"""compare_encoders: every encoder and model scored on the same folds."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import ShuffleSplit
from sklearn.preprocessing import OrdinalEncoder

from entembed import EntityEmbedder
from entembed._compare import compare_encoders, default_encoders, format_comparison


def _table(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {"shop": rng.choice(list("abcdef"), n), "size": rng.normal(size=n)}
    )
    effect = dict(zip("abcdef", [3, 0, 5, 1, 4, 2], strict=True))  # not ordinal
    y = X["shop"].map(effect).to_numpy(float)
    y = y + X["size"].to_numpy()
    return X, y + rng.normal(0, 0.1, n)


@pytest.mark.slow
def test_compare_scores_each_encoder_with_each_model_on_the_same_folds():
    X, y = _table()
    encoders = {
        "ordinal": OrdinalEncoder(),
        "embeddings": EntityEmbedder(hidden_units=(8,), max_epochs=5, random_state=0),
    }
    table = compare_encoders(
        X,
        y,
        encoders=encoders,
        models={"ridge": Ridge()},
        cv=ShuffleSplit(3, test_size=0.25, random_state=0),
    )
    assert table[["encoder", "model"]].values.tolist() == [
        ["ordinal", "ridge"],
        ["embeddings", "ridge"],
    ]
    assert table.attrs == {"metric": "RMSE", "higher_is_better": False}
    assert (table["RMSE std"] > 0).all()  # three different splits
    # Embeddings of the shop separate what its arbitrary ordinal code cannot.
    by_encoder = table.set_index("encoder")["RMSE mean"]
    assert by_encoder["embeddings"] < 0.5 * by_encoder["ordinal"]


def test_compare_classification_scores_roc_auc():
    X, y = _table()
    table = compare_encoders(
        X,
        y > np.median(y),
        encoders={"ordinal": OrdinalEncoder()},
        models={"logistic": LogisticRegression()},
        cv=2,
    )
    assert table.attrs["metric"] == "ROC AUC"
    assert 0.5 < table["ROC AUC mean"].iloc[0] <= 1.0


def test_default_encoders_are_the_documented_four():
    assert list(default_encoders(0, "regression")) == [
        "entity embeddings",
        "one-hot (top 50)",
        "ordinal",
        "target encoding",
    ]


def test_error_compare_without_categorical_columns():
    with pytest.raises(ValueError, match=r"X has no categorical columns"):
        compare_encoders(pd.DataFrame({"a": [1.0, 2.0]}), [0.0, 1.0])


def test_format_comparison_shows_significant_digits_not_cents():
    def table(mean, std):
        frame = pd.DataFrame(
            {
                "encoder": ["a"],
                "model": ["m"],
                "RMSE mean": [mean],
                "RMSE std": [std],
                "encoder fit s": [1.0],
                "encoder transform s": [0.01],
            }
        )
        frame.attrs.update(metric="RMSE", higher_is_better=False)
        return format_comparison(frame).splitlines()[-1]

    assert "| 7933 ± 41 |" in table(7933.2, 41.3)
    assert "| 14.52 ± 0.31 |" in table(14.517, 0.306)
    assert "| 0.5878 ± 0.0033 |" in table(0.58781, 0.00331)
