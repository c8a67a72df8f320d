"""A trained network as numpy arrays: what a fitted estimator keeps.

After fit, the tables and layers are copied out of torch, so that ``transform``
and ``predict`` are numpy gathers and matrix products that need neither torch nor
a GPU, and a model trained on a GPU serves on any CPU machine.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ._string_features import piece_means
from ._vocabulary import UNKNOWN_CODE

LAYER_KINDS = ("linear", "batchnorm", "relu", "pairs", "cross", "scale")
# How a network combines columns before its MLP (see _interactions): none,
# the pairwise products of factorization machines, or DCN-V2 cross layers.
INTERACTIONS = ("none", "fm", "cross")


def column_pairs(n_columns: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs ``(i, j)``, ``i < j``, in the order of their products."""
    left, right = np.triu_indices(n_columns, k=1)
    return left, right


def pair_products(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """A ``"pairs"`` layer's products: each column's projection ``weight[j]``
    (its block of the inputs; zeros elsewhere), through ``tanh``, dotted with
    each other's."""
    u = np.tanh(np.einsum("ni,jki->njk", x, weight.astype(x.dtype, copy=False)))
    left, right = column_pairs(len(weight))
    return (u[:, left] * u[:, right]).sum(-1)


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
    pieces : list of (ndarray of shape (n_buckets, k) or None), or None
        By column, the vectors of its text's hashed pieces (None for a column
        not cut into pieces): what a string never seen in fit is composed
        from (:meth:`unseen_vectors`), ``k`` at most the column's width (they
        add to its first ``k`` dimensions). The tables already hold each known
        category's composed vector.

    Rows whose string was never seen in fit reach :meth:`embed` and
    :meth:`forward` as ``unseen``: by column index, the rows and their
    composed vectors, which replace the unknown vector the codes gather.
    """

    tables: list[np.ndarray]
    numeric_mean: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    numeric_scale: np.ndarray = field(default_factory=lambda: np.ones(0, np.float32))
    layers: list[tuple[str, dict[str, np.ndarray]]] = field(default_factory=list)
    output_mean: np.ndarray | None = None
    output_scale: np.ndarray | None = None
    pieces: list[np.ndarray | None] | None = None
    # When every table has the same width, the tables are views into one
    # stacked array, and a row's vectors are one gather from it (see embed).
    _stacked: np.ndarray | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _offsets: np.ndarray | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        widths = self.widths
        if self.tables and len(set(widths)) == 1:
            stacked = np.concatenate(self.tables).astype(np.float32, copy=False)
            starts = np.cumsum([0, *(len(t) for t in self.tables)])
            self.tables = [stacked[a:b] for a, b in itertools.pairwise(starts)]
            self._stacked, self._offsets = stacked, starts[:-1].astype(np.intp)

    def __getstate__(self) -> dict:
        # Pickle the tables alone; unpickling stacks them again, so that the
        # views and the stacked array stay one array.
        return {
            k: v for k, v in self.__dict__.items() if k not in ("_stacked", "_offsets")
        }

    def __setstate__(self, state: dict) -> None:
        # A network pickled before string features had no pieces.
        self.__dict__.update({"pieces": None, **state}, _stacked=None, _offsets=None)
        self.__post_init__()

    @property
    def widths(self) -> list[int]:
        return [table.shape[1] for table in self.tables]

    def serving(self, tables: list[np.ndarray], constant=()) -> NumpyNetwork:
        """The same network serving ``tables``, where each column of
        ``constant`` (indices) is one vector for every category: a string of
        theirs never seen in fit is served that vector too, not composed
        from pieces."""
        pieces = self.pieces and [
            None if j in constant else p for j, p in enumerate(self.pieces)
        ]
        return replace(self, tables=list(tables), pieces=pieces)

    def unseen_vectors(self, j: int, ids: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Column ``j``'s vectors of strings never seen in fit: the unknown
        vector plus the mean of their pieces' vectors (``ids``, ``starts``:
        their pieces, as :meth:`StringHashing.pieces` gives them)."""
        table = self.pieces[j] if self.pieces else None
        if table is None:
            raise ValueError(f"column {j} is not cut into pieces of text")
        means = piece_means(table, ids, starts)
        vectors = np.repeat(
            self.tables[j][UNKNOWN_CODE : UNKNOWN_CODE + 1], len(means), 0
        )
        vectors[:, : means.shape[1]] += means
        return vectors

    def embed(
        self, codes: np.ndarray, out: np.ndarray | None = None, unseen=None
    ) -> np.ndarray:
        """Gather each column's vectors, side by side, into one float32 array.

        ``codes`` has shape (n_rows, n_columns); ``out`` (optional) has at least
        ``sum(widths)`` columns and receives them in its first columns;
        ``unseen`` (optional): see the class's notes.
        """
        n_rows = len(codes)
        if out is None:
            out = np.empty((n_rows, sum(self.widths)), dtype=np.float32)
        if self._stacked is not None:
            self._embed_stacked(codes, out, self._stacked, self._offsets)
        else:
            self._embed_columns(codes, out)
        if unseen:
            starts = np.cumsum([0, *self.widths])
            for j, (rows, vectors) in unseen.items():
                out[rows, starts[j] : starts[j + 1]] = vectors
        return out

    def _embed_columns(self, codes: np.ndarray, out: np.ndarray) -> np.ndarray:
        n_rows = len(codes)
        start = 0
        for j, table in enumerate(self.tables):
            width = table.shape[1]
            # Gather a block of rows into a small contiguous buffer, then copy it
            # into the column's strided block: faster than gathering into the
            # strided block directly (the lookup page, benchmarks/results).
            # mode="clip" skips bounds checks; vocabulary codes are in range.
            buffer = np.empty((min(n_rows, _GATHER_ROWS), width), dtype=np.float32)
            for first in range(0, n_rows, _GATHER_ROWS):
                rows = slice(first, min(first + _GATHER_ROWS, n_rows))
                block = buffer[: rows.stop - rows.start]
                np.take(table, codes[rows, j], axis=0, out=block, mode="clip")
                out[rows, start : start + width] = block
            start += width
        return out

    def _embed_stacked(
        self, codes: np.ndarray, out: np.ndarray, stacked: np.ndarray, offsets
    ) -> np.ndarray:
        """Equal widths: each row's vectors are consecutive rows of the stacked
        tables, so one gather of ``n_rows * n_columns`` table rows fills whole
        output rows at once, faster than a gather per column into its strided
        block (the lookup page, ``benchmarks/results/lookup.md``)."""
        n_rows = len(codes)
        width, total = self.widths[0], sum(self.widths)
        direct = out.shape[1] == total and out.flags.c_contiguous
        if not direct:
            buffer = np.empty((min(n_rows, _GATHER_ROWS), total), dtype=np.float32)
        for first in range(0, n_rows, _GATHER_ROWS):
            rows = slice(first, min(first + _GATHER_ROWS, n_rows))
            block = out[rows] if direct else buffer[: rows.stop - rows.start]
            index = (codes[rows] + offsets).ravel()
            np.take(stacked, index, axis=0, out=block.reshape(-1, width), mode="clip")
            if not direct:
                out[rows, :total] = block
        return out

    def _multiplied(self, factors) -> tuple[list[np.ndarray], list | None]:
        """The tables and tables of piece vectors, column ``j``'s multiplied
        by ``factors[j]``."""
        tables = [
            (table * f).astype(np.float32)
            for table, f in zip(self.tables, factors, strict=True)
        ]
        pieces = self.pieces and [
            None if p is None else (p * f).astype(np.float32)
            for p, f in zip(self.pieces, factors, strict=True)
        ]
        return tables, pieces

    def scaled(self, factors: Sequence[float] | np.ndarray) -> NumpyNetwork:
        """The same network with column ``j``'s vectors multiplied by
        ``factors[j]`` and the layers that read them compensating: other
        vectors, the same outputs (up to float rounding)."""
        factor = np.asarray(factors, dtype=np.float64)
        tables, pieces = self._multiplied(factor)
        layers = list(self.layers)
        per_input = np.ones(sum(self.widths) + len(self.numeric_mean))
        per_input[: sum(self.widths)] = np.repeat(factor, self.widths)
        if layers and layers[0][0] in ("cross", "scale"):
            # Cross layers read tanh(x): no weight can undo a scale inside
            # it, so a "scale" layer first maps the inputs back.
            if layers[0][0] == "scale":
                per_input = per_input / layers.pop(0)[1]["weight"]
            layers.insert(0, ("scale", {"weight": (1 / per_input).astype(np.float32)}))
            return replace(self, tables=tables, layers=layers, pieces=pieces)
        # Every layer up to the first linear one reads the scaled inputs: a
        # pairs layer's products stay as they were (each projection divided
        # by its column's scale), a linear layer's output too.
        for i, (kind, params) in enumerate(layers):
            weight = (params["weight"] / per_input).astype(params["weight"].dtype)
            layers[i] = (kind, {**params, "weight": weight})
            if kind == "linear":
                break
            if kind == "pairs":
                per_input = np.concatenate([per_input, np.ones(self.n_pairs)])
        return replace(self, tables=tables, layers=layers, pieces=pieces)

    def unscaled(self) -> NumpyNetwork:
        """The network as trained: a leading ``"scale"`` layer (which
        :meth:`scaled` adds before cross layers) folded back into the
        tables, which torch's network can start from."""
        if not self.layers or self.layers[0][0] != "scale":
            return self
        factor = self.layers[0][1]["weight"][: sum(self.widths)]
        starts = np.cumsum([0, *self.widths])
        tables, pieces = self._multiplied([float(factor[a]) for a in starts[:-1]])
        return replace(self, tables=tables, layers=self.layers[1:], pieces=pieces)

    @property
    def n_pairs(self) -> int:
        """The pairs of columns whose products a ``"pairs"`` layer serves
        (``interactions="fm"``); 0 without one."""
        if not self.layers or self.layers[0][0] != "pairs":
            return 0
        return len(column_pairs(len(self.tables))[0])

    def pair_products(self, codes: np.ndarray, unseen=None) -> np.ndarray:
        """Each row's products of its columns' projected vectors, by pair of
        columns (:func:`column_pairs`), float32: what ``interactions="fm"``
        adds to the MLP's input and an embedder serves."""
        if not self.n_pairs:
            raise ValueError("the network has no pairs layer (interactions='fm')")
        vectors = self.embed(codes, unseen=unseen).astype(np.float64)
        weight = self.layers[0][1]["weight"][:, :, : sum(self.widths)]
        return pair_products(vectors, weight).astype(np.float32)

    def forward(
        self, codes: np.ndarray, numeric: np.ndarray | None = None, unseen=None
    ) -> np.ndarray:
        """Network output (predictions or logits), shape (n_rows, n_outputs)."""
        # float64 from the inputs on: float32 matrix products round differently
        # with the number of rows (BLAS picks kernels by shape), and a row's
        # prediction must not depend on which rows came with it.
        x = self._inputs(codes, numeric, unseen)
        return self._through(x.astype(np.float64))

    def outputs_without(
        self,
        codes: np.ndarray,
        numeric: np.ndarray | None,
        vectors: dict[int, np.ndarray],
    ) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """The output, and for each column ``j`` of ``vectors`` the output with
        every row's vector of that column replaced by ``vectors[j]``.

        For statistics over many rows (the tests of ID-like columns), in
        float32: a row's output may round differently beside other rows, which
        a mean over thousands of rows does not notice, and the products run
        several times faster than :meth:`forward`'s float64. The first layer's
        product is computed once: replacing column ``j`` moves it by
        ``(vectors[j] - x_j) @ W_j.T``, the column's block of weights only
        (where the first layer is linear: not after interactions).
        """
        x = self._inputs(codes, numeric)
        if self.layers[0][0] != "linear":
            # Interactions come first: a column's block reaches the first
            # linear layer through them, so each replacement runs the network.
            without = {}
            starts = np.cumsum([0, *self.widths])
            for j, vector in vectors.items():
                replaced = x.copy()
                replaced[:, starts[j] : starts[j + 1]] = vector
                without[j] = self._through(replaced)
            return self._through(x), without
        (_, first), rest = self.layers[0], self.layers[1:]
        weight = first["weight"].astype(np.float32)
        product = x @ weight.T + first["bias"].astype(np.float32)
        starts = np.cumsum([0, *self.widths])
        without = {}
        for j, vector in vectors.items():
            block = slice(starts[j], starts[j + 1])
            moved = (vector - x[:, block]) @ weight[:, block].T
            without[j] = self._through(product + moved, rest)
        return self._through(product, rest), without

    def _inputs(
        self, codes: np.ndarray, numeric: np.ndarray | None, unseen=None
    ) -> np.ndarray:
        """The first layer's input: the vectors and standardised numeric
        columns side by side, float32."""
        n_numeric = len(self.numeric_mean)
        x = np.empty((len(codes), sum(self.widths) + n_numeric), dtype=np.float32)
        self.embed(codes, x, unseen)
        if n_numeric:
            x[:, sum(self.widths) :] = (
                numeric - self.numeric_mean
            ) / self.numeric_scale
        return x

    def _through(self, x: np.ndarray, layers=None) -> np.ndarray:
        """``x`` through ``layers`` (all of them by default), then the output
        scaling, in ``x``'s precision."""
        start, previous = x, None  # start: a run of cross layers' input, x_0
        for kind, params in self.layers if layers is None else layers:
            if kind == "cross" and previous != "cross":
                start = np.tanh(x)
            previous = kind
            if kind == "scale":
                x = x * params["weight"].astype(x.dtype, copy=False)
            elif kind == "pairs":
                x = np.concatenate([x, pair_products(x, params["weight"])], axis=1)
            elif kind == "cross":
                weight = params["weight"].T.astype(x.dtype, copy=False)
                x = start * np.tanh(x @ weight + params["bias"]) + x
            elif kind == "linear":
                x = x @ params["weight"].T.astype(x.dtype, copy=False) + params["bias"]
            elif kind == "batchnorm":
                x = (x - params["mean"]) / np.sqrt(params["var"] + params["eps"])
                x = x * params["weight"] + params["bias"]
            else:
                np.maximum(x, 0, out=x)
        if self.output_scale is not None:
            x = x * self.output_scale + self.output_mean
        return x

    # ---------------------------------------------------------------- state
    def _export_state(self) -> tuple[list, dict[str, np.ndarray]]:
        """The layer list (kinds and parameter names) and every array, by name."""
        arrays = {f"table_{j}": table for j, table in enumerate(self.tables)}
        for j, table in enumerate(self.pieces or []):
            if table is not None:
                arrays[f"pieces_{j}"] = table
        arrays["numeric_mean"] = self.numeric_mean
        arrays["numeric_scale"] = self.numeric_scale
        if self.output_mean is not None and self.output_scale is not None:
            arrays["output_mean"] = self.output_mean
            arrays["output_scale"] = self.output_scale
        layers = []
        for i, (kind, params) in enumerate(self.layers):
            layers.append([kind, sorted(params)])
            for key, value in params.items():
                arrays[f"layer_{i}_{key}"] = np.asarray(value)
        return layers, arrays

    @classmethod
    def _from_state(cls, layers: list, arrays: dict, n_tables: int) -> NumpyNetwork:
        """The network that :meth:`_export_state` described."""
        restored = []
        for i, (kind, keys) in enumerate(layers):
            if kind not in LAYER_KINDS:
                raise ValueError(f"unknown layer kind {kind!r}")
            restored.append((kind, {key: arrays[f"layer_{i}_{key}"] for key in keys}))
        network = cls(
            tables=[
                np.ascontiguousarray(arrays[f"table_{j}"], dtype=np.float32)
                for j in range(n_tables)
            ],
            numeric_mean=arrays["numeric_mean"],
            numeric_scale=arrays["numeric_scale"],
            layers=restored,
            output_mean=arrays.get("output_mean"),
            output_scale=arrays.get("output_scale"),
            pieces=(
                [arrays.get(f"pieces_{j}") for j in range(n_tables)]
                if any(f"pieces_{j}" in arrays for j in range(n_tables))
                else None
            ),
        )
        network.check()
        return network

    @property
    def n_outputs(self) -> int:
        """Width of the output: the last linear layer's, or the inputs'."""
        for kind, params in reversed(self.layers):
            if kind == "linear":
                return int(params["weight"].shape[0])
        return sum(self.widths) + len(self.numeric_mean)

    def check(self) -> None:
        """Raise ``ValueError`` unless the layers chain from the inputs to the
        outputs and every weight is finite."""
        if any(table.ndim != 2 for table in self.tables):
            raise ValueError("a table is not a matrix")
        numeric = (self.numeric_mean, self.numeric_scale)
        if any(a.ndim != 1 or len(a) != len(self.numeric_mean) for a in numeric):
            raise ValueError("numeric scaling arrays disagree")
        if not (self.numeric_scale > 0).all():
            raise ValueError("a numeric scale is not positive")
        width = sum(self.widths) + len(self.numeric_mean)
        weights = [*self.tables, *numeric]
        for table, piece_table in zip(self.tables, self.pieces or [], strict=False):
            if piece_table is not None:
                if piece_table.ndim != 2 or piece_table.shape[1] > table.shape[1]:
                    raise ValueError("a table of piece vectors disagrees in width")
                weights.append(piece_table)
        for i, (kind, params) in enumerate(self.layers):
            shapes = {key: np.shape(value) for key, value in params.items()}
            if kind == "linear":
                weight = params["weight"]
                if weight.ndim != 2 or weight.shape[1] != width:
                    raise ValueError(
                        f"layer {i} (linear) has weight {weight.shape} where "
                        f"{width} inputs arrive"
                    )
                width = weight.shape[0]
                expected = {"weight": weight.shape, "bias": (width,)}
            elif kind == "pairs":
                k = np.shape(params["weight"])[1:2] or (0,)
                expected = {"weight": (len(self.tables), *k, width)}
                width += len(column_pairs(len(self.tables))[0])
            elif kind == "cross":
                expected = {"weight": (width, width), "bias": (width,)}
            elif kind == "scale":
                expected = {"weight": (width,)}
            elif kind == "batchnorm":
                expected = {key: (width,) for key in ("mean", "var", "weight", "bias")}
                expected["eps"] = ()
                if not (params["var"] >= 0).all() or not params["eps"] > 0:
                    raise ValueError(f"layer {i} (batchnorm) has negative variances")
            else:
                expected = {}
            if shapes != expected:
                raise ValueError(f"layer {i} ({kind}) has parameters {shapes}")
            weights.extend(params.values())
        if self.output_mean is not None or self.output_scale is not None:
            outputs = [
                a for a in (self.output_mean, self.output_scale) if a is not None
            ]
            if len(outputs) != 2 or any(a.shape != (width,) for a in outputs):
                raise ValueError("output scaling disagrees with the output width")
            weights.extend(outputs)
        if not all(np.isfinite(w).all() for w in weights):
            raise ValueError("some weights are NaN or infinite")


def output_columns(output: np.ndarray, task: str) -> np.ndarray:
    """What the network predicts, from its output: regression targets as they
    are, the positive class's probability (binary, one column), or each class's
    probability (multiclass).

    Parameters
    ----------
    output : ndarray of shape (n_rows, n_outputs)
        :meth:`NumpyNetwork.forward`'s output.
    task : {"regression", "binary", "multiclass"}

    Returns
    -------
    ndarray of shape (n_rows, n_outputs), float64
    """
    output = np.asarray(output, dtype=np.float64)
    if task == "regression":
        return output
    if task == "binary":
        return 1.0 / (1.0 + np.exp(-output))
    output = output - output.max(axis=1, keepdims=True)
    np.exp(output, out=output)
    return output / output.sum(axis=1, keepdims=True)
