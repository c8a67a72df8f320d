"""Fits on tables read piece by piece: Dask DataFrames and Parquet folders
(the command line's ``fit --stream``), under one process and under DDP."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from entembed import (
    EntityEmbedder,
    EntityEmbeddingClassifier,
    EntityEmbeddingRegressor,
    load,
)
from entembed._cli import main
from entembed._stream_data import StreamBatches, counted
from entembed._streaming import (
    Rows,
    StreamError,
    dask_source,
    first_pass,
    folds_of,
    parquet_source,
    validation_mask,
)
from entembed._vocabulary import CategoryVocabulary
from entembed.datasets import make_synthetic

dd = pytest.importorskip("dask.dataframe")

FAST = {"embedding_dims": 4, "hidden_units": (16,), "max_epochs": 3, "random_state": 0}


def synthetic(n_rows=3000, seed=0):
    X, y, _ = make_synthetic(n_rows, (8, 40), random_state=seed)
    X = "k" + X.astype(str)  # text categories, not numbers stored as text
    X["x"] = np.random.default_rng(seed).normal(size=n_rows)
    return X, y


def write_folder(folder, frames, row_group_size=700):
    folder.mkdir(parents=True, exist_ok=True)
    for k, frame in enumerate(frames):
        frame.to_parquet(folder / f"part-{k}.parquet", row_group_size=row_group_size)
    return folder


def table_with_target(n_rows=3000, seed=0):
    X, y = synthetic(n_rows, seed)
    return X.assign(y=np.asarray(y))


def streamed_table(source, **params):
    return first_pass(
        source,
        categorical_columns=params.get("categorical_columns", ["c0", "c1"]),
        numeric_columns="auto",
        vocabulary=CategoryVocabulary(),
        task=params.get("task", "regression"),
    )


# ------------------------------------------------------------- equivalence
def test_a_streamed_fit_learns_what_an_in_memory_fit_learns(tmp_path):
    frame, test = (
        table_with_target(5000).iloc[:4000],
        table_with_target(5000).iloc[4000:],
    )
    folder = write_folder(tmp_path / "table", [frame.iloc[:2500], frame.iloc[2500:]])
    params = {**FAST, "max_epochs": 6, "categorical_columns": ["c0", "c1"]}
    streamed = EntityEmbeddingRegressor(**params)
    streamed.fit(dd.read_parquet(folder).drop(columns="y"), dd.read_parquet(folder).y)
    memory = EntityEmbeddingRegressor(**params).fit(frame.drop(columns="y"), frame.y)
    for a, b in zip(
        streamed.vocabulary_.categories_, memory.vocabulary_.categories_, strict=True
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        streamed.vocabulary_.code_counts()[1],
        np.bincount(memory.vocabulary_.transform(frame[["c0", "c1"]])[:, 1]),
    )
    assert streamed.numeric_columns_ == memory.numeric_columns_ == ["x"]
    # Other validation rows and batch order, the same data and seed: losses
    # within 20%, and the same score on new rows.
    best = [m.history_["val_loss"].min() for m in (streamed, memory)]
    assert abs(best[0] - best[1]) < 0.2 * best[1], best
    scores = [m.score(test.drop(columns="y"), test.y) for m in (streamed, memory)]
    assert scores[0] > 0.8 and abs(scores[0] - scores[1]) < 0.05, scores


def test_a_streamed_fit_is_the_same_with_the_same_seed():
    frame = table_with_target(2000)
    data = dd.from_pandas(frame, npartitions=4)
    fits = [
        EntityEmbeddingRegressor(**FAST).fit(data.drop(columns="y"), data.y)
        for _ in range(2)
    ]
    for a, b in zip(fits[0].network_.tables, fits[1].network_.tables, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_first_pass_standardises_as_the_in_memory_fit():
    frame = table_with_target(2000)
    table = streamed_table(dask_source(*_split(dd.from_pandas(frame, npartitions=3))))
    np.testing.assert_allclose(table.target_mean, [frame.y.mean()], rtol=1e-5)
    np.testing.assert_allclose(table.target_scale, [frame.y.std(ddof=0)], rtol=1e-5)
    np.testing.assert_allclose(table.numeric_mean, [frame.x.mean()], rtol=1e-5)
    assert table.piece_rows.sum() == 2000 and len(table.piece_rows) == 3


def _split(data):
    return data.drop(columns="y"), data.y


# ---------------------------------------------------------------- batches
def test_validation_rows_are_the_same_on_every_call_and_disjoint_from_training():
    first = validation_mask(1000, 500, 0.1, seed=3)
    np.testing.assert_array_equal(first, validation_mask(1000, 500, 0.1, seed=3))
    assert not np.array_equal(first, validation_mask(1000, 500, 0.1, seed=4))
    whole = validation_mask(0, 100_000, 0.1, seed=3)
    assert abs(whole.mean() - 0.1) < 0.005
    np.testing.assert_array_equal(whole[1000:1500], first)  # by position alone


def _batches(table, *, rank=0, world_size=1, train=True, fraction=0.2, **kwargs):
    rows = kwargs.pop("rows", Rows(fraction, 0, validating=not train))
    return StreamBatches(
        table,
        rows,
        counted(table, rows),
        train=train,
        batch_size=kwargs.pop("batch_size", 64),
        seed=1,
        rank=rank,
        world_size=world_size,
        buffer_rows=kwargs.pop("buffer_rows", 256),
        **kwargs,
    )


def test_an_epoch_serves_each_training_row_once_and_no_validation_row(tmp_path):
    frame = table_with_target(1500)
    frame["row"] = np.arange(len(frame), dtype=float)  # a numeric column: traced
    folder = write_folder(tmp_path / "t", [frame], row_group_size=200)
    table = first_pass(
        parquet_source(folder, "y"),
        categorical_columns=["c0", "c1"],
        numeric_columns=["row"],
        vocabulary=CategoryVocabulary(),
        task="regression",
    )

    def rows(batches):
        served = [batch["numeric"][:, 0].numpy() for batch in batches]
        assert len(served) == len(batches)
        return np.concatenate(served).astype(int)  # the network standardises

    validating = np.flatnonzero(validation_mask(0, 1500, 0.2, 0))
    trained = rows(_batches(table))
    np.testing.assert_array_equal(
        np.sort(trained), np.setdiff1d(np.arange(1500), validating)
    )
    assert not np.array_equal(trained, np.sort(trained))  # shuffled
    np.testing.assert_array_equal(rows(_batches(table, train=False)), validating)
    batches = _batches(table)
    assert not np.array_equal(rows(batches), rows(batches))  # a new order each pass
    # A fold's fit reads none of its fold's rows; its held-out pass only those.
    folds = folds_of(0, 1500, 5, 0)
    for k in range(5):
        trained = rows(_batches(table, rows=Rows(0.0, 0, fold=k, n_folds=5)))
        np.testing.assert_array_equal(np.sort(trained), np.flatnonzero(folds != k))
        held_out = Rows(0.0, 0, fold=k, n_folds=5, held_out=True)
        np.testing.assert_array_equal(
            rows(_batches(table, train=False, rows=held_out)),
            np.flatnonzero(folds == k),
        )


def test_processes_read_disjoint_pieces_and_take_the_same_steps(tmp_path):
    # Row groups of uneven sizes: 7 of 300 rows and one of 100.
    folder = write_folder(tmp_path / "t", [table_with_target(2200)], row_group_size=300)
    table = streamed_table(parquet_source(folder, "y"))
    shares = [_batches(table, rank=r, world_size=3) for r in range(3)]
    for number in range(3):
        pieces = [set(share.pieces(number)) for share in shares]
        assert set.union(*pieces) == set(range(8))
        assert sum(map(len, pieces)) == 8  # disjoint
    lengths = {len(share) for share in shares}
    assert len(lengths) == 1
    for share in shares:  # uneven shares still end after the same steps
        assert sum(1 for _ in share) == len(share)


def test_more_processes_than_pieces_still_take_their_steps(tmp_path):
    folder = write_folder(tmp_path / "t", [table_with_target(400)], row_group_size=400)
    table = streamed_table(parquet_source(folder, "y"))
    shares = [_batches(table, rank=r, world_size=2) for r in range(2)]
    assert [sum(1 for _ in share) for share in shares] == [len(shares[0])] * 2


def test_a_final_single_row_batch_is_skipped_for_batch_norm(tmp_path):
    frame = table_with_target(1000)
    folder = write_folder(tmp_path / "t", [frame], row_group_size=300)
    table = streamed_table(parquet_source(folder, "y"))
    n = int(counted(table, Rows(0.2, 0)).sum())
    batches = _batches(table, batch_size=n - 1, drop_single=True)
    assert [len(b["target"]) for b in batches] == [n - 1]


# --------------------------------------------------------------- estimators
def test_the_embedder_fit_transform_returns_lazy_features_of_every_row(capsys):
    frame = table_with_target(1500)
    data = dd.from_pandas(frame, npartitions=3)
    embedder = EntityEmbedder(**FAST, categorical_columns=["c0", "c1"], verbose=1)
    features = embedder.fit_transform(*_split(data))
    assert (
        "cv='auto' serves in-sample features (one streamed fit): no embedded "
        "column is ID-like (the test of columns that memorise, 10 to 50 rows per "
        "category, needs the rows in memory and is not run on a streamed fit)."
    ) in capsys.readouterr().err
    assert isinstance(features, dd.DataFrame)
    computed = features.compute()
    assert len(computed) == 1500 and embedder.passthrough_columns_ == ["x"]
    np.testing.assert_allclose(
        computed.to_numpy(), embedder.transform(frame.drop(columns="y")), rtol=1e-6
    )
    assert embedder.cv_ is None


def test_sample_weights_stream_beside_the_rows():
    frame = table_with_target(1200)
    data = dd.from_pandas(frame, npartitions=3)
    X, y = _split(data)
    plain = EntityEmbeddingRegressor(**FAST).fit(X, y)
    # The loss is the weighted mean: weights of 2 everywhere train the same.
    doubled = EntityEmbeddingRegressor(**FAST).fit(X, y, sample_weight=y * 0 + 2.0)
    for a, b in zip(plain.network_.tables, doubled.network_.tables, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    negative = (y * 0 + 1.0).where(data["c0"] != "kc0_0", -1.0)
    with pytest.raises(
        StreamError,
        match=r"partition \d has sample weights that "
        r"are missing, infinite or negative",
    ):
        EntityEmbeddingRegressor(**FAST).fit(X, y, sample_weight=negative)


def test_the_classifier_streams_labels_and_saves(tmp_path):
    frame = table_with_target(1500)
    frame["y"] = np.where(frame.y > frame.y.median(), "high", "low")
    data = dd.from_pandas(frame, npartitions=3)
    model = EntityEmbeddingClassifier(**FAST).fit(*_split(data))
    assert list(model.classes_) == ["high", "low"]
    model.save(tmp_path / "m.npz")
    assert (load(tmp_path / "m.npz").predict(frame) == model.predict(frame)).all()


def test_a_noise_id_column_is_read_as_constant_as_in_memory():
    frame = table_with_target(3000)
    ids = np.random.default_rng(0).integers(0, 1500, 3000)
    frame["id"] = [f"u{k}" for k in ids]
    data = dd.from_pandas(frame, npartitions=3)
    model = EntityEmbeddingRegressor(**FAST, categorical_columns=["c0", "c1", "id"])
    model.fit(*_split(data))
    assert model.constant_columns_ == ["id"]


def id_table(n_rows=3000, signal=True):
    """A table with an ID-like column of 1,000 ids (3 rows each) whose
    effect is half the target's spread, or noise."""
    frame = table_with_target(n_rows)
    ids = np.random.default_rng(0).integers(0, 1000, n_rows)
    frame["id"] = [f"u{k}" for k in ids]
    if signal:
        frame["y"] += np.random.default_rng(1).normal(size=1000)[ids]
    return frame


def test_the_embedder_cross_fits_a_streamed_table_with_an_id_like_column():
    frame = id_table()
    data = dd.from_pandas(frame, npartitions=4)
    embedder = EntityEmbedder(**FAST, categorical_columns=["c0", "c1", "id"])
    features = embedder.fit_transform(*_split(data))
    assert embedder.cv_ == 5 and embedder.constant_columns_ == []
    assert isinstance(features, dd.DataFrame) and features.npartitions == 4
    computed = features.compute()
    assert list(computed.columns) == list(embedder.get_feature_names_out())
    served = embedder.transform(frame.drop(columns="y"))
    assert computed.shape == served.shape
    # The training rows' vectors are out of fold (the id's vector of a row
    # never learned from it), the served ones the folds' mean.
    ids = [c for c in computed.columns if c.startswith("id_emb")]
    block = computed[ids].to_numpy()
    assert not np.allclose(block, served[:, computed.columns.get_indexer(ids)])
    np.testing.assert_allclose(computed["x"], frame["x"], rtol=1e-6)
    # Each row's vector comes from its own fold's tables (folds from the fit's
    # seed, drawn from random_state as every fit draws it): rows of one id in
    # one fold share a vector, rows of one id in two folds have two.
    seed = int(np.random.RandomState(0).randint(2**31 - 1))
    folds = folds_of(0, len(frame), 5, seed)
    vectors = pd.DataFrame(block).round(5).astype(str).agg("|".join, axis=1)
    by_id_and_fold = pd.DataFrame({"id": frame["id"], "fold": folds, "v": vectors})
    per_group = by_id_and_fold.groupby(["id", "fold"])["v"].nunique()
    assert (per_group == 1).all()
    per_id = by_id_and_fold.groupby("id").agg(
        folds=("fold", "nunique"), v=("v", "nunique")
    )
    assert (per_id["v"] == per_id["folds"]).mean() > 0.95, per_id


def test_a_noise_id_like_column_fails_the_folds_test_and_serves_its_mean():
    data = dd.from_pandas(id_table(signal=False), npartitions=3)
    embedder = EntityEmbedder(**FAST, categorical_columns=["c0", "c1", "id"])
    features = embedder.fit_transform(*_split(data))
    assert embedder.constant_columns_ == ["id"] and embedder.cv_ is None
    ids = [c for c in features.columns if c.startswith("id_emb")]
    values = features[ids].compute().to_numpy()
    assert (values == values[0]).all()  # one vector for every row


def test_settings_a_streamed_fit_cannot_honour_are_refused_with_what_to_use():
    frame = table_with_target(600)
    data = dd.from_pandas(frame, npartitions=2)
    from sklearn.model_selection import KFold

    with pytest.raises(
        ValueError,
        match=r"takes a number of folds \(or 'auto'\), "
        r"not a splitter. Pass cv=5",
    ):
        EntityEmbedder(**FAST, cv=KFold(3)).fit(*_split(data))
    with pytest.raises(ValueError, match=r"shrinkage='auto'.*Pass a number"):
        EntityEmbeddingRegressor(**FAST, shrinkage="auto").fit(*_split(data))
    with pytest.raises(
        ValueError,
        match=r"append_prediction=True on a Dask "
        r"DataFrame would serve in-sample predictions",
    ):
        EntityEmbedder(**FAST, cv=None, append_prediction=True).fit_transform(
            *_split(data)
        )
    with pytest.raises(
        ValueError,
        match=r"interactions='fm' on a Dask DataFrame would serve in-sample "
        r"products of column pairs",
    ):
        EntityEmbedder(**FAST, interactions="fm").fit_transform(*_split(data))
    fitted = EntityEmbeddingRegressor(**FAST).fit(frame[["c0", "c1"]], frame.y)
    with pytest.raises(ValueError, match=r"warm_start=True\) cannot continue"):
        fitted.set_params(warm_start=True).fit(*_split(data))
    with pytest.raises(TypeError, match=r"y must be a Dask Series"):
        EntityEmbeddingRegressor(**FAST).fit(data.drop(columns="y"), frame.y)


def test_x_and_y_of_unknown_divisions_are_matched_partition_by_partition():
    frame = table_with_target(900)
    X = dd.from_pandas(frame.drop(columns="y"), npartitions=3).clear_divisions()
    y = dd.from_pandas(frame.y, npartitions=3).clear_divisions()
    model = EntityEmbeddingRegressor(**FAST).fit(X, y)
    assert model.numeric_columns_ == ["x"]
    fewer = dd.from_pandas(frame.y, npartitions=2).clear_divisions()
    with pytest.raises(
        ValueError,
        match=r"X has 3 partitions and y 2, and their "
        r"divisions are unknown",
    ):
        EntityEmbeddingRegressor(**FAST).fit(X, fewer)
    other = dd.from_pandas(frame.y.iloc[:600], npartitions=3).clear_divisions()
    with pytest.raises(
        StreamError,
        match=r"partition 0 .*X has 300 rows here and "
        r"y 200",
    ):
        EntityEmbeddingRegressor(**FAST).fit(X, other)


# ------------------------------------------------------------- bad input
def test_a_file_of_other_column_types_is_named_before_any_row_is_read(tmp_path):
    frame = table_with_target(400)
    other = frame.assign(c0=np.arange(400))
    folder = write_folder(tmp_path / "t", [frame, other])
    with pytest.raises(
        StreamError,
        match=r"part-1\.parquet' has other columns or "
        r"types than '.*part-0\.parquet': 'c0': int64",
    ):
        parquet_source(folder, "y")


def test_a_partition_of_other_column_types_is_named(tmp_path):
    frame = table_with_target(400)
    parts = [frame.iloc[:200], frame.iloc[200:].assign(c0=np.arange(200))]
    data = dd.from_pandas(frame, npartitions=2)
    data = dd.from_delayed(
        [_delayed(part) for part in parts], meta=frame.iloc[:0], verify_meta=False
    )
    with pytest.raises(
        StreamError,
        match=r"partition 1 has other column types than "
        r"the first piece: 'c0': int64 \(first piece: \w+\)",
    ):
        EntityEmbeddingRegressor(**FAST).fit(*_split(data))


def _delayed(part):
    import dask

    return dask.delayed(lambda: part)()


def test_missing_targets_are_named_with_their_piece(tmp_path):
    frame = table_with_target(600)
    frame.loc[450, "y"] = np.nan
    folder = write_folder(tmp_path / "t", [frame], row_group_size=200)
    with pytest.raises(
        StreamError,
        match=r"part-0\.parquet \(row group 2\) has 1 "
        r"missing target value\(s\)",
    ):
        EntityEmbeddingRegressor(**FAST).fit(parquet_source(folder, "y"), None)


def test_a_corrupt_row_group_is_named_before_training(tmp_path):
    folder = write_folder(tmp_path / "t", [table_with_target(2000)], row_group_size=500)
    path = folder / "part-0.parquet"
    import pyarrow.parquet as pq

    middle = pq.ParquetFile(path).metadata.row_group(2).column(1)
    raw = bytearray(path.read_bytes())
    start = middle.data_page_offset
    raw[start : start + 200] = b"\xff" * 200  # the footer stays readable
    path.write_bytes(bytes(raw))
    with pytest.raises(
        StreamError,
        match=r"cannot read .*part-0\.parquet \(row "
        r"group 2\) of",
    ):
        EntityEmbeddingRegressor(**FAST).fit(parquet_source(folder, "y"), None)


def test_a_truncated_file_and_an_empty_folder_are_named(tmp_path):
    folder = write_folder(tmp_path / "t", [table_with_target(500)])
    path = folder / "part-0.parquet"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(StreamError, match=r"cannot read '.*part-0\.parquet' as Parq"):
        parquet_source(folder, "y")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StreamError, match=r"folder '.*empty' holds no \.parquet file"):
        parquet_source(tmp_path / "empty", "y")
    with pytest.raises(StreamError, match=r"target column 'z' is not in"):
        parquet_source(write_folder(tmp_path / "u", [table_with_target(50)]), "z")


# ------------------------------------------------------------ command line
def test_fit_streams_a_parquet_folder_and_writes_nothing_on_bad_input(tmp_path, capsys):
    frame = table_with_target(1500)
    folder = write_folder(tmp_path / "t", [frame.iloc[:800], frame.iloc[800:]])
    out = tmp_path / "model.npz"
    args = ["fit", str(folder), "--target", "y", "--out", str(out), "--quiet"]
    assert main([*args, "--max-epochs", "2", "--param", "cv=null"]) == 0
    assert "in-sample features" in capsys.readouterr().out
    assert len(load(out).transform(frame)) == 1500
    out.unlink()
    (folder / "part-1.parquet").write_bytes(b"not parquet")
    assert main([*args, "--max-epochs", "2"]) == 1
    assert "cannot read" in capsys.readouterr().err and not out.exists()


def test_fit_streams_a_csv_through_dask(tmp_path, capsys):
    frame = table_with_target(800)
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "model.npz"
    code = main(
        [
            "fit",
            str(path),
            "--target",
            "y",
            "--out",
            str(out),
            "--stream",
            "--max-epochs",
            "2",
            "--quiet",
            "--param",
            "cv=null",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert load(out).cardinalities_["c1"] == frame.c1.nunique() + 2


# ------------------------------------------------------------ processes
DDP_SCRIPT = """
import json, os, sys
import numpy as np
from entembed import EntityEmbeddingRegressor
from entembed._streaming import parquet_source

if __name__ == "__main__":  # Lightning re-runs this script for rank 1
    model = EntityEmbeddingRegressor(
        strategy="ddp", devices=2, accelerator="cpu", embedding_dims=4,
        hidden_units=(16,), max_epochs=3, random_state=0, batch_size=64)
    model.fit(parquet_source({folder!r}, "y"), None)
    tables = [t.tolist() for t in model.network_.tables]
    rank = int(os.environ.get("LOCAL_RANK", "0"))
    json.dump({{"tables": tables, "epochs": len(model.history_)}},
              open({out!r} + str(rank), "w"))
"""


@pytest.mark.slow
def test_two_processes_with_uneven_shares_finish_with_equal_tables(tmp_path):
    frame = table_with_target(2500)
    # 3 row groups of 1000, 1000 and 500 rows: one process reads two, the
    # other one, in every epoch's order.
    folder = write_folder(tmp_path / "t", [frame], row_group_size=1000)
    script = tmp_path / "ddp.py"
    out = str(tmp_path / "tables")
    script.write_text(textwrap.dedent(DDP_SCRIPT.format(folder=str(folder), out=out)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PL_DISABLE_FORK": "1"}
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads(open(out + str(r)).read()) for r in range(2)]
    assert ranks[0]["epochs"] == ranks[1]["epochs"] == 3
    for a, b in zip(ranks[0]["tables"], ranks[1]["tables"], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


MEMORY_SCRIPT = """
import sys
from entembed import EntityEmbeddingRegressor
from entembed._streaming import parquet_source

# Without pieces of text: their varying number per batch lets glibc's heap
# grow by tens of MB whatever the rows (its mmap threshold adapts), which
# this 5x test of the rows' share would mistake for rows held.
model = EntityEmbeddingRegressor(embedding_dims=4, hidden_units=(16,), max_epochs=1,
                                 random_state=0, categorical_columns=["a", "b"],
                                 string_features="none")
model.fit(parquet_source(sys.argv[1], "y"), None)
# This process's own peak (ru_maxrss would count the parent's at the fork).
print(next(line for line in open("/proc/self/status") if line.startswith("VmHWM")))
"""


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc")
def test_peak_memory_of_a_streamed_fit_stays_bounded_as_rows_grow_5x(tmp_path):
    script = tmp_path / "fit.py"
    script.write_text(MEMORY_SCRIPT)
    rng = np.random.default_rng(0)
    labels = np.array([f"category with a long label {k:05d}" for k in range(2000)])
    peaks, in_memory = [], []
    for n_rows in (100_000, 500_000):
        frame = pd.DataFrame(
            {
                "a": labels[rng.integers(0, 2000, n_rows)],
                "b": labels[rng.integers(0, 300, n_rows)],
                "y": rng.normal(size=n_rows),
            }
        )
        in_memory.append(frame.memory_usage(deep=True).sum() / 1024)
        folder = write_folder(tmp_path / str(n_rows), [frame], row_group_size=20_000)
        result = subprocess.run(
            [sys.executable, str(script), str(folder)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        assert result.returncode == 0, result.stderr[-2000:]
        peaks.append(int(result.stdout.split()[-2]))  # KiB
    # The table grows by over 30 MB in memory; the streamed fit's peak by a
    # small share of that (pieces of 20,000 rows are read a few at a time).
    grown = in_memory[1] - in_memory[0]
    assert grown > 30_000
    assert peaks[1] - peaks[0] < 0.25 * grown, (peaks, grown)


RESUME_SCRIPT = """
import os, signal, sys
import numpy as np
from entembed import EntityEmbeddingRegressor
from entembed._streaming import parquet_source
from entembed._training import History

kill_at = int(sys.argv[1])
ran = []  # the epochs this process trained
original = History.on_train_epoch_end
def on_train_epoch_end(self, trainer, pl_module):
    original(self, trainer, pl_module)
    ran.append(trainer.current_epoch + 1)
    if trainer.current_epoch + 1 == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
History.on_train_epoch_end = on_train_epoch_end

model = EntityEmbeddingRegressor(
    embedding_dims=4, hidden_units=(16,), max_epochs=5, patience=None,
    dropout=0.2, random_state=0, checkpoint_dir={checkpoints!r},
).fit(parquet_source({folder!r}, "y"), None)
np.save(sys.argv[2], np.concatenate([t.ravel() for t in model.network_.tables]))
print(ran, model.history_["epoch"].tolist())
"""


@pytest.mark.slow
def test_a_killed_streamed_fit_resumes_from_its_last_epoch_and_ends_the_same(
    tmp_path,
):
    folder = write_folder(tmp_path / "t", [table_with_target(1500)], row_group_size=400)
    script = tmp_path / "fit.py"
    checkpoints = tmp_path / "checkpoints"
    script.write_text(
        RESUME_SCRIPT.format(checkpoints=str(checkpoints), folder=str(folder))
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def run(kill_at, out):
        return subprocess.run(
            [sys.executable, str(script), str(kill_at), str(tmp_path / out)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    killed = run(2, "never.npy")
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert list(checkpoints.iterdir())
    resumed = run(0, "resumed.npy")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    # Killed before epoch 2's checkpoint: it trained epochs 2 to 5 only; its
    # history spans both processes.
    assert resumed.stdout.strip() == "[2, 3, 4, 5] [1, 2, 3, 4, 5]"
    assert list(checkpoints.iterdir()) == []
    fresh = run(0, "fresh.npy")
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    np.testing.assert_array_equal(
        np.load(tmp_path / "resumed.npy"), np.load(tmp_path / "fresh.npy")
    )
