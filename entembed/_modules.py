"""Torch modules: embedding tables, the one-hot linear baseline, and the network.

An embedding table is a dense layer on a one-hot vector, computed as a lookup:
:class:`EmbeddingTables` gathers rows, :class:`OneHotLinear` multiplies one-hot
vectors by the same matrix the slow way. Given the same weights both compute the
same thing, which the tests prove. No sklearn and no Lightning here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import skip_init

from ._interactions import (
    CrossLayers,
    PairwiseProducts,
    interaction_module,
    output_width,
)
from ._numpy_network import NumpyNetwork
from ._piece_tables import PieceTables
from ._string_features import CodePieces, piece_means
from ._vocabulary import UNKNOWN_CODE

ENCODERS = ("embedding", "onehot")


def _check_tables(cardinalities: Sequence[int], embedding_dims: Sequence[int]) -> None:
    if len(cardinalities) == 0:
        raise ValueError("cardinalities is empty: pass at least one column.")
    if len(cardinalities) != len(embedding_dims):
        raise ValueError(
            f"cardinalities has {len(cardinalities)} columns but embedding_dims has "
            f"{len(embedding_dims)}; pass one width per column."
        )
    for name, values in (
        ("cardinalities", cardinalities),
        ("embedding_dims", embedding_dims),
    ):
        bad = [v for v in values if int(v) != v or v < 1]
        if bad:
            raise ValueError(f"{name} must be positive integers, got {list(values)}.")


def _draw_table(n_categories: int, width: int) -> torch.Tensor:
    # N(0, 0.01^2), as fastai draws them. The tables learn by plain SGD, so a
    # row ends as its start plus what its rows taught it: a small start leaves
    # the learned part to decide which categories are close, and a rarely seen
    # category close to the others instead of a random identifier that the
    # dense layers can memorise (downstream models scored better on the
    # features than with N(0, 0.1^2) starts). Drawn in (n_categories, width)
    # order by both encoders, so the same seed gives both the same values.
    return 0.01 * torch.randn(n_categories, width)


def _start_from(weights, tables, what: str, *, strict: bool = False) -> None:
    """Copy each given table into its weight, by column (a None on either
    side: the weight keeps its draw), refusing a table of another shape."""
    with torch.no_grad():
        for j, (weight, table) in enumerate(zip(weights, tables, strict=strict)):
            if weight is None or table is None:
                continue
            if tuple(table.shape) != tuple(weight.shape):
                raise ValueError(
                    f"{what} {j} starts from shape {table.shape}, but the "
                    f"network's {what} has shape {tuple(weight.shape)}."
                )
            weight.copy_(torch.as_tensor(np.asarray(table, dtype=np.float32)))


class EmbeddingTables(nn.Module):
    """One embedding table per categorical column, looked up and concatenated.

    Parameters
    ----------
    cardinalities : sequence of int
        Rows of each column's table (codes, reserved ones included).
    embedding_dims : sequence of int
        Width of each column's table.

    Shape
    -----
    - Input: ``(N, C)`` integer codes, column ``j`` in ``[0, cardinalities[j])``.
    - Output: ``(N, sum(embedding_dims))`` float, the columns' vectors side by side.

    Examples
    --------
    >>> import torch
    >>> tables = EmbeddingTables([4, 10], [2, 3])
    >>> tables(torch.tensor([[0, 9], [3, 1]])).shape
    torch.Size([2, 5])
    """

    def __init__(
        self,
        cardinalities: Sequence[int],
        embedding_dims: Sequence[int],
    ) -> None:
        super().__init__()
        _check_tables(cardinalities, embedding_dims)
        # skip_init: no default draw, so only reset_parameters consumes the RNG.
        self.tables = nn.ModuleList(
            skip_init(nn.Embedding, int(n), int(d))
            for n, d in zip(cardinalities, embedding_dims, strict=True)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            for table in self.tables:
                table.weight.copy_(_draw_table(*table.weight.shape))

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [table(codes[:, j]) for j, table in enumerate(self.tables)], dim=1
        )

    def weights(self) -> list[torch.Tensor]:
        """Each column's table.

        Returns
        -------
        list of Tensor
            One per column, shape ``(cardinality, width)``.
        """
        return [table.weight for table in self.tables]

    def set_sparse_gradients(self, sparse: bool) -> None:
        """Give each table a sparse gradient: the rows its batch touched only.

        A dense gradient is as large as the table, so every step zeroes,
        writes and reads it in full; a sparse one costs O(batch rows x width),
        and plain SGD applies it to those rows alone, with the same result.

        Parameters
        ----------
        sparse : bool
            Sparse (True) or dense (False) gradients from the next backward.
        """
        for table in self.tables:
            table.sparse = bool(sparse)


class OneHotLinear(nn.Module):
    """The one-hot linear baseline: ``nn.Linear(n, width, bias=False)`` on one-hots.

    Computes exactly what :class:`EmbeddingTables` computes when
    ``linear.weight == table.weight.T``, at the cost of building the one-hot
    matrix and multiplying mostly by zero.

    Parameters
    ----------
    cardinalities : sequence of int
        Length of each column's one-hot vector.
    embedding_dims : sequence of int
        Output width of each column's linear layer.

    Shape
    -----
    - Input: ``(N, C)`` integer codes.
    - Output: ``(N, sum(embedding_dims))`` float.

    Examples
    --------
    Given a table's transpose as its weights, it computes what the lookup
    computes:

    >>> import torch
    >>> tables, onehot = EmbeddingTables([4], [2]), OneHotLinear([4], [2])
    >>> with torch.no_grad():
    ...     _ = onehot.linears[0].weight.copy_(tables.weights()[0].T)
    >>> codes = torch.tensor([[0], [3], [3]])
    >>> bool(torch.allclose(onehot(codes), tables(codes)))
    True
    """

    def __init__(
        self, cardinalities: Sequence[int], embedding_dims: Sequence[int]
    ) -> None:
        super().__init__()
        _check_tables(cardinalities, embedding_dims)
        self.linears = nn.ModuleList(
            skip_init(nn.Linear, int(n), int(d), bias=False)
            for n, d in zip(cardinalities, embedding_dims, strict=True)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            for linear in self.linears:
                width, n = linear.weight.shape
                linear.weight.copy_(_draw_table(n, width).T)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        codes = codes.long()
        return torch.cat(
            [
                linear(
                    F.one_hot(codes[:, j], linear.in_features).to(linear.weight.dtype)
                )
                for j, linear in enumerate(self.linears)
            ],
            dim=1,
        )

    def weights(self) -> list[torch.Tensor]:
        """Each column's table: its linear layer's weight, transposed.

        Returns
        -------
        list of Tensor
            One per column, shape ``(cardinality, width)``.
        """
        return [linear.weight.T for linear in self.linears]


class EntityEmbeddingNetwork(nn.Module):
    """Column embeddings (+ standardised numeric inputs) -> MLP -> task head.

    Parameters
    ----------
    cardinalities : sequence of int
        Codes per categorical column, reserved ones included.
    embedding_dims : sequence of int
        Width of each column's table.
    n_numeric : int, default=0
        Number of numeric input features, standardised with the ``numeric_mean``
        and ``numeric_scale`` buffers (set them with :meth:`set_numeric_scaling`).
    hidden_units : sequence of int, default=(256, 128)
        Widths of the hidden layers; empty for a linear model on the embeddings.
    n_outputs : int, default=1
        Output width: regression targets, 1 logit (binary) or one per class.
    dropout : float, default=0.0
        Dropout after each hidden layer.
    batch_norm : bool, default=False
        Batch normalisation after each hidden linear layer.
    encoder : {"embedding", "onehot"}, default="embedding"
        Lookup tables, or the one-hot linear baseline.
    pieces : sequence of CodePieces or None, default=None
        By column, the hashed pieces of its categories' text (None: not cut
        into pieces). A category's vector is then its own vector plus the
        mean of its pieces' vectors (:class:`PieceTables`).
    interactions : {"none", "fm", "cross"}, default="none"
        How columns combine before the MLP: not at all, the pairwise products
        of factorization machines (:class:`PairwiseProducts`), or DCN-V2
        cross layers (:class:`CrossLayers`).

    Shape
    -----
    - Input: codes ``(N, C)`` integer, numeric ``(N, n_numeric)`` float or None.
    - Output: ``(N, n_outputs)`` float: predictions or logits.

    Examples
    --------
    >>> import torch
    >>> network = EntityEmbeddingNetwork([4, 10], [2, 3], hidden_units=(8,))
    >>> network(torch.tensor([[0, 9], [3, 1]])).shape
    torch.Size([2, 1])
    """

    def __init__(
        self,
        cardinalities: Sequence[int],
        embedding_dims: Sequence[int],
        *,
        n_numeric: int = 0,
        hidden_units: Sequence[int] = (256, 128),
        n_outputs: int = 1,
        dropout: float = 0.0,
        batch_norm: bool = False,
        encoder: str = "embedding",
        pieces: Sequence[CodePieces | None] | None = None,
        interactions: str = "none",
    ) -> None:
        super().__init__()
        if encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {encoder!r}.")
        if n_numeric < 0 or n_outputs < 1:
            raise ValueError(
                f"n_numeric must be >= 0 and n_outputs >= 1, got {n_numeric} and "
                f"{n_outputs}."
            )
        if any(int(h) != h or h < 1 for h in hidden_units):
            raise ValueError(
                f"hidden_units must be positive integers, got {tuple(hidden_units)}."
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}.")

        self.encoder = (
            EmbeddingTables(cardinalities, embedding_dims)
            if encoder == "embedding"
            else OneHotLinear(cardinalities, embedding_dims)
        )
        self.pieces = (
            PieceTables(pieces, embedding_dims)
            if pieces is not None and any(p is not None for p in pieces)
            else None
        )
        self.n_numeric = n_numeric
        self.register_buffer("numeric_mean", torch.zeros(n_numeric))
        self.register_buffer("numeric_scale", torch.ones(n_numeric))
        # Each code's weight on its own vector against the unknown vector's
        # (frequency shrinkage, see set_shrinkage); all ones: no shrinkage.
        self.offsets = np.cumsum([0, *[int(n) for n in cardinalities]])
        self.register_buffer("own_weight", torch.ones(int(self.offsets[-1])))
        self.shrinks = False
        # Built once and moved with the module: a step indexes with them.
        self.register_buffer(
            "code_offsets", torch.as_tensor(self.offsets[:-1]), persistent=False
        )
        self.register_buffer(
            "widths",
            torch.as_tensor([int(d) for d in embedding_dims]),
            persistent=False,
        )

        width = int(sum(embedding_dims)) + n_numeric
        self.interactions = interaction_module(interactions, embedding_dims, n_numeric)
        width = output_width(self.interactions, width)
        layers: list[nn.Module] = []
        for units in hidden_units:
            layers.append(nn.Linear(width, int(units)))
            if batch_norm:
                layers.append(nn.BatchNorm1d(int(units)))
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = int(units)
        self.mlp = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_outputs)

    def set_numeric_scaling(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        """Standardise numeric inputs as ``(x - mean) / scale`` inside the network.

        Parameters
        ----------
        mean, scale : Tensor of shape (n_numeric,)
            Each numeric column's mean and standard deviation.
        """
        with torch.no_grad():
            self.numeric_mean.copy_(torch.as_tensor(mean))
            self.numeric_scale.copy_(torch.as_tensor(scale).clamp_min(1e-12))

    def set_shrinkage(
        self, counts: Sequence[np.ndarray], rows: float | Sequence[float]
    ) -> None:
        """Shrink each category's vector toward the unknown vector by its count.

        Code ``c`` of a column with ``n`` training rows looks up
        ``w * table[c] + (1 - w) * table[UNKNOWN]`` with ``w = n / (n + rows)``,
        as target encoding smooths a category's mean toward the prior: a
        category seen once leans on the shared vector, a frequent one keeps its
        own, and every row trains the unknown vector a little. The served
        tables (:meth:`to_numpy`) hold the shrunk vectors.

        Parameters
        ----------
        counts : sequence of ndarray
            By column, the training rows of each code (length: cardinality).
        rows : float or sequence of float
            The count at which a category's own vector weighs one half, for
            all columns or by column; 0 turns shrinkage off.
        """
        if np.ndim(rows) == 0:
            rows = [float(rows)] * len(counts)  # type: ignore[arg-type]
        weights = [
            np.asarray(n, dtype=np.float64) / (np.asarray(n, dtype=np.float64) + m)
            if m > 0
            else np.ones(len(n))
            for n, m in zip(counts, rows, strict=True)  # type: ignore[arg-type]
        ]
        with torch.no_grad():
            self.own_weight.copy_(torch.as_tensor(np.concatenate(weights)))
        self.shrinks = any(m > 0 for m in rows)  # type: ignore[union-attr]

    def _shrunk(self, codes: torch.Tensor) -> torch.Tensor:
        own = self.encoder(codes)
        if not self.shrinks:
            return own
        codes = codes.long()
        weight = self.own_weight[codes + self.code_offsets].to(own.dtype)
        weight = weight.repeat_interleave(self.widths, dim=1)
        # Looked up, not indexed from the weight: sparse gradients stay sparse.
        unknown = self.encoder(torch.full_like(codes, UNKNOWN_CODE))
        return weight * own + (1 - weight) * unknown

    def forward(
        self, codes: torch.Tensor, numeric: torch.Tensor | None = None
    ) -> torch.Tensor:
        x = self._shrunk(codes)
        if self.pieces is not None:
            x = x + self.pieces(codes).to(x.dtype)
        if self.n_numeric:
            if numeric is None or numeric.shape[1] != self.n_numeric:
                raise ValueError(
                    f"The network expects {self.n_numeric} numeric input column(s), "
                    f"got {None if numeric is None else numeric.shape[1]}."
                )
            scaled = (numeric.to(x.dtype) - self.numeric_mean) / self.numeric_scale
            x = torch.cat([x, scaled], dim=1)
        if self.interactions is not None:
            x = self.interactions(x)
        return self.head(self.mlp(x))

    def _piece_weights(self) -> list[torch.Tensor | None]:
        if self.pieces is None:
            return [None] * len(self.offsets[:-1])
        return self.pieces.weights()

    def tables(self) -> list[torch.Tensor]:
        """Each column's learned table.

        Returns
        -------
        list of Tensor
            One per column, shape ``(cardinality, width)``.
        """
        return self.encoder.weights()

    def set_sparse_gradients(self, sparse: bool) -> None:
        """Sparse table gradients where the encoder has them (lookup tables).

        The one-hot baseline multiplies dense matrices: its gradient is dense.

        Parameters
        ----------
        sparse : bool
            See :meth:`EmbeddingTables.set_sparse_gradients`.
        """
        if isinstance(self.encoder, EmbeddingTables):
            self.encoder.set_sparse_gradients(sparse)
        if self.pieces is not None:
            self.pieces.set_sparse_gradients(sparse)

    def table_parameters(self) -> list[nn.Parameter]:
        """The parameters that hold the tables.

        Returns
        -------
        list of Parameter
            The tables, or for the one-hot baseline the transposed weights,
            and the text columns' tables of piece vectors.
        """
        pieces = [] if self.pieces is None else list(self.pieces.parameters())
        return [*self.encoder.parameters(), *pieces]

    def load_tables(
        self, tables: Sequence[np.ndarray | None], frozen: Sequence[bool] = ()
    ) -> None:
        """Start tables from given vectors, and freeze some of them.

        Parameters
        ----------
        tables : sequence of ndarray or None
            By column: the table's starting rows, shape ``(cardinality,
            width)``, or None to keep its random draw.
        frozen : sequence of bool
            By column: the table stays as given (it gets no gradient).
        """
        _start_from(self.tables(), tables, "table", strict=True)
        for parameter, freeze in zip(self.table_parameters(), frozen, strict=False):
            parameter.requires_grad_(not freeze)

    def load_pieces(self, pieces: Sequence[np.ndarray | None]) -> None:
        """Start the tables of piece vectors from given ones (warm start).

        Parameters
        ----------
        pieces : sequence of ndarray or None
            By column: the starting table of piece vectors, shape
            ``(n_buckets, width)``, or None (or a column not cut into
            pieces) to keep the random draw.
        """
        if self.pieces is not None:
            _start_from(self.pieces.weights(), pieces, "table of piece vectors")

    def load_layers(self, network: NumpyNetwork) -> None:
        """Start the hidden layers, the head and the scalings from ``network``.

        Parameters
        ----------
        network : NumpyNetwork
            A network of the same shape (as :meth:`to_numpy` returns).
        """
        modules = [
            m
            for m in [*self.mlp, self.head]
            if isinstance(m, (nn.Linear, nn.BatchNorm1d, nn.ReLU))
        ]
        kinds = {nn.Linear: "linear", nn.BatchNorm1d: "batchnorm", nn.ReLU: "relu"}
        mixing = self._interaction_layers()
        theirs = [kind for kind, _ in network.layers[len(mixing) :]]
        if [kind for kind, _ in network.layers[: len(mixing)]] != [
            kind for kind, _ in mixing
        ]:
            raise ValueError(
                f"the network to start from has layers "
                f"{[kind for kind, _ in network.layers]}; this one has "
                f"{[kind for kind, _ in mixing]} before its MLP."
            )
        ours = [kinds[type(m)] for m in modules]
        shapes = [tuple(m.weight.shape) for m in modules if isinstance(m, nn.Linear)]
        their_shapes = [
            tuple(p["weight"].shape) for kind, p in network.layers if kind == "linear"
        ]
        if ours != theirs or shapes != their_shapes:
            raise ValueError(
                f"the network to start from has layers {theirs} with linear "
                f"weights {their_shapes}; this one has {ours} with {shapes}."
            )

        def tensor(array) -> torch.Tensor:
            return torch.as_tensor(np.asarray(array, dtype=np.float32))

        given = [params for _, params in network.layers[: len(mixing)]]
        if isinstance(self.interactions, PairwiseProducts):
            self.interactions.load(given[0])
        elif isinstance(self.interactions, CrossLayers):
            self.interactions.load(given)
        with torch.no_grad():
            for module, (_, params) in zip(
                modules, network.layers[len(mixing) :], strict=True
            ):
                if isinstance(module, nn.Linear):
                    module.weight.copy_(tensor(params["weight"]))
                    module.bias.copy_(tensor(params["bias"]))
                elif isinstance(module, nn.BatchNorm1d):
                    module.running_mean.copy_(tensor(params["mean"]))
                    module.running_var.copy_(tensor(params["var"]))
                    module.weight.copy_(tensor(params["weight"]))
                    module.bias.copy_(tensor(params["bias"]))
        if self.n_numeric:
            self.set_numeric_scaling(
                tensor(network.numeric_mean), tensor(network.numeric_scale)
            )

    def _interaction_layers(self) -> list[tuple[str, dict[str, np.ndarray]]]:
        """The interactions as :class:`NumpyNetwork` layers (none: empty)."""
        if isinstance(self.interactions, PairwiseProducts):
            n_inputs = sum(self.interactions.widths) + self.n_numeric
            return [("pairs", self.interactions.export(n_inputs))]
        if isinstance(self.interactions, CrossLayers):
            return [("cross", params) for params in self.interactions.export()]
        return []

    def _served_tables(self) -> tuple[list[np.ndarray], list | None]:
        """The tables as served, each category's vector as the network sees
        it (shrunk, plus its mean piece vector), and the tables of piece
        vectors (None without text columns), as float32 arrays."""

        def array(tensor: torch.Tensor) -> np.ndarray:
            return tensor.detach().to("cpu", torch.float32).numpy().copy()

        pieces = [None if p is None else array(p) for p in self._piece_weights()]
        tables = []
        for j, table in enumerate(self.tables()):
            table = array(table)
            if self.shrinks:
                own = array(self.own_weight[self.offsets[j] : self.offsets[j + 1]])
                own = own[:, None]
                table = own * table + (1 - own) * table[UNKNOWN_CODE]
            if pieces[j] is not None:
                k = self.pieces.columns.index(j)  # type: ignore[union-attr]
                ids, starts = (
                    getattr(self.pieces, f"{n}_{k}").detach().cpu().numpy()
                    for n in ("ids", "starts")
                )
                means = piece_means(pieces[j], ids, starts)
                table[:, : means.shape[1]] += means
            tables.append(np.ascontiguousarray(table, dtype=np.float32))
        return tables, (pieces if self.pieces is not None else None)

    def to_numpy(self) -> NumpyNetwork:
        """Copy the trained weights out of torch, for inference without it.

        Returns
        -------
        NumpyNetwork
            Tables, numeric scaling and layers as numpy arrays.
        """

        def array(tensor: torch.Tensor):
            return tensor.detach().to("cpu", torch.float32).numpy().copy()

        layers = []
        for layer in [*self.mlp, self.head]:
            if isinstance(layer, nn.Linear):
                layers.append(
                    (
                        "linear",
                        {"weight": array(layer.weight), "bias": array(layer.bias)},
                    )
                )
            elif isinstance(layer, nn.BatchNorm1d):
                layers.append(
                    (
                        "batchnorm",
                        {
                            "mean": array(layer.running_mean),
                            "var": array(layer.running_var),
                            "weight": array(layer.weight),
                            "bias": array(layer.bias),
                            "eps": np.float32(layer.eps),
                        },
                    )
                )
            elif isinstance(layer, nn.ReLU):
                layers.append(("relu", {}))
        tables, piece_tables = self._served_tables()
        layers = [*self._interaction_layers(), *layers]
        return NumpyNetwork(
            tables=tables,
            pieces=piece_tables,
            numeric_mean=array(self.numeric_mean),
            numeric_scale=array(self.numeric_scale),
            layers=layers,
        )
