"""A fixed-cell, virtualised grid over the gallery's list model (a small custom QAbstractItemView).

Every position is arithmetic (row = i // columns), so showing, resizing, scrolling and inserting cost
O(visible) whatever the library size, unlike QListView's IconMode, which lays out every item.

Mouse handling lives in gallery_band (hover, rubber band) and gallery_dnd (drag and drop).
"""

from __future__ import annotations

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QPen, QRegion, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyleOptionViewItem, QWidget

from desktop.ui.gallery_band import RubberBandMixin
from desktop.ui.gallery_delegate import GalleryDelegate
from desktop.ui.gallery_dnd import GalleryDragDropMixin
from desktop.ui.gallery_model import GalleryModel, Roles
from desktop.ui.thumbnail_loader import ThumbRequest

MARGIN = 10
MAX_STRETCH = 1.2  # tiles grow at most this much past the slider's size to fill a row; the rest is centred
PX_STEP = 32  # thumbnail decode sizes are bucketed so a window resize does not re-decode everything


class GalleryView(RubberBandMixin, GalleryDragDropMixin, QAbstractItemView):
    filesDropped = Signal(list)  # list[Path]
    reorderRequested = Signal(list, int)  # moved ids, target row (insert before; == count means at the end)
    currentImageChanged = Signal(int)  # image id, or -1

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._delegate = GalleryDelegate(self)
        self.tile = 180  # logical px of the thumbnail area
        self.columns = 1
        self.cell = QSize(self.tile, self.tile)
        self.grid_left = MARGIN  # x of the first column (more than MARGIN when the grid is centred)
        self.reorder_enabled = False
        self.empty_title = "Your library is empty"
        self.empty_hint = "Drop images or folders here, or use File ▸ Import"
        self._hover_row = -1
        self._drop_row = -1
        self._band_origin: QPoint | None = None  # content coordinates (y includes the scroll offset)
        self._band_pos = QPoint()  # viewport coordinates of the pointer
        self._band_base = QItemSelection()  # what stays selected under the band (Ctrl/Shift)
        self._band_scroll = QTimer(self)
        self._band_scroll.setInterval(30)  # keep scrolling while the pointer rests past an edge
        self._band_scroll.timeout.connect(self._band_autoscroll)
        self._wanted_timer = QTimer(self)
        self._wanted_timer.setSingleShot(True)
        self._wanted_timer.setInterval(50)  # debounce: scrolling emits far more often than we need
        self._wanted_timer.timeout.connect(self.refresh_wanted)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMouseTracking(True)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setFrameShape(QAbstractItemView.Shape.NoFrame)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.viewport().setBackgroundRole(QPalette.ColorRole.Base)
        self.setItemDelegate(self._delegate)
        self.verticalScrollBar().valueChanged.connect(lambda _v: self._wanted_timer.start())

    # -- model wiring ------------------------------------------------------------------------------------
    def gallery(self) -> GalleryModel:
        model = self.model()
        assert isinstance(model, GalleryModel)
        return model

    def setModel(self, model: GalleryModel) -> None:  # type: ignore[override]
        super().setModel(model)
        model.rowsLoaded.connect(self._wanted_timer.start)
        model.modelReset.connect(self._structure_changed)
        model.rowsInserted.connect(self._structure_changed)
        model.rowsRemoved.connect(self._structure_changed)
        self.selectionModel().currentChanged.connect(self._current_changed)
        self._apply_tile()

    def _structure_changed(self, *_args: object) -> None:
        self.updateGeometries()
        self.viewport().update()
        self._wanted_timer.start()

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.currentImageChanged.emit(int(current.data(Roles.Id)) if current.isValid() else -1)

    def selected_ids(self) -> list[int]:
        model = self.gallery()
        rows = sorted(i.row() for i in self.selectionModel().selectedIndexes())
        return [model.image_id(r) for r in rows if r < model.rowCount()]

    def current_id(self) -> int:
        index = self.currentIndex()
        return int(index.data(Roles.Id)) if index.isValid() else -1

    # -- geometry --------------------------------------------------------------------------------------
    def set_tile_size(self, px: int) -> None:
        self.tile = max(64, min(512, px))
        self._apply_tile()

    def thumb_px(self) -> int:
        edge = (self.cell.width() - 2 * self._delegate.padding) * self.devicePixelRatioF()
        return max(PX_STEP, int((edge + PX_STEP - 1) // PX_STEP * PX_STEP))

    def _apply_tile(self) -> None:
        width = max(1, self.viewport().width() - 2 * MARGIN)
        target = self.tile + 2 * self._delegate.padding
        self.columns = max(1, width // target)
        # Stretch so the grid fills the width evenly, but not without bound: one column of a wide window would
        # otherwise become a giant, upscaled tile. What is left over centres the grid.
        side = max(target, min(width // self.columns, int(target * MAX_STRETCH)))
        self.cell = QSize(side, side)
        self.grid_left = MARGIN + max(0, (width - side * self.columns) // 2)
        self._delegate.set_cell(self.cell)
        if self.model() is not None:
            self.gallery().thumb_px = self.thumb_px()
        self.updateGeometries()
        self.viewport().update()
        self._wanted_timer.start()

    def _count(self) -> int:
        return self.model().rowCount() if self.model() is not None else 0

    def _content_height(self) -> int:
        rows = (self._count() + self.columns - 1) // self.columns
        return rows * self.cell.height() + 2 * MARGIN

    def updateGeometries(self) -> None:
        bar = self.verticalScrollBar()
        page = self.viewport().height()
        bar.setRange(0, max(0, self._content_height() - page))
        bar.setPageStep(page)
        bar.setSingleStep(max(1, self.cell.height() // 4))
        super().updateGeometries()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._apply_tile()

    def visible_rows(self, extra_screens: float = 0.0) -> range:
        count = self._count()
        if count == 0:
            return range(0)
        h = self.viewport().height()
        top = self.verticalOffset() - MARGIN - int(h * extra_screens)
        bottom = self.verticalOffset() - MARGIN + h + int(h * extra_screens)
        first_row = max(0, top // self.cell.height())
        last_row = max(0, bottom // self.cell.height())
        return range(min(count, first_row * self.columns), min(count, (last_row + 1) * self.columns))

    def visualRect(self, index: QModelIndex | QPersistentModelIndex) -> QRect:
        if not index.isValid():
            return QRect()
        r = index.row()
        x = self.grid_left + (r % self.columns) * self.cell.width()
        y = MARGIN + (r // self.columns) * self.cell.height() - self.verticalOffset()
        return QRect(QPoint(x, y), self.cell)

    def indexAt(self, point: QPoint) -> QModelIndex:
        """The tile under `point`; the padding around tiles is empty space, where a rubber band starts."""
        row = self._row_at(point)
        if row < 0:
            return QModelIndex()
        index = self.model().index(row, 0)
        pad = self._delegate.padding
        return index if self.visualRect(index).adjusted(pad, pad, -pad, -pad).contains(point) else QModelIndex()

    def _row_at(self, point: QPoint, *, clamp: bool = False) -> int:
        x = point.x() - self.grid_left
        y = point.y() + self.verticalOffset() - MARGIN
        col = x // self.cell.width()
        if not clamp and (x < 0 or y < 0 or col >= self.columns):
            return -1
        col = max(0, min(self.columns - 1, col))
        row = max(0, y // self.cell.height()) * self.columns + col
        if clamp:
            return max(0, min(self._count(), row))
        return row if row < self._count() else -1

    def scrollTo(self, index: QModelIndex | QPersistentModelIndex,
                 hint: QAbstractItemView.ScrollHint = QAbstractItemView.ScrollHint.EnsureVisible) -> None:
        if not index.isValid():
            return
        rect = self.visualRect(index)
        bar = self.verticalScrollBar()
        if hint == QAbstractItemView.ScrollHint.PositionAtCenter:
            bar.setValue(bar.value() + rect.center().y() - self.viewport().height() // 2)
        elif (rect.top() < 0 or hint == QAbstractItemView.ScrollHint.PositionAtTop
              or rect.height() > self.viewport().height() - 2 * MARGIN):  # too tall to fit: show its top
            bar.setValue(bar.value() + rect.top() - MARGIN)
        elif rect.bottom() > self.viewport().height():
            bar.setValue(bar.value() + rect.bottom() - self.viewport().height() + MARGIN)

    def horizontalOffset(self) -> int:
        return 0

    def verticalOffset(self) -> int:
        return self.verticalScrollBar().value()

    def isIndexHidden(self, index: QModelIndex | QPersistentModelIndex) -> bool:
        return False

    def moveCursor(self, action: QAbstractItemView.CursorAction,
                   modifiers: Qt.KeyboardModifier) -> QModelIndex:
        count = self._count()
        if count == 0:
            return QModelIndex()
        current = self.currentIndex().row() if self.currentIndex().isValid() else -1
        if current < 0:
            return self.model().index(0, 0)
        per_page = max(1, self.viewport().height() // self.cell.height()) * self.columns
        A = QAbstractItemView.CursorAction
        target = {
            A.MoveLeft: current - 1, A.MovePrevious: current - 1,
            A.MoveRight: current + 1, A.MoveNext: current + 1,
            A.MoveUp: current - self.columns, A.MoveDown: current + self.columns,
            A.MovePageUp: current - per_page, A.MovePageDown: current + per_page,
            A.MoveHome: 0, A.MoveEnd: count - 1,
        }.get(action, current)
        if action in (A.MoveUp, A.MoveDown) and not 0 <= target < count:
            target = current  # stay in the column instead of jumping to the ends
        return self.model().index(max(0, min(count - 1, target)), 0)

    def setSelection(self, rect: QRect, command: QItemSelectionModel.SelectionFlag) -> None:
        """Shift+click / Shift+keys: Qt passes the rectangle from the anchor tile to the current one; in a
        wrapping grid the creator means every image between the two in gallery order (a file manager's range),
        not the tiles inside that rectangle (which drops columns when the range spans rows)."""
        selection = self.selection_in(rect)
        current = self.currentIndex().row() if self.currentIndex().isValid() else -1
        rect = rect.normalized()
        corners = (rect.topLeft(), rect.topRight(), rect.bottomLeft(), rect.bottomRight())
        for k, corner in enumerate(corners):
            anchor = self.indexAt(corners[3 - k])  # the corner diagonally opposite the current tile
            if current >= 0 and self.indexAt(corner).row() == current and anchor.isValid():
                first, last = sorted((anchor.row(), current))
                selection = QItemSelection(self.model().index(first, 0), self.model().index(last, 0))
                break
        self.selectionModel().select(selection, command)

    def selection_in(self, rect: QRect) -> QItemSelection:
        """The tiles (cells minus their padding) that `rect`, in viewport coordinates, touches."""
        rect = rect.normalized()
        selection = QItemSelection()
        count = self._count()
        if not count:
            return selection
        pad = self._delegate.padding
        w, h = self.cell.width(), self.cell.height()
        top, bottom = rect.top() + self.verticalOffset() - MARGIN, rect.bottom() + self.verticalOffset() - MARGIN
        left, right = rect.left() - self.grid_left, rect.right() - self.grid_left
        # Tile k spans [k*w + pad, (k+1)*w - pad - 1] on each axis: solve for the first and last k it touches.
        c0, c1 = max(0, -((w - pad - 1 - left) // w)), min(self.columns - 1, (right - pad) // w)
        r0, r1 = max(0, -((h - pad - 1 - top) // h)), (bottom - pad) // h
        for grid_row in range(r0, r1 + 1):
            a = grid_row * self.columns + c0
            if a >= count:
                break
            b = min(count - 1, grid_row * self.columns + c1)
            if a <= b:
                selection.select(self.model().index(a, 0), self.model().index(b, 0))
        return selection

    def visualRegionForSelection(self, selection: QItemSelection) -> QRegion:
        region = QRegion()
        width = self.viewport().width()
        for rng in selection:
            top = self.visualRect(self.model().index(rng.top(), 0))
            bottom = self.visualRect(self.model().index(rng.bottom(), 0))
            region += QRect(0, top.top(), width, bottom.bottom() - top.top() + 1)
        return region

    def keyboardSearch(self, search: str) -> None:
        """Letters are shortcuts here (F, X, 1-5), not type-ahead search."""

    # -- painting --------------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self.viewport())
        if self._count() == 0:
            self._paint_empty(painter)
            return
        option = QStyleOptionViewItem()
        self.initViewItemOption(option)
        selection = self.selectionModel()
        current = self.currentIndex()
        model = self.model()
        dirty = event.rect()
        for row in self.visible_rows():
            index = model.index(row, 0)
            rect = self.visualRect(index)
            if not rect.intersects(dirty):
                continue
            option.rect = rect
            state = QStyle.StateFlag.State_Enabled
            if selection.isSelected(index):
                state |= QStyle.StateFlag.State_Selected
            if row == self._hover_row:
                state |= QStyle.StateFlag.State_MouseOver
            if index == current and self.hasFocus():
                state |= QStyle.StateFlag.State_HasFocus
            option.state = state
            self._delegate.paint(painter, option, index)
        if self._drop_row >= 0:
            self._paint_drop_marker(painter)
        if self._band_origin is not None:
            highlight = self.palette().color(QPalette.ColorRole.Highlight)
            fill = QColor(highlight)
            fill.setAlpha(48)
            painter.setPen(QPen(highlight, 1.0))
            painter.setBrush(fill)
            painter.drawRect(self.band_rect().adjusted(0, 0, -1, -1))

    def _paint_empty(self, painter: QPainter) -> None:
        rect = self.viewport().rect()
        palette = self.palette()
        title_font = self.font()
        title_font.setPointSizeF(title_font.pointSizeF() * 1.5)
        title_font.setWeight(title_font.Weight.DemiBold)
        painter.setFont(title_font)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        mid = rect.center().y()
        painter.drawText(QRect(rect.left(), mid - 40, rect.width(), 36), Qt.AlignmentFlag.AlignCenter,
                         self.empty_title)
        painter.setFont(self.font())
        painter.setPen(palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
        painter.drawText(QRect(rect.left(), mid, rect.width(), 28), Qt.AlignmentFlag.AlignCenter, self.empty_hint)

    def _paint_drop_marker(self, painter: QPainter) -> None:
        count = self._count()
        row = min(self._drop_row, count)
        anchor = self.visualRect(self.model().index(min(row, count - 1), 0))
        x = anchor.left() if row < count else anchor.right()
        painter.fillRect(QRect(x - 2, anchor.top() + 6, 4, anchor.height() - 12),
                         self.palette().color(QPalette.ColorRole.Highlight))

    # -- thumbnails --------------------------------------------------------------------------------------
    def refresh_wanted(self) -> None:
        """Tell the model which rows to load and the loader which thumbnails to decode, visible first."""
        if self.model() is None:
            return
        model = self.gallery()
        visible = self.visible_rows()
        around = self.visible_rows(extra_screens=1.0)
        if not around:
            model.loader.want("gallery", [])
            return
        model.ensure_rows(around.start, around.stop - 1)
        px = model.thumb_px
        order = list(visible) + [r for r in around if r not in visible]
        requests = []
        for row in order:
            item = model.cached_row(model.image_id(row))
            if item is not None and item.thumb_path:
                requests.append(ThumbRequest(item.id, item.thumb_path, px, item.path, item.sha256))
        model.loader.want("gallery", requests)

    def leaveEvent(self, event: object) -> None:
        if self._hover_row >= 0:
            self.viewport().update(self.visualRect(self.model().index(self._hover_row, 0)))
        self._hover_row = -1
        super().leaveEvent(event)  # type: ignore[arg-type]
