"""EntityEmbeddingModule: loss, metrics, the tables' SGD optimiser, its errors."""

import json
import subprocess
import sys
import textwrap

import lightning as L
import pytest
import torch
from training_data import CARDINALITIES, coded_problem

from entembed import EntityEmbeddingModule, TensorDataModule
from entembed._target import encode_target
from entembed._training import seeded, train


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


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_classification_tasks_train(task):
    codes, _ = coded_problem()
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
    codes, target = coded_problem()
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
    codes, _ = coded_problem()
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


# ------------------------------------------------------ sparse table steps
def _fit_tables(**module_kwargs):
    codes, target = coded_problem()
    data = TensorDataModule(codes, target, batch_size=64, random_state=0)
    with seeded(0):
        module = EntityEmbeddingModule(
            CARDINALITIES, [3, 4, 6], hidden_units=(16,), **module_kwargs
        )
        train(
            module, data, max_epochs=2, accelerator="cpu", callbacks=[GradientKinds()]
        )
    return module


class GradientKinds(L.Callback):
    """Records whether each step's table gradients were sparse."""

    def __init__(self):
        self.sparse = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        tables = pl_module.network.table_parameters()
        self.sparse.append(all(p.grad is None or p.grad.is_sparse for p in tables))


def test_sparse_table_steps_equal_dense_ones_after_two_epochs():
    sparse = _fit_tables()
    dense = _fit_tables(sparse_gradients=False)
    for a, b in zip(sparse.network.tables(), dense.network.tables(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    assert any(p.sparse for p in sparse.network.encoder.tables)
    assert not any(p.sparse for p in dense.network.encoder.tables)


def test_sparse_steps_leave_rows_absent_from_the_batch_exactly_in_place():
    with seeded(0):
        module = EntityEmbeddingModule([50, 5], [4, 2], hidden_units=(8,))
    module.network.set_sparse_gradients(True)
    optimizer = module.configure_optimizers()
    before = [t.detach().clone() for t in module.network.tables()]
    loss = module(torch.tensor([[3, 1], [7, 1]])).square().mean()
    loss.backward()
    assert all(p.grad.is_sparse for p in module.network.table_parameters())
    optimizer.step()
    after = module.network.tables()
    untouched = torch.ones(50, dtype=torch.bool)
    untouched[[3, 7]] = False
    assert torch.equal(after[0][untouched], before[0][untouched])
    assert not torch.equal(after[0][3], before[0][3])


@pytest.mark.parametrize(
    ("encoder", "world_size", "gathers"),
    [("embedding", 2, True), ("onehot", 2, False), ("embedding", 1, False)],
)
def test_under_ddp_the_module_averages_sparse_tables_outside_ddps_reducer(
    encoder, world_size, gathers
):
    from types import SimpleNamespace

    from lightning.pytorch.strategies import DDPStrategy

    module = EntityEmbeddingModule([5, 7], [2, 3], hidden_units=(4,), encoder=encoder)
    trainer = SimpleNamespace(
        world_size=world_size, gradient_clip_val=None, strategy=DDPStrategy()
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(EntityEmbeddingModule, "trainer", trainer)
        module.setup("fit")
    assert module._gathers_tables is gathers
    ignored = getattr(module, "_ddp_params_and_buffers_to_ignore", [])
    # The one-hot baseline's weights are dense: DDP's reducer averages them.
    assert ignored == (
        ["network.encoder.tables.0.weight", "network.encoder.tables.1.weight"]
        if gathers
        else []
    )


AVERAGE_SCRIPT = """
import json, sys
import torch, torch.distributed as dist, torch.multiprocessing as mp
from entembed._lightning_module import average_sparse_gradients

TOUCHED = {0: ([1, 1, 4], [2]), 1: ([4, 7], [0, 5, 5, 3])}  # unequal counts

def gradients(rank):
    g = torch.Generator().manual_seed(rank)
    return [
        torch.sparse_coo_tensor(
            torch.tensor([rows]), torch.randn(len(rows), width, generator=g),
            (size, width))
        for rows, (size, width) in zip(TOUCHED[rank], [(10, 3), (6, 2)])
    ]

def worker(rank, path):
    dist.init_process_group("gloo", init_method="file://" + path + ".store",
                            rank=rank, world_size=2)
    tables = [torch.zeros(10, 3, requires_grad=True),
              torch.zeros(6, 2, requires_grad=True)]
    for table, grad in zip(tables, gradients(rank)):
        table.grad = grad
    average_sparse_gradients(tables)
    expected = [(a.to_dense() + b.to_dense()) / 2
                for a, b in zip(gradients(0), gradients(1))]
    result = {
        "sparse": all(t.grad.is_sparse for t in tables),
        "gap": max(float((t.grad.to_dense() - e).abs().max())
                   for t, e in zip(tables, expected)),
    }
    json.dump(result, open(f"{path}.{rank}.json", "w"))
    dist.destroy_process_group()

if __name__ == "__main__":
    mp.spawn(worker, args=(sys.argv[1],), nprocs=2)
"""


@pytest.mark.slow
def test_sparse_gradients_are_averaged_over_processes_as_ddp_averages_dense(
    tmp_path,
):
    script = tmp_path / "average.py"
    script.write_text(textwrap.dedent(AVERAGE_SCRIPT))
    base = str(tmp_path / "run")
    result = subprocess.run(
        [sys.executable, str(script), base],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for rank in (0, 1):
        found = json.loads((tmp_path / f"run.{rank}.json").read_text())
        # The mean of the two processes' gradients, still sparse, on each of
        # them, though they touched different numbers of rows.
        assert found["sparse"] and found["gap"] < 1e-6, found


def test_gradient_clipping_falls_back_to_dense_table_gradients():
    codes, target = coded_problem()
    data = TensorDataModule(codes, target, batch_size=64, random_state=0)
    kinds = GradientKinds()
    module = EntityEmbeddingModule(CARDINALITIES, [3, 4, 6], hidden_units=(16,))
    train(module, data, max_epochs=1, gradient_clip_val=1.0, callbacks=[kinds])
    assert kinds.sparse and not any(kinds.sparse)
    kinds = GradientKinds()
    train(
        EntityEmbeddingModule(CARDINALITIES, [3, 4, 6]),
        data,
        max_epochs=1,
        callbacks=[kinds],
    )
    assert kinds.sparse and all(kinds.sparse)


def _quiet_trainer(max_epochs: int) -> L.Trainer:
    """A Trainer that trains only: no logs, bars, checkpoints or validation."""
    return L.Trainer(
        max_epochs=max_epochs,
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )


def test_epoch_metrics_are_logged_once_per_epoch_as_batch_weighted_means():
    codes, target = coded_problem(n=500)  # batches of 64: the last one has 52 rows
    module = EntityEmbeddingModule(CARDINALITIES, [2, 3, 4], hidden_units=(8,))
    data = TensorDataModule(codes, target, batch_size=64, validation_fraction=0.0)
    steps, calls = [], []
    shared_step, log = module._shared_step, module.log

    def recording_step(batch, stage, *position):
        loss = shared_step(batch, stage, *position)
        steps.append((float(loss.detach()), len(batch["target"])))
        return loss

    def recording_log(name, value, **kwargs):
        calls.append(name)
        log(name, value, **kwargs)

    module._shared_step, module.log = recording_step, recording_log
    trainer = _quiet_trainer(max_epochs=1)
    trainer.fit(module, datamodule=data)
    assert calls == ["train_loss", "train_rmse"]
    weighted = sum(loss * n for loss, n in steps) / sum(n for _, n in steps)
    assert float(trainer.callback_metrics["train_loss"]) == pytest.approx(weighted)


def _fit_in_steps_of_64(chunked: bool, batch_norm: bool):
    # 449 rows: the last step has one row, which batch normalisation skips.
    codes, target = coded_problem(n=449)
    with seeded(0):
        module = EntityEmbeddingModule(
            CARDINALITIES,
            [3, 4, 6],
            hidden_units=(16,),
            dropout=0.2,
            batch_norm=batch_norm,
            category_dropout=0.1,
            learning_rate_schedule="cosine",
        )
    data = TensorDataModule(
        codes,
        target,
        batch_size=64 * (4 if chunked else 1),
        validation_fraction=0.0,
        random_state=0,
        drop_single=batch_norm,
    )
    if chunked:
        module.chunk_steps(64)
    trainer = _quiet_trainer(max_epochs=3)
    with seeded(0):
        trainer.fit(module, datamodule=data)
    return module, trainer


@pytest.mark.parametrize("batch_norm", [False, True])
def test_chunked_steps_are_the_steps_lightning_takes(batch_norm):
    # Same steps, order and random draws (dropout, category dropout), and the
    # cosine stepped per step: the same weights, bit for bit.
    stepped, stepped_trainer = _fit_in_steps_of_64(False, batch_norm)
    chunked, chunked_trainer = _fit_in_steps_of_64(True, batch_norm)
    assert chunked_trainer.num_training_batches == 2
    weights = [m.state_dict() for m in (stepped, chunked)]
    assert list(weights[0]) == list(weights[1])
    for name, value in weights[0].items():
        torch.testing.assert_close(value, weights[1][name], rtol=0, atol=0)
    rates = [
        [g["lr"] for g in t.optimizers[0].param_groups]
        for t in (stepped_trainer, chunked_trainer)
    ]
    assert rates[0] == rates[1] == [0.0, 0.0]  # both at the cosine's end
    # Lightning weighs a logged value by the batch it was logged in: the last
    # bit may differ.
    for name in ("train_loss", "train_rmse"):
        assert float(stepped_trainer.callback_metrics[name]) == pytest.approx(
            float(chunked_trainer.callback_metrics[name]), rel=1e-6
        )


def test_chunked_steps_need_a_trainer_that_leaves_the_steps_to_the_module():
    codes, target = coded_problem(n=128)
    module = EntityEmbeddingModule(CARDINALITIES, [3, 4, 6], hidden_units=(8,))
    with pytest.raises(ValueError, match=r"rows must be >= 1, got 0"):
        module.chunk_steps(0)
    module.chunk_steps(32)
    # (Lightning itself refuses clipping and accumulation with manual steps.)
    trainer = L.Trainer(
        max_epochs=1, logger=False, enable_progress_bar=False, precision="bf16-mixed"
    )
    with pytest.raises(
        ValueError,
        match=r"chunk_steps needs a Trainer with one process, 32-bit precision "
        r"and no gradient clipping or accumulation",
    ):
        trainer.fit(module, datamodule=TensorDataModule(codes, target, batch_size=128))


class StepCounter(L.Callback):
    def __init__(self):
        self.steps = 0

    def on_train_batch_end(self, *args):
        self.steps += 1


def test_train_chunks_steps_unless_callbacks_watch_them():
    codes, target = coded_problem(n=500)  # 450 training rows: 8 steps of 64
    data = TensorDataModule(codes, target, batch_size=64, validation_fraction=0.1)
    module = EntityEmbeddingModule(CARDINALITIES, [3, 4, 6], hidden_units=(8,))
    train(module, data, max_epochs=2)
    assert module.step_rows == 64 and not module.automatic_optimization
    counter = StepCounter()
    data = TensorDataModule(codes, target, batch_size=64, validation_fraction=0.1)
    module = EntityEmbeddingModule(CARDINALITIES, [3, 4, 6], hidden_units=(8,))
    train(module, data, max_epochs=2, callbacks=[counter])
    assert module.step_rows is None and counter.steps == 2 * 8
