"""TensorBatches and TensorDataModule: in-memory batches, splits and checks."""

import numpy as np
import pytest
import torch
from training_data import CARDINALITIES, coded_problem

from entembed import EntityEmbeddingModule, TensorDataModule
from entembed._data_module import TensorBatches, validation_split
from entembed._training import train


def test_tensor_batches_cover_every_row_once_per_epoch_with_fresh_order():
    tensors = {"codes": torch.arange(10)[:, None], "target": torch.arange(10.0)}
    batches = TensorBatches(
        tensors, torch.arange(10), batch_size=4, shuffle=True, seed=0
    )
    epochs = [torch.cat([b["codes"][:, 0] for b in batches]) for _ in range(2)]
    for rows in epochs:
        assert sorted(rows.tolist()) == list(range(10))
    assert epochs[0].tolist() != epochs[1].tolist()
    assert len(batches) == 3
    # targets travel with their rows
    batch = next(iter(batches))
    assert torch.equal(batch["codes"][:, 0].float(), batch["target"])


def test_tensor_batches_shard_across_ranks():
    tensors = {"codes": torch.arange(11)[:, None]}
    shards = [
        torch.cat(
            [
                b["codes"][:, 0]
                for b in TensorBatches(
                    tensors,
                    torch.arange(11),
                    batch_size=2,
                    shuffle=True,
                    seed=5,
                    rank=rank,
                    world_size=3,
                )
            ]
        )
        for rank in range(3)
    ]
    assert {len(s) for s in shards} == {4}  # padded: every rank runs as many steps
    assert set(torch.cat(shards).tolist()) == set(range(11))


def test_data_module_splits_disjoint_and_seeded():
    codes, target = coded_problem(n=100)
    a = TensorDataModule(codes, target, validation_fraction=0.25, random_state=1)
    b = TensorDataModule(codes, target, validation_fraction=0.25, random_state=1)
    a.setup("fit"), b.setup("fit")
    assert len(a.val_rows) == 25 and len(a.train_rows) == 75
    assert not set(a.val_rows.tolist()) & set(a.train_rows.tolist())
    assert torch.equal(a.val_rows, b.val_rows)
    # The same rows a predictor tests its ID-like columns on.
    held_out, trained = validation_split(100, 0.25, 1)
    assert a.val_rows.tolist() == held_out.tolist()
    assert a.train_rows.tolist() == trained.tolist()


def test_error_nan_in_target_and_numeric_inputs():
    codes, target = coded_problem(n=50)
    target[[3, 7]] = float("nan")
    module = EntityEmbeddingModule(CARDINALITIES, [3, 4, 6], hidden_units=(8,))
    with pytest.raises(
        ValueError, match=r"The target has 2 NaN or infinite value\(s\)"
    ):
        train(module, TensorDataModule(codes, target), max_epochs=1)
    numeric = np.zeros((50, 2), dtype=np.float32)
    numeric[0, 1] = np.inf
    data = TensorDataModule(
        codes, torch.zeros(50), numeric=numeric, numeric_names=["age", "income"]
    )
    with pytest.raises(ValueError, match=r"NaN or infinite values \('income': 1\)"):
        data.setup("fit")


def test_error_too_few_rows_non_numeric_target_and_row_mismatch():
    codes, target = coded_problem(n=3)
    with pytest.raises(
        ValueError,
        match=r"validation_fraction=0.1 of 3 rows leaves no "
        r"row for validation",
    ):
        TensorDataModule(codes, target, validation_fraction=0.1).setup("fit")
    with pytest.raises(TypeError, match=r"target must be numeric, got dtype object"):
        TensorDataModule(codes, np.array(["a", "b", "c"], dtype=object)).setup("fit")
    with pytest.raises(ValueError, match=r"codes has 3"):
        TensorDataModule(codes, torch.zeros(5), validation_fraction=0).setup("fit")
