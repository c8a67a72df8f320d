"""PNG charts for the result pages: one small function per kind of figure.

Every chart shows the runs it summarises (median or mean, and the spread), so a
reader sees the noise beside the figure. matplotlib comes with the ``plots``
extra, installed in both benchmark environments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

OURS = "#d62728"  # entembed's bars, so they stand out
OTHERS = "#7f7f7f"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, rect=(0, 0, 1, 1)) -> Path:
    fig.tight_layout(rect=rect)
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    print(f"chart written to {path}")
    return path


def _run_bars(ax, runs: Mapping[str, Sequence[float]], ours: str) -> None:
    """A horizontal bar per contender, top to bottom in ``runs`` order: the
    median of its runs, whiskers to the fastest and slowest; ``ours`` in colour."""
    import statistics

    names = list(runs)
    medians = [statistics.median(runs[n]) for n in names]
    ax.barh(
        range(len(names)),
        medians,
        xerr=[
            [m - min(runs[n]) for m, n in zip(medians, names, strict=True)],
            [max(runs[n]) - m for m, n in zip(medians, names, strict=True)],
        ],
        color=[OURS if n == ours else OTHERS for n in names],
        capsize=3,
    )
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.5, -0.5)


def runs_barh(
    path: Path,
    runs: Mapping[str, Sequence[float]],
    *,
    title: str,
    xlabel: str,
    ours: str,
    log: bool = False,
) -> Path:
    """One bar per contender (see ``_run_bars``), optionally on a log scale."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(runs) + 1.4))
    _run_bars(ax, runs, ours)
    if log:
        from matplotlib.ticker import FuncFormatter, NullFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=11)
    return _save(fig, path)


def runs_barh_panels(
    path: Path,
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    title: str,
    xlabel: str,
    ours: str,
) -> Path:
    """:func:`runs_barh` side by side, one panel per condition, one x scale."""
    plt = _pyplot()
    n_names = len(next(iter(panels.values())))
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(5.5 * len(panels), 0.45 * n_names + 1.6),
        sharex=True,
        sharey=True,
    )
    for ax, (condition, runs) in zip(axes, panels.items(), strict=True):
        _run_bars(ax, runs, ours)
        ax.set_title(condition, fontsize=10)
        ax.set_xlabel(xlabel, fontsize=8)
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def best_cells(path: Path, tables: Sequence[dict], ours: Sequence[str]) -> Path:
    """One panel per table: each contender's best cell, mean ± std over splits.

    Each table: ``{"name", "metric", "higher_is_better", "cells": {contender:
    (model, mean, std, seconds) or None}}``; ``ours`` are drawn in red.
    """
    plt = _pyplot()
    n_cols = 3
    n_rows = -(-len(tables) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(5.2 * n_cols, 3.4 * n_rows))
    axes = np.atleast_1d(axes).ravel()
    for ax, table in zip(axes, tables, strict=False):
        found = [(c, cell) for c, cell in table["cells"].items() if cell]
        # Dots, not bars: a score's axis does not start at zero.
        for y, (contender, (_, mean, std, _)) in enumerate(found):
            colour = OURS if contender in ours else OTHERS
            ax.errorbar(mean, y, xerr=std, fmt="o", color=colour, capsize=3)
        ax.set_yticks(range(len(found)), [c for c, _ in found], fontsize=7)
        ax.set_ylim(len(found) - 0.5, -0.5)
        ax.grid(axis="x", alpha=0.3)
        better = "higher" if table["higher_is_better"] else "lower"
        ax.set_title(table["name"], fontsize=10)
        ax.set_xlabel(f"{table['metric']} ({better} is better)", fontsize=8)
    for ax in axes[len(tables) :]:
        ax.set_visible(False)
    fig.suptitle("Each contender's best downstream cell, mean ± std", fontsize=11)
    return _save(fig, path)


def scaling_lines(
    path: Path,
    sizes: Sequence[int],
    series: Mapping[str, Sequence[float]],
    memory_mb: Sequence[float],
) -> Path:
    """Seconds against rows on log-log axes, with a slope-1 guide, and peak
    memory against rows."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for (name, seconds), colour in zip(series.items(), (OURS, "#1f77b4"), strict=False):
        left.plot(sizes, seconds, "o-", color=colour, label=name)
        # Linear growth from the largest size back down, for comparison.
        left.plot(
            sizes,
            [seconds[-1] * n / sizes[-1] for n in sizes],
            ":",
            color=colour,
            linewidth=1,
        )
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("rows")
    left.set_ylabel("seconds (dotted: linear in the rows)")
    left.legend(fontsize=9)
    left.set_title("Time", fontsize=11)
    right.plot(sizes, memory_mb, "o-", color=OTHERS)
    right.set_xscale("log")
    right.set_xlabel("rows")
    right.set_ylabel("peak memory, MB")
    right.set_title("Peak memory (fit and transform)", fontsize=11)
    return _save(fig, path)
