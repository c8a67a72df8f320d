"""The LightningDataModule of a streamed fit: batches read piece by piece
from a :class:`~entembed._streaming.StreamedTable`, never the whole table.

Each epoch reads the pieces in a fresh seeded order; a background thread reads
and encodes the next pieces while the network steps on the current ones. Rows
pass through a bounded buffer that is shuffled before it is cut into batches.
Under DDP each process reads its own share of the pieces and serves exactly
its share of the rows (wrapping round its pieces where they hold fewer), so
every process takes the same number of steps.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import lightning as L
import numpy as np
import torch

from ._streaming import Rows, StreamedTable, StreamError

# Rows a training buffer gathers before it is shuffled and cut into batches
# (at least a few batches: see StreamBatches).
BUFFER_ROWS = 1 << 18
# Pieces read ahead of the one being served.
PREFETCH = 2


class StreamBatches:
    """Batches of some rows of a streamed table (the training rows, the
    validation rows, a fold's held-out rows).

    Parameters
    ----------
    table : StreamedTable
        The first pass's findings; its source gives the pieces.
    rows : Rows
        Which rows of each piece to serve.
    counts : ndarray of int
        How many of them each piece holds (:func:`counted`).
    train : bool
        Shuffled, this process's share of them; else in order, all of them.
    batch_size : int
        Rows per batch.
    seed : int
        Base seed of each epoch's order.
    rank, world_size : int
        This process's share.
    drop_single : bool
        Skip a final batch of one row (batch normalisation cannot train on it).
    epoch : callable or None
        The training epoch, which seeds the pass's order (a resumed fit reads
        what an uninterrupted one would); None counts the passes.
    buffer_rows : int
        Rows gathered before a shuffle.
    """

    def __init__(
        self,
        table: StreamedTable,
        rows: Rows,
        counts: np.ndarray,
        *,
        train: bool,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        drop_single: bool = False,
        epoch=None,
        buffer_rows: int = BUFFER_ROWS,
    ) -> None:
        self.table, self.rows, self.role_rows = table, rows, counts
        self.train, self.batch_size, self.seed = train, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.drop_single, self.epoch = drop_single, epoch
        self.buffer_rows = buffer_rows
        self.passes = 0

    def _share(self) -> int:
        """Rows this process serves in a pass."""
        total = int(self.role_rows.sum())
        return -(-total // self.world_size) if self.train else total

    def steps(self, rows: int) -> int:
        """Batches of ``rows`` rows in one pass."""
        n = self._share()
        n_batches = -(-n // rows)
        if self.drop_single and n > 1 and n % rows == 1:
            n_batches -= 1
        return n_batches

    def __len__(self) -> int:
        return self.steps(self.batch_size)

    def pieces(self, number: int) -> Iterator[int]:
        """The pieces this process reads in pass ``number``: training, its
        share of a seeded order, again where they hold fewer rows than its
        share (the caller stops at the share); validation, every piece."""
        with_rows = np.flatnonzero(self.role_rows)
        if not self.train:
            yield from with_rows.tolist()
            return
        order = np.random.default_rng([self.seed, number]).permutation(with_rows)
        mine = order[self.rank :: self.world_size]
        if not len(mine):  # more processes than pieces: borrow one
            mine = order[[self.rank % len(order)]]
        rounds = -(-self._share() // int(self.role_rows[mine].sum()))
        for _ in range(rounds):
            yield from mine.tolist()

    def _encoded(self, pieces: Iterator[int]) -> Iterator[dict[str, np.ndarray]]:
        """Each piece's rows to serve, encoded."""
        table, offsets = self.table, self.table.offsets
        columns = [*table.categorical, *table.numeric, table.source.target]
        if table.source.weight is not None:
            columns.append(table.source.weight)
        for k in pieces:
            frame = table.source.read(k, columns)
            label = table.source.pieces[k].label
            if len(frame) != table.piece_rows[k]:
                raise StreamError(
                    f"{label} has {len(frame)} rows, but {table.piece_rows[k]} "
                    "when the fit began: the data changed during the fit."
                )
            keep = np.flatnonzero(self.rows.mask(int(offsets[k]), len(frame)))
            if 2 * len(keep) > len(frame):  # most rows: encode, then keep them
                arrays = table.encode(frame, label)
                yield {name: values[keep] for name, values in arrays.items()}
            else:  # a few: keep, then encode
                yield table.encode(frame.iloc[keep], label)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        number = self.passes if self.epoch is None else self.epoch()
        self.passes += 1
        rng = np.random.default_rng([self.seed, number, 1])
        blocks = _prefetched(self._encoded(self.pieces(number)), PREFETCH)
        try:
            yield from self._batches(blocks, rng)
        finally:
            blocks.close()

    def _batches(self, blocks, rng) -> Iterator[dict[str, torch.Tensor]]:
        """Cut the blocks into this pass's batches through a shuffled buffer."""
        remaining, served, n_batches = self._share(), 0, len(self)
        carry: list[dict[str, np.ndarray]] = []
        gather = self.batch_size
        if self.train:
            gather = max(self.buffer_rows, 4 * self.batch_size)
        while served < n_batches:
            parts, have = carry, sum(len(p["target"]) for p in carry)
            while have < min(gather, remaining):
                block = next(blocks, None)
                if block is None:
                    raise StreamError(
                        f"the pieces ended {remaining - have} rows before the "
                        "pass's: the data changed during the fit."
                    )
                parts.append(block)
                have += len(block["target"])
            buffer = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
            if self.train:
                buffer = _take(buffer, rng.permutation(have)[: min(have, remaining)])
            n = len(buffer["target"])
            last = n >= remaining
            cut = n if last else n - n % self.batch_size
            for start in range(0, cut, self.batch_size):
                if served == n_batches:
                    break
                served += 1
                yield {
                    k: torch.from_numpy(v[start : start + self.batch_size])
                    for k, v in buffer.items()
                }
            remaining -= cut
            carry = [_take(buffer, np.arange(cut, n))] if cut < n else []


def _take(arrays: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {k: np.ascontiguousarray(v[rows]) for k, v in arrays.items()}


class _Prefetched:
    """An iterator run ahead on a thread, ``depth`` items at most waiting;
    its errors are raised where the items are taken. ``close`` stops it."""

    _END = object()

    def __init__(self, iterator: Iterator, depth: int) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(iterator,), daemon=True, name="entembed-prefetch"
        )
        self._thread.start()

    def _run(self, iterator: Iterator) -> None:
        try:
            for item in iterator:
                if not self._put(item):
                    return
        except BaseException as exc:  # raised in the consumer's thread
            self._put(exc)
            return
        self._put(self._END)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self):
        return self

    def __next__(self):
        item = self._queue.get()
        if item is self._END:
            self._queue.put(item)  # later calls end too
            raise StopIteration
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def _prefetched(iterator: Iterator, depth: int) -> _Prefetched:
    return _Prefetched(iterator, depth)


def counted(table: StreamedTable, rows: Rows) -> np.ndarray:
    """How many of ``rows`` each piece of ``table`` holds."""
    return np.array(
        [
            int(rows.mask(int(start), int(n)).sum())
            for start, n in zip(table.offsets, table.piece_rows, strict=True)
        ],
        dtype=np.int64,
    )


class StreamDataModule(L.LightningDataModule):
    """A streamed table's training and validation batches for Lightning.

    Parameters
    ----------
    table : StreamedTable
        What the first pass found.
    batch_size : int
        Rows per batch.
    validation_fraction : float
        Share of rows (by the row hash) held out for validation.
    random_state : int
        Seed of the validation rows (and folds) and of every epoch's order.
    drop_single : bool
        Skip a final training batch of one row.
    buffer_rows : int
        Rows a training buffer gathers before it is shuffled.
    fold : tuple of (int, int) or None
        ``(k, n_folds)``: a cross-fitting fold's fit, which leaves out fold
        ``k``'s rows (:func:`~entembed._streaming.folds_of`).
    """

    def __init__(
        self,
        table: StreamedTable,
        *,
        batch_size: int,
        validation_fraction: float,
        random_state: int,
        drop_single: bool = False,
        buffer_rows: int = BUFFER_ROWS,
        fold: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.table = table
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.drop_single = drop_single
        self.buffer_rows = buffer_rows
        k, n_folds = fold if fold is not None else (None, 0)
        self.rows = {
            role: Rows(validation_fraction, random_state, role, k, n_folds)
            for role in (False, True)  # training, validation
        }
        self.counts = {role: counted(table, rows) for role, rows in self.rows.items()}
        if validation_fraction > 0 and not (
            self.counts[True].sum() and self.counts[False].sum()
        ):
            raise ValueError(
                f"validation_fraction={validation_fraction} of {table.n_rows} rows "
                "leaves no row for validation or for training; pass more rows or "
                "set validation_fraction=0."
            )

    def _batches(self, *, train: bool) -> StreamBatches:
        trainer = self.trainer
        role = not train
        return StreamBatches(
            self.table,
            self.rows[role],
            self.counts[role],
            train=train,
            batch_size=self.batch_size,
            seed=self.random_state + 1,
            rank=trainer.global_rank if trainer is not None and train else 0,
            world_size=trainer.world_size if trainer is not None and train else 1,
            drop_single=train and self.drop_single,
            epoch=(lambda: trainer.current_epoch) if trainer is not None else None,
            buffer_rows=self.buffer_rows,
        )

    def train_dataloader(self) -> StreamBatches:
        return self._batches(train=True)

    def val_dataloader(self) -> StreamBatches | list:
        # Every process validates on all validation rows, as in memory.
        if not self.counts[True].sum():
            return []
        return self._batches(train=False)
