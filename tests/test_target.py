"""Targets: coerced, checked and encoded in one place for every estimator."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import DataConversionWarning

from entembed._target import as_target_array, encode_target, prepare_target


@pytest.mark.parametrize(
    ("y", "task", "expected_task", "n_outputs"),
    [
        (np.array([0.5, 1.0, 2.0, 3.0]), "auto", "regression", 1),
        (np.arange(8.0).reshape(4, 2), "regression", "regression", 2),
        (np.array(["a", "b", "a", "b"]), "auto", "binary", 1),
        (np.array([[0], [1], [2], [1]]), "auto", "multiclass", 3),
        (np.array([3, 1, 2, 1]), "classification", "multiclass", 3),
        (np.array([True, False, True, True]), "classification", "binary", 1),
    ],
)
def test_prepare_target_task_values_and_outputs(y, task, expected_task, n_outputs):
    target = prepare_target(y, task)
    assert target.task == expected_task
    assert target.n_outputs == n_outputs
    assert len(target.values) == len(y)
    if expected_task == "regression":
        assert target.values.dtype == np.float32 and target.classes is None
    else:
        assert target.values.ndim == 1
        assert target.classes.tolist() == sorted(np.unique(y).tolist())


def test_prepare_target_classification_warns_on_a_column_vector():
    with pytest.warns(DataConversionWarning, match="column-vector y was passed"):
        target = prepare_target(np.array([["a"], ["b"], ["a"]]), "classification")
    assert target.values.tolist() == [0, 1, 0]


def test_as_target_array_reads_pandas_and_lists():
    np.testing.assert_array_equal(
        as_target_array(pd.Series([1, 2], index=[5, 3]), 2, "E"), [1, 2]
    )
    assert as_target_array([[1, 2]], 1, "E").shape == (1, 2)


def test_error_target_none_wrong_length_and_nonfinite():
    with pytest.raises(ValueError, match=r"EntityEmbedder requires y to be passed"):
        as_target_array(None, 3, "EntityEmbedder")
    with pytest.raises(ValueError, match=r"y has 2 rows but X has 3; pass one"):
        as_target_array([1, 2], 3, "EntityEmbedder")
    with pytest.raises(
        ValueError, match=r"The target has 1 NaN or infinite value\(s\)"
    ):
        prepare_target(np.array([1.0, np.inf]), "auto")


def test_error_labels_that_cannot_be_a_task():
    with pytest.raises(ValueError, match=r"Unknown label type: 'continuous'\. "):
        prepare_target(np.array([0.5, 1.5]), "classification")
    with pytest.raises(ValueError, match=r"only one class \('a'\); a classifier needs"):
        encode_target(np.array(["a", "a"]), "binary")
    with pytest.raises(
        ValueError, match=r"task='binary' needs exactly 2 classes, got 3"
    ):
        encode_target(np.array([0, 1, 2]), "binary")
    with pytest.raises(ValueError, match=r"regression target must be numeric"):
        prepare_target(np.array(["a", "b"], dtype=object), "regression")
    with pytest.raises(ValueError, match=r"The target has 1 missing label\(s\)"):
        prepare_target(np.array(["a", None, "b"], dtype=object), "binary")


def test_target_with_classes_keeps_the_fitted_indices():
    from entembed._target import target_with_classes

    classes = np.array(["a", "b", "c"], dtype=object)
    target = target_with_classes(
        np.array(["c", "c"], dtype=object), "multiclass", classes
    )
    assert target.values.tolist() == [2, 2] and target.n_outputs == 3
    binary = target_with_classes(np.array([True]), "binary", np.array([False, True]))
    assert binary.values.tolist() == [1.0] and binary.n_outputs == 1
    with pytest.raises(ValueError, match="its file does not record the classes"):
        target_with_classes(np.array([1, 0]), "binary", None)
