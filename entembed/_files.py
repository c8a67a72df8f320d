"""Writing files and folders so that nothing is lost: a write goes to a
temporary sibling and is renamed into place only when it is complete, so an
error, a Ctrl-C or a killed process leaves the previous file as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

# A folder entembed wrote (write_features) holds this file; only such a folder
# is ever replaced.
MARKER = ".entembed"


def _check_local(path) -> Path:
    text = os.fspath(path)
    if "://" in text:
        raise ValueError(
            f"{text!r} is a URL; entembed writes local paths only. Write to a local "
            "file and copy it, or pass a path on a mounted file system."
        )
    return Path(text)


def _umask() -> int:
    """This process's umask. Linux reports it in /proc; elsewhere it is read by
    setting it, which is not thread-safe, hence the /proc route first."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode_for(path: Path, default: int) -> int:
    """The permission bits a replacement of ``path`` gets: those of the file it
    replaces, or what a plain ``open`` (``mkdir``) would give under the umask.
    mkstemp and mkdtemp create 0600 and 0700, which would hide a result from
    the user's group and from other accounts that read it."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return default & ~_umask()


def check_writable(path) -> Path:
    """``path`` as a local file that can be written: not a URL, not a folder,
    in an existing folder this process may write to."""
    path = _check_local(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; pass a file name to write to.")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(
            f"Cannot write {path}: the folder {parent} does not exist."
        )
    if not os.access(parent, os.W_OK):
        raise PermissionError(f"Cannot write {path}: the folder {parent} is read-only.")
    return path


@contextlib.contextmanager
def atomic_path(path) -> Iterator[Path]:
    """A temporary sibling of ``path`` to write to; on success it replaces
    ``path`` in one rename, on any exception it is removed and ``path`` is
    untouched."""
    path = check_writable(path)
    parent = path.parent if str(path.parent) else Path(".")
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    os.close(handle)
    temporary = Path(name)
    try:
        os.chmod(temporary, _mode_for(path, 0o666))
        yield temporary
        with open(temporary, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_file(path, mode: str = "wb") -> Iterator:
    """An open file whose contents replace ``path`` only once fully written."""
    with atomic_path(path) as temporary, open(temporary, mode) as f:
        yield f


@contextlib.contextmanager
def atomic_folder(path, *, overwrite: bool = False) -> Iterator[Path]:
    """A temporary sibling folder that replaces the folder ``path`` when done.

    An existing ``path`` is replaced only if entembed wrote it (it holds the
    marker file) and ``overwrite`` is True; anything else there is refused.
    """
    path = _check_local(path)
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise FileExistsError(
                f"{path} already exists; pass overwrite=True to replace a folder "
                "that entembed wrote, or choose another path."
            )
        if not (path.is_dir() and (path / MARKER).is_file()):
            raise FileExistsError(
                f"{path} exists and was not written by entembed (no {MARKER} "
                "marker); it is left as it is. Choose another path."
            )
    parent = path.parent if str(path.parent) else Path(".")
    temporary = Path(
        tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    )
    try:
        os.chmod(temporary, _mode_for(path, 0o777))
        yield temporary
        (temporary / MARKER).write_text("written by entembed\n")
        if path.exists():
            # Two renames: the old folder steps aside, the new one takes its
            # place, and only then is the old one removed.
            old = Path(
                tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=parent)
            )
            os.rmdir(old)
            os.replace(path, old)
            os.replace(temporary, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temporary, path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def same_file(a, b) -> bool:
    """Whether two paths name the same existing file (links resolved)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()
