"""Atomic writes: a failed or interrupted write leaves the previous file as it was."""

import os
import stat

import pytest

from entembed._files import MARKER, atomic_file, atomic_folder, same_file


def test_atomic_file_replaces_only_when_complete(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_file(path, "w") as f:
            f.write("new, half")
            raise KeyboardInterrupt
    assert path.read_text() == "old"
    with atomic_file(path, "w") as f:
        f.write("new")
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_folder_swaps_in_a_complete_folder(tmp_path):
    path = tmp_path / "dataset"
    with atomic_folder(path) as folder:
        (folder / "part.0").write_text("first")
    assert (path / MARKER).is_file()
    with pytest.raises(OSError, match="disk full"):
        with atomic_folder(path, overwrite=True) as folder:
            (folder / "part.0").write_text("second, half")
            raise OSError("disk full")
    assert (path / "part.0").read_text() == "first"
    with atomic_folder(path, overwrite=True) as folder:
        (folder / "part.0").write_text("second")
    assert (path / "part.0").read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["dataset"]


def test_atomic_writes_refuse_what_they_must_not_replace(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match=r"was not written by entembed"):
        with atomic_folder(tmp_path / "file", overwrite=True):
            pass
    with pytest.raises(IsADirectoryError, match=r"is a directory; pass a file name"):
        with atomic_file(tmp_path):
            pass
    with pytest.raises(ValueError, match=r"is a URL; entembed writes local paths"):
        with atomic_file("gs://bucket/x.npz"):
            pass


def test_same_file_sees_through_links_and_relative_paths(tmp_path, monkeypatch):
    (tmp_path / "a.csv").write_text("x")
    (tmp_path / "link.csv").symlink_to(tmp_path / "a.csv")
    monkeypatch.chdir(tmp_path)
    assert same_file("a.csv", tmp_path / "link.csv")
    assert not same_file("a.csv", "b.csv")


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_atomic_writes_respect_the_umask_and_keep_an_existing_mode(tmp_path, umask_022):
    path = tmp_path / "out.txt"
    with atomic_file(path, "w") as f:
        f.write("new")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # as open() would create it
    path.chmod(0o600)  # a file the user made private stays private
    with atomic_file(path, "w") as f:
        f.write("again")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    folder = tmp_path / "dataset"
    with atomic_folder(folder) as temporary:
        (temporary / "part.0").write_text("x")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
