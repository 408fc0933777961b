"""Generation UI: the parameters panel (replacing the main window's placeholder), the Queue dock and the
"Reuse parameters" hooks in the gallery menu and detail panel.

`install_generation_ui(window, services, runner)` is the one entry point; the composition root calls it after
building the MainWindow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMenu

from desktop.asyncqt import TaskRunner
from desktop.services.container import AppServices
from desktop.services.wiring import attach_generation
from desktop.ui.generate.history import PromptHistory
from desktop.ui.generate.jobs_model import JobsModel
from desktop.ui.generate.parameters_panel import GenerationPanel
from desktop.ui.generate.queue_view import QueueView
from desktop.ui.generate.reuse import RequestedActual, ReuseBar, add_reuse_menu, reused_from
from desktop.ui.generate.viewmodel import GenerateViewModel
from storage.records import ImageRow

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


def install_generation_ui(window: Any, services: AppServices, runner: TaskRunner, *,
                          refresh: bool = True) -> GenerationUI:
    """Wire generation into a built MainWindow. `refresh=False` skips the start-up key check and local
    backend probe (callers that run it themselves)."""
    generation = services.extras.get("generation") or attach_generation(services)
    library = services.library
    report = getattr(window, "report_error", None)
    vm = GenerateViewModel(generation, library.library, services.extras.get("secrets"), parent=window,
                           found_local=lambda: services.extras.get("local_backends") or {})
    history = PromptHistory()
    history.load(generation, library)
    panel = GenerationPanel(vm, runner, history, on_error=report)
    _replace_placeholder(window, panel)

    jobs = JobsModel(generation, parent=window)
    vm.jobEvent.connect(jobs.on_event)
    jobs.load_history()

    def thumb_path(image_id: int) -> str | None:
        row = library.get(image_id)
        return row.thumb_path if row is not None and row.thumb_path else (row.path if row else None)

    queue = QueueView(jobs, runner, thumb_path, on_error=report)
    dock = QDockWidget("Queue", window)
    dock.setObjectName("queueDock")
    dock.setWidget(queue)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                     | QDockWidget.DockWidgetFeature.DockWidgetClosable
                     | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    detail_dock = getattr(window, "detail_dock", None)
    if detail_dock is not None:
        window.splitDockWidget(detail_dock, dock, Qt.Orientation.Vertical)
        window.resizeDocks([detail_dock, dock], [640, 240], Qt.Orientation.Vertical)  # details matter most
    view_menu = _menu(window, "View")
    if view_menu is not None:
        toggle = dock.toggleViewAction()
        toggle.setText("Show queue")
        toggle.setShortcut("Ctrl+Shift+Q")
        view_menu.addSeparator()
        view_menu.addAction(toggle)
    vm.submitted.connect(lambda _id: (dock.show(), dock.raise_()))

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
            row = library.get(ids[0]) if len(ids) == 1 else None
            if row is not None:
                add_reuse_menu(menu, row, apply_reuse)

        hooks.append(reuse_menu)

    detail = getattr(window, "detail", None)
    extensions = getattr(detail, "extensions", None)
    if detail is not None and extensions is not None:
        names = {info.id: info.name for info in services.catalogue.all()}
        ui.reuse_bar = ReuseBar(apply_reuse)
        ui.requested = RequestedActual(library.image_meta, names)
        extensions.addWidget(ui.reuse_bar)
        extensions.addWidget(ui.requested)
        detail.rowShown.connect(ui.reuse_bar.show_row)
        detail.rowShown.connect(ui.requested.show_row)
        ui.reuse_bar.show_row(detail.row)
        ui.requested.show_row(detail.row)

    window.generation_ui = ui
    if refresh:
        runner.spawn(vm.refresh_availability(), on_error=report)
    return ui


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
