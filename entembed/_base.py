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
from dataclasses import dataclass
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
from ._numpy_network import NumpyNetwork
from ._persistence import decode_values, encode_values, jsonable_params, save
from ._target import Target, as_target_array, prepare_target, target_with_classes
from ._training_config import StartingPoint, TrainingConfig, check_memory
from ._vocabulary import MISSING_CODE, UNKNOWN_CODE, CategoryVocabulary


def embedding_feature_names(column: str, width: int) -> list[str]:
    """``<column>_emb<k>``, k zero-padded so that the names sort in order."""
    digits = len(str(width - 1))
    return [f"{column}_emb{k:0{digits}d}" for k in range(width)]


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


def _embedding_frames(source) -> dict[str, pd.DataFrame]:
    """``init_embeddings`` as DataFrames of vectors indexed by category."""
    if source is None:
        return {}
    if isinstance(source, EntityEmbeddingBase):
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


def _table_from_frame(frame: pd.DataFrame, categories: np.ndarray) -> np.ndarray:
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


@dataclass(frozen=True)
class EncodedTable:
    """A fit's training rows, encoded once: what cross-fitting folds reuse."""

    frame: pd.DataFrame
    codes: np.ndarray
    numeric: np.ndarray
    target: Target
    sample_weight: np.ndarray | None
    config: TrainingConfig
    start: StartingPoint | None = None


class EntityEmbeddingBase(BaseEstimator):
    """Shared parameters and fitting of entembed's estimators (not public)."""

    # Parameters a model file may lack, with the value it was trained with:
    # files written before the schedule existed trained at constant rates.
    _params_before: dict = {
        "learning_rate_schedule": "constant",
        # cv="auto" files tested ID-like columns on their folds; others had
        # nothing to test (cv=None or a number of folds).
        "test_id_columns": True,
    }
    # Why a column in constant_columns_ serves one vector, and the remedy.
    _why_constant = ""
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

    def _fit(self, X, y, sample_weight=None) -> EncodedTable:
        """Select columns, encode, train, and keep the fitted state."""
        self._validate_params()
        frame, has_names = to_frame(X)
        check_not_empty(frame, type(self).__name__)
        y = as_target_array(y, len(frame), type(self).__name__)
        sample_weight = _check_sample_weight(sample_weight, len(frame))
        selection = select_columns(
            frame, has_names, self.categorical_columns, self.numeric_columns
        )
        categorical, numeric = selection.categorical, selection.numeric
        vocabulary_params = {
            name: getattr(self, name) for name in CategoryVocabulary._get_param_names()
        }
        history = []
        start: StartingPoint | None
        if self._continues():
            self._check_warm_start(categorical, numeric)
            # Estimators pickled by 0.1.0 have no _classes.
            classes = getattr(self, "_classes", None)
            target = target_with_classes(y, self.task_, classes)
            if target.n_outputs != self.network_.n_outputs:
                raise ValueError(
                    f"warm_start continues the fitted network of "
                    f"{self.network_.n_outputs} output(s); y gives "
                    f"{target.n_outputs}. Pass the same targets, or set "
                    "warm_start=False to fit afresh."
                )
            vocabulary = copy.deepcopy(self.vocabulary_).set_params(**vocabulary_params)
            codes = vocabulary.extend(frame[categorical]).transform(frame[categorical])
            dims = dict(self.embedding_dims_)
            start = self._warm_start_point(vocabulary)
            history = self.history_.to_dict("records")
        else:
            target = prepare_target(y, self._target_task())
            vocabulary = CategoryVocabulary(**vocabulary_params)
            codes = vocabulary.fit_transform(frame[categorical])
            given = _embedding_frames(self.init_embeddings)
            dims = resolve_embedding_dims(
                self.embedding_dims,
                dict(zip(categorical, vocabulary.cardinalities_, strict=True)),
                n_rows=len(codes),
            )
            start = self._transferred_tables(given, vocabulary, categorical, dims)
        numeric_values = numeric_array(frame, numeric)
        config = TrainingConfig.from_params(
            self.get_params(),
            task=target.task,
            n_outputs=target.n_outputs,
            cardinalities=vocabulary.cardinalities_,
            embedding_dims=list(dims.values()),
            numeric_columns=numeric,
            seed=int(check_random_state(self.random_state).randint(2**31 - 1)),
            table_names=categorical,
        )
        check_memory(config, len(codes))
        encoded = EncodedTable(
            frame, codes, numeric_values, target, sample_weight, config, start
        )
        network, new_history, constant = self._train(encoded)
        epochs = len(history)
        history += [{**row, "epoch": row["epoch"] + epochs} for row in new_history]
        self._set_fitted(
            vocabulary=vocabulary,
            network=network,
            task=target.task,
            categorical_columns=categorical,
            numeric_columns=numeric,
            embedding_dims=dims,
            history=pd.DataFrame(history),
            columns=list(frame.columns),
            has_names=has_names,
            classes=target.classes,
        )
        self.constant_columns_ = constant
        return encoded

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

    def _report(self, message: str) -> None:
        """Say what fit decided and why, in one line to stderr (beside the
        progress bars), with ``verbose`` on."""
        if self.verbose:
            print(f"{type(self).__name__}: {message}", file=sys.stderr, flush=True)

    def _continues(self) -> bool:
        """Whether the next fit continues this fitted model (warm start)."""
        return bool(self.warm_start) and hasattr(self, "network_")

    def _check_warm_start(self, categorical: list[str], numeric: list[str]) -> None:
        """Refuse a warm start the fitted network cannot continue."""
        again = "; or set warm_start=False to fit afresh."
        if categorical != self.categorical_columns_ or numeric != self.numeric_columns_:
            raise ValueError(
                "warm_start continues the fitted model, which embeds "
                f"{self.categorical_columns_} and reads {self.numeric_columns_} as "
                f"numbers; X now gives {categorical} and {numeric}. Pass a table "
                "with the same columns" + again
            )
        linear = [p for kind, p in self.network_.layers if kind == "linear"]
        hidden = tuple(int(p["weight"].shape[0]) for p in linear[:-1])
        if tuple(int(u) for u in self.hidden_units) != hidden:
            raise ValueError(
                f"warm_start continues the fitted network, whose hidden_units are "
                f"{hidden}; hidden_units is now {tuple(self.hidden_units)}. Set it "
                f"back to {hidden}" + again
            )
        fitted_norm = any(kind == "batchnorm" for kind, _ in self.network_.layers)
        if bool(self.batch_norm) != fitted_norm:
            raise ValueError(
                f"warm_start continues the fitted network, fitted with batch_norm="
                f"{fitted_norm}; batch_norm is now {self.batch_norm}. Set it back"
                + again
            )
        if not isinstance(self.embedding_dims, str) and not callable(
            self.embedding_dims
        ):
            asked = resolve_embedding_dims(self.embedding_dims, self.cardinalities_)
            if asked != self.embedding_dims_:
                raise ValueError(
                    f"warm_start keeps the fitted widths {self.embedding_dims_}; "
                    f"embedding_dims now asks for {asked}. Set embedding_dims='auto'"
                    + again
                )

    def _warm_start_point(self, vocabulary: CategoryVocabulary) -> StartingPoint:
        """The fitted network, its tables grown by the rows of new categories,
        which start from the column's unknown vector."""
        tables = []
        for table, n in zip(
            self.network_.tables, vocabulary.cardinalities_, strict=True
        ):
            new_rows = np.repeat(
                table[UNKNOWN_CODE : UNKNOWN_CODE + 1], n - len(table), 0
            )
            tables.append(np.concatenate([table, new_rows]))
        return StartingPoint(tuple(tables), network=self.network_)

    def _transferred_tables(
        self,
        given: dict[str, pd.DataFrame],
        vocabulary: CategoryVocabulary,
        categorical: list[str],
        dims: dict[str, int],
    ) -> StartingPoint | None:
        """Starting tables from ``init_embeddings``' vectors (``dims`` of the
        columns it gives take its widths under either rule of thumb)."""
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
            if self.embedding_dims in ("auto", "capped"):
                dims[column] = width
            elif dims[column] != width:
                raise ValueError(
                    f"init_embeddings gives column {column!r} vectors of width "
                    f"{width}, but embedding_dims gives it {dims[column]}. Set "
                    "embedding_dims='auto' to take the given widths, or pass "
                    f"vectors of width {dims[column]}."
                )
            tables.append(_table_from_frame(frame, vocabulary.categories_[j]))
        frozen = tuple(bool(self.freeze_embeddings) and t is not None for t in tables)
        return StartingPoint(tuple(tables), frozen)

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
    ) -> None:
        """The fitted state every estimator shares, from fit and from load."""
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
                if getattr(self, "_classes", None) is None
                else encode_values(np.asarray(self._classes), "The target")
            ),
            "history": json.loads(self.history_.to_json(orient="records")),
            "vocabulary": vocabulary,
            "layers": layers,
            "constant_columns": self.constant_columns_,
        }
        return meta, {**arrays, **network_arrays}

    @classmethod
    def _from_state(cls, meta: dict, arrays: dict):
        """The fitted estimator that :meth:`_export_state` described."""
        params = {**cls._params_before, **meta["params"]}
        if "hidden_units" in params:
            params["hidden_units"] = tuple(params["hidden_units"])
        estimator = cls(**params)
        estimator._validate_params()
        columns = meta["categorical_columns"]
        names = [*columns, *meta["numeric_columns"], *meta["columns"]]
        if not all(isinstance(name, str) for name in names):
            raise ValueError("column names are not strings")
        vocabulary = CategoryVocabulary._from_state(meta["vocabulary"], arrays, columns)
        network = NumpyNetwork._from_state(meta["layers"], arrays, len(columns))
        dims = {c: int(meta["embedding_dims"][c]) for c in columns}
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
        )
        constant = meta.get("constant_columns", [])  # older files: none
        if not isinstance(constant, list) or not all(
            isinstance(c, str) and c in columns for c in constant
        ):
            raise ValueError(f"constant columns {constant} are not embedded columns")
        estimator.constant_columns_ = list(constant)
        return estimator

    # ----------------------------------------------------- fitted views
    @property
    def categories_(self) -> dict[str, np.ndarray]:
        """Kept categories of each embedded column (entry ``i`` has code ``i + 2``)."""
        check_is_fitted(self)
        return dict(
            zip(self.categorical_columns_, self.vocabulary_.categories_, strict=True)
        )

    @property
    def cardinalities_(self) -> dict[str, int]:
        """Rows of each column's table, the reserved unknown/missing codes included."""
        check_is_fitted(self)
        return {
            c: int(n)
            for c, n in zip(
                self.categorical_columns_, self.vocabulary_.cardinalities_, strict=True
            )
        }

    @property
    def embeddings_(self) -> dict[str, pd.DataFrame]:
        """Each column's table as a DataFrame indexed by category.

        The first two rows are the reserved codes, labelled ``"<unknown>"`` (also
        rare categories) and ``"<missing>"``.
        """
        check_is_fitted(self)
        out = {}
        for column, table, categories in zip(
            self.categorical_columns_,
            self.network_.tables,
            self.vocabulary_.categories_,
            strict=True,
        ):
            index = pd.Index(
                ["<unknown>", "<missing>", *categories], dtype=object, name=column
            )
            names = embedding_feature_names(column, table.shape[1])
            out[column] = pd.DataFrame(table, index=index, columns=names)
        return out

    def get_embedding_names_out(self) -> np.ndarray:
        """Names of the embedding features: ``<column>_emb<k>``, column by column.

        Returns
        -------
        ndarray of str objects
            One name per embedding dimension, in the order of the features.
        """
        check_is_fitted(self)
        names = [
            name
            for column in self.categorical_columns_
            for name in embedding_feature_names(column, self.embedding_dims_[column])
        ]
        return np.asarray(names, dtype=object)

    def _codes(self, X, extra: Sequence[str] = ()) -> tuple[np.ndarray, pd.DataFrame]:
        frame = self._match(X, [*self.categorical_columns_, *extra])
        return self.vocabulary_.transform(frame), frame

    def _embedded_column(self, column: str) -> int:
        """Position of an embedded column, or an error that lists them."""
        check_is_fitted(self)
        if column not in self.categorical_columns_:
            raise ValueError(
                f"Column {column!r} is not embedded; the embedded columns are "
                f"{self.categorical_columns_}."
            )
        return self.categorical_columns_.index(column)

    def most_similar(self, column: str, category, k: int = 5) -> pd.Series:
        """The ``k`` categories of ``column`` nearest to ``category`` (cosine).

        Parameters
        ----------
        column : str
            An embedded column.
        category : object
            One of its kept categories (see ``categories_``).
        k : int, default=5
            How many neighbours to return.

        Returns
        -------
        pandas.Series
            Cosine similarities, highest first, indexed by category.
        """
        j = self._embedded_column(column)
        # Estimators pickled before constant columns existed have none.
        if column in getattr(self, "constant_columns_", ()):
            raise ValueError(
                f"Column {column!r} serves one vector to every category: its "
                f"vectors {self._why_constant}"
            )
        categories = self.vocabulary_.categories_[j]
        matches = np.flatnonzero(pd.Index(categories, dtype=object) == category)
        if len(matches) == 0:
            raise ValueError(
                f"Category {category!r} has no vector of its own in column "
                f"{column!r}: it was not seen in fit, or was grouped as rare into the "
                "unknown code."
            )
        vectors = self.network_.tables[j][2:].astype(np.float64)
        norms = np.linalg.norm(vectors, axis=1)
        norms[norms == 0] = 1.0
        unit = vectors / norms[:, None]
        similarity = unit @ unit[matches[0]]
        similarity[matches[0]] = -np.inf
        order = np.argsort(-similarity, kind="stable")[: min(k, len(categories) - 1)]
        return pd.Series(
            similarity[order],
            index=pd.Index(categories[order], name=column),
            name="cosine_similarity",
        )

    def save(self, path) -> None:
        """Save the fitted estimator in the safe format read by ``entembed.load``.

        Parameters
        ----------
        path : str or Path
            Where to write the ``.npz`` file.
        """
        save(self, path)
