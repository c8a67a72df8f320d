"""The regressor and the classifier: the trained network's own predictions."""

import numpy as np
from training_data import FAST, city_table

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
