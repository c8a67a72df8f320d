"""The settings of one training run, as plain data (no torch).

The facade builds a :class:`TrainingConfig` from an estimator's parameters and
from what fit found in the data (task, tables, widths, seed); the training layer
(:func:`entembed._training.fit_network`) reads nothing else. Cross-fitting folds
reuse their parent's config, so they train the same network from the same start.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ._numpy_network import NumpyNetwork

# What a checkpoint belongs to: everything but how the process runs.
_NOT_IN_FINGERPRINT = (
    "n_threads",
    "verbose",
    "checkpoint_dir",
    "table_names",
    "progress_label",
    "callbacks",
    "logger",
    "pieces",  # hashed on its own (fingerprint)
)


@dataclass(frozen=True)
class TrainingConfig:
    """Everything :func:`~entembed._training.fit_network` needs beside the data.

    The network's shape (``task`` to ``encoder``), the optimiser, the loop,
    Lightning's Trainer settings, and the run's seed and threads. Field names
    are the estimators' parameter names.
    """

    # What the data decided in fit.
    task: str
    n_outputs: int
    cardinalities: tuple[int, ...]
    embedding_dims: tuple[int, ...]
    numeric_columns: tuple[str, ...]
    seed: int
    table_names: tuple[str, ...] = ()  # the embedded columns, for messages
    # The network.
    hidden_units: tuple[int, ...] = (256, 128)
    dropout: float = 0.0
    batch_norm: bool = False
    interactions: str = "none"
    encoder: str = "embedding"
    # By column, its categories' hashed pieces of text (None: not cut).
    pieces: tuple = ()
    # The optimiser and the loop.
    learning_rate: float = 3e-3
    weight_decay: float = 0.0
    table_learning_rate: float = 100.0
    category_dropout: float = 0.0
    shrinkage: float | str = 0.0
    learning_rate_schedule: str = "cosine"
    # The schedule's length in epochs when it differs from max_epochs: a
    # cross-fitting fold stops at its parent's best epoch on its parent's curve.
    schedule_epochs: int | None = None
    batch_size: int = 256
    max_epochs: int = 20
    validation_fraction: float = 0.1
    patience: int | None = 2
    gradient_clip_val: float | None = None
    # Lightning's Trainer.
    accelerator: Any = "auto"
    devices: Any = "auto"
    strategy: Any = "auto"
    num_nodes: int = 1
    precision: Any = "32-true"
    # The process.
    n_threads: int | None = None
    verbose: int = 0
    progress_label: str = "fit"  # names the progress bar: "fit", "fold 2/5"
    checkpoint_dir: str | None = None
    # The user's Lightning callbacks and logger, beside entembed's own.
    callbacks: tuple = ()
    logger: Any = None

    @classmethod
    def from_params(cls, params: dict, **found) -> TrainingConfig:
        """Build from an estimator's ``get_params()`` and what fit ``found``.

        Parameters that are not training settings (column selection, the
        vocabulary's, ``cv``, ...) are ignored.
        """
        names = {f.name for f in fields(cls)}
        settings = {k: v for k, v in params.items() if k in names}
        settings.update(found)
        settings["hidden_units"] = tuple(int(u) for u in settings["hidden_units"])
        settings["cardinalities"] = tuple(int(n) for n in settings["cardinalities"])
        settings["embedding_dims"] = tuple(int(d) for d in settings["embedding_dims"])
        settings["numeric_columns"] = tuple(settings["numeric_columns"])
        settings["table_names"] = tuple(settings.get("table_names", ()))
        settings["verbose"] = int(settings.get("verbose", 0))
        settings["callbacks"] = tuple(settings.get("callbacks") or ())
        if settings.get("checkpoint_dir") is not None:
            settings["checkpoint_dir"] = os.fspath(settings["checkpoint_dir"])
        return cls(**settings)

    def fingerprint(self, *arrays) -> str:
        """A digest of these settings and the training data: a checkpoint made
        under one fingerprint resumes only the same fit."""
        digest = hashlib.sha256()
        settings = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in _NOT_IN_FINGERPRINT
        }
        digest.update(repr(sorted(settings.items())).encode())
        for found in self.pieces:
            if found is not None:
                digest.update(f"pieces{found.n_buckets}".encode())
                arrays = (*arrays, found.ids, found.starts)
        for array in arrays:
            if array is None:
                digest.update(b"none")
                continue
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(array.data)
        return digest.hexdigest()[:20]


@dataclass(frozen=True)
class StartingPoint:
    """Weights a fit starts from instead of a random draw.

    ``init_embeddings`` gives some tables; ``warm_start`` gives every table
    and the layers of the network fitted before, whose input and target
    scalings the new fit keeps so that its layers still read their inputs.
    """

    tables: tuple[np.ndarray | None, ...]  # by column; None: a random draw
    frozen: tuple[bool, ...] = ()  # by column: the table does not train
    network: NumpyNetwork | None = None  # layers and scalings (warm start)
    # by column: its table of piece vectors (warm start), or None
    pieces: tuple[np.ndarray | None, ...] = ()

    def arrays(self) -> list[np.ndarray | None]:
        """Every array it holds, for a checkpoint's fingerprint."""
        arrays: list[np.ndarray | None] = [*self.tables, *self.pieces]
        arrays.append(np.asarray(self.frozen, dtype=bool))
        if self.network is not None:
            _, named = self.network._export_state()
            arrays.extend(named[k] for k in sorted(named))
        return arrays


def available_memory() -> int | None:
    """Bytes of memory free for a new allocation now, where the OS tells."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not on this platform
        return None


# What training holds per table: the parameter, its dense gradient, the best
# epoch's copy (RestoreBestWeights) and the numpy copy kept after fit.
_COPIES_PER_TABLE = 4


def check_memory(config: TrainingConfig, n_rows: int) -> None:
    """Refuse, before any allocation, a fit whose tables cannot fit in memory.

    The estimate counts the tables four times (parameter, gradient, the best
    epoch's copy and the served copy), the one-hot baseline's dense batch, and
    the training data as tensors. It is a lower bound: the hidden layers and
    Python's own overhead come on top.
    """
    available = available_memory()
    if available is None:
        return
    table_bytes = [
        n * d * 4
        for n, d in zip(config.cardinalities, config.embedding_dims, strict=True)
    ]
    need = _COPIES_PER_TABLE * sum(table_bytes)
    if config.encoder == "onehot":
        need += config.batch_size * sum(config.cardinalities) * 4 * 2
    need += n_rows * (
        len(config.cardinalities) * 8 + len(config.numeric_columns) * 4 + 8
    )
    if need <= available:
        return
    j = max(range(len(table_bytes)), key=table_bytes.__getitem__)
    name = repr(config.table_names[j]) if config.table_names else str(j)
    raise ValueError(
        f"Training needs at least {need / 2**30:.1f} GiB (the tables, their "
        f"gradients and copies), more than the {available / 2**30:.1f} GiB of "
        f"memory available. The largest table, column {name}, has "
        f"{config.cardinalities[j]:,} categories x "
        f"{config.embedding_dims[j]} dimensions ({table_bytes[j] / 2**30:.2f} GiB "
        "per copy). Group rare categories with min_frequency (e.g. 5) or cap them "
        "with max_categories, or give it a smaller width in embedding_dims."
    )
