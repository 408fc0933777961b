"""Environmental failures (full disk, read-only folder) become StorageError and leave the library intact."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from storage.db import close_database, open_database
from storage.library import Library
from storage.paths import StorageError
from storage.records import ImageQuery
from tests.storage.conftest import make_record


def integrity_ok(library: Library) -> bool:
    return library.db.execute_sql("PRAGMA integrity_check").fetchone() == ("ok",)


def test_disk_full_rolls_back_and_keeps_the_library(library: Library) -> None:
    keep, _ = library.add_image(make_record(1), collection="C")
    pages = library.db.execute_sql("PRAGMA page_count").fetchone()[0]
    # SQLite's own page cap produces the same SQLITE_FULL a full disk does, and works for any user.
    library.db.execute_sql(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StorageError, match="disk is full"):
        library.add_image(make_record(2, prompt="x " * 50_000), collection="C", meta={"big": "y" * 200_000})
    with pytest.raises(StorageError, match="disk is full"):
        for n in range(3, 400):  # many small writes until the cap is hit
            library.set_setting(f"k{n}", "v" * 2000)
    assert library.ids(ImageQuery()) == [keep]
    assert [c.count for c in library.collections()] == [1]
    assert integrity_ok(library)
    library.db.execute_sql("PRAGMA max_page_count = 1073741823")
    assert library.add_image(make_record(2))[1]
    assert integrity_ok(library)


@contextmanager
def read_only_folder(folder: Path) -> Iterator[None]:
    """chmod for normal users; root bypasses permissions, so there use the immutable attribute if possible."""
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("running as root on a file system without the immutable attribute: "
                    "no way to make a folder read-only for this process")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)


def test_read_only_data_folder(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "library.sqlite3"
    db = open_database(path)
    library = Library(db, _paths(folder))
    library.add_image(make_record(1))
    close_database(db)
    before = path.read_bytes()
    with read_only_folder(folder), pytest.raises(StorageError) as info:
        open_database(path)
    assert "read-only" in str(info.value) or "cannot be opened" in str(info.value)
    assert path.read_bytes() == before
    db = open_database(path)
    try:
        assert Library(db, _paths(folder)).count(ImageQuery()) == 1
    finally:
        close_database(db)


def _paths(folder: Path):  # noqa: ANN202 - tiny local helper
    from storage.paths import AppPaths

    return AppPaths(data=folder, cache=folder / "cache", logs=folder / "logs")
