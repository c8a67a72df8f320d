"""Scaling out: DDP training launched as Lightning launches it, Dask transform,
and vocabularies fitted chunk by chunk."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from entembed import CategoryVocabulary, EntityEmbedder, load
from entembed.datasets import make_synthetic

FAST = {
    "embedding_dims": 4,
    "hidden_units": (32,),
    "max_epochs": 6,
    "batch_size": 128,
    "random_state": 0,
}
DDP = {"embedding_dims": 4, "hidden_units": (32,), "max_epochs": 10, "random_state": 0}

DDP_SCRIPT = """
import json, os, sys
from entembed import EntityEmbeddingRegressor
from entembed.datasets import make_synthetic

if __name__ == "__main__":  # Lightning re-runs this script for rank 1
    X, y, _ = make_synthetic(8000, (20, 30), random_state=0)
    train, test = slice(0, 6000), slice(6000, None)
    params = {params!r}
    # 2 ranks x 64 rows take the same rows per step as 1 process x 128.
    ddp = EntityEmbeddingRegressor(strategy="ddp", devices=2, accelerator="cpu",
                                   batch_size=64, **params)
    ddp.fit(X[train], y[train])
    if int(os.environ.get("LOCAL_RANK", "0")) == 0:
        single = EntityEmbeddingRegressor(accelerator="cpu", batch_size=128, **params)
        single.fit(X[train], y[train])
        scores = {{name: model.score(X[test], y[test])
                   for name, model in (("ddp", ddp), ("single", single))}}
        scores["table_gap"] = max(
            float(abs(a - b).max())
            for a, b in zip(ddp.network_.tables, single.network_.tables))
        ddp.save({model_path!r})
        json.dump(scores, open({scores_path!r}, "w"))
"""


def test_ddp_training_on_two_cpu_processes_matches_single_process(tmp_path):
    script = tmp_path / "train_ddp.py"
    script.write_text(
        textwrap.dedent(
            DDP_SCRIPT.format(
                params=DDP,
                model_path=str(tmp_path / "ddp.npz"),
                scores_path=str(tmp_path / "scores.json"),
            )
        )
    )
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
    scores = json.loads((tmp_path / "scores.json").read_text())
    # Each rank takes every other row of the same permutation, and DDP averages
    # the two half-batch gradients: the same steps as one process on the whole
    # batch, so the two fits agree to float rounding.
    assert scores["ddp"] > 0.9, scores
    assert abs(scores["ddp"] - scores["single"]) < 1e-3, scores
    assert scores["table_gap"] < 1e-4, scores
    X, _, _ = make_synthetic(50, (20, 30), random_state=1)
    assert load(tmp_path / "ddp.npz").predict(X).shape == (50,)


def test_more_devices_than_the_machine_has_is_refused_before_launch():
    X, y, _ = make_synthetic(100, (5,), random_state=0)
    with pytest.raises(
        ValueError,
        match=r"devices=4096 asks for more devices than "
        r"this machine has \(\d+ CPU core\(s\)\)",
    ):
        EntityEmbedder(accelerator="cpu", devices=4096, strategy="ddp", **FAST).fit(
            X, y
        )


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
    assert not (tmp_path / "features").exists()
    assert not (tmp_path / "features.partial").exists()
    written = write_features(
        embedder, dd.from_pandas(X, npartitions=3), tmp_path / "features"
    )
    assert len(pd.read_parquet(written)) == len(X)


def test_vocabulary_fitted_by_chunks_equals_fitted_at_once():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "city": rng.choice([f"c{i}" for i in range(60)], 5000, p=None),
            "n": rng.integers(0, 9, 5000),
        }
    )
    X.loc[rng.choice(5000, 100), "city"] = None
    for params in ({}, {"min_frequency": 0.012}, {"max_categories": 20}):
        whole = CategoryVocabulary(**params).fit(X)
        chunked = CategoryVocabulary(**params)
        for start in range(0, len(X), 700):  # e.g. Parquet row groups
            chunked.partial_fit(X.iloc[start : start + 700])
        for j in range(2):
            assert chunked.categories_[j].tolist() == whole.categories_[j].tolist()
            np.testing.assert_array_equal(
                chunked.category_counts_[j], whole.category_counts_[j]
            )
        np.testing.assert_array_equal(chunked.transform(X), whole.transform(X))
