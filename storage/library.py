"""The storage API the CLI and GUI use: one Library per open database, called from the one writer thread.

Images: add/list/flag/trash. Collections live in storage.collection_ops, settings in storage.prefs, export in
storage.export; Library composes them so callers see one object.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from storage.base import chunks
from storage.collection_ops import CollectionOps
from storage.export import ExportReport, export_images
from storage.layout import thumb_path_for
from storage.models import Image, ImageMeta
from storage.paths import StorageError
from storage.prefs import SettingsOps
from storage.queries import count_images, fetch_rows, image_ids, search_head
from storage.records import ImageQuery, ImageRecord, ImageRow

log = logging.getLogger(__name__)

_RECORD_COLUMNS = tuple(f.name for f in dataclasses.fields(ImageRecord) if f.name != "meta")


class Library(CollectionOps, SettingsOps):
    """Library(db, paths): `db` from storage.db.open_database, `paths` the AppPaths it lives in."""

    # -- images ---------------------------------------------------------------------------------------------

    def add_image(self, record: ImageRecord, collection: str | None = None,
                  meta: dict[str, Any] | None = None) -> tuple[int, bool]:
        """Insert the image (or find it by sha256); returns (id, created). A trashed duplicate is restored."""
        full_meta = {**record.meta, **(meta or {})}
        with self._write("add the image to the library"):
            found = self._db.execute_sql("SELECT id, trashed_at FROM image WHERE sha256 = ?",
                                         (record.sha256,)).fetchone()
            if found is not None:
                image_id, created = int(found[0]), False
                if found[1] is not None:
                    self._db.execute_sql("UPDATE image SET trashed_at = NULL WHERE id = ?", (image_id,))
            else:
                values = {name: getattr(record, name) for name in _RECORD_COLUMNS}
                if values["created_at"] is None:
                    values["created_at"] = time.time()
                # A plain INSERT (never OR REPLACE) so the FTS triggers see every change.
                image_id, created = int(Image.insert(**values).execute()), True
                if full_meta:
                    ImageMeta.insert(image=image_id, json=json.dumps(full_meta, default=str)).execute()
            if collection is not None:
                self._append(self._collection_id_or_create(collection), [image_id])
        return image_id, created

    def ids(self, query: ImageQuery = ImageQuery(), limit: int | None = None) -> list[int]:
        return image_ids(self._db, query, limit)

    def search_head(self, query: ImageQuery, limit: int) -> builtins.list[int] | None:
        """First page of a full-text search, fast whatever the number of hits (see queries.search_head)."""
        return search_head(self._db, query, limit)

    def rows(self, ids: Sequence[int]) -> dict[int, ImageRow]:
        return fetch_rows(self._db, self._paths, ids)

    def get(self, image_id: int) -> ImageRow | None:
        return self.rows([image_id]).get(int(image_id))

    def list(self, query: ImageQuery = ImageQuery(), limit: int | None = None) -> list[ImageRow]:
        ordered = image_ids(self._db, query, limit)
        found = self.rows(ordered)
        return [found[i] for i in ordered if i in found]

    def count(self, query: ImageQuery = ImageQuery()) -> int:
        return count_images(self._db, query)

    def providers(self) -> builtins.list[str]:  # `list` is a method name in this class
        rows = self._db.execute_sql(
            "SELECT DISTINCT provider FROM image WHERE provider != '' ORDER BY provider")
        return [row[0] for row in rows]

    def image_meta(self, image_id: int) -> dict[str, Any]:
        row = self._db.execute_sql("SELECT json FROM image_meta WHERE image_id = ?", (image_id,)).fetchone()
        return json.loads(row[0]) if row else {}

    def set_tags(self, image_id: int, tags: str) -> None:
        with self._write("save the tags"):
            self._db.execute_sql("UPDATE image SET tags = ? WHERE id = ?", (" ".join(tags.split()), image_id))

    def set_favorite(self, ids: Sequence[int], value: bool = True) -> None:
        self._update("favorite = ?", int(bool(value)), ids, "save favorites")

    def set_rating(self, ids: Sequence[int], rating: int) -> None:
        if not isinstance(rating, int) or not 0 <= rating <= 5:
            raise ValueError(f"rating must be 0 (none) to 5, not {rating!r}")
        self._update("rating = ?", rating, ids, "save the rating")

    def set_rejected(self, ids: Sequence[int], value: bool = True) -> None:
        self._update("rejected = ?", int(bool(value)), ids, "save the reject flag")

    def trash(self, ids: Sequence[int]) -> None:
        self._update("trashed_at = ?", time.time(), ids, "move images to the trash", "trashed_at IS NULL")

    def restore(self, ids: Sequence[int]) -> None:
        self._update("trashed_at = ?", None, ids, "restore images from the trash")

    def _update(self, assignment: str, value: Any, ids: Sequence[int], action: str, extra: str = "1") -> None:
        with self._write(action):
            for chunk in chunks(ids):
                marks = ",".join("?" * len(chunk))
                self._db.execute_sql(f"UPDATE image SET {assignment} WHERE id IN ({marks}) AND {extra}",
                                     (value, *chunk))

    def empty_trash(self) -> int:
        """Delete trashed images for good: rows first (one transaction), then their files and thumbnails."""
        doomed = self.delete_trashed_rows()
        self.remove_files(doomed)
        return len(doomed)

    def delete_trashed_rows(self) -> builtins.list[tuple[str, str]]:
        """Delete the trashed rows in one transaction; returns their (sha256, relative path) for remove_files.

        Split from the file deletion so a GUI can delete rows on the writer thread and files in a worker."""
        with self._write("empty the trash"):
            doomed = self._db.execute_sql(
                "SELECT id, sha256, path FROM image WHERE trashed_at IS NOT NULL").fetchall()
            for chunk in chunks([row[0] for row in doomed]):
                self._db.execute_sql(f"DELETE FROM image WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        return [(sha, rel_path) for _, sha, rel_path in doomed]

    def shas_in_library(self, shas: Sequence[str]) -> set[str]:
        """Which of these hashes have a row again (re-imported since their rows were deleted)."""
        found: set[str] = set()
        unique = list(dict.fromkeys(shas))
        for start in range(0, len(unique), 500):  # below SQLite's bound-parameter limit
            chunk = unique[start:start + 500]
            rows = self._db.execute_sql(
                f"SELECT sha256 FROM image WHERE sha256 IN ({','.join('?' * len(chunk))})", chunk)
            found.update(row[0] for row in rows)
        return found

    def remove_files(self, doomed: Sequence[tuple[str, str]]) -> None:
        """Delete image files and every cached thumbnail size. No database access: safe in a worker thread."""
        for sha, rel_path in doomed:
            self._remove_files(sha, rel_path)

    def _remove_files(self, sha: str, rel_path: str) -> None:
        thumb = thumb_path_for(self._paths, sha)
        targets = [self._paths.data / rel_path, thumb]
        if thumb.parent.is_dir():  # other thumbnail sizes (512 px for big tiles, made on demand)
            targets += [p for p in thumb.parent.glob(f"{sha}_*.webp") if p != thumb]
        for target in targets:
            try:
                target.unlink(missing_ok=True)
            except OSError as exc:  # the row is gone; a leftover file only costs disk space
                log.warning("could not delete %s: %s", target, exc.strerror or exc)

    # -- export ---------------------------------------------------------------------------------------------

    def export_collection(self, collection: int | str, dest: Path) -> ExportReport:
        """Copy the collection's images, in collection order, to a folder or (dest ending in .zip) a zip."""
        collection_id = self._resolve_collection(collection)
        ordered = self.collection_image_ids(collection_id)
        found = self.rows(ordered)
        try:
            return export_images([found[i] for i in ordered if i in found], Path(dest))
        except StorageError:
            raise
        except OSError as exc:
            raise StorageError(f"could not export to {dest}: {exc.strerror or exc}") from exc
