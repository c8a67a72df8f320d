"""Save and load fitted estimators without pickle.

One ``.npz`` file (a zip of ``.npy`` arrays, read with ``allow_pickle=False``):
the tables and layer weights as arrays, everything else (parameters, columns,
categories with their types, history) as one JSON document stored as bytes.
Loading never executes code from the file and never imports torch.

This module knows the file format, not the estimators: each saveable class
registers itself and exports and restores its own fitted state (see
:func:`saveable`).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ._warnings import warn

FORMAT = "entembed"
FORMAT_VERSION = 1
_META = "entembed_meta"


class Saveable(Protocol):
    """The fitted-state protocol: what this module reads and writes, and all.

    - ``estimator._export_state() -> (meta, arrays)``: JSON-able metadata and
      named numeric arrays that describe the fitted estimator;
    - ``cls._from_state(meta, arrays)``: the fitted estimator they describe.
    """

    def _export_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]: ...

    @classmethod
    def _from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]): ...


# The classes that can be saved, by name: each registers itself with @saveable.
_SAVEABLE: dict[str, type[Saveable]] = {}


def saveable(cls):
    """Class decorator: ``entembed.load`` may rebuild instances of ``cls``,
    which speaks the :class:`Saveable` protocol."""
    _SAVEABLE[cls.__name__] = cls
    return cls


# ---------------------------------------------------------------- values
def encode_values(values: np.ndarray, where: str) -> dict:
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


def decode_values(data: dict) -> np.ndarray:
    if data["dtype"] != "object":
        return np.array(data["values"], dtype=np.dtype(data["dtype"]))
    out = np.empty(len(data["values"]), dtype=object)
    for i, (tag, value) in enumerate(data["values"]):
        out[i] = _DECODERS[tag](value)
    return out


def jsonable_params(params: dict) -> dict:
    """Parameters that JSON can store; the others are left out with a warning."""
    stored = {}
    for name, value in params.items():
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(value, np.ndarray):
            value = value.tolist()
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            warn(
                f"Parameter {name}={value!r} cannot be stored safely; the loaded "
                "estimator has its default instead."
            )
            continue
        stored[name] = value
    return stored


# ------------------------------------------------------------------ save
def save(estimator: Saveable, path) -> None:
    """Write a fitted entembed estimator to ``path`` (an ``.npz`` file)."""
    name = type(estimator).__name__
    if _SAVEABLE.get(name) is not type(estimator):
        raise TypeError(
            f"{name} cannot be saved in entembed's format; the saveable classes "
            f"are {sorted(_SAVEABLE)}. Use pickle or joblib for other objects."
        )
    meta, arrays = estimator._export_state()
    if _META in arrays:
        raise ValueError(f"an array may not be named {_META!r}")
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": name,
        **meta,
    }
    text = json.dumps(meta, allow_nan=True)
    members: dict[str, Any] = {
        **arrays,
        _META: np.frombuffer(text.encode("utf-8"), dtype=np.uint8),
    }
    path = Path(path)
    with open(path, "wb") as f:  # np.savez would append ".npz" to other names
        np.savez(f, **members)


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
    cls = _SAVEABLE.get(meta.get("estimator"))
    try:
        if cls is None:
            raise ValueError(f"unknown estimator {meta.get('estimator')!r}")
        return cls._from_state(meta, arrays)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise _corrupt(path, f"its contents are inconsistent ({exc!r})") from exc
