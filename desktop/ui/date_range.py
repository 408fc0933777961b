"""The "Custom range…" date filter: a small dialog with two calendar-popup date fields.

Opened with run_dialog (no nested event loop). Days are local calendar days: the range runs from the start
of the first day to the end of the last, both included.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate, QPoint
from PySide6.QtWidgets import QDateEdit, QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget


def day_bounds(first: dt.date, last: dt.date) -> tuple[float, float]:
    """(date_from, date_to) epoch seconds for local days first..last inclusive (ImageQuery.date_to is <=)."""
    if last < first:
        first, last = last, first
    start = dt.datetime.combine(first, dt.time.min).timestamp()
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min).timestamp() - 0.001
    return start, end


def label_for(first: dt.date, last: dt.date, today: dt.date | None = None) -> str:
    """A short combo label: "3 Mar – 14 Mar", with the year only when it is not this year's."""
    this_year = (today or dt.date.today()).year

    def fmt(d: dt.date, year: bool) -> str:
        return f"{d.day} {d.strftime('%b')}" + (f" {d.year}" if year else "")

    if first == last:
        return fmt(first, first.year != this_year)
    spans_years = first.year != last.year
    return f"{fmt(first, spans_years)} – {fmt(last, spans_years or last.year != this_year)}"


def _qdate(d: dt.date) -> QDate:
    return QDate(d.year, d.month, d.day)


class DateRangeDialog(QDialog):
    """From/To date fields; the To field never goes before From."""

    def __init__(self, parent: QWidget, first: dt.date, last: dt.date) -> None:
        super().__init__(parent)
        self.setObjectName("dateRangeDialog")
        self.setWindowTitle("Custom date range")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 10)
        hint = QLabel("Show images created on these days (both included).")
        hint.setObjectName("hint")
        layout.addWidget(hint)
        form = QFormLayout()
        self.start = self._field(first)
        self.end = self._field(last)
        form.addRow("From", self.start)
        form.addRow("To", self.end)
        layout.addLayout(form)
        self.start.dateChanged.connect(self._start_changed)
        self._start_changed(self.start.date())
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    @staticmethod
    def _field(day: dt.date) -> QDateEdit:
        edit = QDateEdit(_qdate(day))
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")  # unambiguous in every locale
        return edit

    def _start_changed(self, start: QDate) -> None:
        self.end.setMinimumDate(start)  # QDateEdit moves the To date forward if needed

    def dates(self) -> tuple[dt.date, dt.date]:
        return self.start.date().toPython(), self.end.date().toPython()  # type: ignore[return-value]

    def place_below(self, anchor: QWidget) -> None:
        """Drop down under the filter combo, like a popup."""
        self.adjustSize()
        self.move(anchor.mapToGlobal(QPoint(0, anchor.height() + 2)))
