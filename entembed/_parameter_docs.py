"""The estimators' parameter documentation, one text per parameter: the
embedder and the predictors share the parameters they share, and their
docstrings are built from these texts (:func:`parameters_section`), in the
order given. Measurements live on the benchmark pages
(``benchmarks/results/``), which the texts name.
"""

from __future__ import annotations

import textwrap

# numpydoc entries: the first line names the parameter and its type, the
# rest (indented by 4) says what it does and why.
PARAMETERS: dict[str, str] = {
    "categorical_columns": """\
categorical_columns : "auto" or list of str, default="auto"
    Columns to embed. ``"auto"``: text, category and boolean columns, except
    text that holds dates or no value at all; a table with none of these (a
    numeric array, say) is embedded whole. Each such guess is named in a
    warning; listing the columns silences it. Integers index the columns of
    an array.""",
    "numeric_columns": """\
numeric_columns : "auto", list of str or None, default="auto"
    Numeric columns fed to the network beside the embeddings (standardised
    inside it). ``"auto"``: the remaining numeric columns.""",
    "remainder": """\
remainder : {"passthrough", "drop"}, default="passthrough"
    What happens to the columns that are not embedded. ``"passthrough"``:
    those holding numbers (or booleans) follow the embeddings in the output,
    as they came, so a downstream model gets them too (as with skrub's
    ``TableVectorizer``); other columns (dates, text that is not embedded)
    are left out with a warning. ``"drop"``: the output holds the embeddings
    only (the default before version 0.2), e.g. inside a
    ``ColumnTransformer`` that passes the other columns itself.""",
    "task": """\
task : {"auto", "regression", "binary", "multiclass"}, default="auto"
    What ``y`` is; ``"auto"`` reads it with scikit-learn's
    ``type_of_target`` (a float target is a regression).""",
    "cv": """\
cv : "auto", int, cross-validation generator or None, default="auto"
    Cross-fitting: with ``cv=k``, :meth:`fit_transform` gives each training
    row the features of a model trained on the other folds, so a downstream
    model does not learn from vectors that already saw its target (gradient
    boosting overfits in-sample embeddings of rare categories, as it does
    in-sample target encodings). Fold vectors are rotated onto the full
    model's (orthogonal Procrustes on shared categories) so that all rows
    share one coordinate system, and the tables served afterwards
    (:meth:`transform`, saved files, ONNX) are the mean of the k rotated
    fold tables, so that new rows get vectors of the kind the downstream
    model learned from. :meth:`fit` cross-fits too, so both leave the same
    model. With ``append_prediction=True`` the full model's tables are
    served: its network predicts from them. ``None``: in-sample features,
    one fit instead of k+1. ``"auto"``: 5 folds where an embedded column is
    ID-like (fewer than 10 training rows per category on average, or fewer
    than 50 where the fit shows its vectors memorise: they lower the loss of
    the rows they trained on more than the validation rows', by two standard
    errors), in-sample features otherwise; the folds also test each ID-like
    column (see ``test_id_columns``). ``cv_`` tells what a fit chose; with
    ``verbose``, the fit says why. The quality page
    (``benchmarks/results/quality.md``) measures each choice.""",
    "test_id_columns": """\
test_id_columns : bool, default=True
    Test each ID-like column on rows its model did not train on: where its
    vectors do not lower the loss there by more than two standard errors,
    against the column's mean vector over the training rows, they carry only
    what their few rows per category memorised (``constant_columns_`` lists
    such columns). :class:`EntityEmbedder` tests with ``cv="auto"``, on its
    folds' held-out rows, and serves such a column's mean vector to every
    row; where no ID-like column is left, the features are in-sample. The
    predictors test on their validation rows (with
    ``validation_fraction > 0``) and fit again with the column read as a
    zero vector that does not train (``history_`` is the second fit's; your
    ``callbacks`` and ``logger`` see both). ``False`` keeps every column's
    vectors.""",
    "append_prediction": """\
append_prediction : bool, default=False
    Stacking: append the network's prediction to the features (after the
    embeddings, before passed-through columns): the target for a regression,
    the positive class's probability (binary) or each class's probability
    (multiclass). In :meth:`fit_transform` the training rows' predictions
    are always out of fold, from the ``cv`` folds or, when ``cv`` is None,
    from 5 folds trained for them; ``transform`` gives the full model's.""",
    "feature_scale": """\
feature_scale : {"balanced"} or None, default="balanced"
    How the served vectors are scaled, for models that measure distances
    (k-nearest neighbours, kernels, clustering) beside standardised columns.
    The scale of learned vectors is arbitrary: a column the network spread
    ten times wider would weigh ten times more in a distance, whatever its
    use. ``"balanced"`` multiplies each column's vectors by one factor, so
    that its spread over the training rows (the sum of its features'
    variances) becomes the square root of the learned one, and all columns'
    spreads then average 1, the spread of a standardised column. Each
    column's directions and the distances within it stay as learned; trees
    are unaffected (one factor per feature), and the network's first layer
    takes the inverse factors, so its predictions stay. ``None`` serves the
    tables as learned. ``feature_scales_`` holds the factors.""",
    "encoder": """\
encoder : {"embedding", "onehot"}, default="embedding"
    Lookup tables, or the one-hot linear baseline (the same features,
    computed the slow way).""",
    "embedding_dims": """\
embedding_dims : "auto", "capped", int, dict or callable, default="auto"
    Width of each table. ``"auto"``: fastai's ``min(600, round(1.6 * n **
    0.56))`` for ``n`` categories; ``"capped"``: the same, at most
    ``max(2, round(4 * sqrt(N / n)))`` for ``N`` training rows, so an
    ID-like column with a few rows per category gets a few dimensions. Or
    one int for all, a dict by column, or a function of the cardinality.""",
    "hidden_units": """\
hidden_units : tuple of int, default=(256, 128)
    Hidden layers of the MLP on top of the embeddings.""",
    "dropout": """\
dropout : float, default=0.0
    Dropout after each hidden layer.""",
    "batch_norm": """\
batch_norm : bool, default=False
    Batch normalisation after each hidden layer.""",
    "interactions": """\
interactions : {"none", "fm", "cross"}, default="none"
    How the network combines columns before its MLP, for targets that
    depend on which categories meet (which user rates which item).
    ``"fm"``: as in factorization machines, each column's vector is
    projected to 8 dimensions and every pair of columns adds the dot
    product of its two projections to the MLP's input; the embedder also
    serves these products (``<a>*<b>`` columns), out of fold for the
    training rows. ``"cross"``: two DCN-V2 cross layers on the vectors and
    numeric columns. ``"none"``: the MLP alone.""",
    "string_features": """\
string_features : {"auto", "none", "char", "word"} or dict, default="auto"
    Which columns' categories are also cut into pieces of text: a
    category's vector is then its own vector plus the mean of its pieces'
    vectors, so near-identical strings ("Police Officer III", "POLICE
    OFFICER 3") share most of theirs, and a string never seen in fit gets
    one from its pieces instead of the unknown vector. ``"char"``: the
    character n-grams of the lower-cased text (``string_ngram_range``);
    ``"word"``: its word tokens; ``"none"``: no column. ``"auto"``: each
    column of text with at least 100 kept categories (but numbers around
    one fixed text, such as ``"store_17"``), by word tokens where they hold
    4 or more words on average (free text), by character n-grams
    otherwise. A dict gives the choice by column (columns it leaves out:
    ``"none"``). The fitted choice is ``string_features_``; the user
    guide's page on dirty strings documents the hashing.""",
    "string_buckets": """\
string_buckets : int, default=16384
    Rows of each text column's table of piece vectors: pieces are hashed
    into this many buckets, and share a row where their hashes collide.""",
    "string_ngram_range": """\
string_ngram_range : tuple (min_n, max_n), default=(3, 3)
    The lengths, in UTF-8 bytes, of the character n-grams.""",
    "min_frequency, max_categories, handle_unknown, handle_missing": """\
min_frequency, max_categories, handle_unknown, handle_missing
    As in :class:`CategoryVocabulary`; rare and unseen categories share the
    trained unknown vector.""",
    "max_epochs": """\
max_epochs : int, default=20
    Passes over the training rows.""",
    "batch_size": """\
batch_size : int, default=256
    Rows per training step.""",
    "learning_rate": """\
learning_rate : float, default=3e-3
    AdamW's learning rate for the hidden layers and the head.""",
    "weight_decay": """\
weight_decay : float, default=0.0
    AdamW's decoupled weight decay on the hidden layers and the head.""",
    "table_learning_rate": """\
table_learning_rate : float, default=100.0
    Plain SGD's learning rate for the embedding tables: it multiplies the
    gradient of the batch's mean loss (hence the large value). Unlike Adam,
    SGD moves a rare category only as far as its few rows pull it, so the
    training rows' features do not memorise their own targets.""",
    "category_dropout": """\
category_dropout : float, default=0.0
    Share of the training rows' codes, per column and step, read as unknown:
    the unknown vector (which rare, unseen and dropped categories share)
    learns what an average category gives, and no vector can rely on its own
    rows alone.""",
    "shrinkage": """\
shrinkage : float or "auto", default=0.0
    Frequency shrinkage, as target encoding smooths: a category with ``n``
    training rows gets ``n / (n + shrinkage)`` of its own vector and the
    rest of the unknown vector, in training and in the served embeddings.
    ``"auto"`` picks the count per column by empirical Bayes, as
    ``TargetEncoder(smooth="auto")`` does: the target's variance within
    categories over the variance of their means. 0 turns it off.""",
    "learning_rate_schedule": """\
learning_rate_schedule : {"cosine", "constant"}, default="cosine"
    "cosine" lowers both learning rates along a half cosine, from their
    values at the first step to 0 at the end of ``max_epochs``; early
    stopping may end the fit part-way down. "constant" keeps both rates.
    The ablation page (``benchmarks/results/ablation.md``) compares them.""",
    "validation_fraction": """\
validation_fraction : float, default=0.1
    Rows held out to pick the best epoch (its weights are restored) and for
    early stopping; 0 trains on all rows for ``max_epochs``.""",
    "patience": """\
patience : int or None, default=2
    Stop after this many epochs without a better validation loss.""",
    "gradient_clip_val": """\
gradient_clip_val : float or None, default=None
    Clip the gradient norm (Lightning's setting).""",
    "accelerator, devices, strategy, num_nodes, precision": """\
accelerator, devices, strategy, num_nodes, precision
    Lightning's Trainer settings; ``accelerator="auto"`` uses a GPU when
    there is one. A model trained on a GPU transforms on any CPU.""",
    "n_threads": """\
n_threads : int or None, default=None
    torch threads during fit. None: the CPUs idle as the fit starts, at most
    torch's default (the cores, or ``OMP_NUM_THREADS``), at least one:
    torch's threads wait for each other, so a fit on every core runs several
    times slower while another process holds one of them (the threads page,
    ``benchmarks/results/threads.md``). Set a number to fix it, e.g. 1
    beside other jobs on a small machine.""",
    "checkpoint_dir": """\
checkpoint_dir : str, path or None, default=None
    Resumable training: each epoch ends with a checkpoint in a folder of
    this directory named after the data and settings, and a fit with the
    same data and parameters that finds one (after a crash, a kill or
    Ctrl-C) resumes from its last completed epoch; with a seed it ends with
    the same tables as an uninterrupted fit. The folder is removed when the
    fit completes. Checkpoints are torch pickles: use a directory only you
    write to.""",
    "callbacks": """\
callbacks : list of lightning.pytorch.Callback or None, default=None
    Your Lightning callbacks, run beside entembed's own (history, early
    stopping, best weights). Cloning copies them; they are not saved.""",
    "logger": """\
logger : lightning.pytorch.loggers.Logger, list of them, or None, default=None
    Where Lightning logs the per-step and per-epoch losses (``CSVLogger``,
    ``TensorBoardLogger``, ``MLFlowLogger``, ...). Not saved.""",
    "init_embeddings": """\
init_embeddings : fitted estimator, dict of DataFrame or None, default=None
    Transfer: start the tables of the columns it shares with ``X`` from its
    vectors (an estimator's ``embeddings_``, or DataFrames indexed by
    category in that layout). Categories it lacks start from its
    ``"<unknown>"`` vector (or its mean vector). Under
    ``embedding_dims="auto"`` those columns take its widths; other widths
    are an error. Ignored when ``warm_start`` continues a fitted model.
    scikit-learn's ``clone`` (as in ``GridSearchCV``) unfits an estimator
    given here; pass its ``embeddings_`` to tools that clone.""",
    "freeze_embeddings": """\
freeze_embeddings : bool, default=False
    Keep the tables started from ``init_embeddings`` as given; only the
    other tables and the layers train.""",
    "warm_start": """\
warm_start : bool, default=False
    When the estimator is fitted, ``fit`` continues its network on the new
    rows instead of starting afresh: new categories are appended to the
    vocabulary and start from the unknown vector, while known categories
    keep their codes and start from their vectors, so features stay
    comparable. The columns, the task (and classes), ``hidden_units``,
    ``batch_norm``, ``interactions`` and the widths must stay; the input and
    target scalings of the first fit are kept. ``history_`` continues its
    epoch count. On an unfitted estimator, ``fit`` starts afresh, as
    scikit-learn's ``warm_start`` does.""",
    "random_state": """\
random_state : int, RandomState or None, default=None
    Seed of the initial tables, the validation split and the batches; an
    int makes CPU training reproducible.""",
    "verbose": """\
verbose : int or bool, default=False
    1 (True): a progress bar per fit (named ``fit``, ``fold 2/5``, ...) and
    a line for each decision the fit takes (whether it cross-fits, and
    which columns made it); 2: also Lightning's messages.""",
}

# The parameters of the estimators, in their docstrings' order.
SHARED = [
    "categorical_columns",
    "numeric_columns",
    "test_id_columns",
    "encoder",
    "embedding_dims",
    "hidden_units",
    "dropout",
    "batch_norm",
    "interactions",
    "string_features",
    "string_buckets",
    "string_ngram_range",
    "min_frequency, max_categories, handle_unknown, handle_missing",
    "max_epochs",
    "batch_size",
    "learning_rate",
    "weight_decay",
    "table_learning_rate",
    "category_dropout",
    "shrinkage",
    "learning_rate_schedule",
    "validation_fraction",
    "patience",
    "gradient_clip_val",
    "accelerator, devices, strategy, num_nodes, precision",
    "n_threads",
    "checkpoint_dir",
    "callbacks",
    "logger",
    "init_embeddings",
    "freeze_embeddings",
    "warm_start",
    "random_state",
    "verbose",
]
EMBEDDER = [
    *SHARED[:2],
    "remainder",
    "task",
    "cv",
    "test_id_columns",
    "append_prediction",
    "feature_scale",
    *SHARED[3:],
]


def parameters_section(names: list[str]) -> str:
    """A numpydoc Parameters section of ``names``, indented for a class
    docstring."""
    entries = "\n".join(PARAMETERS[name] for name in names)
    return (
        "\n    Parameters\n    ----------\n" + textwrap.indent(entries, "    ") + "\n"
    )
