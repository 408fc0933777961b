"""Line icons from resources/icons, tinted with the current palette so they suit dark and light themes.

The SVGs draw with `currentColor`; we substitute the palette's text colour before rendering, because Qt's
SVG renderer has no notion of a "current colour".
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer


@lru_cache(maxsize=64)
def _svg_text(name: str) -> str:
    return (resources.files("resources") / "icons" / f"{name}.svg").read_text(encoding="utf-8")


def svg_pixmap(name: str, px: int, color: QColor, dpr: float = 1.0) -> QPixmap:
    data = _svg_text(name).replace("currentColor", color.name())
    renderer = QSvgRenderer(QByteArray(data.encode()))
    side = max(1, round(px * dpr))
    pm = QPixmap(side, side)
    pm.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pm)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, side, side))
    painter.end()
    pm.setDevicePixelRatio(dpr)
    return pm


_icons: dict[tuple[str, int, int], QIcon] = {}


def icon(name: str, color: QColor | None = None) -> QIcon:
    """A QIcon with normal and disabled states in the palette's text colours (cached per colour)."""
    palette = QGuiApplication.palette()
    normal = color or palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.WindowText)
    disabled = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
    key = (name, normal.rgba(), disabled.rgba())
    cached = _icons.get(key)
    if cached is not None:
        return cached
    result = QIcon()
    for px in (16, 20, 24, 32):
        for dpr in (1.0, 2.0):
            result.addPixmap(svg_pixmap(name, px, normal, dpr), QIcon.Mode.Normal)
            result.addPixmap(svg_pixmap(name, px, disabled, dpr), QIcon.Mode.Disabled)
    _icons[key] = result
    return result


ICON_SIZE = QSize(18, 18)
