"""Cross-fitting a streamed fit: out-of-fold vectors for rows never held.

The in-memory cross-fit (:mod:`entembed._cross_fit`) piece by piece. A row's
fold comes from a hash of its position (:func:`~entembed._streaming.folds_of`),
so every pass agrees on it without a list of rows. One pass counts each
fold's codes; each fold's fit reads the table without that fold's rows; its
tables are rotated onto the full fit's axes, with the categories it never
saw read as its unknown vector; its held-out rows, read again, test the
ID-like columns. The training rows' features are then a lazy Dask DataFrame:
each partition looks its rows up in the tables of their own fold.

No torch here: the folds train through the training layer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ._cross_fit import AUTO_FOLDS, as_the_fold_serves, fold_config, rotated
from ._dataframe import numeric_array
from ._embedder_fit import EmbedderFit
from ._streamed_fit import (
    StreamedFit,
    gain_statistics,
    held_out_gains,
    id_like,
    informative,
    per_category,
)
from ._streaming import Rows, StreamedTable, folds_of
from ._vocabulary import N_RESERVED_CODES


@dataclass(frozen=True)
class StreamedCrossFit:
    """What a streamed cross-fit found.

    ``fold_tables``: each fold's tables in the full fit's axes (None where no
    tested column generalised: the caller serves in-sample vectors);
    ``fold_counts``: by column, each fold's rows of each code, shape
    ``(n_folds, cardinality)``; ``constant``: the tested columns that did not
    lower the held-out loss, by index.
    """

    fold_tables: list[list[np.ndarray]] | None
    fold_counts: list[np.ndarray]
    constant: list[int]

    def mean_tables(self) -> list[np.ndarray]:
        """The folds' mean tables (what new rows are served)."""
        assert self.fold_tables is not None
        stacked = zip(*self.fold_tables, strict=True)  # by column, every fold's
        return [np.stack(tables).mean(axis=0).astype(np.float32) for tables in stacked]


def fold_counts(table: StreamedTable, n_folds: int, seed: int) -> list[np.ndarray]:
    """By column, each fold's rows of each code, from one pass over the
    table's categorical columns."""
    vocabulary, offsets = table.vocabulary, table.offsets
    sizes = [int(n) for n in vocabulary.cardinalities_]
    counts = [np.zeros((n_folds, n), np.int64) for n in sizes]
    for k in range(len(table.source.pieces)):
        frame = table.source.read(k, table.categorical)
        codes = vocabulary.transform(frame)
        folds = folds_of(int(offsets[k]), len(frame), n_folds, seed)
        for j, n in enumerate(sizes):
            counts[j] += np.bincount(
                folds * n + codes[:, j], minlength=n_folds * n
            ).reshape(n_folds, n)
    return counts


def cross_fit(
    fit: StreamedFit,
    network,
    epochs: int | None,
    n_folds: int,
    judged: list[int],
) -> StreamedCrossFit:
    """Fit ``n_folds`` folds of a streamed table, each without its rows, as
    :func:`entembed._cross_fit.cross_fitted_embeddings` does in memory:
    ``epochs`` (the full fit's best) epochs each with no validation rows
    (None: the full fit's settings), and the ``judged`` columns tested on
    the folds' held-out rows."""
    from ._training import fit_streamed

    config = fold_config(fit.config, epochs)
    counts = fold_counts(fit.table, n_folds, config.seed)
    totals = [c.sum(axis=0) for c in counts]
    fold_tables, sums = [], {j: np.zeros(4) for j in judged}
    for k in range(n_folds):
        fold, _ = fit_streamed(
            replace(config, progress_label=f"fold {k + 1}/{n_folds}"),
            fit.table,
            fit.start,
            fold=(k, n_folds),
        )
        trained = [total - c[k] for total, c in zip(totals, counts, strict=True)]
        seen = [_seen(c) for c in trained]
        fold = as_the_fold_serves(fold, seen, config.pieces)
        fold_tables.append(rotated(network.tables, fold.tables, seen))
        if judged:
            held_out = Rows(0.0, config.seed, fold=k, n_folds=n_folds, held_out=True)
            found = held_out_gains(fit, fold, judged, held_out, trained)
            for j in judged:
                sums[j] += found[j]
    constant = [j for j in judged if not informative(*gain_statistics(sums[j]))]
    if judged and len(constant) == len(judged):
        return StreamedCrossFit(None, counts, constant)
    return StreamedCrossFit(fold_tables, counts, constant)


def _seen(counts: np.ndarray) -> np.ndarray:
    """Which codes a fold trained on (the reserved ones always)."""
    seen = counts > 0
    seen[:N_RESERVED_CODES] = True
    return seen


def mixture_spreads(fold_tables, counts: list[np.ndarray]) -> np.ndarray:
    """Each column's spread over the training rows' out-of-fold vectors:
    fold ``k``'s rows looked up in fold ``k``'s tables (``counts``: by
    column, each fold's rows of each code)."""
    spreads = np.zeros(len(counts))
    for j, count in enumerate(counts):
        share = count / count.sum()
        first = sum(
            share[k] @ fold[j].astype(np.float64) for k, fold in enumerate(fold_tables)
        )
        second = sum(
            share[k] @ fold[j].astype(np.float64) ** 2
            for k, fold in enumerate(fold_tables)
        )
        spreads[j] = float((second - first**2).sum())
    return spreads


def out_of_fold_features(
    frame,
    table: StreamedTable,
    fold_tables: list[list[np.ndarray]],
    seed: int,
    passthrough: list[str],
    names: list[str],
):
    """The training rows' features as a lazy Dask DataFrame of ``frame``'s
    partitions (the streamed pieces): each row's vectors from its fold's
    ``fold_tables`` (already scaled), then the ``passthrough`` columns."""
    vocabulary, offsets = table.vocabulary, table.offsets
    n_folds = len(fold_tables)
    meta = pd.DataFrame({name: pd.Series(dtype=np.float32) for name in names})

    def features(part: pd.DataFrame, partition_info=None) -> pd.DataFrame:
        number = partition_info["number"]
        codes = vocabulary.transform(part[table.categorical])
        folds = folds_of(int(offsets[number]), len(part), n_folds, seed)
        out = np.empty((len(part), len(names)), np.float32)
        width = sum(t.shape[1] for t in fold_tables[0])
        for k, tables in enumerate(fold_tables):
            rows = np.flatnonzero(folds == k)
            out[rows, :width] = np.hstack(
                [t[codes[rows, j]] for j, t in enumerate(tables)]
            )
        if passthrough:
            out[:, width:] = numeric_array(part, passthrough)
        return pd.DataFrame(out, columns=names, index=part.index)

    return frame.map_partitions(features, meta=meta)


def finish_embedder(
    fit: StreamedFit,
    network,
    history: list[dict],
    *,
    cv,
    test_id_columns: bool,
    feature_scale: str | None,
    report,
) -> tuple[EmbedderFit, list[list[np.ndarray]] | None]:
    """:func:`entembed._embedder_fit.fit_embedder` for a streamed fit: whether
    to cross-fit (``cv="auto"``: where a column is ID-like; the memorising
    test needs the rows in memory and is not run), the folds and their test,
    the served network and its scales; and each fold's served tables, for the
    training rows' features (None: in-sample)."""
    from ._embedder_fit import (
        _epochs_to_best,
        _report_test,
        balanced_scales,
        spreads_by_counts,
    )

    table = fit.table
    judged = id_like(table)
    n_folds = cv
    if cv == "auto":
        n_folds = AUTO_FOLDS if judged else None
        report(_auto_story(table, judged))
    if not (cv == "auto" and test_id_columns):
        judged = []
    counts = table.vocabulary.code_counts()
    tables, fold_tables, constant = list(network.tables), None, []
    if n_folds:
        crossed = cross_fit(fit, network, _epochs_to_best(history), n_folds, judged)
        constant = crossed.constant
        _report_test(report, table.categorical, judged, constant)
        if crossed.fold_tables is not None:
            tables, fold_tables = crossed.mean_tables(), crossed.fold_tables
        else:
            n_folds = None
    _constant(tables, fold_tables, constant, counts)
    if fold_tables is None:
        spreads = spreads_by_counts(tables, counts)
    else:
        spreads = mixture_spreads(fold_tables, crossed.fold_counts)
    factors = np.ones(len(tables))
    if feature_scale is not None:
        factors = balanced_scales(spreads)
    served = network.serving(tables, constant)
    if feature_scale is not None:
        served = served.scaled(factors)
        for fold in fold_tables or []:
            fold[:] = [t * f for t, f in zip(fold, factors, strict=True)]
    done = EmbedderFit(
        network=served,
        cv=n_folds,
        constant_columns=[table.categorical[j] for j in constant],
        feature_scales=factors,
    )
    return done, fold_tables


def _constant(tables, fold_tables, columns: list[int], counts) -> None:
    """Make each of ``columns`` one vector, in the served tables and every
    fold's: its mean over the table's rows (``counts``: the rows of each
    code)."""
    for j in columns:
        mean = counts[j] @ tables[j].astype(np.float64) / counts[j].sum()
        tables[j] = np.tile(mean.astype(np.float32), (len(tables[j]), 1))
        for fold in fold_tables or []:
            fold[j] = tables[j]


def _auto_story(table: StreamedTable, judged: list[int]) -> str:
    """What ``cv="auto"`` decided for a streamed fit, and why."""
    if not judged:
        return (
            "cv='auto' serves in-sample features (one streamed fit): no "
            "embedded column is ID-like (the test of columns that memorise, "
            "10 to 50 rows per category, needs the rows in memory and is not "
            "run on a streamed fit)."
        )
    named = ", ".join(
        f"{table.categorical[j]!r} ({per_category(table, j):.1f} training rows "
        "per category)"
        for j in judged
    )
    return (
        f"cv='auto' cross-fits in {AUTO_FOLDS} folds ({AUTO_FOLDS} more streamed "
        f"fits): {named} is ID-like, so in-sample vectors would carry their "
        "rows' targets to a downstream model."
    )
