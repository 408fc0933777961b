"""Read side of the library: the gallery's id lists and batched row fetches, on raw cursors for speed.

ids() for 100k images must stay well under 100 ms, so it selects only `id` through covering indexes and never
materialises peewee objects; rows() fetches details for the visible ids in batches of 500.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import peewee

from storage.base import BATCH
from storage.layout import thumb_path_for
from storage.paths import AppPaths
from storage.records import ImageQuery, ImageRow
from storage.search import build_fts_query

log = logging.getLogger(__name__)

SORTS = ("newest", "oldest", "rating", "collection")
_ORDER = {
    "newest": "i.created_at DESC, i.id DESC",
    "oldest": "i.created_at ASC, i.id ASC",
    "rating": "i.rating DESC, i.created_at DESC, i.id DESC",
    "collection": "ci.position ASC, ci.id ASC",
}
ROW_COLUMNS = (
    "id", "sha256", "path", "format", "width", "height", "file_size", "source", "provider", "model", "prompt",
    "negative_prompt", "seed", "steps", "cfg_scale", "sampler", "revised_prompt", "tags", "cost_usd",
    "request_id", "job_id", "fallback_from", "source_path", "created_at", "favorite", "rating", "rejected",
    "trashed_at",
)
_FTS_IDS = "SELECT rowid FROM image_fts WHERE image_fts MATCH ?"


def collection_id_by_name(db: peewee.SqliteDatabase, name: str) -> int | None:
    """Collection names are unique ignoring case (casefold, so also beyond ASCII)."""
    name = " ".join(name.split())
    row = db.execute_sql("SELECT id FROM collection WHERE name = ?", (name,)).fetchone()
    if row is not None:
        return int(row[0])
    wanted = name.casefold()
    for collection_id, other in db.execute_sql("SELECT id, name FROM collection"):
        if other.casefold() == wanted:
            return int(collection_id)
    return None


def _where(db: peewee.SqliteDatabase, query: ImageQuery) -> tuple[str, str, list[Any]] | None:
    """(FROM clause, WHERE clause, params), or None when the query cannot match anything."""
    if query.sort not in SORTS:
        raise ValueError(f"unknown sort {query.sort!r}; expected one of {', '.join(SORTS)}")
    source = "image i"
    clauses = ["i.trashed_at IS NOT NULL" if query.trashed else "i.trashed_at IS NULL"]
    params: list[Any] = []
    if query.collection:
        collection_id = collection_id_by_name(db, query.collection)
        if collection_id is None:
            return None
        source = "image i JOIN collection_item ci ON ci.image_id = i.id"
        clauses.append("ci.collection_id = ?")
        params.append(collection_id)
    if query.favorites:
        clauses.append("i.favorite = 1")
    if query.min_rating > 0:
        clauses.append("i.rating >= ?")
        params.append(query.min_rating)
    if query.provider:
        clauses.append("i.provider = ?")
        params.append(query.provider)
    if not query.include_rejected:
        clauses.append("i.rejected = 0")
    if query.date_from is not None:
        clauses.append("i.created_at >= ?")
        params.append(query.date_from)
    if query.date_to is not None:
        clauses.append("i.created_at <= ?")
        params.append(query.date_to)
    if query.search.strip():
        fts = build_fts_query(query.search)
        if fts.include is None and fts.exclude is None:
            return None  # only punctuation: nothing searchable
        if fts.include is not None:
            # Driving from the FTS hits (then the id lookup index) beats probing every listed image.
            source = source.replace("image i", "image_fts f JOIN image i ON i.id = f.rowid", 1)
            clauses.insert(0, "f.image_fts MATCH ?")
            params.insert(0, fts.include)
        if fts.exclude is not None:
            clauses.append(f"i.id NOT IN ({_FTS_IDS})")
            params.append(fts.exclude)
    return source, " AND ".join(clauses), params


def _run(db: peewee.SqliteDatabase, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    try:
        return db.execute_sql(sql, params).fetchall()
    except peewee.OperationalError as exc:
        # build_fts_query only emits quoted strings, so this is a safety net, not an expected path.
        if "fts5" in str(exc):
            log.warning("search rejected by FTS5: %s", exc)
            return []
        raise


def image_ids(db: peewee.SqliteDatabase, query: ImageQuery, limit: int | None = None) -> list[int]:
    parts = _where(db, query)
    if parts is None:
        return []
    source, where, params = parts
    order = _ORDER["newest" if query.sort == "collection" and not query.collection else query.sort]
    if query.min_rating > 0 and query.sort in ("newest", "oldest"):
        # Without the unary +, SQLite walks the whole created_at index to skip a sort and checks each rating
        # in the table (54 ms at 100k); ranging over the rating index and sorting the hits is ~12 ms.
        order = order.replace("i.created_at", "+i.created_at")
    sql = f"SELECT i.id FROM {source} WHERE {where} ORDER BY {order}"
    if limit is not None:
        sql += " LIMIT ?"
        params = [*params, limit]
    return [row[0] for row in _run(db, sql, params)]


def search_head(db: peewee.SqliteDatabase, query: ImageQuery, limit: int) -> list[int] | None:
    """The first `limit` matches of a full-text query in the query's order, found without ranking every hit.

    FTS5 walks its doclist in rowid order and stops at LIMIT, so even a term in 96% of 100k images answers in
    about a millisecond, where listing every hit takes 60-80 ms. Rowid order is insertion order, which is
    close to but not always `created_at` order (imports keep their file dates), so the caller shows this
    page at once and replaces it with the full, exact list. None when there is no fast path (no search
    term, or a sort that is not by date)."""
    if not query.search.strip() or query.sort not in ("newest", "oldest") or query.collection:
        return None
    parts = _where(db, query)
    if parts is None:
        return []
    source, where, params = parts
    if "image_fts f" not in source:
        return None
    direction = "DESC" if query.sort == "newest" else "ASC"
    sql = f"SELECT i.id FROM {source} WHERE {where} ORDER BY f.rowid {direction} LIMIT ?"
    ids = [row[0] for row in _run(db, sql, [*params, limit])]
    if not ids:
        return ids
    marks = ",".join("?" * len(ids))
    order = _ORDER[query.sort]
    return [row[0] for row in _run(db, f"SELECT i.id FROM image i WHERE i.id IN ({marks}) ORDER BY {order}", ids)]


def count_images(db: peewee.SqliteDatabase, query: ImageQuery) -> int:
    parts = _where(db, query)
    if parts is None:
        return 0
    source, where, params = parts
    rows = _run(db, f"SELECT count(*) FROM {source} WHERE {where}", params)
    return int(rows[0][0]) if rows else 0


def fetch_rows(db: peewee.SqliteDatabase, paths: AppPaths, ids: Sequence[int]) -> dict[int, ImageRow]:
    """Details for `ids` (any order, duplicates fine); unknown ids are simply absent."""
    wanted = list(dict.fromkeys(int(i) for i in ids))
    result: dict[int, ImageRow] = {}
    columns = ", ".join(ROW_COLUMNS)
    for start in range(0, len(wanted), BATCH):
        chunk = wanted[start:start + BATCH]
        marks = ",".join("?" * len(chunk))
        names: dict[int, list[str]] = {}
        for image_id, name in db.execute_sql(
                f"SELECT ci.image_id, c.name FROM collection_item ci"
                f" JOIN collection c ON c.id = ci.collection_id WHERE ci.image_id IN ({marks})"
                f" ORDER BY c.position, c.name COLLATE NOCASE", chunk):
            names.setdefault(image_id, []).append(name)
        for row in db.execute_sql(f"SELECT {columns} FROM image WHERE id IN ({marks})", chunk):
            result[row[0]] = _to_row(paths, row, tuple(names.get(row[0], ())))
    return result


def _to_row(paths: AppPaths, row: Sequence[Any], collections: tuple[str, ...]) -> ImageRow:
    values = dict(zip(ROW_COLUMNS, row))
    trashed_at = values.pop("trashed_at")
    values["path"] = str(paths.data / values["path"])
    values["favorite"] = bool(values["favorite"])
    values["rejected"] = bool(values["rejected"])
    return ImageRow(**values, trashed=trashed_at is not None, collections=collections,
                    thumb_path=str(thumb_path_for(paths, values["sha256"])))
