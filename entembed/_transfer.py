"""Starting a fit from what was learned before: a warm start continues the
fitted network on new rows, and transfer (``init_embeddings``) starts the
tables from another model's vectors. Both give the training layer a
:class:`~entembed._training_config.StartingPoint`. numpy and pandas only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from ._embedding_dims import resolve_embedding_dims
from ._string_features import piece_means
from ._training_config import StartingPoint
from ._vocabulary import MISSING_CODE, UNKNOWN_CODE, CategoryVocabulary


def embedding_frames(source) -> dict[str, pd.DataFrame]:
    """``init_embeddings`` as DataFrames of vectors indexed by category."""
    if source is None:
        return {}
    if isinstance(source, BaseEstimator):
        if not hasattr(source, "network_"):
            raise ValueError(
                f"init_embeddings is an unfitted {type(source).__name__}; fit it "
                "first. scikit-learn's clone (GridSearchCV, cross_val_score) "
                "unfits an estimator given as a parameter: there, pass its "
                "embeddings_ (a dict of DataFrames) instead."
            )
        return source.embeddings_
    if not isinstance(source, dict):
        raise TypeError(
            "init_embeddings must be a fitted entembed estimator or a dict of "
            "DataFrames (one per column, vectors indexed by category), got "
            f"{type(source).__name__}."
        )
    frames = {}
    for column, frame in source.items():
        if not isinstance(frame, pd.DataFrame) or not all(
            pd.api.types.is_numeric_dtype(t) for t in frame.dtypes
        ):
            raise TypeError(
                f"init_embeddings[{column!r}] must be a DataFrame of numbers (one "
                "row per category, one column per dimension), as an estimator's "
                "embeddings_ gives."
            )
        if frame.shape[1] == 0 or not np.isfinite(frame.to_numpy(float)).all():
            raise ValueError(
                f"init_embeddings[{column!r}] has no columns or non-finite values."
            )
        frames[column] = frame
    return frames


def table_from_frame(frame: pd.DataFrame, categories: np.ndarray) -> np.ndarray:
    """A table whose rows are ``frame``'s vectors of the same categories; the
    others (and the reserved rows ``frame`` lacks) start from its unknown
    vector, or the mean vector where it has none."""
    vectors = frame.to_numpy(np.float32)
    index = pd.Index(frame.index, dtype=object, tupleize_cols=False)
    reserved = {"<unknown>": UNKNOWN_CODE, "<missing>": MISSING_CODE}
    has = {name: index.get_loc(name) for name in reserved if name in index}
    unknown = vectors[has["<unknown>"]] if "<unknown>" in has else vectors.mean(axis=0)
    table = np.empty((len(categories) + len(reserved), vectors.shape[1]), np.float32)
    table[:] = unknown
    if "<missing>" in has:
        table[MISSING_CODE] = vectors[has["<missing>"]]
    position = index.get_indexer(pd.Index(categories, dtype=object))
    found = position >= 0
    table[len(reserved) :][found] = vectors[position[found]]
    return table


def check_warm_start(estimator, categorical: list[str], numeric: list[str]) -> None:
    """Refuse a warm start that ``estimator``'s fitted network cannot continue
    (its columns, hidden layers, batch normalisation or widths changed)."""
    again = "; or set warm_start=False to fit afresh."
    fitted_columns = (estimator.categorical_columns_, estimator.numeric_columns_)
    if (categorical, numeric) != fitted_columns:
        raise ValueError(
            "warm_start continues the fitted model, which embeds "
            f"{fitted_columns[0]} and reads {fitted_columns[1]} as "
            f"numbers; X now gives {categorical} and {numeric}. Pass a table "
            "with the same columns" + again
        )
    linear = [p for kind, p in estimator.network_.layers if kind == "linear"]
    hidden = tuple(int(p["weight"].shape[0]) for p in linear[:-1])
    if tuple(int(u) for u in estimator.hidden_units) != hidden:
        raise ValueError(
            f"warm_start continues the fitted network, whose hidden_units are "
            f"{hidden}; hidden_units is now {tuple(estimator.hidden_units)}. Set it "
            f"back to {hidden}" + again
        )
    fitted_norm = any(kind == "batchnorm" for kind, _ in estimator.network_.layers)
    if bool(estimator.batch_norm) != fitted_norm:
        raise ValueError(
            f"warm_start continues the fitted network, fitted with batch_norm="
            f"{fitted_norm}; batch_norm is now {estimator.batch_norm}. Set it back"
            + again
        )
    fitted_mixing = _fitted_interactions(estimator.network_)
    if estimator.interactions != fitted_mixing:
        raise ValueError(
            f"warm_start continues the fitted network, fitted with interactions="
            f"{fitted_mixing!r}; interactions is now {estimator.interactions!r}. "
            "Set it back" + again
        )
    if not isinstance(estimator.embedding_dims, str) and not callable(
        estimator.embedding_dims
    ):
        asked = resolve_embedding_dims(
            estimator.embedding_dims, estimator.cardinalities_
        )
        if asked != estimator.embedding_dims_:
            raise ValueError(
                f"warm_start keeps the fitted widths {estimator.embedding_dims_}; "
                f"embedding_dims now asks for {asked}. Set embedding_dims='auto'"
                + again
            )


def warm_start_point(
    network, vocabulary: CategoryVocabulary, pieces=()
) -> StartingPoint:
    """The fitted ``network``, its tables grown by the rows of new categories
    (``vocabulary`` extended by the new rows), which start from the column's
    unknown vector. In a column cut into pieces of text (``pieces``: by
    column, the extended vocabulary's pieces or None), a table starts from
    its own vectors: the served ones less their pieces' mean."""
    network = network.unscaled()
    tables = []
    for j, (table, n) in enumerate(
        zip(network.tables, vocabulary.cardinalities_, strict=True)
    ):
        found = pieces[j] if j < len(pieces) else None
        if found is not None and network.pieces and network.pieces[j] is not None:
            old = np.arange(len(table))
            means = piece_means(network.pieces[j], *found.rows(old))
            table = table.copy()
            table[:, : means.shape[1]] -= means
        new_rows = np.repeat(table[UNKNOWN_CODE : UNKNOWN_CODE + 1], n - len(table), 0)
        tables.append(np.concatenate([table, new_rows]))
    return StartingPoint(
        tuple(tables), network=network, pieces=tuple(network.pieces or ())
    )


def transferred_tables(
    given: dict[str, pd.DataFrame],
    vocabulary: CategoryVocabulary,
    categorical: list[str],
    dims: dict[str, int],
    *,
    embedding_dims,
    freeze: bool,
) -> StartingPoint | None:
    """Starting tables from ``init_embeddings``' vectors (``given``); under
    either rule of thumb for ``embedding_dims``, the columns it gives take its
    widths in ``dims``; ``freeze`` keeps those tables as given."""
    if not given:
        return None
    shared = [c for c in categorical if c in given]
    if not shared:
        raise ValueError(
            f"init_embeddings gives vectors for columns {sorted(given)}, none of "
            f"which is embedded here (embedded: {categorical}). Name the "
            "columns as in X."
        )
    tables: list[np.ndarray | None] = []
    for j, column in enumerate(categorical):
        frame = given.get(column)
        if frame is None:
            tables.append(None)
            continue
        width = frame.shape[1]
        if embedding_dims in ("auto", "capped"):
            dims[column] = width
        elif dims[column] != width:
            raise ValueError(
                f"init_embeddings gives column {column!r} vectors of width "
                f"{width}, but embedding_dims gives it {dims[column]}. Set "
                "embedding_dims='auto' to take the given widths, or pass "
                f"vectors of width {dims[column]}."
            )
        tables.append(table_from_frame(frame, vocabulary.categories_[j]))
    frozen = tuple(bool(freeze) and t is not None for t in tables)
    return StartingPoint(tuple(tables), frozen)


def _fitted_interactions(network) -> str:
    """The ``interactions`` a fitted network was built with."""
    kinds = {kind for kind, _ in network.layers}
    return "fm" if "pairs" in kinds else "cross" if "cross" in kinds else "none"
