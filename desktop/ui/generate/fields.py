"""Small building blocks of the parameters view: a captioned field cell, combo helpers, the seed control."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QSizePolicy, QToolButton,
                               QVBoxLayout, QWidget)

from desktop.viewmodels.generation_form import SEED_MODES, Option

SEED_LABELS = {"random": "Random", "fixed": "Fixed", "increment": "Increment"}


class Field(QWidget):
    """A caption above one or more controls; hidden as a whole when the model lacks the parameter."""

    def __init__(self, caption: str, *controls: QWidget, name: str = "") -> None:
        super().__init__()
        if name:
            self.setObjectName(name)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        self.caption = QLabel(caption)
        self.caption.setObjectName("fieldCaption")
        layout.addWidget(self.caption)
        self.row = QHBoxLayout()
        self.row.setSpacing(4)
        for control in controls:
            self.row.addWidget(control)
        layout.addLayout(self.row)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)


def fill_combo(combo: QComboBox, options: Sequence[Option], current: str) -> None:
    """Replace a combo's items without emitting, then select `current`."""
    combo.blockSignals(True)
    combo.clear()
    for option in options:
        combo.addItem(option.label, option.value)
    select(combo, current)
    combo.blockSignals(False)


def select(combo: QComboBox, value: str) -> None:
    index = combo.findData(value)
    if index >= 0 and index != combo.currentIndex():
        blocked = combo.blockSignals(True)
        combo.setCurrentIndex(index)
        combo.blockSignals(blocked)


class SeedControl(QWidget):
    """Random / fixed / increment, a seed number (up to 2**32 - 1, beyond QSpinBox's int32) and a dice."""

    modeChanged = Signal(str)
    seedChanged = Signal(int)
    diceClicked = Signal()

    def __init__(self) -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.mode = QComboBox()
        self.mode.setObjectName("seedMode")
        for mode in SEED_MODES:
            self.mode.addItem(SEED_LABELS[mode], mode)
        self.mode.setToolTip("Random: a new seed each time · Fixed: repeat a seed · "
                             "Increment: add one per image after each run")
        self.value = QDoubleSpinBox()
        self.value.setObjectName("seedValue")
        self.value.setDecimals(0)
        self.value.setRange(0, 2**32 - 1)
        self.dice = QToolButton()
        self.dice.setObjectName("seedDice")
        self.dice.setText("New")
        self.dice.setToolTip("Pick a new random seed")
        layout.addWidget(self.mode)
        layout.addWidget(self.value, 1)
        layout.addWidget(self.dice)
        self.mode.currentIndexChanged.connect(lambda _i: self.modeChanged.emit(self.mode.currentData()))
        self.value.valueChanged.connect(lambda v: self.seedChanged.emit(int(v)))
        self.dice.clicked.connect(self.diceClicked)

    def set_state(self, mode: str, seed: int) -> None:
        select(self.mode, mode)
        self.value.setEnabled(mode != "random")
        if int(self.value.value()) != seed:
            blocked = self.value.blockSignals(True)
            self.value.setValue(seed)
            self.value.blockSignals(blocked)
