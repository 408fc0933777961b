"""The General page: the cost above which Generate asks first, and the ordered fallback providers."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QPushButton, QVBoxLayout, QWidget)

from desktop.ui.settings.provider_page import page_title
from desktop.viewmodels.money import MoneyViewModel


class GeneralPage(QWidget):
    def __init__(self, money: MoneyViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("generalPage")
        self.money = money
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(12)
        layout.addWidget(page_title("General"))

        form = QFormLayout()
        form.setHorizontalSpacing(12)
        self.threshold = QDoubleSpinBox()
        self.threshold.setObjectName("confirmThreshold")
        self.threshold.setPrefix("$")
        self.threshold.setDecimals(2)
        self.threshold.setRange(0.0, 10000.0)
        self.threshold.setSingleStep(0.5)
        self.threshold.setMinimumWidth(110)
        threshold_row = QHBoxLayout()
        threshold_row.addWidget(self.threshold)
        threshold_row.addWidget(QLabel("in one action"))
        threshold_row.addStretch(1)
        form.addRow("Ask before spending more than", threshold_row)
        hint = QLabel("Generate shows the estimated cost (count × unit price) and asks for confirmation when "
                      "one action would cost more than this. $0.00 asks before every paid generation.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        form.addRow(hint)
        layout.addLayout(form)

        title = QLabel("Fallback providers")
        title.setObjectName("sectionTitle")
        layout.addWidget(title)
        explain = QLabel("When a provider is down or rate-limited, a job moves on to the ticked providers in "
                         "this order. Drag to reorder. A refused key, a moderation refusal or a quota never "
                         "falls back.")
        explain.setObjectName("hint")
        explain.setWordWrap(True)
        layout.addWidget(explain)
        row = QHBoxLayout()
        self.fallback = QListWidget()
        self.fallback.setObjectName("fallbackOrder")
        self.fallback.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.fallback.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.fallback.setAlternatingRowColors(True)
        self.fallback.setMaximumHeight(250)
        self.fallback.setStyleSheet("QListWidget#fallbackOrder::item { padding: 5px 4px; }")
        row.addWidget(self.fallback, 1)
        buttons = QVBoxLayout()
        self.up = QPushButton("Move up")
        self.up.setObjectName("moveUp")
        self.up.clicked.connect(lambda: self.move(-1))
        self.down = QPushButton("Move down")
        self.down.setObjectName("moveDown")
        self.down.clicked.connect(lambda: self.move(1))
        buttons.addWidget(self.up)
        buttons.addWidget(self.down)
        buttons.addStretch(1)
        row.addLayout(buttons)
        layout.addLayout(row)
        layout.addStretch(1)
        self.load()

    def load(self) -> None:
        self.threshold.setValue(self.money.confirm_threshold())
        chosen = self.money.fallback_order()
        names = self.money.names()
        self.fallback.clear()
        for provider in chosen + [p for p in self.money.provider_ids() if p not in chosen]:
            item = QListWidgetItem(names.get(provider, provider))
            item.setData(Qt.ItemDataRole.UserRole, provider)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsDragEnabled)
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsDropEnabled)  # drop between items, never onto one
            item.setCheckState(Qt.CheckState.Checked if provider in chosen else Qt.CheckState.Unchecked)
            self.fallback.addItem(item)
        self.fallback.setCurrentRow(0)

    def move(self, step: int) -> None:
        row = self.fallback.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.fallback.count():
            return
        item = self.fallback.takeItem(row)
        self.fallback.insertItem(target, item)
        self.fallback.setCurrentRow(target)

    def order(self) -> list[str]:
        items = (self.fallback.item(i) for i in range(self.fallback.count()))
        return [str(i.data(Qt.ItemDataRole.UserRole)) for i in items if i.checkState() == Qt.CheckState.Checked]

    def apply(self) -> bool:
        changed = False
        if abs(self.threshold.value() - self.money.confirm_threshold()) > 1e-9:
            self.money.set_confirm_threshold(self.threshold.value())
            changed = True
        if self.order() != self.money.fallback_order():
            self.money.set_fallback_order(self.order())
            changed = True
        return changed
