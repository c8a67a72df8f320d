"""What the estimators share: column parameters, y checks, most_similar,
Lightning callbacks and loggers, warm starts and transfer."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger
from sklearn.base import clone
from training_data import FAST, city_table

from entembed import (
    EntityEmbedder,
    EntityEmbeddingClassifier,
    load,
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
        match=r"Columns 'when' \(datetime64\[.*\]\) are neither embedded nor "
        r"numbers, so they are left out \(not read, not passed on\)",
    ):
        embedder = EntityEmbedder(**FAST).fit(X, np.arange(40.0))
    assert embedder.categorical_columns_ == ["city"]
    assert embedder.numeric_columns_ == ["size"]
    assert embedder.get_feature_names_out()[-1] == "size"  # passed on
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EntityEmbedder(categorical_columns=["city"], **FAST).fit(
            X.drop(columns="when"), np.arange(40.0)
        )


# ------------------------------------------------- callbacks and loggers
class EpochCounter(Callback):
    """A user's callback: counts the epochs it saw, and the metrics it could
    read at the end of each validation and training epoch."""

    def __init__(self):
        self.epochs = 0
        self.seen = set()

    def on_validation_epoch_end(self, trainer, pl_module):
        self.seen.update(f"validation end: {k}" for k in trainer.callback_metrics)

    def on_train_epoch_end(self, trainer, pl_module):
        self.epochs += 1
        self.seen.update(f"train end: {k}" for k in trainer.callback_metrics)


class StartingTables(Callback):
    """Copies the tables as training starts."""

    def on_fit_start(self, trainer, pl_module):
        self.tables = [t.detach().clone().numpy() for t in pl_module.network.tables()]


def test_logger_and_callbacks_run_beside_entembed_s_own(tmp_path):
    X, y = city_table()
    counter = EpochCounter()
    logger = CSVLogger(tmp_path, name="run")
    embedder = EntityEmbedder(
        **{**FAST, "max_epochs": 8}, patience=1, callbacks=[counter], logger=logger
    ).fit(X, y)
    # entembed's history, early stopping and best weights still run.
    history = embedder.history_
    assert counter.epochs == len(history) >= 2
    assert {"validation end: val_loss", "train end: train_loss"} <= counter.seen
    metrics = pd.read_csv(next(tmp_path.glob("run/version_*/metrics.csv")))
    logged = metrics.dropna(subset=["val_loss"])
    np.testing.assert_allclose(
        logged["val_loss"].to_numpy(), history["val_loss"].to_numpy(), rtol=1e-6
    )


def test_callbacks_and_logger_are_clone_and_pickle_safe_and_not_saved(tmp_path):
    X, y = city_table(n=100)
    counter = EpochCounter()
    embedder = EntityEmbedder(
        **FAST, callbacks=[counter], logger=CSVLogger(tmp_path / "logs")
    )
    copy = clone(embedder)
    assert isinstance(copy.callbacks[0], EpochCounter)
    assert copy.callbacks[0] is not counter
    assert copy.logger is not embedder.logger
    embedder.fit(X, y)
    restored = pickle.loads(pickle.dumps(embedder))
    np.testing.assert_array_equal(restored.transform(X), embedder.transform(X))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "cannot be stored" warning
        embedder.save(tmp_path / "model.npz")
    loaded = load(tmp_path / "model.npz")
    assert loaded.callbacks is None and loaded.logger is None


def test_error_callbacks_must_be_a_list():
    X, y = city_table(n=50)
    with pytest.raises(ValueError, match="The 'callbacks' parameter of EntityEmbedder"):
        EntityEmbedder(**FAST, callbacks=EpochCounter()).fit(X, y)


# ------------------------------------------------------------ warm start
def _two_batches():
    X, y = city_table(n=400, seed=0)
    X2, y2 = city_table(n=200, seed=1)
    X2.loc[:29, "city"] = "city_new"
    return X, y, X2, y2


def test_warm_start_keeps_known_codes_and_vectors_and_starts_new_ones_unknown():
    X, y, X2, y2 = _two_batches()
    embedder = EntityEmbedder(**FAST).fit(X, y)
    codes = embedder.vocabulary_.transform(X[["city", "plan"]])
    before = {c: t.copy() for c, t in embedder.embeddings_.items()}
    start = StartingTables()
    embedder.set_params(warm_start=True, callbacks=[start]).fit(X2, y2)
    np.testing.assert_array_equal(
        embedder.vocabulary_.transform(X[["city", "plan"]]), codes
    )
    assert embedder.categories_["city"][-1] == "city_new"
    city = start.tables[0]
    np.testing.assert_array_equal(
        city[: len(before["city"])], before["city"].to_numpy()
    )
    np.testing.assert_array_equal(city[-1], before["city"].loc["<unknown>"].to_numpy())
    # It trained on: the vectors moved, and the epochs count on.
    assert not np.allclose(embedder.embeddings_["city"].iloc[:14], before["city"])
    assert embedder.history_["epoch"].tolist() == [1, 2, 3, 4, 5, 6]


def test_warm_start_on_an_unfitted_estimator_fits_afresh():
    X, y, _, _ = _two_batches()
    warm = EntityEmbedder(**FAST, warm_start=True).fit(X, y)
    cold = EntityEmbedder(**FAST).fit(X, y)
    np.testing.assert_array_equal(warm.transform(X), cold.transform(X))


def test_warm_start_continues_a_loaded_classifier_on_rows_of_one_class(tmp_path):
    X, y, X2, _ = _two_batches()
    labels = np.where(y > 1.5, "high", "low")
    EntityEmbeddingClassifier(**FAST).fit(X, labels).save(tmp_path / "model.npz")
    model = load(tmp_path / "model.npz").set_params(warm_start=True)
    model.fit(X2, np.full(len(X2), "high"))
    assert model.classes_.tolist() == ["high", "low"]
    assert model.predict_proba(X2).shape == (len(X2), 2)


@pytest.mark.parametrize(
    ("change", "refit", "message"),
    [
        ({}, lambda X, y: (X.drop(columns="plan"), y), r"embeds \['city', 'plan'\]"),
        (
            {"hidden_units": (8,)},
            None,
            r"hidden_units are \(16,\); hidden_units is now",
        ),
        ({"batch_norm": True}, None, "fitted with batch_norm=False"),
        ({"embedding_dims": 3}, None, "warm_start keeps the fitted widths"),
        ({}, lambda X, y: (X, np.column_stack([y, y])), "1 output"),
    ],
)
def test_error_warm_start_that_cannot_continue(change, refit, message):
    X, y, X2, y2 = _two_batches()
    embedder = EntityEmbedder(**FAST).fit(X, y)
    embedder.set_params(warm_start=True, **change)
    if refit is not None:
        X2, y2 = refit(X2, y2)
    with pytest.raises(ValueError, match=message):
        embedder.fit(X2, y2)


def test_error_warm_start_with_new_classes():
    X, y, X2, _ = _two_batches()
    model = EntityEmbeddingClassifier(**FAST).fit(X, np.where(y > 1.5, "a", "b"))
    model.set_params(warm_start=True)
    with pytest.raises(
        ValueError,
        match=r"labels the fitted model does not know \(\['c'\]\); warm_start "
        r"keeps the fitted classes \['a', 'b'\]",
    ):
        model.fit(X2, np.full(len(X2), "c"))


# ------------------------------------------------------------- transfer
def test_init_embeddings_start_shared_categories_and_unknown_for_new_ones():
    X, y, X2, y2 = _two_batches()
    source = EntityEmbedder(**FAST, embedding_dims={"city": 5, "plan": 2}).fit(X, y)
    start = StartingTables()
    target = EntityEmbedder(
        **FAST, categorical_columns=["city"], init_embeddings=source, callbacks=[start]
    ).fit(X2.drop(columns="plan"), y2)
    assert target.embedding_dims_ == {"city": 5}  # "auto" takes the given width
    given = source.embeddings_["city"]
    table = pd.DataFrame(start.tables[0], index=target.embeddings_["city"].index)
    shared = given.index[2:]
    np.testing.assert_array_equal(table.loc[shared], given.loc[shared])
    np.testing.assert_array_equal(table.loc["city_new"], given.loc["<unknown>"])


def test_init_embeddings_as_frames_survive_clone_an_estimator_does_not():
    X, y, X2, y2 = _two_batches()
    source = EntityEmbedder(**FAST).fit(X, y)
    frames = clone(EntityEmbedder(**FAST, init_embeddings=source.embeddings_))
    np.testing.assert_array_equal(
        frames.fit(X2, y2).embedding_dims_["city"], source.embedding_dims_["city"]
    )
    with pytest.raises(ValueError, match="pass its embeddings_"):
        clone(EntityEmbedder(**FAST, init_embeddings=source)).fit(X2, y2)


def test_freeze_embeddings_keeps_transferred_tables_and_trains_the_others():
    X, y, X2, y2 = _two_batches()
    frames = {"city": EntityEmbedder(**FAST).fit(X, y).embeddings_["city"].iloc[2:]}
    start = StartingTables()
    model = EntityEmbedder(
        **FAST,
        init_embeddings=frames,
        freeze_embeddings=True,
        callbacks=[start],
        feature_scale=None,  # serve the tables as trained
    ).fit(X2, y2)
    np.testing.assert_array_equal(model.network_.tables[0], start.tables[0])
    assert not np.allclose(model.network_.tables[1], start.tables[1])
    # No "<unknown>" row given: the given vectors' mean starts new categories.
    np.testing.assert_allclose(
        model.embeddings_["city"].loc["city_new"], frames["city"].mean(), rtol=1e-5
    )


@pytest.mark.parametrize(
    ("init", "params", "error", "message"),
    [
        (
            lambda s: s,
            {"embedding_dims": 3},
            ValueError,
            r"init_embeddings gives column 'city' vectors of width 7, but "
            r"embedding_dims gives it 3. Set embedding_dims='auto'",
        ),
        (lambda s: EntityEmbedder(), {}, ValueError, "init_embeddings is an unfitted"),
        (lambda s: [1, 2], {}, TypeError, "must be a fitted entembed estimator"),
        (
            lambda s: {"city": s.embeddings_["city"].astype(str)},
            {},
            TypeError,
            r"init_embeddings\['city'\] must be a DataFrame of numbers",
        ),
        (
            lambda s: {"town": s.embeddings_["city"]},
            {},
            ValueError,
            r"gives vectors for columns \['town'\], none of which is embedded",
        ),
    ],
)
def test_error_bad_init_embeddings(fitted, init, params, error, message):
    source, X, y = fitted
    with pytest.raises(error, match=message):
        EntityEmbedder(**FAST, init_embeddings=init(source), **params).fit(X, y)
