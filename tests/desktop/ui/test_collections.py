"""Collections through the sidebar and the gallery: create/rename/delete, add by menu and drop, reorder,
cover, export to a folder and a zip."""

from __future__ import annotations

import zipfile
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox

from desktop.ui.collections_panel import validate_name
from desktop.ui.gallery_menu import build_gallery_menu
from desktop.ui.gallery_model import encode_ids
from tests.desktop.ui.conftest import import_and_wait
from tests.desktop.ui.test_window import _wait_dialog


def _create(qtbot, win, name: str) -> int:  # type: ignore[no-untyped-def]
    win.actions["new_collection"].trigger()
    panel = win.collections
    assert panel.name_edit.isVisible()
    panel.name_edit.setText(name)
    qtbot.keyClick(panel.name_edit, Qt.Key.Key_Return)
    row = next(r for r in panel.rows if r.name == name)
    return row.id


def test_create_validates_renames_and_deletes(qtbot, window) -> None:
    panel = window.collections
    cid = _create(qtbot, window, "Keepers")
    assert panel.scope().kind == "collection" and panel.scope().name == "Keepers"
    assert not panel.name_edit.isVisible()

    panel.begin_create()
    panel.name_edit.setText("keepers")
    assert panel.name_error.isVisible() and "already exists" in panel.name_error.text()
    assert not panel.commit_name()
    panel.name_edit.setText("   ")
    assert not panel.commit_name()
    qtbot.keyClick(panel.name_edit, Qt.Key.Key_Escape)
    assert not panel.name_edit.isVisible()

    panel.select_scope("collection", cid)
    window.actions["rename_collection"].trigger()
    assert panel.name_edit.text() == "Keepers"
    panel.name_edit.setText("Best of")
    assert panel.commit_name()
    assert [r.name for r in window.library.collections()] == ["Best of"]
    assert panel.list.item(0).text().startswith("Best of")

    window.spawn(panel.delete_current())
    box = _wait_dialog(qtbot, window, "confirmDialog")
    next(b for b in box.buttons() if b.text() == "Delete").click()
    qtbot.waitUntil(lambda: window.library.collections() == [], timeout=2000)
    qtbot.waitUntil(lambda: panel.list.count() == 0)
    assert panel.scope().kind == "all"


def test_validate_name() -> None:
    assert validate_name("New", ["Old"]) == ""
    assert "exists" in validate_name("OLD", ["Old"])
    assert validate_name("Old", ["Old"], current="Old") == ""
    assert validate_name("", []) == "Enter a name."
    assert "80" in validate_name("x" * 81, [])


def test_add_by_context_menu_and_by_drop(qtbot, window, sample_folder) -> None:
    import_and_wait(qtbot, window, [sample_folder])
    cid = _create(qtbot, window, "Picks")
    window.collections.select_scope("all")
    ids = window.model.ids
    window.view.setCurrentIndex(window.model.index(0, 0))

    menu = build_gallery_menu(window)
    add_menu = next(a.menu() for a in menu.actions() if a.menu() and a.menu().objectName() == "addToCollectionMenu")
    add_action = next(a for a in add_menu.actions() if a.objectName() == f"addTo_{cid}")
    add_action.trigger()
    assert window.library.ids(window.current_query().__class__(collection="Picks")) == [ids[0]]
    qtbot.waitUntil(lambda: window.collections.rows[0].count == 1)

    item = window.collections.list.item(0)
    assert window.collections.list.handle_drop(encode_ids(ids[1:]), item)
    members = set(window.library.ids(window.current_query().__class__(collection="Picks")))
    assert members == set(ids)
    assert window.collections.list.item(0).text().endswith("3")

    # undo removes the last addition
    window.actions["undo"].trigger()
    members = set(window.library.ids(window.current_query().__class__(collection="Picks")))
    assert members == {ids[0]}


def test_reorder_remove_and_cover(qtbot, window, sample_folder) -> None:
    import_and_wait(qtbot, window, [sample_folder])
    cid = _create(qtbot, window, "Story")
    window.collections.add_images(cid, list(reversed(window.library.ids(window.model.query.__class__()))))
    window.collections.select_scope("collection", cid)
    qtbot.waitUntil(lambda: window.model.rowCount() == 3)
    assert window.model.query.sort == "collection" and window.view.reorder_enabled
    first, second, third = window.model.ids

    window.view.setCurrentIndex(window.model.index(2, 0))  # select the last one and move it earlier
    window.actions["move_earlier"].trigger()
    assert window.model.ids == [first, third, second]
    assert window.view.selected_ids() == [third]

    window.view.reorderRequested.emit([first], 3)  # what a drop past the last tile emits
    assert window.model.ids == [third, second, first]
    window.actions["undo"].trigger()
    qtbot.waitUntil(lambda: window.model.ids == [first, third, second])

    window.view.clearSelection()
    window.view.setCurrentIndex(window.model.index_of(second))
    menu = build_gallery_menu(window)
    next(a for a in menu.actions() if a.objectName() == "useAsCover").trigger()
    assert window.library.collections()[0].cover_image_id == second

    window.view.setCurrentIndex(window.model.index_of(third))
    window.actions["remove_from_collection"].trigger()
    qtbot.waitUntil(lambda: window.model.ids == [first, second])
    assert window.library.get(third) is not None  # still in the library


def test_drop_position_in_the_grid(qtbot, window, sample_folder) -> None:
    import_and_wait(qtbot, window, [sample_folder])
    view = window.view
    rect = view.visualRect(window.model.index(1, 0))
    assert view.drop_row_at(rect.center() - QPoint(5, 0)) == 1
    assert view.drop_row_at(rect.center() + QPoint(5, 0)) == 2


def test_export_to_folder_and_zip(qtbot, window, sample_folder, tmp_path: Path) -> None:
    import_and_wait(qtbot, window, [sample_folder])
    cid = _create(qtbot, window, "Export me")
    window.collections.add_images(cid, window.library.ids(window.model.query.__class__()))

    folder = tmp_path / "out"
    task = window.runner.spawn(window.collections.export_to(cid, folder))
    box = _wait_dialog(qtbot, window, "infoDialog")
    assert "Export me" in box.text()
    box.button(QMessageBox.StandardButton.Ok).click()
    qtbot.waitUntil(task.done, timeout=3000)
    assert len([p for p in folder.rglob("*") if p.is_file() and p.suffix == ".png"]) == 3

    archive = tmp_path / "out.zip"
    task = window.runner.spawn(window.collections.export_to(cid, archive))
    box = _wait_dialog(qtbot, window, "infoDialog")
    box.button(QMessageBox.StandardButton.Ok).click()
    qtbot.waitUntil(task.done, timeout=3000)
    with zipfile.ZipFile(archive) as zf:
        assert len([n for n in zf.namelist() if n.endswith(".png")]) == 3
