"""EntityEmbeddingRegressor and EntityEmbeddingClassifier: the trained network's
own predictions, computed with numpy after fit.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from ._base import EncodedTable, EntityEmbeddingBase, streams
from ._dataframe import check_finite_numeric, numeric_array
from ._id_columns import failing_on_validation
from ._numpy_network import NumpyNetwork, output_columns
from ._parameter_docs import SHARED, parameters_section
from ._persistence import saveable
from ._target import Target
from ._training_config import StartingPoint

_SHARED_DOC = (
    parameters_section(SHARED)
    + """
    Attributes
    ----------
    The fitted attributes of :class:`EntityEmbedder` (``categories_``,
    ``cardinalities_``, ``embedding_dims_``, ``embeddings_``, ``history_``,
    ``constant_columns_``, ``string_features_``, ``n_features_in_``,
    ``feature_names_in_``){extra}.
"""
)


class _Predictor(EntityEmbeddingBase):
    _why_constant = (
        "did not generalise to the validation rows (constant_columns_). Fit "
        "with test_id_columns=False to keep them."
    )

    def _train(
        self, encoded: EncodedTable
    ) -> tuple[NumpyNetwork, list[dict], list[str]]:
        """Train; then, with ``test_id_columns``, train again without the
        ID-like columns that fail the test on the validation rows."""
        network, history, _ = super()._train(encoded)
        constant = (
            failing_on_validation(encoded, network) if self.test_id_columns else []
        )
        if not constant:
            return network, history, []
        names = self._report_refit(encoded.config, constant)
        network, history, _ = super()._train(
            replace(
                encoded,
                start=_without(encoded.config, encoded.start, constant),
                config=_refit_config(encoded.config, constant),
            )
        )
        return network, history, names

    def _train_streamed(self, fit) -> tuple[NumpyNetwork, list[dict], list[str]]:
        """:meth:`_train` for a streamed fit: the ID-like columns tested on
        the validation rows, read again piece by piece."""
        from ._streamed_fit import gain_statistics, held_out_gains, id_like, informative
        from ._streaming import Rows

        network, history, _ = super()._train_streamed(fit)
        judged = id_like(fit.table) if self.test_id_columns else []
        config = fit.config
        if not judged or config.validation_fraction <= 0:
            return network, history, []
        validation = Rows(config.validation_fraction, config.seed, validating=True)
        gains = held_out_gains(
            fit, network, judged, validation, fit.table.vocabulary.code_counts()
        )
        constant = [j for j in judged if not informative(*gain_statistics(gains[j]))]
        if not constant:
            return network, history, []
        names = self._report_refit(fit.config, constant)
        network, history, _ = super()._train_streamed(
            replace(
                fit,
                start=_without(fit.config, fit.start, constant),
                config=_refit_config(fit.config, constant),
            )
        )
        return network, history, names

    def _report_refit(self, config, constant: list[int]) -> list[str]:
        names = [config.table_names[j] for j in constant]
        self._report(
            f"{names} did not lower the loss of the validation rows: fitting "
            "again with each read as a constant vector (constant_columns_)."
        )
        return names

    def fit(self, X, y, sample_weight=None):
        """Learn the vocabulary, the tables and the network on ``y``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
            The table (pandas, polars or numpy), or a Dask DataFrame, read
            piece by piece for a table larger than memory (with ``y`` a Dask
            Series; see the user guide's "Scaling out").
        y : array-like of shape (n_rows,) or (n_rows, n_targets)
            The targets of a regression (a column per target), or the class
            labels of a classification.
        sample_weight : array-like of shape (n_rows,), default=None
            Weights of the training loss.

        Returns
        -------
        self
            The fitted estimator.
        """
        if streams(X):
            table = self._fit_streamed(X, y, sample_weight).table
            target = Target(table.task, np.empty(0), table.n_outputs, table.classes)
            for name, value in self._task_state(target).items():
                setattr(self, name, value)
            return self
        encoded = self._encode(X, y, sample_weight)
        network, history, constant = self._train(encoded)
        self._set_fit_result(
            encoded, network, history, constant, **self._task_state(encoded.target)
        )
        return self

    def _task_state(self, target: Target) -> dict:
        """The fitted attributes of the task (the classes, the outputs)."""
        raise NotImplementedError

    def _network_output(self, X) -> np.ndarray:
        check_is_fitted(self)
        codes, frame, unseen = self._codes(X, self.numeric_columns_)
        numeric = numeric_array(frame, self.numeric_columns_)
        check_finite_numeric(numeric, self.numeric_columns_)
        return self.network_.forward(codes, numeric, unseen)

    def transform_embeddings(self, X) -> np.ndarray:
        """Each row's embedding vectors: the network's tables, as learned
        (:meth:`EntityEmbedder.transform` with ``feature_scale=None``).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
            Columns are matched by name; extra columns are ignored.

        Returns
        -------
        ndarray of shape (n_rows, sum of embedding widths), float32
            One row per input row, in input order.
        """
        check_is_fitted(self)
        codes, _, unseen = self._codes(X)
        return self.network_.embed(codes, None, unseen)


@saveable
class EntityEmbeddingRegressor(RegressorMixin, _Predictor):
    __doc__ = (
        """Regression with entity embeddings: the trained network predicts.

    Fits exactly as :class:`EntityEmbedder` does, with a mean-squared-error
    head (one output per target column), and predicts with numpy.
    """
        + _SHARED_DOC.replace("{extra}", "")
        + """
    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from entembed import EntityEmbeddingRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"shop": rng.choice(list("abc"), 300)})
    >>> y = X["shop"].map({"a": 1.0, "b": 2.0, "c": 3.0})
    >>> model = EntityEmbeddingRegressor(hidden_units=(16,), max_epochs=40,
    ...                                  learning_rate=0.02, random_state=0)
    >>> model.fit(X, y).predict(pd.DataFrame({"shop": ["a", "c"]})).round()
    array([1., 3.])
    """
    )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _target_task(self) -> str:
        return "regression"

    def _task_state(self, target: Target) -> dict:
        return {"_single_output": target.values.ndim == 1}

    def predict(self, X) -> np.ndarray:
        """The network's predicted targets.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
            Columns are matched by name; extra columns are ignored.

        Returns
        -------
        ndarray of shape (n_rows,) or (n_rows, n_targets)
            One prediction per input row, in input order.
        """
        output = self._network_output(X).astype(np.float64)
        return output[:, 0] if self._single_output else output

    def _export_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        meta, arrays = super()._export_state()
        meta["single_output"] = self._single_output
        return meta, arrays

    @classmethod
    def _from_state(cls, meta: dict, arrays: dict) -> EntityEmbeddingRegressor:
        estimator = super()._from_state(meta, arrays)
        estimator._single_output = bool(meta["single_output"])
        if estimator._single_output and estimator.network_.n_outputs != 1:
            raise ValueError("a single-output regressor with several outputs")
        return estimator


@saveable
class EntityEmbeddingClassifier(ClassifierMixin, _Predictor):
    __doc__ = (
        """Classification with entity embeddings: the trained network predicts.

    Fits exactly as :class:`EntityEmbedder` does, with a binary (one logit) or
    multiclass (softmax) head, and predicts with numpy.
    """
        + _SHARED_DOC.replace("{extra}", ", and ``classes_``")
        + """
    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from entembed import EntityEmbeddingClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"shop": rng.choice(list("abc"), 300)})
    >>> y = X["shop"].map({"a": "low", "b": "high", "c": "high"})
    >>> model = EntityEmbeddingClassifier(hidden_units=(16,), max_epochs=30,
    ...                                   learning_rate=0.02, random_state=0)
    >>> model.fit(X, y).predict(pd.DataFrame({"shop": ["a", "c"]})).tolist()
    ['low', 'high']
    >>> model.classes_.tolist()
    ['high', 'low']
    """
    )

    def _target_task(self) -> str:
        return "classification"

    def _task_state(self, target: Target) -> dict:
        return {"classes_": np.asarray(target.classes)}

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
            Columns are matched by name; extra columns are ignored.

        Returns
        -------
        ndarray of shape (n_rows, n_classes)
            Each row's probabilities, in ``classes_`` order.
        """
        probabilities = output_columns(self._network_output(X), self.task_)
        if self.task_ == "binary":
            return np.column_stack([1.0 - probabilities[:, 0], probabilities[:, 0]])
        return probabilities

    def predict(self, X) -> np.ndarray:
        """Most probable class of each row.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
            Columns are matched by name; extra columns are ignored.

        Returns
        -------
        ndarray of shape (n_rows,)
            Labels from ``classes_``.
        """
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    @classmethod
    def _from_state(cls, meta: dict, arrays: dict) -> EntityEmbeddingClassifier:
        estimator = super()._from_state(meta, arrays)
        estimator.classes_ = classes = estimator._classes
        if classes is None:
            raise ValueError("a classifier without classes")
        n_outputs = estimator.network_.n_outputs
        if len(classes) < 2 or n_outputs != (1 if len(classes) == 2 else len(classes)):
            raise ValueError(f"{n_outputs} network outputs for {len(classes)} classes")
        return estimator


def _refit_config(config, constant: list[int]):
    """The settings of a refit without the ``constant`` columns: their
    pieces of text left out too, so that nothing of theirs trains."""
    pieces = tuple(None if j in constant else p for j, p in enumerate(config.pieces))
    return replace(config, progress_label="refit without them", pieces=pieces)


def _without(config, start: StartingPoint | None, constant: list[int]) -> StartingPoint:
    """Where a refit without the ``constant`` columns starts: ``start``, with
    each of them a zero table that does not train (the network learns
    without them, and serves them so)."""
    n_tables = len(config.cardinalities)
    tables: list[np.ndarray | None] = list(start.tables) if start else [None] * n_tables
    frozen = list(start.frozen) if start and start.frozen else [False] * n_tables
    for j in constant:
        tables[j] = np.zeros(
            (config.cardinalities[j], config.embedding_dims[j]), np.float32
        )
        frozen[j] = True
    return StartingPoint(
        tuple(tables),
        tuple(frozen),
        start.network if start else None,
        start.pieces if start else (),
    )
