"""Torch module: the learned vectors of the text columns' hashed pieces.

:class:`PieceTables` gives each category of a text column the mean of its
pieces' vectors (character n-grams or word tokens, hashed into buckets by
:mod:`entembed._string_features`), which the network adds to the category's
own vector. No sklearn and no Lightning here.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils import skip_init

from ._string_features import PIECE_WIDTH, CodePieces


class PieceTables(nn.Module):
    """One table of piece vectors per text column; each row's mean piece vector.

    A piece vector has the column's width, or :data:`PIECE_WIDTH` where the
    column is wider: it then adds to the first ``PIECE_WIDTH`` dimensions of
    the category's vector. A row's cost grows with its pieces times their
    width, and free text has dozens of pieces per row.

    Parameters
    ----------
    pieces : sequence of CodePieces or None
        By categorical column: its pieces by code, or None for a column that
        is not cut into pieces.
    embedding_dims : sequence of int
        Width of each column's vectors (the piece vectors have the same).

    Shape
    -----
    - Input: ``(N, C)`` integer codes.
    - Output: ``(N, sum(embedding_dims))`` float: each row's mean piece
      vector at the start of its column's block, zeros elsewhere (the other
      columns, a wide column's last dimensions, codes without pieces).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from entembed._string_features import CodePieces
    >>> pieces = CodePieces(np.array([3, 5, 3]), np.array([0, 0, 0, 2, 3]), 8)
    >>> tables = PieceTables([pieces, None], [2, 3])
    >>> tables(torch.tensor([[2, 0], [0, 1]])).shape
    torch.Size([2, 5])
    """

    def __init__(
        self,
        pieces: Sequence[CodePieces | None],
        embedding_dims: Sequence[int],
    ) -> None:
        super().__init__()
        if len(pieces) != len(embedding_dims):
            raise ValueError(
                f"pieces has {len(pieces)} columns but embedding_dims has "
                f"{len(embedding_dims)}; pass one entry per column."
            )
        self.columns = [j for j, p in enumerate(pieces) if p is not None]
        self.widths = [int(d) for d in embedding_dims]
        self.bags = nn.ModuleList(
            skip_init(
                nn.EmbeddingBag,
                int(pieces[j].n_buckets),  # type: ignore[union-attr]
                min(self.widths[j], PIECE_WIDTH),
                mode="mean",
            )
            for j in self.columns
        )
        for k, j in enumerate(self.columns):
            found = pieces[j]
            assert found is not None
            # Derived from the vocabulary, so left out of checkpoints.
            self.register_buffer(
                f"ids_{k}", torch.as_tensor(found.ids, dtype=torch.long), False
            )
            self.register_buffer(
                f"starts_{k}", torch.as_tensor(found.starts, dtype=torch.long), False
            )
        self.reset_parameters()

    def _bags(self) -> list[nn.EmbeddingBag]:
        return [bag for bag in self.bags if isinstance(bag, nn.EmbeddingBag)]

    def reset_parameters(self) -> None:
        with torch.no_grad():
            for bag in self._bags():
                # The tables' own start (see _modules._draw_table).
                bag.weight.copy_(0.01 * torch.randn(*bag.weight.shape))

    def column_means(self, k: int, codes: torch.Tensor) -> torch.Tensor:
        """The mean piece vector of each code of the ``k``-th text column."""
        ids, starts = getattr(self, f"ids_{k}"), getattr(self, f"starts_{k}")
        codes = codes.long()
        begin = starts[codes]
        lengths = starts[codes + 1] - begin
        offsets = torch.cumsum(lengths, 0) - lengths
        # Each piece's position in ids: its row's begin plus its rank in the row.
        shift = torch.repeat_interleave(begin - offsets, lengths)
        positions = torch.arange(len(shift), device=codes.device) + shift
        return self._bags()[k](ids[positions], offsets)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        blocks = []
        rest = 0  # zero columns to add before the next block of means
        for j, width in enumerate(self.widths):
            if j in self.columns:
                if rest:
                    blocks.append(
                        codes.new_zeros((len(codes), rest), dtype=torch.float)
                    )
                means = self.column_means(self.columns.index(j), codes[:, j])
                blocks.append(means)
                rest = width - means.shape[1]
            else:
                rest += width
        if rest:
            blocks.append(codes.new_zeros((len(codes), rest), dtype=torch.float))
        return torch.cat(blocks, dim=1)

    def set_sparse_gradients(self, sparse: bool) -> None:
        for bag in self._bags():
            bag.sparse = bool(sparse)

    def weights(self) -> list[torch.Tensor | None]:
        """By column: its table of piece vectors ``(n_buckets, piece width)``,
        or None."""
        return [
            self._bags()[self.columns.index(j)].weight if j in self.columns else None
            for j in range(len(self.widths))
        ]
