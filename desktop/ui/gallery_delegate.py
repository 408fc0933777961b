"""Paints one gallery tile: the cached pixmap, favourite star, rating dots, reject mark and selection.

Only cached pixmaps and simple shapes: no QStyle.drawControl per item, no text layout except an elided
caption for tiles whose thumbnail is missing (font metrics cached per font).
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from desktop.ui.gallery_model import Roles
from desktop.ui.theme import ACCENT_STAR, REJECT_RED
from desktop.viewmodels.records import ImageRow

RADIUS = 8.0


def star_polygon(center: QPointF, outer: float) -> QPolygonF:
    import math

    inner = outer * 0.45
    points = []
    for k in range(10):
        r = outer if k % 2 == 0 else inner
        a = -math.pi / 2 + k * math.pi / 5
        points.append(QPointF(center.x() + r * math.cos(a), center.y() + r * math.sin(a)))
    return QPolygonF(points)


class GalleryDelegate(QStyledItemDelegate):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cell = QSize(180, 180)
        self.padding = 6
        self._metrics: dict[str, QFontMetrics] = {}

    def set_cell(self, size: QSize) -> None:
        self.cell = size

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return self.cell

    def metrics(self, font: QFont) -> QFontMetrics:
        key = font.key()
        fm = self._metrics.get(key)
        if fm is None:
            fm = self._metrics[key] = QFontMetrics(font)
        return fm

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        palette: QPalette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        focused = bool(option.state & QStyle.StateFlag.State_HasFocus)
        tile = QRectF(option.rect).adjusted(self.padding, self.padding, -self.padding, -self.padding)
        row: ImageRow | None = index.data(Roles.Row)
        pixmap = index.data(Roles.Thumb)

        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        clip = QPainterPath()
        clip.addRoundedRect(tile, RADIUS, RADIUS)
        base = palette.color(QPalette.ColorRole.AlternateBase)
        painter.fillPath(clip, base)

        if pixmap is not None and not pixmap.isNull():
            # Fill the square tile (centre crop): an even grid reads calmer than letterboxed thumbnails.
            pw, ph = pixmap.width(), pixmap.height()
            aspect = tile.width() / tile.height()
            if pw / ph > aspect:
                sw, sh = ph * aspect, float(ph)
            else:
                sw, sh = float(pw), pw / aspect
            source = QRectF((pw - sw) / 2, (ph - sh) / 2, sw, sh)
            painter.setClipPath(clip)
            painter.drawPixmap(tile, pixmap, source)
            painter.setClipping(False)
        else:
            self._paint_placeholder(painter, tile, palette, row)

        if row is not None and row.rejected:
            painter.fillPath(clip, QColor(0, 0, 0, 130))
            self._paint_reject(painter, tile)
        if hovered and not selected:
            painter.fillPath(clip, QColor(255, 255, 255, 28))
        if row is not None:
            if row.favorite:
                self._paint_star(painter, tile)
            if row.rating:
                self._paint_rating(painter, tile, row.rating)
        if selected:
            highlight = palette.color(QPalette.ColorRole.Highlight)
            painter.setPen(QPen(highlight, 3.0))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(tile.adjusted(1.5, 1.5, -1.5, -1.5), RADIUS - 1, RADIUS - 1)
            overlay = QColor(highlight)
            overlay.setAlpha(40)
            painter.fillPath(clip, overlay)
        elif focused:
            pen = QPen(palette.color(QPalette.ColorRole.Highlight), 1.0, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawRoundedRect(tile.adjusted(0.5, 0.5, -0.5, -0.5), RADIUS, RADIUS)
        painter.restore()

    # -- pieces ----------------------------------------------------------------------------------------
    def _paint_placeholder(self, painter: QPainter, tile: QRectF, palette: QPalette, row: ImageRow | None) -> None:
        text_color = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        painter.setPen(QPen(text_color, 1.5))
        c = tile.center()
        s = min(tile.width(), tile.height()) * 0.12  # a small "picture" glyph
        painter.drawRoundedRect(QRectF(c.x() - s, c.y() - s * 0.8, 2 * s, 1.6 * s), 3, 3)
        painter.drawLine(QPointF(c.x() - s * 0.6, c.y() + s * 0.5), QPointF(c.x(), c.y() - s * 0.1))
        painter.drawLine(QPointF(c.x(), c.y() - s * 0.1), QPointF(c.x() + s * 0.6, c.y() + s * 0.5))
        if row is not None and row.prompt and tile.height() > 90:
            font = painter.font()
            fm = self.metrics(font)
            text_rect = QRect(int(tile.left()) + 8, int(c.y() + s + 6), int(tile.width()) - 16, fm.height())
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignCenter,
                             fm.elidedText(row.prompt, Qt.TextElideMode.ElideRight, text_rect.width()))

    def _paint_star(self, painter: QPainter, tile: QRectF) -> None:
        r = 9.0
        center = QPointF(tile.right() - 8 - r, tile.top() + 8 + r)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 110))
        painter.drawEllipse(center, r + 4, r + 4)
        painter.setBrush(ACCENT_STAR)
        painter.drawPolygon(star_polygon(center, r))

    def _paint_rating(self, painter: QPainter, tile: QRectF, rating: int) -> None:
        dot, gap = 6.0, 4.0
        width = 5 * dot + 4 * gap + 12
        pill = QRectF(tile.left() + 8, tile.bottom() - 8 - dot - 10, width, dot + 10)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 120))
        painter.drawRoundedRect(pill, pill.height() / 2, pill.height() / 2)
        for k in range(5):
            x = pill.left() + 6 + k * (dot + gap)
            painter.setBrush(ACCENT_STAR if k < rating else QColor(255, 255, 255, 70))
            painter.drawEllipse(QRectF(x, pill.top() + 5, dot, dot))

    def _paint_reject(self, painter: QPainter, tile: QRectF) -> None:
        r = 10.0
        center = QPointF(tile.left() + 8 + r, tile.top() + 8 + r)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(REJECT_RED)
        painter.drawEllipse(center, r, r)
        painter.setPen(QPen(QColor("white"), 2.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        d = r * 0.42
        painter.drawLine(QPointF(center.x() - d, center.y() - d), QPointF(center.x() + d, center.y() + d))
        painter.drawLine(QPointF(center.x() + d, center.y() - d), QPointF(center.x() - d, center.y() + d))
