"""Hover and rubber-band selection for the gallery grid.

Pressing on empty space (a margin, the gap between tiles, below the last row) and dragging draws a band that
selects every tile it touches; Ctrl or Shift adds to what was selected. Pressing on a tile and dragging stays
drag and drop (gallery_dnd). The band's origin is kept in content coordinates so it survives scrolling, and
resting the pointer past the top or bottom edge keeps scrolling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QPoint, QRect, Qt
from PySide6.QtGui import QMouseEvent

if TYPE_CHECKING:
    from desktop.ui.gallery_view import GalleryView


class RubberBandMixin:
    def band_rect(self: GalleryView) -> QRect:
        """The rubber band in viewport coordinates (empty when no band is being dragged)."""
        if self._band_origin is None:
            return QRect()
        origin = QPoint(self._band_origin.x(), self._band_origin.y() - self.verticalOffset())
        return QRect(origin, self._band_pos).normalized()

    def mousePressEvent(self: GalleryView, event: QMouseEvent) -> None:
        pos = event.position().toPoint()
        if event.button() == Qt.MouseButton.LeftButton and self.model() is not None and not self.indexAt(pos).isValid():
            adding = bool(event.modifiers() & (Qt.KeyboardModifier.ControlModifier
                                               | Qt.KeyboardModifier.ShiftModifier))
            self._band_base = QItemSelection(self.selectionModel().selection()) if adding else QItemSelection()
            if not adding:
                self.selectionModel().clearSelection()
            self._band_origin = QPoint(pos.x(), pos.y() + self.verticalOffset())
            self._band_pos = pos
            self.setFocus(Qt.FocusReason.MouseFocusReason)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self: GalleryView, event: QMouseEvent) -> None:
        pos = event.position().toPoint()
        row = self._row_at(pos)
        if row != self._hover_row:
            for r in (self._hover_row, row):
                if r >= 0:
                    self.viewport().update(self.visualRect(self.model().index(r, 0)))
            self._hover_row = row
        if self._band_origin is not None:
            self._band_pos = pos
            outside = pos.y() < 0 or pos.y() > self.viewport().height()
            if outside and not self._band_scroll.isActive():
                self._band_scroll.start()
            elif not outside:
                self._band_scroll.stop()
            self._update_band()
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self: GalleryView, event: QMouseEvent) -> None:
        if self._band_origin is None:
            super().mouseReleaseEvent(event)
            return
        self._band_pos = event.position().toPoint()
        self._update_band()
        touched = self.selection_in(self.band_rect())
        self._band_origin = None
        self._band_scroll.stop()
        self._band_base = QItemSelection()
        if not touched.isEmpty():  # the details panel follows the first tile the band picked up
            first = min(r.top() for r in touched)
            self.selectionModel().setCurrentIndex(self.model().index(first, 0),
                                                  QItemSelectionModel.SelectionFlag.NoUpdate)
        self.viewport().update()
        event.accept()

    def _update_band(self: GalleryView) -> None:
        selection = QItemSelection()
        selection.merge(self._band_base, QItemSelectionModel.SelectionFlag.Select)
        selection.merge(self.selection_in(self.band_rect()), QItemSelectionModel.SelectionFlag.Select)
        self.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.viewport().update()

    def _band_autoscroll(self: GalleryView) -> None:
        if self._band_origin is None:
            self._band_scroll.stop()
            return
        y, height = self._band_pos.y(), self.viewport().height()
        step = (y - height) if y > height else y  # faster the further past the edge
        bar = self.verticalScrollBar()
        bar.setValue(bar.value() + max(-60, min(60, step)))
        self._update_band()
