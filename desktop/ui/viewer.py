"""A simple full-size viewer: one image fitted to the window, Left/Right through the gallery's current order.

Non-modal (show(), never exec()). The grid's thumbnail shows at once; the full image is decoded in a worker,
at most one decode at a time: while the user holds Right, stale requests are skipped rather than queued, so
a run through 4K images never stacks up several ~280 MB decodes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from desktop.asyncqt import TaskRunner
from desktop.ui.actions import build_actions
from desktop.ui.gallery_model import GalleryModel
from desktop.ui.thumbnail_loader import decode_scaled

BACKGROUND = QColor(24, 24, 26)


class ImageCanvas(QWidget):
    """Paints a pixmap scaled to fit (never above 100 % of its device pixels), centred on a dark ground."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pixmap = QPixmap()
        self.natural = QSize()  # the original's size in pixels: a stand-in thumbnail is laid out like it
        self.setMinimumSize(200, 150)

    def set_pixmap(self, pixmap: QPixmap, natural: QSize | None = None) -> None:
        self.pixmap = pixmap
        if natural is not None:
            self.natural = natural
        self.update()

    def image_rect(self) -> QRectF:
        if self.pixmap.isNull():
            return QRectF()
        dpr = self.devicePixelRatioF()
        pixels = self.natural if self.natural.isValid() else self.pixmap.size()
        natural = pixels / dpr
        box = self.rect().adjusted(12, 12, -12, -12).size()
        size = natural.scaled(box, Qt.AspectRatioMode.KeepAspectRatio) if (
            natural.width() > box.width() or natural.height() > box.height()) else natural
        x = (self.width() - size.width()) / 2
        y = (self.height() - size.height()) / 2
        return QRectF(x, y, size.width(), size.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        if not self.pixmap.isNull():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawPixmap(self.image_rect(), self.pixmap, QRectF(self.pixmap.rect()))


class ImageViewer(QDialog):
    imageShown = Signal(int)  # the gallery follows along, so closing leaves the user where they were

    def __init__(self, parent: QWidget, model: GalleryModel, runner: TaskRunner,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageViewer")
        self.setModal(False)
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.resize(1100, 800)
        self.model = model
        self.runner = runner
        self.on_error = on_error
        self.image_id = -1
        self.loaded_id = -1  # the image whose full-size decode is on screen (-1 while only the thumbnail is)
        self._decode_lock = asyncio.Lock()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.canvas = ImageCanvas()
        layout.addWidget(self.canvas, 1)
        self.caption = QLabel()
        self.caption.setObjectName("viewerCaption")
        self.caption.setStyleSheet("#viewerCaption { background: #18181a; color: #c8c8cc; padding: 6px 12px; }")
        layout.addWidget(self.caption)
        self.actions = build_actions(self, {
            "viewer_prev": lambda: self.step(-1), "viewer_next": lambda: self.step(+1),
            "viewer_first": lambda: self.go_to_row(0), "viewer_last": lambda: self.go_to_row(self.model.rowCount() - 1),
            "viewer_close": self.close,
        }, self, viewer=True)

    # -- navigation ------------------------------------------------------------------------------------
    def step(self, delta: int) -> None:
        row = self.model.row_of(self.image_id)
        if row < 0:  # the image left the gallery (trashed, filtered out): start from the top
            row = 0 if delta > 0 else self.model.rowCount()
        self.go_to_row(row + delta)

    def go_to_row(self, row: int) -> None:
        count = self.model.rowCount()
        if count and 0 <= row < count:
            self.show_image(self.model.image_id(row))

    def show_image(self, image_id: int) -> None:
        row = self.model.library.get(image_id)
        if row is None:
            return
        self.image_id = image_id
        self.loaded_id = -1
        thumb = self.model.loader.pixmap(image_id, self.model.thumb_px)
        self.canvas.set_pixmap(thumb if thumb is not None else QPixmap(), QSize(row.width, row.height))
        position = self.model.row_of(image_id)
        where = f"{position + 1:,} / {self.model.rowCount():,}" if position >= 0 else ""
        title = row.prompt or row.source_path.rsplit("/", 1)[-1] or f"image {image_id}"
        self.setWindowTitle(title if len(title) < 90 else title[:89] + "…")
        metrics = self.caption.fontMetrics()
        text = "   ·   ".join(b for b in (where, f"{row.width} × {row.height}", row.provider, row.prompt) if b)
        self.caption.setText(metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(200, self.width() - 24)))
        self.imageShown.emit(image_id)
        self.runner.spawn(self._load(image_id, row.path), on_error=self.on_error)

    # -- decoding --------------------------------------------------------------------------------------
    def _decode_px(self) -> int:
        """Decode to the screen's size, not the file's: fit-to-window never needs more pixels than that."""
        screen = self.screen()
        size = screen.availableGeometry().size() if screen is not None else QSize(2048, 2048)
        return int(max(size.width(), size.height()) * self.devicePixelRatioF())

    async def _load(self, image_id: int, path: str) -> None:
        async with self._decode_lock:  # one decode at a time; requests overtaken while waiting are skipped
            if image_id != self.image_id:
                return
            image: QImage = await asyncio.to_thread(decode_scaled, path, self._decode_px())
        if image_id != self.image_id or image.isNull():
            return  # moved on meanwhile, or an unreadable file: the thumbnail stays
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(self.devicePixelRatioF())
        self.canvas.set_pixmap(pixmap)
        self.loaded_id = image_id
