import pickle
import subprocess
import sys
import textwrap
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline

from entembed import (
    EntityEmbedder,
    EntityEmbeddingClassifier,
    EntityEmbeddingRegressor,
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


def test_embedder_output_shape_names_and_dtype(fitted):
    embedder, X, _ = fitted
    out = embedder.transform(X)
    assert embedder.categorical_columns_ == ["city", "plan"]
    assert embedder.numeric_columns_ == ["age"]
    width = embedder.embedding_dims_["city"] + embedder.embedding_dims_["plan"]
    assert out.shape == (len(X), width) and out.dtype == np.float32
    names = embedder.get_feature_names_out().tolist()
    assert names[0] == "city_emb0" and names[-1].startswith("plan_emb")
    assert len(names) == width


def test_embedder_fitted_attributes(fitted):
    embedder, _, _ = fitted
    assert embedder.cardinalities_ == {"city": 14, "plan": 5}
    table = embedder.embeddings_["city"]
    assert table.index[:2].tolist() == ["<unknown>", "<missing>"]
    assert table.index[2:].tolist() == [
        f"city{i}" for i in (0, 1, 10, 11, *range(2, 10))
    ]
    assert table.shape == (14, embedder.embedding_dims_["city"])
    assert {"epoch", "train_loss", "val_loss"} <= set(embedder.history_.columns)
    assert embedder.n_features_in_ == 3
    assert embedder.feature_names_in_.tolist() == ["city", "plan", "age"]
    assert embedder.task_ == "regression"


def test_embedder_transform_is_the_table_lookup(fitted):
    embedder, X, _ = fitted
    out = embedder.transform(X.head(5))
    city = embedder.embeddings_["city"]
    np.testing.assert_array_equal(out[:, : city.shape[1]], city.loc[X["city"].head(5)])


def test_embedder_unknown_missing_and_all_missing_columns(fitted):
    embedder, X, _ = fitted
    new = pd.DataFrame({"city": ["Atlantis", None], "plan": ["a", None], "age": [1, 2]})
    out = embedder.transform(new)
    city = embedder.embeddings_["city"].to_numpy()
    np.testing.assert_array_equal(out[0, : city.shape[1]], city[0])  # unknown
    np.testing.assert_array_equal(out[1, : city.shape[1]], city[1])  # missing
    strict = clone(embedder).set_params(handle_unknown="error")
    strict.fit(X, fitted[2])
    with pytest.raises(
        ValueError,
        match=r"Column 'city' has 1 categories never seen "
        r"in fit \(e.g. 'Atlantis'\)",
    ):
        strict.transform(new)
    all_missing = X.assign(plan=None)
    assert (
        EntityEmbedder(**FAST).fit(all_missing, fitted[2]).cardinalities_["plan"] == 2
    )


def test_embedder_columns_matched_by_name_extra_ignored_rows_kept(fitted):
    embedder, X, _ = fitted
    expected = embedder.transform(X)
    shuffled = (
        X[["age", "plan", "city"]]
        .assign(extra=1)
        .set_axis(np.arange(len(X))[::-1], axis=0)
    )
    np.testing.assert_array_equal(embedder.transform(shuffled), expected)
    assert embedder.transform(X.iloc[[7]]).shape == (1, expected.shape[1])
    assert embedder.transform(X.iloc[:0]).shape == (0, expected.shape[1])


def test_embedder_pandas_and_polars_output_keep_index(fitted):
    embedder, X, y = fitted
    indexed = X.set_axis(np.arange(len(X)) + 100, axis=0)
    out = (
        clone(embedder)
        .set_output(transform="pandas")
        .fit(indexed, y)
        .transform(indexed)
    )
    assert list(out.index[:2]) == [100, 101]
    assert list(out.columns) == embedder.get_feature_names_out().tolist()
    pl = pytest.importorskip("polars")
    polars_out = (
        clone(embedder)
        .set_output(transform="polars")
        .fit(X, y)
        .transform(pl.from_pandas(X.astype({"plan": str})))
    )
    assert isinstance(polars_out, pl.DataFrame) and polars_out.shape[0] == len(X)


def test_embedder_remainder_passthrough():
    X, y = _data()
    embedder = EntityEmbedder(remainder="passthrough", **FAST).fit(X, y)
    out = embedder.transform(X)
    assert embedder.get_feature_names_out()[-1] == "age"
    np.testing.assert_allclose(out[:, -1], X["age"].to_numpy(np.float32))
    with pytest.raises(ValueError, match=r"Numeric column 'name' has non-numeric"):
        EntityEmbedder(
            remainder="passthrough", categorical_columns=["city"], **FAST
        ).fit(X.drop(columns="plan").assign(name="x"), y)


def test_embedder_numpy_input_embeds_every_column():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 5, size=(200, 2))
    y = X[:, 0] * 1.0
    embedder = EntityEmbedder(embedding_dims=2, **FAST).fit(X, y)
    assert embedder.categorical_columns_ == ["x0", "x1"]
    assert embedder.transform(X).shape == (200, 4)
    assert not hasattr(embedder, "feature_names_in_")


def test_embedder_onehot_baseline_gives_the_same_kind_of_features():
    X, y = _data()
    out = EntityEmbedder(encoder="onehot", **FAST).fit(X, y).transform(X)
    assert out.shape == EntityEmbedder(**FAST).fit(X, y).transform(X).shape


def test_embedder_learns_useful_features_and_similarities():
    X, y = _data(n=1500)
    embedder = EntityEmbedder(
        hidden_units=(32,),
        max_epochs=30,
        batch_size=128,
        learning_rate=3e-3,
        random_state=0,
    ).fit(X, y)
    features = embedder.transform(X)
    score = LinearRegression().fit(features, y).score(features, y)
    assert score > 0.6
    # city i shares its effect with cities i +- 4: most nearest neighbours agree
    effect = {f"city{i}": i % 4 for i in range(12)}
    agree = [
        effect[embedder.most_similar("city", city, k=1).index[0]] == effect[city]
        for city in effect
    ]
    assert sum(agree) >= 9


def test_embedder_reproducible_with_random_state():
    X, y = _data()
    a = EntityEmbedder(**FAST).fit(X, y).transform(X)
    b = EntityEmbedder(**FAST).fit(X, y).transform(X)
    np.testing.assert_array_equal(a, b)


def test_embedder_cross_fitting_protects_against_leakage():
    # Half the rows have a category of their own. Out of fold, such a row's
    # model never saw its category, so it gets that model's unknown vector: the
    # same for every such row of a fold. In sample, each gets its own vector,
    # which has memorised its target.
    rng = np.random.default_rng(1)
    n = 300
    ids = np.where(np.arange(n) % 2 == 0, np.arange(n).astype(str), "shared")
    X = pd.DataFrame({"id": ids})
    y = rng.normal(size=n)
    params = {
        "hidden_units": (32,),
        "max_epochs": 40,
        "batch_size": 32,
        "learning_rate": 1e-2,
        "validation_fraction": 0,
        "random_state": 0,
        "embedding_dims": 4,
    }
    folds = KFold(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # id-like column, on purpose
        in_sample = EntityEmbedder(**params).fit_transform(X, y)
        out_of_fold = EntityEmbedder(cv=folds, **params).fit_transform(X, y)
    singletons = np.arange(n) % 2 == 0
    for _, test in folds.split(X):
        rows = test[singletons[test]]
        assert np.allclose(out_of_fold[rows], out_of_fold[rows[0]], atol=1e-6)
        assert not np.allclose(in_sample[rows], in_sample[rows[0]], atol=1e-3)
    # the memorised target shows in sample only
    fit_in = Ridge(alpha=1e-3).fit(in_sample, y).score(in_sample, y)
    fit_oof = Ridge(alpha=1e-3).fit(out_of_fold, y).score(out_of_fold, y)
    assert fit_in > fit_oof + 0.1


def test_embedder_cross_fitted_features_share_the_full_models_axes():
    X, y = _data(n=900)
    embedder = EntityEmbedder(
        cv=3,
        hidden_units=(32,),
        max_epochs=20,
        batch_size=64,
        learning_rate=3e-3,
        random_state=0,
    )
    oof = embedder.fit_transform(X, y)
    full = embedder.transform(X)
    width = embedder.embedding_dims_["city"]
    correlation = np.corrcoef(oof[:, :width].ravel(), full[:, :width].ravel())[0, 1]
    assert correlation > 0.8


def test_embedder_cross_fitting_folds_start_from_the_full_models_weights():
    # Learning rates too small to move anything: every model keeps its starting
    # weights. A fold shares the full model's codes and seed, so its vectors
    # are the full model's, even where a fold misses some categories (a fold
    # with its own vocabulary would draw other rows for shifted codes).
    rng = np.random.default_rng(0)
    categories = np.r_[np.repeat([f"c{i}" for i in range(20)], 10), ["once1", "once2"]]
    X = pd.DataFrame({"id": rng.permutation(categories)})
    y = rng.normal(size=len(X))
    embedder = EntityEmbedder(
        cv=KFold(3, shuffle=True, random_state=0),
        embedding_dims=3,
        hidden_units=(4,),
        max_epochs=1,
        learning_rate=1e-9,
        table_learning_rate=1e-9,
        validation_fraction=0,
        random_state=0,
    )
    out_of_fold = embedder.fit_transform(X, y)
    full = embedder.transform(X)
    once = X["id"].str.startswith("once").to_numpy()
    np.testing.assert_allclose(out_of_fold[~once], full[~once], atol=1e-5)
    # a category seen in no other row gets the unknown vector out of fold
    unknown = embedder.embeddings_["id"].loc["<unknown>"].to_numpy()
    np.testing.assert_allclose(out_of_fold[once], np.tile(unknown, (2, 1)), atol=1e-5)


def test_embedder_in_pipeline_column_transformer_and_grid_search():
    X, y = _data()
    pipeline = make_pipeline(
        EntityEmbedder(**FAST), HistGradientBoostingRegressor(max_iter=20)
    )
    assert cross_val_score(pipeline, X, y, cv=2).shape == (2,)
    columns = ColumnTransformer(
        [("embed", EntityEmbedder(**FAST), ["city", "plan"])], remainder="passthrough"
    )
    assert make_pipeline(columns, Ridge()).fit(X, y).predict(X).shape == (len(X),)
    search = GridSearchCV(
        pipeline, {"entityembedder__embedding_dims": [2, 3]}, cv=2, n_jobs=2
    )
    search.fit(X, y)
    assert search.best_params_["entityembedder__embedding_dims"] in (2, 3)


def test_embedder_pickle_joblib_and_clone(fitted, tmp_path):
    embedder, X, _ = fitted
    expected = embedder.transform(X)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(embedder)).transform(X), expected
    )
    joblib.dump(embedder, tmp_path / "model.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "model.joblib").transform(X), expected
    )
    assert clone(embedder).get_params() == embedder.get_params()
    assert not hasattr(clone(embedder), "network_")


def test_embedder_transform_never_imports_torch(fitted, tmp_path):
    embedder, X, _ = fitted
    pickle.dump(embedder, open(tmp_path / "model.pkl", "wb"))
    embedder.save(tmp_path / "model.npz")
    X.to_pickle(tmp_path / "X.pkl")
    script = textwrap.dedent(f"""
        import pickle, sys
        import pandas as pd
        import entembed
        X = pd.read_pickle({str(tmp_path / "X.pkl")!r})
        a = pickle.load(open({str(tmp_path / "model.pkl")!r}, "rb")).transform(X)
        b = entembed.load({str(tmp_path / "model.npz")!r}).transform(X)
        assert (a == b).all()
        print("torch" in sys.modules, "lightning" in sys.modules)
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False False"


# ------------------------------------------------------------- predictors
def test_regressor_predicts_and_scores():
    X, y = _data(n=1000)
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
    X, y = _data(n=800)
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


# ----------------------------------------------------------------- errors
def test_error_transform_before_fit():
    with pytest.raises(
        NotFittedError,
        match=r"This EntityEmbedder instance is not "
        r"fitted yet",
    ):
        EntityEmbedder().transform(pd.DataFrame({"a": ["x"]}))


def test_error_column_missing_at_transform(fitted):
    embedder, X, _ = fitted
    with pytest.raises(
        ValueError, match=r"Column 'plan' was seen in fit but is missing"
    ):
        embedder.transform(X.drop(columns="plan"))


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


@pytest.mark.gpu
def test_embedder_trained_on_gpu_transforms_on_a_cpu_only_process(tmp_path):
    X, y = _data()
    embedder = EntityEmbedder(accelerator="gpu", devices=1, **FAST).fit(X, y)
    with open(tmp_path / "model.pkl", "wb") as f:
        pickle.dump(embedder, f)
    X.to_pickle(tmp_path / "X.pkl")
    np.save(tmp_path / "expected.npy", embedder.transform(X))
    script = textwrap.dedent(f"""
        import pickle, numpy as np, pandas as pd
        X = pd.read_pickle({str(tmp_path / "X.pkl")!r})
        model = pickle.load(open({str(tmp_path / "model.pkl")!r}, "rb"))
        assert (model.transform(X) == np.load({str(tmp_path / "expected.npy")!r})).all()
    """)
    env = {**__import__("os").environ, "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, "-c", script], check=True, env=env)


def test_predictor_serves_its_embeddings_like_the_embedder():
    X, y = _data()
    model = EntityEmbeddingRegressor(**FAST).fit(X, y)
    features = model.transform_embeddings(X)
    width = sum(model.embedding_dims_.values())
    assert features.shape == (len(X), width)
    np.testing.assert_array_equal(
        features[:, : model.embedding_dims_["city"]],
        model.embeddings_["city"].loc[X["city"]].to_numpy(),
    )


def test_embedder_cross_fitting_on_a_numpy_array():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 6, size=(300, 2))
    y = X[:, 0] * 1.0 + rng.normal(0, 0.1, 300)
    embedder = EntityEmbedder(cv=2, embedding_dims=2, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        features = embedder.fit_transform(X, y)
    assert features.shape == (300, 4)
