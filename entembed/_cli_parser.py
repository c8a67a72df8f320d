"""The ``entembed`` command's parser: its subcommands, their options and
help texts. Each subcommand's arguments are added by a function of their
own; ``_cli.main`` runs the command the parser names (``args.command``).
"""

from __future__ import annotations

import argparse

from . import __version__
from .datasets import DATASETS, HELD_OUT_DATASETS


def _devices(text: str):
    return int(text) if text.lstrip("-").isdigit() else text


def _model_options(parser) -> None:
    """What the estimator learns: columns, task, folds, widths, strings."""
    parser.add_argument(
        "--columns",
        nargs="+",
        metavar="COL",
        help="categorical columns to embed (default: every text, "
        "category and boolean column, except text that holds dates or "
        "nothing; each guess is named in a warning)",
    )
    parser.add_argument(
        "--task",
        default=None,
        choices=["auto", "regression", "binary", "multiclass"],
        help="what the target is (default: auto)",
    )
    parser.add_argument(
        "--cv",
        type=int,
        default=None,
        metavar="K",
        help="cross-fit in K folds: out-of-fold features for the training "
        "rows, and the folds' mean tables in the model. Default: 5 folds "
        "where an embedded column is ID-like: fewer than 10 training rows "
        "per category, or fewer than 50 where the fit shows its vectors "
        "memorise their rows; in-sample features otherwise. --param "
        "cv=null: never",
    )
    parser.add_argument(
        "--embedding-dims",
        default=None,
        metavar="auto|capped|N",
        help="width of each column's vectors: auto (fastai's rule of thumb, "
        "from the number of categories; the default), capped (auto, at "
        "most a few per training row of a category), or one number for all",
    )
    parser.add_argument(
        "--string-features",
        choices=["auto", "none", "char", "word"],
        default=None,
        help="cut categories' text into pieces, whose learned vectors are "
        "added to each category's own, so that near-identical strings share "
        "most of theirs and a new string gets one: char (character n-grams), "
        "word (word tokens), none, or auto (text columns of at least 100 "
        "categories, but numbers around one fixed text: word tokens for "
        "free text, character 3-grams otherwise; the default). The model "
        "keeps the hashing; --param string_buckets=N and "
        "string_ngram_range=[3,4] set it",
    )
    parser.add_argument(
        "--interactions",
        choices=["none", "fm", "cross"],
        default=None,
        help="combine columns before the MLP, for targets that depend on "
        "which categories meet: fm (every pair of columns' product of "
        "projected vectors, which the embedder also serves as <a>*<b> "
        "columns, out of fold for the training rows), cross (DCN-V2 cross "
        "layers) or none (the default)",
    )


def _setting_options(parser) -> None:
    """Where the settings come from, and where a fit runs and checkpoints."""
    parser.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        help="checkpoint every epoch here; rerun the same command to resume "
        "an interrupted fit",
    )
    parser.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="any estimator parameter, e.g. --param hidden_units=[64,32] "
        "(repeatable; VALUE is read as JSON where it parses)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="estimator parameters from a .json or .yaml mapping",
    )
    parser.add_argument("--accelerator", help="cpu, gpu, ... (default: auto)")
    parser.add_argument(
        "--devices", type=_devices, help="how many, or which (default: auto)"
    )


def _run_options(parser) -> None:
    """How a run goes: threads, epochs, seed, output."""
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="torch threads for training (default: the CPUs idle when the fit "
        "starts, at most the cores or OMP_NUM_THREADS; a fit on every core "
        "slows several times while another job holds one, so beside busy "
        "jobs pass a smaller N)",
    )
    parser.add_argument("--max-epochs", type=int, default=None, help="default: 20")
    parser.add_argument(
        "--random-state", type=int, default=None, help="seed (default: 0)"
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars or explanations; fit prints its summary in one line",
    )


def _quiet_option(parser) -> None:
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")


def build_parser() -> argparse.ArgumentParser:
    """The ``entembed`` parser: one subcommand per verb."""
    parser = argparse.ArgumentParser(
        prog="entembed",
        description="Categorical entity embeddings: learn them on a target, serve "
        "them as features, compare them with other encodings.",
    )
    parser.add_argument(
        "--version", action="version", version=f"entembed {__version__}"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_fit(sub)
    _add_transform(sub)
    _add_compare(sub)
    _add_plot(sub)
    _add_export(sub)
    _add_demo(sub)
    return parser


def _add_fit(sub) -> None:
    fit = sub.add_parser(
        "fit",
        help="learn embeddings from a table and save the model",
        description="Learn embeddings of DATA's categorical "
        "columns on --target and save the model.",
    )
    fit.add_argument(
        "data", metavar="DATA", help="CSV or Parquet file, or a folder of Parquet files"
    )
    fit.add_argument(
        "--target",
        required=True,
        metavar="COL",
        help="the column to learn the embeddings on (numbers: regression; "
        "labels: classification); it is not embedded",
    )
    fit.add_argument(
        "--out",
        required=True,
        metavar="MODEL",
        help="model file to write (entembed's safe .npz format)",
    )
    fit.add_argument(
        "--stream",
        action="store_true",
        help="read DATA piece by piece (Parquet row groups, CSV blocks) "
        "instead of loading it, for tables larger than memory; a folder of "
        "Parquet files always streams. Memory then grows with the categories, "
        "not the rows",
    )
    _model_options(fit)
    _setting_options(fit)
    _run_options(fit)


def _add_transform(sub) -> None:
    transform = sub.add_parser(
        "transform",
        help="write embedding features of a table",
        description="Write DATA with each embedded column replaced by its "
        "vectors (<column>_emb<k>), its other columns kept, in input order: "
        "one output row per input row.",
    )
    transform.add_argument("model", metavar="MODEL")
    transform.add_argument("data", metavar="DATA")
    transform.add_argument(
        "--out",
        required=True,
        metavar="FEATURES",
        help=".parquet or .csv file to write",
    )
    transform.add_argument(
        "--features-only",
        action="store_true",
        help="write only what the model serves (its vectors, and the columns "
        "it passes through), not DATA's other columns",
    )
    _quiet_option(transform)


def _add_compare(sub) -> None:
    compare = sub.add_parser(
        "compare",
        help="cross-validate embeddings against other encodings",
        description="Cross-validated downstream scores (gradient boosting, "
        "k-nearest neighbours, linear model) of entity embeddings, "
        "one-hot, ordinal and target encoding.",
    )
    compare.add_argument("data", nargs="?", metavar="DATA")
    compare.add_argument(
        "--target", metavar="COL", help="the column to predict (with DATA)"
    )
    compare.add_argument(
        "--dataset",
        choices=[*DATASETS, *HELD_OUT_DATASETS],
        help="a bundled real dataset instead of DATA",
    )
    compare.add_argument(
        "--n-rows", type=int, default=None, help="random subsample of this many rows"
    )
    compare.add_argument(
        "--folds", type=int, default=3, help="cross-validation folds (default: 3)"
    )
    compare.add_argument("--out", metavar="TABLE.md", help="also write the table here")
    _run_options(compare)


def _add_plot(sub) -> None:
    plot = sub.add_parser(
        "plot",
        help="2-D map of a column's embedding",
        description="PCA map of one column's learned vectors, the "
        "most frequent categories labelled.",
    )
    plot.add_argument("model", metavar="MODEL")
    plot.add_argument(
        "--column", required=True, metavar="COL", help="the embedded column to map"
    )
    plot.add_argument(
        "--out", required=True, metavar="MAP.png", help="the PNG file to write"
    )
    plot.add_argument(
        "--labels",
        type=int,
        default=40,
        help="label at most this many categories, the most frequent first, "
        "skipping labels that would overlap (default: 40)",
    )
    plot.add_argument(
        "--strings",
        nargs="+",
        default=(),
        metavar="S",
        help="place these strings on the map too, by the vectors the model "
        "serves them (new strings composed from their pieces, in a column "
        "cut into pieces of text)",
    )
    _quiet_option(plot)


def _add_export(sub) -> None:
    export = sub.add_parser(
        "export",
        help="export a model for serving (ONNX) or viewing (TensorBoard)",
        description="Write MODEL as an ONNX graph (needs entembed[onnx]), "
        "and/or each column's vectors as TensorBoard projector files.",
    )
    export.add_argument("model", metavar="MODEL")
    export.add_argument("--onnx", metavar="FILE.onnx", help="ONNX graph to write")
    export.add_argument("--projector", metavar="DIR", help="projector folder")
    export.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a projector folder an earlier export wrote",
    )
    _quiet_option(export)


def _add_demo(sub) -> None:
    demo = sub.add_parser(
        "demo",
        help="compare and plot on a bundled real dataset",
        description="Run compare and plot on the baseball salaries "
        "dataset (a few minutes on 2 CPU cores).",
    )
    demo.add_argument(
        "--out-dir",
        default="entembed-demo",
        help="folder for the table, the model and the maps (default: entembed-demo)",
    )
    demo.add_argument(
        "--n-rows", type=int, default=None, help="a random sample of this many rows"
    )
    demo.add_argument(
        "--folds", type=int, default=3, help="cross-validation folds (default: 3)"
    )
    demo.add_argument(
        "--labels",
        type=int,
        default=40,
        help="most categories labelled on each map (default: 40)",
    )
    _run_options(demo)
