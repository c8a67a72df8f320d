"""Ablation: what each training change contributes, on every quality table.

Each variant is one setting of the network's parameters, the same on every
table. Per table and split (the quality page's tables and 80/20 splits), the
network (``EntityEmbeddingRegressor`` / ``EntityEmbeddingClassifier``) is
fitted once; its own predictions are scored, and its embeddings (with the
standardised numeric columns) feed gradient boosting and k-nearest neighbours,
as ``EntityEmbedder``'s in-sample features would. The references are the
quality page's rivals on the same splits: target encoding under the same two
models, and one-hot with a linear model.

Run: ``python benchmarks/bench_ablation.py [--rows N] [--splits S]``
"""

from __future__ import annotations

import json
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from _pages import (
    at_least,
    default_encoders,
    downstream_models,
    md_row,
    mean_std,
    table_and_splits,
    table_arguments,
)
from _timing import RESULTS, machine, write
from sklearn.base import clone
from sklearn.preprocessing import StandardScaler

from entembed import (
    EntityEmbedder,
    EntityEmbeddingClassifier,
    EntityEmbeddingRegressor,
    auto_embedding_dim,
)
from entembed.datasets import DATASETS


def widths_at_most_50(n_categories: int) -> int:
    """fastai's width, at most 50 (fastai v1's cap): an ID-like column of
    thousands of categories gets 50 dimensions instead of 150-230, and the
    first dense layer, most of a step, shrinks with it."""
    return min(50, auto_embedding_dim(n_categories))


# The first variant is the baseline the others are read against: 0.2's
# defaults, constant learning rates and patience 3, under which the variants
# up to the schedule's were measured.
# The embedder's defaults since the test of ID-like columns.
EMBEDDER = {"cv": "auto", "test_id_columns": True, "feature_scale": "balanced"}
V0_2 = {
    "embedding_dims": "auto",  # fastai's widths, by cardinality only
    "learning_rate_schedule": "constant",
    "patience": 3,
}
VARIANTS = {
    "0.2 defaults": {**V0_2, "category_dropout": 0.0, "shrinkage": 0.0},
    "category dropout 0.1": {**V0_2, "category_dropout": 0.1},
    "shrinkage 10": {**V0_2, "shrinkage": 10.0},
    "category dropout 0.1 + shrinkage 10": {
        **V0_2,
        "category_dropout": 0.1,
        "shrinkage": 10.0,
    },
    "min_frequency 2": {**V0_2, "min_frequency": 2},
    "min_frequency 3": {**V0_2, "min_frequency": 3},
    "min_frequency 5": {**V0_2, "min_frequency": 5},
    "min_frequency 3 + category dropout 0.1": {
        **V0_2,
        "min_frequency": 3,
        "category_dropout": 0.1,
    },
    "shrinkage auto (empirical Bayes per column)": {**V0_2, "shrinkage": "auto"},
    "widths capped by rows per category": {**V0_2, "embedding_dims": "capped"},
    "capped widths + min_frequency 2": {
        **V0_2,
        "embedding_dims": "capped",
        "min_frequency": 2,
    },
    "capped widths + category dropout 0.1": {
        **V0_2,
        "embedding_dims": "capped",
        "category_dropout": 0.1,
    },
    # Cross-fitted: EntityEmbedder(cv=5)'s out-of-fold training features.
    "0.2 defaults, cross-fitted": {**V0_2, "cv": 5},
    "capped widths, cross-fitted": {**V0_2, "embedding_dims": "capped", "cv": 5},
    "category dropout 0.1, cross-fitted": {
        **V0_2,
        "category_dropout": 0.1,
        "cv": 5,
    },
    "capped widths + shrinkage auto, cross-fitted": {
        **V0_2,
        "embedding_dims": "capped",
        "shrinkage": "auto",
        "cv": 5,
    },
    "0.2 defaults, cross-fitted + prediction": {
        **V0_2,
        "cv": 5,
        "append_prediction": True,
    },
    "capped widths + category dropout 0.1, cross-fitted + prediction": {
        **V0_2,
        "embedding_dims": "capped",
        "category_dropout": 0.1,
        "cv": 5,
        "append_prediction": True,
    },
    # The learning-rate schedule and the patience it allows, one at a time.
    "cosine schedule": {**V0_2, "learning_rate_schedule": "cosine"},
    "patience 2": {**V0_2, "patience": 2},
    "new defaults (cosine schedule + patience 2)": {},
    # Cross-fitting where a column is ID-like (EntityEmbedder's cv="auto"),
    # with the schedule's defaults: the embedder's default since. The rows
    # with cv auto up to "patience 1, cv auto" were measured before cv="auto"
    # served uninformative ID-like columns as constants: every variant runs
    # with test_id_columns=False unless it says.
    "cv auto (cross-fitted where a column is ID-like)": {"cv": "auto"},
    "capped widths, cv auto": {"embedding_dims": "capped", "cv": "auto"},
    "cross-fitted in 3 folds": {"cv": 3},
    # Fewer, larger steps (issue 13's item 2): the tables' rate scales with
    # the batch, as SGD on a batch's mean loss must move each row as far.
    "batch 512 (table_learning_rate 200)": {
        "batch_size": 512,
        "table_learning_rate": 200.0,
    },
    "batch 512 (table_learning_rate 200), cv auto": {
        "batch_size": 512,
        "table_learning_rate": 200.0,
        "cv": "auto",
    },
    # One epoch without improvement instead of two: most of these fits are
    # best after their first epoch and train two more to find it out.
    "patience 1": {"patience": 1},
    "patience 1, cv auto": {"patience": 1, "cv": "auto"},
    # The folds test each ID-like column: one whose vectors do not lower the
    # held-out loss by two standard errors serves its mean vector, and with
    # no ID-like column left, the features are in-sample.
    "cv auto, uninformative ID-like columns constant": {
        "cv": "auto",
        "test_id_columns": True,
    },
    # Cheaper steps (the fit-speed issue): a fit is its steps (the fit floor
    # page), and the MLP's products are most of a step.
    "hidden units (128, 64)": {"hidden_units": (128, 64)},
    # k-nearest neighbours measure distances: the served vectors' scale
    # against the standardised numeric columns, and the columns' against each
    # other (gradient boosting and the network's own score are unchanged).
    "cv auto, balanced feature scale": {
        "cv": "auto",
        "test_id_columns": True,
        "feature_scale": "balanced",
    },
    # The predictors test each ID-like column on their validation rows and
    # fit again with those that fail as one category (the embedder's
    # cv="auto" does the same on its folds).
    "ID-like columns tested on the validation rows": {"test_id_columns": True},
    # Cheaper steps (the fit-speed issue): the two products of the first
    # dense layer grow with the tables' total width, mostly the ID-like
    # columns' (flights: 307 of 348 inputs), and take most of a step. The
    # current defaults of each estimator, widths capped.
    "widths at most 50, ID-like columns tested on the validation rows": {
        "test_id_columns": True,
        "embedding_dims": widths_at_most_50,
    },
    "widths at most 50, cv auto, balanced feature scale": {
        "cv": "auto",
        "test_id_columns": True,
        "feature_scale": "balanced",
        "embedding_dims": widths_at_most_50,
    },
    # String features (issue 30): text columns of 100+ categories cut into
    # pieces (character 3-grams; word tokens for free text), whose vectors
    # add to each category's own. The embedder's and the predictors'
    # defaults, without and with them.
    "embedder defaults, no string features": {**EMBEDDER, "string_features": "none"},
    "embedder defaults, string features": EMBEDDER,
    "predictor defaults, no string features": {
        "test_id_columns": True,
        "string_features": "none",
    },
    "predictor defaults, string features": {"test_id_columns": True},
    # Interactions (issue 29): a layer that combines columns before the MLP
    # (factorization machines' pairwise products, DCN-V2's cross layers), and
    # a slower learning rate for the hidden layers, whose fast fit of the
    # rows' combinations stops sparse tables at their first epoch.
    "predictor defaults, interactions fm": {
        "test_id_columns": True,
        "interactions": "fm",
    },
    "predictor defaults, interactions cross": {
        "test_id_columns": True,
        "interactions": "cross",
    },
    "predictor defaults, learning_rate 3e-4": {
        "test_id_columns": True,
        "learning_rate": 3e-4,
    },
}
MODELS = ("gradient boosting", "k-nearest neighbours")


def run_table(name: str, rows: int, n_splits: int, variants: dict) -> dict:
    X, y, task, (metric, score), splits, categorical, numeric = table_and_splits(
        name, rows, n_splits
    )
    models = downstream_models(task, 0)
    scores: dict[str, dict[str, list[float]]] = {}

    def add(row, column, value):
        scores.setdefault(row, {}).setdefault(column, []).append(float(value))

    for train, test in splits:
        scaler = StandardScaler().fit(X[numeric].iloc[train]) if numeric else None

        def with_numeric(features, rows, scaler=scaler):
            if scaler is None:
                return features
            return np.hstack([features, scaler.transform(X[numeric].iloc[rows])])

        rivals = default_encoders(0, task)
        for encoder_name, encoder_models in (
            ("target encoding", MODELS),
            ("one-hot (top 50)", ("linear",)),
        ):
            encoder = clone(rivals[encoder_name])
            # fit_transform: TargetEncoder's cross-fitted training features.
            train_x = encoder.fit_transform(X[categorical].iloc[train], y[train])
            test_x = encoder.transform(X[categorical].iloc[test])
            scale = StandardScaler().fit(train_x)
            train_x = with_numeric(scale.transform(train_x), train)
            test_x = with_numeric(scale.transform(test_x), test)
            for model_name in encoder_models:
                model = clone(models[model_name]).fit(train_x, y[train])
                add(encoder_name, model_name, score(model, test_x, y[test]))
        for variant, params in variants.items():
            # The test of ID-like columns only where the variant says: the
            # rows before test_id_columns existed were measured without it.
            params = {"test_id_columns": False, **params}
            start = time.perf_counter()
            if "cv" in params:
                # Only the embedder cross-fits; its network is the same as a
                # predictor's, so the network's own score is not repeated.
                # Served as learned unless the variant says: the rows before
                # feature_scale existed were measured so.
                embedder = EntityEmbedder(
                    random_state=0,
                    remainder="drop",
                    **{"feature_scale": None, **params},
                )
                train_x = embedder.fit_transform(X.iloc[train], y[train])
                add(variant, "fit seconds", time.perf_counter() - start)
                test_x = embedder.transform(X.iloc[test])
            else:
                predictor = {"regression": EntityEmbeddingRegressor}.get(
                    task, EntityEmbeddingClassifier
                )(random_state=0, **params)
                predictor.fit(X.iloc[train], y[train])
                add(variant, "fit seconds", time.perf_counter() - start)
                add(variant, "itself", score(predictor, X.iloc[test], y[test]))
                train_x = predictor.transform_embeddings(X.iloc[train])
                test_x = predictor.transform_embeddings(X.iloc[test])
            train_x, test_x = with_numeric(train_x, train), with_numeric(test_x, test)
            for model_name in MODELS:
                model = clone(models[model_name]).fit(train_x, y[train])
                add(variant, model_name, score(model, test_x, y[test]))
        print(f"{name}: a split done", flush=True)
    return {
        "name": name,
        "metric": metric,
        "higher_is_better": metric != "RMSE",
        "scores": scores,
    }


def render(tables: list[dict], variants: list[str], rows: int, splits: int) -> str:
    header = [
        "# Ablation: what each training change contributes",
        "",
        f"Every quality table (at most {rows:,} rows), {splits} random 80/20 "
        "splits, one setting per variant for all tables. Cells: mean ± std over "
        "splits of the network's own score, and of gradient boosting (GB) and "
        "k-nearest neighbours (KNN) on its embeddings; fit seconds. Last rows: "
        "the rivals on the same splits, and the quality page's logistic "
        "regression on one-hot columns and their crossed pairs (its splits are "
        f"these). {machine()}.",
        "",
    ]
    lines = []
    crosses = _crosses_baseline()
    wins = {v: [0, 0, 0] for v in variants}
    # Variants measured on the tables there were then: each is counted on
    # the tables it ran on.
    measured = dict.fromkeys(variants, 0)
    for t in tables:
        higher = t["higher_is_better"]
        s = t["scores"]
        lines += [
            f"## {t['name']} ({t['metric']}, {'higher' if higher else 'lower'} "
            "is better)",
            "",
            "| variant | network's own | GB on embeddings | KNN on embeddings "
            "| fit s |",
            "|---|---:|---:|---:|---:|",
        ]
        for v in variants:
            if v not in s:
                continue
            measured[v] += 1
            cells = [
                mean_std(s[v][c]) if c in s[v] else "" for c in ("itself", *MODELS)
            ]
            cells.append(f"{np.median(s[v]['fit seconds']):.1f}")
            lines.append(md_row([v, *cells]))
            targets = (
                np.mean(s["one-hot (top 50)"]["linear"]),
                np.mean(s["target encoding"]["gradient boosting"]),
                np.mean(s["target encoding"]["k-nearest neighbours"]),
            )
            for i, (c, rival) in enumerate(
                zip(("itself", *MODELS), targets, strict=True)
            ):
                if c in s[v]:
                    wins[v][i] += at_least(np.mean(s[v][c]), rival, higher)
                else:
                    wins[v][i] = None
        te, onehot = s["target encoding"], s["one-hot (top 50)"]["linear"]
        lines += [
            "| target encoding | | "
            + " | ".join(mean_std(te[m]) for m in MODELS)
            + " | |",
            f"| one-hot (top 50) + linear | {mean_std(onehot)} | | | |",
        ]
        crossed = crosses.get(t["name"])
        if crossed is not None:
            lines.append(
                f"| one-hot + pairwise crosses (quality page) | {mean_std(crossed)} "
                "| | | |"
            )
        lines.append("")
    summary = [
        "## Summary: tables where each variant meets the targets",
        "",
        "| variant | own ≥ one-hot + linear | GB ≥ GB on target encoding "
        "| KNN ≥ KNN on target encoding |",
        "|---|---:|---:|---:|",
    ]
    for v in variants:
        summary.append(
            f"| {v} | "
            + " | ".join("" if n is None else f"{n}/{measured[v]}" for n in wins[v])
            + " |"
        )
    return "\n".join(header + summary + [""] + lines)


def _crosses_baseline() -> dict[str, list[float]]:
    """By table, the quality page's logistic (ridge) regression on one-hot
    columns and their crossed pairs: the same tables and splits."""
    path = RESULTS / "quality.json"
    if not path.exists():
        return {}
    found = {}
    for t in json.loads(path.read_text())["tables"]:
        cell = t["cells"].get("one-hot + pairwise crosses", {}).get("linear")
        if cell:
            found[t["name"]] = cell["scores"]
    return found


def main() -> None:
    parser = table_arguments(__doc__.splitlines()[0], DATASETS)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args()
    raw = RESULTS / "ablation.json"
    if args.render:
        stored = json.loads(raw.read_text())
    else:
        warnings.simplefilter("ignore", UserWarning)
        variants = {v: VARIANTS[v] for v in args.variants}
        # Variants measured before on the same tables and splits are kept:
        # the rivals' rows are recomputed alike, the new variants' added.
        stored = json.loads(raw.read_text()) if raw.exists() else {}
        if (stored.get("rows"), stored.get("splits")) != (args.rows, args.splits):
            stored = {"rows": args.rows, "splits": args.splits, "tables": []}
        stored["variants"] = list(
            dict.fromkeys(stored.get("variants", []) + args.variants)
        )
        before = {t["name"]: t for t in stored["tables"]}
        for name in args.datasets:
            table = run_table(name, args.rows, args.splits, variants)
            if name in before:
                before[name]["scores"].update(table["scores"])
            else:
                stored["tables"].append(table)
                before[name] = table
            raw.write_text(json.dumps(stored, indent=1))
    write(
        "ablation.md",
        render(stored["tables"], stored["variants"], stored["rows"], stored["splits"]),
    )


if __name__ == "__main__":
    main()
