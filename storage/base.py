"""What every part of the Library shares: the connection, the paths and the write transaction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import peewee

from storage.db import storage_errors
from storage.paths import AppPaths

BATCH = 500  # ids per `IN (...)`: well under SQLite's variable limit, large enough to amortise round trips


def chunks(ids: Sequence[int], size: int = BATCH) -> Iterator[list[int]]:
    """Distinct ids, in order, in batches."""
    unique = list(dict.fromkeys(int(i) for i in ids))
    for start in range(0, len(unique), size):
        yield unique[start:start + size]


class StoreBase:
    def __init__(self, db: peewee.SqliteDatabase, paths: AppPaths) -> None:
        self._db = db
        self._paths = paths

    @property
    def db(self) -> peewee.SqliteDatabase:
        return self._db

    @property
    def paths(self) -> AppPaths:
        return self._paths

    @contextmanager
    def _write(self, action: str) -> Iterator[None]:
        """One transaction (nested calls become savepoints); disk-full/read-only failures roll back and
        surface as StorageError."""
        with storage_errors(action), self._db.atomic():
            yield
