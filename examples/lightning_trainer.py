"""
Your own Lightning Trainer
==========================

entembed's Lightning module and data module in your own Trainer, with your own
logger and callbacks; then the learned tables as numpy arrays.
"""

import tempfile

import lightning as L
import numpy as np
import pandas as pd
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.loggers import CSVLogger

from entembed import CategoryVocabulary, EntityEmbeddingModule, TensorDataModule

rng = np.random.default_rng(0)
n = 5_000
X = pd.DataFrame(
    {
        "city": rng.choice([f"city{i}" for i in range(40)], n),
        "channel": rng.choice(["web", "app", "store"], n),
    }
)
y = X["city"].str[4:].astype(int).to_numpy() % 5 + (X["channel"] == "app").to_numpy()

vocabulary = CategoryVocabulary().fit(X)
data = TensorDataModule(
    vocabulary.transform(X), y.astype(np.float32), batch_size=256, random_state=0
)
module = EntityEmbeddingModule(
    vocabulary.cardinalities_.tolist(), [4, 2], hidden_units=(32,), learning_rate=3e-3
)
with tempfile.TemporaryDirectory() as logs:
    trainer = L.Trainer(
        max_epochs=15,
        accelerator="auto",
        logger=CSVLogger(logs),
        callbacks=[EarlyStopping("val_loss", patience=3)],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    trainer.fit(module, datamodule=data)
    print({k: round(float(v), 4) for k, v in trainer.callback_metrics.items()})

city_table = module.network.tables()[0].detach().numpy()
print("city table:", city_table.shape, "(rows 0 and 1: unknown and missing)")
