"""Category vocabulary: categories <-> integer codes, column by column.

This layer uses pandas and numpy only (no torch). Codes 0 and 1 are reserved in
every column, for unknown/rare categories and for missing values, so that the
embedding tables built on top always have a trained vector for both.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._dataframe import check_not_empty, match_columns, to_frame
from ._persistence import decode_values, encode_values
from ._warnings import warn

UNKNOWN_CODE = 0
MISSING_CODE = 1
N_RESERVED_CODES = 2

# A column whose kept categories exceed this share of its non-missing rows is
# almost surely an identifier: each vector would be trained on about one row.
_ID_LIKE_SHARE = 0.9
_ID_LIKE_MIN_ROWS = 20
_N_EXAMPLES = 5


def _sort_order(uniques: np.ndarray) -> np.ndarray:
    """Indices that sort categories; mixed types (1, "1") sort by type name first."""
    try:
        return np.argsort(uniques, kind="stable")
    except TypeError:
        pass
    items = list(uniques)
    try:
        keys = [(type(v).__name__, v) for v in items]
        return np.array(sorted(range(len(items)), key=keys.__getitem__), dtype=np.intp)
    except TypeError:
        keys = [(type(v).__name__, repr(v)) for v in items]
        return np.array(sorted(range(len(items)), key=keys.__getitem__), dtype=np.intp)


def _factorize(name: str, column: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes (-1 for missing) and uniques of a column, in one hashing pass."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        # Already coded by pandas: no hashing needed, only a remap of its
        # categories (done by the caller through the returned uniques).
        return column.cat.codes.to_numpy(), column.cat.categories
    try:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
    except TypeError as exc:
        bad = next(
            (v for v in column.to_numpy() if getattr(type(v), "__hash__", 1) is None),
            None,
        )
        example = "" if bad is None else f" (e.g. {bad!r} of type {type(bad).__name__})"
        raise TypeError(
            f"Column {name!r} contains unhashable values{example}, which cannot be "
            "categories. Convert them first, e.g. "
            f"X[{name!r}] = X[{name!r}].map(str) or .map(tuple)."
        ) from exc
    return codes, pd.Index(uniques)


def _build_lookup(kept: np.ndarray, infrequent: np.ndarray | None):
    """Index of every category seen in fit, and the code of each.

    The codes have one slot more than there are categories: get_indexer's -1
    (not seen in fit) then reads the unknown code from the last slot.
    """
    seen = kept if infrequent is None else np.concatenate([kept, infrequent])
    codes = np.full(len(seen) + 1, UNKNOWN_CODE, dtype=np.int32)
    codes[: len(kept)] = np.arange(len(kept), dtype=np.int32) + N_RESERVED_CODES
    return pd.Index(seen, tupleize_cols=False), codes


def _kind(value) -> str:
    """What sort of value a category is: text, integer, real, bool or its type."""
    if isinstance(value, str):
        return "text"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "integer"
    if isinstance(value, (float, np.floating)):
        return "real"
    return type(value).__name__


def _as_kind(value, kind: str):
    """``value`` read as a category of ``kind``, or None where that is not
    unambiguous (1 and 1.0 read as "1"; "7" as 7; "2.5" as 2.5)."""
    found = _kind(value)
    try:
        if kind == "text" and found == "integer":
            return str(int(value))
        if kind == "text" and found == "real" and float(value).is_integer():
            return str(int(value))
        if kind == "text" and found == "real":
            return str(float(value))
        if (
            kind == "integer"
            and found == "text"
            and value.strip().lstrip("+-").isdigit()
        ):
            return int(value)
        if kind == "integer" and found == "real" and float(value).is_integer():
            return int(value)
        if kind == "real" and found in ("text", "integer"):
            return float(value)
    except (ValueError, OverflowError):
        return None
    return None


# A transform in which more than this share of a column's rows are categories
# never seen in fit is most likely drift (another encoding, another source).
_UNSEEN_SHARE_WARNING = 0.5
_UNSEEN_MIN_ROWS = 20


def _examples(values) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:_N_EXAMPLES])
    return f"{shown}, ..." if len(values) > _N_EXAMPLES else shown


class CategoryVocabulary(TransformerMixin, BaseEstimator):
    """Map each categorical column to contiguous integer codes.

    Codes are the same kind in every column:

    - ``0``: unknown. A category never seen in ``fit`` (with
      ``handle_unknown="ignore"``) or one grouped as rare by ``min_frequency``
      or ``max_categories``. Because rare categories of the training data land
      here, a network trains a real vector for this code, which then serves
      categories first seen after fitting.
    - ``1``: missing (``None``, ``NaN``, ``pd.NA``, ``NaT``).
    - ``2 .. n + 1``: the ``n`` kept categories, in sorted order (numbers by
      value, strings lexicographically; a column mixing types, such as ``1`` and
      ``"1"``, sorts by type name first and keeps the two distinct).

    Columns are matched by name at transform, so their order may differ from
    ``fit`` and extra columns are ignored.

    Parameters
    ----------
    min_frequency : int, float or None, default=None
        Categories seen fewer than ``min_frequency`` times (an int count) or in
        less than that fraction of the rows (a float in (0, 1)) get the unknown
        code 0. ``None`` keeps every category.
    max_categories : int or None, default=None
        Keep at most this many categories per column, the most frequent first
        (ties broken by the sorted order); the rest get the unknown code 0. The
        two reserved codes are not counted.
    handle_unknown : {"ignore", "error"}, default="ignore"
        At transform, map categories never seen in fit to code 0 (``"ignore"``)
        or raise a ``ValueError`` naming the column (``"error"``). Categories
        seen in fit but grouped as rare always map to 0.
    handle_missing : {"category", "error"}, default="category"
        Map missing values to code 1, or raise a ``ValueError`` naming the
        column.

    Attributes
    ----------
    categories_ : list of ndarray
        The kept categories of each column; ``categories_[j][i]`` has code
        ``i + 2``.
    infrequent_categories_ : list of ndarray or None
        Categories of each column that were seen in fit but mapped to code 0.
    category_counts_ : list of ndarray
        Rows of each kept category in fit, aligned with ``categories_``.
    cardinalities_ : ndarray of shape (`n_features_in_`,)
        Number of codes of each column, the two reserved codes included: the
        number of rows an embedding table for that column needs.
    n_features_in_ : int
        Number of columns seen in fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names seen in fit. Defined only when ``X`` has string column
        names.

    See Also
    --------
    sklearn.preprocessing.OrdinalEncoder : Codes without reserved rows for
        unknown and missing values.

    Examples
    --------
    >>> import pandas as pd
    >>> from entembed import CategoryVocabulary
    >>> X = pd.DataFrame({"city": ["Oslo", "Lima", None, "Oslo"]})
    >>> vocabulary = CategoryVocabulary().fit(X)
    >>> vocabulary.categories_[0].tolist()
    ['Lima', 'Oslo']
    >>> vocabulary.transform(pd.DataFrame({"city": ["Oslo", "Rome", None]})).ravel()
    array([3, 0, 1], dtype=int32)
    >>> vocabulary.cardinalities_
    array([4])
    """

    # Shared with the estimators, which pass these parameters through.
    _parameter_constraints: dict = {
        "min_frequency": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="neither"),  # np.float32 too
            None,
        ],
        "max_categories": [Interval(Integral, 1, None, closed="left"), None],
        "handle_unknown": [StrOptions({"ignore", "error"})],
        "handle_missing": [StrOptions({"category", "error"})],
    }

    def __init__(
        self,
        *,
        min_frequency=None,
        max_categories=None,
        handle_unknown="ignore",
        handle_missing="category",
    ):
        self.min_frequency = min_frequency
        self.max_categories = max_categories
        self.handle_unknown = handle_unknown
        self.handle_missing = handle_missing

    def __setstate__(self, state: dict) -> None:
        """Unpickle; a vocabulary pickled by 0.1.0 has no cache of its kinds."""
        if "_lookups" in state:
            state.setdefault("_fitted_kinds", {})
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None):
        """Learn the categories of every column of ``X``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
            Categorical columns of any dtype (object, string, categorical,
            integer, boolean, float).
        y : None
            Ignored.

        Returns
        -------
        self : CategoryVocabulary
            The fitted estimator.
        """
        self._count_first(X, warn_ids=True)
        return self

    def fit_transform(self, X, y=None) -> np.ndarray:
        """Fit, and encode ``X`` with the codes just learned.

        Each value is hashed once, where ``fit(X).transform(X)`` hashes it twice.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
            The table (pandas, polars or numpy).
        y : None
            Ignored.

        Returns
        -------
        codes : ndarray of shape (n_rows, `n_features_in_`), dtype int32
            One row per input row, in input order.
        """
        factorized = self._count_first(X, warn_ids=True)
        out = self._empty_codes(len(factorized[0][0]))
        for j, (name, (codes, uniques)) in enumerate(
            zip(self._columns, factorized, strict=True)
        ):
            out[:, j] = self._remap(j, name, codes, uniques)
        return out

    def _count_first(self, X, *, warn_ids: bool) -> list[tuple[np.ndarray, pd.Index]]:
        """Start the counts from ``X`` (fit, or the first partial_fit); return
        each column's factorization for an encoding of the same rows."""
        self._validate_params()
        frame, has_names = to_frame(X)
        check_not_empty(frame, type(self).__name__)
        factorized = [_factorize(name, frame[name]) for name in frame.columns]
        self._counts = [
            self._count(name, codes, uniques)
            for name, (codes, uniques) in zip(frame.columns, factorized, strict=True)
        ]
        self._n_rows = len(frame)
        self._select_categories(frame.columns, has_names, warn_ids=warn_ids)
        return factorized

    def partial_fit(self, X, y=None):
        """Count the categories of one more chunk of rows.

        Fitting chunk by chunk (Parquet row groups, say) gives the same
        categories, codes and counts as fitting on all rows at once, for tables
        larger than memory. ``min_frequency`` as a fraction applies to the rows
        seen so far. Columns are matched by name, as in :meth:`transform`.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
            The table (pandas, polars or numpy).
        y : None
            Ignored.

        Returns
        -------
        self : CategoryVocabulary
            The fitted estimator.
        """
        if not hasattr(self, "_counts"):
            self._count_first(X, warn_ids=False)
            return self
        frame = self._match(X)
        self._counts = [
            total.add(
                self._count(name, *_factorize(name, frame[name])), fill_value=0
            ).astype(np.int64)
            for total, name in zip(self._counts, self._columns, strict=True)
        ]
        self._n_rows += len(frame)
        self._select_categories(
            self._columns, hasattr(self, "feature_names_in_"), warn_ids=False
        )
        return self

    def _count(self, name: str, codes: np.ndarray, uniques: pd.Index) -> pd.Series:
        """Rows of each category present in a factorized column (missing apart)."""
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        n_missing = int(np.count_nonzero(codes < 0))
        if n_missing and self.handle_missing == "error":
            self._raise_missing(name, n_missing)
        present = np.flatnonzero(counts)  # a categorical may declare unused ones
        values = np.asarray(uniques)[present]
        return pd.Series(counts[present], index=pd.Index(values, tupleize_cols=False))

    def _select_categories(self, columns, has_names: bool, *, warn_ids: bool) -> None:
        """Kept and infrequent categories of every column, from the counts."""
        min_count = self._min_count(self._n_rows)
        fitted = [
            self._select_column(name, counts, min_count, warn_ids)
            for name, counts in zip(columns, self._counts, strict=True)
        ]
        self._set_fitted(
            columns,
            [kept for kept, _, _ in fitted],
            [infrequent for _, infrequent, _ in fitted],
            [counts for _, _, counts in fitted],
            has_names,
        )

    def _min_count(self, n_rows: int) -> float:
        """Rows a category needs to be kept, out of ``n_rows``."""
        if self.min_frequency is None:
            return 0
        if isinstance(self.min_frequency, Integral):
            return int(self.min_frequency)
        # A fraction, of any real type (np.float32 is not a float).
        return float(self.min_frequency) * n_rows

    def _select_column(self, name, counts: pd.Series, min_count, warn_ids: bool):
        values = counts.index.to_numpy()
        order = _sort_order(values)
        values, counts = values[order], counts.to_numpy()[order]

        keep = counts >= min_count
        if self.max_categories is not None and keep.sum() > self.max_categories:
            by_frequency = np.argsort(-counts, kind="stable")
            by_frequency = by_frequency[keep[by_frequency]][: self.max_categories]
            keep = np.zeros_like(keep)
            keep[by_frequency] = True

        kept = values[keep]
        n_present = int(counts.sum())
        if (
            warn_ids
            and len(kept) > _ID_LIKE_SHARE * n_present
            and n_present >= _ID_LIKE_MIN_ROWS
        ):
            warn(
                f"Column {name!r} has {len(kept)} distinct categories in "
                f"{n_present} non-missing rows: almost every row is its own "
                "category, so its vectors get about one row of training each. "
                "Set min_frequency (e.g. min_frequency=5) to group rare "
                "categories into the shared unknown code, or drop the column if "
                "it is an identifier."
            )
        return kept, (values[~keep] if (~keep).any() else None), counts[keep]

    def _set_fitted(self, columns, categories, infrequent, counts, has_names) -> None:
        """Fitted state from categories (used by fit and by _from_state)."""
        self.categories_ = list(categories)
        self.infrequent_categories_ = list(infrequent)
        self.category_counts_ = [np.asarray(c, dtype=np.int64) for c in counts]
        self._lookups = [
            _build_lookup(kept, rare)
            for kept, rare in zip(categories, infrequent, strict=True)
        ]
        self._fitted_kinds: dict[int, frozenset[str]] = {}  # see _match_other_kinds
        self.cardinalities_ = np.array(
            [len(kept) + N_RESERVED_CODES for kept in self.categories_]
        )
        self.n_features_in_ = len(columns)
        self._columns = list(columns)
        if has_names:
            self.feature_names_in_ = np.asarray(self._columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def code_counts(self) -> list[np.ndarray]:
        """By column, the rows of each code in fit: the unknown code's (the
        infrequent categories'), the missing code's, then each kept
        category's. Counted as ``transform`` would code the fitted rows.

        Returns
        -------
        list of ndarray of int64
            By column, one count per code (length: its cardinality).
        """
        check_is_fitted(self)
        out = []
        for kept, counted in zip(self.category_counts_, self._counts, strict=True):
            present = int(counted.sum())
            infrequent = present - int(kept.sum())
            out.append(
                np.concatenate([[infrequent, self._n_rows - present], kept]).astype(
                    np.int64
                )
            )
        return out

    # ------------------------------------------------------------ transform
    def transform(self, X) -> np.ndarray:
        """Encode ``X`` as integer codes.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
            Columns are matched by name (when fit saw names); extra columns
            are ignored.

        Returns
        -------
        codes : ndarray of shape (n_rows, `n_features_in_`), dtype int32
            One row per input row, in input order, whatever the index. Column
            ``j`` holds codes in ``[0, cardinalities_[j])``.
        """
        check_is_fitted(self)
        frame = self._match(X)
        out = self._empty_codes(len(frame))
        for j, name in enumerate(self._columns):
            out[:, j] = self._remap(j, name, *_factorize(name, frame[name]))
        return out

    def _match(self, X) -> pd.DataFrame:
        """The fitted columns of ``X``, matched by name as fit saw them."""
        return match_columns(
            X,
            columns=self._columns,
            required=self._columns,
            fitted_with_names=hasattr(self, "feature_names_in_"),
            estimator=type(self).__name__,
        )

    def _empty_codes(self, n_rows: int) -> np.ndarray:
        # Fortran order: every column is written, and later gathered, contiguously.
        return np.empty((n_rows, len(self._columns)), dtype=np.int32, order="F")

    def _remap(
        self, j: int, name: str, codes: np.ndarray, uniques: pd.Index
    ) -> np.ndarray:
        """Fitted codes of a factorized column.

        One hashing pass over the rows (the factorization), then a remap of the
        few uniques to the fitted codes: several times faster than
        pd.Categorical with fixed categories, and identical codes.
        """
        index, lookup_codes = self._lookups[j]
        position = index.get_indexer(uniques)
        found = position >= 0
        if not found.all():
            position = self._match_other_kinds(j, name, uniques, position)
            found = position >= 0
        remap = np.empty(len(uniques) + 1, dtype=np.int32)
        remap[:-1] = lookup_codes[position]
        remap[-1] = MISSING_CODE  # codes of -1 (missing) index the last slot
        if self.handle_missing == "error" and (codes < 0).any():
            self._raise_missing(name, int(np.count_nonzero(codes < 0)))
        if self.handle_unknown == "error" and not found.all():
            used = np.bincount(codes[codes >= 0], minlength=len(uniques)) > 0
            unseen = uniques[~found & used]
            if len(unseen):
                raise ValueError(
                    f"Column {name!r} has {len(unseen)} categories never seen in "
                    f"fit (e.g. {_examples(unseen)}). Set handle_unknown='ignore' "
                    "to map them to the shared unknown code 0."
                )
        if not found.all() and len(codes) >= _UNSEEN_MIN_ROWS:
            rows = np.bincount(codes[codes >= 0], minlength=len(uniques))
            unseen_rows = int(rows[~found].sum())
            if unseen_rows > _UNSEEN_SHARE_WARNING * len(codes):
                warn(
                    f"Column {name!r}: {unseen_rows / len(codes):.0%} of the "
                    f"{len(codes):,} rows have categories never seen in fit (e.g. "
                    f"{_examples(uniques[~found & (rows > 0)])}); they all share the "
                    "unknown vector. Check that the column holds the same values "
                    "as in fit."
                )
        return remap[codes]

    def _match_other_kinds(self, j, name, uniques, position) -> np.ndarray:
        """Positions of unmatched values that are fit's categories in another
        kind (integers 1, 2 where fit saw text "1", "2"), where that is
        unambiguous: fit saw one kind only. Warns either way."""
        index = self._lookups[j][0]
        # Computed once per column (new categories arrive in most transforms).
        kinds = self._fitted_kinds
        if j not in kinds:
            kinds[j] = frozenset(_kind(v) for v in index)
        fitted = kinds[j]
        missing = np.flatnonzero(position < 0)
        values = [uniques[i] for i in missing]
        other = sorted({_kind(v) for v in values} - fitted)
        if not other or len(fitted) != 1:
            return position
        (kind,) = fitted
        converted = [_as_kind(v, kind) for v in values]
        matched = np.array([c is not None for c in converted], dtype=bool)
        if matched.any():
            targets = pd.Index([c for c in converted if c is not None], dtype=object)
            found = index.get_indexer(targets)
            position = position.copy()
            position[missing[matched]] = found
        now_found = np.flatnonzero(position[missing] >= 0)
        if len(now_found):
            example = values[int(now_found[0])]
            example = example.item() if isinstance(example, np.generic) else example
            python_type = {"text": "str", "integer": "int", "real": "float"}[kind]
            warn(
                f"Column {name!r} has {', '.join(other)} values at transform where "
                f"fit saw {kind} ones; {len(now_found)} matched fit's categories by "
                f"value (e.g. {example!r} as {_as_kind(example, kind)!r}). Convert "
                f"the column with .astype({python_type}) before transform to "
                "silence this."
            )
        else:
            warn(
                f"Column {name!r} has {', '.join(other)} values at transform where "
                f"fit saw {kind} ones, and none of them is one of fit's categories; "
                "they map to the unknown code."
            )
        return position

    def _raise_missing(self, name, n_missing):
        raise ValueError(
            f"Column {name!r} has {n_missing} missing value(s) and "
            "handle_missing='error'. Set handle_missing='category' to give "
            "missing values their own code 1, or fill them first."
        )

    def extend(self, X):
        """Append the new categories of ``X`` after the fitted ones.

        Categories that ``X`` holds and fit did not keep get the next free
        codes, under the same rules as fit (``min_frequency`` counted in
        ``X``'s rows, ``max_categories`` on the total); every kept category
        keeps its code, so features of rows encoded before stay valid. The
        counts of known categories grow by their rows in ``X``. This is what
        ``warm_start=True`` does to an estimator's vocabulary.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_rows, n_columns)
            New rows; columns are matched by name, as in :meth:`transform`.

        Returns
        -------
        self : CategoryVocabulary
            The extended vocabulary.
        """
        check_is_fitted(self)
        frame = self._match(X)
        min_count = self._min_count(len(frame))
        categories, infrequent, counts = [], [], []
        for j, name in enumerate(self._columns):
            added = self._count(name, *_factorize(name, frame[name]))
            kept = pd.Index(self.categories_[j], dtype=object, tupleize_cols=False)
            known = kept.get_indexer(added.index)
            total = self.category_counts_[j].copy()
            np.add.at(total, known[known >= 0], added.to_numpy()[known >= 0])
            new = added[known < 0]
            order = _sort_order(new.index.to_numpy())
            new = new.iloc[order]
            keep = new.to_numpy() >= min_count
            if self.max_categories is not None:
                room = max(self.max_categories - len(kept), 0)
                by_frequency = np.argsort(-new.to_numpy(), kind="stable")
                chosen = by_frequency[keep[by_frequency]][:room]
                keep = np.zeros_like(keep)
                keep[chosen] = True
            appended = new.index.to_numpy()[keep]
            categories.append(
                np.concatenate([self.categories_[j], appended])
                if len(appended)
                else self.categories_[j]
            )
            counts.append(np.concatenate([total, new.to_numpy()[keep]]))
            rare = pd.Index(
                []
                if self.infrequent_categories_[j] is None
                else self.infrequent_categories_[j],
                dtype=object,
                tupleize_cols=False,
            )
            rare = (
                rare[~rare.isin(appended)]
                .append(pd.Index(new.index.to_numpy()[~keep], dtype=object))
                .unique()
            )
            infrequent.append(rare.to_numpy() if len(rare) else None)
        self._set_fitted(
            self._columns,
            categories,
            infrequent,
            counts,
            hasattr(self, "feature_names_in_"),
        )
        return self

    def inverse_transform(self, codes) -> np.ndarray:
        """Turn codes back into categories.

        Parameters
        ----------
        codes : array-like of shape (n_rows, `n_features_in_`)
            Integer codes as returned by :meth:`transform`.

        Returns
        -------
        X : ndarray of shape (n_rows, `n_features_in_`), dtype object
            The category of each code; ``None`` for the unknown code 0 (whose
            category cannot be recovered) and ``NaN`` for the missing code 1.
        """
        check_is_fitted(self)
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != self.n_features_in_:
            raise ValueError(
                f"Expected codes of shape (n_rows, {self.n_features_in_}), got "
                f"shape {codes.shape}."
            )
        if codes.size and not np.issubdtype(codes.dtype, np.integer):
            raise TypeError(
                f"Expected integer codes, got dtype {codes.dtype}. Pass the output "
                "of transform."
            )
        out = np.empty(codes.shape, dtype=object)
        for j, name in enumerate(self._columns):
            column = codes[:, j]
            bad = (column < 0) | (column >= self.cardinalities_[j])
            if bad.any():
                raise ValueError(
                    f"Column {name!r} has codes outside [0, "
                    f"{self.cardinalities_[j]}) (e.g. {_examples(column[bad])}); "
                    "they were not produced by this vocabulary."
                )
            lookup = np.empty(self.cardinalities_[j], dtype=object)
            lookup[UNKNOWN_CODE] = None
            lookup[MISSING_CODE] = np.nan
            lookup[N_RESERVED_CODES:] = self.categories_[j]
            out[:, j] = lookup[column]
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the code columns: the input column names.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored unless it differs from the fitted names.

        Returns
        -------
        feature_names_out : ndarray of str objects
            One name per output column.
        """
        check_is_fitted(self)
        names = np.asarray(self._columns, dtype=object)
        if input_features is not None and list(input_features) != list(names):
            raise ValueError(
                f"input_features {list(input_features)} do not match the columns "
                f"seen in fit {list(names)}."
            )
        return names

    # ---------------------------------------------------------------- state
    def _export_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """Fitted state as JSON metadata and arrays (see ``entembed.load``)."""
        check_is_fitted(self)
        meta = {
            "params": self.get_params(),
            "categories": [
                encode_values(kept, f"Column {c!r}")
                for c, kept in zip(self._columns, self.categories_, strict=True)
            ],
            "infrequent": [
                None if rare is None else encode_values(rare, f"Column {c!r}")
                for c, rare in zip(
                    self._columns, self.infrequent_categories_, strict=True
                )
            ],
        }
        arrays = {f"counts_{j}": c for j, c in enumerate(self.category_counts_)}
        return meta, arrays

    @classmethod
    def _from_state(cls, meta: dict, arrays: dict, columns: list[str]):
        """A fitted vocabulary of ``columns`` from :meth:`_export_state`'s output."""
        vocabulary = cls(**meta["params"])
        categories = [decode_values(v) for v in meta["categories"]]
        infrequent = [
            None if v is None else decode_values(v) for v in meta["infrequent"]
        ]
        if not (len(columns) == len(categories) == len(infrequent)):
            raise ValueError("columns and categories disagree")
        counts = [arrays[f"counts_{j}"] for j in range(len(columns))]
        if [len(c) for c in counts] != [len(kept) for kept in categories]:
            raise ValueError("category counts disagree with the categories")
        vocabulary._set_fitted(columns, categories, infrequent, counts, has_names=True)
        for column, (index, _) in zip(columns, vocabulary._lookups, strict=True):
            if not index.is_unique or index.hasnans:
                raise ValueError(f"categories of {column!r} repeat or are missing")
        return vocabulary
