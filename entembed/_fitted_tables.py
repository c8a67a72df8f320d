"""What a fitted estimator tells about its tables: each column's categories,
table sizes and vectors, the names of its features, and the categories
nearest a given one. numpy and pandas only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ._vocabulary import N_RESERVED_CODES

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

    def _composed(self, j: int, column: str, category) -> np.ndarray:
        """The vector a string never seen in fit gets from its pieces, or an
        error where the column is not cut into pieces."""
        hashing = getattr(self, "string_features_", {}).get(column)
        pieces = self.network_.pieces
        if hashing is None or pieces is None or pieces[j] is None:
            raise ValueError(
                f"Category {category!r} has no vector of its own in column "
                f"{column!r}: it was not seen in fit, or was grouped as rare into the "
                "unknown code. Fit with string_features='char' to compose vectors "
                "of new strings from their pieces."
            )
        vector = self.network_.unseen_vectors(j, *hashing.pieces([category]))
        return vector[0].astype(np.float64)

    def served_vector(self, column: str, category) -> np.ndarray:
        """The vector ``transform`` serves ``category`` in ``column``.

        Parameters
        ----------
        column : str
            An embedded column.
        category : object
            One of its kept categories, or, in a column cut into pieces of
            text (``string_features_``), any string: one never seen in fit
            gets its composed vector (the unknown vector plus the mean of its
            pieces' vectors).

        Returns
        -------
        ndarray of shape (width,), float64
            The vector, as a row of ``transform``'s output holds it.
        """
        j = self._embedded_column(column)
        return self._served(j, column, category, self._position(j, category))

    def _position(self, j: int, category) -> int | None:
        """Where ``category`` stands among column ``j``'s kept categories
        (None: it is not one of them)."""
        categories = pd.Index(self.vocabulary_.categories_[j], dtype=object)
        matches = np.flatnonzero(categories == category)
        return int(matches[0]) if len(matches) else None

    def _served(self, j: int, column: str, category, position) -> np.ndarray:
        """:meth:`served_vector`, the category's ``position`` known."""
        if position is not None:
            return self.network_.tables[j][N_RESERVED_CODES + position].astype(
                np.float64
            )
        return self._composed(j, column, category)

    def most_similar(self, column: str, category, k: int = 5) -> pd.Series:
        """The ``k`` categories of ``column`` nearest to ``category`` (cosine).

        Vectors are compared as deviations from the mean of the column's
        categories: what every category shares (the pieces of text common
        to all of them, such as a shared prefix, or an offset the network
        learned) says nothing about which categories are alike.

        Parameters
        ----------
        column : str
            An embedded column.
        category : object
            One of its kept categories (see ``categories_``), or, in a column
            cut into pieces of text (``string_features_``), any string: one
            never seen in fit is compared by its composed vector.
        k : int, default=5
            How many neighbours to return.

        Returns
        -------
        pandas.Series
            Cosine similarities of the centred vectors, highest first,
            indexed by category.
        """
        j = self._embedded_column(column)
        if column in self.constant_columns_:
            raise ValueError(
                f"Column {column!r} serves one vector to every category: its "
                f"vectors {self._why_constant}"
            )
        categories = self.vocabulary_.categories_[j]
        position = self._position(j, category)
        vectors = self.network_.tables[j][N_RESERVED_CODES:].astype(np.float64)
        centre = vectors.mean(axis=0)
        vectors = vectors - centre
        vector = self._served(j, column, category, position) - centre
        norms = np.linalg.norm(vectors, axis=1)
        norms[norms == 0] = 1.0
        similarity = (vectors / norms[:, None]) @ (
            vector / max(np.linalg.norm(vector), 1e-300)
        )
        if position is not None:
            similarity[position] = -np.inf
        n = min(k, len(categories) - (position is not None))
        order = np.argsort(-similarity, kind="stable")[:n]
        return pd.Series(
            similarity[order],
            index=pd.Index(categories[order], name=column),
            name="cosine_similarity",
        )
