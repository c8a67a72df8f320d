"""EntityEmbedder: the scikit-learn transformer that learns entity embeddings on a
supervised target and serves them as dense features.
"""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.base import TransformerMixin, clone
from sklearn.model_selection import KFold, StratifiedKFold, check_cv
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import EntityEmbeddingBase, embedding_feature_names
from ._dataframe import to_frame
from ._target import encode_target, infer_task
from ._vocabulary import N_RESERVED_CODES, UNKNOWN_CODE


def _procrustes_rotation(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Orthogonal R minimising ||source @ R - target|| (Schönemann, 1966)."""
    u, _, vt = np.linalg.svd(source.T.astype(np.float64) @ target, full_matrices=False)
    return (u @ vt).astype(np.float32)


class EntityEmbedder(TransformerMixin, EntityEmbeddingBase):
    """Learn one embedding table per categorical column and serve dense features.

    ``fit`` maps every categorical column to integer codes (with reserved codes
    for unknown/rare and for missing values, see :class:`CategoryVocabulary`),
    then trains a network (embeddings, optional numeric inputs, MLP, task head)
    on ``y`` with PyTorch Lightning. ``transform`` returns each row's vectors,
    ``embedding_dims_[column]`` float32 features per column, named
    ``<column>_emb<k>``: a numpy lookup that needs neither torch nor a GPU.

    Parameters
    ----------
    categorical_columns : "auto" or list of str, default="auto"
        Columns to embed. ``"auto"``: object, string, category and boolean
        columns; a table with none of these (e.g. a numeric array) is embedded
        whole. Integers index the columns of an array.
    numeric_columns : "auto", list of str or None, default="auto"
        Numeric columns fed to the network beside the embeddings (standardised
        inside it). ``"auto"``: the remaining numeric columns.
    remainder : {"drop", "passthrough"}, default="drop"
        Whether the columns that are not embedded appear in the output, after
        the embeddings (they must be numeric).
    task : {"auto", "regression", "binary", "multiclass"}, default="auto"
        What ``y`` is; ``"auto"`` reads it with scikit-learn's
        ``type_of_target`` (a float target is a regression).
    cv : int, cross-validation generator or None, default=None
        Cross-fitting in :meth:`fit_transform`: with ``cv=k``, each training
        row's features come from a model trained on the other folds, so a
        downstream model does not learn from vectors that already saw its
        target (gradient boosting on in-sample embeddings of rare categories
        overfits, as it does on in-sample target encodings). ``None`` (the
        default) returns in-sample features and costs one fit instead of k+1.
        Fold vectors are rotated onto the full model's vectors (orthogonal
        Procrustes on shared categories) so all rows share one coordinate
        system.
    encoder : {"embedding", "onehot"}, default="embedding"
        Lookup tables, or the one-hot linear baseline (same features, slower).
    embedding_dims : "auto", int, dict or callable, default="auto"
        Width of each table: fastai's ``min(600, round(1.6 * n ** 0.56))``, one
        int for all, a dict by column, or a function of the cardinality.
    hidden_units : tuple of int, default=(256, 128)
        Hidden layers of the MLP on top of the embeddings.
    dropout : float, default=0.0
        Dropout after each hidden layer.
    batch_norm : bool, default=False
        Batch normalisation after each hidden layer.
    min_frequency, max_categories, handle_unknown, handle_missing
        As in :class:`CategoryVocabulary`; rare and unseen categories share the
        trained unknown vector.
    max_epochs : int, default=20
        Passes over the training rows.
    batch_size : int, default=256
        Rows per training step.
    learning_rate : float, default=3e-3
        AdamW's learning rate for the hidden layers and the head.
    weight_decay : float, default=0.0
        AdamW's decoupled weight decay on the hidden layers and the head.
    table_learning_rate : float, default=100.0
        Plain SGD's learning rate for the embedding tables: it multiplies the
        gradient of the batch's mean loss (hence the large value). Unlike Adam,
        SGD moves a rare category only as far as its few rows pull it, so the
        training rows' features do not memorise their own targets.
    validation_fraction : float, default=0.1
        Rows held out to pick the best epoch (its weights are restored) and for
        early stopping; 0 trains on all rows for ``max_epochs``.
    patience : int or None, default=3
        Stop after this many epochs without a better validation loss.
    gradient_clip_val : float or None, default=None
        Clip the gradient norm (Lightning's setting).
    accelerator, devices, strategy, num_nodes, precision
        Lightning's Trainer settings; ``accelerator="auto"`` uses a GPU when
        there is one. A model trained on a GPU transforms on any CPU.
    n_threads : int or None, default=None
        torch threads during fit (None: torch's default).
    random_state : int, RandomState or None, default=None
        Seed of the initial tables, the validation split and the batches; an
        int makes CPU training reproducible.
    verbose : int or bool, default=False
        1 (True): a progress bar over epochs; 2: also Lightning's messages.

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
    task_ : str
        The task trained.
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

    _parameter_constraints: dict = {
        **EntityEmbeddingBase._parameter_constraints,
        "remainder": [StrOptions({"drop", "passthrough"})],
        "task": [StrOptions({"auto", "regression", "binary", "multiclass"})],
        "cv": [Interval(Integral, 2, None, closed="left"), "cv_object", None],
    }

    def __init__(
        self,
        *,
        categorical_columns="auto",
        numeric_columns="auto",
        remainder="drop",
        task="auto",
        cv=None,
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
        super().__init__(
            categorical_columns=categorical_columns,
            numeric_columns=numeric_columns,
            encoder=encoder,
            embedding_dims=embedding_dims,
            hidden_units=hidden_units,
            dropout=dropout,
            batch_norm=batch_norm,
            min_frequency=min_frequency,
            max_categories=max_categories,
            handle_unknown=handle_unknown,
            handle_missing=handle_missing,
            max_epochs=max_epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            table_learning_rate=table_learning_rate,
            validation_fraction=validation_fraction,
            patience=patience,
            gradient_clip_val=gradient_clip_val,
            accelerator=accelerator,
            devices=devices,
            strategy=strategy,
            num_nodes=num_nodes,
            precision=precision,
            n_threads=n_threads,
            random_state=random_state,
            verbose=verbose,
        )
        self.remainder = remainder
        self.task = task
        self.cv = cv

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # always float32
        return tags

    def _target(self, y):
        task = infer_task(y) if self.task == "auto" else self.task
        if task != "regression" and y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        target, classes = encode_target(y, task)
        if task == "regression":
            n_outputs = 1 if target.ndim == 1 else target.shape[1]
        else:
            n_outputs = 1 if task == "binary" else len(classes)
        return task, target, n_outputs

    def fit(self, X, y, sample_weight=None):
        """Learn the vocabulary and the embedding tables.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
            Training table (pandas, polars or numpy).
        y : array-like of shape (n_rows,) or (n_rows, n_targets)
            The supervised target the embeddings are learned on.
        sample_weight : array-like of shape (n_rows,), default=None
            Weights of the training loss.

        Returns
        -------
        self : EntityEmbedder
        """
        self._fit_network(X, self._target, y, sample_weight)
        passthrough = [
            c
            for c in self._columns
            if c not in self.categorical_columns_ and self.remainder == "passthrough"
        ]
        self.passthrough_columns_ = passthrough
        if passthrough:
            # Fail in fit, not in the first transform, on text that cannot pass.
            self._numeric_array(self._match(X, passthrough), passthrough)
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
        codes, frame = self._codes(X, self.passthrough_columns_)
        width = sum(self.network_.widths)
        out = np.empty(
            (len(codes), width + len(self.passthrough_columns_)), dtype=np.float32
        )
        self.network_.embed(codes, out)
        if self.passthrough_columns_:
            out[:, width:] = self._numeric_array(frame, self.passthrough_columns_)
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
        """
        check_is_fitted(self)
        names = [
            name
            for column in self.categorical_columns_
            for name in embedding_feature_names(column, self.embedding_dims_[column])
        ]
        return np.asarray([*names, *self.passthrough_columns_], dtype=object)

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then return features of the training rows (out-of-fold with ``cv``).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
        y : array-like of shape (n_rows,) or (n_rows, n_targets)
        sample_weight : array-like of shape (n_rows,), default=None

        Returns
        -------
        ndarray of shape (n_rows, n_features_out), float32
        """
        self.fit(X, y, sample_weight)
        if self.cv is None:
            return self.transform(X)
        return self._cross_fitted_features(X, y, sample_weight)

    def _cross_fitted_features(self, X, y, sample_weight):
        frame, _ = to_frame(X)
        y = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
        classifier = self.task_ != "regression"
        seed = int(
            np.random.default_rng(
                self.random_state if isinstance(self.random_state, Integral) else None
            ).integers(2**31 - 1)
        )
        if isinstance(self.cv, Integral):
            splitter_class = StratifiedKFold if classifier else KFold
            splitter = splitter_class(self.cv, shuffle=True, random_state=seed)
        else:
            splitter = check_cv(self.cv, y, classifier=classifier)
        out = self.transform(X)  # passthrough columns stay as they are
        codes = self.vocabulary_.transform(frame)
        width = sum(self.network_.widths)
        fold_params = {
            "cv": None,
            "categorical_columns": self.categorical_columns_,
            "numeric_columns": self.numeric_columns_,
            "embedding_dims": self.embedding_dims_,
            "task": self.task_,
        }
        for train, test in splitter.split(frame, y):
            # The fold learns with this model's codes and starting weights: a
            # category's row starts where it started here, and plain SGD moves
            # it only by what the fold's rows teach. The fold's tables then
            # differ from this model's by what the held-out rows taught, not by
            # an arbitrary orientation, and trees' split points carry over.
            fold = clone(self).set_params(**fold_params)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # said once, by fit
                fold._fit_network(
                    frame.iloc[train],
                    fold._target,
                    y[train],
                    None if sample_weight is None else np.asarray(sample_weight)[train],
                    vocabulary=self.vocabulary_,
                    seed=self._seed,
                )
            out[test, :width] = self._aligned(fold, codes[train], codes[test])
        return out

    def _aligned(self, fold: EntityEmbedder, train_codes, test_codes) -> np.ndarray:
        """The fold model's vectors for the held-out codes, in this model's axes.

        Categories the fold never saw get its unknown vector, as new categories
        do in ``transform``. An orthogonal rotation fitted on the rows the fold
        trained (the categories it saw and the reserved rows) absorbs what
        orientation the two trainings still differ by, without changing the
        fold's geometry.
        """
        test_codes = test_codes.copy()
        features = np.empty((len(test_codes), sum(self.network_.widths)), np.float32)
        start = 0
        for j, (table, fold_table) in enumerate(
            zip(self.network_.tables, fold.network_.tables, strict=True)
        ):
            seen = np.zeros(len(table), dtype=bool)
            seen[train_codes[:, j]] = True
            seen[:N_RESERVED_CODES] = True
            column = test_codes[:, j]
            column[~seen[column]] = UNKNOWN_CODE
            rotation = _procrustes_rotation(fold_table[seen], table[seen])
            block = slice(start, start + table.shape[1])
            features[:, block] = fold_table[column] @ rotation
            start += table.shape[1]
        return features
