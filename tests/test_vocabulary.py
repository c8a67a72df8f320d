import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from entembed import MISSING_CODE, UNKNOWN_CODE, CategoryVocabulary, EntityEmbedder
from entembed._vocabulary import _as_kind, _kind

# --------------------------------------------------------------- properties
categories = st.one_of(
    st.sampled_from(["a", "b", "c", "1", "", "Oslo", "é"]),
    st.integers(-3, 3),
)
missing = st.sampled_from([None, np.nan, pd.NA])
cells = st.one_of(categories, missing)


def _frame(rows, n_columns):
    data = {f"c{j}": [row[j] for row in rows] for j in range(n_columns)}
    return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in data.items()})


tables = st.integers(1, 3).flatmap(
    lambda k: st.tuples(
        st.just(k), st.lists(st.tuples(*[cells] * k), min_size=1, max_size=40)
    )
)
fast = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@fast
@given(tables)
def test_vocabulary_round_trip_of_seen_values(table):
    k, rows = table
    X = _frame(rows, k)
    vocabulary = CategoryVocabulary().fit(X)
    codes = vocabulary.transform(X)
    assert codes.shape == X.shape
    decoded = vocabulary.inverse_transform(codes)
    for j in range(k):
        for value, back in zip(X.iloc[:, j], decoded[:, j], strict=True):
            if pd.isna(value):
                assert pd.isna(back)
            else:
                assert back == value and type(back) is type(value)


# New values by design: the drift warnings are expected here.
@pytest.mark.filterwarnings("ignore:Column .* (values at transform|rows have categ)")
@fast
@given(
    tables,
    st.lists(
        st.one_of(categories, missing, st.text(max_size=3)), min_size=0, max_size=30
    ),
)
def test_vocabulary_unseen_go_to_unknown_and_missing_to_one(table, new_values):
    k, rows = table
    X = _frame(rows, k)
    vocabulary = CategoryVocabulary().fit(X)
    seen = set(X.iloc[:, 0].dropna().map(lambda v: (type(v), v)))
    X_new = pd.DataFrame({c: pd.Series(new_values, dtype=object) for c in X.columns})
    codes = vocabulary.transform(X_new)
    assert codes.shape == (len(new_values), k)
    # Drift: a value of a kind fit never saw, where fit saw one kind only, is
    # read as that kind (1 as "1"); 1 and "1" stay apart when fit saw both.
    kinds = {_kind(s) for _, s in seen}
    for value, code in zip(new_values, codes[:, 0], strict=True):
        if pd.isna(value):
            assert code == MISSING_CODE
            continue
        given = value
        if len(kinds) == 1 and _kind(value) not in kinds:
            converted = _as_kind(value, next(iter(kinds)))
            value = given if converted is None else converted
        if (type(value), value) in seen:
            assert code >= 2
        elif not any(v == s for _, s in seen for v in (value, given)):
            assert code == UNKNOWN_CODE


@fast
@given(tables, st.randoms(use_true_random=False))
def test_vocabulary_independent_of_column_order_and_index(table, random):
    k, rows = table
    X = _frame(rows, k)
    vocabulary = CategoryVocabulary().fit(X)
    expected = vocabulary.transform(X)

    columns = list(X.columns)
    random.shuffle(columns)
    index = list(range(len(X)))
    random.shuffle(index)
    X_moved = X[columns].set_axis(pd.Index(index) * 7 - 3, axis=0)
    np.testing.assert_array_equal(vocabulary.transform(X_moved), expected)
    # and a vocabulary fitted on reordered columns learns the same categories
    other = CategoryVocabulary().fit(X_moved)
    for name, cats in zip(other.feature_names_in_, other.categories_, strict=True):
        j = list(X.columns).index(name)
        assert list(cats) == list(vocabulary.categories_[j])


# ------------------------------------------------------------- behaviours
def test_vocabulary_reserved_codes_and_sorted_order():
    X = pd.DataFrame({"city": ["Oslo", "Lima", None, "Oslo", np.nan]})
    vocabulary = CategoryVocabulary().fit(X)
    assert vocabulary.categories_[0].tolist() == ["Lima", "Oslo"]
    assert vocabulary.cardinalities_.tolist() == [4]
    codes = vocabulary.transform(pd.DataFrame({"city": ["Lima", "Oslo", "Rome", None]}))
    assert codes.dtype == np.int32
    assert codes.ravel().tolist() == [2, 3, 0, 1]


def test_vocabulary_numeric_value_and_its_string_stay_distinct():
    X = pd.DataFrame({"c": pd.Series([1, "1", 1, "1", "a"], dtype=object)})
    vocabulary = CategoryVocabulary().fit(X)
    assert vocabulary.categories_[0].tolist() == [1, "1", "a"]
    assert vocabulary.transform(X).ravel().tolist() == [2, 3, 2, 3, 4]


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(["b", "a", None, "b"], dtype=object),
        pd.Series(["b", "a", None, "b"], dtype="string"),
        pd.Series(["b", "a", None, "b"], dtype="category"),
        pd.Series([2, 1, None, 2], dtype="Int64"),
        pd.Series([2.0, 1.0, np.nan, 2.0]),
        pd.Series([True, False, None, True], dtype="boolean"),
        pd.Series(pd.to_datetime(["2021-01-02", "2021-01-01", None, "2021-01-02"])),
    ],
    ids=["object", "string", "category", "Int64", "float", "boolean", "datetime"],
)
def test_vocabulary_accepts_every_dtype(column):
    X = pd.DataFrame({"c": column})
    codes = CategoryVocabulary().fit(X).transform(X)
    assert codes.ravel().tolist() == [3, 2, 1, 3]


def test_vocabulary_categorical_dtype_with_other_categories_at_transform():
    X = pd.DataFrame({"c": pd.Categorical(["x", "y", "x"], categories=["y", "x", "z"])})
    vocabulary = CategoryVocabulary().fit(X)
    assert vocabulary.categories_[0].tolist() == ["x", "y"]  # unused "z" left out
    X_new = pd.DataFrame({"c": pd.Categorical(["q", "y", None], categories=["y", "q"])})
    assert vocabulary.transform(X_new).ravel().tolist() == [0, 3, 1]


def test_vocabulary_numpy_and_polars_input():
    array = np.array([["a", 1], ["b", 2], ["a", 1]], dtype=object)
    vocabulary = CategoryVocabulary().fit(array)
    assert not hasattr(vocabulary, "feature_names_in_")
    np.testing.assert_array_equal(vocabulary.transform(array), [[2, 2], [3, 3], [2, 2]])
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"a": ["x", None, "y"], "b": [1, 2, None]})
    vocabulary = CategoryVocabulary().fit(frame)
    assert vocabulary.feature_names_in_.tolist() == ["a", "b"]
    np.testing.assert_array_equal(vocabulary.transform(frame), [[2, 2], [1, 3], [3, 1]])


def test_vocabulary_min_frequency_and_max_categories():
    X = pd.DataFrame({"c": [*"aaaabbbcc", "d"]})
    by_count = CategoryVocabulary(min_frequency=3).fit(X)
    assert by_count.categories_[0].tolist() == ["a", "b"]
    assert by_count.infrequent_categories_[0].tolist() == ["c", "d"]
    assert by_count.transform(
        pd.DataFrame({"c": ["c", "d", "a"]})
    ).ravel().tolist() == [0, 0, 2]
    by_share = CategoryVocabulary(min_frequency=0.35).fit(X)
    assert by_share.categories_[0].tolist() == ["a"]
    top = CategoryVocabulary(max_categories=2).fit(X)
    assert top.categories_[0].tolist() == ["a", "b"]
    assert top.cardinalities_.tolist() == [4]
    assert CategoryVocabulary().fit(X).infrequent_categories_ == [None]


def test_vocabulary_min_frequency_fraction_of_any_real_type():
    X = pd.DataFrame({"a": ["x"] * 9 + ["y"]})
    for fraction in (0.2, np.float32(0.2), np.float64(0.2)):
        vocabulary = CategoryVocabulary(min_frequency=fraction).fit(X)
        assert vocabulary.categories_[0].tolist() == ["x"], type(fraction)
    # The estimators pass min_frequency through and accept exactly the same.
    for bad in (1.5, 0, np.float32(1.0)):
        with pytest.raises(ValueError, match=r"'min_frequency' parameter of Entity"):
            EntityEmbedder(min_frequency=bad).fit(X, np.arange(10.0))


def test_vocabulary_rare_categories_never_error_as_unknown():
    X = pd.DataFrame({"c": list("aaab")})
    vocabulary = CategoryVocabulary(min_frequency=2, handle_unknown="error").fit(X)
    assert vocabulary.transform(pd.DataFrame({"c": ["b"]})).ravel().tolist() == [0]


def test_vocabulary_one_row_per_input_row_in_order_whatever_the_index():
    X = pd.DataFrame({"c": ["a", "b", "c"]}, index=[5, 5, -1])
    codes = CategoryVocabulary().fit(X).transform(X)
    assert codes.ravel().tolist() == [2, 3, 4]
    empty = CategoryVocabulary().fit(X).transform(X.iloc[:0])
    assert empty.shape == (0, 1)


def test_vocabulary_clone_pickle_and_feature_names_out():
    X = pd.DataFrame({"a": ["x", "y"], "b": [1, 2]})
    vocabulary = CategoryVocabulary(min_frequency=1).fit(X)
    restored = pickle.loads(pickle.dumps(vocabulary))
    np.testing.assert_array_equal(restored.transform(X), vocabulary.transform(X))
    assert clone(vocabulary).get_params() == vocabulary.get_params()
    assert vocabulary.get_feature_names_out().tolist() == ["a", "b"]


def test_vocabulary_set_output_pandas_keeps_index():
    X = pd.DataFrame({"a": ["x", "y"]}, index=[10, 20])
    out = CategoryVocabulary().set_output(transform="pandas").fit(X).transform(X)
    assert list(out.index) == [10, 20] and list(out.columns) == ["a"]


# ----------------------------------------------------------------- errors
def test_vocabulary_error_zero_rows():
    with pytest.raises(ValueError, match=r"0 sample\(s\).*at least one row"):
        CategoryVocabulary().fit(pd.DataFrame({"c": []}))


def test_vocabulary_error_column_missing_at_transform():
    vocabulary = CategoryVocabulary().fit(pd.DataFrame({"city": ["a"], "size": [1]}))
    with pytest.raises(
        ValueError, match=r"Column 'size' was seen in fit but is missing"
    ):
        vocabulary.transform(pd.DataFrame({"city": ["a"]}))


def test_vocabulary_error_duplicate_column_names():
    X = pd.DataFrame([["a", "b"]], columns=["city", "city"])
    with pytest.raises(ValueError, match=r"unique, got duplicates: \['city'\]. Rename"):
        CategoryVocabulary().fit(X)


def test_vocabulary_error_unhashable_values():
    X = pd.DataFrame({"tags": pd.Series([["a"], ["b"]], dtype=object)})
    with pytest.raises(
        TypeError,
        match=r"Column 'tags' contains unhashable values "
        r"\(e.g. \['a'\] of type list\).*map\(str\)",
    ):
        CategoryVocabulary().fit(X)


def test_vocabulary_error_unknown_categories_named():
    vocabulary = CategoryVocabulary(handle_unknown="error").fit(
        pd.DataFrame({"city": ["Lima"]})
    )
    with pytest.raises(
        ValueError,
        match=r"Column 'city' has 2 categories never seen in "
        r"fit \(e.g. 'Oslo', 'Rome'\). Set handle_unknown",
    ):
        vocabulary.transform(pd.DataFrame({"city": ["Oslo", "Lima", "Rome", "Oslo"]}))


def test_vocabulary_error_missing_values_when_refused():
    vocabulary = CategoryVocabulary(handle_missing="error")
    with pytest.raises(
        ValueError,
        match=r"Column 'c' has 1 missing value\(s\) and "
        r"handle_missing='error'",
    ):
        vocabulary.fit(pd.DataFrame({"c": ["a", None]}))
    vocabulary.fit(pd.DataFrame({"c": ["a"]}))
    with pytest.raises(ValueError, match=r"Column 'c' has 2 missing"):
        vocabulary.transform(pd.DataFrame({"c": [None, np.nan]}))


def test_vocabulary_warns_on_identifier_columns():
    X = pd.DataFrame({"user_id": [f"u{i}" for i in range(100)], "city": ["a"] * 100})
    with pytest.warns(
        UserWarning,
        match=r"Column 'user_id' has 100 distinct categories "
        r"in 100 non-missing rows.*min_frequency",
    ) as record:
        CategoryVocabulary().fit(X)
    assert record[0].filename == __file__  # points at the caller's fit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CategoryVocabulary(min_frequency=2).fit(X)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_frequency": 0}, r"'min_frequency' parameter of CategoryVocabulary"),
        ({"min_frequency": 1.5}, r"'min_frequency' parameter"),
        ({"max_categories": 0}, r"'max_categories' parameter"),
        ({"handle_unknown": "drop"}, r"'handle_unknown' parameter .* Got 'drop'"),
        ({"handle_missing": "ignore"}, r"'handle_missing' parameter"),
    ],
)
def test_vocabulary_error_bad_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        CategoryVocabulary(**params).fit(pd.DataFrame({"c": ["a"]}))


def test_vocabulary_error_bad_shapes():
    with pytest.raises(ValueError, match=r"got a pandas Series; use X.to_frame\(\)"):
        CategoryVocabulary().fit(pd.Series(["a"]))
    with pytest.raises(ValueError, match=r"Expected a 2-D table.*X.reshape\(-1, 1\)"):
        CategoryVocabulary().fit(np.array(["a", "b"]))
    vocabulary = CategoryVocabulary().fit(np.array([["a", "b"]]))
    with pytest.raises(
        ValueError,
        match=r"X has 1 features, but CategoryVocabulary is "
        r"expecting 2 features",
    ):
        vocabulary.transform(np.array([["a"]]))
    with pytest.raises(ValueError, match=r"codes outside \[0, 3\)"):
        vocabulary.inverse_transform(np.array([[5, 0]]))
    with pytest.raises(TypeError, match=r"Column names must all be strings"):
        CategoryVocabulary().fit(pd.DataFrame({"a": [1], 2: [3]}))


def test_vocabulary_counts_rows_of_kept_categories():
    X = pd.DataFrame({"c": [*"aaab", None, "c", "c"]})
    vocabulary = CategoryVocabulary(min_frequency=2).fit(X)
    assert vocabulary.categories_[0].tolist() == ["a", "c"]
    assert vocabulary.category_counts_[0].tolist() == [3, 2]


def test_vocabulary_leaves_the_callers_frame_untouched():
    X = pd.DataFrame({0: ["a", "b"], 1: ["c", "d"]}, index=[7, 9])
    vocabulary = CategoryVocabulary().fit(X)
    vocabulary.transform(X)
    assert list(X.columns) == [0, 1] and list(X.index) == [7, 9]


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


# ------------------------------------------------------------------- drift
def test_vocabulary_matches_values_of_another_kind_where_unambiguous():
    text = CategoryVocabulary().fit(pd.DataFrame({"code": ["1", "2", "10"] * 5}))
    with pytest.warns(
        UserWarning,
        match=r"Column 'code' has integer values at transform where fit saw text "
        r"ones; 2 matched fit's categories by value \(e.g. 1 as '1'\)\. Convert "
        r"the column with .astype\(str\)",
    ):
        codes = text.transform(pd.DataFrame({"code": [1, 10, 7]})).ravel()
    np.testing.assert_array_equal(
        codes, text.transform(pd.DataFrame({"code": ["1", "10", "7"]})).ravel()
    )
    numbers = CategoryVocabulary().fit(pd.DataFrame({"code": [1, 2, 3] * 5}))
    with pytest.warns(
        UserWarning, match=r"has text values .* \(e.g. '2' as 2\).*astype\(int\)"
    ):
        assert numbers.transform(pd.DataFrame({"code": ["2"]})).ravel().tolist() == [3]
    with pytest.warns(UserWarning, match=r"none of them is one of fit's categories"):
        assert numbers.transform(pd.DataFrame({"code": ["x"]})).ravel().tolist() == [0]


def test_vocabulary_never_converts_when_fit_saw_both_kinds():
    mixed = CategoryVocabulary().fit(
        pd.DataFrame({"code": pd.Series(["1", 2] * 5, dtype=object)})
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        codes = mixed.transform(
            pd.DataFrame({"code": pd.Series([1, "2"], dtype=object)})
        )
    assert codes.ravel().tolist() == [UNKNOWN_CODE, UNKNOWN_CODE]


def test_vocabulary_warns_when_most_rows_are_unseen():
    vocabulary = CategoryVocabulary().fit(pd.DataFrame({"city": ["Oslo", "Lima"] * 20}))
    new = pd.DataFrame({"city": ["Rome"] * 30 + ["Oslo"] * 10})
    with pytest.warns(
        UserWarning,
        match=r"Column 'city': 75% of the 40 rows have categories never seen in fit "
        r"\(e.g. 'Rome'\); they all share the unknown vector",
    ):
        vocabulary.transform(new)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vocabulary.transform(new.iloc[10:30].assign(city=["Oslo"] * 15 + ["Rome"] * 5))


# ------------------------------------------------------------------ extend
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    first=st.lists(st.sampled_from("abcdef"), min_size=1, max_size=30),
    second=st.lists(st.sampled_from("defghi") | st.none(), min_size=1, max_size=30),
    min_frequency=st.sampled_from([None, 2]),
)
def test_extend_keeps_every_known_code_and_appends_new_categories(
    first, second, min_frequency
):
    vocabulary = CategoryVocabulary(min_frequency=min_frequency)
    vocabulary.fit(pd.DataFrame({"c": first}))
    known = list(vocabulary.categories_[0])
    before = vocabulary.transform(pd.DataFrame({"c": first}))
    vocabulary.extend(pd.DataFrame({"c": second}))
    assert list(vocabulary.categories_[0][: len(known)]) == known
    # Kept categories keep their codes; a rare one may now be kept.
    after = vocabulary.transform(pd.DataFrame({"c": first}))
    kept = before != UNKNOWN_CODE
    np.testing.assert_array_equal(after[kept], before[kept])
    counts = pd.Series([v for v in second if v is not None]).value_counts()
    appended = list(vocabulary.categories_[0][len(known) :])
    threshold = min_frequency or 1
    expected = sorted(c for c, n in counts.items() if c not in known and n >= threshold)
    assert appended == expected
    assert len(vocabulary.category_counts_[0]) == len(vocabulary.categories_[0])


def test_extend_counts_known_categories_and_caps_at_max_categories():
    vocabulary = CategoryVocabulary(max_categories=3).fit(
        pd.DataFrame({"c": ["a", "a", "b"]})
    )
    vocabulary.extend(pd.DataFrame({"c": ["a", "x", "y", "y", "z"]}))
    assert vocabulary.categories_[0].tolist() == ["a", "b", "y"]
    assert vocabulary.category_counts_[0].tolist() == [3, 1, 2]
    assert sorted(vocabulary.infrequent_categories_[0].tolist()) == ["x", "z"]
    codes = vocabulary.transform(pd.DataFrame({"c": ["y", "x", None]})).ravel()
    assert codes.tolist() == [4, UNKNOWN_CODE, MISSING_CODE]
