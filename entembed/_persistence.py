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
import math
import os
import struct
import zipfile
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ._files import atomic_file
from ._warnings import warn

FORMAT = "entembed"
FORMAT_VERSION = 2
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
    """The array that :func:`encode_values` stored."""
    dtype, values = data["dtype"], data["values"]
    if not isinstance(dtype, str) or not isinstance(values, list):
        raise ValueError(f"stored values of dtype {dtype!r} are not a list")
    if dtype != "object":
        if np.dtype(dtype).kind not in "biufmM":
            raise ValueError(f"stored values have dtype {dtype!r}")
        return np.array(values, dtype=np.dtype(dtype))
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
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
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
    """Write a fitted entembed estimator to ``path`` (an ``.npz`` file).

    The file is written beside ``path`` and renamed into place when complete:
    an error or an interrupt leaves an existing file at ``path`` intact.
    """
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
    # np.savez would append ".npz" to a name without it: write to a file object.
    with atomic_file(path) as f:
        np.savez(f, **members)


# ------------------------------------------------------------------ load
# What a file written by save() can hold; anything else is refused before any
# allocation it asks for.
_DTYPES = frozenset(
    np.dtype(kind)
    for kind in (
        "bool",
        "uint8",
        "int8",
        "int16",
        "int32",
        "int64",
        "float32",
        "float64",
    )
)
_MAX_MEMBERS = 10_000
_MAX_META_BYTES = 64 * 2**20
_MAX_DEPTH = 16


def _invalid(path, reason: str) -> ValueError:
    return ValueError(
        f"{path} is not a valid entembed model file: {reason}. It may be truncated "
        "or modified; save the estimator again with .save(path)."
    )


class _Members(dict):
    """The arrays of a file, remembering which ones the estimator read."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.read: set[str] = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)


def _read_header(member, name: str):
    """Shape and dtype of one ``.npy`` member, read and checked before its data."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise ValueError(f"member {name!r} has .npy version {version}")
    if dtype not in _DTYPES:
        raise ValueError(f"member {name!r} has dtype {dtype.str!r}, not a number type")
    if not all(isinstance(n, int) and n >= 0 for n in shape) or len(shape) > 3:
        raise ValueError(f"member {name!r} has shape {shape}")
    return shape, fortran, dtype


def _read_arrays(path) -> dict[str, np.ndarray]:
    """Every member of the archive, each checked against the file's size."""
    file_size = os.path.getsize(path)
    with open(path, "rb") as f:
        if f.read(6) == b"\x93NUMPY":
            raise ValueError("it is a single .npy array, not an .npz model file")
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        if len(infos) > _MAX_MEMBERS:
            raise ValueError(f"it has {len(infos)} members")
        arrays = {}
        for info in infos:
            name = info.filename
            if not name.endswith(".npy") or "/" in name or name[:-4] in arrays:
                raise ValueError(f"member {name!r} is not an array of the model")
            if info.flag_bits & 0x1:
                raise ValueError(f"member {name!r} is encrypted; save() never encrypts")
            if info.compress_type != zipfile.ZIP_STORED or info.file_size > file_size:
                raise ValueError(
                    f"member {name!r} is compressed or larger than the file; save() "
                    "stores arrays uncompressed"
                )
            with archive.open(info) as member:
                shape, fortran, dtype = _read_header(member, name)
                n_bytes = math.prod(shape) * dtype.itemsize
                if n_bytes != info.file_size - member.tell():
                    raise ValueError(
                        f"member {name!r} declares shape {shape} of {dtype.str!r}, "
                        "which its size does not hold"
                    )
                data = member.read(n_bytes)
                if len(data) != n_bytes or member.read(1):
                    raise ValueError(f"member {name!r} is truncated")
            # A writable copy, as a fitted model's tables are.
            array = np.frombuffer(data, dtype).reshape(
                shape, order="F" if fortran else "C"
            )
            arrays[name[:-4]] = array.copy(order="K")
    return arrays


def _depth(value, limit: int) -> int:
    """Nesting depth of a JSON value, counted no further than ``limit``."""
    if limit <= 0 or not isinstance(value, (dict, list)):
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(child, limit - 1) for child in children), default=0)


def _read_meta(arrays: dict) -> dict:
    data = arrays.pop(_META, None)
    if data is None:
        raise ValueError("its metadata entry is missing")
    if data.dtype != np.uint8 or data.ndim != 1 or data.size > _MAX_META_BYTES:
        raise ValueError("its metadata entry is not a JSON document of bounded size")
    try:
        meta = json.loads(data.tobytes().decode("utf-8"))
    except RecursionError as exc:
        raise ValueError("its metadata is nested too deeply") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"its metadata is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError("it was not written by entembed")
    if _depth(meta, _MAX_DEPTH + 1) > _MAX_DEPTH:
        raise ValueError("its metadata is nested too deeply")
    return meta


# ------------------------------------------------------------ upgrades
# Format 1 grew keys and parameters as features arrived; a file lacks those
# written before them, and trained as the values below describe.
_FORMAT_1_PARAMS = {
    "learning_rate_schedule": "constant",  # the schedule came later
    "category_dropout": 0.0,
    "shrinkage": 0.0,
    "checkpoint_dir": None,
    "callbacks": None,
    "logger": None,
    "init_embeddings": None,
    "freeze_embeddings": False,
    "warm_start": False,
}
_FORMAT_1_EMBEDDER_PARAMS = {
    "remainder": "drop",  # the default until 0.2
    "append_prediction": False,
    "feature_scale": None,  # served as learned
    # cv="auto" tested ID-like columns on its folds; others had nothing to test.
    "test_id_columns": True,
}


def _upgrade_from_1(meta: dict) -> dict:
    """A format 1 file's metadata as format 2 writes it: every parameter
    stored, and the embedder's folds, constant columns and scales."""
    params = meta.get("params")
    if not isinstance(params, dict):
        raise ValueError("its parameters are not a mapping")
    embedder = meta.get("estimator") == "EntityEmbedder"
    missing = {
        **_FORMAT_1_PARAMS,
        **(_FORMAT_1_EMBEDDER_PARAMS if embedder else {"test_id_columns": False}),
    }
    meta["params"] = {**missing, **params}
    meta.setdefault("constant_columns", [])
    if embedder:
        cv = meta["params"].get("cv", "auto")
        # cv_ was not stored: its cv was None, a number, or "auto" (in sample).
        meta.setdefault("cv", None if cv == "auto" else cv)
        columns = meta.get("categorical_columns")
        meta.setdefault("feature_scales", [1.0] * len(columns or []))
    return {**meta, "format_version": 2}


# Each older format version's step to the next; load applies them in turn.
_UPGRADES = {1: _upgrade_from_1}


def upgraded(meta: dict) -> dict:
    """``meta`` of any format version this entembed reads, as the current
    version writes it."""
    version = meta.get("format_version")
    while version in _UPGRADES:
        meta = _UPGRADES[version](meta)
        version = meta["format_version"]
    return meta


def load(path):
    """Load an estimator saved with ``.save(path)``; never runs code from the file.

    The file is untrusted input: every array's type and size is checked before
    it is read, the metadata's size and depth are bounded, members the
    estimator does not use are refused, and the restored estimator's
    parameters, layer shapes and weights are validated. Whatever is wrong, the
    error is one ``ValueError`` naming the file and the reason.

    Parameters
    ----------
    path : str or Path
        File written by :meth:`EntityEmbedder.save` (or a predictor's).

    Returns
    -------
    EntityEmbedder, EntityEmbeddingRegressor or EntityEmbeddingClassifier
        Fitted; ``transform``/``predict`` need neither torch nor a GPU.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import entembed
    >>> from entembed import EntityEmbedder, datasets
    >>> X, y, _ = datasets.make_synthetic(120, (3,), random_state=0)
    >>> embedder = EntityEmbedder(max_epochs=2, random_state=0).fit(X, y)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.npz"
    >>> embedder.save(path)
    >>> loaded = entembed.load(path)
    >>> bool((loaded.transform(X) == embedder.transform(X)).all())
    True
    """
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"{path} is a directory; pass the model file that .save() wrote."
        )
    try:
        arrays = _read_arrays(path)
        meta = _read_meta(arrays)
    except (FileNotFoundError, PermissionError):
        raise
    except (
        OSError,
        ValueError,
        EOFError,
        RecursionError,
        NotImplementedError,  # zipfile: an unknown "zip version" or method
        struct.error,
        zipfile.BadZipFile,
    ) as exc:
        raise _invalid(
            path,
            str(exc)
            if isinstance(exc, ValueError)
            else (f"it cannot be read as a zip of arrays ({exc})"),
        ) from exc
    try:
        meta = upgraded(meta)
    except (KeyError, TypeError, ValueError) as exc:
        raise _invalid(
            path, f"its format 1 metadata is inconsistent ({exc!r})"
        ) from exc
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{path} has entembed format version {version!r}; this entembed reads "
            f"version {FORMAT_VERSION}. Load it with the entembed release that "
            "saved it, or refit."
        )
    name = meta.get("estimator")
    cls = _SAVEABLE.get(name) if isinstance(name, str) else None
    members = _Members(arrays)
    try:
        if cls is None:
            raise ValueError(f"unknown estimator {name!r}")
        estimator = cls._from_state(meta, members)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise _invalid(path, f"its contents are inconsistent ({exc!r})") from exc
    unused = sorted(set(arrays) - members.read)
    if unused:
        raise _invalid(path, f"it has members the model does not use: {unused}")
    return estimator
