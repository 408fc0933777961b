"""The library view-model: what the library window's views read, the commands they run, and what changed.

The one place where the library's plain-Python events meet Qt (architecture §1, krita's Connection): the
service publishes on whatever thread changed the library; we re-emit each event as a Qt signal of this
QObject, which Qt delivers on the GUI thread (directly when published there, queued from a worker).
Views never hold the service: they get this object and call its named reads and commands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal, Slot

from desktop.services.events import LibraryEvent
from desktop.services.library import ImportReport, LibraryService, ProgressCallback
from desktop.viewmodels.commands import LibraryCommands
from desktop.viewmodels.records import CollectionRow, ImageQuery, ImageRow
from storage.paths import AppPaths

log = logging.getLogger(__name__)

__all__ = ["CollectionRow", "ImageQuery", "ImageRow", "ImportReport", "LibraryServices", "LibraryViewModel"]


class LibraryServices(Protocol):
    """What the library window needs from the composition root's services (AppServices satisfies it)."""

    library: LibraryService


class LibraryViewModel(QObject):
    imagesAdded = Signal(list)  # image ids now in the library (imported, generated, restored)
    imagesChanged = Signal(list)  # image ids whose flags, rating or collections changed
    imagesRemoved = Signal(list)  # image ids moved to the trash
    libraryReset = Signal()  # anything may have changed (trash emptied): re-query everything
    collectionsChanged = Signal()  # names, counts, covers or order of the collections
    undoChanged = Signal(str)  # label of the command Ctrl+Z would undo; "" when there is none

    # Emitted from whatever thread publishes; connected to our own slot, so Qt queues it onto our thread.
    _raw_event = Signal(object)

    def __init__(self, service: LibraryService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._service = service
        self._commands = LibraryCommands(service, self.undoChanged.emit)
        self._raw_event.connect(self._deliver)
        unsubscribe = self._unsubscribe = service.events.subscribe(self._raw_event.emit)
        # A deleted view-model must not stay subscribed: emitting on a dead QObject raises in the publisher.
        self.destroyed.connect(lambda *_: unsubscribe())

    def close(self) -> None:
        """Stop listening to the library (the window is closing)."""
        self._unsubscribe()

    @Slot(object)
    def _deliver(self, event: LibraryEvent) -> None:
        ids = list(event.image_ids)
        if event.kind == "added":
            self.imagesAdded.emit(ids)
        elif event.kind == "changed":
            self.imagesChanged.emit(ids)
        elif event.kind == "removed":
            self.imagesRemoved.emit(ids)
        elif event.kind == "collections":
            self.collectionsChanged.emit()
        else:  # "reset", or a kind we do not know: assume anything changed
            if event.kind != "reset":
                log.debug("unknown library event %r treated as a reset", event.kind)
            self.libraryReset.emit()

    # -- reads -----------------------------------------------------------------------------------------
    @property
    def paths(self) -> AppPaths:
        """Where images and thumbnails live (the thumbnail loader reads files by these paths)."""
        return self._service.paths

    def ids(self, query: ImageQuery, limit: int | None = None) -> list[int]:
        return self._service.ids(query, limit)

    def search_head(self, query: ImageQuery, limit: int) -> list[int] | None:
        return self._service.search_head(query, limit)

    def rows(self, ids: Sequence[int]) -> dict[int, ImageRow]:
        return self._service.rows(ids)

    def get(self, image_id: int) -> ImageRow | None:
        return self._service.get(image_id)

    def image_meta(self, image_id: int) -> dict[str, Any]:
        return self._service.image_meta(image_id)

    def collections(self) -> list[CollectionRow]:
        return self._service.collections()

    def providers(self) -> list[str]:
        return self._service.providers()

    def trashed_count(self) -> int:
        return len(self._service.ids(ImageQuery(trashed=True)))

    def submit(self, read: Callable[[], None]) -> Future[None]:
        """Run a slow read on the library's worker pool (each worker has its own read connection; WAL), so
        a query over 100k images never stalls the window. `read` reports back itself (e.g. a queued signal)."""
        return self._service.executor.submit(read)

    # -- image commands, undoable ------------------------------------------------------------------------
    @property
    def undo_label(self) -> str:
        stack = self._commands.stack
        return stack[-1].label if stack else ""

    def undo(self) -> str:
        """Undo the last command; returns its label ("" when there was nothing to undo)."""
        return self._commands.undo()

    def clear_undo(self) -> None:
        self._commands.clear()

    def toggle_favorite(self, ids: Sequence[int]) -> bool | None:
        return self._commands.toggle_favorite(ids)

    def set_favorite(self, ids: Sequence[int], value: bool) -> None:
        self._commands.set_favorite(ids, value)

    def rate(self, ids: Sequence[int], rating: int) -> None:
        self._commands.rate(ids, rating)

    def toggle_reject(self, ids: Sequence[int]) -> bool | None:
        return self._commands.toggle_reject(ids)

    def trash(self, ids: Sequence[int]) -> int:
        return self._commands.trash(ids)

    def restore(self, ids: Sequence[int]) -> int:
        return self._commands.restore(ids)

    def add_to_collection(self, collection_id: int, ids: Sequence[int]) -> None:
        self._commands.add_to_collection(collection_id, ids)

    def remove_from_collection(self, collection_id: int, ids: Sequence[int], order: Sequence[int]) -> None:
        self._commands.remove_from_collection(collection_id, ids, order)

    def reorder(self, collection_id: int, old_order: Sequence[int], moved: Sequence[int], target: int) -> list[int]:
        return self._commands.reorder(collection_id, old_order, moved, target)

    # -- collection commands (not undoable: the sidebar asks before deleting) --------------------------
    def create_collection(self, name: str) -> int:
        return self._service.create_collection(name)

    def rename_collection(self, collection_id: int, name: str) -> None:
        self._service.rename_collection(collection_id, name)

    def delete_collection(self, collection_id: int) -> None:
        self._service.delete_collection(collection_id)

    def set_cover(self, collection_id: int, image_id: int) -> None:
        self._service.set_cover(collection_id, image_id)

    # -- long-running work (views spawn these through the TaskRunner) -----------------------------------
    async def import_paths(self, sources: Sequence[Path], collection: str | None = None,
                           on_progress: ProgressCallback | None = None,
                           cancel: asyncio.Event | None = None) -> ImportReport:
        return await self._service.import_paths(sources, collection, on_progress, cancel)

    async def export_collection(self, collection_id: int | str, dest: Path) -> Any:
        return await self._service.export_collection(collection_id, dest)

    async def empty_trash(self, on_progress: Callable[[int, int], None] | None = None) -> int:
        """Delete the trashed images for good. Undo entries may point at them, so the undo stack goes first."""
        self._commands.clear()
        return await self._service.empty_trash_async(on_progress)
