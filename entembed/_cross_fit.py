"""Cross-fitting: out-of-fold embedding features for the training rows.

With ``EntityEmbedder(cv=k).fit_transform`` (by default where a column is
ID-like), each training row's vectors come from a model trained on the other
folds, so a downstream model does not learn from vectors that already saw its
row's target. Folds reuse the full fit's codes (no string is hashed again), its
training settings and its seed, and their vectors are rotated onto the full
model's axes. The tables served afterwards are the average of the k rotated
fold tables: new rows then get vectors of the kind the downstream model was
trained on. The folds' held-out rows also tell which columns' vectors
generalise at all (:func:`~entembed._id_columns.held_out_gains`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from numbers import Integral
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, check_cv

from ._id_columns import held_out_gains, informative, weighted_gains
from ._numpy_network import output_columns
from ._vocabulary import N_RESERVED_CODES, UNKNOWN_CODE

if TYPE_CHECKING:
    from ._base import EncodedTable


# ``cv="auto"`` cross-fits in this many folds (as TargetEncoder does) where a
# column is ID-like (see _id_columns).
AUTO_FOLDS = 5


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
    pairs: np.ndarray | None = None


def cross_fitted_embeddings(
    encoded: EncodedTable,
    cv,
    tables: list[np.ndarray],
    *,
    epochs: int | None = None,
    predict: bool = False,
    pairs: bool = False,
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
    pairs : bool, default=False
        Also return each row's out-of-fold products of its columns'
        projected vectors (:meth:`NumpyNetwork.pair_products`,
        ``interactions="fm"``).
    gains_of : sequence of int, default=()
        Columns whose held-out gains to measure (see :func:`held_out_gains`).

    Returns
    -------
    CrossFit
        ``features``, shape (n_rows, sum of widths), float32; ``predictions``,
        shape (n_rows, n_outputs), float32, or None; ``pairs``, shape
        (n_rows, n_pairs), float32, or None; ``mean_tables``: per
        column, the mean over folds of each fold's table rotated onto
        ``tables``' axes, a category the fold never trained on read as its
        unknown vector (what the fold served such a row); ``held_out_gains``:
        for each column of ``gains_of``, each row's held-out gain. Where no
        column of ``gains_of`` has :func:`informative` gains, ``features`` and
        ``mean_tables`` are None: the caller serves in-sample features.
    """
    from ._training import fit_network

    config = fold_config(encoded.config, epochs)
    codes, target = encoded.codes, encoded.target.values
    splitter = _splitter(cv, config, target)
    weight = encoded.sample_weight
    served = _FoldMean(tables, len(codes))
    # With columns to test, rotating the folds waits for the test: where no
    # tested column generalises, the caller serves in-sample features and
    # the rotations (a product of each table with itself per fold) would go
    # unused. Meanwhile the folds' tables are held (k per column instead of a
    # running sum).
    waiting = []
    held_out = {}
    if predict:
        held_out["predictions"] = np.empty((len(codes), config.n_outputs), np.float32)
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
        seen = [_seen(codes[train, j], len(t)) for j, t in enumerate(fold.tables)]
        fold = as_the_fold_serves(fold, seen, config.pieces)
        waiting.append((fold.tables, seen, test))
        if not gains:
            served.add(*waiting.pop(), codes)
        if pairs and "pairs" not in held_out:
            held_out["pairs"] = np.empty((len(codes), fold.n_pairs), np.float32)
        _on_held_out_rows(fold, encoded, train, test, held_out, gains)
    if weight is not None:
        gains = weighted_gains(gains, weight)
    predictions, products = held_out.get("predictions"), held_out.get("pairs")
    if gains and not any(informative(gain) for gain in gains.values()):
        return CrossFit(None, predictions, None, gains, products)
    for waited in waiting:
        served.add(*waited, codes)
    return CrossFit(served.features, predictions, served.mean_tables(), gains, products)


def fold_config(config, epochs: int | None):
    """The settings each fold trains with: the full fit's, for the ``epochs``
    it took to its best validation loss, with no validation rows and no early
    stopping (None: the full fit's settings). The full fit already found how
    long to train: the folds need no validation rows to find it again (a
    quarter to a third fewer epochs, and a tenth more rows to learn from)."""
    if epochs is None:
        return config
    return replace(
        config,
        max_epochs=epochs,
        validation_fraction=0.0,
        patience=None,
        schedule_epochs=config.schedule_epochs or config.max_epochs,
    )


def _on_held_out_rows(fold, encoded, train, test, outputs, gains):
    """Fill the ``test`` rows' out-of-fold ``outputs`` (``"predictions"``,
    ``"pairs"``: those asked for) and ``gains`` (by column) from the ``fold``
    model, which saw only the ``train`` rows' categories."""
    codes, task = encoded.codes, encoded.config.task
    held_out = codes[test]
    if "predictions" in outputs:
        outputs["predictions"][test] = output_columns(
            fold.forward(held_out, encoded.numeric[test]), task
        )
    if "pairs" in outputs:
        outputs["pairs"][test] = fold.pair_products(held_out)
    if gains:
        found = held_out_gains(
            fold,
            list(gains),
            codes[train],
            held_out,
            encoded.numeric[test],
            encoded.target.values[test],
            task,
        )
        for j, gain in gains.items():
            gain[test] = found[j]


def _splitter(cv, config, target):
    """``cv`` as a splitter: an int gives shuffled folds (stratified for
    classes) seeded by the full fit's seed."""
    classifier = config.task != "regression"
    if isinstance(cv, Integral):
        splitter_class = StratifiedKFold if classifier else KFold
        return splitter_class(cv, shuffle=True, random_state=config.seed)
    return check_cv(cv, target, classifier=classifier)


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

    def add(self, fold_tables, seen, test, codes) -> None:
        turned = rotated(self.tables, fold_tables, seen)
        self.features[test] = _embed(turned, codes[test])
        for total, table in zip(self.sums, turned, strict=True):
            total += table
        self.n_folds += 1

    def mean_tables(self) -> list[np.ndarray]:
        return [(total / self.n_folds).astype(np.float32) for total in self.sums]


def _seen(train_column: np.ndarray, size: int) -> np.ndarray:
    """Which of ``size`` codes a fold trained on (the reserved ones always)."""
    seen = np.zeros(size, dtype=bool)
    seen[train_column] = True
    seen[:N_RESERVED_CODES] = True
    return seen


def as_the_fold_serves(fold, seen: list[np.ndarray], pieces=()):
    """The ``fold`` network with the categories it never trained on (by
    column, ``seen`` is False) served as ``transform`` serves new ones: the
    unknown vector, plus the mean of their pieces' vectors in a column cut
    into pieces of text (``pieces``: by column, its
    :class:`~entembed._string_features.CodePieces` or None)."""
    tables = list(fold.tables)
    for j, table in enumerate(tables):
        unseen = np.flatnonzero(~seen[j])
        if not len(unseen):  # the fold saw every category: served as it is
            continue
        tables[j] = table = table.copy()
        found = pieces[j] if j < len(pieces) else None
        if found is None or fold.pieces is None or fold.pieces[j] is None:
            table[unseen] = table[UNKNOWN_CODE]
        else:
            table[unseen] = fold.unseen_vectors(j, *found.rows(unseen))
    return replace(fold, tables=tables)


def rotated(tables, fold_tables, seen) -> list[np.ndarray]:
    """The fold model's tables (as it serves them, :func:`as_the_fold_serves`)
    in the full model's axes.

    An orthogonal rotation fitted on the rows the fold trained (the categories
    it saw and the reserved rows) absorbs what orientation the two trainings
    still differ by, without changing the fold's geometry.
    """
    return [
        fold_table @ procrustes_rotation(fold_table[known], table[known])
        for table, fold_table, known in zip(tables, fold_tables, seen, strict=True)
    ]


def _embed(tables, codes) -> np.ndarray:
    """Each row's vectors from ``tables``, columns side by side."""
    return np.hstack([table[codes[:, j]] for j, table in enumerate(tables)])
