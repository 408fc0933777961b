"""The library window through its real widgets: import, thumbnails, details, search, keyboard, trash."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from desktop.ui.actions import SPECS, ShortcutsDialog
from tests.desktop.ui.conftest import (A1111_PROMPT, A1111_SEED, COMFY_PROMPT, COMFY_SEED, import_and_wait)


def _select_prompt(qtbot, win, prompt: str) -> int:  # type: ignore[no-untyped-def]
    ids = win.model.ids
    rows = win.library.rows(ids)
    image_id = next(i for i in ids if rows[i].prompt == prompt)
    win.view.setFocus()
    win.view.setCurrentIndex(win.model.index_of(image_id))
    return image_id


def test_opens_with_an_empty_library(window, closed) -> None:
    assert window.windowTitle() == "AI Images Studio"
    assert window.model.rowCount() == 0
    assert window.view.empty_title == "Your library is empty"
    assert "Import" in window.view.empty_hint
    assert window.count_label.text() == "0 images"
    assert not window.generate.params.isEnabled() and not window.generate.generate.isEnabled()
    assert window.generate.notice.text() == "Generation arrives with providers"
    window.close()
    assert closed == [True]


def test_import_folder_shows_thumbnails_and_details(qtbot, window, sample_folder) -> None:
    report = import_and_wait(qtbot, window, [sample_folder])
    assert len(report.imported) == 3 and not report.skipped
    assert window.model.rowCount() == 3
    px = window.model.thumb_px
    qtbot.waitUntil(lambda: all(window.loader.has_exact(i, px) for i in window.model.ids), timeout=3000)
    pixmap = window.loader.pixmap(window.model.ids[0], px)
    assert pixmap is not None and not pixmap.isNull()
    assert window.count_label.text() == "3 images"

    _select_prompt(qtbot, window, A1111_PROMPT)
    assert window.detail.values["prompt"].text() == A1111_PROMPT
    assert window.detail.values["seed"].text() == str(A1111_SEED)
    assert window.detail.values["negative_prompt"].text() == "blurry, lowres"
    qtbot.waitUntil(lambda: not window.detail.preview.source().isNull(), timeout=3000)

    _select_prompt(qtbot, window, COMFY_PROMPT)
    assert window.detail.values["seed"].text() == str(COMFY_SEED)
    window.detail.copy_seed.click()
    from PySide6.QtGui import QGuiApplication
    assert QGuiApplication.clipboard().text() == str(COMFY_SEED)


def test_search_box_filters_the_grid(qtbot, window, sample_folder) -> None:
    import_and_wait(qtbot, window, [sample_folder])
    window.actions["find"].trigger()
    assert window.filters.search.hasFocus() or window.focusWidget() is window.filters.search
    qtbot.keyClicks(window.filters.search, "robot")
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=2000)
    assert window.library.get(window.model.ids[0]).prompt == COMFY_PROMPT
    window.filters.search.clear()
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=2000)
    qtbot.keyClicks(window.filters.search, "nothing-like-this")
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=2000)
    assert window.view.empty_title == "No matching images"


def test_keyboard_favorite_rate_reject(qtbot, window, sample_folder) -> None:
    import_and_wait(qtbot, window, [sample_folder])
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    image_id = _select_prompt(qtbot, window, A1111_PROMPT)
    qtbot.waitUntil(window.view.hasFocus)
    qtbot.keyClick(window.view, Qt.Key.Key_F)
    assert window.library.get(image_id).favorite
    qtbot.keyClick(window.view, Qt.Key.Key_Period)
    assert not window.library.get(image_id).favorite
    qtbot.keyClick(window.view, Qt.Key.Key_4)
    assert window.library.get(image_id).rating == 4
    assert window.detail.row is not None and window.detail.row.rating == 4
    qtbot.keyClick(window.view, Qt.Key.Key_0)
    assert window.library.get(image_id).rating == 0
    qtbot.keyClick(window.view, Qt.Key.Key_X)
    assert window.library.get(image_id).rejected
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not window.library.get(image_id).rejected
    # typing in the search box never rates or favourites
    window.filters.search.setFocus()
    qtbot.keyClicks(window.filters.search, "f5x")
    assert window.library.get(image_id).rating == 0 and not window.library.get(image_id).favorite


def test_favorites_filter_updates_when_unfavorited(qtbot, window, sample_folder) -> None:
    import_and_wait(qtbot, window, [sample_folder])
    image_id = _select_prompt(qtbot, window, A1111_PROMPT)
    window.actions["favorite"].trigger()
    window.filters.favorites.setChecked(True)
    qtbot.waitUntil(lambda: window.model.ids == [image_id], timeout=2000)
    window.view.setCurrentIndex(window.model.index(0, 0))
    window.actions["favorite"].trigger()
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=2000)


def test_trash_undo_and_empty_trash(qtbot, window, sample_folder) -> None:
    import_and_wait(qtbot, window, [sample_folder])
    image_id = _select_prompt(qtbot, window, A1111_PROMPT)
    window.actions["trash"].trigger()
    assert image_id not in window.model.ids and window.model.rowCount() == 2
    window.actions["undo"].trigger()
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=2000)
    assert image_id in window.model.ids

    window.view.setCurrentIndex(window.model.index_of(image_id))
    window.actions["trash"].trigger()
    window.actions["show_trash"].trigger()
    assert window.collections.scope().kind == "trash"
    qtbot.waitUntil(lambda: window.model.ids == [image_id], timeout=2000)

    window.actions["empty_trash"].trigger()
    box = _wait_dialog(qtbot, window, "confirmDialog")
    ok = next(b for b in box.buttons() if b.text() == "Delete permanently")
    ok.click()
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=2000)
    assert window.library.get(image_id) is None
    assert window.view.empty_title == "Trash is empty"


def test_empty_trash_cancel_keeps_images(qtbot, window, sample_folder) -> None:
    import_and_wait(qtbot, window, [sample_folder])
    _select_prompt(qtbot, window, A1111_PROMPT)
    window.actions["trash"].trigger()
    window.actions["empty_trash"].trigger()
    box = _wait_dialog(qtbot, window, "confirmDialog")
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: box.isHidden())
    from storage.records import ImageQuery
    assert len(window.library.ids(ImageQuery(trashed=True))) == 1


def test_shortcuts_dialog_lists_every_shortcut(qtbot, window) -> None:
    window.actions["shortcuts"].trigger()
    dialog = _wait_dialog(qtbot, window, "shortcutsDialog")
    assert isinstance(dialog, ShortcutsDialog)
    listed = set()
    for i in range(dialog.tree.topLevelItemCount()):
        group = dialog.tree.topLevelItem(i)
        listed |= {group.child(j).text(0) for j in range(group.childCount())}
    assert listed == {s.text for s in SPECS if s.shortcuts}
    dialog.reject()


def test_quit_action_calls_on_close(window, closed) -> None:
    window.actions["quit"].trigger()
    assert closed == [True] and not window.isVisible()


def _wait_dialog(qtbot, window, name: str):  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QDialog

    found: list[QDialog] = []

    def visible() -> bool:
        found[:] = [d for d in window.findChildren(QDialog, name) if d.isVisible()]
        return bool(found)

    qtbot.waitUntil(visible, timeout=2000)
    return found[0]
