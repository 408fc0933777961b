"""The window's collection commands (split from main_window to keep modules small)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel
from PySide6.QtWidgets import QMessageBox

from desktop.asyncqt import run_dialog

if TYPE_CHECKING:
    from desktop.ui.main_window import MainWindow


class CollectionCommandsMixin:
    # -- collections -------------------------------------------------------------------------------------
    def new_collection(self: MainWindow) -> None:
        self.collections_dock.show()
        self.collections.begin_create()

    def rename_collection(self: MainWindow) -> None:
        self.collections.begin_rename()

    def add_to_collection(self: MainWindow, collection_id: int) -> None:
        self.add_ids_to_collection(collection_id, self.target_ids())

    def add_ids_to_collection(self: MainWindow, collection_id: int, ids: list[int]) -> None:
        if ids:
            self.vm.add_to_collection(collection_id, ids)
            row = self.collections.collection_by_id(collection_id)
            self.statusBar().showMessage(f"Added {len(ids)} to “{row.name if row else collection_id}”", 5000)

    def remove_from_collection(self: MainWindow) -> None:
        scope = self.collections.scope()
        if scope.kind == "collection":
            self._on_ids(lambda ids: self.vm.remove_from_collection(scope.collection_id, ids,
                                                                          list(self.model.ids)))

    def reorder(self: MainWindow, moved: list[int], target: int) -> None:
        scope = self.collections.scope()
        if scope.kind != "collection" or not self.view.reorder_enabled:
            return
        self.vm.reorder(scope.collection_id, list(self.model.ids), moved, target)
        self.model.refresh(sync=True)
        self._reselect(moved)

    def _reselect(self: MainWindow, ids: list[int]) -> None:
        selection = self.view.selectionModel()
        selection.clearSelection()
        if ids:
            self.view.setCurrentIndex(self.model.index_of(ids[0]))
        for image_id in ids:
            selection.select(self.model.index_of(image_id), QItemSelectionModel.SelectionFlag.Select)

    def move_selection(self: MainWindow, step: int) -> None:
        ids = self.view.selected_ids()
        if not ids:
            return
        rows = sorted(self.model.row_of(i) for i in ids)
        target = rows[0] - 1 if step < 0 else rows[-1] + 2
        self.reorder(ids, max(0, min(self.model.rowCount(), target)))

    async def ask_export(self: MainWindow) -> Path | None:
        scope = self.collections.scope()
        if scope.kind != "collection":
            self.statusBar().showMessage("Select a collection to export", 5000)
            return None
        box = QMessageBox(QMessageBox.Icon.Question, "Export collection", f"Export “{scope.name}” as…",
                          QMessageBox.StandardButton.Cancel, self)
        folder = box.addButton("Folder…", QMessageBox.ButtonRole.AcceptRole)
        zipped = box.addButton(".zip archive…", QMessageBox.ButtonRole.AcceptRole)
        await run_dialog(box)
        if box.clickedButton() not in (folder, zipped):
            return None
        return await self.collections.export(scope.collection_id, as_zip=box.clickedButton() is zipped)

