import json
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest

import entembed
from entembed import EntityEmbedder, EntityEmbeddingClassifier, EntityEmbeddingRegressor

FAST = {"hidden_units": (8,), "max_epochs": 2, "batch_size": 32, "random_state": 0}


def _data(n=120):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "mixed": pd.Series(rng.choice([1, "1", "a", 2.5, True], n), dtype=object),
            "count": rng.integers(0, 4, n),
            "flag": rng.random(n) > 0.5,
            "when": pd.to_datetime("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 3, n), unit="D"),
            "size": rng.normal(size=n),
        }
    )
    y = rng.normal(size=n)
    return X, y


@pytest.mark.parametrize(
    "estimator",
    [
        EntityEmbedder(
            categorical_columns=["mixed", "count", "flag", "when"],
            batch_norm=True,
            **FAST,
        ),
        EntityEmbeddingRegressor(
            categorical_columns=["mixed", "count", "when"], **FAST
        ),
        EntityEmbeddingClassifier(embedding_dims=lambda n: 2, **FAST),
    ],
    ids=["embedder", "regressor", "classifier"],
)
def test_save_load_round_trip(estimator, tmp_path):
    X, y = _data()
    if isinstance(estimator, EntityEmbeddingClassifier):
        y = np.where(y > 0, "up", "down")
    estimator.fit(X, y)
    path = tmp_path / "model.entembed"
    estimator.save(path)
    loaded = entembed.load(path)
    assert type(loaded) is type(estimator)
    for method in ("transform", "predict", "predict_proba"):
        if hasattr(estimator, method):
            np.testing.assert_array_equal(
                getattr(loaded, method)(X), getattr(estimator, method)(X)
            )
    for column, categories in estimator.categories_.items():
        restored = loaded.categories_[column]
        assert [type(v) for v in restored] == [type(v) for v in categories]
        assert list(restored) == list(categories)
    pd.testing.assert_frame_equal(loaded.history_, estimator.history_)
    for a, b in zip(
        loaded.vocabulary_.category_counts_,
        estimator.vocabulary_.category_counts_,
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    assert loaded.embedding_dims_ == estimator.embedding_dims_
    if hasattr(estimator, "classes_"):
        assert loaded.classes_.tolist() == ["down", "up"]
        assert loaded.get_params()["embedding_dims"] == estimator.embedding_dims_
    else:
        assert loaded.get_params() == estimator.get_params()


def _saved(tmp_path):
    X, y = _data()
    path = tmp_path / "model.npz"
    EntityEmbedder(**FAST).fit(X, y).save(path)
    return path


def test_load_rejects_truncated_files(tmp_path):
    path = _saved(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ValueError,
        match=r"is not a valid entembed model file: it cannot "
        r"be read.*truncated",
    ):
        entembed.load(path)


def test_load_never_unpickles(tmp_path):
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps(EntityEmbedder()))
    with pytest.raises(ValueError, match=r"not a valid entembed model file"):
        entembed.load(path)
    with open(path, "wb") as f:  # an object array needs pickle to load
        np.savez(f, entembed_meta=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"not a valid entembed model file"):
        entembed.load(path)


def _rewrite_meta(path, change):
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(arrays["entembed_meta"].tobytes())
    change(meta)
    arrays["entembed_meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_load_rejects_other_versions_and_tampering(tmp_path):
    path = _saved(tmp_path)
    _rewrite_meta(path, lambda m: m.update(format_version=99))
    with pytest.raises(
        ValueError,
        match=r"format version 99; this entembed reads "
        r"version 1",
    ):
        entembed.load(path)

    path = _saved(tmp_path)
    _rewrite_meta(path, lambda m: m["embedding_dims"].update(mixed=99))
    with pytest.raises(
        ValueError, match=r"contents are inconsistent.*table of 'mixed'"
    ):
        entembed.load(path)

    path = _saved(tmp_path)
    _rewrite_meta(path, lambda m: m.update(estimator="os.system"))
    with pytest.raises(ValueError, match=r"unknown estimator 'os.system'"):
        entembed.load(path)

    path = _saved(tmp_path)
    _rewrite_meta(path, lambda m: m.update(format="other"))
    with pytest.raises(ValueError, match=r"it was not written by entembed"):
        entembed.load(path)

    path = _saved(tmp_path)
    with (
        zipfile.ZipFile(path, "a") as archive,
        pytest.warns(UserWarning, match="Duplicate name"),
    ):
        archive.writestr("table_0.npy", b"garbage")
    with pytest.raises(ValueError, match=r"not a valid entembed model file"):
        entembed.load(path)


def test_save_refuses_categories_it_cannot_store(tmp_path):
    X = pd.DataFrame({"pair": pd.Series([(1, 2), (3, 4)] * 20, dtype=object)})
    embedder = EntityEmbedder(**FAST).fit(X, np.arange(40.0))
    with pytest.raises(ValueError, match=r"Column 'pair' has a category of type tuple"):
        embedder.save(tmp_path / "model.npz")


def test_save_warns_about_parameters_it_cannot_store(tmp_path):
    from sklearn.model_selection import KFold

    X, y = _data()
    embedder = EntityEmbedder(cv=KFold(2), **FAST).fit(X, y)
    with pytest.warns(
        UserWarning,
        match=r"Parameter cv=KFold.* cannot be stored "
        r"safely; the loaded estimator has its default",
    ):
        embedder.save(tmp_path / "model.npz")
    assert entembed.load(tmp_path / "model.npz").get_params()["cv"] is None


def _format1_rows():
    return pd.DataFrame(
        {
            "city": ["Oslo", "Rome", None, "Lima"],
            "code": pd.Series([1, "2", 9, 3], dtype=object),
            "size": [0.0, 1.0, -1.0, 2.0],
        }
    )


def test_load_reads_files_written_by_entembed_0_1(request):
    # Written by entembed 0.1.0 before the fitted-state protocol existed: the
    # format is unchanged, so old files load and serve the same numbers.
    data = request.path.parent / "data"
    expected = np.load(data / "format1_expected.npz")
    embedder = entembed.load(data / "embedder_format1.npz")
    classifier = entembed.load(data / "classifier_format1.npz")
    X = _format1_rows()
    np.testing.assert_array_equal(embedder.transform(X), expected["embedder"])
    np.testing.assert_array_equal(classifier.predict_proba(X), expected["proba"])
    assert embedder.passthrough_columns_ == ["size"]
    assert classifier.classes_.tolist() == ["high", "low"]
    assert classifier.embedding_dims_ == {"city": 2, "code": 5}


def test_saved_file_keeps_the_format_of_entembed_0_1(request, tmp_path):
    # A file written today has the same metadata keys and array names as one
    # written by 0.1.0, so 0.1.0 reads it too.
    old = request.path.parent / "data" / "embedder_format1.npz"
    embedder = entembed.load(old)
    embedder.save(tmp_path / "new.npz")
    with np.load(old) as a, np.load(tmp_path / "new.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        meta_a = json.loads(a["entembed_meta"].tobytes())
        meta_b = json.loads(b["entembed_meta"].tobytes())
    assert list(meta_a) == list(meta_b)
    assert meta_a == meta_b


def test_save_refuses_objects_that_are_not_registered(tmp_path):
    from entembed import CategoryVocabulary
    from entembed._persistence import save

    vocabulary = CategoryVocabulary().fit(pd.DataFrame({"a": ["x"]}))
    with pytest.raises(
        TypeError, match=r"CategoryVocabulary cannot be saved in entembed's format"
    ):
        save(vocabulary, tmp_path / "v.npz")
    assert not (tmp_path / "v.npz").exists()
