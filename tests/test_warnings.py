"""Warnings point at the user's line, however deep inside entembed they start."""

import warnings

import numpy as np
import pandas as pd
import pytest

from entembed import CategoryVocabulary, EntityEmbedder
from entembed._warnings import find_stack_level, warn


def test_warn_points_at_the_first_caller_outside_the_package():
    with pytest.warns(UserWarning, match="said here") as record:
        warn("said here")
    assert record[0].filename == __file__
    assert find_stack_level() == 1  # only find_stack_level's own frame is ours


def test_warnings_from_deep_inside_fit_point_at_the_callers_line():
    # The identifier warning starts in a list comprehension inside the
    # vocabulary, called by fit, called by the estimator's fit.
    X = pd.DataFrame({"id": [f"u{i}" for i in range(40)]})
    y = np.arange(40.0)
    for fit in (
        lambda: CategoryVocabulary().fit(X),
        lambda: CategoryVocabulary().fit_transform(X),
        lambda: EntityEmbedder(hidden_units=(4,), max_epochs=1).fit(X, y),
    ):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            fit()
        ids = [w for w in record if "almost every row is its own" in str(w.message)]
        assert len(ids) == 1
        assert ids[0].filename == __file__
