"""The training layer: train() with its callbacks, fit_network() from a
TrainingConfig, and DDP launched as Lightning launches it."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import lightning as L
import numpy as np
import pytest
import torch
from training_data import (
    CARDINALITIES,
    coded_problem,
    interrupt_at_epoch,
    training_config,
)

import entembed._training as training
from entembed import EntityEmbedder, EntityEmbeddingModule, TensorDataModule, load
from entembed._training import (
    RestoreBestWeights,
    default_threads,
    empirical_bayes_rows,
    fit_network,
    idle_cpus,
    seeded,
    train,
)
from entembed._vocabulary import N_RESERVED_CODES, UNKNOWN_CODE
from entembed.datasets import make_synthetic


def _fit(encoder="embedding", seed=0, max_epochs=2, **kwargs):
    codes, target = coded_problem()
    data = TensorDataModule(
        codes,
        target,
        batch_size=64,
        random_state=seed,
        validation_fraction=kwargs.pop("validation_fraction", 0.2),
    )
    callbacks = kwargs.pop("callbacks", None)
    with seeded(seed):
        module = EntityEmbeddingModule(
            CARDINALITIES,
            [3, 4, 6],
            hidden_units=(16,),
            encoder=encoder,
            learning_rate=1e-2,
            **kwargs,
        )
        history = train(
            module, data, max_epochs=max_epochs, accelerator="cpu", callbacks=callbacks
        )
    return module, history


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


def test_restore_best_weights_keeps_the_best_validation_epoch():
    codes, target = coded_problem()
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
    codes, target = coded_problem()
    target = torch.randn(len(target))  # nothing to learn: validation stalls
    data = TensorDataModule(codes, target, batch_size=64, validation_fraction=0.3)
    with seeded(0):
        module = EntityEmbeddingModule(
            CARDINALITIES, [3, 4, 6], hidden_units=(64,), learning_rate=3e-2
        )
        history = train(module, data, max_epochs=50, patience=2)
    assert len(history) < 50


def test_fit_network_learns_on_the_targets_scale_and_restores_threads():
    codes, target = coded_problem()
    rng = np.random.default_rng(0)
    numeric = rng.normal(50, 10, (len(codes), 1)).astype(np.float32)
    target = 1000 + 100 * target.numpy() + numeric[:, 0]
    threads = torch.get_num_threads()
    network, history = fit_network(
        training_config(n_threads=2), codes.numpy(), numeric, target.astype(np.float32)
    )
    assert torch.get_num_threads() == threads
    assert len(history) == 4 and history[-1]["val_loss"] < history[0]["val_loss"]
    # Both standardisations live in the network: it takes raw inputs and
    # returns predictions in the target's units.
    np.testing.assert_allclose(network.output_mean, [target.mean()], rtol=1e-5)
    np.testing.assert_allclose(network.numeric_mean, [numeric.mean()], rtol=1e-5)
    predicted = network.forward(codes.numpy(), numeric)[:, 0]
    residual = np.sqrt(np.mean((predicted - target) ** 2))
    assert residual < 0.5 * target.std()


def test_default_threads_leave_the_cpus_other_processes_hold(monkeypatch):
    # Two CPUs; over the window another process kept CPU 1 busy (every tick
    # of it busy) and CPU 0 idle.
    def reading(own_ticks):
        cpus = iter([{0: (100, 200), 1: (50, 200)}, {0: (110, 210), 1: (50, 210)}])
        own = iter(own_ticks)
        monkeypatch.setattr(training, "_cpu_times", lambda: next(cpus))
        monkeypatch.setattr(training, "_own_ticks", lambda: next(own))

    monkeypatch.setattr(training.os, "sched_getaffinity", lambda _: {0, 1})
    reading([7, 7])
    assert idle_cpus(window_s=0) == pytest.approx(1.0)
    reading([7, 17])  # the busy ticks were this process's own (spinning threads)
    assert idle_cpus(window_s=0) == pytest.approx(2.0)
    monkeypatch.setattr(training, "_chosen_threads", None)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(training, "idle_cpus", lambda: 1.0)
    assert default_threads() == 1
    monkeypatch.setattr(training, "idle_cpus", lambda: 2.0)
    assert default_threads() == 1  # a choice holds for the folds that follow
    monkeypatch.setattr(training, "_chosen_threads", None)
    assert default_threads() == 2
    monkeypatch.setattr(training, "_chosen_threads", None)
    monkeypatch.setattr(training, "idle_cpus", lambda: 0.1)
    assert default_threads() == 1  # at least one
    monkeypatch.setattr(training, "_chosen_threads", None)
    monkeypatch.setattr(training, "idle_cpus", lambda: None)  # no /proc/stat
    assert default_threads() == 2


def test_fit_network_is_reproducible_from_its_config():
    codes, target = coded_problem()
    numeric = np.zeros((len(codes), 1), np.float32)
    runs = [
        fit_network(training_config(seed=seed), codes.numpy(), numeric, target.numpy())[
            0
        ]
        for seed in (5, 5, 6)
    ]
    for a, b, c in zip(*(run.tables for run in runs), strict=True):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


@pytest.mark.gpu
def test_training_on_gpu_matches_cpu_quality():
    _, history = _fit(max_epochs=6)
    codes, target = coded_problem()
    data = TensorDataModule(codes, target, batch_size=64, validation_fraction=0.2)
    with seeded(0):
        gpu = EntityEmbeddingModule(
            CARDINALITIES, [3, 4, 6], hidden_units=(16,), learning_rate=1e-2
        )
        gpu_history = train(gpu, data, max_epochs=6, accelerator="gpu", devices=1)
    assert gpu_history[-1]["val_loss"] < 1.5 * history[-1]["val_loss"]


FAST = {
    "embedding_dims": 4,
    "hidden_units": (32,),
    "max_epochs": 6,
    "batch_size": 128,
    "random_state": 0,
}


DDP = {
    "embedding_dims": 4,
    "hidden_units": (32,),
    "max_epochs": 10,
    "random_state": 0,
    # The categories' pieces of text train too: their sparse gradients are
    # averaged over the processes as the tables' are.
    "string_features": "char",
}


DDP_SCRIPT = """
import json, os, sys
from entembed import EntityEmbeddingModule, EntityEmbeddingRegressor
from entembed.datasets import make_synthetic

sparse_steps = []  # whether each DDP step's table gradients were sparse
averaged = EntityEmbeddingModule.on_before_optimizer_step
def on_before_optimizer_step(self, optimizer):
    averaged(self, optimizer)
    if self.trainer.world_size > 1:
        sparse_steps.append(
            all(p.grad.is_sparse for p in self.network.table_parameters()))
EntityEmbeddingModule.on_before_optimizer_step = on_before_optimizer_step

if __name__ == "__main__":  # Lightning re-runs this script for rank 1
    X, y, _ = make_synthetic(8000, (20, 30), random_state=0)
    train, test = slice(0, 6000), slice(6000, None)
    params = {params!r}
    # 2 ranks x 64 rows take the same rows per step as 1 process x 128.
    ddp = EntityEmbeddingRegressor(strategy="ddp", devices=2, accelerator="cpu",
                                   batch_size=64, **params)
    ddp.fit(X[train], y[train])
    if int(os.environ.get("LOCAL_RANK", "0")) == 0:
        single = EntityEmbeddingRegressor(accelerator="cpu", batch_size=128, **params)
        single.fit(X[train], y[train])
        scores = {{name: model.score(X[test], y[test])
                   for name, model in (("ddp", ddp), ("single", single))}}
        scores["sparse_steps"] = sparse_steps
        scores["table_gap"] = max(
            float(abs(a - b).max())
            for a, b in zip(ddp.network_.tables, single.network_.tables))
        ddp.save({model_path!r})
        json.dump(scores, open({scores_path!r}, "w"))
"""


@pytest.mark.slow
def test_ddp_training_on_two_cpu_processes_matches_single_process(tmp_path):
    script = tmp_path / "train_ddp.py"
    script.write_text(
        textwrap.dedent(
            DDP_SCRIPT.format(
                params=DDP,
                model_path=str(tmp_path / "ddp.npz"),
                scores_path=str(tmp_path / "scores.json"),
            )
        )
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PL_DISABLE_FORK": "1"}
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads((tmp_path / "scores.json").read_text())
    # Each rank takes every other row of the same permutation, and DDP averages
    # the two half-batch gradients: the same steps as one process on the whole
    # batch, so the two fits agree to float rounding.
    assert scores["ddp"] > 0.9, scores
    assert abs(scores["ddp"] - scores["single"]) < 1e-3, scores
    assert scores["table_gap"] < 1e-4, scores
    # The tables learn with sparse gradients under DDP too, averaged over the
    # processes by the module (DDP's reducer leaves them out).
    assert scores["sparse_steps"] and all(scores["sparse_steps"])
    X, _, _ = make_synthetic(50, (20, 30), random_state=1)
    assert load(tmp_path / "ddp.npz").predict(X).shape == (50,)


def test_more_devices_than_the_machine_has_is_refused_before_launch():
    X, y, _ = make_synthetic(100, (5,), random_state=0)
    with pytest.raises(
        ValueError,
        match=r"devices=4096 asks for more devices than "
        r"this machine has \(\d+ CPU core\(s\)\)",
    ):
        EntityEmbedder(accelerator="cpu", devices=4096, strategy="ddp", **FAST).fit(
            X, y
        )


# -------------------------------------------------------------- interrupts
@pytest.mark.parametrize("custom_handler", [False, True])
def test_ctrl_c_during_fit_raises_keyboard_interrupt_in_the_caller(
    monkeypatch, custom_handler
):
    pressed = []

    def handler(signum, frame):  # as IPython's kernel does
        pressed.append(signum)
        raise KeyboardInterrupt

    mine = handler if custom_handler else signal.default_int_handler
    previous = signal.signal(signal.SIGINT, mine)
    try:
        interrupt_at_epoch(monkeypatch, 2)
        X, y, _ = make_synthetic(300, (5,), random_state=0)
        with pytest.raises(KeyboardInterrupt):
            EntityEmbedder(hidden_units=(4,), max_epochs=5, random_state=0).fit(X, y)
        # Lightning left SIGINT ignored; the caller's handler is back.
        assert signal.getsignal(signal.SIGINT) is mine
        assert pressed == ([signal.SIGINT] if custom_handler else [])
    finally:
        signal.signal(signal.SIGINT, previous)


# ------------------------------------------------------ resumable training
RESUME_SCRIPT = """
import os, signal, sys
import numpy as np
from entembed import EntityEmbedder
from entembed._training import History
from entembed.datasets import make_synthetic

kill_at = int(sys.argv[1])
ran = []  # the epochs this process trained
original = History.on_train_epoch_end
def on_train_epoch_end(self, trainer, pl_module):
    original(self, trainer, pl_module)
    ran.append(trainer.current_epoch + 1)
    if trainer.current_epoch + 1 == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
History.on_train_epoch_end = on_train_epoch_end

X, y, _ = make_synthetic(1500, (20, 40), random_state=0)
embedder = EntityEmbedder(
    hidden_units=(16,), max_epochs=6, patience=None, dropout=0.2, random_state=0,
    learning_rate_schedule="cosine", checkpoint_dir={folder!r},
).fit(X, y)
np.save(sys.argv[2], embedder.transform(X))
print(ran, embedder.history_["epoch"].tolist())
"""


@pytest.mark.slow
def test_a_killed_fit_resumes_from_its_last_epoch_and_ends_the_same(tmp_path):
    script = tmp_path / "fit.py"
    script.write_text(RESUME_SCRIPT.format(folder=str(tmp_path / "checkpoints")))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def run(kill_at, out):
        return subprocess.run(
            [sys.executable, str(script), str(kill_at), str(tmp_path / out)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    killed = run(3, "never.npy")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert list((tmp_path / "checkpoints").iterdir())  # the run's checkpoint
    resumed = run(0, "resumed.npy")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    # It trained epochs 3 to 6 only; its history spans both processes.
    assert resumed.stdout.strip() == "[3, 4, 5, 6] [1, 2, 3, 4, 5, 6]"
    assert list((tmp_path / "checkpoints").iterdir()) == []  # removed when done
    fresh = run(0, "fresh.npy")
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    np.testing.assert_array_equal(
        np.load(tmp_path / "resumed.npy"), np.load(tmp_path / "fresh.npy")
    )


def _unknown_rows_after_training(category_dropout):
    """Each table's unknown row before and after 2 epochs on data without it."""
    codes, target = coded_problem()
    codes = codes.clamp_min(N_RESERVED_CODES)  # no unknown or missing rows
    data = TensorDataModule(codes, target, batch_size=64, random_state=0)
    with seeded(0):
        module = EntityEmbeddingModule(
            CARDINALITIES,
            [3, 4, 6],
            hidden_units=(16,),
            category_dropout=category_dropout,
        )
        before = [t[UNKNOWN_CODE].detach().clone() for t in module.network.tables()]
        train(module, data, max_epochs=2, accelerator="cpu")
    after = [t[UNKNOWN_CODE].detach() for t in module.network.tables()]
    return before, after, module


def test_category_dropout_trains_the_unknown_vector():
    before, after, _ = _unknown_rows_after_training(0.0)
    for b, a in zip(before, after, strict=True):
        assert torch.equal(a, b)  # no row reads it: it stays at its random draw
    before, after, module = _unknown_rows_after_training(0.2)
    for b, a in zip(before, after, strict=True):
        assert (a - b).abs().max() > 1e-3
    # Validation and prediction read every code: the same batch, the same loss.
    codes, target = coded_problem(n=64)
    batch = {"codes": codes, "target": target}
    module.eval()
    with torch.no_grad():
        losses = {module._shared_step(batch, "val", False).item() for _ in range(3)}
    assert len(losses) == 1


def test_category_dropout_must_leave_some_codes():
    with pytest.raises(
        ValueError, match=r"category_dropout must be in \[0, 1\), got 1"
    ):
        EntityEmbeddingModule(CARDINALITIES, [3, 4, 6], category_dropout=1.0)


def test_empirical_bayes_shrinks_a_noise_column_more_than_a_signal_column():
    rng = np.random.default_rng(0)
    n = 4000
    codes = np.column_stack([rng.integers(2, 52, n), rng.integers(2, 52, n)])
    effect = rng.normal(0, 1.0, 52)
    target = effect[codes[:, 0]] + rng.normal(0, 1.0, n)  # column 1 is noise
    counts = [np.bincount(codes[:, j], minlength=52) for j in range(2)]
    signal, noise = empirical_bayes_rows(codes, target, "regression", counts)
    # Within-category variance 1 over between-category variance about 1.
    assert 0.5 < signal < 2.0
    assert noise > 20 * signal
    labels = (target > 0).astype(int)
    classes = np.digitize(target, [-1, 1])  # three classes, one-hot inside
    for task, y in (("binary", labels), ("multiclass", classes)):
        signal, noise = empirical_bayes_rows(codes, y, task, counts)
        assert noise > 5 * signal


def test_shrinkage_auto_trains_and_serves():
    X, y = make_synthetic(600, (8, 40), random_state=0)[:2]
    fitted = EntityEmbedder(
        hidden_units=(16,), max_epochs=2, shrinkage="auto", random_state=0
    ).fit(X, y)
    assert np.isfinite(fitted.transform(X)).all()


class LearningRates(L.Callback):
    """Both learning rates (dense layers, tables) at every optimiser step."""

    def __init__(self):
        self.rates = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.rates.append([g["lr"] for g in trainer.optimizers[0].param_groups])


def test_cosine_schedule_lowers_both_learning_rates_to_zero_by_max_epochs():
    rates = LearningRates()
    _fit(max_epochs=3, learning_rate_schedule="cosine", callbacks=[rates])
    steps = len(rates.rates)
    dense, tables = np.array(rates.rates).T
    expected = 0.5 * (1 + np.cos(np.pi * np.arange(steps) / steps))
    np.testing.assert_allclose(dense, 1e-2 * expected, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(tables, 100.0 * expected, rtol=1e-6, atol=1e-9)
    assert dense[-1] < 1e-2 * 1e-2  # the last step's rate is nearly 0


def test_constant_schedule_keeps_the_learning_rates():
    rates = LearningRates()
    _fit(max_epochs=2, callbacks=[rates])
    assert np.unique(np.array(rates.rates), axis=0).tolist() == [[1e-2, 100.0]]


def test_schedule_epochs_sets_the_cosine_length_apart_from_max_epochs():
    rates = LearningRates()
    _fit(
        max_epochs=1,
        learning_rate_schedule="cosine",
        schedule_epochs=2,
        callbacks=[rates],
    )
    # One epoch of a two-epoch cosine: it ends half-way down, at 1/2.
    tables = np.array(rates.rates)[:, 1]
    steps = len(tables)
    assert tables[-1] == pytest.approx(
        100.0 * 0.5 * (1 + np.cos(np.pi * (steps - 1) / (2 * steps)))
    )


def test_cosine_schedule_needs_a_length():
    codes, target = coded_problem()
    data = TensorDataModule(codes, target, batch_size=64)
    module = EntityEmbeddingModule(
        CARDINALITIES, [3, 4, 6], hidden_units=(16,), learning_rate_schedule="cosine"
    )
    trainer = L.Trainer(
        max_epochs=-1,  # and no max_steps: no end for the cosine to reach
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    with pytest.raises(
        ValueError,
        match=r"learning_rate_schedule='cosine' needs a length: a Trainer with "
        r"max_epochs or max_steps \(or the module's schedule_epochs\)",
    ):
        trainer.fit(module, datamodule=data)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"learning_rate_schedule": "step"},
            r"learning_rate_schedule must be one of \('constant', 'cosine'\), "
            r"got 'step'",
        ),
        ({"schedule_epochs": 0}, r"schedule_epochs must be >= 1 or None, got 0"),
    ],
)
def test_schedule_settings_are_checked(settings, message):
    with pytest.raises(ValueError, match=message):
        EntityEmbeddingModule(CARDINALITIES, [3, 4, 6], **settings)
