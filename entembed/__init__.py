"""entembed: categorical entity embeddings for tabular machine learning.

Categories become integer codes (:class:`CategoryVocabulary`), codes index one
learned embedding table per column, and the tables serve dense features to any
downstream estimator.

Names that need torch are imported on first use, so that loading a fitted
embedder and transforming data never imports torch.
"""

from importlib import import_module

from ._embedder import EntityEmbedder
from ._embedding_dims import auto_embedding_dim, resolve_embedding_dims
from ._persistence import load
from ._predictors import EntityEmbeddingClassifier, EntityEmbeddingRegressor
from ._projector import export_projector
from ._vocabulary import MISSING_CODE, UNKNOWN_CODE, CategoryVocabulary

__version__ = "0.2.0.dev0"

_LAZY = {
    "EmbeddingTables": "._modules",
    "OneHotLinear": "._modules",
    "EntityEmbeddingNetwork": "._modules",
    "embedding_map": "._plots",
    "EntityEmbeddingModule": "._lightning_module",
    "TensorDataModule": "._data_module",
    "transform_dask": "._dask",
    "write_features": "._dask",
}

__all__ = [
    "MISSING_CODE",
    "UNKNOWN_CODE",
    "CategoryVocabulary",
    "EmbeddingTables",
    "EntityEmbedder",
    "EntityEmbeddingClassifier",
    "EntityEmbeddingModule",
    "EntityEmbeddingNetwork",
    "EntityEmbeddingRegressor",
    "OneHotLinear",
    "TensorDataModule",
    "__version__",
    "auto_embedding_dim",
    "embedding_map",
    "export_projector",
    "load",
    "resolve_embedding_dims",
    "transform_dask",
    "write_features",
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'entembed' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
