"""Generation UI: the parameters panel (replacing the main window's placeholder), the Queue dock and the
"Reuse parameters" hooks in the gallery menu and detail panel.

`install_generation_ui(window, services, runner)` is the one entry point; the composition root calls it after
building the MainWindow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMenu

from desktop.asyncqt import TaskRunner
from desktop.ui.generate.history import PromptHistory
from desktop.ui.generate.jobs_model import JobsModel
from desktop.ui.generate.parameters_panel import GenerationPanel
from desktop.ui.generate.queue_view import QueueView, queue_title
from desktop.ui.generate.reuse import RequestedActual, ReuseBar, add_reuse_menu, reused_from
from desktop.viewmodels.generation import GenerateViewModel
from desktop.viewmodels.generation_wiring import GenerationServices, build_generation_viewmodels
from desktop.viewmodels.records import ImageRow

__all__ = ["GenerationUI", "install_generation_ui"]


@dataclass
class GenerationUI:
    vm: GenerateViewModel
    panel: GenerationPanel
    jobs: JobsModel
    queue: QueueView
    queue_dock: QDockWidget
    history: PromptHistory
    reuse_bar: ReuseBar | None = None
    requested: RequestedActual | None = None


def install_generation_ui(window: Any, services: GenerationServices, runner: TaskRunner, *,
                          refresh: bool = True) -> GenerationUI:
    """Wire generation into a built MainWindow. `refresh=False` skips the start-up key check and local
    backend probe (callers that run it themselves)."""
    models = build_generation_viewmodels(services, parent=window)
    vm, library = models.generate, models.library
    report = getattr(window, "report_error", None)
    history = PromptHistory()
    history.load(library)
    panel = GenerationPanel(vm, runner, history, on_error=report)
    _replace_placeholder(window, panel)

    jobs = JobsModel(models.queue, parent=window)
    vm.jobEvent.connect(jobs.on_event)
    jobs.load_history()

    queue = QueueView(jobs, runner, library.thumb_path, on_error=report)
    dock = QDockWidget("Queue", window)
    dock.setObjectName("queueDock")
    dock.setWidget(queue)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                     | QDockWidget.DockWidgetFeature.DockWidgetClosable
                     | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    _share_column_with_details(window, dock, jobs, vm)
    view_menu = _menu(window, "View")
    if view_menu is not None:
        view_menu.addSeparator()
        view_menu.addAction(_front_or_hide_action(window, dock, "Show queue", "Ctrl+Shift+Q"))

    ui = GenerationUI(vm, panel, jobs, queue, dock, history)

    def apply_reuse(row: ImageRow, parts: list[str]) -> None:
        vm.reuse(reused_from(row), parts)
        panel.prompt.setFocus()
        status = getattr(window, "statusBar", None)
        if status is not None:
            what = "all parameters" if "all" in parts else " and ".join(parts)
            status().showMessage(f"Reused {what} of image {row.id}", 5000)

    if not hasattr(window, "gallery_menu_hooks"):
        window.gallery_menu_hooks = []  # read by desktop.ui.gallery_menu.build_gallery_menu
    hooks = window.gallery_menu_hooks
    if hooks is not None:
        def reuse_menu(menu: QMenu, ids: list[int]) -> None:
            row = library.image(ids[0]) if len(ids) == 1 else None
            if row is not None:
                add_reuse_menu(menu, row, apply_reuse)

        hooks.append(reuse_menu)

    detail = getattr(window, "detail", None)
    extensions = getattr(detail, "extensions", None)
    if detail is not None and extensions is not None:
        ui.reuse_bar = ReuseBar(apply_reuse)
        ui.requested = RequestedActual(library.image_meta, models.provider_names)
        extensions.addWidget(ui.reuse_bar)
        extensions.addWidget(ui.requested)
        detail.rowShown.connect(ui.reuse_bar.show_row)
        detail.rowShown.connect(ui.requested.show_row)
        requested = ui.requested
        detail.rowShown.connect(lambda _row: detail.set_covered(requested.covered_fields()))  # no duplicates
        ui.reuse_bar.show_row(detail.row)
        ui.requested.show_row(detail.row)
        detail.set_covered(ui.requested.covered_fields())

    window.generation_ui = ui
    if refresh:
        runner.spawn(vm.refresh_availability(), on_error=report)
    return ui


def _front_or_hide_action(window: Any, dock: QDockWidget, text: str, shortcut: str) -> QAction:
    """Like the dock's toggleViewAction, but a dock behind another tab is brought forward, not hidden."""
    action = QAction(text, window)
    action.setObjectName("toggleQueue")
    action.setCheckable(True)
    action.setShortcut(shortcut)

    def triggered() -> None:
        if dock.isVisible() and not dock.visibleRegion().isEmpty():
            dock.hide()
        else:
            dock.show()
            dock.raise_()
        action.setChecked(dock.isVisible())

    action.triggered.connect(triggered)
    dock.visibilityChanged.connect(action.setChecked)
    action.setChecked(dock.isVisible())
    return action


def _share_column_with_details(window: Any, dock: QDockWidget, jobs: JobsModel, vm: GenerateViewModel) -> None:
    """Details and Queue are tabs of one full-height right column: each is readable on its own (a split left
    the queue ~180 px, too small to read why a job failed). The tab a creator needs comes to the front by
    itself: Queue when a job starts, Details when they pick a different image. The Queue tab's title says
    what is going on there while Details is in front."""
    def raise_queue() -> None:
        dock.show()
        dock.raise_()

    vm.submitted.connect(lambda _id: raise_queue())

    def retitle(*_args: object) -> None:
        dock.setWindowTitle(queue_title(jobs.counts()))

    for signal in (jobs.added, jobs.changed, jobs.removed):
        signal.connect(retitle)
    retitle()
    detail_dock = getattr(window, "detail_dock", None)
    if detail_dock is None:
        return
    window.tabifyDockWidget(detail_dock, dock)
    (dock if any(not i.finished for i in jobs.items.values()) else detail_dock).raise_()  # resumed jobs first
    view = getattr(window, "view", None)
    if view is None:
        return
    shown = {"id": -1}

    def raise_details(image_id: int) -> None:
        # Only for a *different* image: the gallery re-selects the same one after each refresh while a job
        # delivers images, and that must not pull the queue away from the creator.
        if image_id >= 0 and image_id != shown["id"] and not detail_dock.isHidden():
            detail_dock.raise_()  # a no-op when it is already in front; a closed dock stays closed
        if image_id >= 0:
            shown["id"] = image_id

    view.currentImageChanged.connect(raise_details)


def _replace_placeholder(window: Any, panel: GenerationPanel) -> None:
    old = window.generate
    parent = old.parentWidget()
    layout = parent.layout() if parent is not None else None
    if layout is not None:
        layout.replaceWidget(old, panel)
    old.hide()
    old.setParent(None)
    old.deleteLater()
    window.generate = panel


def _menu(window: Any, title: str) -> QMenu | None:
    for action in window.menuBar().actions():
        menu = action.menu()
        if menu is not None and action.text().replace("&", "") == title:
            return menu
    return None
