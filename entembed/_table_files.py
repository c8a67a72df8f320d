"""Tables in and out of the command line: CSV and TSV (optionally compressed)
and Parquet files, read whole and written atomically, and the checks made
before any work (an output that is an input, a folder that does not exist).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ._files import atomic_path, check_writable, same_file

# Last suffix first: "data.TSV.gz" is a gzipped tab-separated file.
_FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}


class CommandError(ValueError):
    """A problem with the command's input, reported in one line."""


def table_format(path: str, verb: str) -> tuple[str, str | None]:
    """(kind, compression) of a table file, from its extensions in any case."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    compression = None
    if suffixes and suffixes[-1] in _COMPRESSIONS:
        compression = _COMPRESSIONS[suffixes.pop()]
    kind = _FORMATS.get(suffixes[-1]) if suffixes else None
    if kind is None or (kind == "parquet" and compression):
        raise CommandError(
            f"cannot {verb} {path!r}: unknown format "
            f"{''.join(Path(path).suffixes) or '(no extension)'!r}; use .csv, .tsv "
            "(optionally .gz, .bz2, .xz) or .parquet"
        )
    return kind, compression


def read_table(path: str) -> pd.DataFrame:
    """Read a CSV or TSV (optionally compressed) or Parquet file."""
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"file {path!r} not found")
    kind, compression = table_format(path, "read")
    try:
        if kind == "parquet":
            return pd.read_parquet(file)
        # low_memory=False: each column's type is read from all its rows, not
        # guessed per chunk, so one column cannot hold both 1 and "1".
        return pd.read_csv(
            file,
            sep="\t" if kind == "tsv" else ",",
            compression=compression,
            low_memory=False,
        )
    except ImportError as exc:
        raise CommandError(
            f"reading {path!r} needs pyarrow: pip install pyarrow"
        ) from exc
    except Exception as exc:  # pandas raises many types for unreadable content
        raise CommandError(f"cannot read {path!r}: {exc}".splitlines()[0]) from exc


def write_table(frame: pd.DataFrame, path: str) -> None:
    """Write a table atomically: an interrupted write leaves no partial file."""
    kind, compression = table_format(path, "write")
    with atomic_path(path) as temporary:
        if kind == "parquet":
            frame.to_parquet(temporary, index=False)
        else:
            frame.to_csv(
                temporary,
                index=False,
                sep="\t" if kind == "tsv" else ",",
                compression=compression,
            )


def check_output(out, *inputs) -> None:
    """Cheap checks before any work: the output is not one of the inputs, and
    it can be written (an existing, writable folder)."""
    for source in inputs:
        if source is not None and same_file(out, source):
            raise CommandError(
                f"--out {str(out)!r} is one of the inputs; write to another file"
            )
    check_writable(out)


def split_target(data: pd.DataFrame, target: str, source: str):
    if target not in data.columns:
        raise CommandError(
            f"target column {target!r} is not in {source} (columns: "
            f"{', '.join(map(str, data.columns[:20]))})"
        )
    y = data[target]
    n_missing = int(y.isna().sum())
    if n_missing:
        raise CommandError(
            f"target column {target!r} has {n_missing} missing value(s); drop "
            "those rows first"
        )
    return data.drop(columns=[target]), y
