"""Supervised targets: checked and encoded for training (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

_TASK_OF_TARGET = {
    "continuous": "regression",
    "continuous-multioutput": "regression",
    "binary": "binary",
    "multiclass": "multiclass",
}


def infer_task(y: np.ndarray) -> str:
    """ "regression", "binary" or "multiclass" for a target.

    A float target is a regression even when its values are whole numbers
    (prices, counts stored as floats), where scikit-learn's ``type_of_target``
    would say "multiclass".
    """
    from sklearn.utils.multiclass import type_of_target

    if y.dtype.kind == "f":
        return "regression"
    kind = type_of_target(y, input_name="y")
    if kind not in _TASK_OF_TARGET:
        raise ValueError(
            f"Unknown label type {kind!r} for y: cannot tell the task from it. "
            "Set task='regression', 'binary' or 'multiclass'."
        )
    return _TASK_OF_TARGET[kind]


def check_finite_target(y: np.ndarray) -> None:
    """Raise on NaN or infinite values in a numeric target, with their count."""
    if y.dtype.kind == "f":
        n_bad = int(np.count_nonzero(~np.isfinite(y)))
        if n_bad:
            raise ValueError(
                f"The target has {n_bad} NaN or infinite value(s). Drop those rows "
                "or fill them first."
            )


def encode_target(y, task: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Training target for ``task``, and the classes for classification.

    Returns float32 of shape (n,) or (n, k) for regression, float32 0/1 for
    "binary", int64 class indices for "multiclass"; classes in sorted order.
    """
    y = np.asarray(y)
    if task == "regression":
        try:
            target = y.astype(np.float32)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"A regression target must be numeric, got dtype {y.dtype}. Use a "
                "classifier for labels."
            ) from exc
        return target, None
    if y.ndim != 1:
        raise ValueError(f"A classification target must be 1-D, got shape {y.shape}.")
    missing = pd.isna(y)
    if missing.any():
        raise ValueError(
            f"The target has {int(missing.sum())} missing label(s). Drop those "
            "rows or fill them first."
        )
    classes, indices = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"The target has only one class ({classes.tolist()[0]!r}); a "
            "classifier needs at least two classes. Check the target column or "
            "use a regressor."
        )
    if task == "binary":
        if len(classes) != 2:
            raise ValueError(
                f"task='binary' needs exactly 2 classes, got {len(classes)}; use "
                "task='multiclass'."
            )
        return indices.astype(np.float32), classes
    return indices.astype(np.int64), classes


@dataclass(frozen=True)
class Target:
    """A target encoded for training (see :func:`prepare_target`)."""

    task: str
    values: np.ndarray
    n_outputs: int
    classes: np.ndarray | None = None


def as_target_array(y, n_rows: int, estimator: str) -> np.ndarray:
    """``y`` as a numpy array with one value (or row) per row of X."""
    if y is None:
        raise ValueError(
            f"{estimator} requires y to be passed, but the target y is None. Pass "
            "the supervised target the embeddings are learned on."
        )
    y = y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else np.asarray(y)
    if len(y) != n_rows:
        raise ValueError(
            f"y has {len(y)} rows but X has {n_rows}; pass one target value per "
            "row of X."
        )
    return y


def prepare_target(y: np.ndarray, task: str) -> Target:
    """Check ``y`` and encode it for ``task``.

    ``task`` is "regression", "binary", "multiclass", "auto" (read from ``y``,
    see :func:`infer_task`) or "classification" (labels required; binary or
    multiclass by their number, as a scikit-learn classifier reads them).
    """
    from sklearn.utils.multiclass import type_of_target
    from sklearn.utils.validation import column_or_1d

    check_finite_target(y)
    if task == "classification":
        # A column vector is accepted with scikit-learn's DataConversionWarning.
        y = column_or_1d(y, warn=True)
        kind = type_of_target(y, input_name="y")
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"Unknown label type: {kind!r}. EntityEmbeddingClassifier needs "
                "class labels; use EntityEmbeddingRegressor for a continuous target."
            )
        task = "binary" if len(np.unique(y)) == 2 else "multiclass"
    elif task == "auto":
        task = infer_task(y)
    if task != "regression" and y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    values, classes = encode_target(y, task)
    if classes is None:
        n_outputs = 1 if values.ndim == 1 else values.shape[1]
    else:
        n_outputs = 1 if task == "binary" else len(classes)
    return Target(task, values, n_outputs, classes)


def target_with_classes(y: np.ndarray, task: str, classes: np.ndarray | None) -> Target:
    """``y`` encoded for a fitted ``task``: a warm start continues the fitted
    head, so labels keep the fitted classes' indices (a batch of new rows may
    hold only some of them, even one)."""
    if task == "regression" or classes is None:
        if task != "regression":
            raise ValueError(
                "warm_start cannot continue this classification model: its file "
                "does not record the classes. Set warm_start=False to fit afresh."
            )
        return prepare_target(y, "regression")
    check_finite_target(y)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    missing = pd.isna(y)
    if missing.any():
        raise ValueError(
            f"The target has {int(missing.sum())} missing label(s). Drop those "
            "rows or fill them first."
        )
    known = pd.Index(classes, tupleize_cols=False)
    indices = known.get_indexer(y)
    if (indices < 0).any():
        new = pd.unique(y[indices < 0]).tolist()
        raise ValueError(
            f"y has labels the fitted model does not know ({new[:5]}); "
            f"warm_start keeps the fitted classes {np.asarray(classes).tolist()}. Set "
            "warm_start=False to fit afresh with the new classes."
        )
    if task == "binary":
        return Target(task, indices.astype(np.float32), 1, classes)
    return Target(task, indices.astype(np.int64), len(classes), classes)
