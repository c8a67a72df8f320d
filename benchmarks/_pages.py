"""What the benchmark pages share: the quality tables and their splits, a
cell's mean ± std, markdown rows and tables, and comparisons of scores where
higher or lower is better (timing and memory: ``_timing``).

The pages measure entembed through its public API, and through these few
internals, imported here once so that a move inside entembed breaks one
file:
- ``_compare``: ``default_encoders``, the downstream models
  (``downstream_models``), their inputs (``model_inputs``: encoder outputs
  beside the standardised numeric columns) and the task's scorer, so that
  the pages score as ``entembed compare`` does;
- ``_columns.is_categorical_dtype`` and ``_target.infer_task``: the columns
  and the task as the estimators read them;
- ``AUTO_FOLDS``, ``ID_LIKE_ROWS``, ``MEMORISING_ROWS``: the thresholds
  ``cv="auto"`` uses, which the quality page explains;
- for the training pages, which time training without the facade (imported
  on first use: they need torch): ``_training.train``, and
  ``_lightning_module.CosineDecay`` and ``TableSGDAdamW``, which the fit floor's
  bare loop uses as the fit does;
- the time-to-quality page times ``import entembed._training`` (what a first
  fit imports) in a fresh process, for each version it compares.
"""

from __future__ import annotations

import argparse
from importlib import import_module

import numpy as np
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

from entembed import EntityEmbedder
from entembed._columns import is_categorical_dtype
from entembed._compare import _models as downstream_models
from entembed._compare import _scaled as model_inputs
from entembed._compare import _scorer as scorer
from entembed._compare import default_encoders
from entembed._cross_fit import AUTO_FOLDS
from entembed._id_columns import ID_LIKE_ROWS, MEMORISING_ROWS
from entembed._target import infer_task
from entembed.datasets import load_dataset

__all__ = [
    "AUTO_FOLDS",
    "ID_LIKE_ROWS",
    "MEMORISING_ROWS",
    "at_least",
    "better",
    "default_encoders",
    "downstream_models",
    "infer_task",
    "is_categorical_dtype",
    "md_row",
    "md_table",
    "mean_std",
    "model_inputs",
    "plus_minus",
    "scorer",
    "table_and_splits",
    "table_arguments",
    "warm_up",
]

# The training internals, imported on first use (they import torch).
_LAZY = {
    "train": "entembed._training",
    "CosineDecay": "entembed._lightning_module",
    "TableSGDAdamW": "entembed._lightning_module",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module '_pages' has no attribute {name!r}")


# ------------------------------------------------------------------ cells
def plus_minus(mean: float, std: float, digits: int | None = None) -> str:
    """A cell: ``mean ± std``, with four and two significant digits, or
    ``digits`` decimals for both."""
    if digits is None:
        return f"{mean:.4g} ± {std:.2g}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def mean_std(values, digits: int | None = None) -> str:
    """A cell: the mean ± standard deviation of ``values`` (:func:`plus_minus`)."""
    return plus_minus(float(np.mean(values)), float(np.std(values)), digits)


def md_row(cells) -> str:
    """One markdown table row."""
    return "| " + " | ".join(cells) + " |"


def md_table(header, rows, align: str = "") -> list[str]:
    """A markdown table's lines: ``align`` holds one of ``l`` (left) or ``r``
    (right) per column, right after the first column by default."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"
    return [md_row(header), rule, *(md_row(row) for row in rows)]


def better(a: float, b: float, higher: bool) -> bool:
    """Whether score ``a`` beats ``b`` (``higher``: higher is better)."""
    return a > b if higher else a < b


def at_least(a: float, b: float, higher: bool) -> bool:
    """Whether score ``a`` is as good as ``b`` or better."""
    return a == b or better(a, b, higher)


# ------------------------------------------------------- the quality tables
def table_and_splits(name: str, rows: int, n_splits: int):
    """One table, its task and scorer, its columns by kind, and the random
    80/20 splits every page scores on (the same for every contender)."""
    X, y = load_dataset(name, n_rows=rows, random_state=0)
    y = np.asarray(y)
    task = infer_task(y)
    splitter = ShuffleSplit if task == "regression" else StratifiedShuffleSplit
    splits = list(splitter(n_splits, test_size=0.2, random_state=0).split(X, y))
    categorical = [c for c in X.columns if is_categorical_dtype(X[c].dtype)]
    numeric = [c for c in X.columns if c not in categorical]
    return X, y, task, scorer(task), splits, categorical, numeric


def table_arguments(description: str, datasets) -> argparse.ArgumentParser:
    """The arguments of the pages on the quality tables: which tables, how many
    rows, how many splits. The same defaults everywhere, so the pages score
    the same splits and can be read against each other."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=list(datasets))
    return parser


def warm_up(name: str) -> None:
    """A first small fit, outside any timing: imports and first calls."""
    X, y, *_ = table_and_splits(name, 500, 1)
    EntityEmbedder(cv=None, max_epochs=1).fit(X, y)
