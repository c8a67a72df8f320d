"""EntityEmbedder: the scikit-learn transformer that learns entity embeddings on a
supervised target and serves them as dense features.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import TransformerMixin
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import EncodedTable, EntityEmbeddingBase
from ._columns import is_passable
from ._cross_fit import (
    AUTO_FOLDS,
    cross_fitted_embeddings,
    encoded_id_like_columns,
    informative,
    mean_vector,
    memorising_columns,
)
from ._dataframe import check_finite_numeric, numeric_array
from ._numpy_network import output_columns
from ._persistence import saveable


@saveable
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
    remainder : {"passthrough", "drop"}, default="passthrough"
        What happens to the columns that are not embedded. ``"passthrough"``:
        those holding numbers (or booleans) follow the embeddings in the
        output, as they came, so a downstream model gets them too (as with
        skrub's ``TableVectorizer``); other columns (dates, text that is not
        embedded) are left out with a warning. ``"drop"``: the output holds
        the embeddings only, as before version 0.2, e.g. inside a
        ``ColumnTransformer`` that passes the other columns itself.
    task : {"auto", "regression", "binary", "multiclass"}, default="auto"
        What ``y`` is; ``"auto"`` reads it with scikit-learn's
        ``type_of_target`` (a float target is a regression).
    cv : "auto", int, cross-validation generator or None, default="auto"
        Cross-fitting: with ``cv=k``, :meth:`fit_transform` gives each
        training row the features of a model trained on the other folds, so a
        downstream model does not learn from vectors that already saw its
        target (gradient boosting on in-sample embeddings of rare categories
        overfits, as it does on in-sample target encodings). Fold vectors are
        rotated onto the full model's vectors (orthogonal Procrustes on shared
        categories) so all rows share one coordinate system, and the tables
        served afterwards (:meth:`transform`, saved files, ONNX) are the mean
        of the k rotated fold tables: new rows get vectors of the kind the
        downstream model learned from (measured on the nine quality tables:
        gradient boosting better on seven than with the full model's tables,
        within noise on two). :meth:`fit` cross-fits too, so both leave the
        same model. With ``append_prediction=True`` the full model's tables
        are served: its network predicts from them. ``None`` returns in-sample
        features and costs one fit instead of k+1. ``"auto"``: 5 folds where
        an embedded column is ID-like (fewer than 10 training rows per
        category on average), in-sample otherwise; measured on the nine
        quality tables, cross-fitting improved gradient boosting on each of
        the six with such a column and on none of the three without (hotels
        RMSE 14.52 in-sample, 15.16 cross-fitted), at 6 fits' cost instead of
        one where it cross-fits. A column with fewer than 50 rows per
        category counts as ID-like too where the fit shows its vectors
        memorise: they lower the loss of the rows they trained on more than
        the validation rows', by two standard errors (flights at 80,000
        rows, 13-15 per category: gradient boosting 0.655 in-sample, 0.700
        with the test; target encoding 0.704). The folds also test each
        ID-like column (see ``test_id_columns``). ``cv_`` tells what a fit
        chose.
    test_id_columns : bool, default=True
        Test each ID-like column (fewer than 10 training rows per category on
        average) on rows its model did not train on: where its vectors do not
        lower the loss there by more than two standard errors, against the
        column's mean vector over the training rows, they carry only what
        their few rows per category memorised (``constant_columns_`` lists
        such columns). :class:`EntityEmbedder` tests with ``cv="auto"``, on
        its folds' held-out rows (a column found memorising counts as
        ID-like there, see ``cv``), and serves the column's mean vector to
        every row; where no ID-like column is left, the features are
        in-sample, as the other columns' vectors of many rows per category
        leak little (flights ROC AUC 0.670 -> 0.687, target encoding 0.678).
        The predictors test on their validation rows (with
        ``validation_fraction > 0``) and fit again without the column: it
        reads as a zero vector that does not train, for every category
        (``history_`` is the second fit's; your ``callbacks`` and ``logger``
        see both). A failing column costs them that one more fit. Measured on
        the nine quality tables, the network's own score against one-hot with
        a linear model: flights ROC AUC 0.637 -> 0.651 (one-hot 0.644; flight
        numbers and planes left out), loans RMSE 4.31 -> 4.10 (4.21; job
        titles), road deaths ROC AUC 0.872 -> 0.881 (0.879; case IDs), the six
        others unchanged (their ID-like columns, where they have one, pass);
        on the two held-out tables 1.391 (movies, titles left out; one-hot
        1.466) and 2.352 (chemistry, schools left out on one split of three;
        2.423). ``False`` keeps every column's vectors.
    append_prediction : bool, default=False
        Stacking: append the network's prediction to the features (after the
        embeddings, before passed-through columns): the target for a
        regression, the positive class's probability (binary) or each class's
        probability (multiclass), so a downstream model also gets what the
        network learned from the columns together. In :meth:`fit_transform`
        the training rows' predictions are always out-of-fold, from the
        ``cv`` folds or, when ``cv`` is None, from 5 folds trained for them (5
        more fits); ``transform`` gives the full model's.
    feature_scale : {"balanced"} or None, default="balanced"
        How the served vectors are scaled, for models that measure distances
        (k-nearest neighbours, kernels, clustering) beside standardised
        columns. The scale of learned vectors is arbitrary: a column the
        network spread ten times wider would weigh ten times more in a
        distance, whatever its use. ``"balanced"`` multiplies each column's
        vectors by one factor, so that its spread over the training rows (the
        sum of its features' variances) becomes the square root of the
        learned one, and all columns' spreads then average 1, the spread of a
        standardised column: wider columns still weigh more, by the square
        root. Each column's directions and the distances within it stay as
        learned; trees and gradient boosting are unaffected (one factor per
        feature), and the network's first layer takes the inverse factors, so
        its predictions stay. ``None`` serves the tables as learned.
        ``feature_scales_`` holds the factors. Measured on the nine quality
        tables, k-nearest neighbours (k=10) on the default features matches
        or beats it on target encoding on 7 instead of 5 (hotels RMSE 44.85
        -> 38.42, target encoding 38.58; baseball 0.813 -> 0.755), at a cost
        on grants (ROC AUC 0.924 -> 0.911, target encoding 0.900).
    encoder : {"embedding", "onehot"}, default="embedding"
        Lookup tables, or the one-hot linear baseline (same features, slower).
    embedding_dims : "auto", "capped", int, dict or callable, default="auto"
        Width of each table. ``"auto"``: fastai's ``min(600, round(1.6 * n **
        0.56))`` for ``n`` categories; ``"capped"``: the same, at most
        ``max(2, round(4 * sqrt(N / n)))`` for ``N`` training rows, so an
        ID-like column with a few rows per category gets a few dimensions
        (smaller, faster tables; see the ablation page). Or one int for all, a
        dict by column, or a function of the cardinality.
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
    category_dropout : float, default=0.0
        Share of the training rows' codes, per column and step, read as
        unknown: the unknown vector (which rare, unseen and dropped categories
        share) learns what an average category gives, and no vector can rely
        on its own rows alone.
    shrinkage : float or "auto", default=0.0
        Frequency shrinkage, as target encoding smooths: a category with ``n``
        training rows gets ``n / (n + shrinkage)`` of its own vector and the
        rest of the unknown vector, in training and in the served
        embeddings. ``"auto"`` picks the count per column by empirical Bayes,
        as ``TargetEncoder(smooth="auto")`` does: the target's variance within
        categories over the variance of their means. 0 turns it off.
    learning_rate_schedule : {"cosine", "constant"}, default="cosine"
        "cosine" lowers both learning rates along a half cosine, from their
        values at the first step to 0 at the end of ``max_epochs``; early
        stopping may end the fit part-way down. Measured on the nine quality
        tables against constant rates: scores equal or better on each, and
        with ``patience=2`` (steadier validation losses late in the fit)
        1.38x faster fits (median). "constant" keeps both rates.
    validation_fraction : float, default=0.1
        Rows held out to pick the best epoch (its weights are restored) and for
        early stopping; 0 trains on all rows for ``max_epochs``.
    patience : int or None, default=2
        Stop after this many epochs without a better validation loss.
    gradient_clip_val : float or None, default=None
        Clip the gradient norm (Lightning's setting).
    accelerator, devices, strategy, num_nodes, precision
        Lightning's Trainer settings; ``accelerator="auto"`` uses a GPU when
        there is one. A model trained on a GPU transforms on any CPU.
    n_threads : int or None, default=None
        torch threads during fit. None: the CPUs idle as the fit starts, at
        most torch's default (the cores, or ``OMP_NUM_THREADS``), at least
        one: torch's threads wait for each other, so a fit on every core runs
        several times slower while another process holds one of them (see
        the threads benchmark page). Set a number to fix it, e.g. 1 beside
        other jobs on a small machine.
    checkpoint_dir : str, path or None, default=None
        Resumable training: each epoch ends with a checkpoint in a folder of
        this directory named after the data and settings, and a fit with the
        same data and parameters that finds one (after a crash, a kill or
        Ctrl-C) resumes from its last completed epoch; with a seed it ends with
        the same tables as an uninterrupted fit. The folder is removed when the
        fit completes. Checkpoints are torch pickles: use a directory only you
        write to.
    callbacks : list of lightning.pytorch.Callback or None, default=None
        Your Lightning callbacks, run beside entembed's own (history, early
        stopping, best weights). Cloning copies them; they are not saved.
    logger : lightning.pytorch.loggers.Logger, list of them, or None, default=None
        Where Lightning logs the per-step and per-epoch losses (``CSVLogger``,
        ``TensorBoardLogger``, ``MLFlowLogger``, ...). Not saved.
    init_embeddings : fitted estimator, dict of DataFrame or None, default=None
        Transfer: start the tables of the columns it shares with ``X`` from its
        vectors (an estimator's ``embeddings_``, or DataFrames indexed by
        category in that layout). Categories it lacks start from its
        ``"<unknown>"`` vector (or its mean vector). Under
        ``embedding_dims="auto"`` those columns take its widths; other widths
        are an error. Ignored when ``warm_start`` continues a fitted model.
        scikit-learn's ``clone`` (as in ``GridSearchCV``) unfits an estimator
        given here; pass its ``embeddings_`` to tools that clone.
    freeze_embeddings : bool, default=False
        Keep the tables started from ``init_embeddings`` as given; only the
        other tables and the layers train.
    warm_start : bool, default=False
        When the estimator is fitted, ``fit`` continues its network on the new
        rows instead of starting afresh: new categories are appended to the
        vocabulary and start from the unknown vector, while known categories
        keep their codes and start from their vectors, so features stay
        comparable. The columns, the task (and classes), ``hidden_units``,
        ``batch_norm`` and the widths must stay; the input and target scalings
        of the first fit are kept. ``history_`` continues its epoch count. On
        an unfitted estimator, ``fit`` starts afresh, as scikit-learn's
        ``warm_start`` does.
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
    cv_ : int or None
        The folds :meth:`fit` and :meth:`fit_transform` cross-fitted in (a
        given splitter's number of splits); None: in-sample features.
    constant_columns_ : list of str
        ID-like columns that ``cv="auto"`` found uninformative out of fold:
        each serves one vector, its mean over the training rows, to every row.
    feature_scales_ : dict of str to float
        The factor each column's learned vectors were multiplied by
        (``feature_scale``); 1.0 with None.
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
        # "cv_object" admits an int >= 2, a splitter, an iterable and None.
        "cv": [StrOptions({"auto"}), "cv_object"],
        "append_prediction": ["boolean"],
        "feature_scale": [StrOptions({"balanced"}), None],
    }
    # Files written before the parameter served the tables as learned.
    _params_before = {**EntityEmbeddingBase._params_before, "feature_scale": None}
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

    def _fit(self, X, y, sample_weight=None) -> EncodedTable:
        encoded = super()._fit(X, y, sample_weight)
        self.passthrough_columns_ = [
            c
            for c in self._columns
            if self.remainder == "passthrough"
            and c not in self.categorical_columns_
            and is_passable(encoded.frame[c])
        ]
        self._id_like = encoded_id_like_columns(encoded)
        if self.cv != "auto":
            self._folds = self.cv
        else:
            memorising = memorising_columns(encoded, self.network_)
            self._report(self._auto_cv_story(encoded, self._id_like, memorising))
            self._id_like += memorising
            self._folds = AUTO_FOLDS if self._id_like else None
        self.cv_ = (
            self._folds
            if self._folds is None or isinstance(self._folds, Integral)
            else check_cv(self._folds).get_n_splits()
        )
        return encoded

    def _auto_cv_story(self, encoded, id_like, memorising) -> str:
        """What ``cv="auto"`` decided, and which columns made it decide."""
        per_category = len(encoded.codes) / np.maximum(
            np.array(self.vocabulary_.cardinalities_) - 2, 1
        )

        def named(columns):
            return ", ".join(
                f"{self.categorical_columns_[j]!r} ({per_category[j]:.1f} "
                "training rows per category)"
                for j in columns
            )

        if not id_like and not memorising:
            return (
                "cv='auto' serves in-sample features (one fit): no embedded "
                "column is ID-like."
            )
        reasons = []
        if id_like:
            reasons.append(f"{named(id_like)} is ID-like")
        if memorising:
            reasons.append(
                f"{named(memorising)} memorises (its vectors fit their own rows "
                "better than the validation rows)"
            )
        return (
            f"cv='auto' cross-fits in {AUTO_FOLDS} folds ({AUTO_FOLDS} more fits): "
            + "; ".join(reasons)
            + ", so in-sample vectors would carry their rows' targets to a "
            "downstream model."
        )

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
            The fitted embedder.
        """
        continued = len(self.history_) if self._continues() else 0
        encoded = self._fit(X, y, sample_weight)
        features = None
        if self._serves_fold_mean:
            features, _ = self._cross_fit(encoded, continued)
        self._scale_features(encoded, features)
        return self

    @property
    def _serves_fold_mean(self) -> bool:
        """Whether the served tables are the cross-fitting folds' mean. Not
        with an appended prediction: its network needs the tables it learned
        with (on the mean tables it went wrong: hotels RMSE 15.6 -> 32)."""
        return self._folds is not None and not self.append_prediction

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
        codes, frame = self._codes(X, needed)
        out = self._features(codes, frame)
        if self.append_prediction:
            numeric = numeric_array(frame, self.numeric_columns_)
            check_finite_numeric(numeric, self.numeric_columns_)
            out[:, self._prediction_block] = output_columns(
                self.network_.forward(codes, numeric), self.task_
            )
        return out

    @property
    def _prediction_block(self) -> slice:
        """The output columns of the appended prediction (empty without it)."""
        width = sum(self.network_.widths)
        n = self.network_.n_outputs if self.append_prediction else 0
        return slice(width, width + n)

    def _features(self, codes: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
        """Embeddings, room for the prediction, passed-through columns."""
        after = self._prediction_block.stop
        out = np.empty(
            (len(codes), after + len(self.passthrough_columns_)), dtype=np.float32
        )
        self.network_.embed(codes, out)
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
                # Models pickled by 0.1.0 lack their classes: name them by index.
                found = getattr(self, "_classes", None)
                classes = list(range(max(n, 2))) if found is None else list(found)
                shown = classes[1:] if self.task_ == "binary" else classes
                names += [f"probability_{label}" for label in shown]
        return np.asarray([*names, *self.passthrough_columns_], dtype=object)

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then return features of the training rows (out-of-fold with ``cv``).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
            The table (pandas, polars or numpy).
        y : array-like of shape (n_rows,) or (n_rows, n_targets)
            The supervised target.
        sample_weight : array-like of shape (n_rows,), default=None
            Weights of the training loss.

        Returns
        -------
        ndarray of shape (n_rows, n_features_out), float32
            One row per input row, in input order.
        """
        continued = len(self.history_) if self._continues() else 0
        encoded = self._fit(X, y, sample_weight)
        embeddings = predictions = None
        if self._folds is not None or self.append_prediction:
            embeddings, predictions = self._cross_fit(encoded, continued)
        factors = self._scale_features(encoded, embeddings)
        out = self._features(encoded.codes, encoded.frame)
        if embeddings is not None:
            out[:, : sum(self.network_.widths)] = embeddings * np.repeat(
                factors, self.network_.widths
            ).astype(np.float32)
        if predictions is not None:
            out[:, self._prediction_block] = predictions
        return out

    def _cross_fit(self, encoded, continued: int):
        """Out-of-fold features (and predictions) of the training rows; with
        ``cv`` (and no appended prediction), the fold models' average tables
        become the served ones. With ``cv="auto"``, ID-like columns whose
        vectors do not lower the folds' held-out loss serve a constant, and
        where none is left, in-sample features are served (features None)."""
        judged = (
            self._id_like
            if self.cv == "auto" and self.test_id_columns and self._serves_fold_mean
            else []
        )
        fitted = cross_fitted_embeddings(
            encoded,
            AUTO_FOLDS if self._folds is None else self._folds,
            self.network_.tables,
            epochs=_epochs_to_best(self.history_.iloc[continued:]),
            predict=self.append_prediction,
            gains_of=judged,
        )
        if not self._serves_fold_mean:
            features = None if self._folds is None else fitted.features
            return features, fitted.predictions
        constant = [j for j in judged if not informative(fitted.held_out_gains[j])]
        self.constant_columns_ = [self.categorical_columns_[j] for j in constant]
        self._report_test(judged, constant)
        if fitted.features is None or fitted.mean_tables is None:
            # No ID-like column carries signal to rows it did not learn from
            # (every judged column is constant): nothing left to cross-fit
            # for, and the other columns' in-sample vectors leak little (they
            # have many rows per category).
            self._folds = self.cv_ = None
            self.network_ = replace(
                self.network_, tables=_constant(self.network_.tables, constant, encoded)
            )
            return None, fitted.predictions
        tables = _constant(fitted.mean_tables, constant, encoded)
        self.network_ = replace(self.network_, tables=tables)
        features = fitted.features
        starts = np.cumsum([0, *self.network_.widths])
        for j in constant:
            features[:, starts[j] : starts[j + 1]] = tables[j][0]
        return features, fitted.predictions

    def _report_test(self, judged: list[int], constant: list[int]) -> None:
        """What the folds' test of the ID-like columns found."""
        names = self.categorical_columns_
        kept = [names[j] for j in judged if j not in constant]
        if kept:
            self._report(
                f"{kept} lowered the loss of rows their fold did not train on: "
                "out-of-fold features, and the folds' mean vectors served."
            )
        if constant:
            self._report(
                f"{[names[j] for j in constant]} did not lower the loss of rows "
                "their fold did not train on: each serves its mean vector to "
                "every row (constant_columns_)"
                + (
                    "."
                    if kept
                    else "; with no ID-like column left, in-sample features."
                )
            )

    def _scale_features(
        self, encoded: EncodedTable, cross_fitted: np.ndarray | None = None
    ) -> np.ndarray:
        """Scale the served vectors by ``feature_scale`` (the network's first
        layer takes the inverse); each column's factor. The spreads are those
        of the training rows' features as :meth:`fit_transform` serves them:
        out of fold where cross-fitted (``cross_fitted``), else looked up."""
        tables = self.network_.tables
        factors = np.ones(len(tables))
        if self.feature_scale == "balanced":
            if cross_fitted is None or not self._serves_fold_mean:
                spreads = table_spreads(tables, encoded.codes)
            else:
                starts = np.cumsum([0, *self.network_.widths])
                spreads = np.array(
                    [
                        cross_fitted[:, a:b].var(axis=0, dtype=np.float64).sum()
                        for a, b in itertools.pairwise(starts)
                    ]
                )
            factors = balanced_scales(spreads)
            self.network_ = self.network_.scaled(factors)
        self.feature_scales_ = dict(
            zip(self.categorical_columns_, map(float, factors), strict=True)
        )
        return factors

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
        if "cv" in meta:
            folds = meta["cv"]
        else:  # written before cv_: its cv was None, a number or not stored
            folds = None if estimator.cv == "auto" else estimator.cv
        if folds is not None and (
            isinstance(folds, bool) or not isinstance(folds, int) or folds < 2
        ):
            raise ValueError(f"cv {folds!r} is not a number of folds")
        estimator.cv_ = folds
        columns = estimator.categorical_columns_
        scales = meta.get("feature_scales", [1.0] * len(columns))  # older: as learned
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


def table_spreads(tables, codes: np.ndarray) -> np.ndarray:
    """Each column's spread over rows (``codes``): the sum of the variances
    of its looked-up vectors' features."""
    spreads = np.zeros(len(tables))
    for j, table in enumerate(tables):
        share = np.bincount(codes[:, j], minlength=len(table)) / len(codes)
        values = table.astype(np.float64)
        centred = values - share @ values
        spreads[j] = share @ (centred**2).sum(axis=1)
    return spreads


def balanced_scales(spreads: np.ndarray) -> np.ndarray:
    """Each column's factor under ``feature_scale="balanced"``: a column's
    spread becomes the root of ``spreads``' (the learned one), and the spreads
    then average 1. A column that does not vary (a constant column) takes the
    common factor alone."""
    spreads = np.asarray(spreads, dtype=np.float64)
    varies = spreads > 1e-12
    if not varies.any():
        return np.ones(len(spreads))
    common = 1.0 / np.sqrt(np.sqrt(spreads[varies]).mean())
    factors = np.full(len(spreads), common)
    factors[varies] = common * spreads[varies] ** -0.25
    return factors


def _constant(tables, columns, encoded: EncodedTable) -> list[np.ndarray]:
    """``tables`` with each of ``columns`` made one vector, repeated: its mean
    over the training rows."""
    tables = list(tables)
    for j in columns:
        mean = mean_vector(tables[j], encoded.codes[:, j])
        tables[j] = np.tile(mean, (len(tables[j]), 1))
    return tables


def _epochs_to_best(history: pd.DataFrame) -> int | None:
    """Epochs a fit trained up to its best validation loss (the weights it
    kept); None without validation losses."""
    if "val_loss" not in history or not history["val_loss"].notna().any():
        return None
    return int(np.nanargmin(history["val_loss"].to_numpy(dtype=float))) + 1
