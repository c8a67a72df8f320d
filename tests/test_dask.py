"""Transform across a cluster: a fitted embedder on every partition of a Dask
DataFrame, and features written as a Parquet dataset."""

import numpy as np
import pandas as pd
import pytest

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
