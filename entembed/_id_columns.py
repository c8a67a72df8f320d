"""Tests of ID-like columns: which columns have so few rows per category that
their in-sample vectors carry their rows' targets, and whether a column's
vectors lower the loss of rows they did not train on.

:class:`~entembed.EntityEmbedder` runs them on its cross-fitting folds (and
serves a failing column's mean vector), the predictors on their validation
rows (and fit again without it). numpy only: they read a fitted
:class:`~entembed._numpy_network.NumpyNetwork`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ._vocabulary import N_RESERVED_CODES

if TYPE_CHECKING:
    from ._base import EncodedTable

# A column with fewer training rows per category than ID_LIKE_ROWS on average
# is ID-like; one with fewer than MEMORISING_ROWS counts as ID-like too where
# its fit shows its vectors memorise (memorising_columns).
ID_LIKE_ROWS = 10
MEMORISING_ROWS = 50


def validation_rows(encoded: EncodedTable) -> tuple[np.ndarray, np.ndarray]:
    """The fit's (validation, training) row positions, as its data module
    split them: the same seed and fraction give the same rows."""
    from ._data_module import validation_split

    config = encoded.config
    return validation_split(len(encoded.codes), config.validation_fraction, config.seed)


def failing_on_validation(encoded: EncodedTable, network) -> list[int]:
    """The ID-like columns whose vectors do not lower the loss of the fit's
    validation rows beyond chance, by index (none without validation rows)."""
    judged = encoded_id_like_columns(encoded)
    if not judged or encoded.config.validation_fraction <= 0:
        return []
    held_out, trained = validation_rows(encoded)
    gains = rows_gains(encoded, network, judged, trained, held_out)
    if gains is None:  # validation rows of zero weight: nothing to test on
        return []
    return [j for j in judged if not informative(gains[j])]


def encoded_id_like_columns(encoded: EncodedTable) -> list[int]:
    """:func:`id_like_columns` of a fit's encoded rows (the vocabulary's kept
    categories; the reserved codes are not counted)."""
    levels = [n - N_RESERVED_CODES for n in encoded.config.cardinalities]
    return id_like_columns(len(encoded.codes), levels)


def id_like_columns(n_rows: int, n_categories: Sequence[int]) -> list[int]:
    """The columns with fewer than ``ID_LIKE_ROWS`` rows per category, by index.

    Such a column's vectors learn from a few rows each, so in-sample features
    carry those rows' targets, and a downstream model trained on them trusts
    them more than it should on new rows. The threshold comes from the
    quality page (``benchmarks/results/quality.md``, "When does fit_transform
    cross-fit?"): cross-fitting helped gradient boosting on every table with
    such a column, and on none of those whose columns have many more rows
    per category.

    Parameters
    ----------
    n_rows : int
        Training rows.
    n_categories : sequence of int
        Each column's categories (reserved codes not counted).

    Returns
    -------
    list of int
    """
    return [
        j for j, k in enumerate(n_categories) if 0 < k and n_rows < ID_LIKE_ROWS * k
    ]


def memorising_columns(encoded: EncodedTable, network) -> list[int]:
    """The columns with ``ID_LIKE_ROWS`` to ``MEMORISING_ROWS`` rows per
    category whose fitted vectors memorise their rows, by index.

    A column memorises where its vectors lower the loss of the rows the
    network trained on more than that of the fit's validation rows, beyond
    chance: each row's gain (:func:`held_out_gains`, against the column's mean
    vector) on as many training rows, drawn with the fit's seed, as there are
    validation rows, against the validation rows' gains, a one-sided Welch
    test at two standard errors. In-sample features of such a column carry
    their rows' targets as an ID-like column's do, so ``cv="auto"`` treats it
    as one. Columns with more rows per category are not tested: they leak
    less than cross-fitting costs them. Both measured on the time-to-quality
    pages (``benchmarks/results/time_to_quality_at_scale.md``).

    Parameters
    ----------
    encoded : EncodedTable
        The fit's encoded rows and settings.
    network : NumpyNetwork
        The network fitted on them.

    Returns
    -------
    list of int
    """
    config = encoded.config
    n_rows = len(encoded.codes)
    levels = [n - N_RESERVED_CODES for n in config.cardinalities]
    candidates = [
        j
        for j, k in enumerate(levels)
        if 0 < k and ID_LIKE_ROWS * k <= n_rows < MEMORISING_ROWS * k
    ]
    if not candidates or config.validation_fraction <= 0:
        return []
    held_out, trained = validation_rows(encoded)
    drawn = np.random.default_rng(config.seed).choice(
        trained, size=min(len(trained), len(held_out)), replace=False
    )
    fitted = rows_gains(encoded, network, candidates, trained, np.sort(drawn))
    new = rows_gains(encoded, network, candidates, trained, held_out)
    if fitted is None or new is None:
        return []
    return [j for j in candidates if memorised(fitted[j], new[j])]


def rows_gains(
    encoded: EncodedTable, network, columns, trained: np.ndarray, rows: np.ndarray
) -> dict[int, np.ndarray] | None:
    """:func:`held_out_gains` of ``columns`` on the fit's ``rows``, against
    their mean vectors over its ``trained`` rows, each row counted by its
    sample weight; None where those rows weigh nothing."""
    gains = held_out_gains(
        network,
        columns,
        encoded.codes[trained],
        encoded.codes[rows],
        encoded.numeric[rows],
        encoded.target.values[rows],
        encoded.config.task,
    )
    if encoded.sample_weight is None:
        return gains
    weight = encoded.sample_weight[rows]
    return weighted_gains(gains, weight) if weight.sum() > 0 else None


def memorised(fitted: np.ndarray, new: np.ndarray) -> bool:
    """Whether rows' gains on the rows the vectors trained on exceed those on
    new rows beyond chance: the difference of their means over two standard
    errors (Welch's, one-sided at about 2.5%)."""
    if len(fitted) < 2 or len(new) < 2:
        return False
    error = np.sqrt(fitted.var(ddof=1) / len(fitted) + new.var(ddof=1) / len(new))
    return bool(fitted.mean() - new.mean() > 2 * error)


def held_out_gains(
    network, columns, train_codes, codes, numeric, target, task: str
) -> dict[int, np.ndarray]:
    """How much each column's vectors lower a fold model's loss on each row it
    did not train on: the row's loss with the column's mean vector over the
    fold's training rows in place of its own, minus its loss with its own.

    Where they average zero or less, the column's vectors did not generalise
    beyond the rows they learned from: an ID-like column of noise memorises
    its few rows per category, and gives new rows noise.
    """
    means = {j: mean_vector(network.tables[j], train_codes[:, j]) for j in columns}
    output, without = network.outputs_without(codes, numeric, means)
    own = row_losses(output, target, task)
    return {j: row_losses(without[j], target, task) - own for j in columns}


def weighted_gains(
    gains: dict[int, np.ndarray], weight: np.ndarray
) -> dict[int, np.ndarray]:
    """Each row's held-out gain counted by its sample weight (scaled to mean 1)."""
    return {j: gain * weight / weight.mean() for j, gain in gains.items()}


def mean_vector(table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """A column's mean vector over rows (``codes``: each row's code), float32."""
    return table[codes].mean(axis=0, dtype=np.float64).astype(np.float32)


def informative(gains: np.ndarray) -> bool:
    """Whether rows' held-out gains are positive beyond chance: their mean
    over two standard errors (a one-sided test at about 2.5%)."""
    if len(gains) < 2:
        return False
    return bool(gains.mean() > 2 * gains.std(ddof=1) / np.sqrt(len(gains)))


def row_losses(output, target, task: str) -> np.ndarray:
    """Each row's training loss, as numbers: the squared error (regression,
    mean over the outputs), binary or categorical cross-entropy (on logits)."""
    output = np.asarray(output, dtype=np.float64)
    target = np.asarray(target)
    if task == "regression":
        losses = ((output - target.reshape(output.shape)) ** 2).mean(axis=1)
    elif task == "binary":
        logit, label = output[:, 0], target.reshape(-1).astype(np.float64)
        losses = np.logaddexp(0.0, logit) - label * logit
    else:
        shifted = output - output.max(axis=1, keepdims=True)
        log_total = np.log(np.exp(shifted).sum(axis=1))
        picked = shifted[np.arange(len(output)), target.reshape(-1).astype(np.intp)]
        losses = log_total - picked
    return losses
