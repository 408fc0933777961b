"""Grid keyboard navigation (Home/End/Page Up/Page Down) and the full-size viewer opened with Enter."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

import desktop.ui.viewer as viewer_module
from desktop.ui.actions import shortcut_rows
from desktop.ui.viewer import ImageViewer
from tests.desktop.ui.conftest import a1111_png, import_and_wait

N = 20


@pytest.fixture
def grid(qtbot, window, tmp_path: Path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "many"
    folder.mkdir()
    for k in range(N):
        size = (1600, 800) if k == 5 else (96, 64)
        a1111_png(folder / f"p{k:02d}.png", prompt=f"picture {k}", seed=k, color=(10 * k, 80, 160), size=size)
    import_and_wait(qtbot, window, [folder])
    window.filters.size_slider.setValue(150)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.view.setFocus()
    window.view.setCurrentIndex(window.model.index(0, 0))
    qtbot.waitUntil(window.view.hasFocus)
    return window


def _key(qtbot, win, key: Qt.Key, mods: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> int:  # type: ignore[no-untyped-def]
    qtbot.keyClick(win.view, key, mods)
    return win.view.currentIndex().row()


def test_home_end_page_keys_move_and_scroll(qtbot, grid) -> None:
    view = grid.view
    per_page = max(1, view.viewport().height() // view.cell.height()) * view.columns
    assert per_page < N - 1
    assert _key(qtbot, grid, Qt.Key.Key_PageDown) == per_page  # same column, one screen down
    row = per_page
    while row < N - 1:  # however many screens the window's layout gives, then clamped at the end
        row = min(N - 1, row + per_page)
        assert _key(qtbot, grid, Qt.Key.Key_PageDown) == row
    assert _key(qtbot, grid, Qt.Key.Key_PageDown) == N - 1
    assert _key(qtbot, grid, Qt.Key.Key_PageUp) == N - 1 - per_page
    assert _key(qtbot, grid, Qt.Key.Key_Home) == 0
    assert view.verticalScrollBar().value() == 0
    assert _key(qtbot, grid, Qt.Key.Key_End) == N - 1
    assert view.viewport().rect().contains(view.visualRect(grid.model.index(N - 1, 0)))  # scrolled into view
    _key(qtbot, grid, Qt.Key.Key_Home, Qt.KeyboardModifier.ShiftModifier)
    assert len(view.selectionModel().selectedIndexes()) == N  # Shift extends the selection


def test_enter_opens_viewer_and_arrows_follow_gallery_order(qtbot, grid, monkeypatch) -> None:
    threads: list[int] = []
    real = viewer_module.decode_scaled

    def spy(path: str, px: int):  # type: ignore[no-untyped-def]
        threads.append(threading.get_ident())
        return real(path, px)

    monkeypatch.setattr(viewer_module, "decode_scaled", spy)
    ids = grid.model.ids
    grid.view.setCurrentIndex(grid.model.index(4, 0))
    qtbot.keyClick(grid.view, Qt.Key.Key_Return)
    viewer = grid.findChild(ImageViewer, "imageViewer")
    assert viewer is not None
    qtbot.waitExposed(viewer)
    assert viewer.isVisible() and not viewer.isModal() and viewer.windowModality() == Qt.WindowModality.NonModal
    qtbot.waitUntil(lambda: viewer.loaded_id == ids[4], timeout=3000)
    assert threads and threading.main_thread().ident not in threads  # decoded off the GUI thread
    assert viewer.canvas.pixmap.width() == 96  # a small image is shown at its own size, not blown up
    assert viewer.caption.text().startswith(f"5 / {N}")

    viewer.activateWindow()
    qtbot.waitUntil(viewer.isActiveWindow)
    qtbot.keyClick(viewer, Qt.Key.Key_Right)
    assert viewer.image_id == ids[5] and grid.view.currentIndex().row() == 5  # the grid follows
    rows = grid.library.rows(ids)
    big = next(i for i in ids if rows[i].width == 1600)
    viewer.go_to_row(grid.model.row_of(big))
    qtbot.waitUntil(lambda: viewer.loaded_id == big, timeout=3000)
    rect = viewer.canvas.image_rect()  # the 1600×800 image is fitted to the window, aspect kept
    assert rect.width() <= viewer.canvas.width() - 24 + 0.5 and rect.height() <= viewer.canvas.height()
    assert abs(rect.width() / rect.height() - 2.0) < 0.02

    viewer.go_to_row(5)
    qtbot.keyClick(viewer, Qt.Key.Key_Left)
    qtbot.keyClick(viewer, Qt.Key.Key_Left)
    assert viewer.image_id == ids[3]
    qtbot.keyClick(viewer, Qt.Key.Key_Home)
    qtbot.keyClick(viewer, Qt.Key.Key_Left)  # nothing before the first image
    assert viewer.image_id == ids[0]
    qtbot.keyClick(viewer, Qt.Key.Key_End)
    qtbot.keyClick(viewer, Qt.Key.Key_Right)
    assert viewer.image_id == ids[-1]
    qtbot.waitUntil(lambda: viewer.loaded_id == ids[-1], timeout=3000)  # stale decodes were skipped
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not viewer.isVisible(), timeout=1000)
    assert grid.view.currentIndex().row() == N - 1


def test_double_click_opens_the_viewer_too(qtbot, grid) -> None:
    view = grid.view
    center = view.visualRect(grid.model.index(2, 0)).center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=center)  # a real double click starts
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=center)  # with a click; QTest sends none
    qtbot.waitUntil(lambda: grid.viewer is not None and grid.viewer.isVisible(), timeout=1000)
    viewer = grid.viewer
    assert viewer.image_id == grid.model.ids[2]
    viewer.close()


def test_viewer_keys_are_listed_in_the_shortcuts_table() -> None:
    viewer_rows = {text: keys for group, text, keys in shortcut_rows() if group == "Image viewer"}
    assert set(viewer_rows) == {"Previous image", "Next image", "First image", "Last image", "Close viewer"}
    assert any(text == "View full size" for _, text, _ in shortcut_rows())


def test_shift_arrow_selects_every_image_between_in_gallery_order(qtbot, grid) -> None:
    view = grid.view
    cols = view.columns
    assert cols >= 2
    view.setCurrentIndex(grid.model.index(cols - 1, 0))  # the last tile of the first row
    assert _key(qtbot, grid, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier) == 2 * cols - 1
    rows = sorted(i.row() for i in view.selectionModel().selectedIndexes())
    assert rows == list(range(cols - 1, 2 * cols))  # a range, not the two tiles of a one-column rectangle
