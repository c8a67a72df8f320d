"""What the three scikit-learn estimators share: parameters, column selection,
and a fit that trains the network and keeps it as numpy arrays.

torch and Lightning are imported inside ``fit`` only: a fitted estimator
transforms and predicts with numpy, so serving it never imports torch.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._dataframe import match_columns, to_frame
from ._embedding_dims import resolve_embedding_dims
from ._numpy_network import NumpyNetwork
from ._target import check_finite_target
from ._vocabulary import CategoryVocabulary

_CATEGORICAL_KINDS = "OUSb"  # object, unicode, bytes, bool


def _is_categorical_dtype(dtype) -> bool:
    if isinstance(dtype, (pd.CategoricalDtype, pd.StringDtype, pd.BooleanDtype)):
        return True
    return isinstance(dtype, np.dtype) and dtype.kind in _CATEGORICAL_KINDS


def embedding_feature_names(column: str, width: int) -> list[str]:
    """``<column>_emb<k>``, k zero-padded so that the names sort in order."""
    digits = len(str(width - 1))
    return [f"{column}_emb{k:0{digits}d}" for k in range(width)]


class EntityEmbeddingBase(BaseEstimator):
    """Shared parameters and fitting of entembed's estimators (not public)."""

    _parameter_constraints: dict = {
        "categorical_columns": [StrOptions({"auto"}), "array-like"],
        "numeric_columns": [StrOptions({"auto"}), "array-like", None],
        "encoder": [StrOptions({"embedding", "onehot"})],
        "embedding_dims": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
            dict,
            callable,
        ],
        "hidden_units": ["array-like"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "min_frequency": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="neither"),
            None,
        ],
        "max_categories": [Interval(Integral, 1, None, closed="left"), None],
        "handle_unknown": [StrOptions({"ignore", "error"})],
        "handle_missing": [StrOptions({"category", "error"})],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "table_learning_rate": [Interval(Real, 0, None, closed="neither")],
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
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        categorical_columns="auto",
        numeric_columns="auto",
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
        validation_fraction=0.1,
        patience=3,
        gradient_clip_val=None,
        accelerator="auto",
        devices="auto",
        strategy="auto",
        num_nodes=1,
        precision="32-true",
        n_threads=None,
        random_state=None,
        verbose=False,
    ):
        self.categorical_columns = categorical_columns
        self.numeric_columns = numeric_columns
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
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.gradient_clip_val = gradient_clip_val
        self.accelerator = accelerator
        self.devices = devices
        self.strategy = strategy
        self.num_nodes = num_nodes
        self.precision = precision
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags

    # ------------------------------------------------------------ columns
    def _select_columns(self, frame: pd.DataFrame, has_names: bool):
        """Resolve (categorical, numeric) column lists for this table."""
        columns = list(frame.columns)
        if isinstance(self.categorical_columns, str):
            categorical = [c for c in columns if _is_categorical_dtype(frame[c].dtype)]
            # A table with no categorical dtype (a numeric array, say) is taken as
            # all-categorical: integer codes of stores, products, ...
            if not categorical:
                categorical = columns
        else:
            categorical = self._named(
                "categorical_columns", self.categorical_columns, columns, has_names
            )
            if not categorical:
                raise ValueError(
                    "categorical_columns is empty; name at least one column to "
                    "embed, or use 'auto'."
                )
        if self.numeric_columns is None:
            numeric = []
        elif isinstance(self.numeric_columns, str):
            numeric = [
                c
                for c in columns
                if c not in categorical
                and pd.api.types.is_numeric_dtype(frame[c])
                and not pd.api.types.is_bool_dtype(frame[c])
            ]
        else:
            numeric = self._named(
                "numeric_columns", self.numeric_columns, columns, has_names
            )
            both = sorted(set(numeric) & set(categorical))
            if both:
                raise ValueError(
                    f"Columns {both} are in both categorical_columns and "
                    "numeric_columns; list each column once."
                )
        return categorical, numeric

    @staticmethod
    def _named(parameter, requested, columns, has_names) -> list[str]:
        requested = list(requested)
        if not has_names and all(isinstance(c, Integral) for c in requested):
            requested = [f"x{c}" for c in requested]  # positions in an array
        unknown = [c for c in requested if c not in columns]
        if unknown:
            raise ValueError(
                f"{parameter} names columns that are not in X: {unknown}. The "
                f"columns of X are {columns}."
            )
        return requested

    def _numeric_array(self, frame: pd.DataFrame, numeric: list[str]) -> np.ndarray:
        out = np.empty((len(frame), len(numeric)), dtype=np.float32)
        for j, name in enumerate(numeric):
            try:
                out[:, j] = frame[name].to_numpy(dtype=np.float32, na_value=np.nan)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"Numeric column {name!r} has non-numeric values (dtype "
                    f"{frame[name].dtype}). List it in categorical_columns, or "
                    "convert it to numbers."
                ) from exc
        return out

    def _match(self, X, required: list[str]) -> pd.DataFrame:
        return match_columns(
            X,
            columns=self._columns,
            required=required,
            fitted_with_names=hasattr(self, "feature_names_in_"),
            estimator=type(self).__name__,
        )

    # ---------------------------------------------------------------- fit
    def _fit_network(
        self, X, target_from_y, y, sample_weight=None, *, vocabulary=None, seed=None
    ):
        """Fit vocabulary and network. ``target_from_y(y)`` returns
        ``(task, target, n_outputs)`` and may set ``classes_``.

        A fitted ``vocabulary`` and a ``seed`` make a cross-fitting fold share
        the full model's codes and initial weights (see ``EntityEmbedder``).
        """
        self._validate_params()
        frame, has_names = to_frame(X)
        if len(frame) == 0:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={frame.shape}) while a minimum "
                f"of 1 is required by {type(self).__name__}."
            )
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is "
                "None. Pass the supervised target the embeddings are learned on."
            )
        y = y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else np.asarray(y)
        if len(y) != len(frame):
            raise ValueError(
                f"y has {len(y)} rows but X has {len(frame)}; pass one target value "
                "per row of X."
            )
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float32).reshape(-1)
            if len(sample_weight) != len(frame):
                raise ValueError(
                    f"sample_weight has {len(sample_weight)} values but X has "
                    f"{len(frame)} rows."
                )
            if not sample_weight.any():
                raise ValueError(
                    "sample_weight is zero for every row; at least one weight must "
                    "be positive."
                )
        categorical, numeric = self._select_columns(frame, has_names)
        check_finite_target(y)
        task, target, n_outputs = target_from_y(y)

        if vocabulary is None:
            vocabulary = CategoryVocabulary(
                min_frequency=self.min_frequency,
                max_categories=self.max_categories,
                handle_unknown=self.handle_unknown,
                handle_missing=self.handle_missing,
            ).fit(frame[categorical])
        codes = vocabulary.transform(frame)
        numeric_values = self._numeric_array(frame, numeric)
        dims = resolve_embedding_dims(
            self.embedding_dims,
            dict(zip(categorical, vocabulary.cardinalities_, strict=True)),
        )
        if seed is None:
            seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        if task == "regression":
            # Learned on a standardised target: the same learning rate suits
            # prices and probabilities; predictions are mapped back.
            # (NaN/inf targets stay NaN; the data module names them.)
            with np.errstate(invalid="ignore", over="ignore"):
                mean = np.atleast_1d(target.mean(axis=0)).astype(np.float32)
                std = np.atleast_1d(target.std(axis=0)).astype(np.float32)
                std[~(std > 0)] = 1.0
                shape = target.shape[1:]
                target = (target - mean.reshape(shape)) / std.reshape(shape)
        network, history = _train(
            self,
            codes,
            numeric_values,
            numeric,
            target,
            sample_weight,
            task,
            n_outputs,
            list(vocabulary.cardinalities_),
            list(dims.values()),
            seed,
        )
        if task == "regression":
            network.output_mean, network.output_scale = mean, std

        self.vocabulary_ = vocabulary
        self.network_ = network
        self.task_ = task
        self.categorical_columns_ = categorical
        self.numeric_columns_ = numeric
        self.embedding_dims_ = dims
        self.history_ = pd.DataFrame(history)
        self._seed = seed
        self._columns = list(frame.columns)
        self.n_features_in_ = frame.shape[1]
        if has_names:
            self.feature_names_in_ = np.asarray(self._columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self

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

    def _codes(self, X, extra: list[str] = ()) -> tuple[np.ndarray, pd.DataFrame]:
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
        """Save the fitted estimator in the safe format read by ``entembed.load``."""
        from ._persistence import save

        save(self, path)


def _train(
    estimator,
    codes,
    numeric,
    numeric_names,
    target,
    sample_weight,
    task,
    n_outputs,
    cardinalities,
    dims,
    seed,
) -> tuple[NumpyNetwork, list[dict]]:
    """Train the torch network and return its numpy copy (the torch side)."""
    import torch

    from ._data_module import TensorDataModule
    from ._lightning_module import EntityEmbeddingModule
    from ._training import seeded, train

    threads = torch.get_num_threads()
    if estimator.n_threads is not None:
        torch.set_num_threads(estimator.n_threads)
    try:
        with seeded(seed):
            module = EntityEmbeddingModule(
                cardinalities,
                dims,
                task=task,
                n_outputs=n_outputs,
                n_numeric=numeric.shape[1],
                hidden_units=tuple(estimator.hidden_units),
                dropout=estimator.dropout,
                batch_norm=estimator.batch_norm,
                encoder=estimator.encoder,
                learning_rate=estimator.learning_rate,
                weight_decay=estimator.weight_decay,
                table_learning_rate=estimator.table_learning_rate,
            )
            if numeric.shape[1]:
                # NaN/inf inputs make these NaN; the data module then raises,
                # naming the columns, before any training step.
                with np.errstate(invalid="ignore", over="ignore"):
                    module.network.set_numeric_scaling(
                        torch.from_numpy(numeric.mean(axis=0)),
                        torch.from_numpy(numeric.std(axis=0)),
                    )
            data = TensorDataModule(
                codes,
                target,
                numeric=numeric if numeric.shape[1] else None,
                sample_weight=sample_weight,
                numeric_names=numeric_names,
                batch_size=estimator.batch_size,
                validation_fraction=estimator.validation_fraction,
                random_state=seed,
            )
            history = train(
                module,
                data,
                max_epochs=estimator.max_epochs,
                accelerator=estimator.accelerator,
                devices=estimator.devices,
                strategy=estimator.strategy,
                num_nodes=estimator.num_nodes,
                precision=estimator.precision,
                patience=estimator.patience,
                gradient_clip_val=estimator.gradient_clip_val,
                verbose=int(estimator.verbose),
            )
    finally:
        torch.set_num_threads(threads)
    module.network.eval()
    return module.network.to_numpy(), history
