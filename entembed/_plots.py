"""Plots of fitted embeddings (needs matplotlib: ``pip install "entembed[plots]"``)."""

from __future__ import annotations

import numpy as np


def embedding_map(embedder, column: str, *, n_labels: int = 40, strings=(), ax=None):
    """2-D map (PCA) of one column's embedding, most frequent categories labelled.

    Each point is a category, its area proportional to its rows in fit;
    categories close on the map have similar learned vectors.

    Parameters
    ----------
    embedder : fitted EntityEmbedder, EntityEmbeddingRegressor or -Classifier
        The estimator whose table to draw.
    column : str
        An embedded column.
    n_labels : int, default=40
        Label at most this many categories, the most frequent first, skipping
        those whose label would overlap one already placed (a dense cluster
        keeps a readable few).
    strings : sequence of str, default=()
        Strings to place among the categories by the vectors they are served
        (a column cut into pieces of text composes those of strings never
        seen in fit): drawn as labelled crosses.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib Axes
        The map (needs matplotlib: ``pip install "entembed[plots]"``).

    Examples
    --------
    >>> from entembed import EntityEmbedder, datasets
    >>> X, y, _ = datasets.make_synthetic(120, (3,), random_state=0)
    >>> embedder = EntityEmbedder(max_epochs=2, random_state=0).fit(X, y)
    >>> from entembed import embedding_map
    >>> ax = embedding_map(embedder, "c0")
    >>> len(ax.texts)  # one label per category
    3
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ModuleNotFoundError(
            'Plots need matplotlib: pip install matplotlib (or "entembed[plots]").'
        ) from exc
    j = embedder._embedded_column(column)
    categories = embedder.vocabulary_.categories_[j]
    counts = embedder.vocabulary_.category_counts_[j]
    vectors = embedder.network_.tables[j][2:].astype(np.float64)
    if len(categories) < 2:
        raise ValueError(
            f"Column {column!r} has {len(categories)} kept categories; a map needs "
            "at least 2."
        )
    centre = vectors.mean(axis=0)
    centred = vectors - centre
    if centred.shape[1] == 1:
        axes = np.array([[1.0, 0.0]])  # one dimension: the second axis is 0
        explained = np.array([1.0, 0.0])
    else:
        _, singular, components = np.linalg.svd(centred, full_matrices=False)
        axes = components[:2].T
        explained = singular[:2] ** 2 / max((singular**2).sum(), 1e-12)
    points = centred @ axes

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 7))
    sizes = 10 + 290 * np.sqrt(counts / counts.max())
    ax.scatter(
        points[:, 0],
        points[:, 1],
        s=sizes,
        alpha=0.45,
        color="#2c7fb8",
        edgecolors="white",
        linewidths=0.5,
    )
    for i in readable_labels(points, categories, counts, n_labels):
        ax.annotate(
            str(categories[i]),
            points[i],
            fontsize=8,
            ha="center",
            va="bottom",
            xytext=(0, 4),
            textcoords="offset points",
        )
    for text in strings:
        point = (embedder.served_vector(column, text) - centre) @ axes
        _cross(ax, point, str(text))
    ax.set_xlabel(f"PC 1 ({explained[0]:.0%} of variance)")
    ax.set_ylabel(f"PC 2 ({explained[1]:.0%} of variance)")
    ax.set_title(
        f"Embedding of {column!r}: {len(categories)} categories, "
        f"{vectors.shape[1]} dimensions (point area: rows in fit)"
    )
    ax.grid(alpha=0.2)
    return ax


def _cross(ax, point, label: str) -> None:
    """A string placed on the map: a labelled cross."""
    ax.scatter(*point, marker="x", s=60, color="#d95f0e")
    ax.annotate(
        label,
        point,
        fontsize=8,
        color="#d95f0e",
        ha="center",
        va="top",
        xytext=(0, -6),
        textcoords="offset points",
    )


# A label's box in axes fractions, for a 9 x 7 inch map at 8 points: the
# width of one character and the height of a line.
_CHAR_WIDTH, _LINE_HEIGHT = 0.0095, 0.028


def readable_labels(points, categories, counts, n_labels: int) -> list[int]:
    """Which points to label: the most frequent first, each placed only if its
    text box (above the point) does not overlap the boxes already placed."""
    span = points.max(axis=0) - points.min(axis=0)
    span[span == 0] = 1.0
    scaled = (points - points.min(axis=0)) / span
    placed: list[tuple[float, float, float, float]] = []
    chosen: list[int] = []
    for i in np.argsort(-counts, kind="stable"):
        if len(chosen) == n_labels:
            break
        half = _CHAR_WIDTH * (len(str(categories[i])) + 1) / 2
        x, y = scaled[i]
        box = (x - half, x + half, y, y + _LINE_HEIGHT)
        if any(
            box[0] < other[1]
            and other[0] < box[1]
            and box[2] < other[3]
            and other[2] < box[3]
            for other in placed
        ):
            continue
        placed.append(box)
        chosen.append(int(i))
    return chosen
