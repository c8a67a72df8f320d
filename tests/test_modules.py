"""The torch modules: tables, the one-hot baseline, and the network."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from training_data import MODULE_CARDINALITIES, MODULE_DIMS, module_codes

from entembed import EmbeddingTables, EntityEmbeddingNetwork, OneHotLinear


def test_embedding_tables_shape_and_reserved_codes():
    tables = EmbeddingTables(MODULE_CARDINALITIES, MODULE_DIMS)
    out = tables(module_codes())
    assert out.shape == (64, sum(MODULE_DIMS))
    # row 0 has code 0 everywhere: the output is the 0th row of every table
    expected = torch.cat([w[0] for w in tables.weights()])
    torch.testing.assert_close(out[0], expected)


def test_onehot_linear_equals_embedding_forward_and_gradient():
    tables = EmbeddingTables(MODULE_CARDINALITIES, MODULE_DIMS)
    onehot = OneHotLinear(MODULE_CARDINALITIES, MODULE_DIMS)
    with torch.no_grad():
        for linear, weight in zip(onehot.linears, tables.weights(), strict=True):
            linear.weight.copy_(weight.T)
    codes = module_codes()
    upstream = torch.randn(len(codes), sum(MODULE_DIMS))
    out_embedding, out_onehot = tables(codes), onehot(codes)
    torch.testing.assert_close(out_embedding, out_onehot, rtol=0, atol=1e-7)
    (out_embedding * upstream).sum().backward()
    (out_onehot * upstream).sum().backward()
    for j, (table, linear) in enumerate(
        zip(tables.tables, onehot.linears, strict=True)
    ):
        torch.testing.assert_close(
            table.weight.grad,
            linear.weight.grad.T,
            rtol=1e-6,
            atol=1e-6,
            msg=f"column {j}",
        )
        # the reserved unknown (0) and missing (1) rows received gradient
        assert table.weight.grad[:2].abs().sum() > 0


def test_same_seed_gives_both_encoders_the_same_initial_tables():
    torch.manual_seed(3)
    tables = EmbeddingTables(MODULE_CARDINALITIES, MODULE_DIMS)
    torch.manual_seed(3)
    onehot = OneHotLinear(MODULE_CARDINALITIES, MODULE_DIMS)
    for a, b in zip(tables.weights(), onehot.weights(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_network_trained_with_either_encoder_ends_with_the_same_tables():
    codes = module_codes(n=512, seed=1)
    numeric = torch.randn(512, 2)
    target = (codes[:, 2:3] % 3).float() + numeric[:, :1]
    tables = []
    for encoder in ("embedding", "onehot"):
        torch.manual_seed(0)
        network = EntityEmbeddingNetwork(
            MODULE_CARDINALITIES,
            MODULE_DIMS,
            n_numeric=2,
            hidden_units=(16, 8),
            encoder=encoder,
        )
        optimizer = torch.optim.AdamW(network.parameters(), lr=1e-2, weight_decay=1e-3)
        for _epoch in range(2):
            for start in range(0, 512, 64):
                rows = slice(start, start + 64)
                loss = torch.nn.functional.mse_loss(
                    network(codes[rows], numeric[rows]), target[rows]
                )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        tables.append([t.detach() for t in network.tables()])
    for a, b in zip(*tables, strict=True):
        assert (a - b).abs().max() < 1e-4
    # and training moved the tables (the comparison is not between two inits)
    torch.manual_seed(0)
    fresh = EntityEmbeddingNetwork(
        MODULE_CARDINALITIES, MODULE_DIMS, n_numeric=2, hidden_units=(16, 8)
    )
    assert (fresh.tables()[2] - tables[0][2]).abs().max() > 1e-3


def test_network_shapes_batch_norm_dropout_and_numeric_scaling():
    network = EntityEmbeddingNetwork(
        MODULE_CARDINALITIES,
        MODULE_DIMS,
        n_numeric=3,
        n_outputs=4,
        hidden_units=(8,),
        dropout=0.2,
        batch_norm=True,
    )
    network.set_numeric_scaling(torch.tensor([1.0, 2, 3]), torch.tensor([1.0, 1, 0]))
    assert network(module_codes(), torch.randn(64, 3)).shape == (64, 4)
    assert network.numeric_scale.min() > 0
    linear = EntityEmbeddingNetwork(MODULE_CARDINALITIES, MODULE_DIMS, hidden_units=())
    assert linear(module_codes()).shape == (64, 1)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: EmbeddingTables([], []), r"cardinalities is empty"),
        (
            lambda: EmbeddingTables([3, 4], [2]),
            r"has 2 columns but embedding_dims has 1",
        ),
        (lambda: OneHotLinear([3, 0], [2, 2]), r"cardinalities must be positive"),
        (
            lambda: EntityEmbeddingNetwork([3], [2], encoder="hash"),
            r"encoder must be one of \('embedding', 'onehot'\), got 'hash'",
        ),
        (lambda: EntityEmbeddingNetwork([3], [2], dropout=1.0), r"dropout must be in"),
        (lambda: EntityEmbeddingNetwork([3], [2], hidden_units=(0,)), r"hidden_units"),
        (lambda: EntityEmbeddingNetwork([3], [2], n_outputs=0), r"n_outputs >= 1"),
    ],
)
def test_modules_error_on_bad_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_network_error_when_numeric_input_is_missing():
    network = EntityEmbeddingNetwork([3], [2], n_numeric=2)
    with pytest.raises(
        ValueError, match=r"expects 2 numeric input column\(s\), got None"
    ):
        network(torch.zeros(1, 1, dtype=torch.long))


@pytest.mark.parametrize("encoder", ["embedding", "onehot"])
def test_load_tables_and_layers_make_the_same_network(encoder):
    kwargs = {"n_numeric": 2, "hidden_units": (8,), "batch_norm": True}
    trained = EntityEmbeddingNetwork(MODULE_CARDINALITIES, MODULE_DIMS, **kwargs)
    trained.set_numeric_scaling(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0]))
    source = trained.eval().to_numpy()
    copy = EntityEmbeddingNetwork(
        MODULE_CARDINALITIES, MODULE_DIMS, encoder=encoder, **kwargs
    )
    copy.load_layers(source)
    copy.load_tables(source.tables, frozen=[True, False, False, True])
    codes, numeric = module_codes(), torch.randn(64, 2)
    torch.testing.assert_close(copy.eval()(codes, numeric), trained(codes, numeric))
    frozen = [p.requires_grad for p in copy.table_parameters()]
    assert frozen == [False, True, True, False]


def test_error_load_layers_of_another_shape():
    network = EntityEmbeddingNetwork(
        MODULE_CARDINALITIES, MODULE_DIMS, hidden_units=(8,)
    )
    other = EntityEmbeddingNetwork(MODULE_CARDINALITIES, MODULE_DIMS, hidden_units=(4,))
    with pytest.raises(ValueError, match=r"linear weights \[\(4, 16\), \(1, 4\)\]"):
        network.load_layers(other.to_numpy())
    with pytest.raises(ValueError, match=r"table 0 starts from shape \(3, 1\)"):
        network.load_tables([torch.zeros(3, 1).numpy(), None, None, None])


@given(
    counts=st.lists(st.integers(0, 10_000), min_size=3, max_size=30),
    rows=st.floats(0.5, 1_000),
)
@settings(max_examples=50, deadline=None)
def test_shrinkage_weight_grows_with_the_count(counts, rows):
    network = EntityEmbeddingNetwork([len(counts)], [2], hidden_units=())
    network.set_shrinkage([np.array(counts)], rows)
    weight = network.own_weight.numpy()
    order = np.argsort(counts, kind="stable")
    assert np.all(np.diff(weight[order]) >= 0)  # monotone in the count
    assert np.all((weight >= 0) & (weight < 1))
    np.testing.assert_allclose(weight, np.array(counts) / (np.array(counts) + rows))
    network.set_shrinkage([np.array(counts)], 0.0)  # off: every vector its own
    assert torch.equal(network.own_weight, torch.ones(len(counts)))


@pytest.mark.parametrize("encoder", ["embedding", "onehot"])
def test_shrunk_lookup_is_what_the_served_tables_hold(encoder):
    torch.manual_seed(0)
    network = EntityEmbeddingNetwork(
        MODULE_CARDINALITIES, MODULE_DIMS, hidden_units=(8,), encoder=encoder
    )
    counts = [np.arange(n) * 3 for n in MODULE_CARDINALITIES]
    network.set_shrinkage(counts, 10.0)
    codes = module_codes()
    network.eval()
    served = network.to_numpy()
    np.testing.assert_allclose(
        served.forward(codes.numpy()), network(codes).detach().numpy(), atol=1e-5
    )
    raw = network.tables()[3].detach().numpy()
    weight = counts[3] / (counts[3] + 10.0)
    expected = weight[:, None] * raw + (1 - weight[:, None]) * raw[0]
    np.testing.assert_allclose(served.tables[3], expected, rtol=1e-5, atol=1e-8)
    np.testing.assert_array_equal(served.tables[3][0], raw[0])  # unknown: itself


def test_shrinkage_trains_the_unknown_vector_from_known_codes():
    torch.manual_seed(0)
    network = EntityEmbeddingNetwork([5], [3], hidden_units=())
    network.set_shrinkage([np.array([0, 0, 1, 10, 100])], 10.0)
    network(torch.tensor([[2], [3], [4]])).sum().backward()
    gradient = network.tables()[0].grad
    assert gradient[0].abs().sum() > 0  # no row has code 0, yet it learns
    assert gradient[1].abs().sum() == 0  # missing: no row, no gradient
