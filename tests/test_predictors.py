"""The regressor and the classifier: the trained network's own predictions."""

import warnings

import numpy as np
import pytest
from training_data import FAST, city_table, with_an_id_column

import entembed
from entembed import (
    EntityEmbeddingClassifier,
    EntityEmbeddingRegressor,
)


# ------------------------------------------------------------- predictors
def test_regressor_predicts_and_scores():
    X, y = city_table(n=1000)
    model = EntityEmbeddingRegressor(
        hidden_units=(32,),
        max_epochs=30,
        batch_size=64,
        learning_rate=3e-3,
        random_state=0,
    ).fit(X, y)
    assert model.predict(X).shape == (len(X),)
    assert model.score(X, y) > 0.8
    two = EntityEmbeddingRegressor(**FAST).fit(X, np.column_stack([y, -y]))
    assert two.predict(X).shape == (len(X), 2)


def test_classifier_binary_and_multiclass():
    X, y = city_table(n=800)
    labels = np.where(y > np.median(y), "high", "low")
    model = EntityEmbeddingClassifier(
        hidden_units=(32,),
        max_epochs=20,
        batch_size=64,
        learning_rate=3e-3,
        random_state=0,
    ).fit(X, labels)
    assert model.classes_.tolist() == ["high", "low"]
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    assert model.score(X, labels) > 0.8
    three = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    multi = EntityEmbeddingClassifier(**FAST).fit(X, three)
    assert multi.predict_proba(X).shape == (len(X), 3)
    assert set(multi.predict(X)) <= {0, 1, 2}


def test_predictor_serves_its_embeddings_like_the_embedder():
    X, y = city_table()
    model = EntityEmbeddingRegressor(**FAST).fit(X, y)
    features = model.transform_embeddings(X)
    width = sum(model.embedding_dims_.values())
    assert features.shape == (len(X), width)
    np.testing.assert_array_equal(
        features[:, : model.embedding_dims_["city"]],
        model.embeddings_["city"].loc[X["city"]].to_numpy(),
    )


# ------------------------------------------------- ID-like columns tested
def _fit(X, y, sample_weight=None, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ID-like width warning
        model = EntityEmbeddingRegressor(**{**FAST, **params})
        return model.fit(X, y, sample_weight=sample_weight)


def test_an_id_like_column_of_noise_is_left_out_of_a_second_fit(tmp_path):
    # The customers carry nothing about the target: on the validation rows
    # their vectors lower no loss, so the network is trained again reading
    # them as zero vectors that do not train, and every customer, seen or
    # new, is served that vector.
    X, y = with_an_id_column(n=1200, informative=False)
    model = _fit(X, y)
    assert model.get_params()["test_id_columns"] is True
    assert model.constant_columns_ == ["customer"]
    assert not model.embeddings_["customer"].to_numpy().any()
    shuffled = X.assign(customer=X["customer"].sample(frac=1, random_state=1).values)
    np.testing.assert_array_equal(model.predict(shuffled), model.predict(X))
    new = X.assign(customer="never seen")
    with pytest.warns(UserWarning, match="never seen in fit"):
        np.testing.assert_array_equal(model.predict(new), model.predict(X))
    with pytest.raises(
        ValueError,
        match=r"Column 'customer' serves one vector to every category: its "
        r"vectors did not generalise to the validation rows "
        r"\(constant_columns_\)\. Fit with test_id_columns=False to keep them\.",
    ):
        model.most_similar("customer", "c1")
    model.save(tmp_path / "model.npz")
    loaded = entembed.load(tmp_path / "model.npz")
    assert loaded.constant_columns_ == ["customer"]
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize(
    ("informative", "params"),
    [
        (True, {}),  # the customers pass the test: no refit
        (False, {"test_id_columns": False}),
        (False, {"validation_fraction": 0.0}),  # no rows to test on
    ],
)
def test_id_like_columns_keep_their_vectors_unless_they_fail(informative, params):
    X, y = with_an_id_column(n=1200, informative=informative)
    model = _fit(X, y, **params)
    untested = _fit(X, y, **{**params, "test_id_columns": False})
    assert model.constant_columns_ == untested.constant_columns_ == []
    np.testing.assert_array_equal(model.predict(X), untested.predict(X))
    customer = model.embeddings_["customer"].to_numpy()
    assert not np.allclose(customer, customer[0])


def test_the_validation_test_weighs_rows_by_their_sample_weight():
    # Equal weights train the same network as none and scale each gain alike.
    X, y = with_an_id_column(n=1200, informative=False)
    weighted = _fit(X, y, sample_weight=np.full(len(X), 2.0))
    assert weighted.constant_columns_ == _fit(X, y).constant_columns_ == ["customer"]


def test_the_refit_leaves_out_a_failing_column_beside_a_passing_one():
    X, y = with_an_id_column(n=1200)
    X["visit"] = [f"v{i}" for i in np.random.default_rng(3).permutation(len(X)) // 4]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ID-like width warning
        model = EntityEmbeddingClassifier(**FAST).fit(X, y > np.median(y))
    assert model.constant_columns_ == ["visit"]
    assert not model.embeddings_["visit"].to_numpy().any()
    assert model.embeddings_["customer"].to_numpy().any()
    assert len(model.most_similar("customer", "c1", k=3)) == 3
