"""Schema migrations keyed by `PRAGMA user_version`.

Each step is frozen SQL (never derived from the models, which keep changing) and runs in its own transaction
that also sets the new version, so a failed step leaves the database at the previous version. An existing
database is backed up with the SQLite backup API before its first step runs.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from peewee import SqliteDatabase

from storage.paths import StorageError

log = logging.getLogger(__name__)

# v1: the image library (images, request metadata, collections, full-text index kept in sync by triggers).
_V1_LIBRARY = (
    """CREATE TABLE image (
        id INTEGER NOT NULL PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL,
        format TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        file_size INTEGER NOT NULL,
        source TEXT NOT NULL DEFAULT 'generated',
        provider TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '',
        prompt TEXT NOT NULL DEFAULT '',
        negative_prompt TEXT NOT NULL DEFAULT '',
        seed INTEGER,
        steps INTEGER,
        cfg_scale REAL,
        sampler TEXT NOT NULL DEFAULT '',
        revised_prompt TEXT NOT NULL DEFAULT '',
        tags TEXT NOT NULL DEFAULT '',
        cost_usd REAL,
        request_id TEXT NOT NULL DEFAULT '',
        job_id INTEGER,
        fallback_from TEXT NOT NULL DEFAULT '',
        source_path TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        favorite INTEGER NOT NULL DEFAULT 0,
        rating INTEGER NOT NULL DEFAULT 0 CHECK (rating BETWEEN 0 AND 5),
        rejected INTEGER NOT NULL DEFAULT 0,
        trashed_at REAL
    )""",
    # Index design (measured at 100k rows, see tests/storage and the storage report): every gallery listing is
    # "ids ordered by created_at", so each common filter gets an index whose order already is the answer and
    # which covers the query (the implicit rowid is the `id DESC` tie-break): no table lookups, no sort.
    "CREATE INDEX image_live ON image (created_at) WHERE trashed_at IS NULL",
    "CREATE INDEX image_visible ON image (created_at) WHERE trashed_at IS NULL AND rejected = 0",
    "CREATE INDEX image_trashed ON image (created_at) WHERE trashed_at IS NOT NULL",
    "CREATE INDEX image_favorite ON image (favorite, trashed_at, created_at)",
    "CREATE INDEX image_rating ON image (trashed_at, rating, created_at)",
    "CREATE INDEX image_provider ON image (provider, trashed_at, created_at)",
    "CREATE INDEX image_model ON image (model)",
    # Search and collection listings reach images by id; this narrow copy of the filter columns keeps those
    # lookups off the wide rows (prompts), which halves their cost.
    "CREATE INDEX image_list_lookup ON image (id, trashed_at, created_at, favorite, rejected, rating)",
    """CREATE TABLE image_meta (
        id INTEGER NOT NULL PRIMARY KEY,
        image_id INTEGER NOT NULL UNIQUE REFERENCES image (id) ON DELETE CASCADE,
        json TEXT NOT NULL
    )""",
    """CREATE TABLE collection (
        id INTEGER NOT NULL PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        cover_id INTEGER REFERENCES image (id) ON DELETE SET NULL,
        position INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX collection_cover_id ON collection (cover_id)",
    """CREATE TABLE collection_item (
        id INTEGER NOT NULL PRIMARY KEY,
        collection_id INTEGER NOT NULL REFERENCES collection (id) ON DELETE CASCADE,
        image_id INTEGER NOT NULL REFERENCES image (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        added_at REAL NOT NULL,
        UNIQUE (collection_id, image_id)
    )""",
    "CREATE INDEX collection_item_order ON collection_item (collection_id, position)",
    "CREATE INDEX collection_item_image_id ON collection_item (image_id)",
    """CREATE VIRTUAL TABLE image_fts USING fts5(
        prompt, negative_prompt, provider, model, tags,
        content='image', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER image_fts_ai AFTER INSERT ON image BEGIN
        INSERT INTO image_fts (rowid, prompt, negative_prompt, provider, model, tags)
        VALUES (new.id, new.prompt, new.negative_prompt, new.provider, new.model, new.tags);
    END""",
    """CREATE TRIGGER image_fts_ad AFTER DELETE ON image BEGIN
        INSERT INTO image_fts (image_fts, rowid, prompt, negative_prompt, provider, model, tags)
        VALUES ('delete', old.id, old.prompt, old.negative_prompt, old.provider, old.model, old.tags);
    END""",
    # Only the indexed columns: toggling favorite/rating/trash must not churn the full-text index.
    """CREATE TRIGGER image_fts_au AFTER UPDATE OF prompt, negative_prompt, provider, model, tags ON image
    BEGIN
        INSERT INTO image_fts (image_fts, rowid, prompt, negative_prompt, provider, model, tags)
        VALUES ('delete', old.id, old.prompt, old.negative_prompt, old.provider, old.model, old.tags);
        INSERT INTO image_fts (rowid, prompt, negative_prompt, provider, model, tags)
        VALUES (new.id, new.prompt, new.negative_prompt, new.provider, new.model, new.tags);
    END""",
)

# v2: generation jobs, the usage/cost ledger, quotas and settings (no secrets: keys live in the keyring).
_V2_JOBS_USAGE_SETTINGS = (
    """CREATE TABLE job (
        id INTEGER NOT NULL PRIMARY KEY,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        state TEXT NOT NULL,
        provider TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '',
        request_json TEXT NOT NULL DEFAULT '{}',
        count INTEGER NOT NULL DEFAULT 1,
        task_id TEXT NOT NULL DEFAULT '',
        task_json TEXT NOT NULL DEFAULT '',
        provider_chain TEXT NOT NULL DEFAULT '[]',
        error_kind TEXT NOT NULL DEFAULT '',
        error_message TEXT NOT NULL DEFAULT '',
        images_saved INTEGER NOT NULL DEFAULT 0,
        fallback_from TEXT NOT NULL DEFAULT '',
        progress REAL
    )""",
    "CREATE INDEX job_state ON job (state)",
    """CREATE TABLE usage_ledger (
        id INTEGER NOT NULL PRIMARY KEY,
        job_id INTEGER REFERENCES job (id) ON DELETE SET NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        images INTEGER NOT NULL DEFAULT 0,
        latency_ms INTEGER,
        estimated_usd REAL,
        reported_usd REAL,
        reported_raw TEXT NOT NULL DEFAULT '',
        request_id TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    )""",
    "CREATE INDEX usage_ledger_created_at ON usage_ledger (created_at)",
    "CREATE INDEX usage_ledger_provider_created_at ON usage_ledger (provider, created_at)",
    "CREATE INDEX usage_ledger_job_id ON usage_ledger (job_id)",
    """CREATE TABLE quota (
        id INTEGER NOT NULL PRIMARY KEY,
        provider TEXT NOT NULL UNIQUE,
        images_per_day INTEGER,
        usd_per_day REAL,
        usd_per_month REAL
    )""",
    """CREATE TABLE provider_setting (
        provider TEXT NOT NULL PRIMARY KEY,
        base_url TEXT NOT NULL DEFAULT '',
        enabled INTEGER NOT NULL DEFAULT 1,
        default_model TEXT NOT NULL DEFAULT '',
        settings_json TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE TABLE app_setting (key TEXT NOT NULL PRIMARY KEY, value_json TEXT NOT NULL)",
)

# v3: which process runs a job, so a second process (the CLI's `resume` next to the window, a second
# window) never takes over, re-submits or double-saves a job that is alive elsewhere.
_V3_JOB_OWNER: Sequence[str] = ("ALTER TABLE job ADD COLUMN owner_pid INTEGER",)

MIGRATIONS: tuple[Sequence[str], ...] = (_V1_LIBRARY, _V2_JOBS_USAGE_SETTINGS, _V3_JOB_OWNER)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(db: SqliteDatabase) -> int:
    return int(db.pragma("user_version"))


def check_version(version: int, db_path: Path, head: int = SCHEMA_VERSION) -> None:
    if version > head:
        raise StorageError(
            f"the library database {db_path} was created by a newer version of AI Images Studio "
            f"(schema {version}, this version understands up to {head}); please update the app")


def migrate(db: SqliteDatabase, db_path: Path, backups_dir: Path,
            steps: Sequence[Sequence[str]] = MIGRATIONS) -> Path | None:
    """Bring the database up to len(steps); returns the backup taken, if any."""
    current, head = schema_version(db), len(steps)
    check_version(current, db_path, head)
    if current == head:
        return None
    backup = None
    if _has_tables(db):
        backup = backup_database(db, db_path, backups_dir, current)
    for version in range(current, head):
        with db.atomic():
            for statement in steps[version]:
                db.execute_sql(statement)
            db.pragma("user_version", version + 1)
        log.info("library schema migrated to version %d", version + 1)
    return backup


def _has_tables(db: SqliteDatabase) -> bool:
    return bool(db.execute_sql("SELECT count(*) FROM sqlite_master").fetchone()[0])


def backup_database(db: SqliteDatabase, db_path: Path, backups_dir: Path, version: int) -> Path:
    """Consistent copy through the backup API (copying a live WAL database file is not safe)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = backups_dir / f"{db_path.stem}.v{version}.{stamp}.sqlite3"
    n = 1
    while target.exists():
        n += 1
        target = backups_dir / f"{db_path.stem}.v{version}.{stamp}-{n}.sqlite3"
    try:
        backups_dir.mkdir(parents=True, exist_ok=True)
        dest = sqlite3.connect(target)
        try:
            db.connection().backup(dest)
        finally:
            dest.close()
    except (OSError, sqlite3.Error) as exc:
        with contextlib.suppress(OSError):
            target.unlink(missing_ok=True)
        raise StorageError(f"could not back up the library database to {backups_dir} before upgrading it "
                           f"({exc}); nothing was changed") from None
    log.info("backed up the library database (schema %d) to %s", version, target)
    return target
