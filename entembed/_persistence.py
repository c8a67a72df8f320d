"""Save and load fitted estimators without pickle.

One ``.npz`` file (a zip of ``.npy`` arrays, read with ``allow_pickle=False``):
the tables and layer weights as arrays, everything else (parameters, columns,
categories with their types, history) as one JSON document stored as bytes.
Loading never executes code from the file and never imports torch.
"""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ._numpy_network import LAYER_KINDS, NumpyNetwork
from ._vocabulary import N_RESERVED_CODES, CategoryVocabulary

FORMAT = "entembed"
FORMAT_VERSION = 1
_META = "entembed_meta"


def _estimator_classes():
    from ._embedder import EntityEmbedder
    from ._predictors import EntityEmbeddingClassifier, EntityEmbeddingRegressor

    return {
        cls.__name__: cls
        for cls in (EntityEmbedder, EntityEmbeddingRegressor, EntityEmbeddingClassifier)
    }


# ---------------------------------------------------------------- values
def _encode_values(values: np.ndarray, where: str) -> dict:
    """An array of categories (or class labels) as JSON, keeping their types."""
    if values.dtype.kind in "biuf":
        return {"dtype": values.dtype.str, "values": values.tolist()}
    if values.dtype.kind in "mM":
        return {"dtype": values.dtype.str, "values": values.astype(str).tolist()}
    encoded = []
    for value in values:
        if isinstance(value, (bool, np.bool_)):
            encoded.append(["b", bool(value)])
        elif isinstance(value, (int, np.integer)):
            encoded.append(["i", int(value)])
        elif isinstance(value, (float, np.floating)):
            encoded.append(["f", float(value)])
        elif isinstance(value, str):
            encoded.append(["s", value])
        elif isinstance(value, pd.Timestamp):
            encoded.append(["t", value.isoformat()])
        else:
            raise ValueError(
                f"{where} has a category of type {type(value).__name__} ({value!r}) "
                "that the safe format cannot store; convert such categories to "
                "strings before fitting, or use pickle/joblib."
            )
    return {"dtype": "object", "values": encoded}


_DECODERS = {"b": bool, "i": int, "f": float, "s": str, "t": pd.Timestamp}


def _decode_values(data: dict) -> np.ndarray:
    if data["dtype"] != "object":
        return np.array(data["values"], dtype=np.dtype(data["dtype"]))
    out = np.empty(len(data["values"]), dtype=object)
    for i, (tag, value) in enumerate(data["values"]):
        out[i] = _DECODERS[tag](value)
    return out


def _jsonable_params(estimator) -> dict:
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        if name == "embedding_dims" and callable(value):
            value = dict(estimator.embedding_dims_)  # the widths it chose
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(value, np.ndarray):
            value = value.tolist()
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            warnings.warn(
                f"Parameter {name}={value!r} cannot be stored safely; the loaded "
                "estimator has its default instead.",
                UserWarning,
                stacklevel=3,
            )
            continue
        params[name] = value
    return params


# ------------------------------------------------------------------ save
def save(estimator, path) -> None:
    """Write a fitted entembed estimator to ``path`` (an ``.npz`` file)."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    vocabulary = estimator.vocabulary_
    network = estimator.network_
    arrays = {f"table_{j}": table for j, table in enumerate(network.tables)}
    for j, counts in enumerate(vocabulary.category_counts_):
        arrays[f"counts_{j}"] = counts
    arrays["numeric_mean"] = network.numeric_mean
    arrays["numeric_scale"] = network.numeric_scale
    if network.output_scale is not None:
        arrays["output_mean"] = network.output_mean
        arrays["output_scale"] = network.output_scale
    layers = []
    for i, (kind, params) in enumerate(network.layers):
        layers.append([kind, sorted(params)])
        for key, value in params.items():
            arrays[f"layer_{i}_{key}"] = np.asarray(value)
    columns = estimator.categorical_columns_
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "params": _jsonable_params(estimator),
        "columns": estimator._columns,
        "has_feature_names": hasattr(estimator, "feature_names_in_"),
        "categorical_columns": columns,
        "numeric_columns": estimator.numeric_columns_,
        "passthrough_columns": getattr(estimator, "passthrough_columns_", None),
        "embedding_dims": estimator.embedding_dims_,
        "task": estimator.task_,
        "single_output": getattr(estimator, "_single_output", None),
        "classes": (
            _encode_values(np.asarray(estimator.classes_), "The target")
            if hasattr(estimator, "classes_")
            else None
        ),
        "history": json.loads(estimator.history_.to_json(orient="records")),
        "vocabulary": {
            "params": vocabulary.get_params(),
            "categories": [
                _encode_values(kept, f"Column {c!r}")
                for c, kept in zip(columns, vocabulary.categories_, strict=True)
            ],
            "infrequent": [
                None if rare is None else _encode_values(rare, f"Column {c!r}")
                for c, rare in zip(
                    columns, vocabulary.infrequent_categories_, strict=True
                )
            ],
        },
        "layers": layers,
    }
    text = json.dumps(meta, allow_nan=True)
    arrays[_META] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    path = Path(path)
    with open(path, "wb") as f:  # np.savez would append ".npz" to other names
        np.savez(f, **arrays)


# ------------------------------------------------------------------ load
def _corrupt(path, reason: str) -> ValueError:
    return ValueError(
        f"{path} is not a valid entembed model file: {reason}. It may be truncated "
        "or modified; save the estimator again with .save(path)."
    )


def load(path):
    """Load an estimator saved with ``.save(path)``; never runs code from the file.

    Parameters
    ----------
    path : str or Path
        File written by :meth:`EntityEmbedder.save` (or a predictor's).

    Returns
    -------
    EntityEmbedder, EntityEmbeddingRegressor or EntityEmbeddingClassifier
        Fitted; ``transform``/``predict`` need neither torch nor a GPU.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise _corrupt(path, f"it cannot be read as a zip of arrays ({exc})") from exc
    if _META not in arrays:
        raise _corrupt(path, "its metadata entry is missing")
    try:
        meta = json.loads(arrays.pop(_META).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _corrupt(path, f"its metadata is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _corrupt(path, "it was not written by entembed")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{path} has entembed format version {version!r}; this entembed reads "
            f"version {FORMAT_VERSION}. Load it with the entembed release that "
            "saved it, or refit."
        )
    try:
        return _rebuild(meta, arrays)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise _corrupt(path, f"its contents are inconsistent ({exc!r})") from exc


def _rebuild(meta: dict, arrays: dict):
    classes = _estimator_classes()
    name = meta["estimator"]
    if name not in classes:
        raise ValueError(f"unknown estimator {name!r}")
    params = dict(meta["params"])
    if "hidden_units" in params:
        params["hidden_units"] = tuple(params["hidden_units"])
    estimator = classes[name](**params)

    columns = meta["categorical_columns"]
    vocab_meta = meta["vocabulary"]
    vocabulary = CategoryVocabulary(**vocab_meta["params"])
    categories = [_decode_values(v) for v in vocab_meta["categories"]]
    infrequent = [
        None if v is None else _decode_values(v) for v in vocab_meta["infrequent"]
    ]
    if not (len(columns) == len(categories) == len(infrequent)):
        raise ValueError("columns and categories disagree")
    counts = [arrays[f"counts_{j}"] for j in range(len(columns))]
    if [len(c) for c in counts] != [len(kept) for kept in categories]:
        raise ValueError("category counts disagree with the categories")
    vocabulary._set_fitted(columns, categories, infrequent, counts, has_names=True)

    tables = [
        np.ascontiguousarray(arrays[f"table_{j}"], dtype=np.float32)
        for j in range(len(columns))
    ]
    for column, table, kept in zip(columns, tables, categories, strict=True):
        width = meta["embedding_dims"][column]
        if table.shape != (len(kept) + N_RESERVED_CODES, width):
            raise ValueError(f"table of {column!r} has shape {table.shape}")
    layers = []
    for i, (kind, keys) in enumerate(meta["layers"]):
        if kind not in LAYER_KINDS:
            raise ValueError(f"unknown layer kind {kind!r}")
        layers.append((kind, {key: arrays[f"layer_{i}_{key}"] for key in keys}))
    estimator.network_ = NumpyNetwork(
        tables=tables,
        numeric_mean=arrays["numeric_mean"],
        numeric_scale=arrays["numeric_scale"],
        layers=layers,
        output_mean=arrays.get("output_mean"),
        output_scale=arrays.get("output_scale"),
    )
    if len(estimator.network_.numeric_mean) != len(meta["numeric_columns"]):
        raise ValueError("numeric scaling disagrees with the numeric columns")
    estimator.vocabulary_ = vocabulary
    estimator.task_ = meta["task"]
    estimator.categorical_columns_ = columns
    estimator.numeric_columns_ = meta["numeric_columns"]
    estimator.embedding_dims_ = {c: int(meta["embedding_dims"][c]) for c in columns}
    estimator.history_ = pd.DataFrame(meta["history"])
    estimator._columns = meta["columns"]
    estimator.n_features_in_ = len(estimator._columns)
    if meta["has_feature_names"]:
        estimator.feature_names_in_ = np.asarray(estimator._columns, dtype=object)
    if meta["passthrough_columns"] is not None:
        estimator.passthrough_columns_ = meta["passthrough_columns"]
    if meta["single_output"] is not None:
        estimator._single_output = bool(meta["single_output"])
    if meta["classes"] is not None:
        estimator.classes_ = _decode_values(meta["classes"])
    return estimator
