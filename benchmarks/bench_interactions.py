"""Interactions: do learned tables for crossed column pairs help downstream models?

CatBoost wins the quality page's interaction-heavy tables (hotels, loans,
grants, police force), and it combines categorical columns. The quality
issue's third item asks whether entity embeddings should give downstream
models what a network learns beyond per-column vectors; its out-of-fold
prediction (``append_prediction``) is measured on the quality page. This page
measures the other option at the level of the data: crossed column pairs,
each a categorical column of its own (``"a|b"``) that gets its own learned
table, beside the default embedder's columns.

Per table and split (the quality page's tables and 80/20 splits), the
crossing is fitted on the training rows only (:class:`CrossedPairs`): every
pair of embedded columns that are not ID-like (at least 10 training rows per
category), in two forms:

- all pairs whose crossed column has at least 10 training rows per category
  on average (an ID-like cross would be cross-fitted, a question the quality
  page answers);
- every pair, its categories with fewer than 30 training rows read as one
  "rare" category, so that no crossed vector learns from a handful of rows.

``EntityEmbedder(random_state=0)`` (the defaults) embeds the table with and
without them; gradient boosting, k-nearest neighbours and a linear model are
scored as on the quality page, beside the standardised numeric columns.
CatBoost's cells are read from the quality page's raw results (same splits).

Run: ``python benchmarks/bench_interactions.py [--rows N] [--splits S]``
"""

from __future__ import annotations

import itertools
import json
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from _pages import (
    ID_LIKE_ROWS,
    at_least,
    downstream_models,
    md_row,
    mean_std,
    model_inputs,
    table_and_splits,
    table_arguments,
    warm_up,
)
from _timing import RESULTS, machine, write
from sklearn.base import clone

from entembed import EntityEmbedder
from entembed.datasets import DATASETS

RARE_ROWS = 30  # the frequent form: pair categories with fewer rows are one
FORMS = {
    "default": None,
    "+ crossed pairs (>= 10 rows per category)": "all",
    f"+ crossed pairs (categories of < {RARE_ROWS} rows as one)": "frequent",
}
MODELS = ("gradient boosting", "k-nearest neighbours", "linear")


class CrossedPairs:
    """Crossed pairs of categorical columns, chosen on the training rows.

    Parameters
    ----------
    columns : list of str
        The categorical columns to cross.
    form : {"all", "frequent"}
        ``"all"``: pairs whose crossed column has at least ``ID_LIKE_ROWS``
        training rows per category; ``"frequent"``: every pair, categories
        with fewer than ``RARE_ROWS`` training rows read as ``"rare"``.
    """

    def __init__(self, columns: list[str], form: str) -> None:
        self.columns, self.form = columns, form

    @staticmethod
    def _cross(X: pd.DataFrame, a: str, b: str) -> pd.Series:
        return X[a].astype(str) + "|" + X[b].astype(str)

    def fit(self, X: pd.DataFrame) -> CrossedPairs:
        n = len(X)
        not_id_like = [c for c in self.columns if X[c].nunique() <= n / ID_LIKE_ROWS]
        self.pairs_: dict[tuple[str, str], set | None] = {}
        for a, b in itertools.combinations(not_id_like, 2):
            crossed = self._cross(X, a, b)
            if self.form == "all":
                if crossed.nunique() <= n / ID_LIKE_ROWS:
                    self.pairs_[a, b] = None
            else:
                counts = crossed.value_counts()
                frequent = set(counts.index[counts >= RARE_ROWS])
                if len(frequent) >= 2:
                    self.pairs_[a, b] = frequent
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        X = X.copy()
        for (a, b), frequent in self.pairs_.items():
            crossed = self._cross(X, a, b)
            if frequent is not None:
                crossed = crossed.where(crossed.isin(frequent), "rare")
            X[f"{a}|{b}"] = crossed.astype(object)
        return X


def run_table(name: str, rows: int, n_splits: int) -> dict:
    X, y, task, (metric, score), splits, categorical, numeric = table_and_splits(
        name, rows, n_splits
    )
    numeric_values = X[numeric].to_numpy(dtype=float) if numeric else None
    cells: dict[str, dict[str, list[float]]] = {}
    pairs: dict[str, list[int]] = {}
    for train, test in splits:
        for form_name, form in FORMS.items():
            X_train, X_test = X.iloc[train], X.iloc[test]
            start = time.perf_counter()
            if form is not None:
                crossing = CrossedPairs(categorical, form).fit(X_train)
                X_train, X_test = (
                    crossing.transform(X_train),
                    crossing.transform(X_test),
                )
                pairs.setdefault(form_name, []).append(len(crossing.pairs_))
            embedder = EntityEmbedder(remainder="drop", random_state=0)
            train_x = embedder.fit_transform(X_train, y[train])
            seconds = time.perf_counter() - start
            test_x = embedder.transform(X_test)
            train_x, test_x = model_inputs(
                embedder, train_x, test_x, numeric_values, train, test
            )
            cell = cells.setdefault(form_name, {})
            cell.setdefault("fit seconds", []).append(seconds)
            for model_name in MODELS:
                model = clone(downstream_models(task, 0)[model_name]).fit(
                    train_x, y[train]
                )
                cell.setdefault(model_name, []).append(
                    float(score(model, test_x, y[test]))
                )
        print(f"{name}: a split done", flush=True)
    return {
        "name": name,
        "metric": metric,
        "higher_is_better": metric != "RMSE",
        "pairs": pairs,
        "cells": cells,
    }


def _catboost(rows: int, splits: int) -> dict[str, list[float]]:
    """CatBoost's scores by table on the same splits, from the quality page's
    run (none where that run read other rows or splits)."""
    raw = RESULTS / "quality.json"
    if not raw.exists():
        return {}
    stored = json.loads(raw.read_text())
    if stored.get("rows") != rows:
        return {}
    return {
        table["name"]: table["cells"]["CatBoost"]["itself"]["scores"]
        for table in stored["tables"]
        if table["splits"] == splits and "CatBoost" in table["cells"]
    }


def render(tables: list[dict], rows: int, splits: int) -> str:
    lines = [
        "# Interactions: crossed column pairs as categorical columns",
        "",
        f"Every quality table (at most {rows:,} rows), {splits} random 80/20 "
        "splits (the quality page's). The default `EntityEmbedder` alone, and "
        "with crossed pairs of its non-ID-like columns added as categorical "
        "columns of their own, each learning its own table: pairs whose "
        f"crossed column has at least {ID_LIKE_ROWS} training rows per "
        f"category, or every pair with its categories of fewer than "
        f"{RARE_ROWS} training rows read as one. The crossing is chosen on "
        "the training rows. Cells: mean ± std over splits; fit seconds are "
        "the crossing and the embedder's fit_transform (median). CatBoost: "
        f"the quality page's cells on the same splits. {machine()}.",
        "",
        "## Summary: gradient boosting, against the default",
        "",
    ]
    header = ["table", *FORMS, "CatBoost"]
    catboost = _catboost(rows, splits)
    lines += [
        md_row(header),
        "|---" + "|---:" * (len(header) - 1) + "|",
    ]
    better = dict.fromkeys(list(FORMS)[1:], 0)
    worse = dict.fromkeys(list(FORMS)[1:], 0)
    for table in tables:
        base = table["cells"]["default"]["gradient boosting"]
        row = [f"{table['name']} ({table['metric']})", mean_std(base)]
        for form_name in list(FORMS)[1:]:
            scores = table["cells"][form_name]["gradient boosting"]
            n_pairs = int(np.median(table["pairs"][form_name]))
            row.append(f"{mean_std(scores)} ({n_pairs} pairs)")
            # Beyond one std of the default's, either way.
            gap = np.mean(scores) - np.mean(base)
            if not table["higher_is_better"]:
                gap = -gap
            if gap > np.std(base):
                better[form_name] += 1
            elif gap < -np.std(base):
                worse[form_name] += 1
        row.append(
            mean_std(catboost[table["name"]]) if table["name"] in catboost else ""
        )
        lines.append(md_row(row))
    lines.append("")
    for form_name in list(FORMS)[1:]:
        lines.append(
            f"- {form_name}: gradient boosting better than on the default "
            f"features beyond one std on {better[form_name]}/{len(tables)} "
            f"tables, worse on {worse[form_name]}/{len(tables)}."
        )
    beats = [
        t["name"]
        for t in tables
        if (cb := catboost.get(t["name"]))
        and any(
            at_least(
                np.mean(t["cells"][f]["gradient boosting"]),
                np.mean(cb),
                t["higher_is_better"],
            )
            for f in list(FORMS)[1:]
        )
        and not at_least(
            np.mean(t["cells"]["default"]["gradient boosting"]),
            np.mean(cb),
            t["higher_is_better"],
        )
    ]
    lines += [
        f"- Tables where a crossed form reaches CatBoost and the default does "
        f"not: {', '.join(beats) if beats else 'none'}.",
        "",
    ]
    for table in tables:
        lines += [
            f"## {table['name']} ({table['metric']}, "
            f"{'higher' if table['higher_is_better'] else 'lower'} is better)",
            "",
            "| features | " + " | ".join(MODELS) + " | fit s |",
            "|---" + "|---:" * (len(MODELS) + 1) + "|",
        ]
        for form_name in FORMS:
            cell = table["cells"][form_name]
            lines.append(
                f"| {form_name} | "
                + " | ".join(mean_std(cell[m]) for m in MODELS)
                + f" | {np.median(cell['fit seconds']):.1f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = table_arguments(__doc__.splitlines()[0], DATASETS)
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args()
    raw = RESULTS / "interactions.json"
    if args.render:
        stored = json.loads(raw.read_text())
    else:
        warnings.simplefilter("ignore", UserWarning)
        warm_up(args.datasets[0])
        tables = [run_table(name, args.rows, args.splits) for name in args.datasets]
        stored = {"rows": args.rows, "splits": args.splits, "tables": tables}
        raw.write_text(json.dumps(stored, indent=1))
    write("interactions.md", render(stored["tables"], stored["rows"], stored["splits"]))


if __name__ == "__main__":
    main()
