"""Look and feel: Fusion follows the system palette on every platform; a small palette-relative stylesheet.

Nothing here hard-codes a theme: every colour is a palette role, so a dark system palette gives a dark app.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

ACCENT_STAR = QColor(245, 185, 35)  # favourites are gold in every theme (a convention, not a theme colour)
REJECT_RED = QColor(220, 70, 60)

STYLESHEET = """
QToolBar { spacing: 6px; padding: 4px 8px; border: none; }
QDockWidget::title { padding: 6px 8px; font-weight: 600; }
QStatusBar { padding: 2px 8px; }
QStatusBar::item { border: none; }
QLineEdit#searchBox { padding: 4px 8px; border-radius: 6px; }
QLabel#sectionTitle { font-weight: 600; color: palette(mid); }
QLabel#detailKey { color: palette(placeholder-text); }
QLabel#hint { color: palette(placeholder-text); }
QListWidget#sidebar { border: none; background: transparent; outline: none; }
QListWidget#sidebar::item { padding: 5px 6px; border-radius: 6px; }
QListWidget#sidebar::item:hover { background: palette(midlight); }
QListWidget#sidebar::item:selected { background: palette(highlight); color: palette(highlighted-text); }
QFrame#generatePanel { border-bottom: 1px solid palette(midlight); }
QFrame#filterBar { border-bottom: 1px solid palette(midlight); }
"""


def is_dark(widget: QWidget | None = None) -> bool:
    palette = widget.palette() if widget is not None else QApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def apply_app_style(app: QApplication) -> None:
    """Fusion with the platform's palette (Qt 6 Fusion picks up the system colour scheme)."""
    app.setStyle("Fusion")
    app.setStyleSheet(STYLESHEET)
