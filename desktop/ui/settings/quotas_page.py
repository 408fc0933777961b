"""The Quotas page: per-provider images/day, USD/day, USD/month and the global monthly cap, each next to a
progress bar of what has been used today / this month."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractSpinBox, QDoubleSpinBox, QFrame, QGridLayout, QLabel, QProgressBar,
                               QScrollArea, QSpinBox, QVBoxLayout, QWidget)

from desktop.ui.settings.provider_page import page_title
from desktop.viewmodels.money import GLOBAL, MoneyViewModel
from desktop.viewmodels.records import QuotaLimits, QuotaView

NO_LIMIT = "No limit"
# (field in QuotaLimits, field in consumption, label, money?)
FIELDS = (("images_per_day", "images_today", "Images per day", False),
          ("usd_per_day", "usd_today", "Spend per day", True),
          ("usd_per_month", "usd_month", "Spend per month", True))


def _spin(money: bool) -> QAbstractSpinBox:
    """-1 shows as "No limit" (0 is a real limit: nothing allowed)."""
    if money:
        spin: QAbstractSpinBox = QDoubleSpinBox()
        spin.setDecimals(2)
        spin.setRange(-1.0, 100000.0)
        spin.setSingleStep(1.0)
        spin.setPrefix("$")
    else:
        spin = QSpinBox()
        spin.setRange(-1, 100000)
    spin.setSpecialValueText(NO_LIMIT)
    spin.setMinimumWidth(110)
    spin.setAlignment(Qt.AlignmentFlag.AlignRight)
    return spin


def _value(spin: QAbstractSpinBox) -> float | None:
    value = spin.value()  # type: ignore[attr-defined]
    return None if value < 0 else value


class QuotaRow:
    """The widgets of one provider (or the global cap) in the grid."""

    def __init__(self, view: QuotaView, grid: QGridLayout, row: int) -> None:
        self.provider = view.provider
        self.spins: dict[str, QAbstractSpinBox] = {}
        self.bars: dict[str, QProgressBar] = {}
        title = QLabel(view.label)
        title.setObjectName("quotaTitle")
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        grid.addWidget(title, row, 0, 1, 3)
        names = FIELDS if view.provider != GLOBAL else FIELDS[2:]  # the global cap is a monthly budget
        for i, (field, _used, label, money) in enumerate(names, start=1):
            spin = _spin(money)
            spin.setObjectName(f"quota_{view.provider}_{field}")
            bar = QProgressBar()
            bar.setObjectName(f"usage_{view.provider}_{field}")
            bar.setMinimumWidth(220)
            bar.setTextVisible(True)
            grid.addWidget(QLabel(label), row + i, 0)
            grid.addWidget(spin, row + i, 1)
            grid.addWidget(bar, row + i, 2)
            self.spins[field], self.bars[field] = spin, bar
            spin.valueChanged.connect(lambda _v, f=field: self._redraw(f))  # type: ignore[attr-defined]
        self.rows = len(names) + 1
        self.view = view
        self.show(view)

    def show(self, view: QuotaView) -> None:
        self.view = view
        for field, spin in self.spins.items():
            limit = getattr(view.limits, field)
            spin.blockSignals(True)
            spin.setValue(-1 if limit is None else limit)  # type: ignore[attr-defined]
            spin.blockSignals(False)
            self._redraw(field)

    def _redraw(self, field: str) -> None:
        used_key, money = next((u, m) for f, u, _l, m in FIELDS if f == field)
        used = float(self.view.used[used_key])
        limit = _value(self.spins[field])
        bar = self.bars[field]
        shown = f"${used:.2f}" if money else f"{int(used)}"
        if limit is None:
            bar.setRange(0, 1)
            bar.setValue(0)
            bar.setFormat(f"{shown} used")
            bar.setEnabled(False)
            return
        bar.setEnabled(True)
        bar.setRange(0, 1000)
        ratio = 1.0 if limit <= 0 else min(1.0, used / limit)
        bar.setValue(int(ratio * 1000))
        cap = f"${limit:.2f}" if money else f"{int(limit)}"
        bar.setFormat(f"{shown} of {cap}" + ("  — reached" if used >= limit else ""))
        # Amber near the cap, red once reached: the colour is the first thing the eye catches.
        colour = "#cf222e" if used >= limit else "#d4a72c" if ratio >= 0.8 else ""
        bar.setStyleSheet(f"QProgressBar::chunk {{ background: {colour}; }}" if colour else "")

    def limits(self) -> dict[str, float | None]:
        # Fields this row does not show (the global cap's daily limits, settable from the CLI) are kept.
        out: dict[str, float | None] = {f: getattr(self.view.limits, f) for f, *_ in FIELDS}
        for field, spin in self.spins.items():
            value = _value(spin)
            out[field] = None if value is None else (int(value) if field == "images_per_day" else float(value))
        return out


class QuotasPage(QWidget):
    def __init__(self, money: MoneyViewModel, providers: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("quotasPage")
        self.money = money
        self.providers = providers
        outer = QVBoxLayout(self)
        outer.setContentsMargins(20, 16, 20, 16)
        outer.addWidget(page_title(
            "Quotas", "Checked and reserved before any request leaves, so parallel jobs cannot overshoot. "
                      "Days and months follow your local time. A blocked job says which quota stopped it."))
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        self.grid = QGridLayout(body)
        self.grid.setContentsMargins(0, 4, 8, 4)
        self.grid.setHorizontalSpacing(14)
        self.grid.setVerticalSpacing(6)
        self.grid.setColumnStretch(2, 1)
        self.rows: dict[str, QuotaRow] = {}
        row = 0
        views = money.quota_views(providers)
        # The global budget first: it is the one cap that covers everything.
        for view in sorted(views, key=lambda v: v.provider != GLOBAL):
            quota_row = QuotaRow(view, self.grid, row)
            self.rows[view.provider] = quota_row
            row += quota_row.rows
            if view.provider == GLOBAL:
                line = QFrame()
                line.setFrameShape(QFrame.Shape.HLine)
                line.setFrameShadow(QFrame.Shadow.Sunken)
                self.grid.addWidget(line, row, 0, 1, 3)
            self.grid.setRowMinimumHeight(row, 14)
            row += 1
        self.grid.setRowStretch(row, 1)
        scroll.setWidget(body)
        outer.addWidget(scroll, 1)

    def refresh(self) -> None:
        """Re-read limits and consumption (the page is shown again, or a job finished)."""
        for view in self.money.quota_views(self.providers):
            if view.provider in self.rows:
                self.rows[view.provider].show(view)

    def apply(self) -> bool:
        changed = False
        current = self.money.quota_limits()
        for provider, row in self.rows.items():
            limits = row.limits()
            before = current.get(provider, QuotaLimits(provider)).to_json()
            if any(before[k] != v for k, v in limits.items()):
                self.money.set_quota(provider, **limits)  # type: ignore[arg-type]
                changed = True
        self.refresh()
        return changed
