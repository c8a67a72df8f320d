"""Threads: how a fit's speed depends on torch's thread count, on a quiet
machine and beside one busy process.

Two quality tables (20,000 rows), ``EntityEmbedder(cv=None, n_threads=T,
random_state=0).fit``, T from 1 to the machine's cores and the default
(``None``: the cores idle as the fit starts, at most torch's default), each
fit in a fresh process (no ``OMP_NUM_THREADS``); "busy" runs a pure-Python
loop in another process meanwhile, as a second job on the machine would.
The settings run in turn, ``--repeat`` rounds; each figure is the median,
with the range.

Raw results go to ``results/threads.json``; ``--render`` rewrites the page.

Run: ``python benchmarks/bench_threads.py [--repeat R] [--render]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from _pages import md_table
from _timing import RESULTS, machine, median, write

DATASETS = ("flights", "baseball")


def worker(threads: int | None, dataset: str) -> dict:
    import warnings

    from entembed import EntityEmbedder
    from entembed.datasets import load_dataset

    warnings.simplefilter("ignore", UserWarning)
    X, y = load_dataset(dataset, n_rows=20_000, random_state=0)
    EntityEmbedder(cv=None, max_epochs=1, n_threads=threads).fit(X[:500], y[:500])
    start = time.perf_counter()
    EntityEmbedder(cv=None, n_threads=threads, random_state=0).fit(X, y)
    return {"seconds": time.perf_counter() - start}


def _run(threads: str, dataset: str, busy: bool) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    neighbour = (
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    )
    try:
        time.sleep(0.5)  # the neighbour is running before the fit starts
        out = subprocess.run(
            [sys.executable, __file__, "--worker", threads, dataset],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def render(results: dict, threads: list[str], repeat: int) -> str:
    rows = []
    for dataset in DATASETS:
        for load in ("quiet", "busy"):
            cells = []
            for t in threads:
                times = results[f"{dataset} {load} {t}"]
                cells.append(
                    f"{median(times):.2f} s ({min(times):.2f}-{max(times):.2f})"
                )
            rows.append([dataset, load, *cells])
    header = ["table", "machine", *(f"n_threads={t}" for t in threads)]
    lines = [
        "# Threads: fit time by torch's thread count",
        "",
        f"{__doc__.split(chr(10) + chr(10))[1].replace(chr(10), ' ')} "
        f"{repeat} rounds, {os.cpu_count()} CPUs. {results['machine']}.",
        "",
        *md_table(header, rows, "ll" + "r" * len(threads)),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--render", action="store_true", help="rewrite the page")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        threads = None if args.worker[0] == "None" else int(args.worker[0])
        print(json.dumps(worker(threads, args.worker[1])))
        return
    raw = RESULTS / "threads.json"
    if args.render:
        stored = json.loads(raw.read_text())
    else:
        threads = [*map(str, range(1, (os.cpu_count() or 1) + 1)), "None"]
        results: dict = {"machine": machine()}
        for _ in range(args.repeat):
            for dataset in DATASETS:
                for busy in (False, True):
                    for t in threads:
                        key = f"{dataset} {'busy' if busy else 'quiet'} {t}"
                        results.setdefault(key, []).append(_run(t, dataset, busy))
                        print(key, f"{results[key][-1]:.2f} s", flush=True)
        stored = {"threads": threads, "repeat": args.repeat, "results": results}
        raw.write_text(json.dumps(stored, indent=1))
    page = render(stored["results"], stored["threads"], stored["repeat"])
    write("threads.md", page)


if __name__ == "__main__":
    main()
