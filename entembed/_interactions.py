"""Torch modules that combine columns before the MLP: ``interactions``.

Per-column vectors alone give the MLP each column's effect; a target that
depends on which categories meet (which user rates which item) must be
rebuilt by the MLP from sums of vectors, which it learns slowly from few rows
per pair. Two standard layers make combinations explicit:

- :class:`PairwiseProducts` (``"fm"``): as in factorization machines (Rendle
  2010) and DLRM's dot interaction (torchrec's ``InteractionArch``), each
  column's vector is projected to a common width and every pair of columns
  gives the dot product of its two projections; the products join the MLP's
  input (the FM's pairwise term is their sum, with a learned weight each).
  The projections pass through ``tanh``: a product is then at most the
  width, and so is its pull on the tables, whose plain SGD steps (learning
  rate 100) otherwise feed on growing products until the loss is infinite
  (an fm fit on the STAR table did, at 2,000 rows).
- :class:`CrossLayers` (``"cross"``): DCN-V2's cross layers (Wang et al.
  2021; torchrec's ``CrossNet``), ``x_{l+1} = tanh(x_0) * tanh(W_l x_l +
  b_l) + x_l``, each layer one order of products higher, on the whole input.
  DCN-V2 has no ``tanh``: here each layer adds at most 1 to a dimension, and
  its gradient on a table row does not grow with the row. Without the
  gates, a fit on the census table diverged; with the multiplier's gate
  alone, the product's gradient still grew with ``x_0``, and one of the
  hotels' fits took 5,000 times the loss of its first epoch without it.

Each exports as layers of :class:`~entembed._numpy_network.NumpyNetwork`
(``"pairs"``, ``"cross"``), which serves them without torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ._numpy_network import INTERACTIONS, column_pairs

PAIR_WIDTH = 8  # the common width each column's vector is projected to ("fm")
CROSS_LAYERS = 2  # DCN-V2's default depth (torchrec CrossNet's num_layers)
CROSS_RANK = 32  # the rank of each cross layer's matrix (low-rank DCN-V2)


class PairwiseProducts(nn.Module):
    """Append, for every pair of columns, the dot product of their projected
    vectors.

    Column ``j``'s vector ``v_j`` (its block of the input) is projected to
    ``u_j = tanh(P_j v_j)`` of width ``PAIR_WIDTH``; the output is the input
    followed by ``u_i . u_j`` for each pair ``i < j`` (:func:`column_pairs`'
    order).
    Numeric inputs (after the vectors) pass through and join no pair.

    Parameters
    ----------
    widths : sequence of int
        The width of each column's vector, in input order.
    width : int, default=PAIR_WIDTH
        The common width of the projections.

    Examples
    --------
    >>> import torch
    >>> pairs = PairwiseProducts([2, 3, 2])
    >>> pairs(torch.randn(5, 7 + 1)).shape  # 3 pairs after 8 inputs
    torch.Size([5, 11])
    """

    def __init__(self, widths: Sequence[int], width: int = PAIR_WIDTH) -> None:
        super().__init__()
        self.widths = [int(w) for w in widths]
        self.linears = [nn.Linear(w, width, bias=False) for w in self.widths]
        self.projections = nn.ModuleList(self.linears)
        left, right = column_pairs(len(self.widths))
        self.n_pairs = len(left)
        self.left: torch.Tensor
        self.right: torch.Tensor
        self.register_buffer("left", torch.as_tensor(left), persistent=False)
        self.register_buffer("right", torch.as_tensor(right), persistent=False)

    def products(self, x: torch.Tensor) -> torch.Tensor:
        """The pairs' dot products, shape ``(N, n_pairs)``."""
        blocks = torch.split(x[:, : sum(self.widths)], self.widths, dim=1)
        u = torch.stack(
            [torch.tanh(p(b)) for p, b in zip(self.linears, blocks, strict=True)], 1
        )
        return (u[:, self.left] * u[:, self.right]).sum(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.products(x)], dim=1)

    def export(self, n_inputs: int) -> dict[str, np.ndarray]:
        """The projections as one array ``(n_columns, width, n_inputs)``, each
        column's projection in its own block of inputs and zeros elsewhere."""
        weight = np.zeros(
            (len(self.widths), self.linears[0].out_features, n_inputs), np.float32
        )
        starts = np.cumsum([0, *self.widths])
        for j, projection in enumerate(self.linears):
            block = projection.weight.detach().to("cpu", torch.float32).numpy()
            weight[j, :, starts[j] : starts[j + 1]] = block
        return {"weight": weight}

    def load(self, params: dict[str, np.ndarray]) -> None:
        starts = np.cumsum([0, *self.widths])
        with torch.no_grad():
            for j, projection in enumerate(self.linears):
                block = params["weight"][j, :, starts[j] : starts[j + 1]]
                projection.weight.copy_(torch.as_tensor(block, dtype=torch.float32))


class CrossLayers(nn.Module):
    """DCN-V2 cross layers, bounded and of low rank: ``x_{l+1} = tanh(x_0) *
    tanh(U_l V_l x_l + b_l) + x_l``.

    ``W_l = U_l V_l`` of rank at most ``rank`` (DCN-V2's low-rank form,
    torchrec's ``LowRankCrossNet``): a full ``width x width`` matrix per
    layer made fits 1.1-6x slower on the quality tables (median 2.6x), two
    products of ``width x rank`` cost a fraction of the MLP's first layer.

    Parameters
    ----------
    width : int
        The input's width (vectors and numeric columns), kept by each layer.
    n_layers : int, default=CROSS_LAYERS
    rank : int, default=CROSS_RANK

    Examples
    --------
    >>> import torch
    >>> CrossLayers(6)(torch.randn(4, 6)).shape
    torch.Size([4, 6])
    """

    def __init__(
        self, width: int, n_layers: int = CROSS_LAYERS, rank: int = CROSS_RANK
    ) -> None:
        super().__init__()
        rank = min(rank, width)
        self.downs = [nn.Linear(width, rank, bias=False) for _ in range(n_layers)]
        self.ups = [nn.Linear(rank, width) for _ in range(n_layers)]
        self.layers = nn.ModuleList([*self.downs, *self.ups])
        for up in self.ups:
            # Start near the identity (x_{l+1} = x_l): the MLP first sees the
            # vectors as without crosses, and the products grow as they pay.
            nn.init.normal_(up.weight, std=0.01)
            nn.init.zeros_(up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0 = torch.tanh(x)
        for down, up in zip(self.downs, self.ups, strict=True):
            x = x0 * torch.tanh(up(down(x))) + x
        return x

    def export(self) -> list[dict[str, np.ndarray]]:
        """Each layer's ``W = U V`` (served as one matrix) and bias."""

        def array(tensor: torch.Tensor) -> np.ndarray:
            return tensor.detach().to("cpu", torch.float32).numpy().copy()

        return [
            {"weight": array(up.weight @ down.weight), "bias": array(up.bias)}
            for down, up in zip(self.downs, self.ups, strict=True)
        ]

    def load(self, params: Sequence[dict[str, np.ndarray]]) -> None:
        """Start from exported layers: ``W``'s factors from its singular
        value decomposition (exact: ``W`` has at most ``rank``)."""
        with torch.no_grad():
            for down, up, p in zip(self.downs, self.ups, params, strict=True):
                left, values, right = np.linalg.svd(p["weight"].astype(np.float64))
                rank = down.out_features
                up.weight.copy_(torch.as_tensor(left[:, :rank] * values[:rank]))
                down.weight.copy_(torch.as_tensor(right[:rank]))
                up.bias.copy_(torch.as_tensor(p["bias"], dtype=torch.float32))


def interaction_module(
    interactions: str, widths: Sequence[int], n_numeric: int
) -> nn.Module | None:
    """The module ``interactions`` names (None for ``"none"``)."""
    if interactions not in INTERACTIONS:
        raise ValueError(
            f"interactions must be one of {INTERACTIONS}, got {interactions!r}."
        )
    if interactions == "fm":
        return PairwiseProducts(widths)
    if interactions == "cross":
        return CrossLayers(int(sum(widths)) + n_numeric)
    return None


def output_width(module: nn.Module | None, n_inputs: int) -> int:
    """The width the MLP receives after ``module``."""
    if isinstance(module, PairwiseProducts):
        return n_inputs + module.n_pairs
    return n_inputs
