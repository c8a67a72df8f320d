"""
Training on a GPU, serving on any CPU
=====================================

With accelerator="gpu" Lightning trains on the first CUDA device; the fitted
embedder keeps numpy arrays, so it pickles and transforms on a machine without
one. Without CUDA this example says so and stops.
"""

import pickle

import torch

from entembed import EntityEmbedder
from entembed.datasets import make_synthetic

if not torch.cuda.is_available():
    print("No CUDA device here: skipping the GPU example.")
else:
    X, y, _ = make_synthetic(200_000, (1_000, 20_000), random_state=0)
    embedder = EntityEmbedder(
        accelerator="gpu",
        devices=1,
        batch_size=4096,
        precision="16-mixed",
        random_state=0,
    ).fit(X, y)
    served = pickle.loads(pickle.dumps(embedder))  # no torch needed from here on
    print(
        "trained on",
        torch.cuda.get_device_name(0),
        "; features:",
        served.transform(X.head(3)).shape,
    )
