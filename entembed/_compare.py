"""Compare encoders as Guo & Berkhahn's Table 3 does: each encoding of the
categorical columns feeds gradient boosting, k-nearest neighbours and a linear
model, scored by cross-validation on the same folds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import sklearn
from sklearn.base import clone
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, roc_auc_score, root_mean_squared_error
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.preprocessing import (
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
    TargetEncoder,
)
from sklearn.utils.fixes import parse_version

from ._columns import is_categorical_dtype
from ._embedder import EntityEmbedder
from ._target import infer_task


def default_encoders(
    random_state: int = 0, task: str | None = None, **embedder_params
) -> dict:
    """The encoders compared by ``entembed compare``, by display name.

    ``task`` fixes TargetEncoder's target type: its "auto" reads a float target
    of whole numbers (dollars) as multiclass.
    """
    return {
        # The numeric columns reach every model beside each encoder's output
        # (compare_encoders adds them): the embedder serves its vectors only.
        "entity embeddings": EntityEmbedder(
            remainder="drop", random_state=random_state, **embedder_params
        ),
        # HistGradientBoosting needs dense input: one column per category of the
        # 50 most frequent per column keeps the table small enough.
        "one-hot (top 50)": OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            max_categories=50,
            sparse_output=False,
        ),
        "ordinal": OrdinalEncoder(
            handle_unknown="use_encoded_value",
            unknown_value=-1,
            encoded_missing_value=-2,
        ),
        "target encoding": _target_encoder(task, random_state),
    }


def _target_encoder(task: str | None, random_state: int) -> TargetEncoder:
    """scikit-learn's cross-fitted TargetEncoder, seeded on every version."""
    target_type = _TARGET_TYPES.get(task or "", "auto")
    if parse_version(sklearn.__version__) < parse_version("1.9"):
        # Before 1.9, cv takes an int only (and shuffle/random_state seed it).
        return TargetEncoder(
            target_type=target_type, shuffle=True, random_state=random_state
        )
    return TargetEncoder(
        target_type=target_type, cv=KFold(5, shuffle=True, random_state=random_state)
    )


_TARGET_TYPES = {
    "regression": "continuous",
    "binary": "binary",
    "multiclass": "multiclass",
}


def _models(task: str, random_state: int) -> dict:
    if task == "regression":
        return {
            "gradient boosting": HistGradientBoostingRegressor(
                random_state=random_state
            ),
            "k-nearest neighbours": KNeighborsRegressor(10),
            "linear": Ridge(),
        }
    return {
        "gradient boosting": HistGradientBoostingClassifier(random_state=random_state),
        "k-nearest neighbours": KNeighborsClassifier(10),
        "linear": LogisticRegression(max_iter=500),
    }


def _scaled(encoder, train_features, test_features, numeric, train, test):
    """Model inputs: encoder outputs beside the standardised numeric columns.

    Encoder outputs are standardised too (what k-nearest neighbours and linear
    models need), except learned embeddings, which are used as the embedder
    serves them (its ``feature_scale``), as Guo & Berkhahn used theirs
    unstandardised: the network shaped their distances, and standardising
    each dimension would give its noisy low-variance ones equal weight.
    """
    if not isinstance(encoder, EntityEmbedder):
        scaler = StandardScaler().fit(train_features)
        train_features = scaler.transform(train_features)
        test_features = scaler.transform(test_features)
    if numeric is None:
        return train_features, test_features
    scaler = StandardScaler().fit(numeric[train])
    return (
        np.hstack([train_features, scaler.transform(numeric[train])]),
        np.hstack([test_features, scaler.transform(numeric[test])]),
    )


def _folds(cv, task: str, random_state: int, X, y) -> list:
    """The (train, test) splits: ``cv`` shuffled folds (stratified for
    classes), or a splitter's."""
    if isinstance(cv, int):
        cv = (KFold if task == "regression" else StratifiedKFold)(
            cv, shuffle=True, random_state=random_state
        )
    return list(cv.split(X, y))


def _encoded(encoder, inputs, y, train, test):
    """A fresh clone of ``encoder`` fitted on the ``train`` rows: the train
    and test rows' features, and its (fit, transform) seconds."""
    fitted = clone(encoder)
    start = time.perf_counter()
    train_features = fitted.fit_transform(inputs.iloc[train], y[train])
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    test_features = fitted.transform(inputs.iloc[test])
    return (train_features, test_features), (fit_s, time.perf_counter() - start)


def _scorer(task: str) -> tuple[str, Callable]:
    if task == "regression":
        return "RMSE", lambda model, X, y: root_mean_squared_error(y, model.predict(X))
    if task == "binary":
        return "ROC AUC", lambda model, X, y: roc_auc_score(
            y, model.predict_proba(X)[:, 1]
        )
    return "accuracy", lambda model, X, y: accuracy_score(y, model.predict(X))


def compare_encoders(
    X: pd.DataFrame,
    y,
    *,
    encoders: dict | None = None,
    models: dict | None = None,
    cv=3,
    random_state: int = 0,
    progress: Callable | None = None,
) -> pd.DataFrame:
    """Cross-validated downstream scores of each encoder with each model.

    Categorical columns (object, string, category, bool) are encoded; numeric
    columns are standardised and passed to every model alike (and to the
    embedding network, which learns what they leave over). Each encoder is
    fitted once per fold and its features feed all three models: other
    encoders' outputs standardised, embeddings as served (see ``_scaled``).

    Parameters
    ----------
    X : DataFrame
    y : array-like
        A continuous target (scored by RMSE, lower is better) or class labels
        (ROC AUC for two classes, accuracy for more; higher is better).
    encoders : dict of str to transformer, optional
        Defaults to :func:`default_encoders`.
    models : dict of str to estimator, optional
        Downstream models; defaults to gradient boosting, k-nearest neighbours
        and a linear model for the task.
    cv : int or cross-validation splitter, default=3
        Folds (shuffled, stratified for classes), or any splitter, e.g.
        ``ShuffleSplit`` for repeated random splits.
    random_state : int, default=0
    progress : callable, optional
        Called with ``(done, total, description)`` after each encoder fit.

    Returns
    -------
    DataFrame
        One row per (encoder, model): the metric's mean and standard deviation
        over folds, and the encoder's mean fit and transform seconds.
    """
    y = np.asarray(y)
    task = infer_task(y)
    categorical = [c for c in X.columns if is_categorical_dtype(X[c].dtype)]
    numeric = [c for c in X.columns if c not in categorical]
    if not categorical:
        raise ValueError(
            "X has no categorical columns (object, string, category or bool) to "
            "encode; convert the categorical ones with X[col].astype(str)."
        )
    encoders = encoders or default_encoders(random_state, task)
    metric, score = _scorer(task)
    folds = _folds(cv, task, random_state, X, y)
    numeric_values = X[numeric].to_numpy(dtype=float) if numeric else None

    models = models or _models(task, random_state)
    rows = []
    total, done = len(folds) * len(encoders), 0
    for encoder_name, encoder in encoders.items():
        scores: dict[str, list[float]] = {}
        seconds = []
        for train, test in folds:
            # Our network also learns from the numeric columns (its embeddings
            # then explain what they leave over); other encoders see categories.
            inputs = X if isinstance(encoder, EntityEmbedder) else X[categorical]
            (fitted, new), fold_seconds = _encoded(encoder, inputs, y, train, test)
            seconds.append(fold_seconds)
            fitted, new = _scaled(encoder, fitted, new, numeric_values, train, test)
            for model_name, model in models.items():
                model = clone(model).fit(fitted, y[train])
                scores.setdefault(model_name, []).append(score(model, new, y[test]))
            done += 1
            if progress is not None:
                progress(done, total, encoder_name)
        fit_s, transform_s = np.mean(seconds, axis=0)
        for model_name, values in scores.items():
            rows.append(
                {
                    "encoder": encoder_name,
                    "model": model_name,
                    f"{metric} mean": float(np.mean(values)),
                    f"{metric} std": float(np.std(values)),
                    "encoder fit s": float(fit_s),
                    "encoder transform s": float(transform_s),
                }
            )
    table = pd.DataFrame(rows)
    table.attrs["metric"] = metric
    table.attrs["higher_is_better"] = metric != "RMSE"
    return table


def _decimals(values) -> int:
    """Decimals that show a score's three or four significant digits: 0.5878,
    14.52, 7933 (an RMSE in dollars needs no cents)."""
    largest = max((abs(v) for v in values if np.isfinite(v)), default=1.0)
    if largest == 0:
        return 4
    return int(np.clip(3 - np.floor(np.log10(largest)), 0, 4))


def format_comparison(table: pd.DataFrame) -> str:
    """The comparison as a markdown table: encoders by rows, models by columns."""
    metric = table.attrs["metric"]
    better = "higher" if table.attrs["higher_is_better"] else "lower"
    models = list(dict.fromkeys(table["model"]))
    digits = _decimals(table[f"{metric} mean"])
    header = ["encoder", *models, "fit s", "transform s"]
    lines = [
        f"{metric}, mean ± std over folds ({better} is better)",
        "",
        "| " + " | ".join(header) + " |",
        "|---" + "|---:" * (len(header) - 1) + "|",
    ]
    for encoder, rows in table.groupby("encoder", sort=False):
        cells = [
            f"{rows.loc[rows['model'] == m, f'{metric} mean'].item():.{digits}f} ± "
            f"{rows.loc[rows['model'] == m, f'{metric} std'].item():.{digits}f}"
            for m in models
        ]
        fit = rows["encoder fit s"].iloc[0]
        transform = rows["encoder transform s"].iloc[0]
        lines.append(
            f"| {encoder} | " + " | ".join(cells) + f" | {fit:.2f} | {transform:.3f} |"
        )
    return "\n".join(lines)
