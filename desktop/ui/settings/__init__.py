"""Money UI: the Settings dialog (providers/keys, quotas, general) and the Usage window, installed into an
existing MainWindow through public QMainWindow API only (menuBar()), so main_window.py needs no edit.

    install_money_ui(window, services, runner)   # from the composition root, after the window is built
"""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QMainWindow, QMenu, QMessageBox, QVBoxLayout, QWidget

from desktop.asyncqt import run_dialog
from desktop.ui.settings.dialog import SettingsDialog
from desktop.ui.usage_view import UsageView
from desktop.viewmodels.money import MoneyViewModels, build_money_viewmodels, format_usd, needs_confirmation
from providers.base import ImageRequest


@dataclass
class MoneyUi:
    """What install_money_ui added (kept on the window as `money_ui`, so nothing is garbage-collected)."""

    window: QMainWindow
    bundle: MoneyViewModels
    runner: Any
    actions: dict[str, QAction] = field(default_factory=dict)
    settings: SettingsDialog | None = None
    usage: QDialog | None = None

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> Any:
        reporter = getattr(self.window, "report_error", None)
        return self.runner.spawn(coro, on_error=reporter) if reporter else self.runner.spawn(coro)

    def open_settings(self, page: str = "") -> SettingsDialog:
        """Show the (single, non-modal) Settings dialog, optionally on a page ("quotas", "openai"…)."""
        if self.settings is None:
            self.settings = SettingsDialog(self.bundle, self.spawn, self.window)
            # Keys, enabled providers and base URLs may have changed: let the generation panel re-check
            # which providers are usable (its "(needs key)" marks) once the dialog is closed.
            self.settings.finished.connect(lambda _r: self._settings_closed())
        self.settings.show()
        self.settings.raise_()
        self.settings.activateWindow()
        if page:
            self.settings.show_page(page)
        return self.settings

    def open_usage(self) -> QDialog:
        if self.usage is None:
            self.usage = QDialog(self.window)
            self.usage.setObjectName("usageDialog")
            self.usage.setWindowTitle("Usage and costs")
            self.usage.resize(980, 680)
            layout = QVBoxLayout(self.usage)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.addWidget(UsageView(self.bundle.money, self.spawn, self.usage))
        view = self.usage.findChild(UsageView)
        if view is not None:
            view.refresh()
        self.usage.show()
        self.usage.raise_()
        return self.usage

    def _settings_closed(self) -> None:
        generation_ui = getattr(self.window, "generation_ui", None)
        if generation_ui is not None:
            self.spawn(generation_ui.vm.refresh_availability(detect_local=False))

    def _on_job_event(self, event: Any) -> None:
        """Keep the open views current: a finished job changes the ledger and the quota bars."""
        if event.kind not in ("done", "failed", "cancelled"):
            return
        if self.usage is not None and self.usage.isVisible():
            view = self.usage.findChild(UsageView)
            if view is not None:
                view.refresh()
        if self.settings is not None and self.settings.isVisible():
            self.settings.quotas.refresh()


def _menu(window: QMainWindow, title: str) -> QMenu:
    """The window's menu with this title, or a new one placed before Help."""
    bar = window.menuBar()
    help_action = None
    for action in bar.actions():
        menu = action.menu()
        if menu is None:
            continue
        text = action.text().replace("&", "")
        if text == title:
            return menu
        if text == "Help":
            help_action = action
    menu = QMenu(f"&{title}", bar)
    if help_action is not None:
        bar.insertMenu(help_action, menu)
    else:
        bar.addMenu(menu)
    return menu


def install_money_ui(window: QMainWindow, services: Any, runner: Any) -> None:
    """Add Tools ▸ Settings… (Ctrl+,) and Tools ▸ Usage and costs (Ctrl+Shift+U) to `window`."""
    ui = MoneyUi(window, build_money_viewmodels(services), runner)
    tools = _menu(window, "Tools")
    for key, text, shortcut, handler in (
            ("settings", "Settings…", "Ctrl+,", lambda: ui.open_settings()),
            ("usage", "Usage and costs", "Ctrl+Shift+U", lambda: ui.open_usage()),
            ("quotas", "Quotas…", "", lambda: ui.open_settings("quotas"))):
        action = QAction(text, window)
        action.setObjectName(f"action_{key}")
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False, h=handler: h())
        window.addAction(action)  # shortcuts work wherever the focus is in the window
        tools.addAction(action)
        ui.actions[key] = action
    ui.bundle.subscribe_job_events(ui._on_job_event)
    window.money_ui = ui  # type: ignore[attr-defined]


async def confirm_cost(parent: QWidget, request: ImageRequest, bundle: MoneyViewModels) -> bool:
    """For the Generate button: True when the run may go ahead (under the threshold, or the user agreed)."""
    cost = bundle.money.estimate(request)
    threshold = bundle.money.confirm_threshold()
    if not needs_confirmation(cost, threshold):
        return True
    box = QMessageBox(QMessageBox.Icon.Question, "Confirm cost",
                      f"This will cost about {format_usd(cost)} ({request.count} × "
                      f"{format_usd((cost or 0) / max(1, request.count))}).",
                      QMessageBox.StandardButton.NoButton, parent)
    box.setObjectName("confirmCostDialog")
    box.setInformativeText(f"You asked to confirm anything above {format_usd(threshold)} "
                           "(Settings ▸ General).")
    go = box.addButton("Generate", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    await run_dialog(box)  # never exec() inside a coroutine
    return box.clickedButton() is go
