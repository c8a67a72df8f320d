"""The settings of one training run, as plain data (no torch).

The facade builds a :class:`TrainingConfig` from an estimator's parameters and
from what fit found in the data (task, tables, widths, seed); the training layer
(:func:`entembed._training.fit_network`) reads nothing else. Cross-fitting folds
reuse their parent's config, so they train the same network from the same start.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


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
    # The network.
    hidden_units: tuple[int, ...] = (256, 128)
    dropout: float = 0.0
    batch_norm: bool = False
    encoder: str = "embedding"
    # The optimiser and the loop.
    learning_rate: float = 3e-3
    weight_decay: float = 0.0
    table_learning_rate: float = 100.0
    batch_size: int = 256
    max_epochs: int = 20
    validation_fraction: float = 0.1
    patience: int | None = 3
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
        settings["verbose"] = int(settings.get("verbose", 0))
        return cls(**settings)
