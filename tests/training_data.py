"""Small problems the tests train on, and estimator settings that train fast."""

import signal

import numpy as np
import pandas as pd
import torch

from entembed import EntityEmbedder
from entembed._training import History
from entembed._training_config import TrainingConfig

FAST = {"hidden_units": (16,), "max_epochs": 3, "batch_size": 64, "random_state": 0}


def city_table(n=400, seed=0):
    """A city (12 levels, four effects), a plan (categorical dtype) and an age."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "city": rng.choice([f"city{i}" for i in range(12)], n),
            "plan": pd.Categorical(rng.choice(["a", "b", "c"], n)),
            "age": rng.normal(40, 10, n),
        }
    )
    effect = {f"city{i}": i % 4 for i in range(12)}
    y = X["city"].map(effect).to_numpy(float) + 0.02 * X["age"].to_numpy()
    return X, y + rng.normal(0, 0.1, n)


def with_an_id_column(n=300, *, informative=True, name="customer", seed=0):
    """The city table with an ID-like column of 4 rows per category; with
    ``informative``, each category adds its own effect to the target."""
    X, y = city_table(n=n)
    ids = np.arange(n) % (n // 4)
    X[name] = [f"c{i}" for i in ids]
    if informative:
        y = y + np.random.default_rng(seed).normal(0, 2, n // 4)[ids]
    return X, y


# Tables of a coded problem: the target depends on the third column only.
CARDINALITIES = [5, 12, 40]


def coded_problem(n=600, seed=0):
    """Codes (n, 3) and a float target, for the torch and Lightning layers."""
    generator = torch.Generator().manual_seed(seed)
    codes = torch.stack(
        [torch.randint(0, c, (n,), generator=generator) for c in CARDINALITIES], dim=1
    )
    effect = torch.randn(40, generator=generator)
    target = effect[codes[:, 2]] + 0.1 * torch.randn(n, generator=generator)
    return codes, target


def interrupt_at_epoch(monkeypatch, epoch: int) -> None:
    """Press Ctrl-C (a real SIGINT) at the end of training epoch ``epoch``."""
    original = History.on_train_epoch_end

    def on_train_epoch_end(self, trainer, pl_module):
        original(self, trainer, pl_module)
        if trainer.current_epoch + 1 == epoch:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(History, "on_train_epoch_end", on_train_epoch_end)


# Small tables for the torch modules, every reserved code in the first rows.
MODULE_CARDINALITIES = [2, 3, 7, 50]
MODULE_DIMS = [1, 2, 4, 9]


def module_codes(n=64, seed=0):
    """Codes (n, 4) for MODULE_CARDINALITIES, rows 0-3 the reserved codes."""
    generator = torch.Generator().manual_seed(seed)
    codes = torch.stack(
        [torch.randint(0, c, (n,), generator=generator) for c in MODULE_CARDINALITIES],
        dim=1,
    )
    codes[:4] = torch.tensor([0, 1, 0, 1])[:, None]  # reserved unknown/missing codes
    return codes


def training_config(**settings):
    """A TrainingConfig for CARDINALITIES, as EntityEmbedder(hidden_units=(16,),
    max_epochs=4) would build it; ``settings`` override either part."""
    found = {
        "task": "regression",
        "n_outputs": 1,
        "cardinalities": CARDINALITIES,
        "embedding_dims": [3, 4, 6],
        "numeric_columns": ["size"],
        "seed": 0,
    }
    found.update({k: settings.pop(k) for k in list(settings) if k in found})
    params = {
        **EntityEmbedder(hidden_units=(16,), max_epochs=4).get_params(),
        **settings,
    }
    return TrainingConfig.from_params(params, **found)
