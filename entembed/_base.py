"""What the three scikit-learn estimators share: parameters, column selection,
a fit that reads select columns -> encode -> fit_network -> set fitted state,
and the fitted-state protocol that ``entembed.load`` reads.

This module imports no torch: fit calls the training layer, which does. A fitted
estimator transforms and predicts with numpy, so serving it never imports torch.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._columns import select_columns
from ._dataframe import check_not_empty, match_columns, numeric_array, to_frame
from ._embedding_dims import resolve_embedding_dims
from ._fitted_tables import FittedTables
from ._numpy_network import INTERACTIONS, NumpyNetwork
from ._persistence import decode_values, encode_values, jsonable_params, save
from ._string_features import (
    KINDS,
    StringHashing,
    choose_hashing,
    code_pieces,
    unseen_vectors,
)
from ._target import Target, as_target_array, prepare_target, target_with_classes
from ._training_config import StartingPoint, TrainingConfig, check_memory
from ._transfer import (
    check_warm_start,
    embedding_frames,
    transferred_tables,
    warm_start_point,
)
from ._vocabulary import CategoryVocabulary


def streams(X) -> bool:
    """Whether a fit on ``X`` reads it piece by piece: a Dask DataFrame, or
    the command line's Parquet rows."""
    from ._streaming import RowSource, is_dask_collection

    return isinstance(X, RowSource) or is_dask_collection(X)


def with_params(estimator, params: dict):
    """``estimator`` with ``params`` set and every parameter checked as ``fit``
    checks them: an unknown name or a bad value is refused before any data is
    read (the command line's options and config files)."""
    estimator.set_params(**params)
    estimator._validate_params()
    return estimator


def _check_sample_weight(sample_weight, n_rows: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    sample_weight = np.asarray(sample_weight, dtype=np.float32).reshape(-1)
    if len(sample_weight) != n_rows:
        raise ValueError(
            f"sample_weight has {len(sample_weight)} values but X has {n_rows} rows."
        )
    if not sample_weight.any():
        raise ValueError(
            "sample_weight is zero for every row; at least one weight must be positive."
        )
    return sample_weight


def _history_frame(records) -> pd.DataFrame:
    """The per-epoch history from its saved records, which must be numbers."""
    numbers = (int, float, type(None))
    if not isinstance(records, list) or not all(
        isinstance(row, dict)
        and all(isinstance(k, str) and isinstance(v, numbers) for k, v in row.items())
        for row in records
    ):
        raise ValueError("history is not a list of per-epoch records of numbers")
    return pd.DataFrame.from_records(records)


@dataclass(frozen=True)
class EncodedTable:
    """A fit's training rows, encoded once (what cross-fitting folds reuse),
    and what the fit settled before training: its vocabulary, widths and
    numeric columns, and the history a warm start continues."""

    frame: pd.DataFrame
    codes: np.ndarray
    numeric: np.ndarray
    target: Target
    sample_weight: np.ndarray | None
    config: TrainingConfig
    start: StartingPoint | None
    vocabulary: CategoryVocabulary
    numeric_columns: list[str]
    embedding_dims: dict[str, int]
    has_names: bool
    string_features: dict[str, StringHashing]
    history_before: list[dict] = field(default_factory=list)


class EntityEmbeddingBase(FittedTables, BaseEstimator):
    """Shared parameters and fitting of entembed's estimators (not public)."""

    _parameter_constraints: dict = {
        "categorical_columns": [StrOptions({"auto"}), "array-like"],
        "numeric_columns": [StrOptions({"auto"}), "array-like", None],
        "test_id_columns": ["boolean"],
        "encoder": [StrOptions({"embedding", "onehot"})],
        "embedding_dims": [
            StrOptions({"auto", "capped"}),
            Interval(Integral, 1, None, closed="left"),
            dict,
            callable,
        ],
        "hidden_units": ["array-like"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "interactions": [StrOptions(set(INTERACTIONS))],
        "string_features": [StrOptions({"auto", "none", *KINDS}), dict],
        "string_buckets": [Interval(Integral, 1, None, closed="left")],
        "string_ngram_range": ["array-like"],
        **CategoryVocabulary._parameter_constraints,
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "table_learning_rate": [Interval(Real, 0, None, closed="neither")],
        "category_dropout": [Interval(Real, 0, 1, closed="left")],
        "shrinkage": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "learning_rate_schedule": [StrOptions({"constant", "cosine"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "gradient_clip_val": [Interval(Real, 0, None, closed="neither"), None],
        # Lightning validates its own settings and names the bad one.
        "accelerator": "no_validation",
        "devices": "no_validation",
        "strategy": "no_validation",
        "num_nodes": [Interval(Integral, 1, None, closed="left")],
        "precision": "no_validation",
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "checkpoint_dir": [str, os.PathLike, None],
        "callbacks": [list, None],
        # Lightning validates its loggers; init_embeddings is read in fit.
        "logger": "no_validation",
        "init_embeddings": "no_validation",
        "freeze_embeddings": ["boolean"],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        categorical_columns="auto",
        numeric_columns="auto",
        test_id_columns=True,
        encoder="embedding",
        embedding_dims="auto",
        hidden_units=(256, 128),
        dropout=0.0,
        batch_norm=False,
        interactions="none",
        string_features="auto",
        string_buckets=16_384,
        string_ngram_range=(3, 3),
        min_frequency=None,
        max_categories=None,
        handle_unknown="ignore",
        handle_missing="category",
        max_epochs=20,
        batch_size=256,
        learning_rate=3e-3,
        weight_decay=0.0,
        table_learning_rate=100.0,
        category_dropout=0.0,
        shrinkage=0.0,
        learning_rate_schedule="cosine",
        validation_fraction=0.1,
        patience=2,
        gradient_clip_val=None,
        accelerator="auto",
        devices="auto",
        strategy="auto",
        num_nodes=1,
        precision="32-true",
        n_threads=None,
        checkpoint_dir=None,
        callbacks=None,
        logger=None,
        init_embeddings=None,
        freeze_embeddings=False,
        warm_start=False,
        random_state=None,
        verbose=False,
    ):
        self.categorical_columns = categorical_columns
        self.numeric_columns = numeric_columns
        self.test_id_columns = test_id_columns
        self.encoder = encoder
        self.embedding_dims = embedding_dims
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.interactions = interactions
        self.string_features = string_features
        self.string_buckets = string_buckets
        self.string_ngram_range = string_ngram_range
        self.min_frequency = min_frequency
        self.max_categories = max_categories
        self.handle_unknown = handle_unknown
        self.handle_missing = handle_missing
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.table_learning_rate = table_learning_rate
        self.category_dropout = category_dropout
        self.shrinkage = shrinkage
        self.learning_rate_schedule = learning_rate_schedule
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.gradient_clip_val = gradient_clip_val
        self.accelerator = accelerator
        self.devices = devices
        self.strategy = strategy
        self.num_nodes = num_nodes
        self.precision = precision
        self.n_threads = n_threads
        self.checkpoint_dir = checkpoint_dir
        self.callbacks = callbacks
        self.logger = logger
        self.init_embeddings = init_embeddings
        self.freeze_embeddings = freeze_embeddings
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    def __setstate__(self, state: dict) -> None:
        """Unpickle, giving an estimator pickled by an older entembed the
        fitted attributes it lacks (what its fit amounted to), in one place."""
        if "network_" in state:
            state.setdefault("_classes", None)  # 0.1.0 kept no classes
            state.setdefault("constant_columns_", [])  # it kept every column
            state.setdefault("string_features_", {})  # cut no column into pieces
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags

    # ------------------------------------------------------------ columns
    def _match(self, X, required: list[str]) -> pd.DataFrame:
        return match_columns(
            X,
            columns=self._columns,
            required=required,
            fitted_with_names=hasattr(self, "feature_names_in_"),
            estimator=type(self).__name__,
        )

    # ---------------------------------------------------------------- fit
    def _target_task(self) -> str:
        """The task argument of :func:`prepare_target` for this estimator."""
        raise NotImplementedError

    def _encode(self, X, y, sample_weight=None) -> EncodedTable:
        """Check the parameters and the data, select the columns, encode them,
        and settle where training starts: everything a fit needs but the
        training itself. Sets no fitted state."""
        self._validate_params()
        frame, has_names = to_frame(X)
        check_not_empty(frame, type(self).__name__)
        y = as_target_array(y, len(frame), type(self).__name__)
        sample_weight = _check_sample_weight(sample_weight, len(frame))
        selection = select_columns(
            frame, has_names, self.categorical_columns, self.numeric_columns
        )
        categorical, numeric = selection.categorical, selection.numeric
        if self._continues():
            check_warm_start(self, categorical, numeric)
            target, vocabulary, codes, before = self._continued(frame[categorical], y)
            hashing, pieces = self._string_pieces(vocabulary, categorical)
            dims = dict(self.embedding_dims_)
            start = warm_start_point(self.network_, vocabulary, pieces)
        else:
            begun = self._fresh_start(frame[categorical], y)
            target, vocabulary, codes, dims, start, before = begun
            hashing, pieces = self._string_pieces(vocabulary, categorical)
        config = TrainingConfig.from_params(
            self.get_params(),
            task=target.task,
            n_outputs=target.n_outputs,
            cardinalities=vocabulary.cardinalities_,
            embedding_dims=list(dims.values()),
            numeric_columns=numeric,
            seed=int(check_random_state(self.random_state).randint(2**31 - 1)),
            table_names=categorical,
            pieces=pieces,
        )
        check_memory(config, len(codes))
        return EncodedTable(
            frame=frame,
            codes=codes,
            numeric=numeric_array(frame, numeric),
            target=target,
            sample_weight=sample_weight,
            config=config,
            start=start,
            vocabulary=vocabulary,
            numeric_columns=numeric,
            embedding_dims=dims,
            has_names=has_names,
            string_features=hashing,
            history_before=before,
        )

    def _string_pieces(self, vocabulary, columns: list[str]):
        """The columns cut into pieces of text with their hashing, and by
        column the pieces of each code (``string_features``)."""
        if self._continues():  # the fitted hashing, which the network learned
            hashing = dict(self.string_features_)
        else:
            hashing = choose_hashing(
                self.string_features,
                columns,
                vocabulary.categories_,
                self.string_ngram_range,
                self.string_buckets,
            )
        return hashing, code_pieces(hashing, columns, vocabulary.categories_)

    def _vocabulary_params(self) -> dict:
        return {
            name: getattr(self, name) for name in CategoryVocabulary._get_param_names()
        }

    def _fresh_start(self, categories: pd.DataFrame, y):
        """A new vocabulary, widths and target; tables from ``init_embeddings``
        where it gives them."""
        target = prepare_target(y, self._target_task())
        vocabulary = CategoryVocabulary(**self._vocabulary_params())
        codes = vocabulary.fit_transform(categories)
        dims, start = self._fresh_tables(
            vocabulary, list(categories.columns), len(codes)
        )
        return target, vocabulary, codes, dims, start, []

    def _fresh_tables(self, vocabulary, columns: list[str], n_rows: int):
        """The widths of a fresh fit's tables (``embedding_dims`` for this
        vocabulary and these rows), and the tables ``init_embeddings`` gives."""
        dims = resolve_embedding_dims(
            self.embedding_dims,
            dict(zip(columns, vocabulary.cardinalities_, strict=True)),
            n_rows=n_rows,
        )
        start = transferred_tables(
            embedding_frames(self.init_embeddings),
            vocabulary,
            columns,
            dims,
            embedding_dims=self.embedding_dims,
            freeze=self.freeze_embeddings,
        )
        return dims, start

    def _continued(self, categories: pd.DataFrame, y):
        """A warm start's target (the fitted classes), the fitted vocabulary
        extended by new categories, the codes, and the history so far."""
        target = target_with_classes(y, self.task_, self._classes)
        if target.n_outputs != self.network_.n_outputs:
            raise ValueError(
                f"warm_start continues the fitted network of "
                f"{self.network_.n_outputs} output(s); y gives "
                f"{target.n_outputs}. Pass the same targets, or set "
                "warm_start=False to fit afresh."
            )
        vocabulary = copy.deepcopy(self.vocabulary_)
        vocabulary.set_params(**self._vocabulary_params())
        codes = vocabulary.extend(categories).transform(categories)
        return target, vocabulary, codes, self.history_.to_dict("records")

    def _set_fit_result(
        self,
        encoded: EncodedTable,
        network: NumpyNetwork,
        history: list[dict],
        constant: list[str],
        **more,
    ) -> None:
        """The fitted state of a fit, set once: ``history`` continues the
        epochs of a warm start; ``more`` holds the estimator's own attributes."""
        epochs = len(encoded.history_before)
        history = [
            *encoded.history_before,
            *({**row, "epoch": row["epoch"] + epochs} for row in history),
        ]
        self._set_fitted(
            vocabulary=encoded.vocabulary,
            network=network,
            task=encoded.target.task,
            categorical_columns=list(encoded.config.table_names),
            numeric_columns=encoded.numeric_columns,
            embedding_dims=encoded.embedding_dims,
            history=pd.DataFrame(history),
            columns=list(encoded.frame.columns),
            has_names=encoded.has_names,
            classes=encoded.target.classes,
            string_features=encoded.string_features,
        )
        self.constant_columns_ = list(constant)
        for name, value in more.items():
            setattr(self, name, value)

    def _train(
        self, encoded: EncodedTable
    ) -> tuple[NumpyNetwork, list[dict], list[str]]:
        """The trained network, its per-epoch history, and the columns it
        serves one vector for (none here)."""
        from ._training import fit_network

        network, history = fit_network(
            encoded.config,
            encoded.codes,
            encoded.numeric,
            encoded.target.values,
            encoded.sample_weight,
            encoded.start,
        )
        return network, history, []

    def _fit_streamed(self, X, y, sample_weight):
        """Fit on a table read piece by piece (a Dask DataFrame, or the
        command line's Parquet rows): :func:`~entembed._streamed_fit.fit`."""
        from ._streamed_fit import fit

        return fit(self, X, y, sample_weight)

    def _check_stream(self, fit) -> None:
        """Refuse, before training, what this estimator cannot fit streamed."""

    def _train_streamed(self, fit) -> tuple[NumpyNetwork, list[dict], list[str]]:
        """:meth:`_train` for a streamed fit."""
        from ._training import fit_streamed

        network, history = fit_streamed(fit.config, fit.table, fit.start)
        return network, history, []

    def _report(self, message: str) -> None:
        """Say what fit decided and why, in one line to stderr (beside the
        progress bars), with ``verbose`` on."""
        if self.verbose:
            print(f"{type(self).__name__}: {message}", file=sys.stderr, flush=True)

    def _continues(self) -> bool:
        """Whether the next fit continues this fitted model (warm start)."""
        return bool(self.warm_start) and hasattr(self, "network_")

    def _set_fitted(
        self,
        *,
        vocabulary: CategoryVocabulary,
        network: NumpyNetwork,
        task: str,
        categorical_columns: list[str],
        numeric_columns: list[str],
        embedding_dims: dict[str, int],
        history: pd.DataFrame,
        columns: list[str],
        has_names: bool,
        classes: np.ndarray | None = None,
        string_features: dict[str, StringHashing] | None = None,
    ) -> None:
        """The fitted state every estimator shares, from fit and from load."""
        self.string_features_ = dict(string_features or {})
        self.vocabulary_ = vocabulary
        self.network_ = network
        self.task_ = task
        self.categorical_columns_ = list(categorical_columns)
        self.numeric_columns_ = list(numeric_columns)
        self.embedding_dims_ = dict(embedding_dims)
        self.history_ = history
        self._classes = classes  # of a classification target: warm starts keep them
        self._columns = list(columns)
        self.n_features_in_ = len(self._columns)
        if has_names:
            self.feature_names_in_ = np.asarray(self._columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    # ------------------------------------------------------ fitted state
    def _export_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """Fitted state as JSON metadata and named arrays (``entembed.save``).

        Subclasses add their own entries (the metadata keys they do not use
        stay ``None``: the file format has one shape for every estimator).
        """
        check_is_fitted(self)
        vocabulary, arrays = self.vocabulary_._export_state()
        layers, network_arrays = self.network_._export_state()
        params = self.get_params(deep=False)
        # How a fit ran or started, not what it learned: not stored.
        for name in ("callbacks", "logger", "init_embeddings"):
            params[name] = None
        if callable(params["embedding_dims"]):
            params["embedding_dims"] = dict(self.embedding_dims_)  # what it chose
        meta = {
            "params": jsonable_params(params),
            "columns": self._columns,
            "has_feature_names": hasattr(self, "feature_names_in_"),
            "categorical_columns": self.categorical_columns_,
            "numeric_columns": self.numeric_columns_,
            "passthrough_columns": None,
            "cv": None,
            "embedding_dims": self.embedding_dims_,
            "task": self.task_,
            "single_output": None,
            "classes": (
                None
                if self._classes is None
                else encode_values(np.asarray(self._classes), "The target")
            ),
            "history": json.loads(self.history_.to_json(orient="records")),
            "vocabulary": vocabulary,
            "layers": layers,
            "constant_columns": self.constant_columns_,
            "string_features": {
                c: h.to_dict() for c, h in self.string_features_.items()
            },
        }
        return meta, {**arrays, **network_arrays}

    @classmethod
    def _from_state(cls, meta: dict, arrays: dict):
        """The fitted estimator that :meth:`_export_state` described."""
        params = dict(meta["params"])
        # A file saved before string features: its fit cut no column.
        params.setdefault("string_features", "none")
        for name in ("hidden_units", "string_ngram_range"):
            if name in params:
                params[name] = tuple(params[name])
        estimator = cls(**params)
        estimator._validate_params()
        columns = meta["categorical_columns"]
        names = [*columns, *meta["numeric_columns"], *meta["columns"]]
        if not all(isinstance(name, str) for name in names):
            raise ValueError("column names are not strings")
        vocabulary = CategoryVocabulary._from_state(meta["vocabulary"], arrays, columns)
        network = NumpyNetwork._from_state(meta["layers"], arrays, len(columns))
        dims = {c: int(meta["embedding_dims"][c]) for c in columns}
        _check_network(network, meta, vocabulary, dims)
        estimator._set_fitted(
            vocabulary=vocabulary,
            network=network,
            task=meta["task"],
            categorical_columns=columns,
            numeric_columns=meta["numeric_columns"],
            embedding_dims=dims,
            history=_history_frame(meta["history"]),
            columns=meta["columns"],
            has_names=meta["has_feature_names"],
            classes=None if meta["classes"] is None else decode_values(meta["classes"]),
            string_features=_hashing_of(meta.get("string_features"), columns, network),
        )
        constant = meta["constant_columns"]
        if not isinstance(constant, list) or not all(
            isinstance(c, str) and c in columns for c in constant
        ):
            raise ValueError(f"constant columns {constant} are not embedded columns")
        estimator.constant_columns_ = list(constant)
        return estimator

    def _codes(self, X, extra: Sequence[str] = ()):
        """The rows' codes, the matched frame, and the vectors of strings fit
        never kept (:meth:`_unseen`)."""
        frame = self._match(X, [*self.categorical_columns_, *extra])
        codes = self.vocabulary_.transform(frame)
        return codes, frame, self._unseen(codes, frame)

    def _unseen(self, codes: np.ndarray, frame: pd.DataFrame) -> dict:
        """:func:`~entembed._string_features.unseen_vectors` of these rows."""
        return unseen_vectors(
            self.network_,
            self.string_features_,
            self.categorical_columns_,
            codes,
            frame,
        )

    def save(self, path) -> None:
        """Save the fitted estimator in the safe format read by ``entembed.load``.

        Parameters
        ----------
        path : str or Path
            Where to write the ``.npz`` file.
        """
        save(self, path)


def _check_network(network: NumpyNetwork, meta: dict, vocabulary, dims: dict) -> None:
    """Refuse a saved network that disagrees with the file's metadata: its
    tables' shapes, numeric scaling, output scaling and outputs."""
    columns = meta["categorical_columns"]
    for column, table, n in zip(
        columns, network.tables, vocabulary.cardinalities_, strict=True
    ):
        if table.shape != (n, dims[column]):
            raise ValueError(f"table of {column!r} has shape {table.shape}")
    if len(network.numeric_mean) != len(meta["numeric_columns"]):
        raise ValueError("numeric scaling disagrees with the numeric columns")
    n_outputs = network.n_outputs  # its layers were checked on reading
    if (network.output_mean is not None) != (meta["task"] == "regression"):
        raise ValueError(f"output scaling disagrees with task {meta['task']!r}")
    if meta["task"] == "binary" and n_outputs != 1:
        raise ValueError(f"a binary network with {n_outputs} outputs")


def _hashing_of(state, columns: list[str], network: NumpyNetwork) -> dict:
    """A saved model's ``string_features_``, checked against its network."""
    hashing = {c: StringHashing.from_dict(h) for c, h in (state or {}).items()}
    pieces = network.pieces or [None] * len(columns)
    for j, column in enumerate(columns):
        table = pieces[j]  # None where cut but served constant
        if table is not None and (
            column not in hashing or table.shape[0] != hashing[column].n_buckets
        ):
            raise ValueError(f"the pieces of {column!r} disagree with its hashing")
    return hashing
