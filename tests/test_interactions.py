"""Interactions: the pairwise products of factorization machines and DCN-V2
cross layers, in torch and served without it, and the products an embedder
serves out of fold."""

import itertools

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.model_selection import KFold
from training_data import FAST, city_table

from entembed import (
    EntityEmbedder,
    EntityEmbeddingClassifier,
    EntityEmbeddingRegressor,
    load,
)
from entembed._interactions import CrossLayers, PairwiseProducts
from entembed._modules import EntityEmbeddingNetwork
from entembed._numpy_network import pair_products
from entembed._vocabulary import UNKNOWN_CODE


def _pair_table(n=600, seed=0):
    """Two columns whose categories matter only together (a sign each: the
    target is their product) and a column of noise."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 8, n), rng.integers(0, 8, n)
    sign_a, sign_b = (
        np.where(np.arange(8) % 2, 1.0, -1.0),
        np.where(np.arange(8) < 4, 1.0, -1.0),
    )
    X = pd.DataFrame(
        {
            "a": [f"a{i}" for i in a],
            "b": [f"b{i}" for i in b],
            "noise": [f"n{i}" for i in rng.integers(0, 5, n)],
        }
    )
    y = sign_a[a] * sign_b[b] + rng.normal(0, 0.1, n)
    return X, y


def test_the_fm_term_is_the_sum_over_column_pairs():
    torch.manual_seed(0)
    widths = [2, 3, 4, 2]
    pairs = PairwiseProducts(widths, width=5)
    x = torch.randn(7, sum(widths) + 1)  # one numeric input, in no pair
    blocks = torch.split(x[:, : sum(widths)], widths, dim=1)
    u = [
        torch.tanh(p(block)) for p, block in zip(pairs.projections, blocks, strict=True)
    ]
    explicit = torch.stack(
        [(u[i] * u[j]).sum(1) for i, j in itertools.combinations(range(4), 2)], 1
    )
    products = pairs.products(x)
    torch.testing.assert_close(products, explicit)
    # Their sum is the factorization machine's pairwise term, computed in
    # Rendle's O(k n) form: (|sum of u|^2 - sum of |u|^2) / 2.
    stacked = torch.stack(u, 1)
    fm = 0.5 * (stacked.sum(1).pow(2).sum(1) - stacked.pow(2).sum((1, 2)))
    torch.testing.assert_close(products.sum(1), fm)
    # The layer appends them to its input; served, numpy computes the same.
    torch.testing.assert_close(pairs(x), torch.cat([x, explicit], 1))
    served = pair_products(x.numpy(), pairs.export(x.shape[1])["weight"])
    np.testing.assert_allclose(served, explicit.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_cross_layers_are_dcn_v2s_bounded_and_of_low_rank():
    torch.manual_seed(0)
    cross = CrossLayers(6, n_layers=2, rank=2)
    for layer in cross.layers:
        torch.nn.init.normal_(layer.weight)
    x0 = torch.randn(3, 6)
    served = cross.export()
    weights = [torch.as_tensor(p["weight"]) for p in served]
    biases = [torch.as_tensor(p["bias"]) for p in served]
    assert all(torch.linalg.matrix_rank(w) <= 2 for w in weights)
    x1 = torch.tanh(x0) * torch.tanh(x0 @ weights[0].T + biases[0]) + x0
    x2 = torch.tanh(x0) * torch.tanh(x1 @ weights[1].T + biases[1]) + x1
    torch.testing.assert_close(cross(x0), x2)
    # Started from the served matrices, a new module computes the same.
    again = CrossLayers(6, n_layers=2, rank=2)
    again.load(served)
    torch.testing.assert_close(again(x0), x2, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("interactions", ["fm", "cross"])
def test_interactions_serve_without_torch_as_torch_computes(interactions):
    torch.manual_seed(0)
    network = EntityEmbeddingNetwork(
        [5, 7, 4], [2, 3, 2], n_numeric=2, hidden_units=(8,), interactions=interactions
    ).eval()
    with torch.no_grad():  # interactions that matter, not their start near none
        for parameter in network.interactions.parameters():
            parameter.normal_()
    codes = torch.tensor([[1, 2, 3], [4, 6, 0], [2, 2, 2]])
    numeric = torch.randn(3, 2)
    expected = network(codes, numeric).detach().numpy()
    served = network.to_numpy()
    assert served.layers[0][0] == {"fm": "pairs", "cross": "cross"}[interactions]
    np.testing.assert_allclose(
        served.forward(codes.numpy(), numeric.numpy()), expected, rtol=1e-5
    )
    # Scaled vectors (feature_scale): the layers that read them compensate
    # (cross layers read tanh of their input: a "scale" layer undoes it).
    rescaled = served.scaled([0.5, 3.0, 2.0]).scaled([2.0, 1.0, 0.25])
    np.testing.assert_allclose(
        rescaled.forward(codes.numpy(), numeric.numpy()), expected, rtol=1e-4
    )
    assert (rescaled.layers[0][0] == "scale") == (interactions == "cross")
    unscaled = rescaled.unscaled()
    assert [kind for kind, _ in unscaled.layers] == [k for k, _ in served.layers]
    if interactions == "cross":
        for mine, theirs in zip(unscaled.tables, served.tables, strict=True):
            np.testing.assert_allclose(mine, theirs, rtol=1e-5)
    # A network started from the served one computes the same (warm start).
    again = EntityEmbeddingNetwork(
        [5, 7, 4], [2, 3, 2], n_numeric=2, hidden_units=(8,), interactions=interactions
    ).eval()
    again.load_tables(served.tables)
    again.load_layers(served)
    np.testing.assert_allclose(
        again(codes, numeric).detach().numpy(), expected, rtol=1e-5
    )


def test_error_starting_from_a_network_with_other_interactions():
    served = EntityEmbeddingNetwork([5, 7], [2, 3], interactions="fm").to_numpy()
    other = EntityEmbeddingNetwork([5, 7], [2, 3], interactions="cross")
    with pytest.raises(
        ValueError,
        match=r"has layers \['pairs', 'linear'.*this one has \['cross', 'cross'\] "
        r"before its MLP",
    ):
        other.load_layers(served)


def test_fm_learns_a_target_of_pairs_the_mlp_alone_does_not():
    X, y = _pair_table(n=1500)
    test_X, test_y = _pair_table(n=500, seed=1)
    settings = {
        **FAST,
        "hidden_units": (),
        "max_epochs": 20,
        "patience": None,
        "validation_fraction": 0.0,
        # Without hidden layers the products reach the head directly, and
        # the tables' steps at the default 100 diverge on 8 categories.
        "table_learning_rate": 10.0,
    }
    errors = {}
    for interactions in ("none", "fm"):
        model = EntityEmbeddingRegressor(**settings, interactions=interactions)
        model.fit(X, y)
        errors[interactions] = np.sqrt(np.mean((model.predict(test_X) - test_y) ** 2))
    # A linear model on per-column vectors cannot express a product of signs
    # (RMSE about 1, the target's spread); their pairwise products can.
    assert errors["none"] > 0.9
    assert errors["fm"] < 0.5


def test_a_served_pair_product_never_used_its_rows_target():
    # The products of a training row come from the fold model that did not
    # train on it: changing the targets of fold 0's rows leaves their products
    # as they were and moves the others'.
    X, y = city_table(n=400)
    folds = list(KFold(4, shuffle=True, random_state=0).split(X))
    held_out = folds[0][1]
    changed = y.copy()
    changed[held_out] += 5.0
    settings = {
        **FAST,
        "interactions": "fm",
        "cv": folds,
        "validation_fraction": 0.0,  # the folds train max_epochs: see test_cross_fit
    }
    embedder = EntityEmbedder(**settings)
    before = embedder.fit_transform(X, y)
    block = embedder._pairs_block
    after = EntityEmbedder(**settings).fit_transform(X, changed)[:, block]
    np.testing.assert_array_equal(before[held_out, block], after[held_out])
    others = np.setdiff1d(np.arange(len(X)), held_out)
    assert np.abs(before[others, block] - after[others]).mean() > 1e-3
    assert list(embedder.get_feature_names_out()[block]) == ["city*plan"]
    # transform serves the products of the served vectors.
    served = embedder.network_
    expected = served.pair_products(embedder._codes(X, [])[0])
    np.testing.assert_allclose(embedder.transform(X)[:, block], expected)


def test_in_sample_features_still_get_out_of_fold_products():
    # cv=None serves in-sample vectors, but never in-sample products: the
    # folds run for them (5, as for an appended prediction).
    X, y = city_table(n=300)
    embedder = EntityEmbedder(**FAST, cv=None, interactions="fm")
    features = embedder.fit_transform(X, y)
    block = embedder._pairs_block
    in_sample = embedder.transform(X)
    assert embedder.cv_ is None
    np.testing.assert_array_equal(
        features[:, : block.start], in_sample[:, : block.start]
    )
    assert not np.allclose(features[:, block], in_sample[:, block])


@pytest.mark.parametrize("interactions", ["fm", "cross"])
def test_same_seed_same_result_with_interactions(interactions):
    X, y = city_table(n=300)
    labels = np.where(y > np.median(y), "high", "low")
    fits = [
        EntityEmbeddingClassifier(**FAST, interactions=interactions).fit(X, labels)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(*(f.predict_proba(X) for f in fits))
    features = [
        EntityEmbedder(**FAST, interactions=interactions).fit_transform(X, y)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(*features)


@pytest.mark.parametrize("interactions", ["fm", "cross"])
def test_the_unknown_vector_still_trains_with_interactions(interactions):
    # Rare categories merge into the unknown code: their rows train its vector.
    X, y = city_table(n=400)
    X["city"] = X["city"].where(np.arange(len(X)) % 10 != 0, "rare")
    X.loc[np.arange(len(X)) % 10 == 0, "city"] = [
        f"once{i}" for i in range(int((np.arange(len(X)) % 10 == 0).sum()))
    ]
    settings = {**FAST, "interactions": interactions, "min_frequency": 2}
    untrained = EntityEmbeddingRegressor(**{**settings, "max_epochs": 1})
    untrained.set_params(learning_rate=1e-12, table_learning_rate=1e-12).fit(X, y)
    trained = EntityEmbeddingRegressor(**settings).fit(X, y)
    start = untrained.network_.tables[0][UNKNOWN_CODE]
    moved = trained.network_.tables[0][UNKNOWN_CODE]
    assert np.abs(moved - start).max() > 1e-3


@pytest.mark.parametrize("interactions", ["fm", "cross"])
def test_interactions_survive_save_and_load(tmp_path, interactions):
    X, y = city_table(n=300)
    embedder = EntityEmbedder(**FAST, interactions=interactions).fit(X, y)
    embedder.save(tmp_path / "model.entembed")
    loaded = load(tmp_path / "model.entembed")
    np.testing.assert_array_equal(loaded.transform(X), embedder.transform(X))
    assert loaded.interactions == interactions


def test_a_multiclass_network_with_pair_products():
    X, y = city_table(n=300)
    labels = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    model = EntityEmbeddingClassifier(**FAST, interactions="fm").fit(X, labels)
    proba = model.predict_proba(X)
    assert proba.shape == (300, 3)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)


def test_error_unknown_interactions():
    X, y = city_table(n=100)
    with pytest.raises(
        ValueError,
        match=r"The 'interactions' parameter of EntityEmbedder must be a str "
        r"among \{.*'fm'.*\}. Got 'pairs' instead.",
    ):
        EntityEmbedder(interactions="pairs").fit(X, y)
