"""The ``entembed`` command: fit, transform, compare, plot, export and demo.

A thin layer on the facade: it reads tables, calls the estimators and writes
results. Expected failures (a missing file, an unknown column, a bad target,
a bad parameter) print one line and exit with status 1; anything else is a
bug, shown with its traceback and a request to report it.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ._cli_parser import build_parser
from ._files import atomic_file, atomic_path
from ._fitted_tables import embedding_feature_names
from ._table_files import (
    CommandError,
    check_output,
    read_table,
    split_target,
    table_format,
    write_table,
)


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
        "string_features": getattr(args, "string_features", None),
        "interactions": getattr(args, "interactions", None),
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
    from ._base import with_params
    from ._embedder import EntityEmbedder

    params = estimator_params(args) if params is None else params
    return with_params(EntityEmbedder(), params)


def _check_storable(X: pd.DataFrame) -> None:
    """Refuse, before training, categories the model file cannot store."""
    from ._persistence import encode_values

    for column in X.columns:
        if X[column].dtype == object:
            values = pd.unique(X[column].dropna())
            encode_values(np.asarray(values, dtype=object), f"Column {column!r}")


def cmd_fit(args) -> None:
    from ._base import with_params
    from ._persistence import load

    check_output(args.out, args.data)
    params = estimator_params(args)
    init = params.get("init_embeddings")
    if isinstance(init, str):  # a model file to transfer from
        params["init_embeddings"] = _load_model(init, load)
    if params.get("warm_start") and Path(args.out).is_file():
        # Continue the model at --out; the file is replaced once fit is done.
        embedder = with_params(_load_model(args.out, load), params)
    else:
        embedder = _embedder(args, params)
    if args.stream or Path(args.data).is_dir():
        X, y = streamed_rows(args.data, args.target), None
    else:
        X, y = split_target(read_table(args.data), args.target, args.data)
        _check_storable(X)
    lines = fit_and_save(embedder, X, y, args.out)
    print(lines[0] if args.quiet else "\n".join(lines))


def streamed_rows(path: str, target: str):
    """DATA read piece by piece (``fit --stream``): a Parquet file or folder
    as its row groups, a CSV or TSV file as Dask's blocks."""
    from ._streaming import dask_source, parquet_source

    folder = Path(path).is_dir()
    kind, compression = ("parquet", None) if folder else table_format(path, "read")
    if kind == "parquet":
        return parquet_source(path, target)
    if not Path(path).is_file():
        raise CommandError(f"file {path!r} not found")
    import dask.dataframe as dd

    frame = dd.read_csv(
        path,
        sep="\t" if kind == "tsv" else ",",
        compression=compression,
        blocksize=None if compression else "64MB",  # a compressed file is one block
    )
    if target not in frame.columns:
        raise CommandError(
            f"target column {target!r} is not in {path} (columns: "
            f"{', '.join(map(str, frame.columns[:20]))})"
        )
    return dask_source(frame.drop(columns=[target]), frame[target])


def fit_and_save(model, X, y, out) -> list[str]:
    """Fit ``model``, save it to ``out``, and say what the fit did
    (:func:`fit_summary`)."""
    started = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - started
    model.save(out)
    return fit_summary(model, seconds, out)


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
    how = []
    if hasattr(model, "cv_"):  # an embedder (a predictor serves no features)
        folds = model.cv_
        how.append(f"cross-fitted in {folds} folds" if folds else "in-sample features")
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
    table_format(args.out, "write")
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
            model.embedding_dims_,
            getattr(model, "passthrough_columns_", []),
        )
    write_table(features, args.out)
    if not args.quiet:
        print(
            f"{features.shape[0]} rows x {features.shape[1]} columns written to "
            f"{args.out}"
        )


def rejoined(
    data: pd.DataFrame, features: pd.DataFrame, widths: dict[str, int], passed
) -> pd.DataFrame:
    """``data`` with each embedded column (``widths``: its vectors' width)
    replaced, in place, by its vectors (``<column>_emb<k>``); every other
    column kept as it was (ids, targets, dates; ``passed``, the columns the
    model passes through, too), and what else the model serves (a prediction)
    at the end."""
    features = features.set_axis(data.index, axis=0)
    names = list(features.columns)
    blocks, used = [], set()
    for column in data.columns:
        if column in widths:
            own = embedding_feature_names(column, widths[column])
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


def _compare(X, y, args, title: str) -> str:
    from ._compare import compare_encoders, default_encoders, format_comparison
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


def _write_map(
    model, column: str, path, n_labels: int, quiet: bool, strings=()
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._plots import embedding_map

    ax = embedding_map(model, column, n_labels=n_labels, strings=strings)
    with atomic_path(path) as temporary:
        ax.figure.savefig(temporary, dpi=120, bbox_inches="tight", format="png")
    plt.close(ax.figure)
    if not quiet:
        print(f"map of {column!r} written to {path}")


def cmd_plot(args) -> None:
    from ._persistence import load

    check_output(args.out, args.model)
    model = _load_model(args.model, load)
    _write_map(model, args.column, args.out, args.labels, args.quiet, args.strings)


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
    say("\n".join(fit_and_save(embedder, X, y, out / "baseball.npz")))
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


COMMANDS = {
    "fit": cmd_fit,
    "transform": cmd_transform,
    "compare": cmd_compare,
    "plot": cmd_plot,
    "export": cmd_export,
    "demo": cmd_demo,
}
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def is_user_error(exc: BaseException) -> bool:
    """Whether an exception reports a problem with the command's input, to be
    said in one line: a bad file, table, parameter or target, a missing
    optional package, a training run that diverged. A ValueError or TypeError
    counts only where entembed (or scikit-learn's parameter check) raised it
    on purpose; one from deeper inside a library is a bug of entembed's."""
    if isinstance(exc, (CommandError, OSError, ImportError, FloatingPointError)):
        return True
    if type(exc).__name__ == "MisconfigurationException":  # Lightning's settings
        return True
    if not isinstance(exc, (ValueError, TypeError)):
        return False
    if type(exc).__name__ == "InvalidParameterError":  # scikit-learn's check
        return True
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = "" if frame is None else os.path.abspath(frame.tb_frame.f_code.co_filename)
    # Raised by entembed's own code, or by set_params naming an unknown one.
    return where.startswith(_PACKAGE + os.sep) or where.endswith(
        os.path.join("sklearn", "base.py")
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    name = f"entembed {args.command}"
    try:
        COMMANDS[args.command](args)
    except MemoryError:
        print(
            f"{name}: error: out of memory; use fewer rows or narrower tables "
            "(--embedding-dims N)",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not is_user_error(exc):
            traceback.print_exc()
            print(
                f"{name}: internal error ({type(exc).__name__}): this is a bug in "
                "entembed. Please report it with the traceback above and the "
                "command you ran.",
                file=sys.stderr,
            )
            return 1
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"{name}: error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
