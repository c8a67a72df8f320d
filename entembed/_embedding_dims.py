"""Embedding widths: how many dimensions each column's table gets.

Plain Python (no torch), so the facade can resolve widths before building any
network and report them in ``embedding_dims_``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from numbers import Integral

from ._warnings import warn


def auto_embedding_dim(n_categories: int, n_rows: int | None = None) -> int:
    """fastai's rule of thumb: ``min(600, round(1.6 * n ** 0.56))``, capped at ``n``.

    Given the training rows ``N``, the width is also capped at
    ``max(2, round(4 * sqrt(N / n)))``: a column whose categories have a few
    rows each (an ID) cannot learn many directions per category, and every
    extra one is noise that downstream models must sort out.

    Parameters
    ----------
    n_categories : int
        Rows of the table (the column's cardinality, reserved codes included).
    n_rows : int or None, default=None
        Training rows; None leaves fastai's rule alone.

    Returns
    -------
    int
        The table's width.

    Examples
    --------
    >>> [auto_embedding_dim(n) for n in (2, 12, 1002, 100_002)]
    [2, 6, 77, 600]
    >>> [auto_embedding_dim(n, n_rows=16_000) for n in (12, 1002, 5_000)]
    [6, 16, 7]
    """
    width = min(600, round(1.6 * n_categories**0.56), n_categories)
    if n_rows is not None:
        width = min(width, max(2, round(4 * (n_rows / n_categories) ** 0.5)))
    return max(1, width)


def _auto(rule: str, n_categories: int, n_rows: int | None) -> int:
    return auto_embedding_dim(n_categories, n_rows if rule == "capped" else None)


def resolve_embedding_dims(
    embedding_dims: str | int | Mapping[str, int] | Callable[[int], int],
    cardinalities: Mapping[str, int],
    n_rows: int | None = None,
) -> dict[str, int]:
    """Width of every column's table.

    Parameters
    ----------
    embedding_dims : "auto", "capped", int, dict or callable
        ``"auto"`` applies :func:`auto_embedding_dim` (fastai's rule),
        ``"capped"`` the same capped by the training rows per category; an
        int gives every column that width; a dict maps column names to widths
        or to either rule (columns it leaves out get ``"auto"``); a callable
        receives the cardinality and returns the width.
    cardinalities : mapping of str to int
        Column name -> number of codes (reserved ones included).
    n_rows : int or None, default=None
        Training rows, for ``"capped"`` (None: no cap).

    Returns
    -------
    dict of str to int
        Column name -> width, in the order of ``cardinalities``.

    Examples
    --------
    >>> from entembed import resolve_embedding_dims
    >>> resolve_embedding_dims("auto", {"city": 12, "user": 5002})
    {'city': 6, 'user': 189}
    >>> resolve_embedding_dims("capped", {"city": 12, "user": 5002}, n_rows=10_000)
    {'city': 6, 'user': 6}
    """
    if isinstance(embedding_dims, Mapping):
        unknown = sorted(set(embedding_dims) - set(cardinalities))
        if unknown:
            raise ValueError(
                f"embedding_dims names columns that are not embedded: {unknown}. "
                f"The embedded columns are {list(cardinalities)}."
            )
    elif not (
        embedding_dims in ("auto", "capped")
        or callable(embedding_dims)
        or (
            isinstance(embedding_dims, Integral)
            and not isinstance(embedding_dims, bool)
        )
    ):
        raise ValueError(
            "embedding_dims must be 'auto', 'capped', an int, a dict of column -> "
            "int or a callable taking the number of categories; got "
            f"{embedding_dims!r}."
        )

    dims = {}
    for column, n in cardinalities.items():
        if isinstance(embedding_dims, str):
            dims[column] = _auto(embedding_dims, n, n_rows)
            continue
        if isinstance(embedding_dims, Mapping):
            width = embedding_dims.get(column, "auto")
            if width in ("auto", "capped"):
                dims[column] = _auto(width, n, n_rows)
                continue
        elif callable(embedding_dims):
            width = embedding_dims(n)
        else:
            width = embedding_dims
        if not isinstance(width, Integral) or isinstance(width, bool) or width < 1:
            raise ValueError(
                f"Embedding width for column {column!r} must be a positive int, got "
                f"{width!r}."
            )
        if width >= n:
            warn(
                f"Embedding width {width} for column {column!r} reaches its "
                f"{n} categories (reserved codes included): the table is no smaller "
                "than a one-hot encoding. Consider a smaller width or 'auto'."
            )
        dims[column] = int(width)
    return dims
