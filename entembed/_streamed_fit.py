"""An estimator's fit on a table larger than memory: a Dask DataFrame (or a
Parquet file or folder from the command line) read piece by piece.

:func:`fit` fits an estimator so. :func:`begin` reads the table once
(:func:`~entembed._streaming.first_pass`) and settles what the fit needs
before training; :func:`held_out_gains` tests
the ID-like columns on rows read again piece by piece (the validation rows,
or a fold's held-out rows, :mod:`entembed._streamed_cross_fit`). The training
itself is :func:`entembed._training.fit_streamed`. No torch here.

A streamed fit differs from one in memory where a setting needs every row at
hand: it refuses ``warm_start`` and ``shrinkage="auto"``, each with what to
use instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from ._id_columns import row_losses
from ._streaming import Rows, RowSource, StreamedTable, dask_source, first_pass
from ._training_config import StartingPoint, TrainingConfig, check_memory
from ._vocabulary import N_RESERVED_CODES, CategoryVocabulary


@dataclass(frozen=True)
class StreamedFit:
    """A streamed fit's table and what it settled before training."""

    table: StreamedTable
    config: TrainingConfig
    start: StartingPoint | None
    embedding_dims: dict[str, int]
    string_features: dict


def begin(estimator, X, y, sample_weight=None) -> StreamedFit:
    """Check the estimator's settings for a streamed fit, read the table once
    and settle the vocabulary, widths, target, scalings and starting tables."""
    estimator._validate_params()
    check_streamable(estimator)
    source = X if isinstance(X, RowSource) else dask_source(X, y, sample_weight)
    table = first_pass(
        source,
        categorical_columns=estimator.categorical_columns,
        numeric_columns=estimator.numeric_columns,
        vocabulary=CategoryVocabulary(**estimator._vocabulary_params()),
        task=estimator._target_task(),
    )
    columns, vocabulary = table.categorical, table.vocabulary
    dims, start = estimator._fresh_tables(vocabulary, columns, table.n_rows)
    hashing, pieces = estimator._string_pieces(vocabulary, columns)
    config = TrainingConfig.from_params(
        estimator.get_params(),
        task=table.task,
        n_outputs=table.n_outputs,
        cardinalities=vocabulary.cardinalities_,
        embedding_dims=list(dims.values()),
        numeric_columns=table.numeric,
        seed=int(check_random_state(estimator.random_state).randint(2**31 - 1)),
        table_names=columns,
        pieces=pieces,
    )
    check_memory(config, 0)  # the tables; the rows stay on disk
    return StreamedFit(table, config, start, dims, hashing)


def fit(estimator, X, y, sample_weight=None) -> StreamedFit:
    """Fit ``estimator`` on a streamed table: :func:`begin`, its checks and
    training (its ``_check_stream`` and ``_train_streamed``), and its fitted
    state set once; return the :class:`StreamedFit`."""
    started = begin(estimator, X, y, sample_weight)
    estimator._check_stream(started)
    network, history, constant = estimator._train_streamed(started)
    table = started.table
    estimator._set_fitted(
        vocabulary=table.vocabulary,
        network=network,
        task=table.task,
        categorical_columns=table.categorical,
        numeric_columns=table.numeric,
        embedding_dims=started.embedding_dims,
        history=pd.DataFrame(history),
        columns=table.columns,
        has_names=True,
        classes=table.classes,
        string_features=started.string_features,
    )
    estimator.constant_columns_ = list(constant)
    return started


def check_streamable(estimator) -> None:
    """Refuse, before any row is read, settings a streamed fit cannot honour."""
    name = type(estimator).__name__
    if estimator.warm_start and hasattr(estimator, "network_"):
        raise ValueError(
            f"{name}(warm_start=True) cannot continue on a Dask DataFrame: a "
            "streamed fit starts afresh. Set warm_start=False, or pass the "
            "fitted tables as init_embeddings=model.embeddings_."
        )
    if estimator.shrinkage == "auto":
        raise ValueError(
            f"{name}(shrinkage='auto') reads the target's spread within every "
            "category, which a streamed fit does not hold. Pass a number of "
            "rows (e.g. shrinkage=10), or 0."
        )


def id_like(table: StreamedTable) -> list[int]:
    """The ID-like columns of a streamed table, by index (as in memory)."""
    from ._id_columns import id_like_columns

    levels = [n - N_RESERVED_CODES for n in table.vocabulary.cardinalities_]
    return id_like_columns(table.n_rows, levels)


def per_category(table: StreamedTable, j: int) -> float:
    """Training rows per category of column ``j``."""
    levels = table.vocabulary.cardinalities_[j] - N_RESERVED_CODES
    return table.n_rows / max(levels, 1)


def held_out_gains(
    fit: StreamedFit,
    network,
    columns: list[int],
    rows: Rows,
    counts: list[np.ndarray],
) -> dict[int, np.ndarray]:
    """For each of ``columns``, the sums that :func:`gain_statistics` reads
    of how much the column's vectors lower the loss of each of ``rows`` (read
    piece by piece) against its mean vector over rows of ``counts`` (by
    column, the rows of each code): the in-memory test's statistic,
    :func:`entembed._id_columns.held_out_gains`, without holding the rows.
    A fold's ``network`` serves the categories it never trained on as
    ``transform`` would (:func:`entembed._cross_fit.as_the_fold_serves`)."""
    from ._stream_data import StreamBatches, counted

    table, task = fit.table, fit.config.task
    means = {
        j: (counts[j] @ network.tables[j].astype(np.float64) / counts[j].sum()).astype(
            np.float32
        )
        for j in columns
    }
    batches = StreamBatches(
        table, rows, counted(table, rows), train=False, batch_size=1 << 16, seed=0
    )
    # rows, weight, and the sums of each row's gain and its square, each gain
    # counted by its weight (as the in-memory test weighs them)
    sums = {j: np.zeros(4) for j in columns}
    for batch in batches:
        arrays = {k: v.numpy() for k, v in batch.items()}
        codes = arrays["codes"]
        numeric = arrays.get("numeric", np.zeros((len(codes), 0), np.float32))
        output, without = network.outputs_without(codes, numeric, means)
        target = _unscaled(arrays["target"], table)
        own = row_losses(output, target, task)
        weight = arrays.get("weight", np.ones(len(own)))
        for j in columns:
            gain = (row_losses(without[j], target, task) - own) * weight
            sums[j] += [len(gain), weight.sum(), gain.sum(), gain @ gain]
    return sums


def gain_statistics(sums: np.ndarray) -> tuple[int, float, float]:
    """The count, mean and standard deviation of rows' gains from the sums
    :func:`held_out_gains` returns (added up over folds, as they may be)."""
    n, total, first, second = sums
    if not total:  # rows of zero weight: nothing to test on
        return 0, 0.0, 0.0
    scale = n / total  # gains over the mean weight
    mean = first * scale / n
    variance = max(second * scale**2 / n - mean**2, 0.0)
    return int(n), float(mean), float(np.sqrt(variance))


def _unscaled(target: np.ndarray, table: StreamedTable) -> np.ndarray:
    """A batch's target as the numpy network's outputs read it (a regression's
    in its own units)."""
    if table.target_mean is None or table.target_scale is None:  # not regression
        return target
    return target * table.target_scale[0] + table.target_mean[0]


def informative(count: int, mean: float, std: float) -> bool:
    """:func:`entembed._id_columns.informative` from a count, mean and
    standard deviation."""
    if count < 2:
        return False
    return bool(mean > 2 * std * np.sqrt(count / (count - 1)) / np.sqrt(count))
