"""Rubber-band selection in the gallery grid, driven by real mouse events on the viewport."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QPalette

from tests.desktop.ui.conftest import a1111_png, import_and_wait

CTRL = Qt.KeyboardModifier.ControlModifier
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def grid(qtbot, window, tmp_path: Path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "many"
    folder.mkdir()
    for k in range(10):
        a1111_png(folder / f"p{k}.png", prompt=f"picture {k}", seed=k, color=(20 * k, 80, 160))
    import_and_wait(qtbot, window, [folder])
    window.filters.size_slider.setValue(150)
    view = window.view
    assert view.columns >= 3 and window.model.rowCount() == 10
    return view


def _rows(view) -> list[int]:  # type: ignore[no-untyped-def]
    return sorted(i.row() for i in view.selectionModel().selectedIndexes())


def _center(view, row: int) -> QPoint:  # type: ignore[no-untyped-def]
    return view.visualRect(view.model().index(row, 0)).center()


def test_band_from_empty_space_selects_covered_tiles_and_is_drawn(qtbot, grid) -> None:
    view, vp = grid, grid.viewport()
    cols = view.columns
    start = QPoint(3, 3)  # the margin above the first tile
    assert not view.indexAt(start).isValid()
    end = _center(view, cols + 1)  # second row, second column
    qtbot.mousePress(vp, LEFT, pos=start)
    qtbot.mouseMove(vp, QPoint(end.x() // 2, end.y() // 2))
    qtbot.mouseMove(vp, end)
    band = view.band_rect()
    assert band.topLeft() == start and band.bottomRight() == end
    assert _rows(view) == [0, 1, cols, cols + 1]  # live, while dragging
    shot = vp.grab().toImage()
    highlight = view.palette().color(QPalette.ColorRole.Highlight)
    edge = shot.pixelColor(band.left(), band.center().y())
    assert abs(edge.red() - highlight.red()) < 40 and abs(edge.blue() - highlight.blue()) < 40
    qtbot.mouseRelease(vp, LEFT, pos=end)
    assert view.band_rect().isNull()
    assert _rows(view) == [0, 1, cols, cols + 1]
    assert view.currentIndex().row() == 0  # the details follow the band's first tile
    after = vp.grab().toImage().pixelColor(band.left(), band.center().y())  # in the margin: plain base again
    assert after == view.viewport().palette().color(QPalette.ColorRole.Base) and after != QColor(edge)


def test_band_over_a_gap_only_selects_nothing_and_click_in_gap_clears(qtbot, grid) -> None:
    view, vp = grid, grid.viewport()
    view.selectionModel().select(view.model().index(2, 0), view.selectionModel().SelectionFlag.Select)
    first = view.visualRect(view.model().index(0, 0))
    gap_x = first.right() - 2  # inside cell 0's right padding, between tiles 0 and 1
    assert not view.indexAt(QPoint(gap_x, first.center().y())).isValid()
    qtbot.mouseClick(vp, LEFT, pos=QPoint(gap_x, first.center().y()))
    assert _rows(view) == []
    qtbot.mousePress(vp, LEFT, pos=QPoint(gap_x, 2))
    qtbot.mouseMove(vp, QPoint(gap_x + 1, first.bottom()))
    assert _rows(view) == []  # a band inside the gap touches no tile
    qtbot.mouseRelease(vp, LEFT, pos=QPoint(gap_x + 1, first.bottom()))


def test_ctrl_band_adds_to_the_selection(qtbot, grid) -> None:
    view, vp = grid, grid.viewport()
    last = view.model().rowCount() - 1
    qtbot.mouseClick(vp, LEFT, pos=_center(view, last))
    assert _rows(view) == [last]
    end = _center(view, 1)
    qtbot.mousePress(vp, LEFT, CTRL, pos=QPoint(3, 3))
    qtbot.mouseMove(vp, end)
    qtbot.mouseRelease(vp, LEFT, CTRL, pos=end)
    assert _rows(view) == [0, 1, last]
    # without Ctrl a new band replaces the selection
    qtbot.mousePress(vp, LEFT, pos=QPoint(3, 3))
    qtbot.mouseMove(vp, _center(view, 0))
    qtbot.mouseRelease(vp, LEFT, pos=_center(view, 0))
    assert _rows(view) == [0]


def test_band_grows_upwards_and_from_below_the_last_row(qtbot, grid) -> None:
    view, vp = grid, grid.viewport()
    count = view.model().rowCount()
    last_rect = view.visualRect(view.model().index(count - 1, 0))
    below = QPoint(vp.width() - 5, last_rect.bottom() + 20)
    assert not view.indexAt(below).isValid()
    target = _center(view, count - 2)
    qtbot.mousePress(vp, LEFT, pos=below)
    qtbot.mouseMove(vp, target)
    qtbot.mouseRelease(vp, LEFT, pos=target)
    cols = view.columns
    row0, col0 = divmod(count - 2, cols)  # the band spans from that tile's row and column to the far corner
    assert _rows(view) == [r for r in range(count) if r // cols >= row0 and r % cols >= col0]
