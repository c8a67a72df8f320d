"""The LightningModule: the entity-embedding network, its loss and its optimiser.

Usable on its own in a user's ``Trainer`` with their loggers and callbacks; the
scikit-learn facade drives it the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import lightning as L
import torch
import torch.distributed as dist
import torch.nn.functional as F
from lightning.pytorch.strategies import DDPStrategy

from ._modules import EntityEmbeddingNetwork
from ._vocabulary import UNKNOWN_CODE

TASKS = ("regression", "binary", "multiclass")
SCHEDULES = ("constant", "cosine")


class EntityEmbeddingModule(L.LightningModule):
    """Train an :class:`EntityEmbeddingNetwork` on a supervised target.

    Batches are dicts with ``"codes"`` (N, C) integer, ``"target"``, and
    optionally ``"numeric"`` (N, P) float and ``"weight"`` (N,) float sample
    weights, as served by :class:`TensorDataModule`. Every stage logs
    ``{stage}_loss`` and a task metric: ``{stage}_rmse`` for regression,
    ``{stage}_accuracy`` for classification.

    Parameters
    ----------
    cardinalities, embedding_dims : sequence of int
        Codes and width of each column's table.
    task : {"regression", "binary", "multiclass"}, default="regression"
        Mean squared error, binary cross-entropy on one logit, or cross-entropy
        on ``n_outputs`` logits. Targets: float (N, n_outputs) for regression,
        float 0/1 (N,) for binary, int64 class indices (N,) for multiclass.
    n_outputs : int, default=1
        Regression targets, or number of classes for "multiclass".
    n_numeric, hidden_units, dropout, batch_norm, interactions, encoder
        As in :class:`EntityEmbeddingNetwork`.
    learning_rate : float, default=3e-3
        AdamW's learning rate for the hidden layers and the head.
    weight_decay : float, default=0.0
        AdamW's decoupled weight decay on the hidden layers and the head.
    table_learning_rate : float, default=100.0
        Plain SGD's learning rate for the embedding tables (see
        :class:`TableSGDAdamW`). It multiplies the gradient of the batch's mean
        loss, in which a category's row gets ``1 / batch_size`` of each of its
        rows' gradients: hence the large value.
    category_dropout : float, default=0.0
        Share of the training codes read as the unknown code (code 0), drawn
        anew each step; validation and prediction read every code.
    learning_rate_schedule : {"constant", "cosine"}, default="constant"
        "cosine" multiplies both learning rates by a cosine that falls from 1
        to 0 over ``schedule_epochs`` (Loshchilov & Hutter's SGDR, one cycle,
        no restart), stepped after every optimiser step.
    schedule_epochs : int or None, default=None
        The cosine's length in epochs; None: the Trainer's ``max_epochs``. A
        run that stops earlier (early stopping) ends part-way down the curve.
    sparse_gradients : bool, default=True
        Table gradients of the rows each batch touched only, so a step costs
        O(batch x width) instead of O(table). Under DDP the processes gather
        each other's touched rows and average them (no backend's sparse
        all-reduce is needed: NCCL has none, gloo's dropped connections).
        Dense where a Trainer cannot use them: gradient clipping (no sparse
        norm kernel) and strategies other than DDP (FSDP, DeepSpeed).
    pieces : sequence of CodePieces or None, default=None
        By column, the hashed pieces of its categories' text (see
        :class:`~entembed._modules.EntityEmbeddingNetwork`).

    Examples
    --------
    Train with your own ``Trainer``, loggers and callbacks:

    >>> import lightning as L, torch
    >>> from entembed import EntityEmbeddingModule, TensorDataModule
    >>> codes = torch.randint(0, 5, (256, 2))
    >>> target = (codes[:, :1] == 3).float()
    >>> data = TensorDataModule(codes, target, batch_size=64, random_state=0)
    >>> module = EntityEmbeddingModule([5, 5], [3, 3], hidden_units=(16,))
    >>> trainer = L.Trainer(max_epochs=2, logger=False, enable_progress_bar=False,
    ...                     enable_checkpointing=False, enable_model_summary=False)
    >>> trainer.fit(module, datamodule=data)
    >>> sorted(trainer.callback_metrics)
    ['train_loss', 'train_rmse', 'val_loss', 'val_rmse']
    >>> [t.shape for t in module.network.tables()]
    [torch.Size([5, 3]), torch.Size([5, 3])]
    """

    def __init__(
        self,
        cardinalities: Sequence[int],
        embedding_dims: Sequence[int],
        *,
        task: str = "regression",
        n_outputs: int = 1,
        n_numeric: int = 0,
        hidden_units: Sequence[int] = (256, 128),
        dropout: float = 0.0,
        batch_norm: bool = False,
        interactions: str = "none",
        encoder: str = "embedding",
        learning_rate: float = 3e-3,
        weight_decay: float = 0.0,
        table_learning_rate: float = 100.0,
        category_dropout: float = 0.0,
        learning_rate_schedule: str = "constant",
        schedule_epochs: int | None = None,
        sparse_gradients: bool = True,
        pieces: Sequence | None = None,
    ) -> None:
        super().__init__()
        # The pieces are arrays derived from the vocabulary, not settings.
        self.save_hyperparameters(ignore=["pieces"])
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}.")
        if task == "binary" and n_outputs != 1:
            raise ValueError(
                f"task='binary' uses one logit; got n_outputs={n_outputs}."
            )
        if task == "multiclass" and n_outputs < 2:
            raise ValueError(
                f"task='multiclass' needs n_outputs >= 2 classes, got {n_outputs}."
            )
        if not 0.0 <= category_dropout < 1.0:
            raise ValueError(
                f"category_dropout must be in [0, 1), got {category_dropout}."
            )
        if learning_rate_schedule not in SCHEDULES:
            raise ValueError(
                f"learning_rate_schedule must be one of {SCHEDULES}, got "
                f"{learning_rate_schedule!r}."
            )
        if schedule_epochs is not None and schedule_epochs < 1:
            raise ValueError(
                f"schedule_epochs must be >= 1 or None, got {schedule_epochs}."
            )
        if learning_rate <= 0 or weight_decay < 0 or table_learning_rate <= 0:
            raise ValueError(
                "learning_rate and table_learning_rate must be > 0 and weight_decay "
                f">= 0, got {learning_rate}, {table_learning_rate} and "
                f"{weight_decay}."
            )
        self.network = EntityEmbeddingNetwork(
            list(cardinalities),
            list(embedding_dims),
            n_numeric=n_numeric,
            hidden_units=tuple(hidden_units),
            n_outputs=n_outputs,
            dropout=dropout,
            batch_norm=batch_norm,
            interactions=interactions,
            encoder=encoder,
            pieces=pieces,
        )
        self.metric_name = "rmse" if task == "regression" else "accuracy"
        # Sums of loss x rows, metric x rows and rows, by stage, until logged.
        self._running: dict[str, torch.Tensor] = {}
        # Counted on the device and read once per epoch: checking every step
        # would synchronise the GPU each step.
        self.register_buffer(
            "nonfinite_steps", torch.zeros((), dtype=torch.long), persistent=False
        )
        self.step_rows: int | None = None  # see chunk_steps
        self._gathers_tables = False  # see setup

    def chunk_steps(self, rows: int) -> None:
        """Take one optimiser step per ``rows`` rows of each training batch.

        Lightning's work around a step (fetching the batch, the loops'
        bookkeeping, every callback's hooks) takes a large share of a step's
        time at a few hundred rows on a CPU (the training page,
        ``benchmarks/results/training.md``).
        Serve batches of ``k * rows`` rows and call this: the module then
        steps k times per batch, as Lightning would on batches of
        ``rows`` rows (same steps, same order, same random draws), with that
        work done once per k steps. Lightning's optimisation is then manual:
        it needs one process, 32-bit precision and no gradient clipping or
        accumulation, and callbacks' per-step hooks run once per batch.

        Parameters
        ----------
        rows : int
            Rows per optimiser step.
        """
        if rows < 1:
            raise ValueError(f"rows must be >= 1, got {rows}.")
        self.step_rows = int(rows)
        self.automatic_optimization = False

    def setup(self, stage: str) -> None:
        sparse = self.hparams.sparse_gradients and _sparse_gradients_work(self.trainer)
        self.network.set_sparse_gradients(sparse)
        # Under DDP, sparse tables stay out of DDP's reducer: the module
        # averages their gradients itself (on_before_optimizer_step). The
        # reducer reads this attribute when the strategy wraps the module,
        # after this hook.
        self._gathers_tables = bool(
            sparse
            and self.hparams.encoder == "embedding"  # one-hot: dense products
            and self.trainer is not None
            and self.trainer.world_size > 1
        )
        if self._gathers_tables:
            tables = set(self.network.table_parameters())
            self._ddp_params_and_buffers_to_ignore = [
                name for name, p in self.named_parameters() if p in tables
            ]
        else:
            self.__dict__.pop("_ddp_params_and_buffers_to_ignore", None)
        if self.step_rows is not None and not chunked_steps_work(self.trainer):
            raise ValueError(
                "chunk_steps needs a Trainer with one process, 32-bit precision "
                "and no gradient clipping or accumulation."
            )

    def on_fit_start(self) -> None:
        if self._gathers_tables:
            # DDP copies rank 0's weights to the others when it wraps the
            # module, but not those it ignores: the tables, copied here.
            for table in self.network.table_parameters():
                dist.broadcast(table.data, src=0)

    def on_before_optimizer_step(self, optimizer) -> None:
        if self._gathers_tables:
            average_sparse_gradients(self.network.table_parameters())

    def forward(self, codes: torch.Tensor, numeric: torch.Tensor | None = None):
        return self.network(codes, numeric)

    def _losses(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-row loss, shape (N,)."""
        task = self.hparams.task
        if task == "regression":
            target = target.reshape(output.shape).to(output.dtype)
            return F.mse_loss(output, target, reduction="none").mean(dim=1)
        if task == "binary":
            return F.binary_cross_entropy_with_logits(
                output[:, 0], target.reshape(-1).to(output.dtype), reduction="none"
            )
        return F.cross_entropy(output, target.reshape(-1).long(), reduction="none")

    def _metric(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        task = self.hparams.task
        if task == "regression":
            target = target.reshape(output.shape).to(output.dtype)
            return F.mse_loss(output, target).sqrt()
        if task == "binary":
            predicted = (output[:, 0] > 0).to(target.dtype)
        else:
            predicted = output.argmax(dim=1).to(target.dtype)
        return (predicted == target.reshape(-1)).float().mean()

    def _shared_step(self, batch: dict, stage: str, last: bool) -> torch.Tensor:
        """The batch's mean loss, added to the stage's running sums; ``last``:
        the epoch's last step, which logs the epoch's means."""
        codes = batch["codes"]
        if stage == "train" and self.hparams.category_dropout:
            # Category dropout: a random share of the training codes read as
            # unknown, so the unknown vector learns what an unseen category
            # should give and no vector can count on its own rows alone.
            dropped = (
                torch.rand(codes.shape, device=codes.device)
                < self.hparams.category_dropout
            )
            codes = codes.masked_fill(dropped, UNKNOWN_CODE)
        output = self(codes, batch.get("numeric"))
        losses = self._losses(output, batch["target"])
        weight = batch.get("weight")
        if weight is None:
            loss = losses.mean()
        else:
            loss = (losses * weight).sum() / weight.sum().clamp_min(1e-12)
        metric = self._metric(output, batch["target"])
        # Sums in place: a list of each step's tensors would keep small blocks
        # alive between the steps' large ones, and the heap would grow with
        # the number of steps (by hundreds of MB over a 1M-row epoch).
        sums = self._running.get(stage)
        if sums is None:
            sums = self._running[stage] = torch.zeros(3, device=loss.device)
        n = len(losses)
        sums[0] += loss.detach() * n
        sums[1] += metric.detach() * n
        sums[2] += n
        # Logged at the epoch's last step: callbacks' epoch-end hooks (the
        # history, checkpoints, yours) run before the module's and read the
        # metrics there. An epoch of unknown length logs in the module's hook.
        if last:
            self._log_epoch(stage)
        return loss

    def _log_epoch(self, stage: str) -> None:
        """Log the epoch's batch-size-weighted means of the loss and the metric.

        Once per epoch, not per step: each ``self.log`` call costs Lightning
        bookkeeping comparable to a whole step at batch size 256 on CPU. The
        figures are the ones per-step logging with ``on_epoch=True`` gives.
        """
        sums = self._running.pop(stage, None)
        if sums is None:
            return
        for name, index, prog_bar in (("loss", 0, True), (self.metric_name, 1, False)):
            self.log(
                f"{stage}_{name}",
                sums[index] / sums[2],
                on_step=False,
                on_epoch=True,
                prog_bar=prog_bar,
                sync_dist=True,  # the mean over ranks under DDP; a no-op otherwise
            )

    def on_train_epoch_start(self) -> None:
        self._running = {}

    def on_validation_epoch_start(self) -> None:
        self._running.pop("val", None)

    def on_test_epoch_start(self) -> None:
        self._running.pop("test", None)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor | None:
        last = batch_idx + 1 >= self.trainer.num_training_batches
        if self.step_rows is None:
            loss = self._shared_step(batch, "train", last)
            self.nonfinite_steps += ~torch.isfinite(loss.detach())
            return loss
        # Chunked steps (see chunk_steps): the steps Lightning would take on
        # batches of step_rows rows, in the same order, drawing the same
        # random numbers, without its per-batch work in between.
        optimizer = self.optimizers(use_pl_optimizer=False)
        scheduler = self.lr_schedulers()
        rows = len(batch["codes"])
        for start in range(0, rows, self.step_rows):
            chunk = {k: v[start : start + self.step_rows] for k, v in batch.items()}
            if self.hparams.batch_norm and len(chunk["codes"]) == 1:
                continue  # as TensorBatches(drop_single=True) skips it
            loss = self._shared_step(
                chunk, "train", last and start + self.step_rows >= rows
            )
            self.nonfinite_steps += ~torch.isfinite(loss.detach())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()  # type: ignore[union-attr]
        return None

    def validation_step(
        self, batch: dict, batch_idx: int, dataloader_idx: int = 0
    ) -> torch.Tensor:
        last = batch_idx + 1 >= self.trainer.num_val_batches[dataloader_idx]
        return self._shared_step(batch, "val", last)

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def test_step(
        self, batch: dict, batch_idx: int, dataloader_idx: int = 0
    ) -> torch.Tensor:
        last = batch_idx + 1 >= self.trainer.num_test_batches[dataloader_idx]
        return self._shared_step(batch, "test", last)

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def predict_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self(batch["codes"], batch.get("numeric"))

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")  # batches of unknown number: logged now
        check_finite_training(self)

    def configure_optimizers(self):
        tables = set(self.network.table_parameters())
        optimizer = TableSGDAdamW(
            [p for p in self.parameters() if p in tables],
            [p for p in self.parameters() if p not in tables],
            table_lr=self.hparams.table_learning_rate,
            lr=self.hparams.learning_rate,
            weight_decay=self.hparams.weight_decay,
        )
        if self.hparams.learning_rate_schedule == "constant":
            return optimizer
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, CosineDecay(self._schedule_steps())
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def _schedule_steps(self) -> int:
        """The optimiser steps the cosine spans: the Trainer's (max_epochs or
        max_steps), or ``schedule_epochs`` of this training data's."""
        trainer = self.trainer
        steps = trainer.estimated_stepping_batches  # sets the training data up
        per_epoch = trainer.num_training_batches / trainer.accumulate_grad_batches
        if self.step_rows is not None:  # steps per batch: see chunk_steps
            per_epoch = trainer.train_dataloader.steps(self.step_rows)
            epochs = trainer.max_epochs
            known = epochs is not None and epochs > 0
            steps = epochs * per_epoch if known else math.inf
        if self.hparams.schedule_epochs is not None:
            steps = self.hparams.schedule_epochs * math.ceil(per_epoch)
        if not math.isfinite(steps):
            raise ValueError(
                "learning_rate_schedule='cosine' needs a length: a Trainer with "
                "max_epochs or max_steps (or the module's schedule_epochs) and "
                "training data of known length."
            )
        return max(1, int(steps))


class CosineDecay:
    """The factor of step ``t`` of ``steps``: ``(1 + cos(pi t / steps)) / 2``,
    then 0. A class, not a lambda: schedulers' states are saved in
    checkpoints, and a resumed fit continues down the same curve."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def __call__(self, step: int) -> float:
        return 0.5 * (1.0 + math.cos(math.pi * min(step, self.steps) / self.steps))


class TableSGDAdamW(torch.optim.Optimizer):
    """Plain SGD for the embedding tables, AdamW for the dense layers.

    Adam divides each coordinate's step by the root of its recent squared
    gradients. A category seen once in an epoch has a tiny running average, so
    its single gradient gets a full-size step (and its momentum keeps moving it
    for dozens of steps after): its row memorises that one row's target. The
    features of the training rows then leak their labels into any model fitted
    on them. Plain SGD steps in proportion to the gradient, so a category moves
    as far as its rows pull it together, as target encoding's smoothing would
    have it (the ablation page, ``benchmarks/results/ablation.md``, measures
    what it buys).

    Parameters
    ----------
    tables, dense : iterable of Parameter
        The embedding tables, and every other parameter.
    table_lr : float
        SGD's learning rate for the tables (no momentum, no weight decay).
    lr, weight_decay : float
        AdamW's, for the dense layers. Its fused kernel runs on CPU and CUDA:
        it updates all of them in one pass, several times faster on CPU than
        the default, where the optimiser step dominates.
    """

    def __init__(self, tables, dense, *, table_lr: float, lr: float, weight_decay):
        tables, dense = list(tables), list(dense)
        fused = all(p.device.type in ("cpu", "cuda") for p in dense)
        self.optimizers = [
            torch.optim.AdamW(dense, lr=lr, weight_decay=weight_decay, fused=fused)
        ]
        if tables:
            self.optimizers.append(torch.optim.SGD(tables, lr=table_lr))
        super().__init__(tables + dense, {})
        # One list of groups, the inner optimisers' own: clipping, learning-rate
        # monitors and zero_grad see every parameter once.
        self.param_groups = [g for o in self.optimizers for g in o.param_groups]

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self.optimizers[0].step()
        # Plain SGD, as torch.optim.SGD without momentum or decay steps, without
        # its per-call machinery (a tenth of a step at a few hundred rows).
        for group in (g for o in self.optimizers[1:] for g in o.param_groups):
            for table in group["params"]:
                if table.grad is not None:
                    table.add_(table.grad, alpha=-group["lr"])
        return loss

    def state_dict(self) -> dict:
        return {"optimizers": [o.state_dict() for o in self.optimizers]}

    def load_state_dict(self, state_dict: dict) -> None:
        for optimizer, state in zip(
            self.optimizers, state_dict["optimizers"], strict=True
        ):
            optimizer.load_state_dict(state)
        # Loading gives the inner optimisers new group dicts: share those, or a
        # resumed learning-rate schedule would set rates no optimiser reads.
        self.param_groups = [g for o in self.optimizers for g in o.param_groups]


def _sparse_gradients_work(trainer) -> bool:
    """Whether this Trainer can step with sparse table gradients."""
    if trainer is None:
        return True
    if trainer.gradient_clip_val:  # clip_grad_norm_ has no kernel for sparse
        return False
    # Several processes: DDP, whose reducer the module bypasses for the tables
    # (average_sparse_gradients). FSDP and DeepSpeed shard or wrap parameters
    # their own way: dense.
    return trainer.world_size == 1 or isinstance(trainer.strategy, DDPStrategy)


def average_sparse_gradients(tables: Sequence[torch.Tensor]) -> None:
    """Replace each table's sparse gradient with its mean over the processes.

    What DDP's all-reduce does for a dense gradient, for the rows touched:
    each process gathers every process's touched rows and gradient values
    (two dense all-gathers, padded where the processes' row counts differ)
    and sums them, divided by the number of processes. The cost grows with
    the batch, not the table, and needs no sparse all-reduce, which NCCL
    lacks and which lost gloo's connections between two CPU processes in 2
    of 9 test runs.

    Parameters
    ----------
    tables : sequence of Tensor
        The tables, each with a sparse gradient (or None on every process).
    """
    tables = [t for t in tables if t.grad is not None]
    if not tables:
        return
    world = dist.get_world_size()
    grads = [t.grad for t in tables]  # uncoalesced: one entry per looked-up row
    widths = torch.tensor([t.shape[1] for t in tables])
    counts = torch.tensor([g._nnz() for g in grads], device=tables[0].device)
    every_counts = [torch.empty_like(counts) for _ in range(world)]
    dist.all_gather(every_counts, counts)
    every_counts = [c.cpu() for c in every_counts]
    every_indices = _all_gather_padded(
        torch.cat([g._indices()[0] for g in grads]),
        max(int(c.sum()) for c in every_counts),
        world,
    )
    every_values = _all_gather_padded(
        torch.cat([g._values().reshape(-1) for g in grads]),
        max(int((c * widths).sum()) for c in every_counts),
        world,
    )
    indices: list[list[torch.Tensor]] = [[] for _ in tables]
    values: list[list[torch.Tensor]] = [[] for _ in tables]
    for c, their_rows, their_values in zip(
        every_counts, every_indices, every_values, strict=True
    ):
        sizes = (c * widths).tolist()
        rows = their_rows[: int(c.sum())].split(c.tolist())
        numbers = their_values[: sum(sizes)].split(sizes)
        for j in range(len(tables)):
            indices[j].append(rows[j])
            values[j].append(numbers[j].reshape(len(rows[j]), -1))
    for j, table in enumerate(tables):
        table.grad = torch.sparse_coo_tensor(
            torch.cat(indices[j])[None], torch.cat(values[j]) / world, table.shape
        )


def _all_gather_padded(tensor: torch.Tensor, length: int, world: int) -> list:
    """Every process's 1-D ``tensor``, each padded to ``length`` to gather."""
    padded = torch.zeros(length, dtype=tensor.dtype, device=tensor.device)
    padded[: len(tensor)] = tensor
    gathered = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(gathered, padded)
    return gathered


def chunked_steps_work(trainer) -> bool:
    """Whether this Trainer lets a module step by itself several times per
    batch (:meth:`EntityEmbeddingModule.chunk_steps`)."""
    return (
        trainer.world_size == 1
        and not trainer.gradient_clip_val
        and trainer.accumulate_grad_batches == 1
        and str(trainer.precision) in ("32-true", "32")
    )


def learning_rates(module: EntityEmbeddingModule) -> str:
    """Both learning rates and their values, for error messages."""
    return (
        f"learning_rate (now {module.hparams.learning_rate}) or "
        f"table_learning_rate (now {module.hparams.table_learning_rate})"
    )


def check_finite_training(module: EntityEmbeddingModule) -> None:
    """Raise if any training step of the epoch had a NaN or infinite loss."""
    if int(module.nonfinite_steps):
        raise FloatingPointError(
            f"Training loss became NaN or infinite in epoch {module.current_epoch + 1} "
            f"({int(module.nonfinite_steps)} step(s)). Lower "
            f"{learning_rates(module)}, set gradient_clip_val, or check the target's "
            "scale."
        )
