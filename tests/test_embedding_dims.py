"""Embedding widths: fastai's rule, and the forms embedding_dims takes."""

import pytest

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
    with pytest.raises(ValueError, match=r"embedding_dims must be 'auto', an int"):
        resolve_embedding_dims("big", cards)
