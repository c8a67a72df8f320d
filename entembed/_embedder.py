"""EntityEmbedder: the scikit-learn transformer that learns entity embeddings on a
supervised target and serves them as dense features.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import TransformerMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import EntityEmbeddingBase, streams
from ._columns import is_passable
from ._dataframe import check_finite_numeric, numeric_array
from ._embedder_fit import fit_embedder
from ._numpy_network import column_pairs, output_columns
from ._parameter_docs import EMBEDDER, parameters_section
from ._persistence import saveable
from ._streaming import is_dask_collection


@saveable
class EntityEmbedder(TransformerMixin, EntityEmbeddingBase):
    __doc__ = (
        """Learn one embedding table per categorical column and serve dense features.

    ``fit`` maps every categorical column to integer codes (with reserved codes
    for unknown/rare and for missing values, see :class:`CategoryVocabulary`),
    then trains a network (embeddings, optional numeric inputs, MLP, task head)
    on ``y`` with PyTorch Lightning. ``transform`` returns each row's vectors,
    ``embedding_dims_[column]`` float32 features per column, named
    ``<column>_emb<k>``: a numpy lookup that needs neither torch nor a GPU.
"""
        + parameters_section(EMBEDDER)
        + """
    Attributes
    ----------
    categories_ : dict of str to ndarray
        Kept categories per embedded column (code ``i + 2`` for entry ``i``).
    cardinalities_ : dict of str to int
        Rows of each table, reserved codes included.
    embedding_dims_ : dict of str to int
        Width of each table.
    embeddings_ : dict of str to DataFrame
        Each table indexed by category, with rows ``"<unknown>"``, ``"<missing>"``.
    history_ : DataFrame
        Per-epoch ``train_loss`` and ``val_loss`` (and the task metric).
    categorical_columns_, numeric_columns_ : list of str
        The columns embedded and fed as numbers.
    passthrough_columns_ : list of str
        The columns :meth:`transform` passes on after the vectors
        (``remainder="passthrough"``: those holding numbers or booleans).
    task_ : str
        The task trained.
    cv_ : int or None
        The folds :meth:`fit` and :meth:`fit_transform` cross-fitted in (a
        given splitter's number of splits); None: in-sample features.
    constant_columns_ : list of str
        ID-like columns that ``cv="auto"`` found uninformative out of fold:
        each serves one vector, its mean over the training rows, to every row.
    feature_scales_ : dict of str to float
        The factor each column's learned vectors were multiplied by
        (``feature_scale``); 1.0 with None.
    string_features_ : dict of str to StringHashing
        The columns cut into pieces of text (``string_features``), each with
        how its strings are cut and hashed.
    vocabulary_ : CategoryVocabulary
        The fitted codes.
    n_features_in_ : int
        Number of columns seen in fit.
    feature_names_in_ : ndarray of str
        Column names seen in fit (only for tables with string names).

    See Also
    --------
    EntityEmbeddingRegressor, EntityEmbeddingClassifier : the trained network's
        own predictions.
    sklearn.preprocessing.TargetEncoder : one number per category and class.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from entembed import EntityEmbedder
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"city": rng.choice(["Oslo", "Lima", "Pune"], 200)})
    >>> y = (X["city"] == "Lima").astype(float) + rng.normal(0, 0.1, 200)
    >>> embedder = EntityEmbedder(embedding_dims=2, hidden_units=(8,),
    ...                           random_state=0).fit(X, y)
    >>> embedder.transform(X.head(2)).shape
    (2, 2)
    >>> embedder.get_feature_names_out().tolist()
    ['city_emb0', 'city_emb1']
    """
    )

    _parameter_constraints: dict = {
        **EntityEmbeddingBase._parameter_constraints,
        "remainder": [StrOptions({"drop", "passthrough"})],
        "task": [StrOptions({"auto", "regression", "binary", "multiclass"})],
        # "cv_object" admits an int >= 2, a splitter, an iterable and None.
        "cv": [StrOptions({"auto"}), "cv_object"],
        "append_prediction": ["boolean"],
        "feature_scale": [StrOptions({"balanced"}), None],
    }
    _why_constant = (
        "did not generalise out of fold (constant_columns_). Fit with cv=5 or "
        "cv=None to keep them."
    )

    def __init__(
        self,
        *,
        categorical_columns="auto",
        numeric_columns="auto",
        remainder="passthrough",
        task="auto",
        cv="auto",
        test_id_columns=True,
        append_prediction=False,
        feature_scale="balanced",
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
        super().__init__(
            categorical_columns=categorical_columns,
            numeric_columns=numeric_columns,
            test_id_columns=test_id_columns,
            encoder=encoder,
            embedding_dims=embedding_dims,
            hidden_units=hidden_units,
            dropout=dropout,
            batch_norm=batch_norm,
            interactions=interactions,
            string_features=string_features,
            string_buckets=string_buckets,
            string_ngram_range=string_ngram_range,
            min_frequency=min_frequency,
            max_categories=max_categories,
            handle_unknown=handle_unknown,
            handle_missing=handle_missing,
            max_epochs=max_epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            table_learning_rate=table_learning_rate,
            category_dropout=category_dropout,
            shrinkage=shrinkage,
            learning_rate_schedule=learning_rate_schedule,
            validation_fraction=validation_fraction,
            patience=patience,
            gradient_clip_val=gradient_clip_val,
            accelerator=accelerator,
            devices=devices,
            strategy=strategy,
            num_nodes=num_nodes,
            precision=precision,
            n_threads=n_threads,
            checkpoint_dir=checkpoint_dir,
            callbacks=callbacks,
            logger=logger,
            init_embeddings=init_embeddings,
            freeze_embeddings=freeze_embeddings,
            warm_start=warm_start,
            random_state=random_state,
            verbose=verbose,
        )
        self.remainder = remainder
        self.task = task
        self.cv = cv
        self.append_prediction = append_prediction
        self.feature_scale = feature_scale

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # always float32
        return tags

    def _target_task(self) -> str:
        return self.task

    def _fit(self, X, y, sample_weight, *, features: bool) -> np.ndarray | None:
        """Encode, train, and finish the fit (:func:`fit_embedder`); set the
        fitted state once. With ``features``, return the training rows'
        features as :meth:`fit_transform` serves them."""
        if streams(X):
            return self._fit_streamed_embedder(X, y, sample_weight, features=features)
        encoded = self._encode(X, y, sample_weight)
        network, history, _ = self._train(encoded)
        done = fit_embedder(
            encoded,
            network,
            history,
            cv=self.cv,
            test_id_columns=self.test_id_columns,
            append_prediction=self.append_prediction,
            feature_scale=self.feature_scale,
            features=features,
            report=self._report,
        )
        categorical = list(encoded.config.table_names)
        self._set_fit_result(
            encoded,
            done.network,
            history,
            done.constant_columns,
            passthrough_columns_=[
                c
                for c in encoded.frame.columns
                if self.remainder == "passthrough"
                and c not in categorical
                and is_passable(encoded.frame[c])
            ],
            cv_=done.cv,
            feature_scales_=dict(
                zip(categorical, map(float, done.feature_scales), strict=True)
            ),
        )
        if not features:
            return None
        unseen = self._unseen(encoded.codes, encoded.frame)  # rare strings
        out = self._features(encoded.codes, encoded.frame, unseen)
        if done.embeddings is not None:
            out[:, : done.embeddings.shape[1]] = done.embeddings
        if done.predictions is not None:
            out[:, self._prediction_block] = done.predictions
        if done.pairs is not None:
            out[:, self._pairs_block] = done.pairs
        return out

    def _fit_streamed_embedder(self, X, y, sample_weight, *, features: bool):
        """:meth:`_fit` on a table read piece by piece; with ``features``, the
        training rows' features as a lazy Dask DataFrame."""
        from ._streamed_cross_fit import finish_embedder, out_of_fold_features

        for name, value, served in [
            ("append_prediction", self.append_prediction, "predictions"),
            ("interactions", self.interactions, "products of column pairs"),
        ]:
            if features and value not in (False, "none", "cross"):
                raise ValueError(
                    f"fit_transform with {name}={value!r} on a Dask DataFrame "
                    f"would serve in-sample {served}: a streamed fit does not "
                    "cross-fit them. Call fit, then transform_dask, or fit in "
                    "memory."
                )
        fit = self._fit_streamed(X, y, sample_weight)
        table = fit.table
        done, fold_tables = finish_embedder(
            fit,
            self.network_,
            self.history_.to_dict("records"),
            cv=self.cv,
            test_id_columns=self.test_id_columns,
            feature_scale=self.feature_scale,
            report=self._report,
        )
        self.network_ = done.network
        self.constant_columns_ = done.constant_columns
        self.passthrough_columns_ = [
            c
            for c in table.columns
            if self.remainder == "passthrough"
            and c not in table.categorical
            and is_passable(pd.Series([], dtype=table.dtypes[c]))
        ]
        self.cv_ = done.cv
        self.feature_scales_ = dict(
            zip(table.categorical, map(float, done.feature_scales), strict=True)
        )
        if not features or not is_dask_collection(X):
            return None
        if fold_tables is None:
            from ._dask import transform_dask

            return transform_dask(self, X)
        return out_of_fold_features(
            table.source.pieces[0].frame,
            table,
            fold_tables,
            fit.config.seed,
            self.passthrough_columns_,
            [str(name) for name in self.get_feature_names_out()],
        )

    def _check_stream(self, fit) -> None:
        """Refuse, before training, folds a streamed fit cannot draw."""
        if self.cv is None or self.cv == "auto" or isinstance(self.cv, Integral):
            return
        raise ValueError(
            f"cv={self.cv!r}: a streamed fit draws its folds from a hash of "
            "each row's position, so it takes a number of folds (or 'auto'), "
            "not a splitter. Pass cv=5, or fit in memory."
        )

    def fit(self, X, y, sample_weight=None):
        """Learn the vocabulary and the embedding tables.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
            Training table (pandas, polars or numpy), or a Dask DataFrame,
            read piece by piece for a table larger than memory (with ``y``
            a Dask Series; see the user guide's "Scaling out").
        y : array-like of shape (n_rows,) or (n_rows, n_targets)
            The supervised target the embeddings are learned on.
        sample_weight : array-like of shape (n_rows,), default=None
            Weights of the training loss.

        Returns
        -------
        self : EntityEmbedder
            The fitted embedder.
        """
        self._fit(X, y, sample_weight, features=False)
        return self

    def transform(self, X) -> np.ndarray:
        """Each row's embedding vectors (and passed-through columns).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
            Columns are matched by name; extra columns are ignored.

        Returns
        -------
        ndarray of shape (n_rows, n_features_out), float32
            One row per input row, in input order.
        """
        check_is_fitted(self)
        needed = [*self.passthrough_columns_]
        if self.append_prediction:
            needed += [c for c in self.numeric_columns_ if c not in needed]
        codes, frame, unseen = self._codes(X, needed)
        out = self._features(codes, frame, unseen)
        if self.append_prediction:
            numeric = numeric_array(frame, self.numeric_columns_)
            check_finite_numeric(numeric, self.numeric_columns_)
            out[:, self._prediction_block] = output_columns(
                self.network_.forward(codes, numeric, unseen), self.task_
            )
        if self.network_.n_pairs:
            out[:, self._pairs_block] = self.network_.pair_products(codes, unseen)
        return out

    @property
    def _prediction_block(self) -> slice:
        """The output columns of the appended prediction (empty without it)."""
        width = sum(self.network_.widths)
        n = self.network_.n_outputs if self.append_prediction else 0
        return slice(width, width + n)

    @property
    def _pairs_block(self) -> slice:
        """The output columns of the products of column pairs
        (``interactions="fm"``; empty without them)."""
        start = self._prediction_block.stop
        return slice(start, start + self.network_.n_pairs)

    def _features(
        self, codes: np.ndarray, frame: pd.DataFrame, unseen=None
    ) -> np.ndarray:
        """Embeddings, room for the prediction and the products of column
        pairs, passed-through columns."""
        after = self._pairs_block.stop
        out = np.empty(
            (len(codes), after + len(self.passthrough_columns_)), dtype=np.float32
        )
        self.network_.embed(codes, out, unseen)
        if self.passthrough_columns_:
            out[:, after:] = numeric_array(frame, self.passthrough_columns_)
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Output column names: ``<column>_emb<k>``, then passed-through columns.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored (the names come from fit).

        Returns
        -------
        ndarray of str objects
            One name per output column.
        """
        names = [*self.get_embedding_names_out()]
        if self.append_prediction:
            n = self.network_.n_outputs
            if self.task_ == "regression":
                names += (
                    [f"prediction{k}" for k in range(n)] if n > 1 else ["prediction"]
                )
            else:
                found = self._classes  # None in a model 0.1.0 pickled
                classes = list(range(max(n, 2))) if found is None else list(found)
                shown = classes[1:] if self.task_ == "binary" else classes
                names += [f"probability_{label}" for label in shown]
        if self.network_.n_pairs:
            columns = self.categorical_columns_
            names += [
                f"{columns[i]}*{columns[j]}"
                for i, j in zip(*column_pairs(len(columns)), strict=True)
            ]
        return np.asarray([*names, *self.passthrough_columns_], dtype=object)

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then return features of the training rows (out-of-fold with ``cv``).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
            The table (pandas, polars or numpy), or a Dask DataFrame, read
            piece by piece for a table larger than memory (with ``y`` a Dask
            Series; see the user guide's "Scaling out").
        y : array-like of shape (n_rows,) or (n_rows, n_targets)
            The supervised target.
        sample_weight : array-like of shape (n_rows,), default=None
            Weights of the training loss.

        Returns
        -------
        ndarray of shape (n_rows, n_features_out), float32
            One row per input row, in input order; for a Dask DataFrame, a
            lazy Dask DataFrame of its partitions (out of fold where the fit
            cross-fitted, each row's fold drawn from a hash of its position).
        """
        return self._fit(X, y, sample_weight, features=True)

    # ------------------------------------------------------ fitted state
    def _export_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        meta, arrays = super()._export_state()
        meta["passthrough_columns"] = self.passthrough_columns_
        meta["cv"] = self.cv_
        meta["feature_scales"] = [
            self.feature_scales_[c] for c in self.categorical_columns_
        ]
        return meta, arrays

    @classmethod
    def _from_state(cls, meta: dict, arrays: dict) -> EntityEmbedder:
        estimator = super()._from_state(meta, arrays)
        passthrough = list(meta["passthrough_columns"])
        available = set(estimator._columns) - set(estimator.categorical_columns_)
        if not all(isinstance(c, str) and c in available for c in passthrough):
            raise ValueError(f"passthrough columns {passthrough} are not columns")
        estimator.passthrough_columns_ = passthrough
        folds = meta["cv"]
        if folds is not None and (
            isinstance(folds, bool) or not isinstance(folds, int) or folds < 2
        ):
            raise ValueError(f"cv {folds!r} is not a number of folds")
        estimator.cv_ = folds
        columns = estimator.categorical_columns_
        scales = meta["feature_scales"]
        if not (
            isinstance(scales, list)
            and len(scales) == len(columns)
            and all(
                isinstance(f, float | int)
                and not isinstance(f, bool)
                and 0 < f < np.inf
                for f in scales
            )
        ):
            raise ValueError(
                f"feature scales {scales} are not one positive number per column"
            )
        estimator.feature_scales_ = dict(zip(columns, map(float, scales), strict=True))
        return estimator
