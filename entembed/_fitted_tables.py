"""What a fitted estimator tells about its tables: each column's categories,
table sizes and vectors, the names of its features, and the categories
nearest a given one. numpy and pandas only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

if TYPE_CHECKING:
    from ._numpy_network import NumpyNetwork
    from ._vocabulary import CategoryVocabulary


def embedding_feature_names(column: str, width: int) -> list[str]:
    """``<column>_emb<k>``, k zero-padded so that the names sort in order."""
    digits = len(str(width - 1))
    return [f"{column}_emb{k:0{digits}d}" for k in range(width)]


class FittedTables:
    """The fitted views every entembed estimator shares (a mixin: it reads
    ``categorical_columns_``, ``vocabulary_``, ``network_``,
    ``embedding_dims_`` and ``constant_columns_``)."""

    # Why a column in constant_columns_ serves one vector, and the remedy.
    _why_constant = ""
    # Set by the estimators' fit (or load).
    categorical_columns_: list[str]
    vocabulary_: CategoryVocabulary
    network_: NumpyNetwork
    embedding_dims_: dict[str, int]
    constant_columns_: list[str]

    @property
    def categories_(self) -> dict[str, np.ndarray]:
        """Kept categories of each embedded column (entry ``i`` has code ``i + 2``)."""
        check_is_fitted(self)
        return dict(
            zip(self.categorical_columns_, self.vocabulary_.categories_, strict=True)
        )

    @property
    def cardinalities_(self) -> dict[str, int]:
        """Rows of each column's table, the reserved unknown/missing codes included."""
        check_is_fitted(self)
        return {
            c: int(n)
            for c, n in zip(
                self.categorical_columns_, self.vocabulary_.cardinalities_, strict=True
            )
        }

    @property
    def embeddings_(self) -> dict[str, pd.DataFrame]:
        """Each column's table as a DataFrame indexed by category.

        The first two rows are the reserved codes, labelled ``"<unknown>"`` (also
        rare categories) and ``"<missing>"``.
        """
        check_is_fitted(self)
        out = {}
        for column, table, categories in zip(
            self.categorical_columns_,
            self.network_.tables,
            self.vocabulary_.categories_,
            strict=True,
        ):
            index = pd.Index(
                ["<unknown>", "<missing>", *categories], dtype=object, name=column
            )
            names = embedding_feature_names(column, table.shape[1])
            out[column] = pd.DataFrame(table, index=index, columns=names)
        return out

    def get_embedding_names_out(self) -> np.ndarray:
        """Names of the embedding features: ``<column>_emb<k>``, column by column.

        Returns
        -------
        ndarray of str objects
            One name per embedding dimension, in the order of the features.
        """
        check_is_fitted(self)
        names = [
            name
            for column in self.categorical_columns_
            for name in embedding_feature_names(column, self.embedding_dims_[column])
        ]
        return np.asarray(names, dtype=object)

    def _embedded_column(self, column: str) -> int:
        """Position of an embedded column, or an error that lists them."""
        check_is_fitted(self)
        if column not in self.categorical_columns_:
            raise ValueError(
                f"Column {column!r} is not embedded; the embedded columns are "
                f"{self.categorical_columns_}."
            )
        return self.categorical_columns_.index(column)

    def most_similar(self, column: str, category, k: int = 5) -> pd.Series:
        """The ``k`` categories of ``column`` nearest to ``category`` (cosine).

        Parameters
        ----------
        column : str
            An embedded column.
        category : object
            One of its kept categories (see ``categories_``).
        k : int, default=5
            How many neighbours to return.

        Returns
        -------
        pandas.Series
            Cosine similarities, highest first, indexed by category.
        """
        j = self._embedded_column(column)
        if column in self.constant_columns_:
            raise ValueError(
                f"Column {column!r} serves one vector to every category: its "
                f"vectors {self._why_constant}"
            )
        categories = self.vocabulary_.categories_[j]
        matches = np.flatnonzero(pd.Index(categories, dtype=object) == category)
        if len(matches) == 0:
            raise ValueError(
                f"Category {category!r} has no vector of its own in column "
                f"{column!r}: it was not seen in fit, or was grouped as rare into the "
                "unknown code."
            )
        vectors = self.network_.tables[j][2:].astype(np.float64)
        norms = np.linalg.norm(vectors, axis=1)
        norms[norms == 0] = 1.0
        unit = vectors / norms[:, None]
        similarity = unit @ unit[matches[0]]
        similarity[matches[0]] = -np.inf
        order = np.argsort(-similarity, kind="stable")[: min(k, len(categories) - 1)]
        return pd.Series(
            similarity[order],
            index=pd.Index(categories[order], name=column),
            name="cosine_similarity",
        )
