"""String features: a category's text cut into hashed pieces, whose learned
vectors compose each category's vector and give new strings one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import entembed
from entembed import EntityEmbedder, EntityEmbeddingRegressor
from entembed._modules import EntityEmbeddingNetwork
from entembed._string_features import (
    AUTO_MIN_CATEGORIES,
    MAX_CHARS,
    PIECE_WIDTH,
    CodePieces,
    StringHashing,
    normalise,
    piece_means,
)
from entembed._vocabulary import UNKNOWN_CODE

TITLES = ["police officer", "firefighter", "nurse", "teacher", "accountant"]
PAY = dict(zip(TITLES, [60.0, 55.0, 70.0, 50.0, 65.0], strict=True))
FAST = {
    "max_epochs": 3,
    "hidden_units": (16,),
    "batch_size": 64,
    "random_state": 0,
    "validation_fraction": 0,
}


def job_titles(n: int = 600, seed: int = 0):
    """Job titles written many ways (case, grade suffixes), pay by title."""
    rng = np.random.default_rng(seed)
    base = rng.choice(TITLES, n)
    suffix = rng.choice(["", " i", " ii", " iii", " 3", " sr"], n)
    upper = rng.random(n) < 0.3
    titles = [
        (t + s).upper() if u else t + s
        for t, s, u in zip(base, suffix, upper, strict=True)
    ]
    y = np.array([PAY[t] for t in base]) + rng.normal(0, 1, n)
    return pd.DataFrame({"title": titles}), y


# ----------------------------------------------------------------- hashing
def test_hashing_is_pinned_across_releases():
    # A saved model's piece vectors are indexed by these ids: they may never
    # change (no Python hash(), which is salted per process).
    ids, starts = StringHashing(ngram_range=(3, 5), n_buckets=1_000).pieces(
        ["abc", "ab"]
    )
    assert starts.tolist() == [0, 6, 9]
    assert ids.tolist() == [485, 100, 517, 600, 763, 996, 485, 788, 967]
    ids, starts = StringHashing("word").pieces(["Senior nurse, night", "nurse"])
    assert starts.tolist() == [0, 3, 4]
    assert ids.tolist() == [3005, 6022, 4211, 6022]


def test_strings_that_differ_in_case_and_spaces_share_every_piece():
    hashing = StringHashing()
    ids, starts = hashing.pieces(["Police  Officer III", "POLICE OFFICER iii"])
    first, second = ids[starts[0] : starts[1]], ids[starts[1] : starts[2]]
    assert len(first) > 0 and np.array_equal(first, second)


def test_char_pieces_are_the_n_grams_of_the_padded_text():
    # " ab " (padded): 2 three-grams and 1 four-gram for ngram_range (3, 4).
    _ids, starts = StringHashing(ngram_range=(3, 4)).pieces(["ab", "", "a"])
    assert np.diff(starts).tolist() == [3, 0, 1]


def test_word_pieces_are_the_tokens():
    ids, starts = StringHashing("word").pieces(["Senior nurse, night", "nurse"])
    assert np.diff(starts).tolist() == [3, 1]
    assert ids[1] == ids[3]  # "nurse" in both


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=8))
def test_every_string_gets_its_own_row_of_pieces(texts):
    ids, starts = StringHashing(n_buckets=97).pieces(texts)
    assert len(starts) == len(texts) + 1 and starts[0] == 0
    assert (np.diff(starts) >= 0).all() and starts[-1] == len(ids)
    assert ((ids >= 0) & (ids < 97)).all()
    for i, text in enumerate(texts):  # each string's pieces alone are the same
        alone, _bounds = StringHashing(n_buckets=97).pieces([text])
        assert np.array_equal(alone, ids[starts[i] : starts[i + 1]])


def test_long_strings_are_cut_and_bad_bytes_replaced():
    # Documented behaviour: the first MAX_CHARS characters count, so a
    # 10,000-character answer costs what a MAX_CHARS one does; bytes that
    # are not UTF-8 read as U+FFFD; lone surrogates are replaced too.
    hashing = StringHashing()
    long_ids, long_starts = hashing.pieces(["x" * 10_000, "x" * MAX_CHARS])
    assert np.array_equal(
        long_ids[: long_starts[1]], long_ids[long_starts[1] : long_starts[2]]
    )
    assert normalise(b"caf\xe9") == "caf\ufffd"
    _ids, starts = hashing.pieces([b"\xff\xfeabc", "caf\udcff", "\x00"])
    assert len(starts) == 4


def test_hashing_refuses_bad_settings():
    with pytest.raises(ValueError, match=r"kind must be one of \('char', 'word'\)"):
        StringHashing("bytes")
    with pytest.raises(ValueError, match=r"ngram_range must be \(low, high\)"):
        StringHashing(ngram_range=(4, 2))
    with pytest.raises(ValueError, match="n_buckets must be >= 1, got 0"):
        StringHashing(n_buckets=0)


def test_piece_means_are_the_mean_of_each_rows_piece_vectors():
    table = np.arange(20, dtype=np.float32).reshape(10, 2)
    ids, starts = np.array([1, 3, 3, 9]), np.array([0, 3, 3, 4])
    means = piece_means(table, ids, starts)
    assert np.allclose(means[0], table[[1, 3, 3]].mean(axis=0))
    assert np.allclose(means[1], 0)  # no pieces: nothing added
    assert np.allclose(means[2], table[9])


# ----------------------------------------------------------------- network
def _network():
    torch.manual_seed(0)
    categories = np.array(["police officer", "POLICE  OFFICER", "nurse"], object)
    pieces = CodePieces.of_categories(StringHashing(n_buckets=64), categories)
    network = EntityEmbeddingNetwork([5, 3], [4, 2], pieces=[pieces, None])
    return network, pieces


def test_the_composed_vector_is_its_own_plus_its_pieces_mean():
    network, pieces = _network()
    codes = torch.tensor([[2, 1], [3, 2], [4, 0], [UNKNOWN_CODE, 1]])
    with torch.no_grad():
        x = network._shrunk(codes) + network.pieces(codes)
    own = network.tables()[0].detach().numpy()
    bag = network.pieces.weights()[0].detach().numpy()
    for row, code in enumerate(codes[:, 0].tolist()):
        mine = pieces.ids[pieces.starts[code] : pieces.starts[code + 1]]
        expected = own[code] + (bag[mine].mean(axis=0) if len(mine) else 0)
        assert np.allclose(x[row, :4].numpy(), expected, atol=1e-6)
    # strings with the same pieces get the same composed part
    assert np.allclose((x[0, :4] - x[1, :4]).numpy(), own[2] - own[3], atol=1e-6)
    # the unknown code has no pieces: its own vector alone
    assert np.allclose(x[3, :4].numpy(), own[UNKNOWN_CODE], atol=1e-6)


def test_a_wide_columns_pieces_add_to_its_first_dimensions():
    categories = np.array(["police officer", "nurse"], object)
    pieces = CodePieces.of_categories(StringHashing(n_buckets=64), categories)
    network = EntityEmbeddingNetwork([4], [PIECE_WIDTH + 8], pieces=[pieces])
    assert network.pieces.weights()[0].shape == (64, PIECE_WIDTH)
    codes = torch.tensor([[2], [3]])
    with torch.no_grad():
        added = (network._shrunk(codes) + network.pieces(codes)).numpy()
        own = network._shrunk(codes).numpy()
    assert not np.allclose(added[:, :PIECE_WIDTH], own[:, :PIECE_WIDTH])
    assert np.array_equal(added[:, PIECE_WIDTH:], own[:, PIECE_WIDTH:])
    served = network.to_numpy()
    assert np.allclose(served.embed(codes.numpy()), added, atol=1e-6)
    unseen = served.unseen_vectors(0, *StringHashing(n_buckets=64).pieces(["nurse"]))
    assert np.allclose(
        unseen[0, PIECE_WIDTH:], served.tables[0][UNKNOWN_CODE, PIECE_WIDTH:]
    )


def test_numpy_serving_equals_the_networks_lookup():
    network, _ = _network()
    codes = torch.tensor([[2, 1], [3, 2], [4, 0], [0, 1]])
    with torch.no_grad():
        expected = (network._shrunk(codes) + network.pieces(codes)).numpy()
    served = network.to_numpy()
    assert np.allclose(served.embed(codes.numpy()), expected, atol=1e-6)
    assert served.pieces[1] is None and served.pieces[0].shape == (64, 4)


def test_the_piece_vectors_train_with_the_tables_and_sparse_gradients():
    network, _ = _network()
    network.set_sparse_gradients(True)
    network(torch.tensor([[2, 1], [4, 0]])).sum().backward()
    weight = network.pieces.bags[0].weight
    assert weight.grad.is_sparse
    # plain SGD, as the tables (and DDP averages them as the tables)
    assert any(p is weight for p in network.table_parameters())


# ------------------------------------------------------------------ facade
def test_auto_cuts_text_columns_of_many_categories_only_free_text_by_words():
    rng = np.random.default_rng(0)
    n = 3_000
    X = pd.DataFrame(
        {
            "many": ["".join(rng.choice(list("abcdefgh"), 3)) for _ in range(n)],
            "few": rng.choice(["a", "b", "c"], n),
            "numbers": rng.integers(0, AUTO_MIN_CATEGORIES * 2, n),
        }
    )
    words = np.array(["left", "right", "wing", "engine"])
    X["notes"] = [" ".join(rng.choice(words, 4)) for _ in range(n)]
    X["ids"] = [f"store_{i}" for i in rng.integers(0, AUTO_MIN_CATEGORIES * 2, n)]
    columns = ["many", "few", "numbers", "notes", "ids"]
    embedder = EntityEmbedder(categorical_columns=columns, **FAST)
    embedder.fit(X, rng.normal(size=n))
    assert list(embedder.string_features_) == ["many", "notes"]
    assert embedder.string_features_["many"] == StringHashing("char", (3, 3), 16_384)
    # free text (4 words or more on average): word tokens; numbers around
    # one fixed text ("store_17") are identifiers, not text: not cut
    assert embedder.string_features_["notes"].kind == "word"


def test_an_unseen_string_is_composed_from_its_pieces():
    X, y = job_titles()
    model = EntityEmbeddingRegressor(string_features="char", **FAST).fit(X, y)
    new = pd.DataFrame({"title": ["Police Officer IV", "NURSE 9", None]})
    vectors = model.transform_embeddings(new)
    unknown = model.network_.tables[0][UNKNOWN_CODE]
    assert not np.allclose(vectors[0], unknown)
    hashing = model.string_features_["title"]
    ids, starts = hashing.pieces(["Police Officer IV"])
    expected = unknown + piece_means(model.network_.pieces[0], ids, starts)[0]
    assert np.allclose(vectors[0], expected, atol=1e-6)
    assert np.allclose(vectors[2], model.network_.tables[0][1])  # missing
    # served_vector and predict agree with transform
    assert np.allclose(model.served_vector("title", "Police Officer IV"), vectors[0])
    plain = EntityEmbeddingRegressor(string_features="none", **FAST).fit(X, y)
    assert np.allclose(
        plain.transform_embeddings(new)[:2], plain.network_.tables[0][UNKNOWN_CODE]
    )


def test_new_spellings_predict_near_their_title():
    X, y = job_titles(2_000)
    params = {**FAST, "max_epochs": 10}
    model = EntityEmbeddingRegressor(string_features="char", **params).fit(X, y)
    plain = EntityEmbeddingRegressor(string_features="none", **params).fit(X, y)
    new = pd.DataFrame({"title": ["Nurse IV", "TEACHER 7", "nurse - night"]})
    truth = np.array([PAY["nurse"], PAY["teacher"], PAY["nurse"]])
    ours = np.abs(model.predict(new) - truth).mean()
    theirs = np.abs(plain.predict(new) - truth).mean()
    assert ours < 0.7 * theirs


def test_most_similar_and_the_map_take_unseen_strings():
    pytest.importorskip("matplotlib")
    from entembed import embedding_map

    X, y = job_titles()
    model = EntityEmbedder(string_features="char", **FAST).fit(X, y)
    near = model.most_similar("title", "Police Officer 9", k=3)
    assert len(near) == 3 and near.index.str.lower().str.contains("police").all()
    ax = embedding_map(model, "title", n_labels=5, strings=["Police Officer 9"])
    assert "Police Officer 9" in [t.get_text() for t in ax.texts]
    plain = EntityEmbedder(string_features="none", **FAST).fit(X, y)
    with pytest.raises(ValueError, match="Fit with string_features='char'"):
        plain.most_similar("title", "Police Officer 9")


def test_same_seed_same_vectors():
    X, y = job_titles()
    first = EntityEmbedder(string_features="char", **FAST).fit(X, y)
    second = EntityEmbedder(string_features="char", **FAST).fit(X, y)
    assert np.array_equal(first.transform(X), second.transform(X))
    assert np.array_equal(first.network_.pieces[0], second.network_.pieces[0])


def test_the_unknown_vector_still_trains():
    # Rows of rare titles (min_frequency) read the unknown code in training,
    # so its own vector moves from its start.
    X, y = job_titles()
    X.loc[:40, "title"] = [f"rare title {i}" for i in range(41)]
    start = EntityEmbedder(string_features="char", **{**FAST, "max_epochs": 1})
    model = EntityEmbedder(string_features="char", min_frequency=2, **FAST)
    model.fit(X, y)
    torch.manual_seed(0)
    start.set_params(max_epochs=1, learning_rate=1e-9, table_learning_rate=1e-9)
    start.fit(X, y)
    moved = model.network_.tables[0][UNKNOWN_CODE]
    assert np.linalg.norm(moved) > 10 * np.linalg.norm(
        start.network_.tables[0][UNKNOWN_CODE]
    )


def test_a_cross_fitted_fold_composes_the_categories_it_never_saw():
    from entembed._cross_fit import as_the_fold_serves

    X, y = job_titles()
    model = EntityEmbedder(string_features="char", cv=None, **FAST).fit(X, y)
    network = model.network_
    categories = model.vocabulary_.categories_[0]
    pieces = CodePieces.of_categories(model.string_features_["title"], categories)
    seen = np.ones(len(network.tables[0]), bool)
    seen[5] = False
    served = as_the_fold_serves(network, [seen], [pieces])
    expected = network.unseen_vectors(0, *pieces.rows(np.array([5])))[0]
    assert np.allclose(served.tables[0][5], expected)
    assert not np.allclose(served.tables[0][5], network.tables[0][UNKNOWN_CODE])
    assert np.array_equal(served.tables[0][seen], network.tables[0][seen])


@pytest.mark.parametrize(
    "values, new",
    [
        ([""] * 100, ["", "new"]),  # no pieces at all: own vectors alone
        ([b"\xff\xfe" + bytes([i % 7]) for i in range(100)], [b"\xff\x00zz"]),
        (["x" * 10_000 + str(i % 5) for i in range(100)], ["y" * 10_000]),
    ],
    ids=["only-empty-strings", "non-utf8-bytes", "10000-characters"],
)
def test_bad_strings_fit_and_serve_with_bounded_pieces(values, new):
    # Documented behaviour, not an error: empty strings have no pieces,
    # invalid UTF-8 bytes read as U+FFFD, and a string counts its first
    # MAX_CHARS characters, so a 10,000-character one costs no more.
    model = EntityEmbeddingRegressor(string_features="char", **FAST)
    model.fit(pd.DataFrame({"text": values}), np.arange(100.0))
    predicted = model.predict(pd.DataFrame({"text": new}))
    assert predicted.shape == (len(new),) and np.isfinite(predicted).all()
    hashing = model.string_features_["text"]
    _, starts = hashing.pieces(values)
    assert np.diff(starts).max() <= MAX_CHARS + 2  # 3-grams of the padded text


def test_saved_and_loaded_models_compose_unseen_strings_alike(tmp_path):
    X, y = job_titles()
    model = EntityEmbedder(string_features="char", string_buckets=512, **FAST)
    model.fit(X, y)
    model.save(tmp_path / "model.npz")
    loaded = entembed.load(tmp_path / "model.npz")
    new = pd.DataFrame({"title": ["Police Officer IV", "nurse", "chef"]})
    assert np.array_equal(loaded.transform(new), model.transform(new))
    assert loaded.string_features_ == model.string_features_


def test_dask_transform_composes_unseen_strings_as_pandas_does():
    dd = pytest.importorskip("dask.dataframe")
    X, y = job_titles()
    model = EntityEmbedder(string_features="char", **FAST).fit(X, y)
    new = pd.DataFrame({"title": ["Police Officer IV", "nurse", "chef"] * 5})
    lazy = entembed.transform_dask(model, dd.from_pandas(new, npartitions=3))
    assert np.allclose(lazy.compute().to_numpy(), model.transform(new))


def test_a_streamed_fit_cuts_strings_and_composes_unseen_ones():
    dd = pytest.importorskip("dask.dataframe")
    X, y = job_titles()
    rows = dd.from_pandas(X.assign(pay=y), npartitions=3)
    model = EntityEmbedder(string_features="char", cv=3, **FAST)
    model.fit(rows[["title"]], rows["pay"])
    assert list(model.string_features_) == ["title"]
    assert model.network_.pieces[0] is not None
    vector = model.transform(pd.DataFrame({"title": ["Police Officer IV"]}))[0]
    assert not np.allclose(vector, model.network_.tables[0][UNKNOWN_CODE])


def test_string_features_errors_name_the_column_and_the_fix():
    X, y = job_titles(100)
    with pytest.raises(ValueError, match=r"string_features names \['job'\], which"):
        EntityEmbedder(string_features={"job": "char"}, **FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"string_features gives \{'title': 'ngram'"):
        EntityEmbedder(string_features={"title": "ngram"}, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="string_ngram_range must be a pair"):
        EntityEmbedder(string_ngram_range=(3,), string_features="char", **FAST).fit(
            X, y
        )


def test_a_warm_start_continues_the_own_and_piece_vectors():
    # The second fit starts where the first ended: its first epoch's loss
    # is the first fit's last, not a fresh network's.
    X, y = job_titles()
    params = {**FAST, "validation_fraction": 0.2}
    model = EntityEmbeddingRegressor(string_features="char", **params).fit(X, y)
    fresh_loss = model.history_["train_loss"].iloc[0]
    model.set_params(warm_start=True, max_epochs=1, learning_rate=1e-9)
    model.set_params(table_learning_rate=1e-9)
    before = model.predict(X)
    model.fit(X, y)
    assert np.allclose(model.predict(X), before, atol=1e-3)
    assert model.history_["train_loss"].iloc[-1] < fresh_loss / 2


def test_an_estimator_pickled_before_string_features_still_serves():
    from entembed._numpy_network import NumpyNetwork

    X, y = job_titles(200)
    model = EntityEmbedder(string_features="none", **FAST).fit(X, y)
    state = dict(model.__getstate__())
    del state["string_features_"]
    network_state = model.network_.__getstate__()
    del network_state["pieces"]
    network = NumpyNetwork.__new__(NumpyNetwork)
    network.__setstate__(network_state)
    restored = EntityEmbedder.__new__(EntityEmbedder)
    restored.__setstate__({**state, "network_": network})
    assert restored.string_features_ == {} and restored.network_.pieces is None
    assert np.array_equal(restored.transform(X), model.transform(X))


@pytest.mark.parametrize("streamed", [False, True], ids=["in-memory", "streamed"])
def test_a_column_served_constant_serves_its_vector_to_unseen_strings_too(streamed):
    # A column whose vectors fail the folds' test serves one vector to every
    # row: a string never seen in fit gets it too, not a composition.
    rng = np.random.default_rng(0)
    n = 3_000
    X = pd.DataFrame(
        {
            "city": rng.choice(["oslo", "rome", "lima"], n),
            "id": [f"u{k}" for k in rng.integers(0, 1_000, n)],
        }
    )
    y = X["city"].map({"oslo": 0.0, "rome": 1.0, "lima": 2.0}) + rng.normal(0, 1, n)
    params = {**FAST, "validation_fraction": 0.1, "max_epochs": 5}
    embedder = EntityEmbedder(string_features={"id": "char"}, **params)
    if streamed:
        dd = pytest.importorskip("dask.dataframe")
        rows = dd.from_pandas(X.assign(y=y), npartitions=3)
        embedder.fit(rows[["city", "id"]], rows["y"])
    else:
        embedder.fit(X, y)
    assert embedder.constant_columns_ == ["id"]
    assert embedder.network_.pieces[1] is None
    served = embedder.transform(pd.DataFrame({"city": ["oslo"] * 2, "id": ["u1", "x"]}))
    assert np.array_equal(served[0], served[1])
