"""Opening the database: fresh schema, upgrades with a backup, refusals that leave the file untouched."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import peewee
import pytest

from storage import models
from storage.db import PRAGMAS, close_database, open_database
from storage.migrations import MIGRATIONS, SCHEMA_VERSION, migrate
from storage.paths import StorageError


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


def test_fresh_database_is_at_head_with_pragmas(tmp_path: Path) -> None:
    db = open_database(tmp_path / "library.sqlite3")
    try:
        assert db.pragma("user_version") == SCHEMA_VERSION
        assert db.pragma("journal_mode") == "wal"
        assert db.pragma("foreign_keys") == 1
        assert db.pragma("synchronous") == 1  # NORMAL
        assert db.pragma("busy_timeout") == PRAGMAS["busy_timeout"]
        assert db.pragma("cache_size") == -65536
        assert db.pragma("temp_store") == 2  # MEMORY
        assert models.DB.obj is db
    finally:
        close_database(db)
    assert not (tmp_path / "backups").exists()  # nothing to back up in a new database
    wal = tmp_path / "library.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed on close


def test_models_match_the_migrated_schema(tmp_path: Path) -> None:
    db = open_database(tmp_path / "library.sqlite3")
    try:
        for model in models.ALL_MODELS:
            table = model._meta.table_name
            columns = {row[1] for row in db.execute_sql(f"PRAGMA table_info({table})")}
            assert columns == {f.column_name for f in model._meta.sorted_fields}, table
    finally:
        close_database(db)


def test_old_database_is_upgraded_after_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    old = peewee.SqliteDatabase(str(path))
    migrate(old, path, tmp_path / "unused", MIGRATIONS[:1])  # a library written by the v1 app
    old.execute_sql("INSERT INTO image (sha256, path, format, width, height, file_size, prompt, created_at) "
                    "VALUES ('abc', 'images/ab/c.png', 'PNG', 1, 1, 1, 'a red fox', 1.0)")
    old.close()
    assert user_version(path) == 1

    db = open_database(path)
    try:
        assert db.pragma("user_version") == SCHEMA_VERSION
        assert db.execute_sql("SELECT prompt FROM image").fetchall() == [("a red fox",)]
        assert db.execute_sql("SELECT count(*) FROM job").fetchone() == (0,)
    finally:
        close_database(db)
    backups = list((tmp_path / "backups").iterdir())
    assert len(backups) == 1 and backups[0].name.startswith("library.v1.") and backups[0].suffix == ".sqlite3"
    assert user_version(backups[0]) == 1
    with sqlite3.connect(backups[0]) as conn:
        assert conn.execute("SELECT prompt FROM image").fetchall() == [("a red fox",)]
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'job'").fetchall() == []


def test_failed_step_leaves_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    db = peewee.SqliteDatabase(str(path))
    broken = (*MIGRATIONS, ("CREATE TABLE extra (a)", "THIS IS NOT SQL"))
    with pytest.raises(peewee.OperationalError):
        migrate(db, path, tmp_path / "backups", broken)
    assert db.pragma("user_version") == SCHEMA_VERSION
    assert db.execute_sql("SELECT name FROM sqlite_master WHERE name = 'extra'").fetchall() == []
    db.close()


def test_newer_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE future (x)")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = path.read_bytes()
    with pytest.raises(StorageError, match="newer version"):
        open_database(path)
    assert path.read_bytes() == before
    assert models.DB.obj is None or models.DB.obj.database != str(path)


@pytest.mark.parametrize("content", [b"this is not a database at all " * 200,
                                     b"SQLite format 3\x00" + b"\xff" * 4000])
def test_corrupt_file_is_refused_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "library.sqlite3"
    path.write_bytes(content)
    with pytest.raises(StorageError, match="library database") as info:
        open_database(path)
    assert "not an AI Images Studio library" in str(info.value) or "damaged" in str(info.value)
    assert path.read_bytes() == content
    assert not (tmp_path / "backups").exists()


def test_unwritable_location_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")  # a folder path under a regular file cannot be created, even by root
    with pytest.raises(StorageError, match="cannot be opened"):
        open_database(blocker / "library.sqlite3")


def test_blocked_wal_file_keeps_the_database_intact(tmp_path: Path) -> None:
    """SQLite cannot create its WAL (here a folder squats on the name; as root chmod would not stop it)."""
    path = tmp_path / "library.sqlite3"
    close_database(open_database(path))
    (tmp_path / "library.sqlite3-wal").unlink(missing_ok=True)
    before = path.read_bytes()
    (tmp_path / "library.sqlite3-wal").mkdir()
    with pytest.raises(StorageError, match="could not open the library database"):
        open_database(path)
    assert path.read_bytes() == before


def test_backup_failure_aborts_the_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    old = peewee.SqliteDatabase(str(path))
    migrate(old, path, tmp_path / "unused", MIGRATIONS[:1])
    old.close()
    (tmp_path / "backups").write_text("a file where the backups folder should be")
    with pytest.raises(StorageError, match="could not back up"):
        open_database(path)
    assert user_version(path) == 1
