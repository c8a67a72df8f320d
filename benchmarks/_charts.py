"""PNG charts for the result pages: one small function per kind of figure.

Every chart shows the runs it summarises (median or mean, and the spread), so a
reader sees the noise beside the figure. matplotlib comes with the ``plots``
extra, installed in both benchmark environments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

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


def quality_grid(
    path: Path,
    sections: Sequence[dict],
) -> Path:
    """Rows: datasets; columns: downstream models; a bar per encoder, mean ± std.

    Each section: ``{"name", "metric", "higher_is_better", "models", "encoders",
    "mean": {(encoder, model): value}, "std": {...}, "own": (mean, std)}``; the
    network's own score is a dashed line.
    """
    plt = _pyplot()
    n_models = max(len(s["models"]) for s in sections)
    fig, axes = plt.subplots(
        len(sections), n_models, figsize=(4.2 * n_models, 3.2 * len(sections))
    )
    axes = [[axes]] if len(sections) == 1 and n_models == 1 else axes
    for row, section in zip(axes, sections, strict=True):
        encoders = section["encoders"]
        for ax, model in zip(row, section["models"], strict=False):
            means = [section["mean"][(e, model)] for e in encoders]
            stds = [section["std"][(e, model)] for e in encoders]
            # Dots, not bars: a score's axis does not start at zero.
            for y, (encoder, mean, std) in enumerate(
                zip(encoders, means, stds, strict=True)
            ):
                colour = OURS if encoder.startswith("entity") else OTHERS
                ax.errorbar(mean, y, xerr=std, fmt="o", color=colour, capsize=3)
            ax.axvline(
                section["own"][0],
                color="k",
                linestyle="--",
                linewidth=1,
                label="the network's own predictions",
            )
            ax.set_yticks(range(len(encoders)), encoders, fontsize=8)
            ax.grid(axis="x", alpha=0.3)
            ax.set_ylim(len(encoders) - 0.5, -0.5)
            better = "higher" if section["higher_is_better"] else "lower"
            ax.set_title(f"{section['name']}: {model}", fontsize=10)
            ax.set_xlabel(f"{section['metric']} ({better} is better)", fontsize=9)
            if not ax.get_subplotspec().is_first_col():
                ax.set_yticklabels([])
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles[:1], labels[:1], loc="lower center", fontsize=9)
    return _save(fig, path, rect=(0, 0.03, 1, 1))


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
