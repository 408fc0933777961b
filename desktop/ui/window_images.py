"""The window's image commands: flags, trash, empty trash (split from main_window to keep modules small)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop.ui.dialogs import confirm
from desktop.ui.viewer import ImageViewer

if TYPE_CHECKING:
    from desktop.ui.main_window import MainWindow


class ImageCommandsMixin:
    viewer: ImageViewer | None = None

    def open_viewer(self: MainWindow) -> None:
        """Enter or double-click: the current image full size, in a non-modal window reused for every image."""
        image_id = self.view.current_id()
        if image_id < 0:
            return
        if self.viewer is None:
            self.viewer = ImageViewer(self, self.model, self.runner, self.report_error)
            self.viewer.imageShown.connect(self._viewer_moved)
        self.viewer.show_image(image_id)
        self.viewer.show()
        self.viewer.raise_()
        self.viewer.activateWindow()

    def _viewer_moved(self: MainWindow, image_id: int) -> None:
        index = self.model.index_of(image_id)
        if index.isValid() and index != self.view.currentIndex():
            self.view.setCurrentIndex(index)  # the grid follows, so closing the viewer leaves you there

    def toggle_favorite(self: MainWindow) -> None:
        self._on_ids(self.vm.toggle_favorite)

    def rate(self: MainWindow, rating: int) -> None:
        self._on_ids(lambda ids: self.vm.rate(ids, rating))

    def toggle_reject(self: MainWindow) -> None:
        self._on_ids(self.vm.toggle_reject)

    def trash(self: MainWindow) -> None:
        if self.collections.scope().kind == "trash":
            return
        ids = self.target_ids()
        if ids:
            next_row = min(self.model.row_of(i) for i in ids)
            self.vm.trash(ids)
            self.statusBar().showMessage(f"Moved {len(ids)} to trash — Ctrl+Z to undo", 8000)
            self.resync()
            self._select_row(next_row)

    def restore(self: MainWindow) -> None:
        n = self.vm.restore(self.target_ids())
        if n:
            self.statusBar().showMessage(f"Restored {n} image(s)", 5000)

    def undo(self: MainWindow) -> None:
        label = self.vm.undo()
        if label:
            self.statusBar().showMessage(f"Undid: {label}", 5000)

    async def empty_trash(self: MainWindow) -> int:
        count = self.vm.trashed_count()
        if not count:
            self.statusBar().showMessage("Trash is already empty", 5000)
            return 0
        ok = await confirm(self, "Empty trash", f"Permanently delete {count} image(s) in the trash?",
                           "Delete permanently", detail="Their files are removed. This cannot be undone.")
        if not ok:
            return 0
        action = self.actions["empty_trash"]
        action.setEnabled(False)  # one run at a time; the rows are already gone after the first await

        def progress(done: int, total: int) -> None:
            self.statusBar().showMessage(f"Emptying trash… deleted {done:,} of {total:,} files")

        try:
            removed = await self.vm.empty_trash(progress)  # also drops undo entries that point at them
        finally:
            action.setEnabled(True)
        self.statusBar().showMessage(f"Deleted {removed:,} image(s) permanently", 8000)
        return removed

    def _toggle_trash(self: MainWindow) -> None:
        self.collections.select_scope("all" if self.collections.scope().kind == "trash" else "trash")

    def _select_row(self: MainWindow, row: int) -> None:
        count = self.model.rowCount()
        if count:
            index = self.model.index(max(0, min(count - 1, row)), 0)
            self.view.setCurrentIndex(index)
