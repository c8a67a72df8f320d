import lightning as L
import numpy as np
import pytest
import torch

from entembed import EntityEmbeddingModule, TensorDataModule
from entembed._data_module import TensorBatches
from entembed._target import encode_target
from entembed._training import RestoreBestWeights, seeded, train

CARDINALITIES = [5, 12, 40]


def _problem(n=600, seed=0):
    generator = torch.Generator().manual_seed(seed)
    codes = torch.stack(
        [torch.randint(0, c, (n,), generator=generator) for c in CARDINALITIES], dim=1
    )
    effect = torch.randn(40, generator=generator)
    target = effect[codes[:, 2]] + 0.1 * torch.randn(n, generator=generator)
    return codes, target


def _fit(encoder="embedding", seed=0, max_epochs=2, **kwargs):
    codes, target = _problem()
    data = TensorDataModule(
        codes,
        target,
        batch_size=64,
        random_state=seed,
        validation_fraction=kwargs.pop("validation_fraction", 0.2),
    )
    with seeded(seed):
        module = EntityEmbeddingModule(
            CARDINALITIES,
            [3, 4, 6],
            hidden_units=(16,),
            encoder=encoder,
            learning_rate=1e-2,
            **kwargs,
        )
        history = train(module, data, max_epochs=max_epochs, accelerator="cpu")
    return module, history


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
    codes, target = _problem(n=100)
    a = TensorDataModule(codes, target, validation_fraction=0.25, random_state=1)
    b = TensorDataModule(codes, target, validation_fraction=0.25, random_state=1)
    a.setup("fit"), b.setup("fit")
    assert len(a.val_rows) == 25 and len(a.train_rows) == 75
    assert not set(a.val_rows.tolist()) & set(a.train_rows.tolist())
    assert torch.equal(a.val_rows, b.val_rows)


def test_training_learns_and_logs_history():
    _, history = _fit(max_epochs=6)
    assert [h["epoch"] for h in history] == list(range(1, 7))
    assert {"train_loss", "val_loss", "train_rmse", "val_rmse"} <= set(history[0])
    assert history[-1]["val_loss"] < 0.5 * history[0]["val_loss"]


def test_training_is_reproducible_with_a_seed():
    first, _ = _fit(seed=3)
    second, _ = _fit(seed=3)
    other, _ = _fit(seed=4)
    for a, b, c in zip(
        first.network.tables(),
        second.network.tables(),
        other.network.tables(),
        strict=True,
    ):
        assert torch.equal(a, b)
        assert not torch.equal(a, c)


def test_lightning_training_of_embedding_and_onehot_ends_with_same_tables():
    embedding, _ = _fit("embedding", max_epochs=2)
    onehot, _ = _fit("onehot", max_epochs=2)
    for a, b in zip(embedding.network.tables(), onehot.network.tables(), strict=True):
        assert (a - b).abs().max() < 1e-4


@pytest.mark.parametrize("encoder", ["embedding", "onehot"])
def test_tables_take_plain_sgd_steps_and_absent_categories_stay_put(encoder):
    with seeded(0):
        module = EntityEmbeddingModule(
            [5, 5], [3, 3], hidden_units=(8,), table_learning_rate=2.0, encoder=encoder
        )
    optimizer = module.configure_optimizers()
    grouped = [p for group in optimizer.param_groups for p in group["params"]]
    assert len(grouped) == len(set(grouped)) == len(list(module.parameters()))

    def step(codes):
        loss = module(torch.tensor(codes)).square().mean()
        optimizer.zero_grad()
        loss.backward()
        before = [t.detach().clone() for t in module.network.tables()]
        grads = [p.grad.clone() for p in module.network.table_parameters()]
        optimizer.step()
        return before, grads

    before, grads = step([[1, 2], [1, 3]])
    expected = [
        (t - 2.0 * (g if encoder == "embedding" else g.T))
        for t, g in zip(before, grads, strict=True)
    ]
    for table, want in zip(module.network.tables(), expected, strict=True):
        torch.testing.assert_close(table, want)
    # Category 1 of column 0 is absent now: no momentum moves its row (Adam's
    # would), while the dense layers' AdamW keeps its own state.
    before, _ = step([[4, 2], [4, 3]])
    torch.testing.assert_close(module.network.tables()[0][1], before[0][1])
    assert not torch.equal(module.network.tables()[0][4], before[0][4])
    state = optimizer.state_dict()
    optimizer.load_state_dict(state)
    assert len(state["optimizers"]) == 2


def test_restore_best_weights_keeps_the_best_validation_epoch():
    codes, target = _problem()
    data = TensorDataModule(codes, target, batch_size=64, validation_fraction=0.2)
    restore = RestoreBestWeights()
    with seeded(0):
        # a learning rate high enough that validation loss does not fall monotonically
        module = EntityEmbeddingModule(
            CARDINALITIES,
            [3, 4, 6],
            hidden_units=(64,),
            learning_rate=0.03,
            table_learning_rate=300.0,
        )
        history = train(module, data, max_epochs=6, callbacks=[restore])
    best = min(h["val_loss"] for h in history)
    assert restore.best_score == pytest.approx(best)
    result = L.Trainer(
        logger=False, enable_progress_bar=False, enable_model_summary=False
    ).validate(module, datamodule=data, verbose=False)
    assert result[0]["val_loss"] == pytest.approx(best, rel=1e-5)


def test_early_stopping_stops_after_patience():
    codes, target = _problem()
    target = torch.randn(len(target))  # nothing to learn: validation stalls
    data = TensorDataModule(codes, target, batch_size=64, validation_fraction=0.3)
    with seeded(0):
        module = EntityEmbeddingModule(
            CARDINALITIES, [3, 4, 6], hidden_units=(64,), learning_rate=3e-2
        )
        history = train(module, data, max_epochs=50, patience=2)
    assert len(history) < 50


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_classification_tasks_train(task):
    codes, _ = _problem()
    labels = (codes[:, 2] % (2 if task == "binary" else 3)).numpy()
    target, classes = encode_target(labels, task)
    data = TensorDataModule(codes, target, batch_size=64)
    module = EntityEmbeddingModule(
        CARDINALITIES,
        [3, 4, 6],
        task=task,
        n_outputs=1 if task == "binary" else 3,
        hidden_units=(32,),
        learning_rate=2e-2,
    )
    history = train(module, data, max_epochs=8)
    assert history[-1]["val_accuracy"] > 0.9
    assert len(classes) == (2 if task == "binary" else 3)


def test_sample_weights_change_the_fit():
    codes, target = _problem()
    weight = torch.where(codes[:, 0] == 0, 10.0, 1.0)
    losses = []
    for sample_weight in (None, weight):
        data = TensorDataModule(
            codes, target, sample_weight=sample_weight, validation_fraction=0
        )
        with seeded(0):
            module = EntityEmbeddingModule(CARDINALITIES, [3, 4, 6], hidden_units=(8,))
            losses.append(train(module, data, max_epochs=1)[-1]["train_loss"])
    assert losses[0] != losses[1]


# ------------------------------------------------------------------ errors
def test_error_nonfinite_loss_names_the_epoch():
    codes, _ = _problem()
    target = torch.full((len(codes),), 1e30)
    data = TensorDataModule(codes, target, validation_fraction=0)
    module = EntityEmbeddingModule(CARDINALITIES, [3, 4, 6], hidden_units=(8,))
    with pytest.raises(
        FloatingPointError,
        match=r"NaN or infinite in epoch 1 .*"
        r"Lower learning_rate \(now 0.003\) or table_learning_rate \(now 100.0\), "
        r"set gradient_clip_val",
    ):
        train(module, data, max_epochs=3)


def test_error_nan_in_target_and_numeric_inputs():
    codes, target = _problem(n=50)
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


def test_error_too_few_rows_for_validation_and_one_class():
    codes, target = _problem(n=3)
    with pytest.raises(
        ValueError,
        match=r"validation_fraction=0.1 of 3 rows leaves no "
        r"row for validation",
    ):
        TensorDataModule(codes, target, validation_fraction=0.1).setup("fit")
    with pytest.raises(ValueError, match=r"only one class \('a'\); a classifier needs"):
        encode_target(np.array(["a", "a"]), "binary")
    with pytest.raises(
        ValueError, match=r"task='binary' needs exactly 2 classes, got 3"
    ):
        encode_target(np.array([0, 1, 2]), "binary")
    with pytest.raises(TypeError, match=r"target must be numeric, got dtype object"):
        TensorDataModule(codes, np.array(["a", "b", "c"], dtype=object)).setup("fit")
    with pytest.raises(ValueError, match=r"codes has 3"):
        TensorDataModule(codes, torch.zeros(5), validation_fraction=0).setup("fit")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "ranking"}, r"task must be one of"),
        ({"task": "binary", "n_outputs": 2}, r"task='binary' uses one logit"),
        ({"task": "multiclass", "n_outputs": 1}, r"needs n_outputs >= 2 classes"),
        ({"learning_rate": 0}, r"learning_rate and table_learning_rate must be > 0"),
        (
            {"table_learning_rate": -1},
            r"weight_decay >= 0, got 0.003, -1 and 0.0\.",
        ),
    ],
)
def test_module_error_on_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EntityEmbeddingModule([3], [2], **kwargs)


@pytest.mark.gpu
def test_training_on_gpu_matches_cpu_quality():
    _, history = _fit(max_epochs=6)
    codes, target = _problem()
    data = TensorDataModule(codes, target, batch_size=64, validation_fraction=0.2)
    with seeded(0):
        gpu = EntityEmbeddingModule(
            CARDINALITIES, [3, 4, 6], hidden_units=(16,), learning_rate=1e-2
        )
        gpu_history = train(gpu, data, max_epochs=6, accelerator="gpu", devices=1)
    assert gpu_history[-1]["val_loss"] < 1.5 * history[-1]["val_loss"]
