"""A searchable prompt history: prompts of past jobs (journal) and library images, newest first, deduplicated.

Shown as a popup under the prompt's "History" button: a filter field and a list; Enter or a click on a
prompt fills the prompt editor."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from desktop.viewmodels.generation_queue import GenerationLibrary

MAX_PROMPTS = 500


class PromptHistory:
    """Distinct prompts, newest first. `add()` puts a just-submitted prompt on top."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def load(self, source: GenerationLibrary, limit: int = MAX_PROMPTS) -> None:
        self.prompts = []
        self.extend(source.past_prompts(limit))

    def extend(self, prompts: Iterable[str]) -> None:
        seen = {p.strip().casefold() for p in self.prompts}
        for prompt in prompts:
            key = prompt.strip().casefold()
            if key and key not in seen:
                seen.add(key)
                self.prompts.append(prompt.strip())
        del self.prompts[MAX_PROMPTS:]

    def add(self, prompt: str) -> None:
        key = prompt.strip().casefold()
        if not key:
            return
        self.prompts = [p for p in self.prompts if p.casefold() != key]
        self.prompts.insert(0, prompt.strip())

    def search(self, text: str) -> list[str]:
        """Prompts containing every word of `text` (case-insensitive), newest first."""
        words = text.casefold().split()
        return [p for p in self.prompts if all(w in p.casefold() for w in words)]


class _Filter(QLineEdit):
    """Arrow keys move in the list while the caret stays in the filter."""

    def __init__(self, listing: QListWidget) -> None:
        super().__init__()
        self.listing = listing

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
            step = 1 if event.key() == Qt.Key.Key_Down else -1
            row = max(0, min(self.listing.count() - 1, self.listing.currentRow() + step))
            self.listing.setCurrentRow(row)
            return
        super().keyPressEvent(event)


class HistoryPopup(QFrame):
    chosen = Signal(str)

    def __init__(self, history: PromptHistory, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("historyPopup")
        self.history = history
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.resize(520, 340)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        self.listing = QListWidget()
        self.listing.setObjectName("historyList")
        self.listing.setWordWrap(True)
        self.listing.setAlternatingRowColors(True)
        self.listing.itemActivated.connect(self._activated)
        self.listing.itemClicked.connect(self._activated)
        self.filter = _Filter(self.listing)
        self.filter.setObjectName("historyFilter")
        self.filter.setPlaceholderText("Search past prompts…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.refill)
        self.filter.returnPressed.connect(self._enter)
        self.empty = QLabel("No matching prompts")
        self.empty.setObjectName("hint")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.filter)
        layout.addWidget(self.listing, 1)
        layout.addWidget(self.empty)

    def refill(self) -> None:
        self.listing.clear()
        for prompt in self.history.search(self.filter.text())[:200]:
            item = QListWidgetItem(prompt if len(prompt) < 300 else prompt[:299] + "…")
            item.setData(Qt.ItemDataRole.UserRole, prompt)
            item.setToolTip(prompt[:1000])
            self.listing.addItem(item)
        self.empty.setVisible(self.listing.count() == 0)
        if self.listing.count():
            self.listing.setCurrentRow(0)

    def show_at(self, pos: QPoint) -> None:
        self.filter.clear()
        self.refill()
        self.move(pos)
        self.show()
        self.filter.setFocus()

    def _enter(self) -> None:
        item = self.listing.currentItem()
        if item is not None:
            self._activated(item)

    def _activated(self, item: QListWidgetItem) -> None:
        self.chosen.emit(str(item.data(Qt.ItemDataRole.UserRole)))
        self.hide()
