"""The gallery's context menu, built from the window's actions so the shortcuts shown are the real ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMenu

from desktop.ui.icons import icon

if TYPE_CHECKING:
    from desktop.ui.main_window import MainWindow


def build_gallery_menu(window: MainWindow) -> QMenu:
    menu = QMenu(window.view)
    menu.setObjectName("galleryMenu")
    a = window.actions
    ids = window.target_ids()
    scope = window.collections.scope()
    if not ids:
        menu.addAction(a["import_files"])
        menu.addAction(a["import_folder"])
        return menu

    menu.addAction(a["favorite"])
    rate = menu.addMenu("Rate")
    rate.setObjectName("rateMenu")
    for n in range(1, 6):
        rate.addAction(a[f"rate_{n}"])
    rate.addAction(a["rate_0"])
    menu.addAction(a["reject"])
    menu.addSeparator()

    add = menu.addMenu(icon("collection"), "Add to collection")
    add.setObjectName("addToCollectionMenu")
    for row in window.collections.rows:
        action = add.addAction(f"{row.name}")
        action.setObjectName(f"addTo_{row.id}")
        action.triggered.connect(lambda _=False, cid=row.id: window.add_to_collection(cid))
    if window.collections.rows:
        add.addSeparator()
    add.addAction(icon("plus"), "New collection…", window.new_collection)
    if scope.kind == "collection":
        menu.addAction(a["remove_from_collection"])
        cover = menu.addAction("Use as collection cover")
        cover.setObjectName("useAsCover")
        cover.triggered.connect(lambda: window.collections.set_cover(scope.collection_id, ids[0]))
        if window.view.reorder_enabled:
            menu.addAction(a["move_earlier"])
            menu.addAction(a["move_later"])
    menu.addSeparator()
    row = window.vm.get(ids[0]) if len(ids) == 1 else None
    if row is not None:
        menu.addAction(icon("copy"), "Copy prompt", lambda: QGuiApplication.clipboard().setText(row.prompt))
        if row.seed is not None:
            menu.addAction("Copy seed", lambda: QGuiApplication.clipboard().setText(str(row.seed)))
        for hook in getattr(window, "gallery_menu_hooks", ()):  # e.g. "Reuse parameters" (desktop.ui.generate)
            hook(menu, ids)
        menu.addSeparator()
    if scope.kind == "trash":
        menu.addAction(a["restore"])
        menu.addAction(a["empty_trash"])
    else:
        menu.addAction(a["trash"])
    return menu
