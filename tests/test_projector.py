"""TensorBoard projector export: vectors, labels with counts, and the config."""

import numpy as np
import pandas as pd
import pytest
from training_data import FAST, city_table

from entembed import EntityEmbedder, export_projector
from entembed._projector import _folder_names


@pytest.fixture(scope="module")
def embedder():
    X, y = city_table()
    X["plan"] = X["plan"].cat.rename_categories({"a": "tab\there", "b": "b"})
    return EntityEmbedder(**FAST).fit(X, y)


def test_projector_files_hold_each_column_s_vectors_and_labels(embedder, tmp_path):
    folder = export_projector(embedder, tmp_path / "projector")
    config = (folder / "projector_config.pbtxt").read_text()
    assert config.count("embeddings {") == 2
    assert 'tensor_name: "city"' in config and 'tensor_name: "plan"' in config
    for j, column in enumerate(["city", "plan"]):
        assert f'tensor_path: "{column}/tensors.tsv"' in config
        vectors = np.loadtxt(folder / column / "tensors.tsv", delimiter="\t")
        np.testing.assert_allclose(
            vectors, embedder.embeddings_[column].to_numpy(), rtol=1e-6
        )
        labels = pd.read_csv(
            folder / column / "metadata.tsv", sep="\t", keep_default_na=False
        )
        assert list(labels.columns) == ["category", "count"]
        assert labels["category"].tolist()[:2] == ["<unknown>", "<missing>"]
        counts = labels["count"].tolist()
        assert counts[:2] == ["", ""]  # fit keeps no count of the reserved rows
        expected = embedder.vocabulary_.category_counts_[j].tolist()
        assert [int(n) for n in counts[2:]] == expected
    plan = pd.read_csv(folder / "plan" / "metadata.tsv", sep="\t")
    assert "tab here" in plan["category"].tolist()  # a tab would split the cell


def test_projector_export_refuses_to_replace_what_it_did_not_write(embedder, tmp_path):
    folder = tmp_path / "projector"
    export_projector(embedder, folder)
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        export_projector(embedder, folder)
    export_projector(embedder, folder, overwrite=True)
    other = tmp_path / "mine"
    other.mkdir()
    with pytest.raises(FileExistsError, match="was not written by entembed"):
        export_projector(embedder, other, overwrite=True)


def test_projector_folders_are_named_after_columns_that_make_safe_names():
    names = _folder_names(["city", "a/b", "A/B", "..", "projector_config.pbtxt"])
    assert names == ["city", "a_b", "A_B_2", "column", "projector_config.pbtxt_2"]
