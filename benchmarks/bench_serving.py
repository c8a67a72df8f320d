"""Serving: rows per second and single-row latency of a fitted pipeline.

The README's pipeline (``EntityEmbedder()`` then
``HistGradientBoostingRegressor()``), fitted once on the baseball salaries
(20,000 rows), then asked for predictions three ways: the pipeline's own
``predict``; the embedder's numpy ``transform`` handed to the booster's
``predict`` (what a service that keeps the two would call); and onnxruntime
on the graph ``entembed.onnx`` exports (one session, its inputs built by
``input_feed``). Batches of 1, 1,000 and 100,000 rows drawn from the table,
unseen players among them; the ways run in turn, round after round; each
figure is the median over the rounds, with the range. Default threads for
scikit-learn and onnxruntime.

Raw results go to ``results/serving.json``; ``--render`` rewrites the page.

Run: ``python benchmarks/bench_serving.py [--render]``
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
from _pages import md_table
from _timing import RESULTS, machine, median, write

BATCHES = {1: 300, 1_000: 30, 100_000: 5}  # batch size: rounds
WAYS = ("pipeline.predict", "numpy transform + predict", "onnxruntime")


def _contenders():
    import onnxruntime
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline

    import entembed.onnx
    from entembed import EntityEmbedder
    from entembed.datasets import load_baseball_salaries

    X, y = load_baseball_salaries(n_rows=20_000, random_state=0)
    pipeline = make_pipeline(
        EntityEmbedder(random_state=0), HistGradientBoostingRegressor(random_state=0)
    ).fit(X, y)
    embedder, booster = pipeline[0], pipeline[-1]
    graph = entembed.onnx.to_onnx(pipeline)
    session = onnxruntime.InferenceSession(graph.SerializeToString())
    ways = {
        "pipeline.predict": pipeline.predict,
        "numpy transform + predict": lambda rows: booster.predict(
            embedder.transform(rows)
        ),
        "onnxruntime": lambda rows: session.run(
            None, entembed.onnx.input_feed(graph, rows)
        )[0],
    }
    return X, ways


def measure() -> dict:
    warnings.simplefilter("ignore", UserWarning)
    X, ways = _contenders()
    rng = np.random.default_rng(0)
    results: dict = {"machine": machine(), "batches": {}}
    for size, rounds in BATCHES.items():
        rows = X.iloc[rng.integers(0, len(X), size)].copy()
        rows.iloc[: max(1, size // 20), 0] = "unseen_player"
        for way in ways.values():  # warm up
            way(rows)
        seconds: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(rounds):
            for name, way in ways.items():
                start = time.perf_counter()
                way(rows)
                seconds[name].append(time.perf_counter() - start)
        results["batches"][str(size)] = seconds
        print(size, {k: f"{median(v) * 1e3:.2f} ms" for k, v in seconds.items()})
    return results


def _ms(seconds: float) -> str:
    milliseconds = seconds * 1e3
    return f"{milliseconds:,.0f}" if milliseconds >= 100 else f"{milliseconds:.3g}"


def render(results: dict) -> str:
    rows = []
    for size, seconds in results["batches"].items():
        n = int(size)
        for way in WAYS:
            times = seconds[way]
            rows.append(
                [
                    f"{n:,}",
                    way,
                    f"{_ms(median(times))} ms ({_ms(min(times))}-{_ms(max(times))})",
                    f"{n / median(times):,.0f}",
                ]
            )
    text = __doc__.split("\n\n")[1].replace("\n", " ")
    lines = [
        "# Serving: rows per second and single-row latency",
        "",
        f"{text} {results['machine']}.",
        "",
        *md_table(
            ["rows per call", "way", "time per call (range)", "rows per second"],
            rows,
            "llrr",
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render", action="store_true", help="rewrite the page")
    args = parser.parse_args()
    raw = RESULTS / "serving.json"
    if args.render:
        results = json.loads(raw.read_text())
    else:
        results = measure()
        raw.write_text(json.dumps(results, indent=1))
    write("serving.md", render(results))


if __name__ == "__main__":
    main()
