"""Transform across a cluster: a fitted embedder on every partition of a Dask
DataFrame, and features written as a Parquet dataset."""

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator

from entembed import EntityEmbedder
from entembed.datasets import make_synthetic

FAST = {
    "embedding_dims": 4,
    "hidden_units": (32,),
    "max_epochs": 6,
    "batch_size": 128,
    "random_state": 0,
}


# Starts Dask's scheduler: the full lane runs these.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fitted():
    X, y, _ = make_synthetic(2000, (20, 30), random_state=0)
    return EntityEmbedder(**FAST).fit(X, y), X


def test_dask_transform_matches_pandas(fitted):
    dd = pytest.importorskip("dask.dataframe")
    from entembed import transform_dask

    embedder, X = fitted
    data = dd.from_pandas(X.set_axis(np.arange(len(X)) * 3, axis=0), npartitions=4)
    features = transform_dask(embedder, data)
    assert list(features.columns) == embedder.get_feature_names_out().tolist()
    result = features.compute()
    np.testing.assert_array_equal(result.to_numpy(), embedder.transform(X))
    assert list(result.index) == list(np.arange(len(X)) * 3)


def test_dask_failure_names_the_partition_and_writes_nothing(fitted, tmp_path):
    dd = pytest.importorskip("dask.dataframe")
    from entembed import transform_dask, write_features

    embedder, X = fitted
    strict = EntityEmbedder(handle_unknown="error", **FAST).fit(X, np.arange(len(X)))
    broken = X.copy()
    broken.loc[1500, "c0"] = "never seen"
    data = dd.from_pandas(broken, npartitions=4)
    with pytest.raises(
        ValueError,
        match=r"transform failed on partition 3 \(500 rows\)"
        r": Column 'c0' has 1 categories never seen",
    ):
        transform_dask(strict, data).compute()
    with pytest.raises(ValueError, match=r"partition 3"):
        write_features(strict, data, tmp_path / "features")
    assert list(tmp_path.iterdir()) == []  # no partial dataset, no temporary
    written = write_features(
        embedder, dd.from_pandas(X, npartitions=3), tmp_path / "features"
    )
    assert len(pd.read_parquet(written)) == len(X)
    # A failed rewrite leaves the dataset that was there.
    with pytest.raises(ValueError, match=r"partition 3"):
        write_features(strict, data, written, overwrite=True)
    assert len(pd.read_parquet(written)) == len(X)
    assert [p.name for p in tmp_path.iterdir()] == ["features"]


def test_write_features_replaces_only_what_it_wrote(fitted, tmp_path):
    dd = pytest.importorskip("dask.dataframe")
    from entembed import write_features

    embedder, X = fitted
    data = dd.from_pandas(X.head(100), npartitions=2)
    path = write_features(embedder, data, tmp_path / "features")
    with pytest.raises(FileExistsError, match=r"already exists; pass overwrite=True"):
        write_features(embedder, data, path)
    assert (
        len(pd.read_parquet(write_features(embedder, data, path, overwrite=True)))
        == 100
    )
    mine = tmp_path / "my-results"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match=r"was not written by entembed"):
        write_features(embedder, data, mine, overwrite=True)
    assert (mine / "notes.txt").read_text() == "keep me"
    with pytest.raises(ValueError, match=r"'s3://bucket/features' is a URL"):
        write_features(embedder, data, "s3://bucket/features")


class _SlowThenFailing(BaseEstimator):
    """A fitted stand-in: partition 0 transforms slowly, noting its start and
    end in the file ``log`` (dask's tasks may work on copies); partition 1
    fails."""

    def __init__(self, log=None):
        self.log = log
        self.fitted_ = True

    def fit(self, X, y=None):
        return self

    def get_feature_names_out(self):
        return np.array(["f"])

    def transform(self, X):
        if X["part"].iloc[0] == 1:
            raise ValueError("bad rows")
        with open(self.log, "a") as log:
            log.write("start\n")
        time.sleep(1.0)
        with open(self.log, "a") as log:
            log.write("end\n")
        return X[["part"]].to_numpy(dtype=np.float32)


def test_a_failed_write_returns_after_every_running_partition(tmp_path):
    # Dask's threaded scheduler raises the first error at once: the other
    # threads' partitions would still be writing into the temporary folder
    # as it is removed, and could leave a file there (1 run in 8 did).
    dd = pytest.importorskip("dask.dataframe")
    from entembed import write_features

    log, out = tmp_path / "finished.txt", tmp_path / "out"
    out.mkdir()
    estimator = _SlowThenFailing(log=str(log))
    data = dd.from_pandas(pd.DataFrame({"part": [0] * 10 + [1] * 10}), npartitions=2)
    with pytest.raises(ValueError, match=r"partition 1 \(10 rows\): bad rows"):
        write_features(estimator, data, out / "features")
    # The slow partition ran to its end before the raise, or never started.
    noted = log.read_text() if log.exists() else ""
    assert noted in ("", "start\nend\n")
    time.sleep(1.5)  # anything still running would write by now
    assert list(out.iterdir()) == []
