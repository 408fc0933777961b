"""The prompt area and parameters panel. Generation is wired by a later issue, which replaces this module:
the prompt editor works, the parameter controls are visibly disabled and say why."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QFormLayout, QFrame, QHBoxLayout, QLabel, QPlainTextEdit,
                               QPushButton, QSpinBox, QVBoxLayout, QWidget)

from desktop.ui.icons import icon

NOT_YET = "Generation arrives with providers"


class GeneratePanel(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("generatePanel")
        outer = QHBoxLayout(self)
        outer.setContentsMargins(16, 12, 16, 10)
        outer.setSpacing(16)

        left = QVBoxLayout()
        left.setSpacing(6)
        self.prompt = QPlainTextEdit()
        self.prompt.setObjectName("promptEditor")
        self.prompt.setPlaceholderText("Describe the image you want to create…")
        self.prompt.setTabChangesFocus(True)
        self.prompt.setMinimumHeight(64)
        self.prompt.setMaximumHeight(84)
        left.addWidget(self.prompt)
        self.negative = QPlainTextEdit()
        self.negative.setPlaceholderText("Negative prompt (optional)")
        self.negative.setTabChangesFocus(True)
        self.negative.setMaximumHeight(40)
        left.addWidget(self.negative)
        outer.addLayout(left, 3)

        self.params = QWidget()
        self.params.setObjectName("parametersPanel")
        form = QFormLayout(self.params)
        form.setContentsMargins(0, 0, 0, 0)
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(6)
        self.provider = QComboBox()
        self.provider.addItem("Choose a provider")
        self.model = QComboBox()
        self.model.addItem("—")
        self.size = QComboBox()
        self.size.addItem("1024 × 1024")
        self.count = QSpinBox()
        self.count.setRange(1, 4)
        form.addRow("Provider", self.provider)
        form.addRow("Model", self.model)
        row = QHBoxLayout()
        row.addWidget(self.size, 1)
        row.addWidget(QLabel("×"))
        row.addWidget(self.count)
        form.addRow("Size", row)
        self.params.setEnabled(False)  # nothing to generate with yet: a later issue replaces this panel

        right = QVBoxLayout()
        right.setSpacing(8)
        right.addWidget(self.params)
        bottom = QHBoxLayout()
        self.notice = QLabel(NOT_YET)
        self.notice.setObjectName("hint")
        self.notice.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.generate = QPushButton(icon("sparkle"), "Generate")
        self.generate.setEnabled(False)
        self.generate.setToolTip(NOT_YET)
        self.generate.setMinimumWidth(120)
        bottom.addWidget(self.notice, 1)
        bottom.addWidget(self.generate)
        right.addLayout(bottom)
        right.addStretch(1)
        holder = QWidget()
        holder.setLayout(right)
        holder.setMinimumWidth(300)
        holder.setMaximumWidth(420)
        right.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(holder, 2)
