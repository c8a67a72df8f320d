"""EntityEmbedder: features, fitted attributes, pipelines, pickling and errors."""

import itertools
import pickle
import re
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from training_data import FAST, city_table, with_an_id_column

from entembed import (
    EntityEmbedder,
)
from entembed._embedder_fit import balanced_scales, table_spreads


@pytest.fixture(scope="module")
def fitted():
    X, y = city_table()
    return EntityEmbedder(**FAST).fit(X, y), X, y


def test_embedder_verbose_says_why_it_cross_fits(capsys):
    X, y = with_an_id_column()
    EntityEmbedder(**{**FAST, "verbose": 1}).fit(X, y)
    err = capsys.readouterr().err
    assert re.search(
        r"EntityEmbedder: cv='auto' cross-fits in 5 folds \(5 more fits\): "
        r"'customer' \(4\.0 training rows per category\) is ID-like",
        err,
    )
    assert re.search(r"\['customer'\] lowered the loss of rows their fold", err)
    assert all(f"fold {k}/5" in err for k in range(1, 6))
    EntityEmbedder(**FAST).fit(X, y)
    assert capsys.readouterr().err == ""  # quiet by default


def test_embedder_output_shape_names_and_dtype(fitted):
    embedder, X, _ = fitted
    out = embedder.transform(X)
    assert embedder.categorical_columns_ == ["city", "plan"]
    assert embedder.numeric_columns_ == ["age"]
    width = embedder.embedding_dims_["city"] + embedder.embedding_dims_["plan"]
    assert out.shape == (len(X), width + 1) and out.dtype == np.float32
    names = embedder.get_feature_names_out().tolist()
    assert names[0] == "city_emb0" and names[width - 1].startswith("plan_emb")
    assert names[width:] == ["age"]  # passed on by default


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
    all_missing = X.assign(plan=None)  # embedded only where listed
    listed = EntityEmbedder(categorical_columns=["city", "plan"], **FAST)
    assert listed.fit(all_missing, fitted[2]).cardinalities_["plan"] == 2


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
    X, y = city_table()
    embedder = EntityEmbedder(remainder="passthrough", **FAST).fit(X, y)
    out = embedder.transform(X)
    assert embedder.get_feature_names_out()[-1] == "age"
    np.testing.assert_allclose(out[:, -1], X["age"].to_numpy(np.float32))
    with pytest.warns(UserWarning, match=r"Columns 'name' \((object|str)\) are"):
        text = EntityEmbedder(categorical_columns=["city"], **FAST).fit(
            X.drop(columns="plan").assign(name="x"), y
        )
    assert text.passthrough_columns_ == ["age"]
    dropped = EntityEmbedder(remainder="drop", **FAST).fit(X, y)
    assert dropped.get_feature_names_out()[-1].startswith("plan_emb")


def test_embedder_numpy_input_embeds_every_column():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 5, size=(200, 2))
    y = X[:, 0] * 1.0
    with pytest.warns(UserWarning, match=r"X has no column names"):
        embedder = EntityEmbedder(embedding_dims=2, **FAST).fit(X, y)
    assert embedder.categorical_columns_ == ["x0", "x1"]
    assert embedder.transform(X).shape == (200, 4)
    assert not hasattr(embedder, "feature_names_in_")


def test_embedder_onehot_baseline_learns_the_same_features():
    # The one-hot linear layer computes what the lookup computes, and SGD on
    # its weight takes the same steps: same seed, same data, same features.
    X, y = city_table()
    onehot = EntityEmbedder(encoder="onehot", **FAST).fit(X, y)
    embedding = EntityEmbedder(**FAST).fit(X, y)
    np.testing.assert_allclose(
        onehot.transform(X), embedding.transform(X), rtol=0, atol=1e-4
    )
    assert onehot.history_["epoch"].tolist() == embedding.history_["epoch"].tolist()


def test_embedder_learns_useful_features_and_similarities():
    X, y = city_table(n=1500)
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


@pytest.mark.parametrize(
    "regularised", [{}, {"category_dropout": 0.2, "shrinkage": 5.0}]
)
def test_embedder_reproducible_with_random_state(regularised):
    X, y = city_table()
    a = EntityEmbedder(**FAST, **regularised).fit(X, y).transform(X)
    b = EntityEmbedder(**FAST, **regularised).fit(X, y).transform(X)
    np.testing.assert_array_equal(a, b)
    other = EntityEmbedder(**{**FAST, "random_state": 1}, **regularised)
    assert not np.array_equal(a, other.fit(X, y).transform(X))


def test_shrinkage_serves_rare_categories_near_the_unknown_vector():
    X, y = city_table(n=600)
    X.loc[:1, "city"] = ["once", "once"]  # a category of two rows
    embedder = EntityEmbedder(**FAST, shrinkage=50.0, category_dropout=0.1).fit(X, y)
    table = embedder.embeddings_["city"]
    unknown = table.iloc[0].to_numpy()
    distance = np.linalg.norm(table.to_numpy() - unknown, axis=1)
    rare = distance[table.index.get_loc("once")]
    common = np.median(distance[2:])
    assert rare < 0.2 * common  # 2 / (2 + 50) of its own vector
    # An unseen category gets the trained unknown vector.
    with pytest.warns(UserWarning, match=r"never seen in fit \(e\.g\. 'Atlantis'\)"):
        unseen = embedder.transform(X.assign(city="Atlantis"))[:, : table.shape[1]]
    np.testing.assert_allclose(unseen, np.tile(unknown, (len(X), 1)), rtol=1e-6)


@pytest.mark.parametrize(
    ("param", "message"),
    [
        (
            {"category_dropout": 1.0},
            r"The 'category_dropout' parameter of EntityEmbedder must be a float in "
            r"the range \[0.0, 1.0\)\. Got 1.0 instead\.",
        ),
        (
            {"shrinkage": -1.0},
            r"The 'shrinkage' parameter of EntityEmbedder must be a float in the "
            r"range \[0.0, inf\) or a str among \{'auto'\}\. Got -1.0 instead\.",
        ),
        (
            {"cv": 1},  # each option once
            r"The 'cv' parameter of EntityEmbedder must be a str among \{'auto'\} "
            r"or an int in the range \[2, inf\), an object implementing 'split' "
            r"and 'get_n_splits', an iterable or None\. Got 1 instead\.$",
        ),
    ],
)
def test_parameters_are_checked(param, message):
    X, y = city_table()
    with pytest.raises(ValueError, match=message):
        EntityEmbedder(**FAST, **param).fit(X, y)


@pytest.mark.slow
def test_embedder_in_pipeline_column_transformer_and_grid_search():
    X, y = city_table()
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


@pytest.mark.slow
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


@pytest.mark.gpu
def test_embedder_trained_on_gpu_transforms_on_a_cpu_only_process(tmp_path):
    X, y = city_table()
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


# ------------------------------------------------------------ feature_scale
def _spreads(features, embedder) -> np.ndarray:
    """Each column's spread: the sum of its features' variances."""
    starts = np.cumsum([0, *embedder.embedding_dims_.values()])
    return np.array(
        [features[:, a:b].var(axis=0).sum() for a, b in itertools.pairwise(starts)]
    )


def _per_feature(embedder) -> np.ndarray:
    """Each output feature's factor: its column's."""
    return np.repeat(
        list(embedder.feature_scales_.values()),
        list(embedder.embedding_dims_.values()),
    )


def test_balanced_feature_scale_evens_the_columns_spreads_by_a_root():
    X, y = city_table()
    X = X.drop(columns="age")
    balanced = EntityEmbedder(**FAST).fit(X, y)
    learned = EntityEmbedder(**FAST, feature_scale=None).fit(X, y)
    assert learned.feature_scales_ == {"city": 1.0, "plan": 1.0}
    # The same network: one factor per column, and the spreads of the
    # training rows' features are the learned ones' roots, averaging 1.
    np.testing.assert_allclose(
        balanced.transform(X),
        learned.transform(X) * _per_feature(balanced),
        rtol=1e-5,
        atol=1e-7,
    )
    spread, before = (
        _spreads(balanced.transform(X), balanced),
        _spreads(learned.transform(X), learned),
    )
    np.testing.assert_allclose(spread.mean(), 1.0, rtol=1e-4)
    np.testing.assert_allclose(
        spread[0] / spread[1], np.sqrt(before[0] / before[1]), rtol=1e-5
    )
    # a cosine similarity within a column does not change
    pd.testing.assert_series_equal(
        balanced.most_similar("city", "city1", k=3),
        learned.most_similar("city", "city1", k=3),
        rtol=1e-4,
    )


def test_balanced_feature_scale_keeps_the_networks_predictions():
    X, y = city_table()
    kept = {"append_prediction": True, "cv": None}
    balanced = EntityEmbedder(**FAST, **kept).fit(X, y)
    learned = EntityEmbedder(**FAST, **kept, feature_scale=None).fit(X, y)
    np.testing.assert_allclose(
        balanced.transform(X)[:, -1], learned.transform(X)[:, -1], rtol=1e-5
    )


def test_balanced_feature_scale_scales_cross_fitted_features_alike():
    X, y = city_table()
    balanced = EntityEmbedder(**FAST, cv=3, remainder="drop")
    learned = EntityEmbedder(**FAST, cv=3, remainder="drop", feature_scale=None)
    # fit and fit_transform leave the same factors, from the out-of-fold
    # features a downstream model trains on: their spreads average 1.
    factors = _per_feature(balanced.fit(X, y))
    features = balanced.fit_transform(X, y)
    np.testing.assert_allclose(
        features, learned.fit_transform(X, y) * factors, rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(_spreads(features, balanced).mean(), 1.0, rtol=1e-4)


@settings(max_examples=50, deadline=None)
@given(
    widths=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_balanced_scales_are_a_root_of_the_spreads_averaging_one(widths, seed):
    rng = np.random.default_rng(seed)
    sizes = rng.uniform(0.01, 10, len(widths))
    tables = [
        (size * rng.normal(size=(6, w))).astype(np.float32)
        for size, w in zip(sizes, widths, strict=True)
    ]
    codes = np.stack([np.r_[0, 1, rng.integers(0, 6, 40)] for _ in widths], axis=1)
    before = np.array([t[codes[:, j]].var(axis=0).sum() for j, t in enumerate(tables)])
    np.testing.assert_allclose(table_spreads(tables, codes), before, rtol=1e-4)
    factors = balanced_scales(before)
    after = before * factors**2
    np.testing.assert_allclose(after.mean(), 1.0, rtol=1e-4)
    np.testing.assert_allclose(
        after, np.sqrt(before) / np.sqrt(before).mean(), rtol=1e-4
    )
    # a wider column stays wider, by less
    order = np.argsort(before)
    assert (np.diff(after[order]) >= -1e-6).all()


def test_balanced_scales_give_a_constant_column_the_common_factor():
    tables = [np.ones((4, 2), np.float32), np.eye(4, 3, dtype=np.float32)]
    codes = np.array([[0, 0], [1, 1], [2, 2], [3, 3]])
    factors = balanced_scales(table_spreads(tables, codes))
    # The one varying column (spread 4 x 3/16) averages 1 alone; the constant
    # column takes the common factor, which puts the varying one's root at 1.
    np.testing.assert_allclose(factors, [0.5625**-0.25, 0.5625**-0.5])
    np.testing.assert_array_equal(balanced_scales(np.zeros(1)), [1.0])
