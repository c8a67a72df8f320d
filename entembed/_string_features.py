"""String features: a category's text cut into pieces hashed into buckets.

A text column's category is a string, and real strings are dirty ("Police
Officer III", "POLICE OFFICER 3"). Besides its own vector, a category then
gets the mean of the learned vectors of its pieces, character n-grams or word
tokens hashed into a fixed number of buckets (fastText's subword vectors,
Bojanowski et al. 2017): near-identical strings share most of their vector, a
rare spelling borrows from the common ones, and a string never seen in fit
gets a vector from its pieces instead of the one unknown vector.

This layer is numpy and pandas only: the network (torch) averages the pieces'
vectors in training, and serving composes an unseen string's vector here,
without torch.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._vocabulary import N_RESERVED_CODES, UNKNOWN_CODE

KINDS = ("char", "word")
# A category's text is cut to its first MAX_CHARS characters: a 10,000-character
# answer costs as much as a 256-character one, and memory stays bounded.
MAX_CHARS = 256
# "auto" cuts the text columns whose kept categories number at least this many
# into pieces (the quality and ablation pages compare it with no pieces on
# every table).
AUTO_MIN_CATEGORIES = 100
# ... into word tokens where its categories hold at least this many words on
# average (free text: a few words carry it, and its dozens of character
# n-grams per row would cost more and dilute them), character n-grams below.
AUTO_MIN_WORDS = 4
# A piece vector's width at most: a wider column's pieces add to its first
# PIECE_WIDTH dimensions (a step costs each row's pieces times this width).
PIECE_WIDTH = 16
_SEPARATOR = 0  # the byte between two strings in the joined buffer
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_BLOCK_STRINGS = 4096  # strings per block when averaging their pieces' vectors


def normalise(value) -> str:
    """The text that is cut into pieces: Unicode NFKC, lower case, runs of
    white space as one space, at most :data:`MAX_CHARS` characters.

    Bytes are read as UTF-8 (invalid bytes become U+FFFD); any other value
    is its ``str``.
    """
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", errors="replace")
    text = unicodedata.normalize("NFKC", str(value)[: 4 * MAX_CHARS])
    return " ".join(text.casefold().split())[:MAX_CHARS]


def _mix(h: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: every bit of the FNV hash reaches the low
    bits that pick the bucket."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _fnv(windows: np.ndarray) -> np.ndarray:
    """FNV-1a of each row of ``windows`` (bytes), as uint64."""
    h = np.full(len(windows), _FNV_OFFSET, dtype=np.uint64)
    for k in range(windows.shape[1]):
        h = (h ^ windows[:, k].astype(np.uint64)) * _FNV_PRIME
    return h


def _fnv_each(items: list[bytes]) -> np.ndarray:
    """FNV-1a of each byte string, as :func:`_fnv` of it alone: all strings
    step through their k-th byte together, the longer ones for longer."""
    lengths = np.array([len(b) for b in items], dtype=np.int64)
    buffer = np.frombuffer(b"".join(items), dtype=np.uint8)
    begins = np.cumsum(lengths) - lengths
    h = np.full(len(items), _FNV_OFFSET, dtype=np.uint64)
    for k in range(int(lengths.max()) if len(items) else 0):
        live = np.flatnonzero(lengths > k)
        h[live] = (h[live] ^ buffer[begins[live] + k].astype(np.uint64)) * _FNV_PRIME
    return h


@dataclass(frozen=True)
class StringHashing:
    """How a column's strings are cut into pieces and hashed into buckets.

    Parameters
    ----------
    kind : {"char", "word"}
        ``"char"``: the n-grams of the text's UTF-8 bytes (its characters,
        for ASCII text), the text padded with a space at each end so that
        word boundaries count. ``"word"``: its word tokens (runs of letters,
        digits and underscores).
    ngram_range : (int, int)
        The smallest and largest n-gram, in bytes (``"char"`` only).
    n_buckets : int
        Rows of the column's table of piece vectors; pieces share a row where
        their hashes collide.
    """

    kind: str = "char"
    ngram_range: tuple[int, int] = (3, 3)
    n_buckets: int = 16_384

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}.")
        low, high = self.ngram_range
        if not 1 <= low <= high <= 16:
            raise ValueError(
                f"ngram_range must be (low, high) with 1 <= low <= high <= 16, "
                f"got {self.ngram_range}."
            )
        if self.n_buckets < 1:
            raise ValueError(f"n_buckets must be >= 1, got {self.n_buckets}.")

    def pieces(self, values) -> tuple[np.ndarray, np.ndarray]:
        """Each value's bucket ids, as compressed rows.

        Returns
        -------
        ids : ndarray of int64
            The bucket ids of value ``i`` are ``ids[starts[i]:starts[i + 1]]``,
            one per piece (a piece that occurs twice counts twice).
        starts : ndarray of int64, shape (len(values) + 1,)
        """
        texts = [normalise(v) for v in values]
        if self.kind == "word":
            hashes, owners = self._words(texts)
        else:
            hashes, owners = self._char_ngrams(texts)
        order = np.argsort(owners, kind="stable")
        ids = (_mix(hashes[order]) % np.uint64(self.n_buckets)).astype(np.int64)
        counts = np.bincount(owners, minlength=len(texts))
        starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return ids, starts

    def _char_ngrams(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Hashes and owners of every n-gram: the texts joined into one byte
        buffer with a separator byte, and every window that holds no separator."""
        encoded = [
            b" " + t.replace("\x00", " ").encode("utf-8", errors="replace") + b" "
            for t in texts
        ]
        buffer = np.frombuffer(b"\x00".join(encoded) + b"\x00", dtype=np.uint8)
        lengths = np.array([len(e) + 1 for e in encoded], dtype=np.int64)
        begins = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        separators = np.concatenate([[0], np.cumsum(buffer == _SEPARATOR)])
        hashes, owners = [], []
        for n in range(self.ngram_range[0], self.ngram_range[1] + 1):
            if len(buffer) < n:
                continue
            windows = np.lib.stride_tricks.sliding_window_view(buffer, n)
            clean = np.flatnonzero(separators[n:] - separators[:-n] == 0)
            hashes.append(_fnv(windows[clean]) ^ np.uint64(n))
            owners.append(np.searchsorted(begins, clean, side="right") - 1)
        if not hashes:
            return np.zeros(0, np.uint64), np.zeros(0, np.int64)
        return np.concatenate(hashes), np.concatenate(owners).astype(np.int64)

    @staticmethod
    def _words(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        tokens = [re.findall(r"\w+", t) for t in texts]
        flat = [w.encode("utf-8", errors="replace") for ws in tokens for w in ws]
        owners = np.repeat(np.arange(len(texts)), [len(ws) for ws in tokens])
        return _fnv_each(flat), owners.astype(np.int64)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "ngram_range": list(self.ngram_range),
            "n_buckets": self.n_buckets,
        }

    @classmethod
    def from_dict(cls, state: dict) -> StringHashing:
        return cls(state["kind"], tuple(state["ngram_range"]), state["n_buckets"])


@dataclass(frozen=True, eq=False)
class CodePieces:
    """A text column's pieces by code: the bucket ids of code ``c`` are
    ``ids[starts[c]:starts[c + 1]]``; the reserved codes (unknown, missing)
    have none."""

    ids: np.ndarray
    starts: np.ndarray
    n_buckets: int

    @classmethod
    def of_categories(cls, hashing: StringHashing, categories) -> CodePieces:
        """The pieces of a column's kept categories, in code order."""
        ids, starts = hashing.pieces(categories)
        starts = np.concatenate([np.zeros(N_RESERVED_CODES, np.int64), starts])
        return cls(ids, starts, hashing.n_buckets)

    def rows(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The pieces of ``codes`` alone, as ``(ids, starts)``."""
        begin, end = self.starts[codes], self.starts[np.asarray(codes) + 1]
        lengths = end - begin
        starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        shift = np.repeat(begin - starts[:-1], lengths)
        return self.ids[np.arange(starts[-1]) + shift], starts


def piece_means(table: np.ndarray, ids: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each value's mean piece vector (zeros for a value without pieces).

    Parameters
    ----------
    table : ndarray of shape (n_buckets, width)
    ids, starts : ndarray
        As :meth:`StringHashing.pieces` returns them.

    Returns
    -------
    ndarray of shape (len(starts) - 1, width), float32
    """
    n = len(starts) - 1
    out = np.zeros((n, table.shape[1]), dtype=np.float32)
    for first in range(0, n, _BLOCK_STRINGS):
        last = min(first + _BLOCK_STRINGS, n)
        begin, end = starts[first : last + 1], starts[first + 1 : last + 1]
        lengths = end - begin[:-1]
        filled = np.flatnonzero(lengths)
        if len(filled) == 0:
            continue
        block = table[ids[begin[0] : begin[-1]]].astype(np.float64)
        sums = np.add.reduceat(block, begin[:-1][filled] - begin[0], axis=0)
        out[first + filled] = sums / lengths[filled, None]
    return out


def is_text(categories: np.ndarray) -> bool:
    """Whether a column's kept categories are all text (str or bytes)."""
    return len(categories) > 0 and all(isinstance(v, str | bytes) for v in categories)


def choose_hashing(
    string_features, columns: list[str], categories: list, ngram_range, n_buckets
) -> dict[str, StringHashing]:
    """The columns to cut into pieces, each with its hashing: what the
    ``string_features`` parameter asks for these ``columns`` (the embedded
    ones) and their kept ``categories``."""
    if isinstance(string_features, dict):
        unknown = [c for c in string_features if c not in columns]
        if unknown:
            raise ValueError(
                f"string_features names {unknown}, which are not embedded "
                f"columns (those are {columns}). Name embedded columns only."
            )
        kinds = {c: string_features.get(c, "none") for c in columns}
    elif string_features == "auto":
        kinds = {
            c: _auto_kind(found) for c, found in zip(columns, categories, strict=True)
        }
    else:
        kinds = dict.fromkeys(columns, string_features)
    bad = {c: k for c, k in kinds.items() if k not in (*KINDS, "none")}
    if bad:
        raise ValueError(
            f"string_features gives {bad}; each column takes one of {[*KINDS, 'none']}."
        )
    try:
        low, high = (int(n) for n in ngram_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"string_ngram_range must be a pair (min_n, max_n), got {ngram_range!r}."
        ) from None
    return {
        c: StringHashing(kind, (low, high), int(n_buckets))
        for c, kind in kinds.items()
        if kind != "none"
    }


def _auto_kind(categories: np.ndarray) -> str:
    """``"auto"``'s choice for a column of these kept categories."""
    if len(categories) < AUTO_MIN_CATEGORIES or not is_text(categories):
        return "none"
    texts = [normalise(v) for v in categories]
    if len({re.sub(r"\d", "", t) for t in texts}) == 1:
        # Numbers around one fixed text ("store_17", "00123", "9:89:1"): their
        # digits' n-grams would only tie unrelated identifiers together.
        return "none"
    sample = texts[:: max(1, len(texts) // 1000)]
    words = np.mean([len(re.findall(r"\w+", t)) for t in sample])
    return "word" if words >= AUTO_MIN_WORDS else "char"


def code_pieces(
    hashing: dict[str, StringHashing], columns: list[str], categories: list
) -> tuple[CodePieces | None, ...]:
    """By column, the pieces of its kept categories (None: not cut)."""
    return tuple(
        CodePieces.of_categories(hashing[c], found) if c in hashing else None
        for c, found in zip(columns, categories, strict=True)
    )


def unseen_vectors(network, hashing: dict, columns: list[str], codes, frame) -> dict:
    """For :meth:`NumpyNetwork.embed`'s ``unseen``: by index of a column cut
    into pieces of text (``hashing``, by name), the rows whose string fit
    never kept (unseen, or merged as rare) and their composed vectors (the
    unknown vector plus their pieces' mean), each distinct string hashed
    once. ``network``: the fitted :class:`NumpyNetwork`; ``codes``, ``frame``:
    the rows' codes and values of ``columns``, the embedded columns."""
    found = {}
    pieces = network.pieces or []
    for j, column in enumerate(columns):
        if column not in hashing or j >= len(pieces) or pieces[j] is None:
            continue
        rows = np.flatnonzero(codes[:, j] == UNKNOWN_CODE)
        if not len(rows):
            continue
        values = frame[column].iloc[rows].to_numpy(dtype=object)
        present = ~pd.isna(values)
        if present.any():
            inverse, uniques = pd.factorize(values[present])
            vectors = network.unseen_vectors(j, *hashing[column].pieces(uniques))
            found[j] = (rows[present], vectors[inverse])
    return found
