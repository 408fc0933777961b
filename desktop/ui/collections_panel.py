"""The left sidebar: library scopes (All, Favorites, Trash) and the collections, with counts and covers.

Dropping gallery tiles on a collection adds them; the context menu renames, sets the cover, exports and
deletes. Names are validated inline (empty, too long, already used) before anything reaches storage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QIcon, QKeyEvent
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QMenu, QToolButton, QVBoxLayout, QWidget)

from desktop.asyncqt import TaskRunner
from desktop.ui.dialogs import confirm, inform, pick_paths
from desktop.ui.gallery_model import decode_ids
from desktop.ui.icons import icon
from desktop.ui.thumbnail_loader import ThumbnailLoader, ThumbRequest
from desktop.viewmodels.library import LibraryViewModel
from desktop.viewmodels.records import CollectionRow

MAX_NAME = 80
ICON = 28
CID_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class Scope:
    kind: str = "all"  # "all" | "favorites" | "trash" | "collection"
    collection_id: int = 0
    name: str = ""


def validate_name(name: str, existing: list[str], current: str = "") -> str:
    """'' when the name is fine, else the message to show under the field."""
    name = name.strip()
    if not name:
        return "Enter a name."
    if len(name) > MAX_NAME:
        return f"Use at most {MAX_NAME} characters."
    taken = {n.casefold() for n in existing if n.casefold() != current.casefold()}
    if name.casefold() in taken:
        return f"“{name}” already exists."
    return ""


class CollectionList(QListWidget):
    """Accepts gallery tiles dropped onto a collection."""

    idsDropped = Signal(int, list)  # collection id, image ids

    def __init__(self) -> None:
        super().__init__()
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)

    def _target(self, pos: QPoint, mime: QMimeData) -> QListWidgetItem | None:
        item = self.itemAt(pos)
        return item if item is not None and decode_ids(mime) else None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if decode_ids(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        item = self._target(event.position().toPoint(), event.mimeData())
        if item is None:
            event.ignore()
            return
        self.setCurrentItem(item, Qt.ItemSelectionModifier.NoUpdate)  # type: ignore[attr-defined]
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:
        item = self._target(event.position().toPoint(), event.mimeData())
        if item is None or not self.handle_drop(event.mimeData(), item):
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()

    def handle_drop(self, mime: QMimeData, item: QListWidgetItem) -> bool:
        ids = decode_ids(mime)
        if not ids:
            return False
        self.idsDropped.emit(int(item.data(CID_ROLE)), ids)
        return True


class CollectionsPanel(QWidget):
    scopeChanged = Signal(object)  # Scope
    message = Signal(str)

    vm: LibraryViewModel  # set by bind()

    def __init__(self, loader: ThumbnailLoader, runner: TaskRunner,
                 selected_ids: Callable[[], list[int]], on_error: Callable[[BaseException], None],
                 add_images: Callable[[int, list[int]], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.runner = runner
        self.selected_ids = selected_ids
        self.on_error = on_error
        self._add_images = add_images  # the window's undoable command
        self.rows: list[CollectionRow] = []
        self._renaming: CollectionRow | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 10)
        layout.setSpacing(6)

        self.sources = QListWidget()
        self.sources.setObjectName("sidebar")
        self.sources.setIconSize(QSize(18, 18))
        for kind, text, icon_name in (("all", "All images", "images"), ("favorites", "Favorites", "star"),
                                      ("trash", "Trash", "trash")):
            item = QListWidgetItem(icon(icon_name), text)
            item.setData(CID_ROLE, kind)
            self.sources.addItem(item)
        self.sources.setFixedHeight(3 * 34 + 6)
        self.sources.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.sources.currentItemChanged.connect(self._source_chosen)
        layout.addWidget(self.sources)

        header = QHBoxLayout()
        header.setContentsMargins(0, 10, 0, 0)
        header.addWidget(self._section("COLLECTIONS"))
        header.addStretch(1)
        self.add_button = QToolButton()
        self.add_button.setIcon(icon("plus"))
        self.add_button.setAutoRaise(True)
        self.add_button.setToolTip("New collection (Ctrl+N)")
        self.add_button.clicked.connect(self.begin_create)
        header.addWidget(self.add_button)
        layout.addLayout(header)

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Collection name")
        self.name_edit.setClearButtonEnabled(True)
        self.name_edit.textChanged.connect(self._validate)
        self.name_edit.returnPressed.connect(self.commit_name)
        self.name_edit.installEventFilter(self)
        self.name_error = QLabel()
        self.name_error.setStyleSheet("color: palette(link);")
        self.name_error.setWordWrap(True)
        layout.addWidget(self.name_edit)
        layout.addWidget(self.name_error)
        self.name_edit.hide()
        self.name_error.hide()

        self.list = CollectionList()
        self.list.setObjectName("sidebar")
        self.list.setIconSize(QSize(ICON, ICON))
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.currentItemChanged.connect(self._collection_chosen)
        self.list.itemDoubleClicked.connect(lambda _item: self.begin_rename())
        self.list.idsDropped.connect(self.add_images)
        layout.addWidget(self.list, 1)
        self.empty_hint = QLabel("Create a collection with +, then drag images onto it.")
        self.empty_hint.setObjectName("hint")
        self.empty_hint.setWordWrap(True)
        layout.addWidget(self.empty_hint)
        loader.ready.connect(self._cover_ready)
        self.sources.setCurrentRow(0)

    def bind(self, vm: LibraryViewModel) -> None:
        """All of the sidebar's wiring to the library (call once, before the first reload)."""
        self.vm = vm
        vm.collectionsChanged.connect(self.reload)
        vm.libraryReset.connect(self.reload)  # emptying the trash changes the counts and covers

    @staticmethod
    def _section(text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("sectionTitle")
        return label

    # -- state -----------------------------------------------------------------------------------------
    def reload(self) -> None:
        current = self.current_collection()
        self.rows = self.vm.collections()
        self.list.blockSignals(True)
        self.list.clear()
        px = int(ICON * 2 * self.devicePixelRatioF())
        wanted = []
        for row in self.rows:
            item = QListWidgetItem(self._cover_icon(row, px), f"{row.name}")
            item.setData(CID_ROLE, row.id)
            item.setData(Qt.ItemDataRole.ToolTipRole, f"{row.name} — {row.count} images")
            item.setText(f"{row.name}   {row.count}")
            self.list.addItem(item)
            if current is not None and row.id == current.id:
                self.list.setCurrentItem(item)
            if row.cover_image_id is not None and row.cover_thumb_path:
                wanted.append(ThumbRequest(row.cover_image_id, row.cover_thumb_path, px))
        self.list.blockSignals(False)
        self.empty_hint.setVisible(not self.rows)
        self.loader.want("sidebar", wanted)
        if current is not None and self.collection_by_id(current.id) is None:
            self.sources.setCurrentRow(0)  # the shown collection was deleted

    def _cover_icon(self, row: CollectionRow, px: int) -> QIcon:
        if row.cover_image_id is not None:
            pm = self.loader.pixmap(row.cover_image_id, px)
            if pm is not None:
                return QIcon(pm)
        return icon("collection")

    def _cover_ready(self, image_id: int, px: int) -> None:
        for i, row in enumerate(self.rows):
            if row.cover_image_id == image_id and i < self.list.count():
                self.list.item(i).setIcon(self._cover_icon(row, px))

    def collection_by_id(self, collection_id: int) -> CollectionRow | None:
        return next((r for r in self.rows if r.id == collection_id), None)

    def current_collection(self) -> CollectionRow | None:
        item = self.list.currentItem()
        if item is None or not self.list.selectedItems():
            return None
        return self.collection_by_id(int(item.data(CID_ROLE)))

    def scope(self) -> Scope:
        row = self.current_collection()
        if row is not None:
            return Scope("collection", row.id, row.name)
        item = self.sources.currentItem()
        return Scope(str(item.data(CID_ROLE)) if item is not None else "all")

    def select_scope(self, kind: str, collection_id: int = 0) -> None:
        if kind == "collection":
            for i in range(self.list.count()):
                if int(self.list.item(i).data(CID_ROLE)) == collection_id:
                    self.list.setCurrentRow(i)
                    self.list.item(i).setSelected(True)
            return
        rows = {"all": 0, "favorites": 1, "trash": 2}
        self.sources.setCurrentRow(rows.get(kind, 0))
        self.sources.item(rows.get(kind, 0)).setSelected(True)

    def _source_chosen(self, current: QListWidgetItem | None, _prev: Any) -> None:
        if current is None:
            return
        self.list.blockSignals(True)
        self.list.clearSelection()
        self.list.setCurrentItem(None)  # type: ignore[arg-type]
        self.list.blockSignals(False)
        self.scopeChanged.emit(self.scope())

    def _collection_chosen(self, current: QListWidgetItem | None, _prev: Any) -> None:
        if current is None:
            return
        self.sources.blockSignals(True)
        self.sources.clearSelection()
        self.sources.setCurrentItem(None)  # type: ignore[arg-type]
        self.sources.blockSignals(False)
        current.setSelected(True)
        self.scopeChanged.emit(self.scope())

    # -- create / rename -------------------------------------------------------------------------------
    def begin_create(self) -> None:
        self._renaming = None
        self.name_edit.setText("")
        self.name_edit.setPlaceholderText("New collection name — Enter to create, Esc to cancel")
        self._open_editor()

    def begin_rename(self) -> None:
        row = self.current_collection()
        if row is None:
            return
        self._renaming = row
        self.name_edit.setText(row.name)
        self.name_edit.selectAll()
        self._open_editor()

    def _open_editor(self) -> None:
        self.name_edit.show()
        self.name_edit.setFocus()
        self._validate()

    def close_editor(self) -> None:
        self.name_edit.hide()
        self.name_error.hide()
        self._renaming = None

    def eventFilter(self, obj: Any, event: Any) -> bool:
        if obj is self.name_edit and isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Escape:
            self.close_editor()
            return True
        return super().eventFilter(obj, event)

    def _validate(self) -> str:
        current = self._renaming.name if self._renaming is not None else ""
        error = validate_name(self.name_edit.text(), [r.name for r in self.rows], current)
        typed = bool(self.name_edit.text())
        self.name_error.setText(error if typed else "")
        self.name_error.setVisible(bool(error) and typed)
        return error

    def commit_name(self) -> bool:
        if self._validate():
            return False
        name = self.name_edit.text().strip()
        try:
            if self._renaming is not None:
                if name != self._renaming.name:
                    self.vm.rename_collection(self._renaming.id, name)
            else:
                new_id = self.vm.create_collection(name)
                self.reload()
                self.select_scope("collection", new_id)
        except Exception as exc:  # storage refuses (e.g. a race on the name): show it where the user typed
            self.name_error.setText(str(exc))
            self.name_error.show()
            return False
        self.close_editor()
        return True

    # -- commands --------------------------------------------------------------------------------------
    def add_images(self, collection_id: int, image_ids: list[int]) -> None:
        self._add_images(collection_id, image_ids)

    def set_cover(self, collection_id: int, image_id: int) -> None:
        self.vm.set_cover(collection_id, image_id)

    async def delete_current(self) -> bool:
        row = self.current_collection()
        if row is None:
            return False
        ok = await confirm(self, "Delete collection", f"Delete the collection “{row.name}”?", "Delete",
                           detail="The images stay in your library.")
        if ok:
            self.vm.delete_collection(row.id)
        return ok

    async def export(self, collection_id: int, *, as_zip: bool) -> Path | None:
        row = self.collection_by_id(collection_id)
        if row is None:
            return None
        chosen = await pick_paths(self, f"Export “{row.name}” as .zip" if as_zip else f"Export “{row.name}” to a folder",
                                  folder=not as_zip, save_zip=as_zip)
        if not chosen:
            return None
        return await self.export_to(collection_id, chosen[0])

    async def export_to(self, collection_id: int, dest: Path) -> Path:
        row = self.collection_by_id(collection_id)
        name = row.name if row is not None else str(collection_id)
        self.message.emit(f"Exporting “{name}”…")
        result = await self.vm.export_collection(collection_id, dest)
        self.message.emit(f"Exported “{name}” to {dest}")
        await inform(self, "Export finished", f"“{name}” was exported to\n{dest}\n\n{_describe(result)}".strip())
        return dest

    def _context_menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            menu = QMenu(self)
            menu.addAction(icon("plus"), "New collection…", self.begin_create)
            menu.popup(self.list.viewport().mapToGlobal(pos))
            return
        self.list.setCurrentItem(item)
        cid = int(item.data(CID_ROLE))
        menu = self.build_menu(cid)
        menu.popup(self.list.viewport().mapToGlobal(pos))

    def build_menu(self, cid: int) -> QMenu:
        menu = QMenu(self)
        menu.addAction("Rename", self.begin_rename).setShortcut("F2")
        cover = menu.addAction("Use selected image as cover")
        ids = self.selected_ids()
        cover.setEnabled(bool(ids))
        cover.triggered.connect(lambda: ids and self.set_cover(cid, ids[0]))
        menu.addSeparator()
        menu.addAction(icon("export"), "Export to folder…",
                       lambda: self.runner.spawn(self.export(cid, as_zip=False), on_error=self.on_error))
        menu.addAction(icon("export"), "Export as .zip…",
                       lambda: self.runner.spawn(self.export(cid, as_zip=True), on_error=self.on_error))
        menu.addSeparator()
        menu.addAction(icon("trash"), "Delete collection…",
                       lambda: self.runner.spawn(self.delete_current(), on_error=self.on_error))
        return menu


def _describe(result: Any) -> str:
    """Storage returns an export report; show its counts if it has them."""
    count = getattr(result, "exported", None) or getattr(result, "files", None)
    if isinstance(count, (list, tuple)):
        return f"{len(count)} file(s) written."
    if isinstance(count, int):
        return f"{count} file(s) written."
    return ""
