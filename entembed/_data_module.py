"""The LightningDataModule: encoded data as in-memory tensors, served in batches.

Batches are sliced from whole tensors with one fresh permutation per epoch. No
per-row ``__getitem__`` and no collate: that pattern costs peers several times
the speed of a hand-written torch loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import lightning as L
import numpy as np
import torch

from ._dataframe import check_finite_numeric


def validation_split(
    n_rows: int, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The rows a fit validates on and the rows it trains on, by index: the
    first ``round(fraction * n_rows)`` of a permutation seeded by ``seed``, and
    the rest (what :class:`TensorDataModule` holds out)."""
    order = torch.randperm(n_rows, generator=torch.Generator().manual_seed(seed))
    n_val = round(fraction * n_rows)
    return order[:n_val].numpy(), order[n_val:].numpy()


def _as_tensor(name: str, values, dtype: torch.dtype | None = None) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        tensor = values
    else:
        array = np.asarray(values)
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"{name} must be numeric, got dtype {array.dtype}. Encode it first "
                "(CategoryVocabulary for categories, class indices for labels)."
            )
        tensor = torch.as_tensor(array)
    return tensor if dtype is None else tensor.to(dtype)


def check_finite(name: str, values: torch.Tensor) -> None:
    """Raise with the count of NaN/inf values in a float tensor."""
    if not values.is_floating_point():
        return
    bad = ~torch.isfinite(values)
    if bad.any():
        raise ValueError(
            f"{name} has {int(bad.sum())} NaN or infinite value(s). Drop those rows "
            "or fill them first."
        )


class TensorBatches:
    """Batches sliced from in-memory tensors, reshuffled on every pass.

    Iterating yields dicts of row-aligned tensors. Under distributed training
    each rank takes every ``world_size``-th row of the same permutation (padded
    so all ranks run the same number of steps).

    Parameters
    ----------
    tensors : dict of str to Tensor
        Row-aligned tensors (same first dimension).
    rows : Tensor
        Indices of the rows to serve.
    batch_size : int
        Rows per batch.
    shuffle : bool
        A fresh permutation each pass (seeded by ``seed`` and the pass number).
    seed : int
        Base seed of the permutations.
    rank, world_size : int
        This process's shard.
    drop_single : bool, default=False
        Skip a final batch of one row (batch normalisation cannot train on it).
    epoch : callable or None, default=None
        Returns the training epoch, whose number seeds the pass's permutation,
        so that a fit resumed from a checkpoint sees the batches an
        uninterrupted one would. None counts the passes instead.
    """

    def __init__(
        self,
        tensors: dict[str, torch.Tensor],
        rows: torch.Tensor,
        *,
        batch_size: int,
        shuffle: bool,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        drop_single: bool = False,
        epoch: Callable[[], int] | None = None,
    ) -> None:
        self.tensors, self.rows = tensors, rows
        self.epoch = epoch
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.rank, self.world_size, self.drop_single = rank, world_size, drop_single
        self.passes = 0

    def _shard_size(self) -> int:
        return -(-len(self.rows) // self.world_size)

    def __len__(self) -> int:
        return self.steps(self.batch_size)

    def steps(self, rows: int) -> int:
        """Batches of ``rows`` rows in one pass (a final single row skipped
        with ``drop_single``)."""
        n = self._shard_size()
        n_batches = -(-n // rows)
        if self.drop_single and n > 1 and n % rows == 1:
            n_batches -= 1
        return n_batches

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        rows = self.rows
        if self.shuffle:
            number = self.passes if self.epoch is None else self.epoch()
            generator = torch.Generator().manual_seed(self.seed + number)
            rows = rows[torch.randperm(len(rows), generator=generator)]
        self.passes += 1
        if self.world_size > 1:
            padding = self._shard_size() * self.world_size - len(rows)
            rows = torch.cat([rows, rows[:padding]])[self.rank :: self.world_size]
        device = next(iter(self.tensors.values())).device
        rows = rows.to(device)
        for batch in range(len(self)):
            index = rows[batch * self.batch_size : (batch + 1) * self.batch_size]
            yield {name: t.index_select(0, index) for name, t in self.tensors.items()}


class TensorDataModule(L.LightningDataModule):
    """Encoded categorical codes (and optional numeric inputs) for Lightning.

    Holds the whole data as tensors and splits it in :meth:`setup` with a
    seeded generator. On a GPU the tensors move to the device once, so no batch
    is copied from the host during training. Under DDP each rank trains on its
    own shard of every epoch's permutation.

    Parameters
    ----------
    codes : array-like of shape (n_rows, n_columns)
        Integer codes, e.g. from :class:`CategoryVocabulary`.
    target : array-like of shape (n_rows,) or (n_rows, n_outputs)
        Float targets (regression, binary 0/1) or integer class indices.
    numeric : array-like of shape (n_rows, n_numeric), optional
        Numeric inputs (float).
    sample_weight : array-like of shape (n_rows,), optional
        Non-negative weights of the training loss.
    numeric_names : sequence of str, optional
        Names of the numeric columns, for error messages.
    batch_size : int, default=256
        Rows per training batch.
    validation_fraction : float, default=0.1
        Share of rows held out for validation (and early stopping); 0 for none.
    random_state : int, default=0
        Seed of the split and of every epoch's permutation.
    drop_single : bool, default=False
        Skip a final training batch of one row: batch normalisation cannot
        train on it.

    Examples
    --------
    >>> import torch
    >>> data = TensorDataModule(torch.zeros(10, 2, dtype=torch.long), torch.ones(10),
    ...                         batch_size=4, validation_fraction=0.2)
    >>> data.setup("fit")
    >>> [len(batch["codes"]) for batch in data.train_dataloader()]
    [4, 4]
    >>> len(data.val_dataloader())
    1
    """

    def __init__(
        self,
        codes,
        target,
        *,
        numeric=None,
        sample_weight=None,
        numeric_names: Sequence[str] | None = None,
        batch_size: int = 256,
        validation_fraction: float = 0.1,
        random_state: int = 0,
        drop_single: bool = False,
    ) -> None:
        super().__init__()
        self.codes, self.target, self.numeric = codes, target, numeric
        self.sample_weight, self.numeric_names = sample_weight, numeric_names
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.drop_single = drop_single
        self._tensors: dict[str, torch.Tensor] | None = None

    def _build_tensors(self) -> dict[str, torch.Tensor]:
        codes = _as_tensor("codes", self.codes)
        if codes.ndim != 2 or codes.is_floating_point():
            raise ValueError(
                f"codes must be a 2-D integer array, got shape {tuple(codes.shape)} "
                f"and dtype {codes.dtype}."
            )
        tensors = {
            "codes": codes.long()
            if codes.dtype not in (torch.int32, torch.int64)
            else codes
        }
        target = _as_tensor("target", self.target)
        if target.is_floating_point():
            target = target.float()
        check_finite("The target", target)
        tensors["target"] = target
        if self.numeric is not None:
            numeric = _as_tensor("numeric", self.numeric, torch.float32)
            if not torch.isfinite(numeric).all():
                names = self.numeric_names or [f"x{j}" for j in range(numeric.shape[1])]
                check_finite_numeric(numeric.cpu().numpy(), names)
            tensors["numeric"] = numeric
        if self.sample_weight is not None:
            weight = _as_tensor("sample_weight", self.sample_weight, torch.float32)
            check_finite("sample_weight", weight)
            if (weight < 0).any():
                raise ValueError(
                    "sample_weight has negative values; weights must be >= 0."
                )
            tensors["weight"] = weight
        n = len(codes)
        for name, tensor in tensors.items():
            if len(tensor) != n:
                raise ValueError(
                    f"{name} has {len(tensor)} rows but codes has {n}; pass one "
                    "value per row."
                )
        return tensors

    def setup(self, stage: str | None = None) -> None:
        if self._tensors is None:
            self._tensors = self._build_tensors()
            n = len(self._tensors["codes"])
            val_rows, train_rows = validation_split(
                n, self.validation_fraction, self.random_state
            )
            if self.validation_fraction > 0 and not (len(val_rows) and len(train_rows)):
                raise ValueError(
                    f"validation_fraction={self.validation_fraction} of {n} rows "
                    "leaves no row for validation or for training; pass more rows "
                    "or set validation_fraction=0."
                )
            self.val_rows = torch.from_numpy(val_rows)
            self.train_rows = torch.from_numpy(train_rows)
        trainer = self.trainer
        if trainer is not None and trainer.strategy.root_device.type != "cpu":
            device = trainer.strategy.root_device
            self._tensors = {k: v.to(device) for k, v in self._tensors.items()}

    def _batches(self, rows: torch.Tensor, *, train: bool) -> TensorBatches:
        trainer = self.trainer
        rank = trainer.global_rank if trainer is not None and train else 0
        world = trainer.world_size if trainer is not None and train else 1
        return TensorBatches(
            self._tensors,
            rows,
            batch_size=self.batch_size,
            shuffle=train,
            seed=self.random_state + 1,
            rank=rank,
            world_size=world,
            drop_single=train and self.drop_single,
            epoch=(lambda: trainer.current_epoch) if trainer is not None else None,
        )

    def train_dataloader(self) -> TensorBatches:
        return self._batches(self.train_rows, train=True)

    def val_dataloader(self) -> TensorBatches | list:
        # Every rank validates on all held-out rows: identical early-stopping
        # decisions without synchronising metrics.
        return self._batches(self.val_rows, train=False) if len(self.val_rows) else []

    def predict_dataloader(self) -> TensorBatches:
        rows = torch.arange(len(self._tensors["codes"]))
        return self._batches(rows, train=False)
