"""The window has a usable minimum size: at it, nothing in the parameters panel or the filter bar overlaps,
leaves its parent or is squeezed below its minimum size hint (geometry checks, offscreen), for a provider with
many controls (Stability: seed, style, negative prompt) and one with image-to-image."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QRect
from PySide6.QtWidgets import (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QLabel, QLineEdit,
                               QPlainTextEdit, QWidget)

from tests.desktop.ui.gen_fixtures import gen_window  # noqa: F401

LEAVES = (QAbstractButton, QComboBox, QLabel, QLineEdit, QPlainTextEdit, QAbstractSpinBox, QAbstractSlider)


def _leaves(root: QWidget) -> list[QWidget]:
    """Visible controls, not the parts inside another control (a spin box's line edit, a combo's view)."""
    out = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, LEAVES) or not widget.isVisibleTo(root) or widget.window() is not root.window():
            continue
        parent = widget.parentWidget()
        inner = False
        while parent is not None and parent is not root:
            if isinstance(parent, (QComboBox, QAbstractSpinBox, QPlainTextEdit, QLineEdit)):
                inner = True
                break
            parent = parent.parentWidget()
        if not inner:
            out.append(widget)
    return out


def _rect(widget: QWidget, root: QWidget) -> QRect:
    return QRect(widget.mapTo(root, widget.rect().topLeft()), widget.size())


def assert_clean_layout(root: QWidget) -> None:
    leaves = _leaves(root)
    assert len(leaves) > 3
    problems = []
    for widget in leaves:
        box = _rect(widget, root)
        name = f"{type(widget).__name__} {widget.objectName()!r} {getattr(widget, 'text', lambda: '')()!r}"
        if not root.rect().contains(box):
            problems.append(f"{name} {box} leaves {root.rect()}")
        elastic = isinstance(widget, QPlainTextEdit) or isinstance(widget, QLabel) and (widget.wordWrap() or widget.pixmap() is not None
                                                  or widget.sizePolicy().horizontalPolicy().name == "Ignored")
        hint = widget.minimumSizeHint()
        if not elastic and (widget.width() < hint.width() - 1 or widget.height() < hint.height() - 1):
            problems.append(f"{name} is {widget.width()}x{widget.height()}, needs {hint.width()}x{hint.height()}")
    for i, a in enumerate(leaves):
        for b in leaves[i + 1:]:
            if a.isAncestorOf(b) or b.isAncestorOf(a):
                continue
            overlap = _rect(a, root).intersected(_rect(b, root))
            if overlap.width() > 1 and overlap.height() > 1:
                problems.append(f"{type(a).__name__} {a.objectName()!r} overlaps "
                                f"{type(b).__name__} {b.objectName()!r} by {overlap}")
    assert not problems, "\n".join(problems)


def _choose(combo: QComboBox, value: str) -> None:
    combo.setCurrentIndex(combo.findData(value))


def test_window_minimum_size_keeps_panel_and_filters_clean(qtbot, gen_window, tmp_path: Path) -> None:
    win, ui = gen_window
    minimum = win.minimumSize()
    assert 900 <= minimum.width() <= 1100 and 600 <= minimum.height() <= 700
    win.resize(200, 150)  # asking for less than the minimum gets the minimum
    qtbot.waitUntil(lambda: win.size() == minimum, timeout=2000)
    panel = ui.panel
    ui.panel.prompt.setPlainText("A lighthouse on a basalt cliff at golden hour")
    for provider, model in (("stability", "sd3.5-large"), ("openai", "gpt-image-2"), ("replicate", "")):
        _choose(panel.provider, provider)
        if model:
            _choose(panel.model, model)
        qtbot.wait(30)
        assert_clean_layout(panel)
        assert_clean_layout(win.filters)
        assert panel.generate.isVisible()
        gallery = _rect(win.view, win)
        assert gallery.height() >= 120, f"the gallery is only {gallery.height()} px tall"
        assert not _rect(panel, win).intersects(gallery) and not _rect(win.filters, win).intersects(gallery)
    folder = Path(os.environ.get("IMAGES_STUDIO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    assert win.grab().save(str(folder / "window-minimum.png"))


def test_parameter_grid_and_filters_wrap_to_more_rows_when_narrow(qtbot, gen_window) -> None:
    win, ui = gen_window
    panel = ui.panel
    _choose(panel.provider, "stability")
    _choose(panel.model, "sd3.5-large")
    win.resize(1700, 1000)
    qtbot.waitUntil(lambda: win.width() == 1700, timeout=2000)
    qtbot.wait(20)
    assert panel.columns == 4 and set(win.filters._placement) == {0}  # one row of filters
    captions = {key: panel.fields[key].caption for key in ("provider", "model", "size", "seed")}
    assert len({round(c.mapTo(panel, c.rect().topLeft()).y()) for c in captions.values()}) == 2
    win.resize(win.minimumSize())
    qtbot.waitUntil(lambda: win.size() == win.minimumSize(), timeout=2000)
    qtbot.wait(20)
    assert panel.columns < 4 and len(set(win.filters._placement)) > 1
    assert win.filters.row_of(win.filters.groups[0]) == 0  # the search box stays first
