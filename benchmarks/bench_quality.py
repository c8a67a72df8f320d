"""Quality: do entity embeddings make downstream models better, on every table?

On each real table of ``entembed.datasets`` (at most 20,000 rows), every
contender is fitted on the same random 80/20 splits and scored on the held-out
rows. Encoders feed three downstream models: gradient boosting
(HistGradientBoosting), k-nearest neighbours (k=10) and a linear model (Ridge
or logistic regression); the numeric columns are standardised and passed to
every model alike. Encoders: one-hot (the 50 most frequent categories per
column), ordinal, scikit-learn's cross-fitted ``TargetEncoder``, and
``EntityEmbedder`` with its defaults (``cv="auto"``), in-sample (``cv=None``),
cross-fitted (``cv=5``), cross-fitted with the network's out-of-fold
prediction appended (``append_prediction=True``), and without string features
(``string_features="none"``). On the tables whose strings are dirty (``DIRTY``),
skrub's ``StringEncoder``, ``MinHashEncoder`` and ``GapEncoder`` encode too,
and every contender is also scored on the test rows whose dirty string no
training row holds.
The network's own predictions (``EntityEmbeddingRegressor`` /
``EntityEmbeddingClassifier``, whose default leaves out the ID-like columns
that fail its test on the validation rows) are scored too. Where installed
(the peers environment), CatBoost and LightGBM with their native categorical
handling and skrub's ``tabular_pipeline`` run with their defaults on the same
splits.

Every setting is a default; none is tuned to a table. Each cell is the mean ±
std over splits, beside the seconds its fit took (encoder plus model).
Raw results go to ``results/quality.json``; ``--render`` rewrites the page and
chart from it without refitting. The held-out tables (``--datasets movies
chemistry census star``), kept out of every choice of a default, are counted
apart; ``--contenders`` measures some contenders again and keeps the rest.
Interactions: the network's own predictions and the embedder with
``interactions="fm"`` and ``"cross"``, and logistic (ridge) regression on
one-hot columns and every pair of them crossed; every default fit's seconds
are set against one HistGradientBoosting fit's in the same run.

Run: ``python benchmarks/bench_quality.py [--rows N] [--splits S] [--datasets ...]``
"""

from __future__ import annotations

import json
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from _charts import best_cells
from _pages import (
    AUTO_FOLDS,
    ID_LIKE_ROWS,
    MEMORISING_ROWS,
    at_least,
    better,
    default_encoders,
    downstream_models,
    md_row,
    model_inputs,
    plus_minus,
    table_and_splits,
    table_arguments,
)
from _timing import RESULTS, machine, write
from sklearn.base import clone

from entembed import EntityEmbedder, EntityEmbeddingClassifier, EntityEmbeddingRegressor
from entembed.datasets import DATASETS, HELD_OUT_DATASETS, load_dataset

DEFAULT = "entity embeddings (default)"
NO_STRINGS = "entity embeddings, no string features"
FM = "entity embeddings, interactions=fm"
CROSS = "entity embeddings, interactions=cross"
OWN = "network's own"
# The network's own predictions with other settings: the interactions, and a
# slower learning rate for the hidden layers (the sparse tables' question of
# why early stopping keeps the first epoch).
OWN_VARIANTS = {
    "network's own, interactions=fm": {"interactions": "fm"},
    "network's own, interactions=cross": {"interactions": "cross"},
    "network's own, learning_rate=3e-4": {"learning_rate": 3e-4},
}
OURS = (
    DEFAULT,
    "entity embeddings, in-sample",
    "entity embeddings, cross-fitted",
    "entity embeddings + prediction, cross-fitted",
    NO_STRINGS,
    FM,
    CROSS,
    OWN,
    *OWN_VARIANTS,
)
EMBEDDINGS = OURS[:7]  # the contenders whose features feed downstream models
CROSSES = "one-hot + pairwise crosses"
CROSS_RARE_ROWS = 5  # a crossed pair's levels of fewer training rows merge
# The tables of sparse combinations (every column categorical or nearly,
# ID-like columns whose meeting drives the target), added with interactions.
SPARSE = ("lectures", "movielens", "census", "star")
# The tables whose strings are dirty (names, titles, free text), each with its
# dirtiest column: skrub's string encoders run on these, and their test rows
# whose string in that column no training row has are scored apart.
DIRTY = {
    "loans": "emp_title",
    "seattle_pets": "animal_name",
    "bird_strikes": "remarks",
    "restaurants": "business_name",
    "movies": "title",
}
STRING_ENCODERS = ("StringEncoder", "MinHashEncoder", "GapEncoder")
COST_CAP = 1.3  # the cap on the default fit's cost, against no pieces
COST_MAX, COST_MEDIAN = 25, 10  # caps on a default fit / one GB fit
# The page's order: the tables every default was chosen on, then those
# added after, held out from every choice.
ORDER = [*DATASETS, *HELD_OUT_DATASETS]


def _label(name: str) -> str:
    return f"{name} (held out)" if name in HELD_OUT_DATASETS else name


def encoders(task: str) -> dict:
    found = default_encoders(0, task)
    return {
        "one-hot (top 50)": found["one-hot (top 50)"],
        "ordinal": found["ordinal"],
        "target encoding": found["target encoding"],
        DEFAULT: EntityEmbedder(remainder="drop", random_state=0),
        "entity embeddings, in-sample": EntityEmbedder(
            cv=None, remainder="drop", random_state=0
        ),
        "entity embeddings, cross-fitted": EntityEmbedder(
            cv=AUTO_FOLDS, remainder="drop", random_state=0
        ),
        "entity embeddings + prediction, cross-fitted": EntityEmbedder(
            cv=5, append_prediction=True, remainder="drop", random_state=0
        ),
        NO_STRINGS: EntityEmbedder(
            string_features="none", remainder="drop", random_state=0
        ),
        FM: EntityEmbedder(interactions="fm", remainder="drop", random_state=0),
        CROSS: EntityEmbedder(interactions="cross", remainder="drop", random_state=0),
    }


def crosses_baseline(task: str, categorical: list[str], numeric: list[str]):
    """Logistic regression (ridge for regression) on one-hot columns (every
    level) and every pair of them crossed (``"a|b"``), a crossed level of
    fewer than ``CROSS_RARE_ROWS`` training rows merged into one: the model
    that wins sparse click and access tables in practice."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    pairs = [(a, b) for i, a in enumerate(categorical) for b in categorical[i + 1 :]]

    def text(X):
        return X.astype(object).where(X.notna(), "<NA>").astype(str)

    def crossed(X):
        X = text(X)
        return pd.DataFrame({f"{a}|{b}": X[a] + "|" + X[b] for a, b in pairs})

    parts = [
        (
            "one-hot",
            make_pipeline(
                FunctionTransformer(text), OneHotEncoder(handle_unknown="ignore")
            ),
            categorical,
        ),
        ("scaled", StandardScaler(), numeric),
    ]
    if pairs:
        parts.append(
            (
                "crosses",
                make_pipeline(
                    FunctionTransformer(crossed),
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist",
                        min_frequency=CROSS_RARE_ROWS,
                    ),
                ),
                categorical,
            )
        )
    model = Ridge() if task == "regression" else LogisticRegression(max_iter=1000)
    return make_pipeline(ColumnTransformer(parts, sparse_threshold=1.0), model)


def string_encoders(name: str) -> dict:
    """skrub's string encoders, each in a ``TableVectorizer`` as its
    high-cardinality encoder (more than 40 categories; one-hot below), on
    the dirty-string tables, where skrub is installed."""
    if name not in DIRTY:
        return {}
    try:
        import skrub
    except ImportError:
        return {}
    return {
        f"skrub {kind}": skrub.TableVectorizer(high_cardinality=getattr(skrub, kind)())
        for kind in STRING_ENCODERS
    }


def peers(task: str, categorical: list[str]) -> dict:
    """Models with their own categorical handling, where they are installed."""
    found = {}
    try:
        import catboost

        model = (
            catboost.CatBoostRegressor
            if task == "regression"
            else (catboost.CatBoostClassifier)
        )
        found["CatBoost"] = lambda model=model: model(
            cat_features=categorical,
            random_seed=0,
            verbose=False,
            thread_count=2,
            allow_writing_files=False,
        )
    except ImportError:
        pass
    try:
        import lightgbm

        model = (
            lightgbm.LGBMRegressor
            if task == "regression"
            else (lightgbm.LGBMClassifier)
        )
        found["LightGBM"] = lambda model=model: model(
            random_state=0, verbose=-1, n_jobs=2
        )
    except ImportError:
        pass
    try:
        import skrub

        kind = "regressor" if task == "regression" else "classifier"
        found["skrub tabular_pipeline"] = lambda: skrub.tabular_pipeline(kind)
    except ImportError:
        pass
    return found


def _native_frame(X: pd.DataFrame, categorical: list[str], name: str) -> pd.DataFrame:
    """Each peer's own way to mark categories: strings for CatBoost (missing as
    a category of its own), pandas categoricals for LightGBM, as-is for skrub."""
    X = X.copy()
    for column in categorical:
        if name == "CatBoost":
            X[column] = X[column].astype(object).where(X[column].notna(), "<NA>")
            X[column] = X[column].astype(str)
        elif name == "LightGBM":
            X[column] = X[column].astype("category")
    return X


def run_table(
    name: str, rows: int, n_splits: int, contenders: set[str] | None = None
) -> dict:
    """Every contender's cells on one table (or those of ``contenders``)."""
    X, y, task, (metric, score), splits, categorical, numeric = table_and_splits(
        name, rows, n_splits
    )

    def wanted(contender: str) -> bool:
        return contenders is None or contender in contenders

    numeric_values = X[numeric].to_numpy(dtype=float) if numeric else None
    cells: dict[str, dict[str, dict]] = {}
    unseen_rows: list[int] = []

    def record(contender, model, value, seconds, unseen=np.nan, fit=np.nan):
        cell = cells.setdefault(contender, {}).setdefault(
            model, {"scores": [], "seconds": [], "unseen": [], "fit_seconds": []}
        )
        cell["scores"].append(float(value))
        cell["seconds"].append(float(seconds))
        cell["unseen"].append(float(unseen))
        cell["fit_seconds"].append(float(fit))  # the encoder's alone

    default_choices, own_constant = [], []
    for split, (train, test) in enumerate(splits):
        unseen = _unseen_rows(X, name, train, test)
        unseen_rows.append(int(unseen.sum()))

        def on_unseen(model, features, unseen=unseen, test=test):
            """The score on the test rows whose dirty string no training row
            has (NaN where there are none, or one class only)."""
            if not unseen.any():
                return np.nan
            try:
                return score(model, features[unseen], y[test][unseen])
            except ValueError:
                return np.nan

        for encoder_name, encoder in {
            **encoders(task),
            **string_encoders(name),
        }.items():
            if not wanted(encoder_name):
                continue
            fitted = clone(encoder)
            inputs = X if isinstance(fitted, EntityEmbedder) else X[categorical]
            start = time.perf_counter()
            train_features = fitted.fit_transform(inputs.iloc[train], y[train])
            encoder_seconds = time.perf_counter() - start
            if encoder_name == DEFAULT:
                default_choices.append(
                    {"cv": fitted.cv_, "constant": fitted.constant_columns_}
                )
            test_features = fitted.transform(inputs.iloc[test])
            if encoder_name.startswith("skrub"):
                # A missing string is a row of NaN there: zeros, as an imputer
                # in the user's pipeline would give k-NN and the linear model.
                train_features, test_features = (
                    np.nan_to_num(np.asarray(f, dtype=float))
                    for f in (train_features, test_features)
                )
            train_features, test_features = model_inputs(
                fitted, train_features, test_features, numeric_values, train, test
            )
            for model_name, model in downstream_models(task, 0).items():
                start = time.perf_counter()
                model = clone(model).fit(train_features, y[train])
                seconds = encoder_seconds + time.perf_counter() - start
                record(
                    encoder_name,
                    model_name,
                    score(model, test_features, y[test]),
                    seconds,
                    on_unseen(model, test_features),
                    encoder_seconds,
                )
        for own_name, settings in {OWN: {}, **OWN_VARIANTS}.items():
            if not wanted(own_name):
                continue
            network = (
                EntityEmbeddingRegressor
                if task == "regression"
                else EntityEmbeddingClassifier
            )(random_state=0, **settings)
            start = time.perf_counter()
            network.fit(X.iloc[train], y[train])
            seconds = time.perf_counter() - start
            record(
                own_name,
                "itself",
                score(network, X.iloc[test], y[test]),
                seconds,
                on_unseen(network, X.iloc[test]),
                seconds,
            )
            if own_name == OWN:
                own_constant.append(network.constant_columns_)
        # Models that take the table as it is: fitted, timed and scored alike.
        whole = {}
        if wanted(CROSSES):
            whole[CROSSES] = (
                "linear",
                lambda: crosses_baseline(task, categorical, numeric),
                X,
            )
        for peer_name, make in peers(task, categorical).items():
            if wanted(peer_name):
                frame = _native_frame(X, categorical, peer_name)
                whole[peer_name] = ("itself", make, frame)
        for contender, (label, make, frame) in whole.items():
            start = time.perf_counter()
            model = make().fit(frame.iloc[train], y[train])
            record(
                contender,
                label,
                score(model, frame.iloc[test], y[test]),
                time.perf_counter() - start,
                on_unseen(model, frame.iloc[test]),
            )
        print(f"{name}: split {split + 1}/{n_splits} done", flush=True)

    id_like = [c for c in categorical if X[c].nunique() > len(X) / ID_LIKE_ROWS]
    return {
        "default_choices": default_choices,
        "own_constant": own_constant,
        "name": name,
        "rows": len(X),
        "task": task,
        "metric": metric,
        "higher_is_better": metric != "RMSE",
        "categorical": {c: int(X[c].nunique()) for c in categorical},
        "numeric": len(numeric),
        "id_like": id_like,
        "dirty_column": DIRTY.get(name),
        "unseen_rows": unseen_rows,
        "splits": n_splits,
        "cells": cells,
    }


def _unseen_rows(X: pd.DataFrame, name: str, train, test) -> np.ndarray:
    """Which test rows hold a string in the table's dirty column that no
    training row holds (none on a table without one)."""
    if name not in DIRTY:
        return np.zeros(len(test), bool)
    column = X[DIRTY[name]]
    seen = set(column.iloc[train].dropna())
    held = column.iloc[test]
    return (held.notna() & ~held.isin(seen)).to_numpy()


def default_choice(table: dict) -> str:
    """What the default fit chose on each split: cross-fitted or in-sample,
    and the ID-like columns it served as constants."""
    choices = table["default_choices"]

    def one(choice: dict) -> str:
        kind = "in-sample" if choice["cv"] is None else "cross-fitted"
        constant = ", ".join(choice["constant"])
        return f"{kind}, {constant} constant" if constant else kind

    found = [one(c) for c in choices]
    counted = dict.fromkeys(found)
    if len(counted) == 1:
        return found[0]
    return "; ".join(f"{c} ({found.count(c)}/{len(found)} splits)" for c in counted)


def own_choice(table: dict) -> str:
    """The ID-like columns the network's own fit left out of its second fit
    (they failed its test on the validation rows), with on how many splits."""
    found = [", ".join(c) for c in table.get("own_constant", []) if c]
    if not found:
        return ""
    splits = len(table["own_constant"])
    return "; ".join(
        f"{c} left out on {found.count(c)}/{splits} splits"
        for c in dict.fromkeys(found)
    )


# ------------------------------------------------------------------ the page
def _stats(cell: dict) -> tuple[float, float, float]:
    return (
        float(np.mean(cell["scores"])),
        float(np.std(cell["scores"])),
        float(np.mean(cell["seconds"])),
    )


def _cell_text(cell: dict) -> str:
    mean, std, seconds = _stats(cell)
    return f"{plus_minus(mean, std)} ({seconds:.1f} s)"


def best_cell(table: dict, contender: str) -> tuple[str, float, float, float] | None:
    """The contender's best downstream model on this table, by mean score."""
    models = table["cells"].get(contender)
    if not models:
        return None
    higher = table["higher_is_better"]
    ranked = sorted(
        ((m, *_stats(c)) for m, c in models.items()),
        key=lambda r: -r[1] if higher else r[1],
    )
    return ranked[0]


def table_targets(table: dict) -> list[tuple[str, str, str]]:
    """The issue's targets on one table: (target, verdict, figures).

    The verdict is "met", or "MISSED" with "within noise" when the gap is
    smaller than the larger of the two standard deviations over splits.
    """
    higher = table["higher_is_better"]
    cells = table["cells"]

    def stats(contender, model):
        return _stats(cells[contender][model])[:2]

    def verdict(ours, theirs):
        return _verdict(ours, theirs, higher)

    own = stats(OWN, "itself")
    linear = stats("one-hot (top 50)", "linear")
    left_out = own_choice(table)
    results = [
        (
            "network's own ≥ one-hot + linear",
            verdict(own, linear),
            f"{own[0]:.4g} vs {linear[0]:.4g}" + (f"; {left_out}" if left_out else ""),
        )
    ]
    if CROSSES in cells:
        crossed = stats(CROSSES, "linear")
        results.append(
            (
                "network's own ≥ one-hot + pairwise crosses",
                verdict(own, crossed),
                f"{own[0]:.4g} vs {crossed[0]:.4g}",
            )
        )
    for model, label in (("gradient boosting", "GB"), ("k-nearest neighbours", "KNN")):
        rival = stats("target encoding", model)
        default = stats(EMBEDDINGS[0], model)
        best, name = max(
            ((stats(c, model), c) for c in EMBEDDINGS),
            key=lambda r: r[0][0] if higher else -r[0][0],
        )
        results += [
            (
                f"{label} on default embeddings ≥ {label} on target encoding",
                verdict(default, rival),
                f"{default[0]:.4g} vs {rival[0]:.4g}",
            ),
            (
                f"{label} on the best embeddings ≥ {label} on target encoding",
                verdict(best, rival),
                f"{best[0]:.4g} ({_short(name)}) vs {rival[0]:.4g}",
            ),
        ]
    return results


def _short(contender: str) -> str:
    """'entity embeddings, cross-fitted' -> 'cross-fitted'."""
    if contender == DEFAULT:
        return "default"
    return contender.removeprefix("entity embeddings").strip(", ") or "in-sample"


def moonshot(table: dict) -> tuple[bool, str] | None:
    """Does the best embedding cell beat CatBoost and skrub on this table?"""
    higher = table["higher_is_better"]
    rivals = [p for p in ("CatBoost", "skrub tabular_pipeline") if p in table["cells"]]
    if not rivals:
        return None
    ours = [best_cell(table, c) for c in OURS]
    best = max((c[1] for c in ours if c), key=lambda v: v if higher else -v)
    theirs = {p: best_cell(table, p)[1] for p in rivals}
    met = all(better(best, v, higher) for v in theirs.values())
    shown = ", ".join(f"{p} {v:.4g}" for p, v in theirs.items())
    return met, f"{best:.4g} vs {shown}"


def cross_fitting_section(tables: list[dict]) -> list[str]:
    """When should ``fit_transform`` cross-fit? What it buys gradient
    boosting, table by table, with and without an ID-like column."""
    lines = [
        "## When does fit_transform cross-fit?",
        "",
        f'The default (`cv="auto"`) cross-fits in {AUTO_FOLDS} folds where an '
        f"embedded column has fewer than {ID_LIKE_ROWS} training rows per "
        "category on average (ID-like; or fewer than "
        f"{MEMORISING_ROWS} where the fit shows its vectors memorise, which "
        "none does on these tables), and returns in-sample features "
        "elsewhere. Its folds also tell whether each ID-like column's vectors "
        "generalise: a column whose vectors do not lower the fold models' loss "
        "on their held-out rows by more than two standard errors (against the "
        "column's mean vector) serves that mean vector to every row, and where "
        "no ID-like column is left, the features are in-sample. Gradient "
        "boosting on in-sample against cross-fitted "
        f"(`cv={AUTO_FOLDS}`) embeddings and the default's, what the default "
        "chose, and the seconds of embedder and gradient boosting together "
        "(median over splits; cross-fitting is "
        f"{AUTO_FOLDS + 1} fits instead of one).",
        "",
        "| table | ID-like column | in-sample GB | cross-fitted GB | "
        "+ prediction GB | default GB | the default | "
        "cross-fitted / in-sample fit seconds |",
        "|---|---|---:|---:|---:|---:|---|---:|",
    ]
    ratios = []
    wins = {True: 0, False: 0}
    counts = {True: 0, False: 0}
    constant = []  # tables where the default made an ID-like column constant
    for t in tables:
        cells = t["cells"]
        model = "gradient boosting"
        scores = [_stats(cells[c][model]) for c in EMBEDDINGS[1:4]]
        if t["name"] in HELD_OUT_DATASETS:  # a row, but not in the counts
            default = _stats(cells[DEFAULT][model])
            lines.append(
                f"| {_label(t['name'])} | {', '.join(t['id_like']) or 'none'} | "
                + " | ".join(plus_minus(m, sd) for m, sd, _ in scores)
                + f" | {plus_minus(*default[:2])} | {default_choice(t)} "
                "| |"
            )
            continue
        seconds = [np.median(cells[c][model]["seconds"]) for c in EMBEDDINGS[1:3]]
        ratio = seconds[1] / seconds[0]
        id_like = bool(t["id_like"])
        if id_like:
            ratios.append(ratio)
        counts[id_like] += 1
        wins[id_like] += better(scores[1][0], scores[0][0], t["higher_is_better"])
        default = _stats(cells[DEFAULT][model])
        if any(c["constant"] for c in t["default_choices"]):
            constant.append(
                f"{t['name']} {scores[1][0]:.4g} -> {default[0]:.4g}"
                + (
                    " (better)"
                    if better(default[0], scores[1][0], t["higher_is_better"])
                    else ""
                )
            )
        lines.append(
            f"| {t['name']} | {', '.join(t['id_like']) or 'none'} | "
            + " | ".join(plus_minus(m, sd) for m, sd, _ in scores)
            + f" | {plus_minus(*default[:2])} | {default_choice(t)} "
            f"| {ratio:.1f}x |"
        )
    lines += [
        "",
        f"Cross-fitting improved gradient boosting on {wins[True]}/{counts[True]} "
        f"tables with an ID-like column and on {wins[False]}/{counts[False]} "
        "without, where the in-sample vectors of categories with many rows each "
        "leak little. On the tables with an ID-like column, cross-fitting costs "
        f"{np.median(ratios) if ratios else float('nan'):.1f}x the pipeline's "
        "seconds (median); the time-to-quality page compares the default fit "
        "with the first version's. The held-out test served an ID-like column "
        f"as a constant on {len(constant)}/{counts[True]} of those tables, "
        "gradient boosting cross-fitted -> default: "
        + ("; ".join(constant) or "none")
        + ". The rule was read off these tables (its "
        "threshold is this page's definition of ID-like, which every table "
        "clears by a wide margin either way), and the held-out test was added "
        "after these tables showed ID-like columns of noise (its two standard "
        "errors are a conventional significance level, not fitted to them); "
        "the held-out tables' rows (not counted above) check both on tables "
        "they were not read off.",
        "",
    ]
    return lines


def _gb_cell(table: dict, contender: str) -> dict | None:
    """Gradient boosting's cell on the contender's features (the contender's
    own for a model without a downstream model; None: not measured)."""
    cells = table["cells"].get(contender)
    if not cells:
        return None
    return cells.get("gradient boosting") or cells.get("itself")


def _gb(table: dict, contender: str) -> tuple[float, float] | None:
    """:func:`_gb_cell`'s mean and std."""
    cell = _gb_cell(table, contender)
    return None if cell is None else _stats(cell)[:2]


def _verdict(ours, theirs, higher: bool) -> str:
    if at_least(ours[0], theirs[0], higher):
        return "met"
    if abs(ours[0] - theirs[0]) < max(ours[1], theirs[1]):
        return "MISSED, within noise"
    return "MISSED"


def dirty_strings_section(tables: list[dict]) -> list[str]:
    """String features on the dirty-string tables against skrub, and what
    they change elsewhere: gradient boosting on the default embeddings (text
    columns of 100+ categories cut into pieces) against the same without
    pieces, skrub's pipeline and gradient boosting on skrub's string
    encoders."""
    lines = [
        "## Dirty strings: string features against skrub",
        "",
        "The default cuts each text column of at least 100 categories (but "
        'numbers around one fixed text, such as "store_17") into pieces '
        'hashed into buckets (`string_features="auto"`): word tokens '
        "where its categories hold 4 or more words on average (free text: the "
        "bird strikes' remarks), character 3-grams otherwise; "
        "a category's vector is its own plus its pieces' mean, and a string "
        "never seen in fit gets the unknown vector plus its pieces' mean. "
        "Gradient boosting (GB) on the default embeddings, on the same "
        'without pieces (`string_features="none"`), skrub\'s '
        "`tabular_pipeline`, and GB on each of skrub's string encoders "
        "(`StringEncoder`, `MinHashEncoder`, `GapEncoder`, in a "
        "`TableVectorizer` for columns of more than 40 categories; one-hot "
        "below), on the tables whose strings are dirty. Fit seconds: the "
        "embedder's fit with pieces over its fit without, medians over splits "
        "measured in one run: the ablation page's on the tables it ran (both "
        "embedder defaults), this page's on the four tables added with "
        "interactions (the default's other cells are from a later run than "
        "those without pieces on the rest).",
        "",
        "| table (dirty column) | GB on default | GB without pieces | skrub "
        "tabular_pipeline | GB on skrub's best string encoder | default ≥ "
        "tabular_pipeline | default ≥ best string encoder | default / without "
        "pieces, fit seconds |",
        "|---|---:|---:|---:|---:|---|---|---:|",
    ]
    costs, others, over = [], [], []
    ablation = _ablation_tables()
    for t in tables:
        higher = t["higher_is_better"]
        default, plain = _gb(t, DEFAULT), _gb(t, NO_STRINGS)
        if default is None or plain is None:
            continue
        cost = _pieces_cost(t, ablation)
        if cost is not None:
            costs.append(cost)
            if cost > COST_CAP:
                over.append(f"{_label(t['name'])} {cost:.2f}x")
        if not t.get("dirty_column"):
            moved = default[0] - plain[0]
            worse = not at_least(default[0], plain[0], higher)
            beyond = abs(moved) > max(default[1], plain[1])
            others.append(
                f"{_label(t['name'])} {plain[0]:.4g} -> {default[0]:.4g} "
                + ("(worse beyond the spread)" if worse and beyond else "")
                + ("(within the spread)" if not beyond else "")
                + ("(better beyond the spread)" if beyond and not worse else "")
            )
            continue
        skrub = _gb(t, "skrub tabular_pipeline")
        encoders = [
            (_gb(t, f"skrub {k}"), k)
            for k in STRING_ENCODERS
            if _gb(t, f"skrub {k}") is not None
        ]
        best = (
            max(encoders, key=lambda e: e[0][0] if higher else -e[0][0])
            if encoders
            else None
        )
        lines.append(
            md_row(
                [
                    f"{_label(t['name'])} ({t['dirty_column']})",
                    plus_minus(*default),
                    plus_minus(*plain),
                    plus_minus(*skrub) if skrub else "",
                    f"{plus_minus(*best[0])} ({best[1]})" if best else "",
                    _verdict(default, skrub, higher) if skrub else "",
                    _verdict(default, best[0], higher) if best else "",
                    "" if cost is None else f"{cost:.2f}x",
                ]
            )
        )
    if costs:
        lines += [
            "",
            "On the tables without dirty strings, GB without pieces -> with the "
            "default's: " + "; ".join(others) + ". The default embedder's fit "
            f"costs {np.median(costs):.2f}x the fit without pieces (median over "
            f"{len(costs)} tables; {min(costs):.2f}x to {max(costs):.2f}x): at most "
            f"{COST_CAP}x, {'met' if np.median(costs) <= COST_CAP else 'MISSED'} on "
            "the median, "
            + (f"MISSED on {', '.join(over)}" if over else "met on every table")
            + ".",
            "",
        ]
    return lines


def interactions_section(tables: list[dict]) -> list[str]:
    """The ``interactions`` options against none, table by table: the
    network's own predictions, and gradient boosting and k-nearest neighbours
    on the embedder's features (with ``"fm"``, its vectors and the out-of-fold
    products of column pairs); and what the tables say of the default."""
    measured = [t for t in tables if FM in t["cells"] and CROSS in t["cells"]]
    if not measured:
        return []
    columns = {
        "own": (
            OWN,
            "network's own, interactions=fm",
            "network's own, interactions=cross",
        ),
        "GB": (DEFAULT, FM, CROSS),
        "KNN": (DEFAULT, FM, CROSS),
    }
    models = {"own": "itself", "GB": "gradient boosting", "KNN": "k-nearest neighbours"}
    lines = [
        "## Interactions: combinations of columns",
        "",
        "The network's own predictions (own) with `interactions` none (the MLP "
        'alone), `"fm"` (each column\'s vector projected to 8 dimensions, '
        "through tanh, and every pair of columns' dot product joining the "
        'MLP\'s input) and `"cross"` (two DCN-V2 cross layers of rank 32, '
        "bounded by tanh); gradient boosting (GB) and k-nearest neighbours "
        "(KNN) on the default embedder's features and on those of the "
        'embedder with `interactions="fm"` (its vectors and each pair\'s '
        'product, out of fold for the training rows) and `"cross"` (its '
        "vectors, learned beside cross layers); the baseline that wins sparse "
        "tables of combinations in practice, logistic (ridge) regression on "
        "one-hot columns and every pair of them crossed (crossed levels of "
        f"fewer than {CROSS_RARE_ROWS} training rows merged); and CatBoost, "
        "which crosses the columns its trees split on. The sparse tables of "
        "combinations (" + ", ".join(SPARSE) + ") are marked *.",
        "",
        "| table | "
        + " | ".join(f"{k}, {o}" for k in columns for o in ("none", "fm", "cross"))
        + " | one-hot + crosses | CatBoost |",
        "|---" + "|---:" * 11 + "|",
    ]
    wins: dict[str, list[bool]] = {
        f"{k}, {o}": [] for k in columns for o in ("fm", "cross")
    }
    beyond = []  # tables where cross lifts the network's own beyond the spread
    for t in measured:
        higher, cells = t["higher_is_better"], t["cells"]

        def cell(contender, model, cells=cells):
            found = cells.get(contender, {}).get(model)
            return None if found is None else _stats(found)[:2]

        row = []
        for key, contenders in columns.items():
            found = [cell(c, models[key]) for c in contenders]
            row += found
            if t["name"] in HELD_OUT_DATASETS or found[0] is None:
                continue
            for option, ours in zip(("fm", "cross"), found[1:], strict=True):
                if ours is not None:
                    wins[f"{key}, {option}"].append(
                        better(ours[0], found[0][0], higher)
                    )
            cross, none = found[2], found[0]
            if key == "own" and cross and better(cross[0], none[0], higher):
                if abs(cross[0] - none[0]) > max(cross[1], none[1]):
                    beyond.append(t["name"])
        row += [cell(CROSSES, "linear"), cell("CatBoost", "itself")]
        star = "*" if t["name"] in SPARSE else ""
        lines.append(
            md_row(
                [f"{_label(t['name'])}{star}"]
                + ["" if c is None else plus_minus(*c) for c in row]
            )
        )
    counted = {k: f"{sum(v)}/{len(v)}" for k, v in wins.items()}
    lines += [
        "",
        _slower_rate(measured),
        "",
        "Better than none on the tables defaults are chosen on (held-out "
        "tables not counted): the network's own with fm on "
        f"{counted['own, fm']}, with cross on {counted['own, cross']}; GB on "
        f"the fm embedder's features on {counted['GB, fm']}, on the cross "
        f"embedder's on {counted['GB, cross']}; KNN on {counted['KNN, fm']} "
        f"and {counted['KNN, cross']}. "
        + _INTERACTIONS_DEFAULT.format(
            beyond="beyond the spread on " + ", ".join(beyond) if beyond else "",
            cost=_cross_cost(),
        ),
        "",
    ]
    return lines


def _ablation_tables() -> list[dict]:
    """The ablation page's raw results by table (none before it ran)."""
    path = RESULTS / "ablation.json"
    return json.loads(path.read_text())["tables"] if path.exists() else []


def _cross_cost() -> str:
    """What cross layers cost the predictors' fit, from the ablation's run,
    which fits the variants with and without them split by split."""
    none = "predictor defaults, string features"
    cross = "predictor defaults, interactions cross"
    ratios = []
    for t in _ablation_tables():
        found = t["scores"]
        if none in found and cross in found:
            seconds = [np.median(found[v]["fit seconds"]) for v in (none, cross)]
            ratios.append(seconds[1] / seconds[0])
    if not ratios:
        return "the ablation page times the predictors with and without them"
    return (
        f"on the ablation page, which fits the predictors with and without "
        f"them split by split, they take {np.median(ratios):.2f}x the fit "
        f"without them (median over {len(ratios)} tables; {min(ratios):.2f}x "
        f"to {max(ratios):.2f}x)"
    )


def _slower_rate(tables: list[dict]) -> str:
    """What a slower learning rate for the hidden layers does to the network's
    own score: the question of why early stopping keeps a sparse table's
    first epochs."""
    slower = "network's own, learning_rate=3e-4"
    moved: dict[str, list[str]] = {"better": [], "worse": []}
    counted = 0
    for t in tables:
        cells = t["cells"]
        if t["name"] in HELD_OUT_DATASETS or slower not in cells:
            continue
        ours, base = (_stats(cells[c]["itself"])[:2] for c in (slower, OWN))
        counted += 1
        if abs(ours[0] - base[0]) > max(ours[1], base[1]):
            key = (
                "better" if better(ours[0], base[0], t["higher_is_better"]) else "worse"
            )
            moved[key].append(f"{t['name']} {base[0]:.4g} -> {ours[0]:.4g}")
    return (
        "Early stopping on the sparse tables: their default fits keep the "
        "first or second epoch, as the validation loss rises from the second "
        "on. On one split each of lectures and MovieLens, frequency "
        "shrinkage moved that on neither, a decay of the tables' rows only "
        "where it cost more than it gained (MovieLens 0.733 -> 0.689 ROC "
        "AUC), a lower table learning rate (10) or dropout 0.5 on MovieLens "
        "only, and a "
        "ten times slower learning rate for the hidden layers "
        "(`learning_rate=3e-4`) on both (their fits then keep the third or "
        "fourth epoch): the MLP's fast fit of the rows' combinations, more "
        f"than the tables, ends them early. On the {counted} tables defaults "
        "are chosen on, the slower rate moves the "
        "network's own score beyond the spread "
        + (f"up on {'; '.join(moved['better'])}" if moved["better"] else "up nowhere")
        + (f", and down on {'; '.join(moved['worse'])}" if moved["worse"] else "")
        + ": not a default for every table, which stays 3e-3."
    )


def fit_cost_section(tables: list[dict]) -> list[str]:
    """Each default fit (the embedder's ``fit_transform``, the network's own
    ``fit``) as a ratio to one HistGradientBoosting fit in the same run."""
    lines = [
        "## Fit cost: against one gradient-boosting fit",
        "",
        "Seconds of one `HistGradientBoosting` fit on the ordinal codes (and "
        "the standardised numeric columns), of the default embedder's "
        "`fit_transform` and of the network's own `fit`, each the median over "
        "splits, measured in the same run; the ratios are each default fit's "
        f"to the gradient-boosting fit. The aim: no table over {COST_MAX}x, "
        f"the median at most {COST_MEDIAN}x.",
        "",
        "| table | GB fit, s | default embedder, s | ratio | network's own, s "
        "| ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    ratios: dict[str, list[tuple[str, float]]] = {"embedder": [], "own": []}
    for t in tables:
        cells = t["cells"]
        ordinal = cells.get("ordinal", {}).get("gradient boosting", {})
        if not ordinal.get("fit_seconds") or np.isnan(ordinal["fit_seconds"]).any():
            continue
        booster = float(
            np.median(np.subtract(ordinal["seconds"], ordinal["fit_seconds"]))
        )
        row = [_label(t["name"]), f"{booster:.2f}"]
        for key, contender, model, field in (
            ("embedder", DEFAULT, "gradient boosting", "fit_seconds"),
            ("own", OWN, "itself", "seconds"),
        ):
            found = cells.get(contender, {}).get(model, {}).get(field)
            if not found or np.isnan(found).any():
                row += ["", ""]
                continue
            seconds = float(np.median(found))
            row += [f"{seconds:.1f}", f"{seconds / booster:.0f}x"]
            ratios[key].append((_label(t["name"]), seconds / booster))
        lines.append(md_row(row))
    for key, name in (("embedder", "default embedder"), ("own", "network's own")):
        found = ratios[key]
        if not found:
            continue
        values = [r for _, r in found]
        over = [f"{n} {r:.0f}x" for n, r in found if r > COST_MAX]
        median = float(np.median(values))
        lines += [
            "",
            f"The {name}: median {median:.1f}x "
            f"({'met' if median <= COST_MEDIAN else 'MISSED'}, at most "
            f"{COST_MEDIAN}x), "
            + (
                f"over {COST_MAX}x on {len(over)}/{len(found)} tables (MISSED: "
                + ", ".join(over)
                + ")."
                if over
                else f"none over {COST_MAX}x (met)."
            ),
        ]
    lines.append("")
    return lines


def _pieces_cost(table: dict, ablation: list[dict]) -> float | None:
    """The embedder's fit seconds with pieces of text over without, both
    measured in one run (None where no run measured both)."""
    for found in ablation:
        scores = found["scores"]
        pair = (
            "embedder defaults, string features",
            "embedder defaults, no string features",
        )
        if found["name"] == table["name"] and all(v in scores for v in pair):
            ours, plain = (np.median(scores[v]["fit seconds"]) for v in pair)
            return float(ours / plain)
    if table["name"] not in SPARSE:
        return None
    ours, plain = (
        np.median(table["cells"][c]["gradient boosting"]["fit_seconds"])
        for c in (DEFAULT, NO_STRINGS)
    )
    return float(ours / plain)


def unseen_section(tables: list[dict]) -> list[str]:
    """Each contender on the test rows whose dirty string no training row
    holds: where the composed vectors should beat the one unknown vector."""
    dirty = [t for t in tables if t.get("dirty_column")]
    if not dirty:
        return []
    contenders = [
        c
        for c in (
            DEFAULT,
            NO_STRINGS,
            "target encoding",
            "network's own",
            *(f"skrub {k}" for k in STRING_ENCODERS),
            "skrub tabular_pipeline",
            "CatBoost",
            "LightGBM",
        )
        if any(c in t["cells"] for t in dirty)
    ]
    lines = [
        "## Rows whose string was never seen in training",
        "",
        "The dirty-string tables' test rows whose string in the dirty column "
        "no training row holds, scored alone (gradient boosting on each "
        "encoder's features; the network's own and the peers as they are). "
        "Mean ± std over splits; the number of such rows per split beside "
        "each table. Targets: GB on the default embeddings (the unknown "
        "vector plus the string's pieces' mean) beats GB on the same without "
        "pieces (the unknown vector) and GB on target encoding (its prior).",
        "",
        "| contender | "
        + " | ".join(
            f"{_label(t['name'])} ({t['dirty_column']}, "
            f"{np.mean(t['unseen_rows']):.0f} rows)"
            for t in dirty
        )
        + " |",
        "|---" + "|---:" * len(dirty) + "|",
    ]

    def unseen(t, contender):
        cell = _gb_cell(t, contender)
        if cell is None:
            return None
        values = np.array(cell.get("unseen", []), dtype=float)
        if not len(values) or np.isnan(values).all():
            return None
        return float(np.nanmean(values)), float(np.nanstd(values))

    for contender in contenders:
        row = []
        for t in dirty:
            found = unseen(t, contender)
            row.append("" if found is None else plus_minus(*found))
        lines.append(md_row([contender, *row]))
    verdicts = []
    for t in dirty:
        ours = unseen(t, DEFAULT)
        rivals = [(unseen(t, c), c) for c in (NO_STRINGS, "target encoding")]
        if ours is None:
            continue
        shown = ", ".join(
            f"{'met' if better(ours[0], v[0], t['higher_is_better']) else 'MISSED'}"
            f" against {_short(c) if c == NO_STRINGS else c} ({v[0]:.4g})"
            for v, c in rivals
            if v is not None
        )
        verdicts.append(f"{_label(t['name'])} {ours[0]:.4g}: {shown}")
    lines += [
        "",
        "Composed vectors on unseen strings: " + "; ".join(verdicts) + ".",
        "",
    ]
    return lines


# How the interactions default was chosen, from the runs this page reads.
_INTERACTIONS_DEFAULT = (
    "The rule: an option becomes an estimator's default where it beats none "
    "on most of those tables in what that estimator serves (the network's "
    "own predictions for the predictors, gradient boosting on the features "
    "for the embedder) at no more than 1.3x the fit without it, the cap "
    "string features were held to. fm meets neither count. Cross layers "
    "lift the network's own score on most tables ({beyond}) and gradient "
    "boosting's within the spread, but they slow the fit: {cost}. The "
    'default stays `interactions="none"` for all three estimators; '
    '`"cross"` is the option to try where the network\'s own predictions '
    "matter more than fit time."
)
# Which rows were measured with which defaults (the page is measured in
# parts: --contenders).
_MEASURED_BEFORE = (
    "Every embedding row uses the current defaults (string features "
    "included) except two: `entity embeddings, cross-fitted` and `+ "
    "prediction, cross-fitted` were measured before string features existed "
    '(as `string_features="none"` fits), but on the bird strikes, the '
    "restaurant inspections and the four tables added with interactions."
)


def render(tables: list[dict], rows: int) -> str:
    contenders = list(dict.fromkeys(c for t in tables for c in t["cells"]))
    lines = [
        "# Quality: do entity embeddings make downstream models better?",
        "",
        f"{len(tables)} real tables (`entembed.datasets`), at most {rows:,} rows "
        f"each, {tables[0]['splits']} random 80/20 splits (the same for every "
        "contender). Every setting is a default, the same on every table. "
        + (
            f"{held} of the tables are held out from every choice of a default "
            "(movies and chemistry, added after the first defaults were chosen; "
            "census and STAR, added with the interactions): their verdicts are "
            "counted apart. "
            if (held := sum(t["name"] in HELD_OUT_DATASETS for t in tables))
            else ""
        )
        + "Encoders feed gradient boosting, k-nearest neighbours (k=10) and a "
        "linear model, beside the standardised numeric columns; the network's "
        "own predictions, the peers (CatBoost and LightGBM with native "
        "categoricals, skrub's `tabular_pipeline`) and logistic (ridge) "
        "regression on one-hot columns and their crossed pairs are scored as "
        "they are. "
        "Seconds: the fit of encoder and model on the training rows. "
        + _MEASURED_BEFORE
        + f" {machine()}.",
        "",
        "![each contender's best cell per table](quality.png)",
        "",
        "## Summary: each table's best cell per contender",
        "",
        "Mean ± std over splits, the downstream model that gave it, and its fit "
        "seconds. **Bold**: the table's best.",
        "",
    ]
    header = (
        "| contender | "
        + " | ".join(
            f"{_label(t['name'])} ({t['metric']}, "
            f"{'↑' if t['higher_is_better'] else '↓'})"
            for t in tables
        )
        + " |"
    )
    lines += [header, "|---" + "|---:" * len(tables) + "|"]
    best_by_table = {}
    for t in tables:
        found = [best_cell(t, c) for c in t["cells"]]
        values = [f[1] for f in found if f]
        best_by_table[t["name"]] = (max if t["higher_is_better"] else min)(values)
    for contender in contenders:
        row = []
        for t in tables:
            found = best_cell(t, contender)
            if found is None:
                row.append("")
                continue
            model, mean, std, seconds = found
            text = f"{plus_minus(mean, std)} ({model}, {seconds:.1f} s)"
            row.append(f"**{text}**" if mean == best_by_table[t["name"]] else text)
        lines.append(md_row([contender, *row]))

    lines += ["", "## Targets, per table", ""]
    lines += [
        "| table | "
        + " | ".join(t[0] for t in table_targets(tables[0]))
        + " | moonshot: best embedding cell beats CatBoost and skrub |",
        "|---" + "|---" * (len(table_targets(tables[0])) + 1) + "|",
    ]
    groups = {False: "tables", True: "held-out tables"}
    met_counts = {held: [0] * len(table_targets(tables[0])) for held in groups}
    moon = dict.fromkeys(groups, 0)
    sizes = dict.fromkeys(groups, 0)
    for t in tables:
        held = t["name"] in HELD_OUT_DATASETS
        sizes[held] += 1
        targets = table_targets(t)
        for i, (_, met, _) in enumerate(targets):
            met_counts[held][i] += met == "met"
        shot = moonshot(t)
        moon[held] += bool(shot and shot[0])
        cells = [f"{m} ({f})" for _, m, f in targets]
        cells.append(
            "not measured (peers not installed)"
            if shot is None
            else f"{'yes' if shot[0] else 'no'} ({shot[1]})"
        )
        lines.append(md_row([_label(t["name"]), *cells]))
    lines.append("")
    for held, group in groups.items():
        if sizes[held]:
            lines.append(
                "Met on "
                + ", ".join(
                    f"{n}/{sizes[held]} {group} ({name})"
                    for n, (name, _, _) in zip(
                        met_counts[held], table_targets(tables[0]), strict=True
                    )
                )
                + f"; moonshot on {moon[held]}/{sizes[held]} {group}"
                + (" (half is the aim)." if not held else ".")
            )
            lines.append("")

    lines += cross_fitting_section(tables)
    lines += interactions_section(tables)
    lines += fit_cost_section(tables)
    lines += dirty_strings_section(tables)
    lines += unseen_section(tables)
    for t in tables:
        cats = ", ".join(f"{c} {n:,}" for c, n in t["categorical"].items())
        lines += [
            f"## {_label(t['name'])}: {t['rows']:,} rows, {t['task']}",
            "",
            f"Categorical columns (levels): {cats}; {t['numeric']} numeric. "
            f"ID-like (fewer than {ID_LIKE_ROWS} rows per level): "
            f"{', '.join(t['id_like']) or 'none'}; the default: "
            f"{default_choice(t)}. {t['metric']}, mean ± std "
            f"({'higher' if t['higher_is_better'] else 'lower'} is better), "
            "fit seconds.",
            "",
        ]
        models = ["gradient boosting", "k-nearest neighbours", "linear"]
        lines += [
            "| contender | " + " | ".join(models) + " |",
            "|---" + "|---:" * len(models) + "|",
        ]
        for contender, cells in t["cells"].items():
            # A model that needs no downstream model fills the first column.
            shown = (
                [cells["itself"]]
                if "itself" in cells
                else [cells.get(m) for m in models]
            )
            row = ["" if cell is None else _cell_text(cell) for cell in shown]
            row += [""] * (len(models) - len(row))
            label = contender if "itself" not in cells else f"{contender} (itself)"
            lines.append(md_row([label, *row]))
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    # The held-out tables too: the page checks the defaults on them (the
    # ablation, where defaults are chosen, reads those only).
    parser = table_arguments(__doc__.splitlines()[0], ORDER)
    parser.add_argument(
        "--json",
        nargs="+",
        default=["quality.json"],
        help="raw results in results/: written after each table; with --render, "
        "the files to merge (processes on separate cores can share the tables)",
    )
    parser.add_argument(
        "--render", action="store_true", help="rewrite the page from --json"
    )
    parser.add_argument(
        "--contenders",
        nargs="+",
        help="measure only these contenders again, keeping the other cells of "
        "the tables already in --json (same rows and splits)",
    )
    args = parser.parse_args()
    raw = RESULTS / args.json[0]
    if args.render:
        stored = [json.loads((RESULTS / name).read_text()) for name in args.json]
        found = {t["name"]: t for part in stored for t in part["tables"]}
        tables = [found[name] for name in ORDER if name in found]
        rows = stored[0]["rows"]
    else:
        warnings.simplefilter("ignore", UserWarning)
        # Import torch and Lightning before any fit is timed (5-6 s, once).
        X, y = load_dataset(args.datasets[0], n_rows=200, random_state=0)
        EntityEmbedder(max_epochs=1, random_state=0).fit(X, y)
        tables = []
        kept = {}
        if args.contenders:
            stored = json.loads(raw.read_text())
            assert stored["rows"] == args.rows, "the stored tables' rows differ"
            kept = {t["name"]: t for t in stored["tables"]}
            tables = [t for t in stored["tables"] if t["name"] not in args.datasets]
        for name in args.datasets:
            table = run_table(name, args.rows, args.splits, args.contenders)
            if name in kept:  # the other contenders' cells, and what they chose
                old = kept[name]
                table = {
                    **old,
                    "cells": {**old["cells"], **table["cells"]},
                    **{
                        k: table[k]
                        for k in ("default_choices", "own_constant")
                        if table[k]
                    },
                    "dirty_column": table["dirty_column"],
                    "unseen_rows": table["unseen_rows"],
                }
            tables.append(table)
            tables.sort(key=lambda t: ORDER.index(t["name"]))
            raw.write_text(json.dumps({"rows": args.rows, "tables": tables}, indent=1))
        rows = args.rows
    write("quality.md", render(tables, rows))
    best_cells(
        RESULTS / "quality.png",
        [
            {
                "name": _label(t["name"]),
                "metric": t["metric"],
                "higher_is_better": t["higher_is_better"],
                "cells": {c: best_cell(t, c) for c in t["cells"]},
            }
            for t in tables
        ],
        ours=OURS,
    )


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
