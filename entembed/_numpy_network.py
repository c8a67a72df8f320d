"""A trained network as numpy arrays: what a fitted estimator keeps.

After fit, the tables and layers are copied out of torch, so that ``transform``
and ``predict`` are numpy gathers and matrix products that need neither torch nor
a GPU, and a model trained on a GPU serves on any CPU machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LAYER_KINDS = ("linear", "batchnorm", "relu")
_GATHER_ROWS = 65_536  # rows per gather block: a few MB, stays in cache


@dataclass
class NumpyNetwork:
    """Inference-only copy of an :class:`EntityEmbeddingNetwork`.

    Parameters
    ----------
    tables : list of ndarray of shape (cardinality, width), float32
        One embedding table per categorical column.
    numeric_mean, numeric_scale : ndarray of shape (n_numeric,)
        Standardisation of the numeric inputs.
    layers : list of (kind, dict of ndarray)
        The MLP and head in order: ``("linear", {"weight", "bias"})``,
        ``("batchnorm", {"mean", "var", "weight", "bias", "eps"})``,
        ``("relu", {})``. Dropout is the identity at inference and is left out.
    output_mean, output_scale : ndarray of shape (n_outputs,) or None
        A regression network learns a standardised target; its outputs are
        mapped back as ``output * output_scale + output_mean``.
    """

    tables: list[np.ndarray]
    numeric_mean: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    numeric_scale: np.ndarray = field(default_factory=lambda: np.ones(0, np.float32))
    layers: list[tuple[str, dict[str, np.ndarray]]] = field(default_factory=list)
    output_mean: np.ndarray | None = None
    output_scale: np.ndarray | None = None

    @property
    def widths(self) -> list[int]:
        return [table.shape[1] for table in self.tables]

    def embed(self, codes: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Gather each column's vectors, side by side, into one float32 array.

        ``codes`` has shape (n_rows, n_columns); ``out`` (optional) has at least
        ``sum(widths)`` columns and receives them in its first columns.
        """
        n_rows = len(codes)
        if out is None:
            out = np.empty((n_rows, sum(self.widths)), dtype=np.float32)
        start = 0
        for j, table in enumerate(self.tables):
            width = table.shape[1]
            # Gather a block of rows into a small contiguous buffer, then copy it
            # into the column's strided block: 2x faster at 1M rows than
            # gathering into the strided block directly (measured). mode="clip"
            # skips bounds checks; vocabulary codes are always in range.
            buffer = np.empty((min(n_rows, _GATHER_ROWS), width), dtype=np.float32)
            for first in range(0, n_rows, _GATHER_ROWS):
                rows = slice(first, min(first + _GATHER_ROWS, n_rows))
                block = buffer[: rows.stop - rows.start]
                np.take(table, codes[rows, j], axis=0, out=block, mode="clip")
                out[rows, start : start + width] = block
            start += width
        return out

    def forward(
        self, codes: np.ndarray, numeric: np.ndarray | None = None
    ) -> np.ndarray:
        """Network output (predictions or logits), shape (n_rows, n_outputs)."""
        n_numeric = len(self.numeric_mean)
        x = np.empty((len(codes), sum(self.widths) + n_numeric), dtype=np.float32)
        self.embed(codes, x)
        if n_numeric:
            x[:, sum(self.widths) :] = (
                numeric - self.numeric_mean
            ) / self.numeric_scale
        # float64 from here: float32 matrix products round differently with the
        # number of rows (BLAS picks kernels by shape), and a row's prediction
        # must not depend on which rows came with it.
        x = x.astype(np.float64)
        for kind, params in self.layers:
            if kind == "linear":
                x = x @ params["weight"].T + params["bias"]
            elif kind == "batchnorm":
                x = (x - params["mean"]) / np.sqrt(params["var"] + params["eps"])
                x = x * params["weight"] + params["bias"]
            else:
                np.maximum(x, 0, out=x)
        if self.output_scale is not None:
            x = x * self.output_scale + self.output_mean
        return x
