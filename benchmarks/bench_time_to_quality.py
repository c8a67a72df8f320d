"""Time to quality: what a default fit costs, and what it buys downstream.

On each table of the quality page (20,000 rows, the same 3 random 80/20
splits), ``EntityEmbedder(random_state=split).fit_transform`` runs on the
training rows and is timed, and gradient boosting on its features
(embeddings, then the numeric columns passed through) is scored on the test
rows: a single fit (``cv=None``), and the default, which cross-fits where a
column is ID-like (out-of-fold training features, the folds' mean tables;
ID-like columns that the folds find uninformative serve one vector). Two
versions of entembed run side by side, each in its own process: ``before``
(a git revision, extracted with ``git archive``) and ``after`` (this
checkout), with the same packages, table by table in turn, in several runs
(``--runs``, default 3): a version's process runs faster or slower as a whole
from run to run, so each table's ratio is its median over the runs. torch
uses its default threads (the machine's cores), as a new user's fit does.

A fit in a fresh process first imports torch and Lightning: that one-time
cost is timed apart, as the median of 3 fresh interpreters, and each worker
warms up with a tiny fit before the timed ones.

With ``--at-scale``, one table at the fit-speed issue's size and beyond instead
(flights at 80,000 and 200,000 rows: the report's slowest table had 80,000
rows and 6 categorical columns; flights has 6 and 2 numeric): each version's
default ``fit_transform``, this checkout's single fit and target encoding, on
``time_to_quality_at_scale.md``.

Raw results go to ``results/time_to_quality.json``; ``--render`` rewrites
the page from them without fitting.

Run: ``python benchmarks/bench_time_to_quality.py [--before REV] [--runs N]
[--render] [--at-scale]``
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from _pages import mean_std, plus_minus
from _timing import RESULTS, machine, write

from entembed.datasets import DATASETS, load_dataset

ROOT = Path(__file__).resolve().parent.parent
# The single fit runs before and after; the others after only. The default
# (cross-fitting where a column is ID-like) against the single fit before:
# the quality issue allows a default fit_transform at most 1.5x slower. What
# the schedule's change bought: the constant rates and patience of the
# defaults before it. Would larger batches reach the same quality sooner? The
# table learning rate scales with the batch, as SGD on a batch's mean loss
# needs to move each row as far per epoch.
SINGLE = "single fit (cv=None)"
DEFAULT = "default: cross-fits in 5 folds where a column is ID-like"
VARIANTS = {
    SINGLE: {"cv": None},
    DEFAULT: {},
    "constant learning rates, patience 3 (the defaults before the cosine)": {
        "cv": None,
        "learning_rate_schedule": "constant",
        "patience": 3,
    },
    "single fit, 1 torch thread (the default: the machine's cores)": {
        "cv": None,
        "n_threads": 1,
    },
    "batch 1024, table_learning_rate 400": {
        "cv": None,
        "batch_size": 1024,
        "table_learning_rate": 400.0,
    },
    "batch 1024, table_learning_rate 400, max_epochs 40": {
        "cv": None,
        "batch_size": 1024,
        "table_learning_rate": 400.0,
        "max_epochs": 40,
    },
}


# ------------------------------------------------------------------ worker


def _score(result: dict) -> str:
    """A version's score cell: mean ± std over the splits."""
    return plus_minus(result["score"], result["std"], 4)


def worker(tables: str, splits: int, variants: list[str]) -> None:
    """Fit and score every table and split with the entembed on sys.path.

    The tables come as pickles from this checkout's loaders (``tables``, a
    folder): an older entembed may not have them all.
    """
    import pickle
    import warnings

    import numpy as np
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
    )
    from sklearn.metrics import accuracy_score, roc_auc_score, root_mean_squared_error
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

    from entembed import EntityEmbedder

    warnings.simplefilter("ignore")
    paths = sorted(Path(tables).glob("*.pkl"))
    with open(paths[0], "rb") as f:
        X, y = pickle.load(f)
    EntityEmbedder(max_epochs=1).fit(X.head(300), y.head(300))  # imports
    for path in paths:
        name = path.stem.split("-", 1)[1]
        with open(path, "rb") as f:
            X, y = pickle.load(f)
        y = np.asarray(y)
        regression = y.dtype.kind == "f"
        classes = len(np.unique(y))
        splitter = (ShuffleSplit if regression else StratifiedShuffleSplit)(
            splits, test_size=0.2, random_state=0
        )
        for (split, (train, test)), variant in (
            (s, v) for s in enumerate(splitter.split(X, y)) for v in variants
        ):
            embedder = EntityEmbedder(
                remainder="passthrough", random_state=split, **VARIANTS[variant]
            )
            start = time.perf_counter()
            # Out-of-fold features where the embedder cross-fits.
            train_features = embedder.fit_transform(X.iloc[train], y[train])
            seconds = time.perf_counter() - start
            model = (
                HistGradientBoostingRegressor(random_state=0)
                if regression
                else HistGradientBoostingClassifier(random_state=0)
            )
            model.fit(train_features, y[train])
            features = embedder.transform(X.iloc[test])
            if regression:
                score = root_mean_squared_error(y[test], model.predict(features))
            elif classes == 2:
                score = roc_auc_score(y[test], model.predict_proba(features)[:, 1])
            else:
                score = accuracy_score(y[test], model.predict(features))
            record = {
                "dataset": name,
                "variant": variant,
                "split": split,
                "seconds": seconds,
                "epochs": len(embedder.history_),
                "folds": getattr(embedder, "cv_", None),  # older: no cv_
                "constant": getattr(embedder, "constant_columns_", []),
                "score": float(score),
                "metric": "RMSE"
                if regression
                else ("ROC AUC" if classes == 2 else "accuracy"),
            }
            print(json.dumps(record), flush=True)


def _environment() -> dict:
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)  # torch's default threads, as a user's
    return env


def run_worker(source: Path, tables: Path, splits: int, variants: list) -> list[dict]:
    code = (
        f"import sys; sys.path.insert(0, {str(source)!r}); "
        f"sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        "import bench_time_to_quality as b; "
        f"b.worker({str(tables)!r}, {splits}, {variants!r})"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=_environment(),
    )
    return [json.loads(line) for line in result.stdout.splitlines() if line]


def import_seconds(source: Path, repeat: int = 3) -> list[float]:
    """Seconds to import what a fit imports (torch, Lightning), fresh each time."""
    code = (
        f"import sys, time; sys.path.insert(0, {str(source)!r}); "
        "t = time.perf_counter(); import entembed._training; "
        "print(time.perf_counter() - t)"
    )
    return [
        float(
            subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True,
                text=True,
                check=True,
                env=_environment(),
            ).stdout
        )
        for _ in range(repeat)
    ]


def extract(revision: str, folder: Path) -> Path:
    """The package as it was at ``revision`` (git archive: no checkout touched)."""
    archive = folder / "source.tar"
    with open(archive, "wb") as f:
        subprocess.run(
            ["git", "archive", revision, "entembed"], cwd=ROOT, stdout=f, check=True
        )
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return folder


# -------------------------------------------------------------------- page
def _summary(records: list[dict], name: str, variant: str = SINGLE):
    rows = [r for r in records if r["dataset"] == name and r["variant"] == variant]
    scores = [r["score"] for r in rows]
    return {
        "seconds": statistics.median(r["seconds"] for r in rows),
        "range": (min(r["seconds"] for r in rows), max(r["seconds"] for r in rows)),
        "epochs": statistics.median(r["epochs"] for r in rows),
        "score": statistics.mean(scores),
        "std": statistics.pstdev(scores),
        "metric": rows[0]["metric"],
        "features": _features_chosen(rows),
    }


def _features_chosen(rows: list[dict]) -> str:
    """What the fits served, per split: cross-fitted (in how many folds) or
    in-sample, and the ID-like columns they made constant."""
    found = []
    for r in rows:
        kind = f"{r['folds']} folds" if r.get("folds") else "in-sample"
        constant = ", ".join(r.get("constant", []))
        found.append(f"{kind}, {constant} constant" if constant else kind)
    if len(set(found)) == 1:
        return found[0]
    return "; ".join(
        f"{c} ({found.count(c)}/{len(found)})" for c in dict.fromkeys(found)
    )


def _against(before: dict, after: dict) -> tuple[float, bool]:
    """Speed-up of ``after``, and whether its score is equal (within one std
    of the splits) or better."""
    tolerance = max(before["std"], after["std"])
    if before["metric"] == "RMSE":
        ok = after["score"] <= before["score"] + tolerance
    else:
        ok = after["score"] >= before["score"] - tolerance
    return before["seconds"] / after["seconds"], ok


def render(before_rev: str, results: dict, imports: dict, rows: int, splits: int):
    lines = [
        "# Time to quality: a default fit's seconds, and its downstream score",
        "",
        f"The quality page's tables ({rows:,} rows, {splits} random 80/20 splits); "
        '`EntityEmbedder(remainder="passthrough", random_state=split)'
        ".fit_transform` on the training rows, timed, and gradient boosting on "
        f"its features scored on the test rows. `before`: entembed at "
        f"`{before_rev}`; `after`: this checkout; same packages, torch's default "
        "threads, one process per version and table, the versions in turn, "
        f"in {len(_by_run(results))} runs (the other settings in the first). "
        f"{machine()}.",
        "",
        "## A single fit (`cv=None`)",
        "",
        "| table | metric | before: fit s | after: fit s | speed-up | before: "
        "epochs | after: epochs | before: score | after: score |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by_run = _by_run(results)
    speedups, equal_or_better = [], []
    for name in DATASETS:
        b, a = (_summary(results[k], name) for k in ("before", "after"))
        speedup = statistics.median(_in_run_speedups(by_run, name))
        speedups.append(speedup)
        equal_or_better.append(_against(b, a)[1])
        lines.append(
            f"| {name} | {b['metric']} | {b['seconds']:.2f} "
            f"({b['range'][0]:.2f}-{b['range'][1]:.2f}) | {a['seconds']:.2f} "
            f"({a['range'][0]:.2f}-{a['range'][1]:.2f}) | {speedup:.2f}x | "
            f"{b['epochs']:.0f} | {a['epochs']:.0f} | {_score(b)} | {_score(a)} |"
        )
    median_speedup = statistics.median(speedups)
    costs = [_default_cost(by_run, name) for name in DATASETS]
    median_cost = statistics.median(costs)
    run_speedups = [
        statistics.median(_in_run_speedups([run], name)[0] for name in DATASETS)
        for run in by_run
    ]
    run_costs = [
        statistics.median(_default_cost([run], name) for name in DATASETS)
        for run in by_run
    ]
    imported = {k: statistics.median(v) for k, v in imports.items()}
    lines += [
        "",
        f"Fit seconds: median (range) over the splits and {len(by_run)} runs, "
        "in a warm process. Speed-up: the median over the runs of the ratio "
        "of the versions' median seconds in a run. A fresh "
        "process first imports torch and Lightning: "
        f"{imported['before']:.1f} s before, {imported['after']:.1f} s after "
        "(median of 3 fresh interpreters), more than a whole fit on these tables.",
        "",
        *_default_section(results, by_run),
        "## Other settings",
        "",
        "The same splits, this checkout, single fits, in the first run: what "
        "did the cosine "
        "schedule with "
        "patience 2 change against constant rates with patience 3, and does a "
        "larger batch (fewer, cheaper steps per row) reach the default's score "
        "sooner?",
        "",
        "| table | settings | fit s | epochs | score |",
        "|---|---|---:|---:|---:|",
        *[
            f"| {name} | {variant} | {v['seconds']:.2f} | {v['epochs']:.0f} | "
            f"{_score(v)} |"
            for name in DATASETS
            for variant in VARIANTS
            for v in [_summary(by_run[0]["after"], name, variant)]
        ],
        "",
        _schedule_line(by_run[0]["after"]),
        "",
        _threads_line(by_run[0]["after"]),
        "",
        "Target:",
        "",
        f"- a default single fit at least 3x faster than before, as the median "
        f"over the tables, at equal or better scores: {median_speedup:.2f}x "
        f"({_per_run(run_speedups)}), scores "
        f"{'equal or better' if all(equal_or_better) else 'worse on some table'}"
        f": {'met' if median_speedup >= 3 and all(equal_or_better) else 'MISSED'}",
        f"- the default fit_transform at most 1.5x slower than the single fit "
        f"before (quality issue), as the median over the tables: "
        f"{median_cost:.2f}x ({_per_run(run_costs)}): "
        f"{'met' if median_cost <= 1.5 else 'MISSED'}",
        "",
    ]
    return "\n".join(lines)


def render_at_scale(before_rev: str, runs: list[dict], name: str, splits: int) -> str:
    """Each version's default fit_transform, and this checkout's single fit,
    on one table at the fit-speed issue's size and beyond; target encoding
    beside them."""
    lines = [
        "# Time to quality at the fit-speed issue's size",
        "",
        f"{name}, {splits} random 80/20 splits: the fit-speed issue's report "
        "timed a default fit_transform at 46 s on a table of 80,000 rows and 6 "
        "categorical columns; flights has 6 (two of them ID-like at 20,000 "
        "rows: flight numbers and planes) and 2 numeric. "
        '`EntityEmbedder(remainder="passthrough", random_state=split)'
        ".fit_transform` on the training rows, timed, and gradient boosting on "
        "its features scored on the test rows; the two versions in turn, each "
        "in its own process, torch's default threads. Target encoding: "
        "scikit-learn's `TargetEncoder` (cross-fitted) with the numeric columns, "
        f"the same gradient boosting. {machine()}.",
        "",
    ]
    for run in runs:
        results, rows = run["results"], run["rows"]
        first = _summary(results["before"], name, DEFAULT)
        lines += [
            f"## {rows:,} rows ({rows * 4 // 5:,} to train on)",
            "",
            "| version and setting | served | fit s | vs before | epochs | "
            f"{first['metric']} |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for label, records, variant in (
            (f"before (`{before_rev}`): its default", results["before"], DEFAULT),
            ("after: the default", results["after"], DEFAULT),
            ("after: a single fit (`cv=None`)", results["after"], SINGLE),
        ):
            v = _summary(records, name, variant)
            lines.append(
                f"| {label} | {v['features']} | {v['seconds']:.2f} "
                f"({v['range'][0]:.2f}-{v['range'][1]:.2f}) | "
                f"{first['seconds'] / v['seconds']:.2f}x | {v['epochs']:.0f} | "
                f"{_score(v)} |"
            )
        encoded = run["target_encoding"]
        seconds = statistics.median(encoded["seconds"])
        lines += [
            f"| target encoding | cross-fitted | {seconds:.2f} | | | "
            f"{mean_std(encoded['scores'], 4)} |",
            "",
        ]
    lines += [
        "Fit seconds: median (range) over the splits, in a warm process (a fresh "
        "one first spends about 5 s importing torch and Lightning). Scores: mean "
        "± std over the splits.",
        "",
    ]
    return "\n".join(lines)


def target_encoding_scores(table: Path, splits: int) -> dict[str, list[float]]:
    """Gradient boosting on scikit-learn's TargetEncoder features (cross-fitted
    training rows) and the numeric columns, on the worker's splits."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedShuffleSplit
    from sklearn.preprocessing import TargetEncoder

    with open(table, "rb") as f:
        X, y = pickle.load(f)
    y = np.asarray(y)
    categorical = [c for c in X.columns if X[c].dtype.kind not in "biuf"]
    numeric = [c for c in X.columns if c not in categorical]
    found: dict[str, list[float]] = {"seconds": [], "scores": []}
    splitter = StratifiedShuffleSplit(splits, test_size=0.2, random_state=0)
    for train, test in splitter.split(X, y):
        start = time.perf_counter()
        encoder = TargetEncoder(random_state=0)
        train_x = encoder.fit_transform(X[categorical].iloc[train], y[train])
        found["seconds"].append(time.perf_counter() - start)
        test_x = encoder.transform(X[categorical].iloc[test])
        train_x = np.hstack([train_x, X[numeric].iloc[train].to_numpy(float)])
        test_x = np.hstack([test_x, X[numeric].iloc[test].to_numpy(float)])
        model = HistGradientBoostingClassifier(random_state=0).fit(train_x, y[train])
        found["scores"].append(
            float(roc_auc_score(y[test], model.predict_proba(test_x)[:, 1]))
        )
    return found


def _by_run(results: dict) -> list[dict]:
    """``results`` split by run."""
    runs = sorted({r["run"] for r in results["after"]})
    return [
        {k: [r for r in v if r["run"] == run] for k, v in results.items()}
        for run in runs
    ]


def _per_run(ratios: list[float]) -> str:
    """Each run's own median over the tables: the spread between runs."""
    return "each run alone: " + ", ".join(f"{ratio:.2f}x" for ratio in ratios)


def _in_run_speedups(by_run: list[dict], name: str, variant: str = SINGLE):
    """Per run: the first version's single fit seconds over this checkout's
    ``variant`` seconds, each the median over the run's splits."""
    return [
        _summary(run["before"], name)["seconds"]
        / _summary(run["after"], name, variant)["seconds"]
        for run in by_run
    ]


def _default_cost(by_run: list[dict], name: str) -> float:
    """The default fit_transform's seconds over the single fit's before: the
    median over the runs of the ratio in a run."""
    return statistics.median(1 / s for s in _in_run_speedups(by_run, name, DEFAULT))


def _default_section(results: dict, by_run: list[dict]) -> list[str]:
    """The default fit_transform (cross-fitting where a column is ID-like)
    against the single fit before and after."""
    lines = [
        "## The default fit_transform",
        "",
        "With an ID-like column (fewer than 10 training rows per category), the "
        "default cross-fits: 5 fold fits beside the full one, each trained for "
        "the full fit's best epoch count on 80% of the rows. ID-like columns "
        "whose vectors do not lower the folds' held-out loss then serve one "
        "mean vector, and with none left the features are in-sample (what "
        "the default served, per split). Its seconds and downstream score "
        "against the single fit, before and after.",
        "",
        "| table | served | before: single fit s | after: single fit s | "
        "after: default s | default / before | before: score | after: single "
        "fit score | after: default score |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in DATASETS:
        b = _summary(results["before"], name)
        a = _summary(results["after"], name)
        d = _summary(results["after"], name, DEFAULT)
        lines.append(
            f"| {name} | {d['features']} | "
            f"{b['seconds']:.2f} | {a['seconds']:.2f} | {d['seconds']:.2f} | "
            f"{_default_cost(by_run, name):.2f}x | {_score(b)} | {_score(a)} | "
            f"{_score(d)} |"
        )
    return [*lines, ""]


def _threads_line(records: list[dict]) -> str:
    """What torch's default threads (the machine's cores) buy over one."""
    one = list(VARIANTS)[3]
    speedups = [
        _summary(records, name, one)["seconds"] / _summary(records, name)["seconds"]
        for name in DATASETS
    ]
    return (
        f"torch's default threads ({os.cpu_count()} here) against one: "
        f"{statistics.median(speedups):.2f}x faster (median over the tables; "
        f"{min(speedups):.2f}x-{max(speedups):.2f}x)."
    )


def _schedule_line(records: list[dict]) -> str:
    """What the cosine schedule with patience 2 bought, over the tables."""
    old = list(VARIANTS)[2]
    compared = [
        _against(_summary(records, name, old), _summary(records, name))
        for name in DATASETS
    ]
    equal = sum(ok for _, ok in compared)
    return (
        "The defaults against constant learning rates with patience 3: "
        f"{statistics.median(s for s, _ in compared):.2f}x faster (median over "
        f"the tables; {min(s for s, _ in compared):.2f}x-"
        f"{max(s for s, _ in compared):.2f}x), scores equal (within one std) or "
        f"better on {equal}/{len(compared)} tables."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--before", default="b9d6b66", help="git revision (default: the first version)"
    )
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument(
        "--runs", type=int, default=3, help="runs of the timed fits (not --at-scale)"
    )
    parser.add_argument(
        "--render",
        action="store_true",
        help="rewrite the page from results/time_to_quality.json, fitting nothing",
    )
    parser.add_argument(
        "--at-scale",
        action="store_true",
        help="flights at 80,000 and 200,000 rows, on a page of its own",
    )
    args = parser.parse_args()
    if args.at_scale:
        at_scale(
            args.before, [args.rows] if args.rows else [80_000, 200_000], args.splits
        )
        return
    raw = RESULTS / "time_to_quality.json"
    if args.render:
        stored = json.loads(raw.read_text())
    else:
        stored = run_versions(args.before, args.rows or 20_000, args.splits, args.runs)
        raw.write_text(json.dumps(stored, indent=1))
    write("time_to_quality.md", render(**stored))


def run_versions(before: str, rows: int, splits: int, runs: int) -> dict:
    """The timed fits of both versions on every table, in ``runs`` runs."""
    with tempfile.TemporaryDirectory() as folder:
        sources = {"before": extract(before, Path(folder)), "after": ROOT}
        imports = {label: import_seconds(source) for label, source in sources.items()}
        results: dict[str, list[dict]] = {label: [] for label in sources}
        tables = []  # a folder per table, one pickle each, for the workers
        for i, name in enumerate(DATASETS):
            tables.append(Path(folder) / f"tables-{i}")
            tables[-1].mkdir()
            with open(tables[-1] / f"{i}-{name}.pkl", "wb") as f:
                pickle.dump(load_dataset(name, n_rows=rows, random_state=0), f)
        # Table by table, the two versions in turn (alternating which goes
        # first): a machine that slows down part-way weighs on both alike.
        # A version's process runs faster or slower as a whole from one run
        # to the next (the first version's flights fit: 1.30 s in one run,
        # 1.69 s in the next), so the timed fits run in several runs, and each
        # table's ratio is its median over the runs; the other settings run
        # in the first only.
        for run in range(runs):
            for i in range(len(DATASETS)):
                for label in sorted(sources, reverse=(i + run) % 2 == 1):
                    variants = timed_variants(label, run)
                    for record in run_worker(
                        sources[label], tables[i], splits, variants
                    ):
                        results[label].append({**record, "run": run})
    return {
        "before_rev": before,
        "results": results,
        "imports": imports,
        "rows": rows,
        "splits": splits,
    }


def timed_variants(label: str, run: int) -> list[str]:
    """What a version's worker fits in a run: the single fit before; after,
    the single fit and the default, and in the first run every setting."""
    if label == "before":
        return [SINGLE]
    return list(VARIANTS) if run == 0 else [SINGLE, DEFAULT]


def at_scale(before: str, sizes: list[int], splits: int, name: str = "flights") -> None:
    """The ``--at-scale`` page: one binary table at the issue's size and beyond."""
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        sources = {"before": extract(before, Path(folder)), "after": ROOT}
        for rows in sizes:
            tables = Path(folder) / f"tables-{rows}"
            tables.mkdir()
            table = tables / f"0-{name}.pkl"
            with open(table, "wb") as f:
                pickle.dump(load_dataset(name, n_rows=rows, random_state=0), f)
            results = {
                "before": run_worker(sources["before"], tables, splits, [DEFAULT]),
                "after": run_worker(
                    sources["after"], tables, splits, [DEFAULT, SINGLE]
                ),
            }
            encoded = target_encoding_scores(table, splits)
            runs.append({"rows": rows, "results": results, "target_encoding": encoded})
            print(f"{name} at {rows:,} rows: done", flush=True)
    page = render_at_scale(before, runs, name, splits)
    print(page)
    write("time_to_quality_at_scale.md", page)


if __name__ == "__main__":
    main()
