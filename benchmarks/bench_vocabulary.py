"""Vocabulary transform throughput: string column -> integer codes.

On 1,000,000 rows of a string column with 1,000 categories, compares
``CategoryVocabulary.transform`` with scikit-learn's ``OrdinalEncoder.transform``
and with ``pd.Categorical(values, categories=...).codes`` (the pandas idiom), for
object and pandas string dtypes, interleaved in one run. Targets: at least as
fast as OrdinalEncoder, within 1.5x of pd.Categorical.

Run: ``python benchmarks/bench_vocabulary.py [--rows N] [--repeat R]``
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from _timing import machine, median, spread, time_interleaved, write
from sklearn.preprocessing import OrdinalEncoder

from entembed import CategoryVocabulary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--categories", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    names = np.array(
        [f"category_{i:05d}" for i in range(args.categories)], dtype=object
    )
    values = names[rng.integers(0, args.categories, args.rows)]

    lines = [
        "# Vocabulary transform throughput",
        "",
        f"{args.rows:,} rows, one string column with {args.categories:,} categories; "
        f"median of {args.repeat} interleaved rounds (min-max in ms). {machine()}.",
        "",
        "| column dtype | method | median ms | spread ms | Mrows/s | ours vs it |",
        "|---|---|---:|---:|---:|---:|",
    ]
    ratios = {}
    for dtype in ["object", "str"]:
        X = pd.DataFrame({"c": pd.Series(values, dtype=dtype)})
        vocabulary = CategoryVocabulary().fit(X)
        ordinal = OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1
        ).fit(X)
        fitted = vocabulary.categories_[0]
        times = time_interleaved(
            {
                "CategoryVocabulary.transform": lambda X=X, v=vocabulary: v.transform(
                    X
                ),
                "OrdinalEncoder.transform": lambda X=X, o=ordinal: o.transform(X),
                "pd.Categorical(...).codes": lambda X=X, f=fitted: (
                    pd.Categorical(X["c"], categories=f).codes
                ),
            },
            repeat=args.repeat,
        )
        ours = median(times["CategoryVocabulary.transform"])
        for method, seconds in times.items():
            speedup = median(seconds) / ours
            ratios[(dtype, method)] = speedup
            lines.append(
                f"| {dtype} | {method} | {median(seconds) * 1e3:.1f} | "
                f"{spread(seconds)} | {args.rows / median(seconds) / 1e6:.1f} | "
                f"{speedup:.2f}x |"
            )
    lines += ["", "Targets (ours vs it = its time / our time):", ""]
    for dtype in ["object", "str"]:
        vs_ordinal = ratios[(dtype, "OrdinalEncoder.transform")]
        vs_categorical = ratios[(dtype, "pd.Categorical(...).codes")]
        lines.append(
            f"- {dtype}: vs OrdinalEncoder {vs_ordinal:.2f}x (target >= 1.00x: "
            f"{'met' if vs_ordinal >= 1 else 'MISSED'}); our time / pd.Categorical "
            f"time {1 / vs_categorical:.2f} (target <= 1.50: "
            f"{'met' if 1 / vs_categorical <= 1.5 else 'MISSED'})"
        )
    write("vocabulary.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
