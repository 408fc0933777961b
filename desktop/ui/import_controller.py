"""Imports from the menu or a drop: progress in the status bar with Cancel, then a non-modal summary."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar, QWidget

from desktop.asyncqt import TaskRunner
from desktop.ui.dialogs import ImportSummaryDialog
from desktop.viewmodels.library import ImportReport, LibraryViewModel

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp);;All files (*)"


class ImportController(QObject):
    finished = Signal(object)  # ImportReport

    def __init__(self, library: LibraryViewModel, runner: TaskRunner, status: QStatusBar, window: QWidget,
                 on_error: Callable[[BaseException], None]) -> None:
        super().__init__(window)
        self.library = library
        self.runner = runner
        self.window = window
        self.status = status
        self.on_error = on_error
        self.cancel_event: asyncio.Event | None = None
        self.summary: ImportSummaryDialog | None = None
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setObjectName("importProgress")
        self.bar.setFixedWidth(180)
        self.bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelImport")
        self.cancel_button.clicked.connect(self.cancel)
        for w in (self.label, self.bar, self.cancel_button):
            status.addPermanentWidget(w)
            w.hide()

    @property
    def busy(self) -> bool:
        return self.cancel_event is not None

    def start(self, paths: Sequence[Path], collection: str | None = None) -> asyncio.Task[ImportReport] | None:
        if self.busy or not paths:
            return None
        return self.runner.spawn(self.run(list(paths), collection), on_error=self.on_error)

    def cancel(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()
            self.label.setText("Cancelling…")

    async def run(self, paths: list[Path], collection: str | None = None) -> ImportReport:
        self.cancel_event = asyncio.Event()
        self.bar.setRange(0, 0)  # busy until the file list is known
        self.label.setText("Scanning…")
        for w in (self.label, self.bar, self.cancel_button):
            w.show()
        try:
            report = await self.library.import_paths(paths, collection, self._progress, self.cancel_event)
        finally:
            self.cancel_event = None
            for w in (self.label, self.bar, self.cancel_button):
                w.hide()
        text = report.summary() + (" (cancelled)" if report.cancelled else "")
        self.status.showMessage(f"Import: {text}", 8000)
        self.finished.emit(report)
        if report.skipped:
            self._show_summary(text, report.skipped)
        return report

    def _progress(self, done: int, total: int, name: str) -> None:
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(done)
        self.label.setText(f"Importing {done}/{total}: {name}")

    def _show_summary(self, text: str, skipped: list[tuple[str, str]]) -> None:
        # show(), not open(): the summary is modeless so the user can keep working while reading it.
        if self.summary is not None:
            self.summary.close()
        dialog = self.summary = ImportSummaryDialog(self.window, text, skipped)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _r: self._summary_closed(dialog))
        dialog.show()

    def _summary_closed(self, dialog: ImportSummaryDialog) -> None:
        if self.summary is dialog:
            self.summary = None
