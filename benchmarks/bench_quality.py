"""Quality, paper-style: do entity embeddings make other models better?

As in Guo & Berkhahn's Table 3: on each real dataset, k-nearest neighbours
(k=10), random forest (100 trees, sqrt of the features per split) and gradient
boosting are fed one-hot, ordinal, target encoding
(scikit-learn's, cross-fitted) and our embeddings (in-sample, cross-fitted
with ``cv=5``, and without the ID-like columns: does the column with a handful
of rows per category help or hurt?); the embedding network's own predictions
are scored too. Each
figure is the mean and standard deviation over repeated random splits
(75% train / 25% test), all contenders on the same splits.

Run: ``python benchmarks/bench_quality.py [--rows N] [--splits S]``
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from _charts import quality_grid
from _timing import RESULTS, machine, write
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from entembed import EntityEmbedder, EntityEmbeddingClassifier, EntityEmbeddingRegressor
from entembed._base import is_categorical_dtype
from entembed._compare import _scorer, compare_encoders, default_encoders
from entembed._target import infer_task
from entembed.datasets import load_dataset

DATASETS = ["baseball", "scorecard", "flights"]
ID_LIKE_ROWS = 10


def models(task: str) -> dict:
    if task == "regression":
        return {
            "k-nearest neighbours": KNeighborsRegressor(10),
            "random forest": RandomForestRegressor(
                100, min_samples_leaf=3, max_features="sqrt", random_state=0, n_jobs=1
            ),
            "gradient boosting": HistGradientBoostingRegressor(random_state=0),
        }
    return {
        "k-nearest neighbours": KNeighborsClassifier(10),
        "random forest": RandomForestClassifier(
            100, min_samples_leaf=3, max_features="sqrt", random_state=0, n_jobs=1
        ),
        "gradient boosting": HistGradientBoostingClassifier(random_state=0),
    }


def targets(pivot, metric: str, higher_is_better: bool) -> list[str]:
    """The issue's targets for this dataset, stated plainly, met or not."""

    def mean(encoder, model):
        return pivot.loc[encoder, (f"{metric} mean", model)]

    def better(a, b):
        return a > b if higher_is_better else a < b

    lines = ["Targets:", ""]
    for embeddings in ("entity embeddings", "entity embeddings, cross-fitted"):
        for model in ("k-nearest neighbours", "random forest"):
            ours = mean(embeddings, model)
            rivals = {e: mean(e, model) for e in ("one-hot (top 50)", "ordinal")}
            met = all(better(ours, v) for v in rivals.values())
            shown = ", ".join(f"{e} {v:.4f}" for e, v in rivals.items())
            lines.append(
                f"- {model} on {embeddings} ({ours:.4f}) better than on {shown}: "
                f"{'met' if met else 'MISSED'}"
            )
        ours = mean(embeddings, "gradient boosting")
        rival = mean("target encoding", "gradient boosting")
        met = ours == rival or better(ours, rival)
        lines.append(
            f"- gradient boosting on {embeddings} ({ours:.4f}) at least matches it on "
            f"target encoding ({rival:.4f}): {'met' if met else 'MISSED'}"
        )
    return lines


def network_scores(X, y, splits, task) -> list[float]:
    """The embedding network's own test scores on the same splits."""
    _, score = _scorer(task)
    model_class = (
        EntityEmbeddingRegressor
        if task == "regression"
        else (EntityEmbeddingClassifier)
    )
    scores = []
    for train, test in splits:
        model = model_class(random_state=0).fit(X.iloc[train], y[train])
        scores.append(score(model, X.iloc[test], y[test]))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows",
        type=int,
        default=20_000,
        help="random subsample of each dataset (all rows if larger)",
    )
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    args = parser.parse_args()
    warnings.simplefilter("ignore", UserWarning)

    sections, charted = [], []
    for name in args.datasets:
        start = time.perf_counter()
        X, y = load_dataset(name, n_rows=args.rows, random_state=0)
        y = np.asarray(y)
        task = infer_task(y)
        splitter_class = (
            ShuffleSplit if task == "regression" else StratifiedShuffleSplit
        )
        cv = splitter_class(args.splits, test_size=0.25, random_state=0)
        splits = list(cv.split(X, y))
        encoders = default_encoders(0, task)
        encoders["entity embeddings, cross-fitted"] = EntityEmbedder(
            cv=5, random_state=0
        )
        # Does the ID-like column help or hurt? The same embedder without it.
        categorical = [c for c in X.columns if is_categorical_dtype(X[c].dtype)]
        id_like = [c for c in categorical if X[c].nunique() > len(X) / ID_LIKE_ROWS]
        if 0 < len(id_like) < len(categorical):
            encoders["entity embeddings, ID-like columns left out"] = EntityEmbedder(
                categorical_columns=[c for c in categorical if c not in id_like],
                random_state=0,
            )
        table = compare_encoders(
            X, y, encoders=encoders, models=models(task), cv=cv, random_state=0
        )
        metric = table.attrs["metric"]
        own = network_scores(X, y, splits, task)
        better = "higher" if table.attrs["higher_is_better"] else "lower"
        pivot = table.pivot(
            index="encoder", columns="model", values=[f"{metric} mean", f"{metric} std"]
        )
        order = list(dict.fromkeys(table["encoder"]))
        lines = [
            f"## {name}: {len(X):,} rows, {args.splits} random 75/25 splits",
            "",
            f"{metric}, mean ± std over splits ({better} is better); "
            f"{time.perf_counter() - start:.0f} s for the whole section.",
            "",
            "| encoder | " + " | ".join(models(task)) + " |",
            "|---" + "|---:" * len(models(task)) + "|",
        ]
        for encoder in order:
            cells = [
                f"{pivot.loc[encoder, (f'{metric} mean', m)]:.4f} ± "
                f"{pivot.loc[encoder, (f'{metric} std', m)]:.4f}"
                for m in models(task)
            ]
            lines.append(f"| {encoder} | " + " | ".join(cells) + " |")
        lines += [
            "",
            f"The embedding network's own predictions: {np.mean(own):.4f} ± "
            f"{np.std(own):.4f}. ID-like columns (fewer than {ID_LIKE_ROWS} rows "
            f"per category on average): {id_like or 'none'}.",
            "",
            *targets(pivot, metric, table.attrs["higher_is_better"]),
            "",
        ]
        sections.append("\n".join(lines))
        charted.append(
            {
                "name": name,
                "metric": metric,
                "higher_is_better": table.attrs["higher_is_better"],
                "models": list(models(task)),
                "encoders": order,
                "mean": {
                    (e, m): pivot.loc[e, (f"{metric} mean", m)]
                    for e in order
                    for m in models(task)
                },
                "std": {
                    (e, m): pivot.loc[e, (f"{metric} std", m)]
                    for e in order
                    for m in models(task)
                },
                "own": (np.mean(own), np.std(own)),
            }
        )
        print(sections[-1], flush=True)
    header = [
        "# Quality: do entity embeddings make other models better?",
        "",
        f"Datasets subsampled to at most {args.rows:,} rows; default settings for "
        "every encoder and model (embeddings: `EntityEmbedder()` defaults; numeric "
        "columns feed the network and, standardised, every model). "
        f"{machine()}.",
        "",
        "![downstream scores by encoder, model and dataset](quality.png)",
        "",
    ]
    write("quality.md", "\n".join(header + sections))
    quality_grid(RESULTS / "quality.png", charted)


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
