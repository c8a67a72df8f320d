"""Tables larger than memory: rows read piece by piece (Parquet row groups,
Dask partitions), and the first pass over them that settles what a fit needs
before training.

A :class:`RowSource` is a list of pieces, each read whole into pandas and
dropped after use: at most a few are in memory at a time. The first pass
(:func:`first_pass`) reads every piece once to learn the vocabulary, the
target's classes or scaling, the numeric columns' scaling and each piece's row
count, and raises on bad input (a piece whose column types differ from the
first's, missing targets, an unreadable row group) before any training step.
A row's place in the table (its piece's offset plus its row in the piece)
decides, through a stable hash, whether it validates: every epoch and every
process agrees on the validation rows without holding them.

No torch here: the training layer's data module reads the pieces.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._columns import select_columns
from ._dataframe import check_finite_numeric, numeric_array
from ._target import check_finite_target, infer_task
from ._vocabulary import CategoryVocabulary

TARGET = "__entembed_target__"
WEIGHT = "__entembed_weight__"


class StreamError(ValueError):
    """Bad input found while reading a piece; the message names the piece."""


def is_dask_collection(data) -> bool:
    """Whether ``data`` is a Dask DataFrame or Series (without importing Dask
    where it is not already imported)."""
    return type(data).__module__.split(".")[0] == "dask"


# ----------------------------------------------------------------- pieces
@dataclass(frozen=True)
class ParquetPiece:
    """One row group of one Parquet file."""

    path: str
    row_group: int

    @property
    def label(self) -> str:
        return f"{self.path} (row group {self.row_group})"

    @property
    def fingerprint(self) -> str:
        """What a checkpoint's fingerprint reads of this piece: the file's
        path, size and modification time, and the row group."""
        stat = os.stat(self.path)
        return f"{self.path}:{stat.st_size}:{stat.st_mtime_ns}:{self.row_group}"

    def read(self, columns: Sequence[str] | None) -> pd.DataFrame:
        import pyarrow.parquet as pq

        with pq.ParquetFile(self.path) as file:
            table = file.read_row_group(
                self.row_group, columns=None if columns is None else list(columns)
            )
        return table.to_pandas()


@dataclass(frozen=True)
class DaskPiece:
    """One partition of a Dask DataFrame."""

    frame: Any  # a dask.dataframe.DataFrame (Dask is an optional dependency)
    number: int

    @property
    def label(self) -> str:
        return f"partition {self.number}"

    @property
    def fingerprint(self) -> str:
        """Dask's deterministic name of the frame (a token of how it is
        computed: its files and options, or its data), and the partition."""
        return f"{self.frame._name}:{self.number}"

    def read(self, columns: Sequence[str] | None) -> pd.DataFrame:
        partition = self.frame.partitions[self.number]
        if columns is not None:
            partition = partition[list(columns)]
        return partition.compute()


@dataclass(frozen=True)
class RowSource:
    """A table as pieces read one at a time, with its target (and weight)
    column named ``target`` (``weight``; None: no weights)."""

    pieces: tuple
    target: str
    weight: str | None = None
    description: str = "a table"

    def read(self, index: int, columns: Sequence[str] | None = None):
        """Piece ``index`` as a DataFrame (``columns`` only, where given); an
        error names the piece."""
        piece = self.pieces[index]
        try:
            return piece.read(columns)
        except StreamError:
            raise
        except Exception as exc:
            raise StreamError(
                f"cannot read {piece.label} of {self.description}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc


def parquet_source(
    path, target: str, weight: str | None = None, columns=None
) -> RowSource:
    """The row groups of a Parquet file, or of every ``.parquet`` file under a
    folder (in sorted order), as a :class:`RowSource`.

    Every file's footer is read here: a missing or unreadable file, a file
    whose schema differs from the first's, or a target column that is not
    there raises, naming the file, before any row is read.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet") if p.is_file())
        if not files:
            raise StreamError(
                f"folder {os.fspath(path)!r} holds no .parquet file; pass a "
                "Parquet file or a folder of them."
            )
    elif path.is_file():
        files = [path]
    else:
        raise StreamError(f"file {os.fspath(path)!r} not found")
    pieces, first = [], None
    for file in files:
        try:
            with pq.ParquetFile(file) as parquet:
                schema = parquet.schema_arrow
                n_groups = parquet.metadata.num_row_groups
        except Exception as exc:
            raise StreamError(
                f"cannot read {os.fspath(file)!r} as Parquet: {exc}"
            ) from exc
        if first is None:
            first = (file, schema)
            _check_named(schema.names, target, weight, file)
        else:
            _check_same_schema(first, file, schema)
        pieces += [ParquetPiece(os.fspath(file), g) for g in range(n_groups)]
    if not pieces:
        raise StreamError(f"{os.fspath(path)!r} holds no row group")
    return RowSource(tuple(pieces), target, weight, f"{os.fspath(path)!r}")


def _check_named(names, target: str, weight: str | None, file) -> None:
    for role, name in (("target", target), ("weight", weight)):
        if name is not None and name not in names:
            raise StreamError(
                f"{role} column {name!r} is not in {os.fspath(file)!r}; its "
                f"columns are {list(names)}."
            )


def _check_same_schema(first, file, schema) -> None:
    """Refuse a file whose columns or types differ from the first file's."""
    first_file, first_schema = first
    expected = dict(zip(first_schema.names, first_schema.types, strict=True))
    found = dict(zip(schema.names, schema.types, strict=True))
    if expected == found:
        return
    differing = [
        f"{name!r}: {found.get(name, 'absent')} (first file: {kind})"
        for name, kind in expected.items()
        if found.get(name) != kind
    ] + [f"{name!r}: not in the first file" for name in found if name not in expected]
    raise StreamError(
        f"{os.fspath(file)!r} has other columns or types than "
        f"{os.fspath(first_file)!r}: {'; '.join(differing)}. Write every file "
        "with one schema (cast the columns), or fit on the files that share it."
    )


def dask_source(X, y, sample_weight=None) -> RowSource:
    """A Dask DataFrame ``X`` with its Dask Series ``y`` (and weights) as a
    :class:`RowSource` of ``X``'s partitions, the target beside the columns."""
    import dask.dataframe as dd

    if not isinstance(X, dd.DataFrame):
        raise TypeError(
            f"A streamed fit takes a Dask DataFrame X, got {type(X).__name__}."
        )
    if not is_dask_collection(y):
        raise TypeError(
            "X is a Dask DataFrame, so y must be a Dask Series of the same "
            f"partitions (e.g. frame['target']), got {type(y).__name__}."
        )
    if isinstance(y, dd.DataFrame):
        if len(y.columns) != 1:
            raise ValueError("a streamed fit learns one target column; y has several")
        y = y[y.columns[0]]
    for name in (TARGET, WEIGHT):
        if name in X.columns:
            raise ValueError(f"X has a column named {name!r}, which entembed uses")
    columns = {TARGET: y}
    if sample_weight is not None:
        if not is_dask_collection(sample_weight):
            raise TypeError(
                "X is a Dask DataFrame, so sample_weight must be a Dask Series "
                f"of the same partitions, got {type(sample_weight).__name__}."
            )
        columns[WEIGHT] = sample_weight
    if X.known_divisions and all(c.known_divisions for c in columns.values()):
        frame = X.assign(**columns)  # aligned by the index
    else:
        # Unknown divisions: side by side, partition by partition.
        for name, column in columns.items():
            if column.npartitions != X.npartitions:
                role = "y" if name == TARGET else "sample_weight"
                raise ValueError(
                    f"X has {X.npartitions} partitions and {role} "
                    f"{column.npartitions}, and their divisions are unknown, so "
                    "their rows cannot be matched. Take both from one frame "
                    "(X = frame.drop(columns=target), y = frame[target])."
                )
        meta = X._meta.assign(**{n: c._meta for n, c in columns.items()})
        frame = X.map_partitions(
            _beside,
            *columns.values(),
            names=list(columns),
            meta=meta,
            align_dataframes=False,
        )
    pieces = tuple(DaskPiece(frame, k) for k in range(frame.npartitions))
    weight = WEIGHT if sample_weight is not None else None
    return RowSource(pieces, TARGET, weight, "the Dask DataFrame")


def _beside(part: pd.DataFrame, *columns: pd.Series, names) -> pd.DataFrame:
    """A partition of X with the target (and weights) partition beside it,
    row by row."""
    for name, column in zip(names, columns, strict=True):
        if len(column) != len(part):
            role = "y" if name == TARGET else "sample_weight"
            raise ValueError(
                f"X has {len(part)} rows here and {role} {len(column)}; pass "
                "one value per row, in partitions of X's rows."
            )
    return part.assign(**{n: c.to_numpy() for n, c in zip(names, columns, strict=True)})


# ------------------------------------------------------------- row hash
def row_uniform(positions: np.ndarray, seed: int) -> np.ndarray:
    """A number in [0, 1) for each row position, the same on every call, in
    every process: SplitMix64 of the position and the seed."""
    golden = 0x9E3779B97F4A7C15
    z = positions.astype(np.uint64) + np.uint64((seed + 1) * golden % 2**64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


def validation_mask(start: int, n_rows: int, fraction: float, seed: int) -> np.ndarray:
    """Which of the rows at positions ``start .. start + n_rows`` validate."""
    if fraction <= 0:
        return np.zeros(n_rows, dtype=bool)
    return row_uniform(np.arange(start, start + n_rows), seed) < fraction


# Folds are drawn from another hash than the validation rows (the seed plus
# this), so that a fold holds its share of validation rows.
_FOLD_SALT = 0x5EED


def folds_of(start: int, n_rows: int, n_folds: int, seed: int) -> np.ndarray:
    """The cross-fitting fold (0 to ``n_folds - 1``) of the rows at positions
    ``start .. start + n_rows``."""
    uniform = row_uniform(np.arange(start, start + n_rows), seed + _FOLD_SALT)
    return np.minimum((uniform * n_folds).astype(np.int64), n_folds - 1)


@dataclass(frozen=True)
class Rows:
    """Which rows of the table a pass reads, by their positions' hashes.

    The training rows (``validating=False``) or the validation rows of a
    fit with ``validation_fraction`` and ``seed``; with ``fold`` of
    ``n_folds``, only the rows outside that fold (a fold's fit), or with
    ``held_out``, only the fold's rows, all of them (its held-out rows).
    """

    validation_fraction: float
    seed: int
    validating: bool = False
    fold: int | None = None
    n_folds: int = 0
    held_out: bool = False

    def mask(self, start: int, n_rows: int) -> np.ndarray:
        """Which of the rows at ``start .. start + n_rows`` the pass reads."""
        if self.fold is not None:
            in_fold = folds_of(start, n_rows, self.n_folds, self.seed) == self.fold
            if self.held_out:
                return in_fold
        else:
            in_fold = np.zeros(n_rows, dtype=bool)
        validates = validation_mask(start, n_rows, self.validation_fraction, self.seed)
        return ~in_fold & (validates if self.validating else ~validates)


# ------------------------------------------------------------ first pass
@dataclass(frozen=True)
class StreamedTable:
    """What the first pass over a :class:`RowSource` found: everything a
    streamed fit settles before training."""

    source: RowSource
    categorical: list[str]
    numeric: list[str]
    columns: list[str]
    dtypes: dict
    vocabulary: CategoryVocabulary
    piece_rows: np.ndarray
    task: str
    classes: np.ndarray | None
    n_outputs: int
    target_mean: np.ndarray | None
    target_scale: np.ndarray | None
    numeric_mean: np.ndarray
    numeric_scale: np.ndarray

    @property
    def n_rows(self) -> int:
        return int(self.piece_rows.sum())

    @property
    def offsets(self) -> np.ndarray:
        """Each piece's first row's position in the table."""
        return np.concatenate([[0], np.cumsum(self.piece_rows)[:-1]]).astype(np.int64)

    def encode(self, frame: pd.DataFrame, label: str) -> dict[str, np.ndarray]:
        """A piece's rows as training arrays: codes, numeric inputs, the
        encoded target (and weights)."""
        _check_dtypes(frame, self.dtypes, label)
        arrays = {"codes": self.vocabulary.transform(frame[self.categorical])}
        if self.numeric:
            numeric = numeric_array(frame, self.numeric)
            _named_errors(check_finite_numeric, label, numeric, self.numeric)
            arrays["numeric"] = numeric
        arrays["target"] = self.encode_target(frame[self.source.target], label)
        if self.source.weight is not None:
            arrays["weight"] = _weights(frame[self.source.weight], label)
        return arrays

    def encode_target(self, y: pd.Series, label: str) -> np.ndarray:
        values = _target_values(y, label)
        if self.task == "regression":
            assert self.target_mean is not None and self.target_scale is not None
            scaled = (values.astype(np.float64) - self.target_mean[0]) / (
                self.target_scale[0]
            )
            return scaled.astype(np.float32)
        index = pd.Index(self.classes, tupleize_cols=False).get_indexer(values)
        if (index < 0).any():  # cannot happen after the first pass: the classes
            raise StreamError(f"{label} has labels the first pass did not see")
        if self.task == "binary":
            return index.astype(np.float32)
        return index.astype(np.int64)


def first_pass(
    source: RowSource,
    *,
    categorical_columns,
    numeric_columns,
    vocabulary: CategoryVocabulary,
    task: str,
) -> StreamedTable:
    """Read every piece once: select the columns on the first, count the
    categories, the target's classes or moments, the numeric columns'
    moments and the rows of each piece. Bad input raises here, naming the
    piece, before any training."""
    reserved = {source.target, source.weight}
    first = source.read(0)
    columns = [c for c in first.columns if c not in reserved]
    dtypes = {c: first[c].dtype for c in first.columns}
    selection = select_columns(
        first[columns], True, categorical_columns, numeric_columns
    )
    categorical, numeric = selection.categorical, selection.numeric
    kind = _task_of(_target_values(first[source.target], _label(source, 0)), task)
    numbers, target = _Moments(len(numeric)), _Moments(1)
    rows: list[int] = []
    labels: set = set()
    pending = [first]  # read already; then each piece in turn
    del first
    for k, piece in enumerate(source.pieces):
        frame = pending.pop() if pending else source.read(k)
        _check_dtypes(frame, dtypes, piece.label)
        values = _target_values(frame[source.target], piece.label)
        if len(frame):
            vocabulary.partial_fit(frame[categorical])
            _count_numbers(frame, numeric, piece.label, numbers)
            if kind == "regression":
                target.add(_float_target(values, piece.label)[:, None])
            else:
                labels.update(pd.unique(values).tolist())
        if source.weight is not None:
            _weights(frame[source.weight], piece.label)
        rows.append(len(frame))
    if not sum(rows):
        raise StreamError(f"{source.description} has no rows")
    task, classes, n_outputs = _classes(kind, labels, task)
    mean, scale = numbers.standardisation()
    target_mean, target_scale = (
        target.standardisation() if task == "regression" else (None, None)
    )
    return StreamedTable(
        source=source,
        categorical=list(categorical),
        numeric=list(numeric),
        columns=columns,
        dtypes=dtypes,
        vocabulary=vocabulary,
        piece_rows=np.array(rows, dtype=np.int64),
        task=task,
        classes=classes,
        n_outputs=n_outputs,
        target_mean=target_mean,
        target_scale=target_scale,
        numeric_mean=mean,
        numeric_scale=scale,
    )


def _count_numbers(frame, numeric: list[str], label: str, moments) -> None:
    """Add a piece's numeric columns to their moments (a missing or infinite
    value raises, naming the piece and the column)."""
    if numeric:
        array = numeric_array(frame, numeric)
        _named_errors(check_finite_numeric, label, array, numeric)
        moments.add(array)


class _Moments:
    """Running count, mean and sum of squared deviations by column (Chan et
    al.'s pairwise update): a standardisation from one pass."""

    def __init__(self, n_columns: int) -> None:
        self.n = 0
        self.mean = np.zeros(n_columns)
        self.m2 = np.zeros(n_columns)

    def add(self, values: np.ndarray) -> None:
        if not len(values):
            return
        values = values.astype(np.float64)
        n, mean = len(values), values.mean(axis=0)
        m2 = ((values - mean) ** 2).sum(axis=0)
        total = self.n + n
        delta = mean - self.mean
        self.mean = self.mean + delta * n / total
        self.m2 = self.m2 + m2 + delta**2 * self.n * n / total
        self.n = total

    def standardisation(self) -> tuple[np.ndarray, np.ndarray]:
        """Means and standard deviations (1 where a column is constant), as
        the in-memory fit standardises."""
        std = np.sqrt(self.m2 / max(self.n, 1))
        std[~(std > 0)] = 1.0
        return self.mean.astype(np.float32), std.astype(np.float32)


def _label(source: RowSource, k: int) -> str:
    return source.pieces[k].label


def _task_of(values: np.ndarray, task: str) -> str:
    """The task as the first piece's target shows it: "regression" or
    "classification" (binary or multiclass once every label is counted)."""
    if task == "regression" or (task == "auto" and values.dtype.kind == "f"):
        return "regression"
    if task == "auto":
        infer_task(values)  # refuses a target no task fits
    return "classification" if task in ("auto", "classification") else task


def _classes(kind: str, labels: set, task: str):
    """(task, classes, outputs) once every piece's labels are counted."""
    if kind == "regression":
        return "regression", None, 1
    classes = np.array(sorted(labels, key=lambda v: (type(v).__name__, v)))
    if len(classes) < 2:
        raise StreamError(
            f"the target has one class ({classes.tolist()}); a classification "
            "needs two or more."
        )
    if kind == "binary" and len(classes) != 2:
        raise StreamError(
            f"task='binary' but the target has {len(classes)} classes; set "
            "task='multiclass'."
        )
    if kind == "classification":
        kind = "binary" if len(classes) == 2 else "multiclass"
    return kind, classes, 1 if kind == "binary" else len(classes)


def _target_values(y: pd.Series, label: str) -> np.ndarray:
    missing = int(y.isna().sum())
    if missing:
        raise StreamError(
            f"{label} has {missing} missing target value(s). Drop those rows or "
            "fill them first."
        )
    return y.to_numpy()


def _float_target(values: np.ndarray, label: str) -> np.ndarray:
    try:
        values = values.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise StreamError(f"{label}: the target is not numeric ({exc})") from exc
    _named_errors(check_finite_target, label, values)
    return values


def _weights(weight: pd.Series, label: str) -> np.ndarray:
    values = weight.to_numpy(dtype=np.float32, na_value=np.nan)
    if not np.isfinite(values).all() or (values < 0).any():
        raise StreamError(
            f"{label} has sample weights that are missing, infinite or negative; "
            "weights must be finite and >= 0."
        )
    return values


def _check_dtypes(frame: pd.DataFrame, dtypes: dict, label: str) -> None:
    found = {c: frame[c].dtype for c in frame.columns}
    if all(dtypes.get(c) == kind for c, kind in found.items()):
        return
    differing = [
        f"{name!r}: {kind} (first piece: {dtypes.get(name, 'absent')})"
        for name, kind in found.items()
        if dtypes.get(name) != kind
    ]
    raise StreamError(
        f"{label} has other column types than the first piece: "
        f"{'; '.join(differing)}. Cast the columns to one type in every piece."
    )


def _named_errors(check, label: str, *args) -> None:
    """Run ``check``; its ValueError gains the piece's name."""
    try:
        check(*args)
    except ValueError as exc:
        raise StreamError(f"{label}: {exc}") from exc
