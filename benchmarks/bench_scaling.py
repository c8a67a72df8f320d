"""Scaling: fit and transform cost at 100k, 1M and 10M rows.

Four string columns (cardinalities 10, 1,000, 10,000, 100,000, width 16 each)
and a regression target; ``EntityEmbedder`` with hidden layers (256, 128),
batch 4,096, one epoch, no validation split, 1 torch thread. Each size runs in
fresh processes (peak memory is the process's own), repeated; the figure is
the median.

Run: ``python benchmarks/bench_scaling.py [--sizes N ...] [--repeat R]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from _timing import CARDINALITIES, peak_rss_mb, string_table


def worker(n_rows: int) -> dict:
    import warnings

    import torch

    from entembed import EntityEmbedder

    torch.set_num_threads(1)
    warnings.simplefilter("ignore", UserWarning)
    X, y = string_table(n_rows)
    embedder = EntityEmbedder(
        embedding_dims=16,
        max_epochs=1,
        batch_size=4096,
        validation_fraction=0,
        random_state=0,
    )
    start = time.perf_counter()
    embedder.fit(X, y)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    embedder.transform(X)
    transform_s = time.perf_counter() - start
    return {
        "fit_s": fit_s,
        "transform_s": transform_s,
        "peak_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000]
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return

    from _charts import scaling_lines
    from _timing import RESULTS, machine, run_in_fresh_process, write

    runs: dict[int, list[dict]] = {n: [] for n in args.sizes}
    for _ in range(args.repeat):
        for n in args.sizes:
            runs[n].append(run_in_fresh_process(__file__, str(n)))
            print(n, runs[n][-1], flush=True)

    def med(n, key):
        return statistics.median(r[key] for r in runs[n])

    lines = [
        "# Scaling",
        "",
        f"4 string columns {list(CARDINALITIES.values())}, width 16 each, hidden "
        f"(256, 128), batch 4,096, one epoch, 1 torch thread; median of "
        f"{args.repeat} runs, each in a fresh process. {machine()}.",
        "",
        "| rows | fit (1 epoch) s | fit rows/s | transform s | transform rows/s | "
        "peak memory MB |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n in args.sizes:
        lines.append(
            f"| {n:,} | {med(n, 'fit_s'):.2f} | {n / med(n, 'fit_s'):,.0f} | "
            f"{med(n, 'transform_s'):.3f} | {n / med(n, 'transform_s'):,.0f} | "
            f"{med(n, 'peak_mb'):,.0f} |"
        )
    lines += ["", "Growth from one size to the next:", ""]
    for small, large in zip(args.sizes, args.sizes[1:], strict=False):
        lines.append(
            f"- {small:,} -> {large:,} rows ({large / small:.0f}x): fit time x"
            f"{med(large, 'fit_s') / med(small, 'fit_s'):.1f}, transform time x"
            f"{med(large, 'transform_s') / med(small, 'transform_s'):.1f}, peak "
            f"memory x{med(large, 'peak_mb') / med(small, 'peak_mb'):.1f}"
        )
    lines += [
        "",
        "Both costs are one pass over the rows (hashing, then gathers or "
        "minibatches), so they grow linearly with the rows once fixed costs are "
        "amortised: the Trainer's start-up weighs on small fits, and a small "
        "transform's output (25 MB at 100,000 rows) costs little, where a large "
        "one (256 MB at 1,000,000 rows) is fresh memory, which in this sandbox "
        "costs more to write the first time than computing it (see the transform "
        "pages).",
    ]
    lines += ["", "![time and memory against rows](scaling.png)"]
    write("scaling.md", "\n".join(lines) + "\n")
    scaling_lines(
        RESULTS / "scaling.png",
        args.sizes,
        {
            "fit, one epoch": [med(n, "fit_s") for n in args.sizes],
            "transform": [med(n, "transform_s") for n in args.sizes],
        },
        [med(n, "peak_mb") for n in args.sizes],
    )


if __name__ == "__main__":
    main()
