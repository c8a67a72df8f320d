"""The embedder's fit after its network is trained: whether to cross-fit, the
folds' tables and their test of the ID-like columns, the scale the vectors
are served at, and the training rows' features when ``fit_transform`` asks.

:func:`fit_embedder` takes the encoded rows and the trained network and
returns everything the fit decided (:class:`EmbedderFit`); the estimator
sets its fitted state from it, once. No torch here: the folds train through
the training layer.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.model_selection import check_cv

from ._base import EncodedTable
from ._cross_fit import AUTO_FOLDS, cross_fitted_embeddings
from ._id_columns import (
    encoded_id_like_columns,
    informative,
    mean_vector,
    memorising_columns,
)
from ._numpy_network import NumpyNetwork
from ._vocabulary import N_RESERVED_CODES


@dataclass(frozen=True)
class EmbedderFit:
    """What an embedder's fit decided, and the training rows' features.

    ``network`` is the one served (the folds' mean tables where it
    cross-fitted, a mean vector for each constant column, the tables scaled by
    ``feature_scales``); ``cv`` the folds it cross-fitted in, or None;
    ``embeddings`` the training rows' vectors as served to a downstream model
    (out of fold where cross-fitted; None: look them up in ``network``), and
    ``predictions`` their out-of-fold predictions (``append_prediction``),
    and ``pairs`` their out-of-fold products of column pairs
    (``interactions="fm"``).
    """

    network: NumpyNetwork
    cv: int | None
    constant_columns: list[str]
    feature_scales: np.ndarray
    embeddings: np.ndarray | None = None
    predictions: np.ndarray | None = None
    pairs: np.ndarray | None = None


def fit_embedder(
    encoded: EncodedTable,
    network: NumpyNetwork,
    history: list[dict],
    *,
    cv,
    test_id_columns: bool,
    append_prediction: bool,
    feature_scale: str | None,
    features: bool,
    report: Callable[[str], None],
) -> EmbedderFit:
    """Finish an embedder's fit from its trained ``network`` (``history``:
    this fit's epochs). ``features``: the caller wants the training rows'
    features (``fit_transform``), which need the folds even where the served
    tables do not (an appended prediction, and the products of column pairs,
    are always out of fold)."""
    folds, id_like = _decide_folds(encoded, network, cv, report)
    fold_mean = folds is not None and not append_prediction
    names = list(encoded.config.table_names)
    constant: list[int] = []
    embeddings = predictions = pairs = None
    out_of_fold = features and (append_prediction or network.n_pairs > 0)
    if fold_mean or out_of_fold:
        judged = id_like if cv == "auto" and test_id_columns and fold_mean else []
        fitted = cross_fitted_embeddings(
            encoded,
            AUTO_FOLDS if folds is None else folds,
            network.tables,
            epochs=_epochs_to_best(history),
            predict=append_prediction,
            pairs=features and network.n_pairs > 0,
            gains_of=judged,
        )
        predictions, pairs = fitted.predictions, fitted.pairs
        if not fold_mean:
            embeddings = None if folds is None else fitted.features
        else:
            constant = [j for j in judged if not informative(fitted.held_out_gains[j])]
            _report_test(report, names, judged, constant)
            if fitted.features is None or fitted.mean_tables is None:
                # No ID-like column carries signal to rows it did not learn
                # from: nothing left to cross-fit for, and the other columns'
                # in-sample vectors leak little (many rows per category).
                folds = None
                tables = _constant(network.tables, constant, encoded)
            else:
                tables = _constant(fitted.mean_tables, constant, encoded)
                embeddings = fitted.features
                starts = np.cumsum([0, *network.widths])
                for j in constant:
                    embeddings[:, starts[j] : starts[j + 1]] = tables[j][0]
            network = network.serving(tables, constant)
    served = embeddings if fold_mean else None  # the out-of-fold vectors served
    factors = _scales(network, encoded, served, feature_scale)
    if feature_scale is not None:
        network = network.scaled(factors)
    if embeddings is not None:
        embeddings = embeddings * np.repeat(factors, network.widths).astype(np.float32)
    return EmbedderFit(
        network=network,
        cv=_n_folds(folds),
        constant_columns=[names[j] for j in constant],
        feature_scales=factors,
        embeddings=embeddings,
        predictions=predictions,
        pairs=pairs,
    )


def _decide_folds(encoded, network, cv, report) -> tuple[object, list[int]]:
    """The folds to cross-fit in (None: none) and the ID-like columns (those
    found memorising included, where ``cv="auto"`` tested them)."""
    id_like = encoded_id_like_columns(encoded)
    if cv != "auto":
        return cv, id_like
    memorising = memorising_columns(encoded, network)
    report(_auto_cv_story(encoded, id_like, memorising))
    id_like = id_like + memorising
    return (AUTO_FOLDS if id_like else None), id_like


def _n_folds(folds) -> int | None:
    """``cv_``: the number of folds (a splitter's number of splits)."""
    if folds is None:
        return None
    if isinstance(folds, Integral):
        return int(folds)
    return check_cv(folds).get_n_splits()


def _auto_cv_story(encoded: EncodedTable, id_like, memorising) -> str:
    """What ``cv="auto"`` decided, and which columns made it decide."""
    names = encoded.config.table_names
    per_category = len(encoded.codes) / np.maximum(
        np.array(encoded.config.cardinalities) - N_RESERVED_CODES, 1
    )

    def named(columns):
        return ", ".join(
            f"{names[j]!r} ({per_category[j]:.1f} training rows per category)"
            for j in columns
        )

    if not id_like and not memorising:
        return (
            "cv='auto' serves in-sample features (one fit): no embedded column "
            "is ID-like."
        )
    reasons = []
    if id_like:
        reasons.append(f"{named(id_like)} is ID-like")
    if memorising:
        reasons.append(
            f"{named(memorising)} memorises (its vectors fit their own rows "
            "better than the validation rows)"
        )
    return (
        f"cv='auto' cross-fits in {AUTO_FOLDS} folds ({AUTO_FOLDS} more fits): "
        + "; ".join(reasons)
        + ", so in-sample vectors would carry their rows' targets to a "
        "downstream model."
    )


def _report_test(report, names, judged: list[int], constant: list[int]) -> None:
    """What the folds' test of the ID-like columns found."""
    kept = [names[j] for j in judged if j not in constant]
    if kept:
        report(
            f"{kept} lowered the loss of rows their fold did not train on: "
            "out-of-fold features, and the folds' mean vectors served."
        )
    if constant:
        report(
            f"{[names[j] for j in constant]} did not lower the loss of rows "
            "their fold did not train on: each serves its mean vector to "
            "every row (constant_columns_)"
            + ("." if kept else "; with no ID-like column left, in-sample features.")
        )


def _scales(
    network: NumpyNetwork,
    encoded: EncodedTable,
    served: np.ndarray | None,
    feature_scale: str | None,
) -> np.ndarray:
    """Each column's factor under ``feature_scale``, from the spreads of the
    training rows' features as ``fit_transform`` serves them: out of fold
    where cross-fitted (``served``), else looked up."""
    if feature_scale is None:
        return np.ones(len(network.tables))
    if served is None:
        spreads = table_spreads(network.tables, encoded.codes)
    else:
        starts = np.cumsum([0, *network.widths])
        spreads = np.array(
            [
                served[:, a:b].var(axis=0, dtype=np.float64).sum()
                for a, b in itertools.pairwise(starts)
            ]
        )
    return balanced_scales(spreads)


def table_spreads(tables, codes: np.ndarray) -> np.ndarray:
    """Each column's spread over rows (``codes``): the sum of the variances
    of its looked-up vectors' features."""
    return spreads_by_counts(
        tables,
        [np.bincount(codes[:, j], minlength=len(t)) for j, t in enumerate(tables)],
    )


def spreads_by_counts(tables, counts) -> np.ndarray:
    """:func:`table_spreads` from the rows of each code (``counts``, by
    column), where the rows are not at hand (a streamed fit)."""
    spreads = np.zeros(len(tables))
    for j, table in enumerate(tables):
        share = np.asarray(counts[j], dtype=np.float64)
        share = share / share.sum()
        values = table.astype(np.float64)
        centred = values - share @ values
        spreads[j] = share @ (centred**2).sum(axis=1)
    return spreads


def balanced_scales(spreads: np.ndarray) -> np.ndarray:
    """Each column's factor under ``feature_scale="balanced"``: a column's
    spread becomes the root of ``spreads``' (the learned one), and the spreads
    then average 1. A column that does not vary (a constant column) takes the
    common factor alone."""
    spreads = np.asarray(spreads, dtype=np.float64)
    varies = spreads > 1e-12
    if not varies.any():
        return np.ones(len(spreads))
    common = 1.0 / np.sqrt(np.sqrt(spreads[varies]).mean())
    factors = np.full(len(spreads), common)
    factors[varies] = common * spreads[varies] ** -0.25
    return factors


def _constant(tables, columns, encoded: EncodedTable) -> list[np.ndarray]:
    """``tables`` with each of ``columns`` made one vector, repeated: its mean
    over the training rows."""
    tables = list(tables)
    for j in columns:
        mean = mean_vector(tables[j], encoded.codes[:, j])
        tables[j] = np.tile(mean, (len(tables[j]), 1))
    return tables


def _epochs_to_best(history: list[dict]) -> int | None:
    """Epochs a fit trained up to its best validation loss (the weights it
    kept); None without validation losses."""
    losses = np.array([row.get("val_loss", np.nan) for row in history], dtype=float)
    if not np.isfinite(losses).any():
        return None
    return int(np.nanargmin(losses)) + 1
