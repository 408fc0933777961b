"""Drag and drop for the gallery grid: dragging ids out, dropping files in, reordering a collection."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QDrag, QDragEnterEvent, QDragMoveEvent, QDropEvent

from desktop.ui.gallery_model import decode_ids

if TYPE_CHECKING:
    from desktop.ui.gallery_view import GalleryView


class GalleryDragDropMixin:
    def startDrag(self: GalleryView, supportedActions: Qt.DropAction) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        drag = QDrag(self)
        drag.setMimeData(self.gallery().mimeData(self.selectionModel().selectedIndexes()))
        pixmap = self.gallery().loader.pixmap(ids[0], self.gallery().thumb_px)
        if pixmap is not None:
            drag.setPixmap(pixmap.scaled(96, 96, Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.SmoothTransformation))
        drag.exec(supportedActions, Qt.DropAction.CopyAction)

    def _accepts(self: GalleryView, event: QDragEnterEvent | QDragMoveEvent) -> Qt.DropAction | None:
        mime = event.mimeData()
        if decode_ids(mime):  # our own tiles (they also carry file URLs for other apps): never re-import
            return Qt.DropAction.MoveAction if self.reorder_enabled and event.source() is self else None
        if mime.hasUrls() and any(u.isLocalFile() for u in mime.urls()):
            return Qt.DropAction.CopyAction
        return None

    def dragEnterEvent(self: GalleryView, event: QDragEnterEvent) -> None:
        action = self._accepts(event)
        if action is None:
            event.ignore()
            return
        event.setDropAction(action)
        event.accept()

    def dragMoveEvent(self: GalleryView, event: QDragMoveEvent) -> None:
        action = self._accepts(event)
        if action is None:
            event.ignore()
            return
        if action == Qt.DropAction.MoveAction:
            self._drop_row = self.drop_row_at(event.position().toPoint())
            self.viewport().update()
        event.setDropAction(action)
        event.accept()

    def dragLeaveEvent(self: GalleryView, event: object) -> None:
        self._drop_row = -1
        self.viewport().update()

    def drop_row_at(self: GalleryView, point: QPoint) -> int:
        """The insertion row for a drop at `point`: before the tile under it, or after it past its middle."""
        row = self._row_at(point, clamp=True)
        if row < self._count():
            rect = self.visualRect(self.model().index(row, 0))
            if point.x() > rect.center().x():
                row += 1
        return row

    def dropEvent(self: GalleryView, event: QDropEvent) -> None:
        mime = event.mimeData()
        self._drop_row = -1
        self.viewport().update()
        if mime.hasUrls() and not decode_ids(mime):
            paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
            if paths:
                event.setDropAction(Qt.DropAction.CopyAction)
                event.accept()
                self.filesDropped.emit(paths)
                return
        ids = decode_ids(mime)
        if ids and self.reorder_enabled:
            event.setDropAction(Qt.DropAction.MoveAction)
            event.accept()
            self.reorderRequested.emit(ids, self.drop_row_at(event.position().toPoint()))
            return
        event.ignore()
