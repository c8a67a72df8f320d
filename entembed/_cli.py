"""The ``entembed`` command: fit, transform, compare, plot and demo.

A thin layer on the facade: it reads tables, calls the estimators and writes
results. Expected failures (a missing file, an unknown column, a bad target)
print one line and exit with status 1; no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from ._files import atomic_file, atomic_path, check_writable, same_file
from .datasets import DATASETS, HELD_OUT_DATASETS

# Last suffix first: "data.TSV.gz" is a gzipped tab-separated file.
_FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}


class CommandError(ValueError):
    """A problem with the command's input, reported in one line."""


# ------------------------------------------------------------------ tables
def _table_format(path: str, verb: str) -> tuple[str, str | None]:
    """(kind, compression) of a table file, from its extensions in any case."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    compression = None
    if suffixes and suffixes[-1] in _COMPRESSIONS:
        compression = _COMPRESSIONS[suffixes.pop()]
    kind = _FORMATS.get(suffixes[-1]) if suffixes else None
    if kind is None or (kind == "parquet" and compression):
        raise CommandError(
            f"cannot {verb} {path!r}: unknown format "
            f"{''.join(Path(path).suffixes) or '(no extension)'!r}; use .csv, .tsv "
            "(optionally .gz, .bz2, .xz) or .parquet"
        )
    return kind, compression


def read_table(path: str) -> pd.DataFrame:
    """Read a CSV or TSV (optionally compressed) or Parquet file."""
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"file {path!r} not found")
    kind, compression = _table_format(path, "read")
    try:
        if kind == "parquet":
            return pd.read_parquet(file)
        # low_memory=False: each column's type is read from all its rows, not
        # guessed per chunk, so one column cannot hold both 1 and "1".
        return pd.read_csv(
            file,
            sep="\t" if kind == "tsv" else ",",
            compression=compression,
            low_memory=False,
        )
    except ImportError as exc:
        raise CommandError(
            f"reading {path!r} needs pyarrow: pip install pyarrow"
        ) from exc
    except Exception as exc:  # pandas raises many types for unreadable content
        raise CommandError(f"cannot read {path!r}: {exc}".splitlines()[0]) from exc


def write_table(frame: pd.DataFrame, path: str) -> None:
    """Write a table atomically: an interrupted write leaves no partial file."""
    kind, compression = _table_format(path, "write")
    with atomic_path(path) as temporary:
        if kind == "parquet":
            frame.to_parquet(temporary, index=False)
        else:
            frame.to_csv(
                temporary,
                index=False,
                sep="\t" if kind == "tsv" else ",",
                compression=compression,
            )


def check_output(out, *inputs) -> None:
    """Cheap checks before any work: the output is not one of the inputs, and
    it can be written (an existing, writable folder)."""
    for source in inputs:
        if source is not None and same_file(out, source):
            raise CommandError(
                f"--out {str(out)!r} is one of the inputs; write to another file"
            )
    check_writable(out)


def split_target(data: pd.DataFrame, target: str, source: str):
    if target not in data.columns:
        raise CommandError(
            f"target column {target!r} is not in {source} (columns: "
            f"{', '.join(map(str, data.columns[:20]))})"
        )
    y = data[target]
    n_missing = int(y.isna().sum())
    if n_missing:
        raise CommandError(
            f"target column {target!r} has {n_missing} missing value(s); drop "
            "those rows first"
        )
    return data.drop(columns=[target]), y


# -------------------------------------------------------------- parameters
def _value(text: str):
    """A parameter's value from the command line: JSON where it parses (5, 0.1,
    true, null, [64, 32], {"city": 8}), Python's None/True/False, else text."""
    words = {"None": None, "True": True, "False": False}
    if text in words:
        return words[text]
    try:
        return json.loads(text)
    except ValueError:
        return text


def _parse_params(items: list[str]) -> dict:
    params = {}
    for item in items:
        name, equals, text = item.partition("=")
        if not equals or not name.strip():
            raise CommandError(
                f"--param {item!r} is not NAME=VALUE (e.g. --param max_epochs=10)"
            )
        params[name.strip()] = _value(text)
    return params


def _read_config(path: str) -> dict:
    """Estimator parameters from a JSON or YAML file holding one mapping."""
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"config file {path!r} not found")
    suffix = file.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise CommandError(f"config file {path!r}: use a .json, .yaml or .yml file")
    text = file.read_text(encoding="utf-8")
    if suffix == ".json":
        try:
            config = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(
                f"config file {path!r} is not valid JSON: {exc}"
            ) from exc
    else:
        try:
            import yaml
        except ImportError as exc:
            raise CommandError(
                f"reading {path!r} needs PyYAML: pip install pyyaml"
            ) from exc
        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            first = str(exc).splitlines()[0]
            raise CommandError(
                f"config file {path!r} is not valid YAML: {first}"
            ) from exc
    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        raise CommandError(
            f"config file {path!r} must hold one mapping of parameter names to "
            'values, e.g. {"max_epochs": 10}'
        )
    return config


def _devices(text: str):
    return int(text) if text.lstrip("-").isdigit() else text


def estimator_params(args) -> dict:
    """EntityEmbedder parameters: defaults, then --config, then each --param,
    then the dedicated options (--max-epochs, ...), later ones winning."""
    params: dict = {"random_state": 0, "verbose": not args.quiet}
    if getattr(args, "config", None):
        params.update(_read_config(args.config))
    params.update(_parse_params(getattr(args, "param", None) or []))
    dims = getattr(args, "embedding_dims", None)
    flags = {
        "categorical_columns": getattr(args, "columns", None),
        "task": getattr(args, "task", None),
        "cv": getattr(args, "cv", None),
        "embedding_dims": None if dims is None else _value(dims),
        "checkpoint_dir": getattr(args, "checkpoint_dir", None),
        "accelerator": getattr(args, "accelerator", None),
        "devices": getattr(args, "devices", None),
        "max_epochs": args.max_epochs,
        "random_state": args.random_state,
        "n_threads": args.threads,
    }
    params.update({k: v for k, v in flags.items() if v is not None})
    for name in ("callbacks", "logger"):
        if params.get(name) is not None:
            raise CommandError(
                f"{name} takes Lightning objects, which a command line cannot "
                "give; set it from Python"
            )
    return params


# ---------------------------------------------------------------- commands
def _embedder(args, params: dict | None = None):
    """An EntityEmbedder of the command's parameters, checked as Python checks
    them (an unknown name or a bad value is refused before any data is read)."""
    from ._embedder import EntityEmbedder

    params = estimator_params(args) if params is None else params
    embedder = EntityEmbedder()
    embedder.set_params(**params)
    embedder._validate_params()
    return embedder


def _check_storable(X: pd.DataFrame) -> None:
    """Refuse, before training, categories the model file cannot store."""
    from ._persistence import encode_values

    for column in X.columns:
        if X[column].dtype == object:
            values = pd.unique(X[column].dropna())
            encode_values(np.asarray(values, dtype=object), f"Column {column!r}")


def cmd_fit(args) -> None:
    from ._persistence import load

    check_output(args.out, args.data)
    params = estimator_params(args)
    init = params.get("init_embeddings")
    if isinstance(init, str):  # a model file to transfer from
        params["init_embeddings"] = _load_model(init, load)
    if params.get("warm_start") and Path(args.out).is_file():
        # Continue the model at --out; the file is replaced once fit is done.
        embedder = _load_model(args.out, load)
        embedder.set_params(**params)
        embedder._validate_params()
    else:
        embedder = _embedder(args, params)
    X, y = split_target(read_table(args.data), args.target, args.data)
    _check_storable(X)
    started = time.perf_counter()
    embedder.fit(X, y)
    seconds = time.perf_counter() - started
    embedder.save(args.out)
    lines = fit_summary(embedder, seconds, args.out)
    print(lines[0] if args.quiet else "\n".join(lines))


def fit_summary(model, seconds: float, out) -> list[str]:
    """What a fit did, first in one line (all that ``--quiet`` prints): the
    columns, epochs, best loss, time, whether it cross-fitted, where it went;
    then each column's codes and widths."""
    history = model.history_
    epochs = len(history)
    if "val_loss" in history and history["val_loss"].notna().any():
        best = history.loc[history["val_loss"].idxmin()]
        loss = f"best val_loss {best['val_loss']:.4g} at epoch {int(best['epoch'])}"
    else:
        loss = f"last train_loss {history['train_loss'].iloc[-1]:.4g}"
    folds = getattr(model, "cv_", None)
    how = [f"cross-fitted in {folds} folds" if folds else "in-sample features"]
    if "cv_" not in vars(model):  # a predictor: no features to cross-fit
        how = []
    if model.constant_columns_:
        how.append(f"constant: {', '.join(model.constant_columns_)}")
    passed = getattr(model, "passthrough_columns_", [])
    if passed:
        how.append(f"{len(passed)} column(s) passed through")
    headline = (
        f"embedded {len(model.embedding_dims_)} column(s) in {seconds:.1f} s, "
        f"{epochs} epoch(s), {loss}; "
        + "".join(f"{h}; " for h in how)
        + f"model saved to {out}"
    )
    lines = [headline]
    for column, width in model.embedding_dims_.items():
        n = model.cardinalities_[column]
        lines.append(f"  {column}: {n:,} codes -> {width} dimensions")
    return lines


def cmd_transform(args) -> None:
    from ._persistence import load

    check_output(args.out, args.model, args.data)
    _table_format(args.out, "write")
    model = _load_model(args.model, load)
    data = read_table(args.data)
    if hasattr(model, "transform"):
        features = model.set_output(transform="pandas").transform(data)
    else:  # a saved regressor or classifier: its embeddings
        features = pd.DataFrame(
            model.transform_embeddings(data), columns=model.get_embedding_names_out()
        )
    if not args.features_only:
        features = rejoined(
            data,
            features,
            model.categorical_columns_,
            getattr(model, "passthrough_columns_", []),
        )
    write_table(features, args.out)
    if not args.quiet:
        print(
            f"{features.shape[0]} rows x {features.shape[1]} columns written to "
            f"{args.out}"
        )


def rejoined(
    data: pd.DataFrame, features: pd.DataFrame, embedded, passed
) -> pd.DataFrame:
    """``data`` with each embedded column replaced, in place, by its vectors
    (``<column>_emb<k>``); every other column kept as it was (ids, targets,
    dates; ``passed``, the columns the model passes through, too), and what
    else the model serves (a prediction) at the end."""
    features = features.set_axis(data.index, axis=0)
    names = list(features.columns)
    blocks, used = [], set()
    for column in data.columns:
        if column in embedded:
            prefix = f"{column}_emb"
            own = [
                n for n in names if n.startswith(prefix) and n[len(prefix) :].isdigit()
            ]
            blocks.append(features[own])
            used.update(own)
        else:
            if column in names and column not in passed:
                raise CommandError(
                    f"column {column!r} of the input has the name of a feature "
                    "the model serves; rename it, or pass --features-only"
                )
            blocks.append(data[[column]])
            used.add(column)
    rest = [n for n in names if n not in used]
    return pd.concat([*blocks, features[rest]], axis=1)


def _load_model(path, load):
    if not Path(path).is_file():
        raise CommandError(f"model file {path!r} not found")
    return load(path)


def _decimals(values) -> int:
    """Decimals that show a score's three or four significant digits: 0.5878,
    14.52, 7933 (an RMSE in dollars needs no cents)."""
    largest = max((abs(v) for v in values if np.isfinite(v)), default=1.0)
    if largest == 0:
        return 4
    return int(np.clip(3 - np.floor(np.log10(largest)), 0, 4))


def format_comparison(table: pd.DataFrame) -> str:
    """The comparison as a markdown table: encoders by rows, models by columns."""
    metric = table.attrs["metric"]
    better = "higher" if table.attrs["higher_is_better"] else "lower"
    models = list(dict.fromkeys(table["model"]))
    digits = _decimals(table[f"{metric} mean"])
    header = ["encoder", *models, "fit s", "transform s"]
    lines = [
        f"{metric}, mean ± std over folds ({better} is better)",
        "",
        "| " + " | ".join(header) + " |",
        "|---" + "|---:" * (len(header) - 1) + "|",
    ]
    for encoder, rows in table.groupby("encoder", sort=False):
        cells = [
            f"{rows.loc[rows['model'] == m, f'{metric} mean'].item():.{digits}f} ± "
            f"{rows.loc[rows['model'] == m, f'{metric} std'].item():.{digits}f}"
            for m in models
        ]
        fit = rows["encoder fit s"].iloc[0]
        transform = rows["encoder transform s"].iloc[0]
        lines.append(
            f"| {encoder} | " + " | ".join(cells) + f" | {fit:.2f} | {transform:.3f} |"
        )
    return "\n".join(lines)


def _compare(X, y, args, title: str) -> str:
    from ._compare import compare_encoders, default_encoders
    from ._target import infer_task

    bar = None
    if not args.quiet:
        from tqdm.auto import tqdm

        bar = tqdm(total=1, desc="cross-validation", unit="fit", file=sys.stderr)

    def progress(done, total, description):
        if bar is not None:
            bar.total = total
            bar.set_postfix_str(description)
            bar.update(done - bar.n)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        table = compare_encoders(
            X,
            y,
            encoders=default_encoders(
                args.random_state,
                infer_task(np.asarray(y)),
                max_epochs=args.max_epochs,
                n_threads=args.threads,
            ),
            cv=args.folds,
            random_state=args.random_state,
            progress=progress,
        )
    if bar is not None:
        bar.close()
    text = f"## {title}\n\n" + format_comparison(table) + "\n"
    print(text)
    return text


def _seed_and_epochs(args) -> None:
    """compare and demo pass these on to every encoder: give them values."""
    args.random_state = 0 if args.random_state is None else args.random_state
    args.max_epochs = 20 if args.max_epochs is None else args.max_epochs


def cmd_compare(args) -> None:
    from .datasets import load_dataset

    _seed_and_epochs(args)
    if args.dataset:
        X, y = load_dataset(args.dataset, n_rows=args.n_rows)
        title = f"{args.dataset}: {len(X):,} rows, {args.folds}-fold cross-validation"
    else:
        if not args.data or not args.target:
            raise CommandError("pass DATA with --target COL, or --dataset NAME")
        if args.out:
            check_output(args.out, args.data)
        X, y = split_target(read_table(args.data), args.target, args.data)
        if args.n_rows and args.n_rows < len(X):
            rows = np.random.default_rng(args.random_state).choice(
                len(X), args.n_rows, replace=False
            )
            X, y = X.iloc[np.sort(rows)], y.iloc[np.sort(rows)]
        title = f"{args.data}: {len(X):,} rows, {args.folds}-fold cross-validation"
    text = _compare(X, y, args, title)
    if args.out:
        with atomic_file(args.out, "w") as f:
            f.write(text)


def _write_map(model, column: str, path, n_labels: int, quiet: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._plots import embedding_map

    ax = embedding_map(model, column, n_labels=n_labels)
    with atomic_path(path) as temporary:
        ax.figure.savefig(temporary, dpi=120, bbox_inches="tight", format="png")
    plt.close(ax.figure)
    if not quiet:
        print(f"map of {column!r} written to {path}")


def cmd_plot(args) -> None:
    from ._persistence import load

    check_output(args.out, args.model)
    model = _load_model(args.model, load)
    _write_map(model, args.column, args.out, args.labels, args.quiet)


def cmd_export(args) -> None:
    from ._persistence import load

    if not args.onnx and not args.projector:
        raise CommandError("pass --onnx FILE.onnx, --projector DIR, or both")
    if args.onnx:
        check_output(args.onnx, args.model)
    model = _load_model(args.model, load)
    if args.onnx:
        try:
            from . import onnx as entembed_onnx
        except ImportError as exc:
            raise CommandError(
                f'ONNX export needs skl2onnx ({exc}); pip install "entembed[onnx]"'
            ) from exc
        graph = entembed_onnx.to_onnx(model)
        with atomic_file(args.onnx, "wb") as f:
            f.write(graph.SerializeToString())
        if not args.quiet:
            names = ", ".join(i.name for i in graph.graph.input)
            print(f"ONNX model written to {args.onnx} (inputs: {names})")
    if args.projector:
        from ._projector import export_projector

        export_projector(model, args.projector, overwrite=args.overwrite)
        if not args.quiet:
            print(
                f"projector files written to {args.projector}; view them with "
                f"tensorboard --logdir {args.projector}"
            )


def cmd_demo(args) -> None:
    from .datasets import load_dataset

    _seed_and_epochs(args)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X, y = load_dataset("baseball", n_rows=args.n_rows)
    say = (lambda text: None) if args.quiet else print
    say(
        f"entembed demo: baseball salaries, {len(X):,} player-seasons; the "
        f"target is the log salary, the columns {', '.join(X.columns)}.\n"
        f"1. Each encoding of the categorical columns feeds three models, "
        f"scored by {args.folds}-fold cross-validation.\n"
    )
    title = (
        f"Baseball salaries (log), {len(X):,} player-seasons, {args.folds}-fold "
        "cross-validation"
    )
    text = _compare(X, y, args, title)
    with atomic_file(out / "compare_baseball.md", "w") as f:
        f.write(text)
    say("2. An embedder fitted on every row, for its maps and its model file:")
    embedder = _embedder(args)
    started = time.perf_counter()
    embedder.fit(X, y)
    embedder.save(out / "baseball.npz")
    lines = fit_summary(embedder, time.perf_counter() - started, out / "baseball.npz")
    say("\n".join(lines))
    maps = []
    for column in ("teamID", "birthState"):
        maps.append(out / f"map_{column}.png")
        _write_map(embedder, column, maps[-1], args.labels, quiet=True)
    print(
        f"\ndemo outputs in {out}/: compare_baseball.md (the table), "
        f"baseball.npz (the model; entembed transform, plot and export read it), "
        f"and the maps {', '.join(p.name for p in maps)}: each team or state is "
        "a point, near those the network learned to treat alike."
    )


# ------------------------------------------------------------------ parser
def _training_options(parser, *, columns: bool = True) -> None:
    if columns:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="entembed",
        description="Categorical entity embeddings: learn them on a target, serve "
        "them as features, compare them with other encodings.",
    )
    parser.add_argument(
        "--version", action="version", version=f"entembed {__version__}"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fit = sub.add_parser(
        "fit",
        help="learn embeddings from a table and save the model",
        description="Learn embeddings of DATA's categorical "
        "columns on --target and save the model.",
    )
    fit.add_argument("data", metavar="DATA", help="CSV or Parquet file")
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
    _training_options(fit)
    fit.set_defaults(run=cmd_fit)

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
    transform.add_argument(
        "--quiet", action="store_true", help="print nothing on success"
    )
    transform.set_defaults(run=cmd_transform)

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
    _training_options(compare, columns=False)
    compare.set_defaults(run=cmd_compare)

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
    plot.add_argument("--quiet", action="store_true", help="print nothing on success")
    plot.set_defaults(run=cmd_plot)

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
    export.add_argument("--quiet", action="store_true", help="print nothing on success")
    export.set_defaults(run=cmd_export)

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
    _training_options(demo, columns=False)
    demo.set_defaults(run=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except CommandError as exc:
        print(f"entembed {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except (
        ValueError,
        TypeError,
        OSError,
        ModuleNotFoundError,
        FloatingPointError,  # training diverged; the message says what to lower
    ) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"entembed {args.command}: error: {message}", file=sys.stderr)
        return 1
    except MemoryError:
        print(
            f"entembed {args.command}: error: out of memory; use fewer rows or "
            "narrower tables (--embedding-dims N)",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(f"entembed {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
