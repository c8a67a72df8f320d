"""Cross-fitting: out-of-fold features from folds that share the full fit's
codes, settings, seed and axes."""

import warnings

import lightning as L
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold
from training_data import FAST, city_table, with_an_id_column

import entembed
import entembed._cross_fit
import entembed._vocabulary
from entembed import EntityEmbedder, EntityEmbeddingRegressor
from entembed._id_columns import (
    id_like_columns,
    informative,
    memorised,
    row_losses,
)


@pytest.mark.slow
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
        # ids never seen by a fold read one vector: the unknown one (with
        # pieces of text, each would be composed from its digits)
        "string_features": "none",
    }
    folds = KFold(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # id-like column, on purpose
        in_sample = EntityEmbedder(cv=None, **params).fit_transform(X, y)
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


@pytest.mark.slow
def test_embedder_cross_fitted_features_share_the_full_models_axes():
    X, y = city_table(n=900)
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


# The cross-fitting tests compare fits' tables: served as learned, without
# the balancing factors (which differ where the tables differ).
AS_LEARNED = {**FAST, "feature_scale": None}


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


def test_embedder_cross_fitting_on_a_numpy_array():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 6, size=(300, 2))
    y = X[:, 0] * 1.0 + rng.normal(0, 0.1, 300)
    embedder = EntityEmbedder(
        cv=2, embedding_dims=2, categorical_columns=[0, 1], **FAST
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        features = embedder.fit_transform(X, y)
    assert features.shape == (300, 4)


def test_cross_fitting_hashes_each_string_once(monkeypatch):
    X, y = city_table(n=200)
    calls = []
    factorize = entembed._vocabulary._factorize

    def counted(name, column):
        calls.append(name)
        return factorize(name, column)

    monkeypatch.setattr(entembed._vocabulary, "_factorize", counted)
    EntityEmbedder(cv=3, **FAST).fit_transform(X, y)
    assert sorted(calls) == ["city", "plan"]


def test_cross_fitting_reproducible_with_a_random_state_instance():
    X, y = city_table(n=200)
    params = {**FAST, "cv": 2}
    first, second = (
        EntityEmbedder(
            **{**params, "random_state": np.random.RandomState(7)}
        ).fit_transform(X, y)
        for _ in range(2)
    )
    np.testing.assert_array_equal(first, second)
    other = EntityEmbedder(**{**params, "random_state": np.random.RandomState(8)})
    assert not np.array_equal(first, other.fit_transform(X, y))


def test_a_stacked_prediction_is_out_of_fold():
    # A row's appended prediction comes from the fold model that did not train
    # on it: changing the targets of fold 0's rows leaves their predictions as
    # they were (the fold-0 model never saw them) and moves the others'.
    X, y = city_table(n=400)
    folds = list(KFold(4, shuffle=True, random_state=0).split(X))
    held_out = folds[0][1]
    changed = y.copy()
    changed[held_out] += 5.0
    # No validation split: the folds then train the full fit's max_epochs,
    # not the epochs to its best validation loss, which the changed targets
    # (validation rows of the full fit) could move.
    settings = {
        **FAST,
        "append_prediction": True,
        "cv": folds,
        "validation_fraction": 0.0,
    }
    a = EntityEmbedder(**settings).fit(X, y)
    before = a.fit_transform(X, y)[:, a._prediction_block]
    after = EntityEmbedder(**settings).fit_transform(X, changed)[:, a._prediction_block]
    np.testing.assert_array_equal(before[held_out], after[held_out])
    others = np.setdiff1d(np.arange(len(X)), held_out)
    assert np.abs(before[others] - after[others]).mean() > 0.1
    # transform serves the full model's prediction, as the regressor predicts
    # (with a prediction, cv keeps the full model's tables, as cv=None does).
    regressor = EntityEmbeddingRegressor(**FAST, validation_fraction=0.0).fit(X, y)
    for fitted in (a, EntityEmbedder(**{**settings, "cv": None}).fit(X, y)):
        np.testing.assert_allclose(
            fitted.transform(X)[:, a._prediction_block][:, 0],
            regressor.predict(X),
            rtol=1e-5,
        )
    assert list(a.get_feature_names_out()[a._prediction_block]) == ["prediction"]


def test_stacking_without_cv_cross_fits_five_folds_for_the_prediction():
    X, y = city_table(n=300)
    labels = np.where(y > np.median(y), "high", "low")
    embedder = EntityEmbedder(**FAST, append_prediction=True)
    features = embedder.fit_transform(X, labels)
    in_sample = embedder.transform(X)
    block = embedder._prediction_block
    width = sum(embedder.embedding_dims_.values())
    # The embeddings are in-sample (cv=None); the prediction is out-of-fold.
    np.testing.assert_array_equal(features[:, :width], in_sample[:, :width])
    assert not np.allclose(features[:, block], in_sample[:, block])
    assert features[:, block].min() >= 0 and features[:, block].max() <= 1
    assert list(embedder.get_feature_names_out()[block]) == ["probability_low"]


class _EpochsPerFit(L.Callback):
    """Per Trainer fit: (training epochs, validation batches run)."""

    def __init__(self):
        self.fits = []

    def on_fit_start(self, trainer, pl_module):
        self.fits.append([0, 0])

    def on_train_epoch_end(self, trainer, pl_module):
        self.fits[-1][0] += 1

    def on_validation_batch_end(self, trainer, *args, **kwargs):
        if not trainer.sanity_checking:
            self.fits[-1][1] += 1


def test_folds_train_for_the_full_fits_best_epochs_without_validation():
    X, y = city_table(n=400)
    counter = _EpochsPerFit()
    embedder = EntityEmbedder(
        **{**FAST, "max_epochs": 12}, patience=2, cv=3, callbacks=[counter]
    )
    embedder.fit_transform(X, y)
    best = int(embedder.history_["val_loss"].to_numpy().argmin()) + 1
    full, *folds = counter.fits
    assert full[0] == len(embedder.history_) and full[1] > 0
    assert folds == [[best, 0]] * 3


def test_epochs_to_best_reads_the_kept_epoch():
    from entembed._embedder_fit import _epochs_to_best

    history = pd.DataFrame({"epoch": [1, 2, 3, 4], "val_loss": [3.0, 1.0, 2.0, 1.5]})
    assert _epochs_to_best(history.to_dict("records")) == 2
    # Without validation the folds keep the fit's own settings.
    assert _epochs_to_best(history.drop(columns="val_loss").to_dict("records")) is None
    assert _epochs_to_best(history.assign(val_loss=np.nan).to_dict("records")) is None


class _LastTableRate(L.Callback):
    """Per Trainer fit: the tables' learning rate at the end of each epoch,
    as a share of its starting value."""

    def __init__(self):
        self.fits = []

    def on_fit_start(self, trainer, pl_module):
        self.fits.append([])

    def on_train_epoch_end(self, trainer, pl_module):
        group = trainer.optimizers[0].param_groups[-1]
        self.fits[-1].append(group["lr"] / group["initial_lr"])


def test_folds_stop_where_the_full_fit_was_on_its_cosine():
    X, y = city_table(n=400)
    rates = _LastTableRate()
    embedder = EntityEmbedder(
        **{**FAST, "max_epochs": 30},
        patience=1,
        learning_rate=0.03,  # validation loss turns up after a few epochs
        cv=3,
        learning_rate_schedule="cosine",
        callbacks=[rates],
    )
    embedder.fit_transform(X, y)
    best = int(embedder.history_["val_loss"].to_numpy().argmin()) + 1
    full, *folds = rates.fits
    # A fold trains the full fit's best epochs on a cosine of the full fit's
    # length: it ends where the kept epoch ended, not at a learning rate of 0.
    # (Its epochs have more steps: no validation rows, other fold sizes.)
    assert best < 10
    for fold in folds:
        assert len(fold) == best
        np.testing.assert_allclose(fold, full[:best], atol=0.01)


def test_cross_fitting_serves_the_folds_mean_tables():
    # Learning rates too small to move anything: each fold serves the starting
    # vectors of the categories it trained on and its unknown vector for the
    # others. A category with one row is missing from one of the 3 folds, so
    # the served vector is (2 x its own + the unknown vector) / 3; a category
    # every fold saw keeps its own.
    rng = np.random.default_rng(0)
    categories = np.r_[np.repeat([f"c{i}" for i in range(20)], 10), ["once1", "once2"]]
    X = pd.DataFrame({"id": rng.permutation(categories)})
    y = rng.normal(size=len(X))
    settings = {
        "embedding_dims": 3,
        "hidden_units": (4,),
        "max_epochs": 1,
        "learning_rate": 1e-9,
        "table_learning_rate": 1e-9,
        "validation_fraction": 0,
        "random_state": 0,
        "feature_scale": None,  # the tables as the folds left them
    }
    start = EntityEmbedder(cv=None, **settings).fit(X, y).embeddings_["id"]
    folds = KFold(3, shuffle=True, random_state=0)
    served = EntityEmbedder(cv=folds, **settings).fit(X, y).embeddings_["id"]
    unknown = start.loc["<unknown>"].to_numpy()
    for name in ("once1", "once2"):
        expected = (2 * start.loc[name].to_numpy() + unknown) / 3
        np.testing.assert_allclose(served.loc[name].to_numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(served.loc["c0"], start.loc["c0"], atol=1e-5)


def test_fit_and_fit_transform_with_cv_leave_the_same_model():
    X, y = city_table(n=300)
    params = {**FAST, "cv": 3}
    fitted = EntityEmbedder(**params).fit(X, y)
    embedder = EntityEmbedder(**params)
    out_of_fold = embedder.fit_transform(X, y)
    np.testing.assert_array_equal(fitted.transform(X), embedder.transform(X))
    # The served tables are not the full model's, nor the out-of-fold rows'.
    in_sample = EntityEmbedder(**FAST).fit(X, y).transform(X)
    assert not np.allclose(embedder.transform(X), in_sample)
    assert not np.allclose(embedder.transform(X), out_of_fold)


@pytest.mark.parametrize(
    ("n_rows", "n_categories", "id_like"),
    [
        (100, [10], []),  # 10 rows per category: not ID-like
        (100, [11], [0]),
        (100, [2, 3, 11, 50], [2, 3]),  # each column
        (100, [0, 5], []),  # a column of missing values only
        (0, [0], []),
    ],
)
def test_id_like_means_fewer_than_ten_rows_per_category(n_rows, n_categories, id_like):
    assert id_like_columns(n_rows, n_categories) == id_like


def _blocks(embedder):
    """Each embedded column's slice of the features."""
    starts = np.cumsum([0, *embedder.embedding_dims_.values()])
    return {
        c: slice(a, b)
        for c, a, b in zip(embedder.embedding_dims_, starts, starts[1:], strict=False)
    }


@pytest.mark.parametrize(
    ("table", "folds"), [(city_table, None), (with_an_id_column, 5)]
)
def test_cv_auto_cross_fits_in_five_folds_where_a_column_is_id_like(
    table, folds, tmp_path
):
    X, y = table()
    default = EntityEmbedder(**FAST)
    explicit = EntityEmbedder(**FAST, cv=folds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ID-like width warning
        features = default.fit_transform(X, y)
        expected = explicit.fit_transform(X, y)
    assert default.get_params()["cv"] == "auto"
    assert default.cv_ == explicit.cv_ == folds
    assert default.constant_columns_ == explicit.constant_columns_ == []
    np.testing.assert_array_equal(features, expected)
    np.testing.assert_array_equal(default.transform(X), explicit.transform(X))
    default.save(tmp_path / "model.npz")
    assert entembed.load(tmp_path / "model.npz").cv_ == folds


def test_cv_auto_serves_an_id_like_column_of_noise_as_its_mean_vector(tmp_path):
    # The customers carry nothing about the target: out of fold, their vectors
    # give new rows noise. Each row gets the column's mean vector instead, and
    # with no other ID-like column, the features are in-sample (one fit's).
    X, y = with_an_id_column(informative=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ID-like width warning
        default = EntityEmbedder(**AS_LEARNED)
        features = default.fit_transform(X, y)
        in_sample = EntityEmbedder(**AS_LEARNED, cv=None).fit(X, y)
    assert default.cv_ is None
    assert default.constant_columns_ == ["customer"]
    np.testing.assert_array_equal(features, default.transform(X))
    served, full = default.transform(X), in_sample.transform(X)
    blocks = _blocks(default)
    customer = served[:, blocks["customer"]]
    np.testing.assert_allclose(
        customer,
        np.broadcast_to(full[:, blocks["customer"]].mean(axis=0), customer.shape),
        rtol=1e-5,
    )
    for column in ("city", "plan"):
        np.testing.assert_array_equal(
            served[:, blocks[column]], full[:, blocks[column]]
        )
    # a new category gets the same vector
    new = X.head(3).assign(customer="never seen")
    np.testing.assert_array_equal(
        default.transform(new)[:, blocks["customer"]], customer[:3]
    )
    with pytest.raises(
        ValueError,
        match=r"Column 'customer' serves one vector to every category: its "
        r"vectors did not generalise out of fold \(constant_columns_\)\. Fit "
        r"with cv=5 or cv=None to keep them\.",
    ):
        default.most_similar("customer", "c1")
    assert len(default.most_similar("city", "city1", k=3)) == 3
    default.save(tmp_path / "model.npz")
    loaded = entembed.load(tmp_path / "model.npz")
    assert loaded.constant_columns_ == ["customer"] and loaded.cv_ is None
    np.testing.assert_array_equal(loaded.transform(X), served)


def test_cv_auto_keeps_cross_fitting_for_an_informative_id_like_column():
    # One ID-like column carries the target, one does not: the features stay
    # cross-fitted, and the noise column is constant out of fold too.
    X, y = with_an_id_column()
    X["visit"] = [f"v{i}" for i in np.random.default_rng(3).permutation(len(X)) // 4]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ID-like width warning
        default = EntityEmbedder(**AS_LEARNED)
        features = default.fit_transform(X, y)
        explicit = EntityEmbedder(**AS_LEARNED, cv=5).fit_transform(X, y)
    assert default.cv_ == 5
    assert default.constant_columns_ == ["visit"]
    blocks = _blocks(default)
    visit = features[:, blocks["visit"]]
    np.testing.assert_array_equal(visit, np.broadcast_to(visit[0], visit.shape))
    np.testing.assert_array_equal(default.transform(X)[:, blocks["visit"]], visit)
    for column in ("city", "plan", "customer"):
        np.testing.assert_array_equal(
            features[:, blocks[column]], explicit[:, blocks[column]]
        )


@pytest.mark.parametrize("informative_column, rotations", [(False, 0), (True, 5)])
def test_the_folds_are_rotated_only_where_their_features_are_served(
    monkeypatch, informative_column, rotations
):
    # Where the tested ID-like column is noise, the features served are
    # in-sample: the folds' rotations (each as costly as a product of every
    # table with itself) are skipped. Where it carries the target, each of the
    # 5 folds is rotated onto the full model's axes.
    calls = []
    rotate = entembed._cross_fit.rotated
    monkeypatch.setattr(
        entembed._cross_fit, "rotated", lambda *args: calls.append(1) or rotate(*args)
    )
    X, y = with_an_id_column(informative=informative_column)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ID-like width warning
        embedder = EntityEmbedder(**AS_LEARNED).fit(X, y)
    assert embedder.cv_ == (5 if informative_column else None)
    assert len(calls) == rotations


def test_the_held_out_test_weighs_rows_by_their_sample_weight():
    # Equal weights train the same network as none (the loss is a weighted
    # mean) and scale every row's gain alike: the same columns are constant.
    X, y = with_an_id_column()
    X["visit"] = [f"v{i}" for i in np.random.default_rng(3).permutation(len(X)) // 4]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ID-like width warning
        plain = EntityEmbedder(**FAST).fit(X, y)
        weighted = EntityEmbedder(**FAST).fit(X, y, sample_weight=np.full(len(X), 2.0))
    assert weighted.constant_columns_ == plain.constant_columns_ == ["visit"]
    assert weighted.cv_ == plain.cv_ == 5


def test_cv_auto_without_the_test_cross_fits_every_id_like_column():
    X, y = with_an_id_column(informative=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ID-like width warning
        untested = EntityEmbedder(**FAST, test_id_columns=False)
        features = untested.fit_transform(X, y)
        explicit = EntityEmbedder(**FAST, cv=5).fit_transform(X, y)
    assert untested.cv_ == 5 and untested.constant_columns_ == []
    np.testing.assert_array_equal(features, explicit)


def test_an_explicit_cv_keeps_every_columns_vectors():
    X, y = with_an_id_column(informative=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ID-like width warning
        embedder = EntityEmbedder(**FAST, cv=5).fit(X, y)
    assert embedder.cv_ == 5 and embedder.constant_columns_ == []
    customer = embedder.transform(X)[:, _blocks(embedder)["customer"]]
    assert not np.allclose(customer, customer[0])


def test_held_out_gains_are_informative_beyond_two_standard_errors():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 1, 10_000)
    assert not informative(noise - noise.mean())
    assert informative(noise - noise.mean() + 0.03)  # 3 standard errors
    assert not informative(noise - noise.mean() + 0.01)  # 1
    assert not informative(np.array([1.0]))


def test_memorised_means_fitted_rows_gain_more_by_two_standard_errors():
    noise = np.random.default_rng(0).normal(0, 1, 10_000)
    gains = noise - noise.mean()
    assert not memorised(gains, gains)
    assert memorised(gains + 0.05, gains)  # 3.5 standard errors of the difference
    assert not memorised(gains + 0.02, gains)  # 1.4
    assert not memorised(gains, gains + 0.05)  # new rows gain more: no
    assert not memorised(np.array([1.0]), gains)


def _with_a_shop_column(rows_per_shop: int, n: int = 2000):
    """The city table with a noisier target and a shop column of noise,
    ``rows_per_shop`` rows per shop: not ID-like from 10 up."""
    X, y = city_table(n=n)
    rng = np.random.default_rng(1)
    X["shop"] = [f"s{i}" for i in rng.permutation(n) % (n // rows_per_shop)]
    return X, y + rng.normal(0, 1, n)


def test_cv_auto_treats_a_column_whose_vectors_memorise_as_id_like():
    # 20 rows per shop is not ID-like by its shape, but the shops' vectors fit
    # the noise of the rows they trained on and not the validation rows': the
    # folds then test the column as an ID-like one and find it uninformative.
    X, y = _with_a_shop_column(20)
    default = EntityEmbedder(**FAST).fit(X, y)
    assert default.constant_columns_ == ["shop"] and default.cv_ is None
    # without validation rows there is nothing to test on
    unvalidated = EntityEmbedder(**FAST, validation_fraction=0).fit(X, y)
    assert unvalidated.constant_columns_ == [] and unvalidated.cv_ is None
    # and from 50 rows per category a column is not tested at all
    X, y = _with_a_shop_column(50)
    assert EntityEmbedder(**FAST).fit(X, y).constant_columns_ == []


def test_row_losses_are_the_training_losses():
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    output = rng.normal(size=(6, 3))
    classes = np.array([0, 2, 1, 1, 0, 2])
    labels = np.array([0, 1, 1, 0, 1, 0], dtype=float)
    targets = rng.normal(size=(6, 3))
    as_torch = torch.from_numpy
    expected = {
        "multiclass": F.cross_entropy(
            as_torch(output), as_torch(classes), reduction="none"
        ),
        "binary": F.binary_cross_entropy_with_logits(
            as_torch(output[:, 0]), as_torch(labels), reduction="none"
        ),
        "regression": F.mse_loss(
            as_torch(output), as_torch(targets), reduction="none"
        ).mean(dim=1),
    }
    for task, target in (
        ("multiclass", classes),
        ("binary", labels),
        ("regression", targets),
    ):
        np.testing.assert_allclose(
            row_losses(output, target, task), expected[task].numpy(), rtol=1e-10
        )


def test_cv_auto_counts_the_categories_the_vocabulary_kept():
    # 75 customers of 4 rows: ID-like, unless min_frequency groups them all
    # into the unknown code; then no column has a category with few rows.
    X, y = with_an_id_column()
    grouped = EntityEmbedder(**FAST, min_frequency=5).fit(X, y)
    assert grouped.cv_ is None


def test_cv_reports_a_splitters_number_of_folds():
    X, y = city_table(n=120)
    assert EntityEmbedder(**FAST, cv=KFold(3)).fit(X, y).cv_ == 3
