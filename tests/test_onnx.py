"""ONNX export: skl2onnx converters whose graphs compute what numpy computes,
on a real table with unseen and missing categories."""

import warnings

import numpy as np
import pandas as pd
import pytest

skl2onnx = pytest.importorskip("skl2onnx", reason="needs the onnx extra")
ort = pytest.importorskip("onnxruntime", reason="needs the onnx extra")

import entembed.onnx as entembed_onnx  # noqa: E402
from entembed import (  # noqa: E402
    EntityEmbedder,
    EntityEmbeddingClassifier,
    EntityEmbeddingRegressor,
)
from entembed.datasets import load_baseball_salaries  # noqa: E402

# Trains on a real table for each estimator: the slow lane.
pytestmark = [
    pytest.mark.slow,
    # Most later seasons' players are new: the drift warning is expected.
    pytest.mark.filterwarnings("ignore:Column 'playerID'.*never seen in fit"),
]

COLUMNS = ["playerID", "teamID", "birthState", "bats", "yearID", "age"]
SETTINGS = {
    "categorical_columns": ["playerID", "teamID", "birthState", "bats"],
    "hidden_units": (16, 8),
    "batch_norm": True,
    "max_epochs": 2,
    "random_state": 0,
    # The graph equals transform on every string without pieces of text
    # (test_a_graph_serves_unseen_strings_the_unknown_vector: with them).
    "string_features": "none",
}


@pytest.fixture(scope="module")
def salaries():
    """Seasons before 2012 to fit, later ones to serve: new players (unseen
    categories) and players born abroad (a missing birthState)."""
    X, y = load_baseball_salaries(n_rows=5000, random_state=0)
    X = X[COLUMNS]
    early = (X["yearID"] < 2012).to_numpy()
    test = X[~early].copy()
    test.iloc[:3, 1] = "NEW"  # a team never seen
    assert test["birthState"].isna().any()
    assert (~test["playerID"].isin(X.loc[early, "playerID"])).any()
    return X[early], y[early], test


def _run(onnx_model, X):
    session = ort.InferenceSession(onnx_model.SerializeToString())
    return session.run(None, entembed_onnx.input_feed(onnx_model, X))


def test_embedder_graph_equals_transform(salaries):
    X, y, test = salaries
    embedder = EntityEmbedder(
        **SETTINGS, numeric_columns=["age"], remainder="passthrough"
    )
    embedder.fit(X, y)
    (features,) = _run(entembed_onnx.to_onnx(embedder), test)
    np.testing.assert_array_equal(features, embedder.transform(test))


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_embedder_graph_appends_the_prediction(salaries, task):
    X, y, test = salaries
    target = {
        "regression": y,
        "binary": (y > y.median()).astype(int),
        "multiclass": pd.qcut(y, 3, labels=["low", "mid", "high"]).astype(str),
    }[task]
    embedder = EntityEmbedder(**SETTINGS, append_prediction=True)
    embedder.fit(X, target)
    (features,) = _run(entembed_onnx.to_onnx(embedder), test)
    expected = embedder.transform(test)
    assert features.shape == expected.shape
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)


def test_regressor_graph_equals_predict(salaries):
    X, y, test = salaries
    model = EntityEmbeddingRegressor(**SETTINGS).fit(X, y)
    (predictions,) = _run(entembed_onnx.to_onnx(model), test)
    np.testing.assert_allclose(
        predictions[:, 0], model.predict(test), rtol=0, atol=1e-6
    )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_graph_equals_predict_and_predict_proba(salaries, n_classes):
    X, y, test = salaries
    labels = pd.qcut(y, n_classes, labels=["low", "mid", "high"][:n_classes]).astype(
        str
    )
    model = EntityEmbeddingClassifier(**SETTINGS).fit(X, labels)
    graph = entembed_onnx.to_onnx(model, options={"zipmap": False})
    label, proba = _run(graph, test)
    np.testing.assert_allclose(proba, model.predict_proba(test), rtol=0, atol=1e-6)
    assert label.tolist() == model.predict(test).tolist()
    # scikit-learn's default: probabilities as one dict per row (ZipMap).
    _, dicts = _run(entembed_onnx.to_onnx(model), test)
    assert dicts[0].keys() == set(model.classes_)


def test_pipeline_converts_whole_from_a_dataframe_sample(salaries):
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.pipeline import make_pipeline

    X, y, test = salaries
    pipeline = make_pipeline(
        EntityEmbedder(**SETTINGS), GradientBoostingRegressor(n_estimators=30)
    ).fit(X, y)
    graph = entembed_onnx.to_onnx(pipeline)
    (predictions,) = _run(graph, test)
    np.testing.assert_allclose(predictions.ravel(), pipeline.predict(test), atol=1e-4)
    # skl2onnx's own entry point, with types read from a DataFrame sample.
    sample = X.astype({"birthState": object, "bats": object})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        graph = skl2onnx.to_onnx(pipeline, sample[:1])
    (again,) = _run(graph, test.fillna({"yearID": 0}))
    np.testing.assert_allclose(again.ravel(), pipeline.predict(test), atol=1e-4)


@pytest.mark.parametrize("classes", [None, 2, 3], ids=["regressor", "binary", "3"])
def test_pipeline_with_hist_gradient_boosting(salaries, classes):
    # The README's first pipeline. skl2onnx 1.20's own converter cannot
    # convert scikit-learn 1.9's trees; entembed.onnx registers one that can.
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
    )
    from sklearn.pipeline import make_pipeline

    X, y, test = salaries
    if classes is None:
        booster = HistGradientBoostingRegressor(max_iter=20)
    else:
        y = pd.qcut(y, classes, labels=False)
        booster = HistGradientBoostingClassifier(max_iter=20)
    # min_frequency: rare players share the unknown code, as unseen ones do.
    embedder = EntityEmbedder(**SETTINGS, min_frequency=3)
    pipeline = make_pipeline(embedder, booster).fit(X, y)
    assert embedder.vocabulary_.infrequent_categories_[0].size
    options = None if classes is None else {"zipmap": False}
    outputs = _run(entembed_onnx.to_onnx(pipeline, options=options), test)
    if classes is None:
        np.testing.assert_allclose(
            outputs[0].ravel(), pipeline.predict(test), rtol=0, atol=1e-4
        )
    else:
        np.testing.assert_allclose(
            outputs[1], pipeline.predict_proba(test), rtol=0, atol=1e-5
        )
        assert outputs[0].tolist() == pipeline.predict(test).tolist()


def test_hist_gradient_boosting_converter_steps_aside_where_skl2onnx_s_works(
    monkeypatch,
):
    from skl2onnx.common._registration import get_converter

    from entembed.onnx import _plain, register_hist_gradient_boosting

    # The attributes skl2onnx builds: numpy flags of branches, booleans of leaves.
    assert _plain([np.uint8(1), False, np.uint32(7)]) == [1, 0, 7]
    assert _plain(np.float32(0.5)) == 0.5
    registered = get_converter("SklearnHistGradientBoostingRegressor")
    monkeypatch.setattr(
        entembed_onnx, "native_hist_gradient_boosting_works", lambda: True
    )
    assert register_hist_gradient_boosting() is False  # skl2onnx's stays
    assert get_converter("SklearnHistGradientBoostingRegressor") is registered
    monkeypatch.setattr(
        entembed_onnx, "native_hist_gradient_boosting_works", lambda: False
    )
    assert register_hist_gradient_boosting() is True


def test_integer_categories_read_doubles_with_nan_as_missing():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"store": rng.integers(0, 30, 400).astype(float)})
    y = X["store"].to_numpy() % 3 + rng.normal(0, 0.1, 400)
    embedder = EntityEmbedder(
        categorical_columns=["store"], hidden_units=(8,), max_epochs=2, random_state=0
    ).fit(X, y)
    test = pd.DataFrame({"store": [3.0, np.nan, 99.0, 0.0]})
    (features,) = _run(entembed_onnx.to_onnx(embedder), test)
    np.testing.assert_array_equal(features, embedder.transform(test))


def test_a_graph_serves_unseen_strings_the_unknown_vector(salaries):
    # Documented: ONNX cannot cut and hash strings. Categories seen in fit
    # get their composed vectors; strings never seen, the unknown vector.
    X, y, test = salaries
    embedder = EntityEmbedder(**{**SETTINGS, "string_features": "auto"})
    embedder.fit(X, y)
    assert list(embedder.string_features_) == ["playerID", "birthState"]
    with pytest.warns(UserWarning, match=r"Columns \['playerID', 'birthState'\] com"):
        graph = entembed_onnx.to_onnx(embedder)
    (features,) = _run(graph, test)
    served = embedder.transform(test)
    seen = test["playerID"].isin(embedder.categories_["playerID"]).to_numpy()
    width = embedder.embedding_dims_["playerID"]
    np.testing.assert_array_equal(features[seen], served[seen])
    unknown = embedder.network_.tables[0][0]
    np.testing.assert_array_equal(
        features[~seen, :width], np.tile(unknown, ((~seen).sum(), 1))
    )
    assert not np.allclose(served[~seen, :width], unknown)


def test_errors_name_the_column_and_the_fix(salaries):
    from skl2onnx.common.data_types import FloatTensorType

    X, y, _ = salaries
    embedder = EntityEmbedder(**SETTINGS).fit(X, y)
    with pytest.raises(ValueError, match=r"reads columns \['playerID', 'teamID'"):
        skl2onnx.to_onnx(embedder, initial_types=[("X", FloatTensorType([None, 4]))])
    graph = entembed_onnx.to_onnx(embedder)
    with pytest.raises(ValueError, match="reads column 'playerID', which X lacks"):
        entembed_onnx.input_feed(graph, X.drop(columns="playerID"))
    mixed = pd.DataFrame({"c": pd.Series([1, "a", 2.5] * 20, dtype=object)})
    model = EntityEmbedder(hidden_units=(4,), max_epochs=1).fit(mixed, np.arange(60.0))
    with pytest.raises(ValueError, match="Column 'c' has categories that are neither"):
        entembed_onnx.to_onnx(model)
    with pytest.raises(TypeError, match="initial_types reads a fitted entembed"):
        entembed_onnx.initial_types(object())


@pytest.mark.parametrize(
    ("library", "name"),
    [
        ("lightgbm", "LGBMRegressor"),
        ("lightgbm", "LGBMClassifier"),
        ("xgboost", "XGBRegressor"),
        ("xgboost", "XGBClassifier"),
    ],
)
def test_pipeline_with_lightgbm_or_xgboost(salaries, library, name):
    pytest.importorskip(
        "onnxmltools", reason='LightGBM and XGBoost need "entembed[onnx-boosters]"'
    )
    booster = getattr(
        pytest.importorskip(library, reason=f"{library} is not installed"), name
    )
    from sklearn.pipeline import make_pipeline

    assert name in entembed_onnx.register_boosters()
    X, y, test = salaries
    classifier = name.endswith("Classifier")
    if classifier:
        y = (y > np.median(y)).astype(int)
    settings = {"verbose": -1} if library == "lightgbm" else {}
    pipeline = make_pipeline(
        EntityEmbedder(**SETTINGS, min_frequency=3),
        booster(n_estimators=30, **settings),
    ).fit(X, y)
    options = {"zipmap": False} if classifier else None
    outputs = _run(entembed_onnx.to_onnx(pipeline, options=options), test)
    if classifier:
        np.testing.assert_allclose(
            outputs[1], pipeline.predict_proba(test), rtol=0, atol=1e-5
        )
        assert outputs[0].tolist() == pipeline.predict(test).tolist()
    else:
        np.testing.assert_allclose(
            outputs[0].ravel(), pipeline.predict(test), rtol=0, atol=1e-4
        )
