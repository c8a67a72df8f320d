"""embedding_map: a PCA map of one column's learned vectors."""

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from entembed import EntityEmbedder  # noqa: E402
from entembed._plots import embedding_map, readable_labels  # noqa: E402


@pytest.fixture(scope="module")
def embedder():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"city": rng.choice(["Oslo", "Lima", "Pune", "Rome"], 200), "one": "x"}
    )
    y = X["city"].map({"Oslo": 0.0, "Lima": 1.0, "Pune": 2.0, "Rome": 3.0})
    return EntityEmbedder(
        embedding_dims={"city": 3}, hidden_units=(8,), random_state=0
    ).fit(X, y)


def test_embedding_map_draws_one_labelled_point_per_category(embedder):
    ax = embedding_map(embedder, "city", n_labels=2)
    points = ax.collections[0].get_offsets()
    assert points.shape == (4, 2)
    assert len(ax.texts) == 2
    assert "4 categories, 3 dimensions" in ax.get_title()
    matplotlib.pyplot.close("all")


def test_error_embedding_map_names_the_problem(embedder):
    with pytest.raises(ValueError, match=r"Column 'shop' is not embedded"):
        embedding_map(embedder, "shop")
    with pytest.raises(ValueError, match=r"Column 'one' has 1 kept categories"):
        embedding_map(embedder, "one")


def test_embedding_map_labels_a_readable_subset_of_a_dense_cluster():
    # 50 categories in one tight cluster, 3 far apart: labelling all 40 most
    # frequent would stack them; the map labels what does not overlap.
    rng = np.random.default_rng(0)
    points = np.vstack([rng.normal(0, 0.01, (50, 2)), [[5, 0], [0, 5], [5, 5]]])
    categories = np.array([f"cat{i:02d}" for i in range(53)], dtype=object)
    counts = np.arange(53, 0, -1)
    chosen = readable_labels(points, categories, counts, n_labels=40)
    assert chosen[0] == 0  # the most frequent is always labelled
    assert {50, 51, 52} <= set(chosen)  # the isolated points keep their labels
    assert len(chosen) < 10
    assert readable_labels(points[50:], categories[50:], counts[50:], 2) == [0, 1]
