"""Open/close the library database and turn SQLite failures into user-worded StorageErrors."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import peewee

from storage.migrations import check_version, migrate
from storage.models import DB
from storage.paths import StorageError

log = logging.getLogger(__name__)

# journal_mode first: it is what reads the file header, so a non-database fails before anything is written.
PRAGMAS: dict[str, object] = {
    "busy_timeout": 5000,
    "journal_mode": "wal",
    "synchronous": "normal",  # WAL + NORMAL is corruption-safe; a power loss may roll back the last commits
    "foreign_keys": 1,
    "cache_size": -65536,  # 64 MiB
    "temp_store": "memory",
    "recursive_triggers": 1,  # so an INSERT OR REPLACE still fires the FTS delete trigger
    # mmap_size stays 0: an I/O error on a mapped file is a SIGBUS that kills the process.
}
FIXED_WAL_RESET = (3, 51, 3)

_REASONS = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_READONLY": "the library folder or database file is read-only",
    "SQLITE_CANTOPEN": "the database file cannot be opened (missing or read-only folder?)",
    "SQLITE_PERM": "permission denied",
    "SQLITE_IOERR": "a disk read/write error occurred (is the folder read-only or the disk full?)",
    "SQLITE_NOTADB": "the file is not an AI Images Studio library database",
    "SQLITE_CORRUPT": "the database file is damaged",
    "SQLITE_BUSY": "the library is in use by another program",
    "SQLITE_LOCKED": "the library is in use by another program",
}


def sqlite_reason(exc: BaseException) -> str | None:
    """The user-facing reason for an environmental SQLite failure, or None for a programming error."""
    # Walk the chain: peewee re-raises sqlite3 errors as its own types, and after SQLITE_FULL/IOERR SQLite has
    # already rolled back, so peewee's own ROLLBACK fails ("no transaction is active") on top of the real
    # cause.
    seen: BaseException | None = exc
    while seen is not None:
        name = getattr(seen, "sqlite_errorname", None) or ""
        reason = _REASONS.get("_".join(name.split("_")[:2]))
        if reason is not None:
            return reason
        seen = seen.__cause__ or seen.__context__
    return None


@contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Re-raise disk-full/read-only/corruption failures of `action` as one clear StorageError."""
    try:
        yield
    except (peewee.DatabaseError, sqlite3.Error) as exc:
        reason = sqlite_reason(exc)
        if reason is None or isinstance(exc, (peewee.IntegrityError, sqlite3.IntegrityError)):
            raise
        raise StorageError(f"could not {action}: {reason}") from exc
    except OSError as exc:
        raise StorageError(f"could not {action}: {exc.strerror or exc}") from exc


def open_database(path: Path, backups_dir: Path | None = None) -> peewee.SqliteDatabase:
    """Open (creating if needed) and migrate the library; binds the models' proxy.

    `backups_dir` defaults to `<folder of path>/backups`, i.e. AppPaths.backups_dir for AppPaths.db_path.
    """
    path = Path(path)
    log.info("SQLite %s (sqlite3 module), database %s", sqlite3.sqlite_version, path)
    if sqlite3.sqlite_version_info < FIXED_WAL_RESET:
        # Harmless with our single writer connection; recorded because it matters if that ever changes.
        log.debug("SQLite %s predates the WAL-reset fix (3.51.3)", sqlite3.sqlite_version)
    if path.exists() and not path.is_file():
        raise StorageError(f"could not open the library database {path}: it is not a file")
    if path.is_file() and path.stat().st_size > 0:
        _probe(path)
    db = peewee.SqliteDatabase(str(path), pragmas=list(PRAGMAS.items()))
    try:
        with storage_errors(f"open the library database {path}"):
            db.connect()
            migrate(db, path, backups_dir if backups_dir is not None else path.parent / "backups")
    except BaseException:
        if not db.is_closed():
            db.close()
        raise
    DB.initialize(db)
    return db


def _probe(path: Path) -> None:
    """Refuse a foreign, damaged or newer file through a read-only connection, before anything (even the
    switch to WAL, which rewrites the header) can modify it."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return  # cannot even open read-only: the real open reports why
    try:
        with storage_errors(f"open the library database {path}"):
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        conn.close()
    check_version(int(version), path)


def close_database(db: peewee.SqliteDatabase) -> None:
    """Refresh planner statistics, fold the WAL back into the main file, close."""
    if db.is_closed():
        return
    try:
        db.execute_sql("PRAGMA optimize")
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    except peewee.DatabaseError as exc:  # closing must never fail the shutdown; the WAL is replayed next open
        log.warning("database maintenance on close failed: %s", exc)
    finally:
        db.close()
