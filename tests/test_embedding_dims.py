"""Embedding widths: fastai's rule, its cap by rows per category, and the forms
embedding_dims takes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from entembed._embedding_dims import auto_embedding_dim, resolve_embedding_dims


def test_embedding_dims_rules():
    assert auto_embedding_dim(3) == 3 and auto_embedding_dim(10**6) == 600
    cards = {"a": 12, "b": 1002}
    assert resolve_embedding_dims("auto", cards) == {"a": 6, "b": 77}
    assert resolve_embedding_dims(4, cards) == {"a": 4, "b": 4}
    assert resolve_embedding_dims({"a": 3}, cards) == {"a": 3, "b": 77}
    assert resolve_embedding_dims(lambda n: n // 4, cards) == {"a": 3, "b": 250}
    with pytest.warns(UserWarning, match=r"width 12 for column 'a' reaches its 12"):
        resolve_embedding_dims(12, cards)
    with pytest.raises(
        ValueError, match=r"names columns that are not embedded: \['z'\]"
    ):
        resolve_embedding_dims({"z": 3}, cards)
    with pytest.raises(
        ValueError, match=r"width for column 'a' must be a positive int"
    ):
        resolve_embedding_dims({"a": 0}, cards)
    with pytest.raises(
        ValueError, match=r"embedding_dims must be 'auto', 'capped', an int"
    ):
        resolve_embedding_dims("big", cards)


@given(
    n_categories=st.integers(1, 10**6),
    n_rows=st.integers(1, 10**7),
    more_rows=st.integers(0, 10**6),
)
def test_capped_width_is_fastai_capped_by_rows_per_category(
    n_categories, n_rows, more_rows
):
    fastai = auto_embedding_dim(n_categories)
    width = auto_embedding_dim(n_categories, n_rows=n_rows)
    assert 1 <= width <= fastai
    assert width >= min(fastai, 2)  # never fewer than 2 where fastai gives 2
    # More rows per category never narrow a table.
    assert auto_embedding_dim(n_categories, n_rows=n_rows + more_rows) >= width


def test_capped_width_of_an_id_like_column_and_the_fastai_rule():
    cards = {"city": 12, "player": 5_002}
    # 16,000 rows: about 3 per player, so 4 * sqrt(3.2) = 7 dimensions.
    assert resolve_embedding_dims("capped", cards, n_rows=16_000) == {
        "city": 6,
        "player": 7,
    }
    assert resolve_embedding_dims("auto", cards, n_rows=16_000) == {
        "city": 6,
        "player": 189,
    }
    assert resolve_embedding_dims({"player": "capped"}, cards, n_rows=16_000) == {
        "city": 6,
        "player": 7,
    }
