"""Running a fit: the Trainer with entembed's defaults, early stopping that
restores the best weights, a per-epoch history, and seeded reproducibility.

This is the one place that turns the facade's parameters (Lightning's names)
into a ``lightning.Trainer``.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import warnings
from collections.abc import Iterator

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping

from ._data_module import TensorDataModule
from ._lightning_module import (
    EntityEmbeddingModule,
    check_finite_training,
    learning_rates,
)


class History(Callback):
    """Per-epoch metrics: a list of dicts with ``epoch``, ``train_loss``, ..."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        row = {"epoch": trainer.current_epoch + 1}
        row.update({k: float(v) for k, v in sorted(trainer.callback_metrics.items())})
        self.epochs.append(row)


class EpochProgress(Callback):
    """One progress bar over epochs, with the latest losses (``verbose=1``)."""

    def on_fit_start(self, trainer, pl_module) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=trainer.max_epochs, desc="training", unit="epoch", leave=False
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
    callbacks: list[Callback] | None = None,
) -> list[dict[str, float]]:
    """Fit ``module`` on ``data`` and return the per-epoch history.

    With a validation split, the weights of the best validation epoch are
    restored at the end, and training stops after ``patience`` epochs without
    improvement (``None``: no early stopping). A NaN or infinite training loss
    raises ``FloatingPointError`` naming the epoch.
    """
    check_devices(accelerator, devices, num_nodes)
    data.drop_single = module.hparams.batch_norm
    history = History()
    extra = [history, *(callbacks or [])]
    if verbose >= 1:
        extra.append(EpochProgress())
    if data.validation_fraction > 0:
        extra.append(RestoreBestWeights("val_loss"))
        if patience is not None:
            extra.append(EarlyStopping("val_loss", patience=patience, mode="min"))
    with _quiet_lightning(verbose):
        trainer = L.Trainer(
            max_epochs=max_epochs,
            accelerator=accelerator,
            devices=devices,
            strategy=strategy,
            num_nodes=num_nodes,
            precision=precision,
            gradient_clip_val=gradient_clip_val,
            callbacks=extra,
            logger=False,
            enable_checkpointing=False,
            enable_model_summary=False,
            enable_progress_bar=False,
            num_sanity_val_steps=0,
            limit_val_batches=None if data.validation_fraction > 0 else 0,
        )
        trainer.fit(module, datamodule=data)
    check_finite_training(module)
    if not all(torch.isfinite(p).all() for p in module.parameters()):
        raise FloatingPointError(
            f"Training produced NaN or infinite weights. Lower "
            f"{learning_rates(module)} or set gradient_clip_val."
        )
    return history.epochs
