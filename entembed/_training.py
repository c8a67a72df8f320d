"""Training: codes and targets in, a numpy network and its history out.

:func:`fit_network` is the only code that builds a Trainer, standardises the
target and the numeric inputs, seeds the run and restores the best weights. The
facade calls it with a :class:`TrainingConfig`; nothing here reads an estimator.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import shutil
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping

from ._data_module import TensorDataModule
from ._lightning_module import (
    EntityEmbeddingModule,
    check_finite_training,
    chunked_steps_work,
    learning_rates,
)
from ._numpy_network import NumpyNetwork
from ._training_config import StartingPoint, TrainingConfig

# Optimiser steps per batch Lightning serves, where the Trainer allows it (see
# EntityEmbeddingModule.chunk_steps).
STEPS_PER_BATCH = 32


class History(Callback):
    """Per-epoch metrics: a list of dicts with ``epoch``, ``train_loss``, ..."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        row = {"epoch": trainer.current_epoch + 1}
        row.update({k: float(v) for k, v in sorted(trainer.callback_metrics.items())})
        self.epochs.append(row)

    def state_dict(self) -> dict:
        return {"epochs": self.epochs}

    def load_state_dict(self, state_dict: dict) -> None:
        self.epochs = list(state_dict["epochs"])


class EpochProgress(Callback):
    """One progress bar over epochs, with the latest losses (``verbose=1``),
    named after the run (``"fit"``, ``"fold 2/5"``)."""

    def __init__(self, label: str = "fit") -> None:
        self.label = label

    def on_fit_start(self, trainer, pl_module) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=trainer.max_epochs, desc=self.label, unit="epoch", leave=False
        )

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        metrics = trainer.callback_metrics
        self.bar.set_postfix(
            {
                k: f"{float(metrics[k]):.4g}"
                for k in ("train_loss", "val_loss")
                if k in metrics
            }
        )
        self.bar.update(1)

    def on_fit_end(self, trainer, pl_module) -> None:
        self.bar.close()


class RestoreBestWeights(Callback):
    """Keep the weights of the epoch with the lowest ``monitor`` and load them
    when fitting ends (Lightning's EarlyStopping stops but does not restore)."""

    def __init__(self, monitor: str = "val_loss") -> None:
        self.monitor = monitor
        self.best_score = float("inf")
        self.best_epoch: int | None = None
        self._state: dict | None = None

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        score = float(trainer.callback_metrics[self.monitor])
        if score < self.best_score:
            self.best_score, self.best_epoch = score, trainer.current_epoch + 1
            self._state = copy.deepcopy(pl_module.state_dict())

    def on_fit_end(self, trainer, pl_module) -> None:
        if self._state is not None:
            pl_module.load_state_dict(self._state)

    def state_dict(self) -> dict:
        return {
            "score": self.best_score,
            "epoch": self.best_epoch,
            "state": self._state,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        self.best_score, self.best_epoch = state_dict["score"], state_dict["epoch"]
        self._state = state_dict["state"]


class RandomState(Callback):
    """Carry torch's random state in checkpoints: dropout after a resume draws
    what it would have drawn in an uninterrupted fit."""

    def state_dict(self) -> dict:
        return {"torch": torch.get_rng_state()}

    def load_state_dict(self, state_dict: dict) -> None:
        torch.set_rng_state(state_dict["torch"])


class EpochCheckpoint(Callback):
    """Write a checkpoint at the end of every training epoch, after the other
    callbacks (it comes last in the list): the history and the best weights
    in it include that epoch. Lightning writes it atomically."""

    def __init__(self, path) -> None:
        self.path = path

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        trainer.save_checkpoint(self.path)


@contextlib.contextmanager
def seeded(random_state: int | None) -> Iterator[None]:
    """Run under a fixed torch seed without changing the caller's global RNG."""
    if random_state is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)
        yield


@contextlib.contextmanager
def _quiet_lightning(verbose: int) -> Iterator[None]:
    # Lightning reports the accelerator choice (and tips) on every fit; a
    # transformer inside a grid search should not print unless asked.
    logger = logging.getLogger("lightning.pytorch")
    level = logger.level
    if verbose < 2:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            # Lightning 2.6 calls a torch pytree API that torch >= 2.10 deprecates.
            warnings.filterwarnings("ignore", message=".*isinstance.treespec, LeafSpec")
            yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def _keep_sigint_handler() -> Iterator[None]:
    """Put the caller's SIGINT handler back after a fit, however it ended.

    After a Ctrl-C, Lightning ignores SIGINT for the rest of the process: a
    notebook's kernel would stop answering Ctrl-C.
    """
    main_thread = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGINT) if main_thread else None
    try:
        yield
    finally:
        if handler is not None:
            signal.signal(signal.SIGINT, handler)


def check_devices(accelerator, devices, num_nodes: int = 1) -> None:
    """Refuse, before any process starts, more devices than this machine has."""
    if isinstance(devices, str) and devices.isdigit():
        devices = int(devices)
    if not isinstance(devices, int) or isinstance(devices, bool) or devices < 1:
        return  # "auto", -1 and lists of indices: Lightning resolves and checks
    if accelerator in ("gpu", "cuda") or (
        accelerator == "auto" and torch.cuda.is_available()
    ):
        available, kind = torch.cuda.device_count(), "CUDA device(s)"
    elif accelerator in ("cpu", "auto"):
        available, kind = os.cpu_count() or 1, "CPU core(s)"
    else:
        return
    if devices > available:
        raise ValueError(
            f"devices={devices} asks for more devices than this machine has "
            f"({available} {kind}). Lower devices, or spread the run over machines "
            f"with num_nodes (now {num_nodes})."
        )


def train(
    module: EntityEmbeddingModule,
    data: TensorDataModule,
    *,
    max_epochs: int = 20,
    accelerator: str = "auto",
    devices="auto",
    strategy="auto",
    num_nodes: int = 1,
    precision=None,
    patience: int | None = None,
    gradient_clip_val: float | None = None,
    verbose: int = 0,
    progress_label: str = "fit",
    callbacks: list[Callback] | None = None,
    logger=None,
    checkpoint_dir: str | os.PathLike | None = None,
) -> list[dict[str, float]]:
    """Fit ``module`` on ``data`` and return the per-epoch history.

    With a validation split, the weights of the best validation epoch are
    restored at the end, and training stops after ``patience`` epochs without
    improvement (``None``: no early stopping). A NaN or infinite training loss
    raises ``FloatingPointError`` naming the epoch. With ``checkpoint_dir``,
    each epoch ends with a checkpoint there (``last.ckpt``), and a fit that
    finds one resumes from it. ``callbacks`` and ``logger`` are the caller's
    Lightning objects; they run beside the history, early stopping and
    best-weight callbacks. Without them (and without checkpoints), where the
    Trainer allows it, ``data`` serves batches of ``STEPS_PER_BATCH`` steps
    that ``module`` takes by itself (see
    :meth:`~entembed._lightning_module.EntityEmbeddingModule.chunk_steps`): the
    same steps, with Lightning's per-batch work once per batch.
    """
    check_devices(accelerator, devices, num_nodes)
    history = History()
    extra = [history, *(callbacks or [])]
    if verbose >= 1:
        extra.append(EpochProgress(progress_label))
    if data.validation_fraction > 0:
        if not any(isinstance(c, RestoreBestWeights) for c in extra):
            extra.append(RestoreBestWeights("val_loss"))  # one: its state is saved
        if patience is not None:
            extra.append(EarlyStopping("val_loss", patience=patience, mode="min"))
    resume_from = _checkpoints(checkpoint_dir, extra)
    with _quiet_lightning(verbose), _keep_sigint_handler():
        trainer = L.Trainer(
            max_epochs=max_epochs,
            accelerator=accelerator,
            devices=devices,
            strategy=strategy,
            num_nodes=num_nodes,
            precision=precision,
            gradient_clip_val=gradient_clip_val,
            callbacks=extra,
            logger=logger if logger is not None else False,
            enable_checkpointing=False,
            enable_model_summary=False,
            enable_progress_bar=False,
            num_sanity_val_steps=0,
            limit_val_batches=None if data.validation_fraction > 0 else 0,
        )
        if not (callbacks or logger or checkpoint_dir) and chunked_steps_work(trainer):
            # The same steps, with Lightning's per-batch work once per
            # STEPS_PER_BATCH of them; the caller's callbacks and loggers (and
            # checkpoints, which count steps) see every step instead.
            module.chunk_steps(data.batch_size)
            data.batch_size *= STEPS_PER_BATCH
        _fit_interruptibly(trainer, module, data, resume_from)
    check_finite_training(module)
    if not all(torch.isfinite(p).all() for p in module.parameters()):
        raise FloatingPointError(
            f"Training produced NaN or infinite weights. Lower "
            f"{learning_rates(module)} or set gradient_clip_val."
        )
    return history.epochs


# How long a choice of default_threads holds: the folds of one cross-fit
# (seconds apart) share it instead of each waiting for a new reading.
_THREADS_HOLD_S = 10.0
_chosen_threads: tuple[float, int] | None = None


def default_threads() -> int:
    """torch threads for a fit with ``n_threads=None``: torch's default (the
    machine's cores, or ``OMP_NUM_THREADS``), less the CPUs that other
    processes keep busy at the start of the fit, at least 1.

    torch's threads wait for each other at every operation: where another
    process holds one of their cores, a fit on as many threads as cores runs
    several times slower than on the cores left (the threads page in
    ``benchmarks/results``). Where CPU use cannot be read (no ``/proc/stat``),
    torch's default.
    """
    global _chosen_threads
    now = time.monotonic()
    if _chosen_threads is not None and now - _chosen_threads[0] < _THREADS_HOLD_S:
        return _chosen_threads[1]
    most = torch.get_num_threads()
    idle = idle_cpus() if most > 1 else None
    chosen = most if idle is None else max(1, min(most, int(idle + 0.3)))
    _chosen_threads = (now, chosen)
    return chosen


def idle_cpus(window_s: float = 0.05) -> float | None:
    """How many of this process's CPUs other processes left idle over
    ``window_s`` seconds, from ``/proc/stat``; None where it cannot be read.

    This process's own CPU time in the window counts as idle: torch's threads
    spin for a while after a fit, and must not count as another's work.
    """
    first, own_first = _cpu_times(), _own_ticks()
    if first is None:
        return None
    time.sleep(window_s)
    second, own_second = _cpu_times(), _own_ticks()
    if second is None:
        return None
    try:
        usable = os.sched_getaffinity(0) & set(first) & set(second)
    except AttributeError:  # not Linux
        usable = set(first) & set(second)
    idle = sum(second[c][0] - first[c][0] for c in usable)
    total = sum(second[c][1] - first[c][1] for c in usable)
    if total <= 0:  # no tick in the window: nothing ran
        return float(len(usable))
    if own_first is not None and own_second is not None:
        idle += own_second - own_first
    return len(usable) * min(1.0, idle / total)


def _cpu_times() -> dict[int, tuple[int, int]] | None:
    """Each CPU's (idle, total) ticks since boot, from ``/proc/stat``."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            lines = stat.read().splitlines()
    except OSError:
        return None
    times = {}
    for line in lines:
        name, *ticks = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            values = [int(t) for t in ticks]
            times[int(name[3:])] = (values[3] + values[4], sum(values[:8]))
    return times or None


def _own_ticks() -> int | None:
    """This process's CPU ticks (user and system, all threads) since it began."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[11]) + int(fields[12])  # utime, stime


def _fit_interruptibly(trainer, module, data, resume_from) -> None:
    """``trainer.fit``; Ctrl-C reaches the caller as a KeyboardInterrupt, as
    Lightning turns it into sys.exit(1), silent from a command line and fatal
    to a notebook."""
    try:
        trainer.fit(module, datamodule=data, ckpt_path=resume_from)
    except SystemExit:
        if trainer.interrupted:
            raise KeyboardInterrupt from None
        raise


def _checkpoints(checkpoint_dir, callbacks: list) -> str | None:
    """With ``checkpoint_dir``: add the callbacks that write a checkpoint at
    each epoch's end, and return the checkpoint to resume from, if any."""
    if checkpoint_dir is None:
        return None
    last = Path(checkpoint_dir) / "last.ckpt"
    callbacks += [RandomState(), EpochCheckpoint(last)]
    return str(last) if last.is_file() else None


def _standardisation(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (1 where a column is constant).

    NaN/inf inputs make these NaN; the data module then raises, naming the
    columns, before any training step.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        mean = np.atleast_1d(values.mean(axis=0)).astype(np.float32)
        std = np.atleast_1d(values.std(axis=0)).astype(np.float32)
    std[~(std > 0)] = 1.0
    return mean, std


def fit_network(
    config: TrainingConfig,
    codes: np.ndarray,
    numeric: np.ndarray,
    target: np.ndarray,
    sample_weight: np.ndarray | None = None,
    start: StartingPoint | None = None,
) -> tuple[NumpyNetwork, list[dict[str, float]]]:
    """Train the network that ``config`` describes and return its numpy copy.

    Parameters
    ----------
    config : TrainingConfig
        The network, optimiser, loop and Trainer settings, and the seed.
    codes : ndarray of shape (n_rows, n_columns)
        Vocabulary codes, one column per table of ``config.cardinalities``.
    numeric : ndarray of shape (n_rows, n_numeric), float32
        Numeric inputs (zero columns for none), standardised inside the network.
    target : ndarray of shape (n_rows,) or (n_rows, n_outputs)
        Encoded as :func:`entembed._target.prepare_target` does. A regression
        network learns the standardised target and maps its outputs back, so one
        learning rate suits prices and probabilities alike.
    sample_weight : ndarray of shape (n_rows,) or None
        Weights of the training loss.
    start : StartingPoint or None
        Tables (and, for a warm start, layers and scalings) to start from
        instead of a random draw.

    Returns
    -------
    network : NumpyNetwork
        The weights of the best validation epoch (the last without validation).
    history : list of dict
        Per-epoch metrics.
    """
    previous = start.network if start is not None else None
    output_mean, output_scale, target = _scaled_target(config, target, previous)

    def build():
        counts = [
            np.bincount(codes[:, j], minlength=n)
            for j, n in enumerate(config.cardinalities)
        ]
        rows = (
            empirical_bayes_rows(codes, target, config.task, counts)
            if config.shrinkage == "auto"
            else float(config.shrinkage)
        )
        scaling = _standardisation(numeric) if numeric.shape[1] else None
        module = _module(config, counts, rows, scaling, start)
        data = TensorDataModule(
            codes,
            target,
            numeric=numeric if numeric.shape[1] else None,
            sample_weight=sample_weight,
            numeric_names=config.numeric_columns,
            batch_size=config.batch_size,
            validation_fraction=config.validation_fraction,
            random_state=config.seed,
            # Batch normalisation cannot train on a final batch of one row.
            drop_single=config.batch_norm,
        )
        return module, data

    fingerprint = (
        codes,
        numeric,
        target,
        sample_weight,
        *(start.arrays() if start is not None else ()),
    )
    network, history = _run(config, build, fingerprint)
    network.output_mean, network.output_scale = output_mean, output_scale
    return network, history


def fit_streamed(
    config: TrainingConfig,
    table,
    start: StartingPoint | None = None,
    fold: tuple[int, int] | None = None,
) -> tuple[NumpyNetwork, list[dict[str, float]]]:
    """:func:`fit_network` on a table read piece by piece
    (:class:`~entembed._streaming.StreamedTable`): its first pass gave the
    counts and the scalings, and batches are read as training needs them.
    ``fold``: ``(k, n_folds)``, a cross-fitting fold's fit, without fold
    ``k``'s rows."""
    from ._stream_data import StreamDataModule

    def build():
        counts = table.vocabulary.code_counts()
        scaling = (table.numeric_mean, table.numeric_scale) if table.numeric else None
        module = _module(config, counts, float(config.shrinkage), scaling, start)
        data = StreamDataModule(
            table,
            batch_size=config.batch_size,
            validation_fraction=config.validation_fraction,
            random_state=config.seed,
            drop_single=config.batch_norm,
            fold=fold,
        )
        return module, data

    fingerprint = (
        np.array(fold or (-1, 0)),
        np.frombuffer(
            "\n".join(p.fingerprint for p in table.source.pieces).encode(), np.uint8
        ),
        table.piece_rows,
        *(start.arrays() if start is not None else ()),
    )
    network, history = _run(config, build, fingerprint)
    network.output_mean, network.output_scale = table.target_mean, table.target_scale
    return network, history


def _run(config: TrainingConfig, build, fingerprint: tuple):
    """Train the module and data that ``build()`` makes, under the config's
    threads, seed and checkpoints; the numpy network and the history."""
    checkpoints = None
    if config.checkpoint_dir is not None:
        checkpoints = (
            Path(config.checkpoint_dir) / f"fit-{config.fingerprint(*fingerprint)}"
        )
    threads = torch.get_num_threads()
    torch.set_num_threads(
        config.n_threads if config.n_threads is not None else default_threads()
    )
    try:
        with seeded(config.seed):
            module, data = build()
            history = train(module, data, **_trainer_settings(config, checkpoints))
    finally:
        torch.set_num_threads(threads)
    if checkpoints is not None:  # the fit is complete: nothing left to resume
        shutil.rmtree(checkpoints, ignore_errors=True)
    module.network.eval()
    return module.network.to_numpy(), history


def _scaled_target(config: TrainingConfig, target: np.ndarray, previous):
    """(mean, scale, target the network learns): a regression learns its
    standardised target (a warm start keeps the scaling its head learned
    under); other tasks learn theirs as given (mean and scale None)."""
    if config.task != "regression":
        return None, None, target
    kept = () if previous is None else (previous.output_mean, previous.output_scale)
    if kept and kept[0] is not None and kept[1] is not None:
        mean, scale = kept[0], kept[1]
    else:
        mean, scale = _standardisation(target)
    shape = target.shape[1:]
    with np.errstate(invalid="ignore", over="ignore"):
        target = (target - mean.reshape(shape)) / scale.reshape(shape)
    return mean, scale, target


def _module(config, counts, shrinkage_rows, numeric_scaling, start):
    """The Lightning module ``config`` describes, with its shrinkage (by the
    rows of each code), numeric scaling (means, deviations; None without
    numeric inputs) and starting weights set."""
    module = EntityEmbeddingModule(
        config.cardinalities,
        config.embedding_dims,
        task=config.task,
        n_outputs=config.n_outputs,
        n_numeric=0 if numeric_scaling is None else len(numeric_scaling[0]),
        hidden_units=config.hidden_units,
        dropout=config.dropout,
        batch_norm=config.batch_norm,
        interactions=config.interactions,
        encoder=config.encoder,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        table_learning_rate=config.table_learning_rate,
        category_dropout=config.category_dropout,
        learning_rate_schedule=config.learning_rate_schedule,
        schedule_epochs=config.schedule_epochs,
        pieces=config.pieces or None,
    )
    module.network.set_shrinkage(counts, shrinkage_rows)
    if numeric_scaling is not None:
        mean, std = numeric_scaling
        module.network.set_numeric_scaling(
            torch.from_numpy(mean), torch.from_numpy(std)
        )
    if start is not None and start.network is not None:
        module.network.load_layers(start.network)
    if start is not None:
        module.network.load_tables(start.tables, start.frozen)
        module.network.load_pieces(start.pieces)
    return module


def _trainer_settings(config: TrainingConfig, checkpoints) -> dict:
    """:func:`train`'s keyword arguments from ``config``."""
    return {
        "max_epochs": config.max_epochs,
        "accelerator": config.accelerator,
        "devices": config.devices,
        "strategy": config.strategy,
        "num_nodes": config.num_nodes,
        "precision": config.precision,
        "patience": config.patience,
        "gradient_clip_val": config.gradient_clip_val,
        "verbose": config.verbose,
        "progress_label": config.progress_label,
        "callbacks": list(config.callbacks),
        "logger": config.logger,
        "checkpoint_dir": checkpoints,
    }


def empirical_bayes_rows(
    codes: np.ndarray, target: np.ndarray, task: str, counts: list[np.ndarray]
) -> list[float]:
    """Per column, the count at which a category's own vector weighs one half:
    the variance of the target within categories over the variance of the
    category means, as scikit-learn's ``TargetEncoder(smooth="auto")`` shrinks.

    A column whose categories differ a lot (an ID that carries the signal)
    gets a small count, one whose categories hardly differ a large one.
    Classes are read one-hot, and the variances summed over the outputs.
    """
    target = np.asarray(target)
    if task == "multiclass":
        values = np.eye(int(target.max()) + 1)[target.astype(np.int64)]
    else:
        values = target.reshape(len(target), -1).astype(np.float64)
    rows = []
    for j, count in enumerate(counts):
        seen = count > 0
        sums = np.stack(
            [
                np.bincount(codes[:, j], weights=v, minlength=len(count))
                for v in values.T
            ],
            axis=1,
        )
        means = sums[seen] / count[seen, None]
        within = (values - (sums / np.maximum(count, 1)[:, None])[codes[:, j]]) ** 2
        within = within.sum() / max(len(values) - seen.sum(), 1)
        between = means.var(axis=0).sum()
        rows.append(float(within / between) if between > 0 else float("inf"))
    return rows
