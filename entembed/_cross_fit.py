"""Cross-fitting: out-of-fold embedding features for the training rows.

With ``EntityEmbedder(cv=k).fit_transform`` (by default where a column is
ID-like), each training row's vectors come from a model trained on the other
folds, so a downstream model does not learn from vectors that already saw its
row's target. Folds reuse the full fit's codes (no string is hashed again), its
training settings and its seed, and their vectors are rotated onto the full
model's axes. The tables served afterwards are the average of the k rotated
fold tables: new rows then get vectors of the kind the downstream model was
trained on. The folds' held-out rows also tell which columns' vectors
generalise at all (:func:`held_out_gains`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from numbers import Integral
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, check_cv

from ._numpy_network import output_columns
from ._vocabulary import N_RESERVED_CODES, UNKNOWN_CODE

if TYPE_CHECKING:
    from ._base import EncodedTable


# ``cv="auto"`` cross-fits in this many folds (as TargetEncoder does) where a
# column has fewer training rows per category than ID_LIKE_ROWS on average.
AUTO_FOLDS = 5
ID_LIKE_ROWS = 10
# A column with fewer than MEMORISING_ROWS rows per category on average counts
# as ID-like too where its fit shows its vectors memorise (memorising_columns).
MEMORISING_ROWS = 50


def encoded_id_like_columns(encoded: EncodedTable) -> list[int]:
    """:func:`id_like_columns` of a fit's encoded rows (the vocabulary's kept
    categories; the reserved codes are not counted)."""
    levels = [n - N_RESERVED_CODES for n in encoded.config.cardinalities]
    return id_like_columns(len(encoded.codes), levels)


def id_like_columns(n_rows: int, n_categories: Sequence[int]) -> list[int]:
    """The columns with fewer than ``ID_LIKE_ROWS`` rows per category, by index.

    Such a column's vectors learn from a few rows each, so in-sample features
    carry those rows' targets, and a downstream model trained on them trusts
    them more than it should on new rows. Measured on the quality page's nine
    tables (3 splits): cross-fitting improved gradient boosting on all six
    tables with such a column (flights ROC AUC 0.614 -> 0.670, road deaths
    0.817 -> 0.878, loans RMSE 4.25 -> 3.98) and on none of the three without
    (hotels RMSE 14.52 -> 15.16, police force accuracy 0.810 -> 0.807, grants
    equal), whose columns have over 60 rows per category on average.

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
    as one. Measured on flights (the time-to-quality page at scale, 3 random
    splits): at 80,000 rows flight numbers and planes have 13-15 rows per
    category (test statistics 10.3 and 4.5 on one split), and gradient
    boosting scored ROC AUC 0.655 on their in-sample features, 0.700 with
    this test (target encoding 0.704); at 200,000 rows (28 and 37 rows per
    category) 0.684 against 0.712 (0.714). Columns with more rows per
    category are not tested: hotels' and the police force's (58 and more)
    memorise measurably too (statistics up to 3.4), yet cross-fitting those
    tables cost them more than the leak (the quality page).

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
    from ._data_module import validation_split

    held_out, trained = validation_split(
        n_rows, config.validation_fraction, config.seed
    )
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


def procrustes_rotation(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Orthogonal R minimising ||source @ R - target|| (Schönemann, 1966)."""
    u, _, vt = np.linalg.svd(source.T.astype(np.float64) @ target, full_matrices=False)
    return (u @ vt).astype(np.float32)


class CrossFit(NamedTuple):
    """What :func:`cross_fitted_embeddings` returns."""

    features: np.ndarray | None
    predictions: np.ndarray | None
    mean_tables: list[np.ndarray] | None
    held_out_gains: dict[int, np.ndarray]


def cross_fitted_embeddings(
    encoded: EncodedTable,
    cv,
    tables: list[np.ndarray],
    *,
    epochs: int | None = None,
    predict: bool = False,
    gains_of: Sequence[int] = (),
) -> CrossFit:
    """Each row's vectors (and prediction) from the fold model that did not
    train on it, and the fold models' average tables.

    Parameters
    ----------
    encoded : EncodedTable
        The full fit's encoded rows and training settings.
    cv : int, cross-validation generator or iterable of splits
        An int ``k`` gives k shuffled folds, stratified for classification and
        seeded by the full fit's seed.
    tables : list of ndarray
        The full model's tables, whose axes the fold vectors are rotated onto.
    epochs : int or None, default=None
        The epochs the full fit took to its best validation loss: each fold
        trains that many on all its rows, with no validation split and no
        early stopping (None: the full fit's settings, validation included).
    predict : bool, default=False
        Also return each row's out-of-fold prediction (see
        :func:`~entembed._numpy_network.output_columns`).
    gains_of : sequence of int, default=()
        Columns whose held-out gains to measure (see :func:`held_out_gains`).

    Returns
    -------
    CrossFit
        ``features``, shape (n_rows, sum of widths), float32; ``predictions``,
        shape (n_rows, n_outputs), float32, or None; ``mean_tables``: per
        column, the mean over folds of each fold's table rotated onto
        ``tables``' axes, a category the fold never trained on read as its
        unknown vector (what the fold served such a row); ``held_out_gains``:
        for each column of ``gains_of``, each row's held-out gain. Where no
        column of ``gains_of`` has :func:`informative` gains, ``features`` and
        ``mean_tables`` are None: the caller serves in-sample features.
    """
    from ._training import fit_network

    config, codes, target = encoded.config, encoded.codes, encoded.target.values
    if epochs is not None:
        # The full fit already found how long to train: the folds need no
        # validation rows to find it again (a quarter to a third fewer epochs,
        # and a tenth more rows to learn from).
        config = replace(
            config,
            max_epochs=epochs,
            validation_fraction=0.0,
            patience=None,
            schedule_epochs=config.schedule_epochs or config.max_epochs,
        )
    classifier = config.task != "regression"
    if isinstance(cv, Integral):
        splitter_class = StratifiedKFold if classifier else KFold
        splitter = splitter_class(cv, shuffle=True, random_state=config.seed)
    else:
        splitter = check_cv(cv, target, classifier=classifier)
    weight = encoded.sample_weight
    served = _FoldMean(tables, len(codes))
    # With columns to test, rotating the folds waits for the test: where no
    # tested column generalises, the caller serves in-sample features and
    # the rotations (a product of each table with itself per fold: 0.3 s of
    # a 2.5 s fit on road deaths) would go unused. Meanwhile the folds'
    # tables are held (k per column instead of a running sum).
    waiting = []
    predictions = None
    gains = {j: np.empty(len(codes)) for j in gains_of}
    n_folds = splitter.get_n_splits(codes, target)
    for k, (train, test) in enumerate(splitter.split(codes, target), start=1):
        # The fold learns with the full model's codes and starting weights: a
        # category's row starts where it started there, and plain SGD moves it
        # only by what the fold's rows teach. The fold's tables then differ
        # from the full model's by what the held-out rows taught, not by an
        # arbitrary orientation, and trees' split points carry over.
        fold, _ = fit_network(
            replace(config, progress_label=f"fold {k}/{n_folds}"),
            codes[train],
            encoded.numeric[train],
            target[train],
            None if weight is None else weight[train],
            encoded.start,
        )
        waiting.append((fold.tables, train, test))
        if not gains:
            served.add(*waiting.pop(), codes)
        if predict or gains:
            held_out = _as_the_fold_saw(codes[train], codes[test])
        if predict:
            output = output_columns(
                fold.forward(held_out, encoded.numeric[test]), config.task
            )
            if predictions is None:
                predictions = np.empty((len(codes), output.shape[1]), np.float32)
            predictions[test] = output
        if gains:
            found = held_out_gains(
                fold,
                list(gains),
                codes[train],
                held_out,
                encoded.numeric[test],
                target[test],
                config.task,
            )
            for j, gain in gains.items():
                gain[test] = found[j]
    if weight is not None:
        gains = weighted_gains(gains, weight)
    if gains and not any(informative(gain) for gain in gains.values()):
        return CrossFit(None, predictions, None, gains)
    for waited in waiting:
        served.add(*waited, codes)
    return CrossFit(served.features, predictions, served.mean_tables(), gains)


class _FoldMean:
    """The rows' out-of-fold vectors and the folds' mean tables, a fold at a
    time: each fold's tables rotated onto the full model's (``tables``)."""

    def __init__(self, tables: list[np.ndarray], n_rows: int) -> None:
        self.tables = tables
        self.features = np.empty(
            (n_rows, sum(t.shape[1] for t in tables)), dtype=np.float32
        )
        self.sums = [np.zeros(t.shape, np.float64) for t in tables]
        self.n_folds = 0

    def add(self, fold_tables, train, test, codes) -> None:
        rotated = _rotated(self.tables, fold_tables, codes[train])
        self.features[test] = _embed(rotated, codes[test])
        for total, table in zip(self.sums, rotated, strict=True):
            total += table
        self.n_folds += 1

    def mean_tables(self) -> list[np.ndarray]:
        return [(total / self.n_folds).astype(np.float32) for total in self.sums]


def weighted_gains(
    gains: dict[int, np.ndarray], weight: np.ndarray
) -> dict[int, np.ndarray]:
    """Each row's held-out gain counted by its sample weight (scaled to mean 1)."""
    return {j: gain * weight / weight.mean() for j, gain in gains.items()}


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


def _seen(train_column: np.ndarray, size: int) -> np.ndarray:
    """Which of ``size`` codes a fold trained on (the reserved ones always)."""
    seen = np.zeros(size, dtype=bool)
    seen[train_column] = True
    seen[:N_RESERVED_CODES] = True
    return seen


def _as_the_fold_saw(train_codes: np.ndarray, test_codes: np.ndarray) -> np.ndarray:
    """Held-out codes, those of categories the fold never trained on made
    unknown: the fold serves them as ``transform`` serves new categories."""
    test_codes = test_codes.copy()
    for j in range(test_codes.shape[1]):
        column = test_codes[:, j]
        size = max(train_codes[:, j].max(), column.max(), N_RESERVED_CODES - 1) + 1
        column[~_seen(train_codes[:, j], size)[column]] = UNKNOWN_CODE
    return test_codes


def _rotated(tables, fold_tables, train_codes) -> list[np.ndarray]:
    """The fold model's tables in the full model's axes, as the fold serves
    them: categories it never saw read its unknown vector, as new categories
    do in ``transform``.

    An orthogonal rotation fitted on the rows the fold trained (the categories
    it saw and the reserved rows) absorbs what orientation the two trainings
    still differ by, without changing the fold's geometry.
    """
    rotated = []
    for j, (table, fold_table) in enumerate(zip(tables, fold_tables, strict=True)):
        seen = _seen(train_codes[:, j], len(table))
        turned = fold_table @ procrustes_rotation(fold_table[seen], table[seen])
        turned[~seen] = turned[UNKNOWN_CODE]
        rotated.append(turned)
    return rotated


def _embed(tables, codes) -> np.ndarray:
    """Each row's vectors from ``tables``, columns side by side."""
    return np.hstack([table[codes[:, j]] for j, table in enumerate(tables)])
