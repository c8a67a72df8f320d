"""Timing for the benchmarks: contenders run interleaved, round after round, so
that a noisy neighbour slows all of them alike; each figure is the median."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).parent / "results"

# The string table that transform and scaling both time: column name -> categories.
CARDINALITIES = {"c10": 10, "c1k": 1_000, "c10k": 10_000, "c100k": 100_000}


def string_table(n_rows: int):
    """``(X, y)``: the CARDINALITIES columns drawn uniformly as object strings
    (``"c1k_17"``), and a normal target; seeded, the same for every benchmark."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            name: np.array([f"{name}_{i}" for i in range(n)], dtype=object)[
                rng.integers(0, n, n_rows)
            ]
            for name, n in CARDINALITIES.items()
        }
    )
    return X, rng.normal(size=n_rows)


def time_interleaved(
    contenders: dict[str, Callable[[], object]], *, repeat: int = 7, warmup: int = 1
) -> dict[str, list[float]]:
    """Seconds per call of each contender, ``repeat`` rounds, after warm-up."""
    for _ in range(warmup):
        for fn in contenders.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float]) -> str:
    """Min-max range in milliseconds, for the tables."""
    return f"{min(values) * 1e3:.1f}-{max(values) * 1e3:.1f}"


def machine() -> str:
    import numpy
    import pandas
    import sklearn

    return (
        f"{platform.processor() or platform.machine()}, python "
        f"{platform.python_version()}, numpy {numpy.__version__}, pandas "
        f"{pandas.__version__}, scikit-learn {sklearn.__version__}"
    )


def write(name: str, text: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / name
    path.write_text(text)
    print(text)
    print(f"written to {path}")
    return path


def run_in_fresh_process(script: str, *args: str) -> dict:
    """Run ``script --worker ARGS`` in a new process on one thread; its result.

    A fresh process per measurement makes peak memory (peak_rss_mb) its own.
    The worker prints one JSON object as its last line.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, script, "--worker", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode:  # the worker's own error, not only its exit status
        raise RuntimeError(f"{script} {' '.join(args)}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB: its own (VmHWM),
    where ``ru_maxrss`` would carry over its parent's peak at the fork."""
    try:
        with open("/proc/self/status") as status:
            line = next(row for row in status if row.startswith("VmHWM"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):  # not Linux
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Resident memory of this process now, in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
