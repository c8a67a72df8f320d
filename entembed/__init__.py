"""entembed: categorical entity embeddings for tabular machine learning.

Categories become integer codes (:class:`CategoryVocabulary`), codes index one
learned embedding table per column, and the tables serve dense features to any
downstream estimator.
"""

from ._vocabulary import MISSING_CODE, UNKNOWN_CODE, CategoryVocabulary

__version__ = "0.1.0"

__all__ = [
    "MISSING_CODE",
    "UNKNOWN_CODE",
    "CategoryVocabulary",
    "__version__",
]
