"""Reuse a gallery image's parameters (all, or only prompt / seed / size) and show, in the detail view, what
was requested against what the provider actually did."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QMenu, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from desktop.viewmodels.generation_form import Reused
from desktop.viewmodels.records import ImageRow

REUSE_CHOICES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("reuseAll", "All parameters", ("all",)),
    ("reusePrompt", "Prompt only", ("prompt",)),
    ("reuseSeed", "Seed only", ("seed",)),
    ("reuseSize", "Size only", ("size",)),
)


def reused_from(row: ImageRow) -> Reused:
    return Reused(prompt=row.prompt, negative_prompt=row.negative_prompt, provider=row.provider, model=row.model,
                  seed=row.seed, width=row.width, height=row.height)


def add_reuse_menu(menu: QMenu, row: ImageRow, apply: Callable[[ImageRow, list[str]], None]) -> QMenu:
    sub = menu.addMenu("Reuse parameters")
    sub.setObjectName("reuseMenu")
    for name, text, parts in REUSE_CHOICES:
        action = sub.addAction(text)
        action.setObjectName(name)
        action.setEnabled(_offers(row, parts))
        action.triggered.connect(lambda _=False, p=parts: apply(row, list(p)))
    return sub


def _offers(row: ImageRow, parts: tuple[str, ...]) -> bool:
    if "seed" in parts:
        return row.seed is not None
    if "prompt" in parts:
        return bool(row.prompt.strip())
    return True


class ReuseBar(QWidget):
    """Buttons in the detail panel: reuse all / prompt / seed / size of the shown image."""

    def __init__(self, apply: Callable[[ImageRow, list[str]], None]) -> None:
        super().__init__()
        self.setObjectName("reuseBar")
        self.row: ImageRow | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        caption = QLabel("Reuse in the generator")
        caption.setObjectName("detailKey")
        layout.addWidget(caption)
        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        self.buttons: dict[str, QToolButton] = {}
        for name, text, parts in REUSE_CHOICES:
            button = QToolButton()  # compact: four push buttons do not fit a narrow detail dock
            button.setText(text.replace(" parameters", "").replace(" only", ""))
            button.setMinimumWidth(52)
            button.setObjectName(name)
            button.setToolTip(f"Put this image's {text.lower()} into the generator; nothing else changes")
            button.clicked.connect(lambda _=False, p=parts: self.row is not None and apply(self.row, list(p)))
            buttons.addWidget(button)
            self.buttons[name] = button
        buttons.addStretch(1)
        layout.addLayout(buttons)

    def show_row(self, row: ImageRow | None) -> None:
        self.row = row
        self.setVisible(row is not None and bool(row.prompt or row.seed is not None))
        if row is not None:
            for name, _text, parts in REUSE_CHOICES:
                self.buttons[name].setEnabled(_offers(row, parts))


def compare(row: ImageRow, request: dict[str, Any], provider_names: dict[str, str]) -> list[tuple[str, str, str]]:
    """(parameter, requested, actual) lines; only where the request is known."""
    if not request:
        return []

    def name(pid: str) -> str:
        return provider_names.get(pid, pid)

    asked_provider = row.fallback_from or str(request.get("provider") or row.provider)
    lines = [("Provider", name(asked_provider), name(row.provider)
              + (f" (fell back from {name(row.fallback_from)})" if row.fallback_from else ""))]
    if request.get("model") and row.fallback_from == "":
        lines.append(("Model", str(request["model"]), row.model))
    if request.get("width") and request.get("height"):
        asked = f"{request['width']} × {request['height']}"
    else:
        asked = str(request.get("aspect_ratio") or "default")
    lines.append(("Size", asked, f"{row.width} × {row.height}"))
    asked_seed = request.get("seed")
    lines.append(("Seed", "random" if asked_seed is None else str(asked_seed),
                  "not reported" if row.seed is None else str(row.seed)))
    if row.revised_prompt and row.revised_prompt.strip() != row.prompt.strip():
        lines.append(("Prompt", "as typed", "revised by the provider (see Revised prompt)"))
    reported = request.get("provider_cost_usd")
    if row.cost_usd is not None:
        lines.append(("Cost", "", f"${row.cost_usd:.4f}".rstrip("0").rstrip(".")
                      + (" reported by the provider" if reported is not None else " estimated from the price list")))
    return lines


class RequestedActual(QWidget):
    """A small "requested → actual" table for generated images."""

    def __init__(self, meta: Callable[[int], dict[str, Any]], provider_names: dict[str, str]) -> None:
        super().__init__()
        self.setObjectName("requestedActual")
        self.meta = meta
        self.provider_names = provider_names
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        caption = QLabel("Requested → actual")
        caption.setObjectName("detailKey")
        layout.addWidget(caption)
        self.form = QFormLayout()
        self.form.setHorizontalSpacing(12)
        self.form.setVerticalSpacing(4)
        layout.addLayout(self.form)
        self.lines: list[tuple[str, str, str]] = []

    def show_row(self, row: ImageRow | None) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        request = (self.meta(row.id).get("request") or {}) if row is not None and row.source == "generated" else {}
        self.lines = compare(row, request, self.provider_names) if row is not None else []
        for title, asked, actual in self.lines:
            text = f"{asked} → {actual}" if asked and asked != actual else actual
            value = QLabel(text)
            value.setWordWrap(True)
            value.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            key = QLabel(title)
            key.setObjectName("detailKey")
            self.form.addRow(key, value)
        self.setVisible(bool(self.lines))

    def text(self) -> str:
        return "\n".join(f"{t}: {a} → {b}" for t, a, b in self.lines)

    def covered_fields(self) -> set[str]:
        """The detail panel's plain rows this table already shows (DetailPanel.set_covered)."""
        if not self.lines:
            return set()
        titles = {t for t, _a, _b in self.lines}
        keys = {"provider", "fallback_from"} if "Provider" in titles else set()  # its line names the fallback
        keys |= {key for title, key in (("Model", "model"), ("Seed", "seed"), ("Size", "size"),
                                        ("Cost", "cost_usd")) if title in titles}
        return keys
