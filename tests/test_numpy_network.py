"""NumpyNetwork: the numpy copy that serves a trained network without torch."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from training_data import MODULE_CARDINALITIES, MODULE_DIMS, module_codes

from entembed import EntityEmbeddingNetwork


def _evaluating_network(batch_norm: bool, codes, numeric) -> EntityEmbeddingNetwork:
    """A seeded network with numeric scaling and three outputs, in eval mode,
    its batch-norm running statistics moved by one training pass on the rows."""
    torch.manual_seed(0)
    network = EntityEmbeddingNetwork(
        MODULE_CARDINALITIES,
        MODULE_DIMS,
        n_numeric=2,
        n_outputs=3,
        hidden_units=(16, 8),
        batch_norm=batch_norm,
        dropout=0.3,
    )
    network.set_numeric_scaling(torch.tensor([0.5, -1.0]), torch.tensor([2.0, 3.0]))
    network.train()
    network(codes, numeric)
    return network.eval()


@pytest.mark.parametrize("batch_norm", [False, True])
def test_numpy_copy_predicts_like_the_torch_network(batch_norm):
    codes, numeric = module_codes(), torch.randn(64, 2)
    network = _evaluating_network(batch_norm, codes, numeric)
    with torch.no_grad():
        expected = network(codes, numeric).numpy()
    copy = network.to_numpy()
    np.testing.assert_allclose(
        copy.forward(codes.numpy(), numeric.numpy()), expected, rtol=1e-5, atol=1e-5
    )
    np.testing.assert_array_equal(
        copy.embed(codes.numpy()), network.encoder(codes).detach().numpy()
    )


@pytest.mark.parametrize("widths", [[3, 3, 3], [2, 5, 3]])
@pytest.mark.parametrize("extra_columns", [0, 2])
def test_numpy_embed_is_each_columns_lookup_side_by_side(
    monkeypatch, widths, extra_columns
):
    import pickle

    from entembed import _numpy_network
    from entembed._numpy_network import NumpyNetwork

    monkeypatch.setattr(_numpy_network, "_GATHER_ROWS", 7)  # several blocks
    rng = np.random.default_rng(0)
    cardinalities = [4, 9, 30]
    tables = [
        rng.normal(size=(n, w)).astype(np.float32)
        for n, w in zip(cardinalities, widths, strict=True)
    ]
    codes = np.stack([rng.integers(0, n, 50) for n in cardinalities], axis=1)
    expected = np.hstack([t[codes[:, j]] for j, t in enumerate(tables)])
    network = NumpyNetwork(tables=[t.copy() for t in tables])
    out = np.full((50, sum(widths) + extra_columns), -1.0, dtype=np.float32)
    network.embed(codes, out)
    np.testing.assert_array_equal(out[:, : sum(widths)], expected)
    assert (out[:, sum(widths) :] == -1).all()  # columns past the tables untouched
    for table, original in zip(network.tables, tables, strict=True):
        np.testing.assert_array_equal(table, original)
    restored = pickle.loads(pickle.dumps(network))
    np.testing.assert_array_equal(restored.embed(codes), expected)
    if len(set(widths)) == 1:  # the tables are views into the one stacked array
        assert all(np.shares_memory(t, restored._stacked) for t in restored.tables)


def test_scaled_network_serves_scaled_vectors_and_the_same_outputs():
    torch.manual_seed(0)
    network = EntityEmbeddingNetwork(
        MODULE_CARDINALITIES, MODULE_DIMS, n_numeric=2, hidden_units=(16,)
    )
    codes, numeric = (
        module_codes().numpy(),
        np.random.default_rng(0).normal(size=(64, 2)),
    )
    copy = network.to_numpy()
    factors = np.arange(1.0, len(MODULE_DIMS) + 1) / 3
    scaled = copy.scaled(factors)
    for table, original, factor in zip(
        scaled.tables, copy.tables, factors, strict=True
    ):
        np.testing.assert_allclose(table, original * factor, rtol=1e-6)
    np.testing.assert_allclose(
        scaled.forward(codes, numeric), copy.forward(codes, numeric), rtol=1e-5
    )
    # the numeric inputs' weights and the original network are untouched
    weight, original = scaled.layers[0][1]["weight"], copy.layers[0][1]["weight"]
    np.testing.assert_array_equal(weight[:, -2:], original[:, -2:])
    assert not np.shares_memory(weight, original)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_outputs_without_a_column_equal_forward_with_its_vectors_replaced(batch_norm):
    copy = _evaluating_network(
        batch_norm, module_codes(), torch.randn(64, 2)
    ).to_numpy()
    copy.output_mean, copy.output_scale = np.full(3, 2.0), np.full(3, 0.5)
    codes = module_codes().numpy()
    numeric = np.random.default_rng(0).normal(size=(64, 2))
    rng = np.random.default_rng(1)
    vectors = {j: rng.normal(size=copy.widths[j]).astype(np.float32) for j in (0, 2)}
    output, without = copy.outputs_without(codes, numeric, vectors)
    np.testing.assert_allclose(
        output, copy.forward(codes, numeric), rtol=1e-4, atol=1e-5
    )
    assert set(without) == {0, 2}
    for j, vector in vectors.items():
        tables = [*copy.tables]
        tables[j] = np.broadcast_to(vector, tables[j].shape)
        expected = replace(copy, tables=tables).forward(codes, numeric)
        np.testing.assert_allclose(without[j], expected, rtol=1e-4, atol=1e-5)
        assert not np.allclose(without[j], output, atol=1e-3)  # the column counts
