import io
import json
import pickle
import signal
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import entembed
from entembed import EntityEmbedder, EntityEmbeddingClassifier, EntityEmbeddingRegressor

FAST = {"hidden_units": (8,), "max_epochs": 2, "batch_size": 32, "random_state": 0}
# The table's datetime column is left out by categorical_columns="auto", as
# fit warns; the tests that embed it name it.
pytestmark = pytest.mark.filterwarnings("ignore:Columns 'when' .* are neither embedded")


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
        r"version 2",
    ):
        entembed.load(path)

    path = _saved(tmp_path)
    _rewrite_meta(path, lambda m: m["embedding_dims"].update(mixed=99))
    with pytest.raises(
        ValueError, match=r"contents are inconsistent.*table of 'mixed'"
    ):
        entembed.load(path)

    for folds in ("5", 1, True):
        path = _saved(tmp_path)
        _rewrite_meta(path, lambda m, folds=folds: m.update(cv=folds))
        with pytest.raises(
            ValueError,
            match=rf"contents are inconsistent.*cv {folds!r} is not a number of folds",
        ):
            entembed.load(path)

    crafted = {
        "constant_columns": (
            (["no such column"], [3], "city"),
            r"constant columns .* are not embedded columns",
        ),
        "feature_scales": (
            ("1.0", [1.0], [0.0, 1.0], [-1.0, 1.0], [True, 1.0], ["1", 1.0]),
            r"feature scales .* are not one positive number per column",
        ),
    }
    for entry, (values, message) in crafted.items():
        for value in values:
            path = _saved(tmp_path)
            _rewrite_meta(path, lambda m, e=entry, v=value: m.update({e: v}))
            with pytest.raises(
                ValueError, match=r"contents are inconsistent.*" + message
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
    loaded = entembed.load(tmp_path / "model.npz")
    assert loaded.get_params()["cv"] == "auto"
    assert loaded.cv_ == 2  # what the fit did, stored


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
    # 0.1.0's predictors kept every column's vectors
    assert classifier.get_params()["test_id_columns"] is False
    assert embedder.constant_columns_ == classifier.constant_columns_ == []


# Parameters added since 0.1.0; a file stores every parameter.
NEW_ENTRIES = {
    "cv": None,
    "constant_columns": [],
    "feature_scales": [1.0, 1.0],
    "string_features": {},
}
NEW_PARAMETERS = {
    "checkpoint_dir": None,
    "callbacks": None,
    "logger": None,
    "init_embeddings": None,
    "freeze_embeddings": False,
    "warm_start": False,
    "category_dropout": 0.0,
    "shrinkage": 0.0,
    "append_prediction": False,
    "learning_rate_schedule": "constant",  # what 0.1.0 trained with
    "feature_scale": None,  # 0.1.0 served the tables as learned
    "test_id_columns": True,  # moot for its cv=None: nothing to test
    "string_features": "none",  # it cut no column into pieces
    "string_buckets": 16_384,
    "string_ngram_range": [3, 3],
    "interactions": "none",  # its network combined no columns
}


def test_format_1_is_upgraded_in_one_step_to_what_format_2_writes(request):
    from entembed._persistence import upgraded

    old = request.path.parent / "data" / "classifier_format1.npz"
    with np.load(old) as a:
        meta = json.loads(a["entembed_meta"].tobytes())
    new = upgraded(dict(meta))
    assert new["format_version"] == 2 and new["constant_columns"] == []
    assert new["params"]["test_id_columns"] is False  # 0.1.0's kept every column
    assert new["params"]["learning_rate_schedule"] == "constant"
    assert "remainder" not in new["params"]  # a predictor's parameter it is not
    assert upgraded(new) == new  # the current version needs no step


def test_saved_file_keeps_the_format_of_entembed_0_1(request, tmp_path):
    # A file written today has the same array names as one written by 0.1.0,
    # and the same metadata but for new parameters and new entries (the
    # cross-fitting a fit did: none, as 0.1.0's cv=None did).
    old = request.path.parent / "data" / "embedder_format1.npz"
    embedder = entembed.load(old)
    embedder.save(tmp_path / "new.npz")
    with np.load(old) as a, np.load(tmp_path / "new.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        meta_a = json.loads(a["entembed_meta"].tobytes())
        meta_b = json.loads(b["entembed_meta"].tobytes())
    assert [k for k in meta_b if k not in NEW_ENTRIES] == list(meta_a)
    assert meta_b["params"] == {**meta_a["params"], **NEW_PARAMETERS}
    # format 2: the same, with every parameter and entry stored
    assert meta_a["format_version"] == 1 and meta_b["format_version"] == 2
    assert {**meta_a, "params": None, **NEW_ENTRIES, "format_version": 2} == {
        **meta_b,
        "params": None,
    }


def test_save_refuses_objects_that_are_not_registered(tmp_path):
    from entembed import CategoryVocabulary
    from entembed._persistence import save

    vocabulary = CategoryVocabulary().fit(pd.DataFrame({"a": ["x"]}))
    with pytest.raises(
        TypeError, match=r"CategoryVocabulary cannot be saved in entembed's format"
    ):
        save(vocabulary, tmp_path / "v.npz")
    assert not (tmp_path / "v.npz").exists()


# ------------------------------------------------------- untrusted files
INVALID = r"is not a valid entembed model file: "


def _members(path) -> dict:
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}


def _write_members(path, members, raw=None):
    """An archive of ``members`` (arrays), plus ``raw`` name -> .npy bytes."""
    with open(path, "wb") as f:
        np.savez(f, **members)
    if raw:
        with zipfile.ZipFile(path, "a") as archive:
            for name, data in raw.items():
                archive.writestr(name, data)


def _npy_header(descr, shape) -> bytes:
    buffer = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.npz"
    X, y = _data(n=60)
    EntityEmbedder(**FAST).fit(X, y).save(path)
    return path


def test_load_refuses_dtypes_outside_the_whitelist(model_file, tmp_path):
    members = _members(model_file)
    path = tmp_path / "bad.npz"
    for descr, reason in [
        ("|O", r"member 'table_0.npy' has dtype '\|O', not a number type"),
        ([("a", "<f8")], r"member 'table_0.npy' has dtype '\|V8', not a number type"),
        (("<f8", (4,)), r"member 'table_0.npy' has dtype '\|V32', not a number type"),
    ]:
        others = {k: v for k, v in members.items() if k != "table_0"}
        _write_members(path, others, {"table_0.npy": _npy_header(descr, (2,))})
        with pytest.raises(ValueError, match=INVALID + reason):
            entembed.load(path)


def test_load_refuses_encrypted_members(model_file, tmp_path):
    # Found by the byte fuzz: zipfile raised RuntimeError asking for a password.
    data = bytearray(model_file.read_bytes())
    central = data.index(b"PK\x01\x02")  # first central directory record
    data[central + 8] |= 0x1  # general purpose flag: encrypted
    name = zipfile.ZipFile(io.BytesIO(bytes(data))).infolist()[0].filename
    path = tmp_path / "encrypted.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=INVALID + f"member '{name}' is encrypted"):
        entembed.load(path)


def _peak_memory(function):
    """Peak bytes Python allocates while ``function`` runs: the lower of two
    runs, since another thread or a first-call import can allocate in the
    same window; an allocation the function itself makes shows in both."""
    peaks = []
    for _ in range(2):
        tracemalloc.start()
        try:
            function()
        finally:
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
    return min(peaks)


def test_load_checks_declared_sizes_before_allocating(model_file, tmp_path):
    # A few hundred bytes that ask for 8 TB: refused before any allocation.
    path = tmp_path / "bomb.npz"
    members = {k: v for k, v in _members(model_file).items() if k != "table_0"}
    _write_members(path, members, {"table_0.npy": _npy_header("<f8", (10**12,))})

    def load():
        with pytest.raises(ValueError, match=r"declares shape \(1000000000000,\)"):
            entembed.load(path)

    assert _peak_memory(load) < 50 * 2**20


def test_load_refuses_members_it_does_not_use(model_file, tmp_path):
    path = tmp_path / "extra.npz"
    _write_members(path, {**_members(model_file), "payload": np.zeros(3)})
    with pytest.raises(
        ValueError, match=r"members the model does not use: \['payload'\]"
    ):
        entembed.load(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("notes.txt", b"hello")
    with pytest.raises(ValueError, match=r"member 'notes.txt' is not an array"):
        entembed.load(path)


def test_load_bounds_the_metadata(model_file, tmp_path, monkeypatch):
    path = tmp_path / "deep.npz"
    deep = '{"format": "entembed", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    members = {
        **_members(model_file),
        "entembed_meta": np.frombuffer(deep.encode(), np.uint8),
    }
    _write_members(path, members)
    with pytest.raises(ValueError, match=INVALID + "its metadata is nested too deeply"):
        entembed.load(path)
    monkeypatch.setattr(entembed._persistence, "_MAX_META_BYTES", 100)
    with pytest.raises(ValueError, match=r"not a JSON document of bounded size"):
        entembed.load(model_file)


def test_load_says_what_a_path_is_when_it_is_no_model(
    model_file, tmp_path, monkeypatch
):
    npy = tmp_path / "table.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(ValueError, match=INVALID + r"it is a single .npy array"):
        entembed.load(npy)
    with pytest.raises(IsADirectoryError, match=r"is a directory; pass the model file"):
        entembed.load(tmp_path)
    with pytest.raises(FileNotFoundError):
        entembed.load(tmp_path / "missing.npz")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(model_file))

    monkeypatch.setattr(entembed._persistence, "open", refuse, raising=False)
    with pytest.raises(PermissionError, match=r"Permission denied"):
        entembed.load(model_file)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m, a: a["table_0"].__setitem__((0, 0), np.nan), r"NaN or infinite"),
        (
            lambda m, a: a.__setitem__("layer_0_weight", a["layer_0_weight"][:, 1:]),
            r"layer 0 \(linear\) has weight",
        ),
        (lambda m, a: m["params"].update(dropout=5), r"'dropout' parameter"),
        (lambda m, a: m.update(task="binary"), r"output scaling disagrees with task"),
        (lambda m, a: m.update(numeric_columns=[]), r"numeric scaling disagrees"),
        (lambda m, a: m.update(categorical_columns=[1, 2]), r"not strings"),
    ],
    ids=["nan-weight", "layer-shape", "parameter", "task", "numeric", "columns"],
)
def test_load_validates_the_restored_state(model_file, tmp_path, change, message):
    arrays = _members(model_file)
    arrays = {k: np.array(v) for k, v in arrays.items()}
    meta = json.loads(arrays["entembed_meta"].tobytes())
    change(meta, arrays)
    arrays["entembed_meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    path = tmp_path / "changed.npz"
    _write_members(path, arrays)
    with pytest.raises(ValueError, match=INVALID + r".*" + message):
        entembed.load(path)


def _load_or_clean_error(path, reference, *, equal=True):
    """A file loads as the reference model (``equal``) or as a model that
    serves, or raises the one clean error."""
    try:
        loaded = entembed.load(path)
    except ValueError as exc:
        assert str(path) in str(exc)
        return
    X, _ = _data(n=20)
    with warnings.catch_warnings():
        # Edited metadata may well describe another model, which serves other
        # features, with its own warnings; bytes cannot change unnoticed.
        warnings.simplefilter("ignore")
        features = loaded.transform(X)
    if equal:
        np.testing.assert_array_equal(features, reference.transform(X))
    else:
        assert features.shape[0] == len(X)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_load_fuzzed_bytes_load_equal_or_fail_cleanly(model_file, tmp_path, data):
    reference = entembed.load(model_file)
    original = model_file.read_bytes()
    edit = data.draw(st.sampled_from(["flip", "truncate", "splice"]))
    where = data.draw(st.integers(0, len(original) - 1))
    if edit == "flip":
        corrupted = bytearray(original)
        corrupted[where] ^= data.draw(st.integers(1, 255))
    elif edit == "truncate":
        corrupted = bytearray(original[:where])
    else:
        corrupted = bytearray(original)
        corrupted[where : where + 8] = data.draw(st.binary(min_size=1, max_size=8))
    path = tmp_path / "fuzzed.npz"
    path.write_bytes(bytes(corrupted))
    peak = _peak_memory(lambda: _load_or_clean_error(path, reference))
    assert peak < 20 * len(original) + 10 * 2**20


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 10**6)
    | st.floats()
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_load_fuzzed_metadata_loads_equal_or_fails_cleanly(model_file, tmp_path, data):
    reference = entembed.load(model_file)
    arrays = _members(model_file)
    meta = json.loads(arrays["entembed_meta"].tobytes())
    # Replace one value somewhere in the metadata tree.
    node = meta
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = data.draw(st.sampled_from(keys))
        child = node[key]
        descend = isinstance(child, (dict, list)) and len(child) > 0
        if not descend or data.draw(st.booleans()):
            node[key] = data.draw(json_values)
            break
        node = child
    arrays["entembed_meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    path = tmp_path / "fuzzed.npz"
    _write_members(path, arrays)
    # A valid edit (another category, another width) is another valid model.
    _load_or_clean_error(path, reference, equal=False)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_load_fuzzed_npy_headers_load_equal_or_fail_cleanly(model_file, tmp_path, data):
    # Headers rewritten with a valid checksum: what the file declares is checked.
    reference = entembed.load(model_file)
    members = _members(model_file)
    name = data.draw(st.sampled_from(sorted(members)))
    original = np.ascontiguousarray(members.pop(name))
    descr = data.draw(
        st.sampled_from(
            ["<f4", "<f8", "<i8", ">i4", "|u1", "|O", "<U3", "|V8", "<M8[ns]"]
        )
        | st.just(original.dtype.str)
    )
    shape = data.draw(
        st.lists(st.integers(0, 2**40), max_size=3).map(tuple) | st.just(original.shape)
    )
    header = _npy_header(descr, shape)
    path = tmp_path / "fuzzed.npz"
    _write_members(path, members, {f"{name}.npy": header + original.tobytes()})
    assert _peak_memory(lambda: _load_or_clean_error(path, reference)) < 50 * 2**20


# ----------------------------------------------------------- atomic writes
def _fail_midway(exception):
    def savez(f, **arrays):
        f.write(b"PK\x03\x04 half a model")
        raise exception

    return savez


@pytest.mark.parametrize("exception", [OSError("disk full"), KeyboardInterrupt()])
def test_save_failing_midway_leaves_the_previous_file(
    model_file, tmp_path, monkeypatch, exception
):
    path = tmp_path / "model.npz"
    path.write_bytes(model_file.read_bytes())
    model = entembed.load(path)
    monkeypatch.setattr(np, "savez", _fail_midway(exception))
    with pytest.raises(type(exception)):
        model.save(path)
    assert path.read_bytes() == model_file.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


@pytest.mark.slow
def test_save_killed_midway_leaves_the_previous_file(model_file, tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(model_file.read_bytes())
    script = textwrap.dedent(f"""
        import os, signal
        import numpy as np
        import entembed

        model = entembed.load({str(path)!r})
        def savez(f, **arrays):
            f.write(b"PK half a model")
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        np.savez = savez
        model.save({str(path)!r})
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert result.returncode == -signal.SIGKILL
    assert path.read_bytes() == model_file.read_bytes()
    entembed.load(path)


def test_save_refuses_a_folder_and_a_url(model_file, tmp_path):
    model = entembed.load(model_file)
    with pytest.raises(IsADirectoryError, match=r"is a directory; pass a file name"):
        model.save(tmp_path)
    with pytest.raises(ValueError, match=r"'s3://bucket/model.npz' is a URL"):
        model.save("s3://bucket/model.npz")
    with pytest.raises(FileNotFoundError, match=r"the folder .*missing does not exist"):
        model.save(tmp_path / "missing" / "model.npz")
