"""The library window: collections (left), prompt + filters + gallery (centre), details (right).

Constructed by the composition root: `MainWindow(services, runner, on_close)`. The window builds its one
LibraryViewModel over `services.library` and binds every view to it (`bind`); no view holds a service.
Closing the window accepts the event and calls `on_close`; the app's coroutine then does the async teardown
and quits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, QTimer
from PySide6.QtGui import QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (QDockWidget, QLabel, QMainWindow, QMenu, QMessageBox, QTabWidget, QVBoxLayout,
                               QWidget)

from desktop.asyncqt import TaskRunner, run_dialog
from desktop.ui.actions import SPECS, ShortcutsDialog, build_actions
from desktop.ui.collections_panel import CollectionsPanel, Scope
from desktop.ui.detail_panel import DetailPanel
from desktop.ui.dialogs import pick_paths
from desktop.ui.filter_bar import FilterBar
from desktop.ui.gallery_menu import build_gallery_menu
from desktop.ui.gallery_model import GalleryModel, decode_ids
from desktop.ui.gallery_view import GalleryView
from desktop.ui.generate_panel import GeneratePanel
from desktop.ui.import_controller import IMAGE_FILTER, ImportController
from desktop.ui.qtfix import install_emit_refcount_fix
from desktop.ui.theme import STYLESHEET
from desktop.ui.thumbnail_loader import ThumbnailLoader
from desktop.ui.window_collections import CollectionCommandsMixin
from desktop.ui.window_images import ImageCommandsMixin
from desktop.viewmodels.library import ImageQuery, ImportReport, LibraryServices, LibraryViewModel

log = logging.getLogger(__name__)
TITLE = "AI Images Studio"
MIN_SIZE = QSize(1000, 640)


class MainWindow(ImageCommandsMixin, CollectionCommandsMixin, QMainWindow):
    def __init__(self, services: LibraryServices, runner: TaskRunner, on_close: Callable[[], None]) -> None:
        super().__init__()
        install_emit_refcount_fix()  # before any Python-side emit (see qtfix)
        self.services = services
        self.vm = LibraryViewModel(services.library, self)
        self.runner = runner
        self.on_close = on_close
        self.setWindowTitle(TITLE)
        self.setObjectName("mainWindow")
        self.setStyleSheet(STYLESHEET)
        self.resize(1400, 900)
        self.setMinimumSize(MIN_SIZE)  # below this the panels would overlap; they wrap and elide down to it
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self.setTabPosition(Qt.DockWidgetArea.AllDockWidgetAreas, QTabWidget.TabPosition.North)  # tabs in sight

        self.loader = ThumbnailLoader(self, workers=2, paths=self.vm.paths)
        self.model = GalleryModel(self.vm, self.loader, self)
        self.view = GalleryView()
        self.view.setModel(self.model)
        self.filters = FilterBar()
        self.generate = GeneratePanel()
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.generate)
        column.addWidget(self.filters)
        column.addWidget(self.view, 1)
        self.setCentralWidget(central)

        self.detail = DetailPanel(runner, self.report_error)
        self.detail_dock = self._dock("Details", "detailDock", self.detail, Qt.DockWidgetArea.RightDockWidgetArea)
        self.detail_dock.setMinimumWidth(300)
        self.collections = CollectionsPanel(self.loader, runner, self.target_ids, self.report_error,
                                            self.add_ids_to_collection)
        self.collections_dock = self._dock("Library", "collectionsDock", self.collections,
                                           Qt.DockWidgetArea.LeftDockWidgetArea)
        self.collections_dock.setMinimumWidth(220)
        self.resizeDocks([self.collections_dock, self.detail_dock], [240, 340], Qt.Orientation.Horizontal)

        self.count_label = QLabel()
        self.statusBar().addWidget(self.count_label)
        self.statusBar().addPermanentWidget(self.filters.take_size_control())  # frees the filter row
        self.imports = ImportController(self.vm, runner, self.statusBar(), self, self.report_error)
        self.actions = build_actions(self, self._handlers(), self.view)
        self._build_menus()

        self._resync_timer = QTimer(self)
        self._resync_timer.setSingleShot(True)
        self._resync_timer.setInterval(30)  # coalesce bursts of library events into one id query
        self._resync_timer.timeout.connect(self.resync)
        self.bind(self.vm)

        self.collections.reload()
        self.filters.set_providers(self.vm.providers())
        self.apply_query()
        self.view.setFocus()

    @property
    def library(self) -> LibraryViewModel:
        """The library as the views see it (features such as the gallery menu read images through it)."""
        return self.vm

    def bind(self, vm: LibraryViewModel) -> None:
        """All of the window's wiring, in one list: the panels bind themselves to the view-model first (the
        sidebar reloads before the window decides whether to re-query), then the library's changes, then
        the filter bar, gallery, sidebar, details and import signals."""
        self.collections.bind(vm)
        self.detail.bind(vm)
        vm.imagesAdded.connect(lambda ids: self.model.add_newest(ids) or self._resync_timer.start())
        vm.imagesChanged.connect(self._images_changed)
        vm.imagesRemoved.connect(self._images_removed)
        vm.libraryReset.connect(self._resync_timer.start)
        vm.collectionsChanged.connect(self._collections_changed)
        vm.undoChanged.connect(self._undo_changed)

        self.filters.changed.connect(self.apply_query)
        self.filters.tileSizeChanged.connect(self.view.set_tile_size)
        self.filters.customRangeRequested.connect(lambda: self.spawn(self.filters.choose_custom_range()))
        self.view.currentImageChanged.connect(self._show_details)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.view.customContextMenuRequested.connect(self._gallery_menu)
        self.view.filesDropped.connect(self.import_paths)
        self.view.doubleClicked.connect(lambda _index: self.open_viewer())
        self.view.reorderRequested.connect(self.reorder)
        self.model.countChanged.connect(lambda _n: self._update_status())
        self.collections.scopeChanged.connect(self._scope_changed)
        self.collections.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.detail.favoriteToggled.connect(lambda on: self._on_ids(lambda ids: vm.set_favorite(ids, on)))
        self.detail.ratingChosen.connect(self.rate)
        self.imports.finished.connect(lambda _r: self.filters.set_providers(vm.providers()))

    # -- construction ------------------------------------------------------------------------------------
    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _handlers(self) -> dict[str, Callable[[], None]]:
        spawn = self.spawn
        handlers: dict[str, Callable[[], None]] = {
            "import_files": lambda: spawn(self.ask_import(folder=False)),
            "import_folder": lambda: spawn(self.ask_import(folder=True)),
            "export_collection": lambda: spawn(self.ask_export()),
            "new_collection": self.new_collection,
            "quit": self.close,
            "undo": self.undo,
            "select_all": self.view.selectAll,
            "select_none": self.view.clearSelection,
            "favorite": self.toggle_favorite,
            "rate_0": lambda: self.rate(0),
            "reject": self.toggle_reject,
            "remove_from_collection": self.remove_from_collection,
            "trash": self.trash,
            "restore": self.restore,
            "empty_trash": lambda: spawn(self.empty_trash()),
            "rename_collection": self.rename_collection,
            "move_earlier": lambda: self.move_selection(-1),
            "move_later": lambda: self.move_selection(+1),
            "find": self.focus_search,
            "open_viewer": self.open_viewer,
            "bigger": lambda: self.filters.size_slider.setValue(self.filters.size_slider.value() + 32),
            "smaller": lambda: self.filters.size_slider.setValue(self.filters.size_slider.value() - 32),
            "show_trash": self._toggle_trash,
            "toggle_details": self.toggle_details,
            "shortcuts": lambda: spawn(run_dialog(ShortcutsDialog(self))),
            "about": lambda: spawn(self.about()),
        }
        for n in range(1, 6):
            handlers[f"rate_{n}"] = lambda n=n: self.rate(n)
        for key in ("newest", "oldest", "rating", "collection"):
            handlers[f"sort_{key}"] = lambda key=key: self.filters.set_sort(key)
        return handlers

    def _build_menus(self) -> None:
        menus: dict[str, QMenu] = {}
        sort_group = QActionGroup(self)
        for spec in SPECS:
            if not spec.menu:
                continue
            menu = menus.get(spec.menu)
            if menu is None:
                menu = menus[spec.menu] = self.menuBar().addMenu(f"&{spec.menu}")
            if spec.separator_before:
                menu.addSeparator()
            menu.addAction(self.actions[spec.key])
            if spec.key.startswith("sort_"):
                sort_group.addAction(self.actions[spec.key])
        self.detail_dock.visibilityChanged.connect(self.actions["toggle_details"].setChecked)
        self.actions["toggle_details"].setChecked(True)

    def toggle_details(self) -> None:
        """Hide the details when they are in front; otherwise show them and bring their tab forward (a dock
        behind another tab still counts as visible to Qt, so isVisible() alone would hide it instead)."""
        dock = self.detail_dock
        if dock.isVisible() and not dock.visibleRegion().isEmpty():
            dock.hide()
        else:
            dock.show()
            dock.raise_()

    def spawn(self, coro: object) -> None:
        self.runner.spawn(coro, on_error=self.report_error)  # type: ignore[arg-type]

    def report_error(self, exc: BaseException) -> None:
        log.error("action failed", exc_info=exc)
        self.statusBar().showMessage(f"Error: {exc}", 10000)
        box = QMessageBox(QMessageBox.Icon.Critical, TITLE, str(exc) or type(exc).__name__,
                          QMessageBox.StandardButton.Ok, self)
        box.setObjectName("errorDialog")
        box.open()  # non-blocking; never exec() here (this may run inside a task's callback)

    # -- query -------------------------------------------------------------------------------------------
    def current_query(self) -> ImageQuery:
        scope = self.collections.scope()
        query = self.filters.apply(ImageQuery())
        return replace(query, favorites=query.favorites or scope.kind == "favorites",
                       trashed=scope.kind == "trash",
                       collection=scope.name if scope.kind == "collection" else "")

    def apply_query(self) -> None:
        query = self.current_query()
        self.model.set_query(query)
        scope = self.collections.scope()
        self.view.reorder_enabled = scope.kind == "collection" and query.sort == "collection" and not (
            self.filters.active_filters())
        if scope.kind == "trash":
            self.view.empty_title, self.view.empty_hint = "Trash is empty", "Images you delete wait here."
        elif self.filters.active_filters() or scope.kind == "favorites":
            self.view.empty_title, self.view.empty_hint = "No matching images", "Try a different search or filter."
        elif scope.kind == "collection":
            self.view.empty_title = "This collection is empty"
            self.view.empty_hint = "Drag images onto it in the sidebar, or use “Add to collection” in the gallery."
        else:
            self.view.empty_title = "Your library is empty"
            self.view.empty_hint = "Drop images or folders here, or use File ▸ Import"
        self.actions[f"sort_{query.sort}"].setChecked(True)
        self.actions["show_trash"].setChecked(scope.kind == "trash")
        self._update_actions()
        self._show_details(self.view.current_id())

    def resync(self) -> None:
        self.model.refresh()
        self._show_details(self.view.current_id())

    def _scope_changed(self, scope: Scope) -> None:
        self.filters.set_collection_mode(scope.kind == "collection")
        self.apply_query()

    # -- library changes (bursts are coalesced into one id query by the resync timer) ---------------------
    def _images_changed(self, image_ids: list[int]) -> None:
        self.model.invalidate(image_ids)  # the detail panel refreshes the shown image itself
        q = self.model.query
        if q.favorites or q.min_rating or q.sort == "rating" or not q.include_rejected or q.collection:
            self._resync_timer.start()  # the change may move images in or out of what is shown

    def _images_removed(self, image_ids: list[int]) -> None:
        self.model.drop_ids(image_ids)  # at once; the re-query below confirms it
        self._resync_timer.start()

    def _collections_changed(self) -> None:
        if self.model.query.collection:  # the sidebar has reloaded itself (bound first)
            self._resync_timer.start()

    # -- selection and details ---------------------------------------------------------------------------
    def target_ids(self) -> list[int]:
        ids = self.view.selected_ids()
        if not ids and self.view.current_id() >= 0:
            ids = [self.view.current_id()]
        return ids

    def _on_ids(self, fn: Callable[[list[int]], object]) -> None:
        ids = self.target_ids()
        if ids:
            fn(ids)

    def _show_details(self, image_id: int) -> None:
        row = self.vm.get(image_id) if image_id >= 0 else None
        if row is not None and row.trashed != self.model.query.trashed:
            row = None
        self.detail.show_row(row)
        if row is not None:
            self.detail.show_placeholder(self.loader.pixmap(row.id, self.model.thumb_px))

    def _selection_changed(self) -> None:
        self._update_status()
        self._update_actions()

    def _update_status(self) -> None:
        n = self.model.rowCount()
        selected = len(self.view.selectionModel().selectedIndexes())
        text = f"{n:,} image{'s' if n != 1 else ''}"
        if selected:
            text += f"  ·  {selected:,} selected"
        self.count_label.setText(text)

    def _update_actions(self) -> None:
        scope = self.collections.scope()
        in_trash = scope.kind == "trash"
        in_collection = scope.kind == "collection"
        self.actions["trash"].setEnabled(not in_trash)
        self.actions["restore"].setEnabled(in_trash)
        self.actions["remove_from_collection"].setEnabled(in_collection)
        self.actions["rename_collection"].setEnabled(in_collection)
        self.actions["export_collection"].setEnabled(in_collection)
        self.actions["sort_collection"].setEnabled(in_collection)
        for key in ("move_earlier", "move_later"):
            self.actions[key].setEnabled(self.view.reorder_enabled)

    def _undo_changed(self, label: str) -> None:
        self.actions["undo"].setText(f"Undo {label}" if label else "Undo")
        self.actions["undo"].setEnabled(bool(label))

    def focus_search(self) -> None:
        self.filters.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filters.search.selectAll()

    # -- gallery context menu ------------------------------------------------------------------------------
    def _gallery_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if index.isValid() and not self.view.selectionModel().isSelected(index):
            self.view.setCurrentIndex(index)
        menu = build_gallery_menu(self)
        menu.popup(self.view.viewport().mapToGlobal(pos))

    # -- import ----------------------------------------------------------------------------------------
    async def ask_import(self, *, folder: bool) -> None:
        paths = await pick_paths(self, "Import folder" if folder else "Import images", folder=folder,
                                 name_filter=IMAGE_FILTER)
        self.import_paths(paths)

    def import_paths(self, paths: list[Path]) -> asyncio.Task[ImportReport] | None:
        """Import into the library, and into the shown collection when one is shown."""
        scope = self.collections.scope()
        return self.imports.start(paths, scope.name if scope.kind == "collection" else None)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if not decode_ids(mime) and mime.hasUrls() and any(u.isLocalFile() for u in mime.urls()):
            event.acceptProposedAction()  # files from outside; our own tiles are not imported again
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        if decode_ids(event.mimeData()):
            event.ignore()
            return
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.import_paths(paths)

    # -- misc ----------------------------------------------------------------------------------------------
    async def about(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, f"About {TITLE}",
                          f"<b>{TITLE}</b><p>Type a prompt, pick a provider, get an image — and keep every image "
                          "in a searchable library with collections.</p>", QMessageBox.StandardButton.Ok, self)
        await run_dialog(box)

    def closeEvent(self, event: QCloseEvent) -> None:
        event.accept()
        self.vm.close()
        self._resync_timer.stop()
        self.imports.cancel()
        if self.viewer is not None:
            self.viewer.close()
        self.loader.close()
        self.on_close()

    def current_index(self) -> QModelIndex:
        return self.view.currentIndex()
