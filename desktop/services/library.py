"""Gallery and collection use cases over storage, in plain asyncio (no Qt).

Reads and small commands run on the caller's thread (they take well under a millisecond). Anything that
decodes, hashes or copies files runs in the executor; database writes stay on the one writer thread
(the caller's), so imports prepare files in workers and commit rows back on the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop.services.events import EventBus, LibraryEvent
from storage.importer import PreparedImage, Skipped, iter_image_files, prepare_file
from storage.library import Library
from storage.paths import AppPaths, StorageError
from storage.records import CollectionRow, ImageQuery, ImageRow

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, str], None]  # done, total, current file name


@dataclass
class ImportReport:
    imported: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    cancelled: bool = False
    entries: list[tuple[int, str, str]] = field(default_factory=list)  # (image id, "imported"|"duplicate", path)

    def summary(self) -> str:
        parts = [f"{len(self.imported)} imported"]
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} already in the library")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "duplicates": self.duplicates,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
        }


class LibraryService:
    def __init__(self, library: Library, paths: AppPaths, executor: Executor) -> None:
        self.library = library
        self.paths = paths
        self.executor = executor
        self.events: EventBus[LibraryEvent] = EventBus()

    # -- reads ---------------------------------------------------------------------------------------
    def ids(self, query: ImageQuery, limit: int | None = None) -> list[int]:
        return self.library.ids(query, limit)

    def search_head(self, query: ImageQuery, limit: int) -> list[int] | None:
        return self.library.search_head(query, limit)

    def rows(self, ids: Sequence[int]) -> dict[int, ImageRow]:
        return self.library.rows(ids)

    def get(self, image_id: int) -> ImageRow | None:
        return self.library.get(image_id)

    def image_meta(self, image_id: int) -> dict[str, Any]:
        return self.library.image_meta(image_id)

    def collections(self) -> list[CollectionRow]:
        return self.library.collections()

    def providers(self) -> list[str]:
        return self.library.providers()

    # -- image commands ------------------------------------------------------------------------------
    def _changed(self, ids: Iterable[int], kind: str = "changed") -> None:
        self.events.publish(LibraryEvent(kind, tuple(ids)))

    def set_favorite(self, ids: Sequence[int], value: bool) -> None:
        self.library.set_favorite(ids, value)
        self._changed(ids)

    def set_rating(self, ids: Sequence[int], rating: int) -> None:
        self.library.set_rating(ids, rating)
        self._changed(ids)

    def set_rejected(self, ids: Sequence[int], value: bool) -> None:
        self.library.set_rejected(ids, value)
        self._changed(ids)

    def trash(self, ids: Sequence[int]) -> None:
        self.library.trash(ids)
        self._changed(ids, "removed")

    def restore(self, ids: Sequence[int]) -> None:
        self.library.restore(ids)
        self._changed(ids, "added")

    def empty_trash(self) -> int:
        removed = self.library.empty_trash()
        self.events.publish(LibraryEvent("reset"))
        return removed

    async def empty_trash_async(self, on_progress: Callable[[int, int], None] | None = None,
                                batch: int = 50) -> int:
        """Empty the trash without blocking the caller's loop: the rows go at once in one transaction (on
        this, the writer thread), the files in executor batches with `on_progress(done, total)` after each.

        A file whose hash was imported again while we worked is kept: the new row owns it now."""
        doomed = self.library.delete_trashed_rows()
        self.events.publish(LibraryEvent("reset"))
        loop = asyncio.get_running_loop()
        total = len(doomed)
        for start in range(0, total, batch):
            chunk = doomed[start:start + batch]
            back = self.library.shas_in_library([sha for sha, _ in chunk])
            chunk = [item for item in chunk if item[0] not in back]
            await loop.run_in_executor(self.executor, self.library.remove_files, chunk)
            if on_progress is not None:
                on_progress(min(total, start + batch), total)
        return total

    # -- collections ---------------------------------------------------------------------------------
    def _collections_changed(self) -> None:
        self.events.publish(LibraryEvent("collections"))

    def create_collection(self, name: str) -> int:
        cid = self.library.create_collection(name)
        self._collections_changed()
        return cid

    def rename_collection(self, collection_id: int, name: str) -> None:
        self.library.rename_collection(collection_id, name)
        self._collections_changed()

    def delete_collection(self, collection_id: int) -> None:
        self.library.delete_collection(collection_id)
        self._collections_changed()

    def add_to_collection(self, collection_id: int, image_ids: Sequence[int]) -> None:
        self.library.add_to_collection(collection_id, image_ids)
        self._collections_changed()
        self._changed(image_ids)

    def remove_from_collection(self, collection_id: int, image_ids: Sequence[int]) -> None:
        self.library.remove_from_collection(collection_id, image_ids)
        self._collections_changed()
        self._changed(image_ids)

    def reorder_collection(self, collection_id: int, ordered_ids: Sequence[int]) -> None:
        self.library.reorder_collection(collection_id, ordered_ids)
        self._collections_changed()

    def set_cover(self, collection_id: int, image_id: int) -> None:
        self.library.set_cover(collection_id, image_id)
        self._collections_changed()

    async def export_collection(self, collection_id: int | str, dest: Path) -> Any:
        # Copying files is I/O bound: keep it off the GUI thread. The export only reads the database.
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.library.export_collection, collection_id, dest)

    # -- import --------------------------------------------------------------------------------------
    async def import_paths(self, sources: Sequence[Path], collection: str | None = None,
                           on_progress: ProgressCallback | None = None,
                           cancel: asyncio.Event | None = None) -> ImportReport:
        """Import files and folders. Decoding, hashing and thumbnails run in the executor (two at a time);
        each prepared image is committed on this thread, so a failure never leaves half an import."""
        loop = asyncio.get_running_loop()
        files = await loop.run_in_executor(self.executor, lambda: list(iter_image_files(list(sources))))
        report = ImportReport()
        total = len(files)
        done = 0
        window = 2
        pending: list[tuple[Path, asyncio.Future[PreparedImage | Skipped]]] = []
        it = iter(files)
        batch_ids: list[int] = []

        def submit_next() -> bool:
            try:
                path = next(it)
            except StopIteration:
                return False
            pending.append((path, loop.run_in_executor(self.executor, prepare_file, path, self.paths)))
            return True

        for _ in range(window):
            submit_next()
        while pending:
            path, fut = pending.pop(0)
            try:
                prepared = await fut
            except StorageError as exc:
                # A full or read-only disk: stop here; what was committed stays, nothing is half-written.
                report.skipped.append((str(path), str(exc)))
                for _, other in pending:
                    other.cancel()
                raise
            except Exception as exc:  # an unexpected decoder failure skips this file only
                prepared = Skipped(path, f"could not read the file ({type(exc).__name__})")
            if isinstance(prepared, Skipped):
                report.skipped.append((str(prepared.path), prepared.reason))
            else:
                image_id, added = self.library.add_image(prepared.record, collection=collection,
                                                         meta=prepared.record.meta)
                (report.imported if added else report.duplicates).append(image_id)
                report.entries.append((image_id, "imported" if added else "duplicate", str(path)))
                batch_ids.append(image_id)
            done += 1
            if on_progress is not None:
                on_progress(done, total, path.name)
            if len(batch_ids) >= 50:  # the gallery inserts in batches, not once per file
                self.events.publish(LibraryEvent("added", tuple(batch_ids)))
                batch_ids = []
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                for _, other in pending:
                    other.cancel()
                break
            submit_next()
        if batch_ids:
            self.events.publish(LibraryEvent("added", tuple(batch_ids)))
        if collection:
            self._collections_changed()
        return report

    def add_prepared(self, prepared: PreparedImage, collection: str | None = None) -> tuple[int, bool]:
        """Commit an image prepared elsewhere (a generation) and tell the gallery."""
        image_id, added = self.library.add_image(prepared.record, collection=collection, meta=prepared.record.meta)
        self.events.publish(LibraryEvent("added", (image_id,)))
        if collection:
            self._collections_changed()
        return image_id, added
