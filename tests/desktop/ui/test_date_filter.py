"""The date filter's "Custom range…": a non-blocking dialog with two calendar-popup date fields."""

from __future__ import annotations

import datetime as dt
import hashlib

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QDateEdit, QDialogButtonBox

from desktop.ui.date_range import day_bounds, label_for
from desktop.ui.filter_bar import CUSTOM
from storage.layout import image_rel_path
from storage.records import ImageRecord
from tests.desktop.ui.test_window import _wait_dialog

DAYS = (dt.date(2024, 3, 1), dt.date(2024, 3, 10), dt.date(2024, 3, 20))


def test_day_bounds_cover_whole_local_days() -> None:
    start, end = day_bounds(dt.date(2024, 3, 10), dt.date(2024, 3, 5))  # reversed input is fine
    assert dt.datetime.fromtimestamp(start) == dt.datetime(2024, 3, 5, 0, 0)
    assert dt.datetime.fromtimestamp(end).date() == dt.date(2024, 3, 10)
    assert dt.datetime.fromtimestamp(end + 0.002).date() == dt.date(2024, 3, 11)
    later = dt.date(2026, 6, 1)
    assert label_for(dt.date(2024, 3, 5), dt.date(2024, 3, 10), later) == "5 Mar – 10 Mar 2024"
    assert label_for(dt.date(2026, 3, 5), dt.date(2026, 3, 10), later) == "5 Mar – 10 Mar"  # this year: short
    assert label_for(dt.date(2023, 12, 30), dt.date(2024, 1, 2), later) == "30 Dec 2023 – 2 Jan 2024"
    assert label_for(dt.date(2024, 3, 5), dt.date(2024, 3, 5), later) == "5 Mar 2024"


def _images_on_days(window) -> dict[dt.date, int]:  # type: ignore[no-untyped-def]
    store = window.services.library.library
    ids = {}
    for day in DAYS:
        sha = hashlib.sha256(str(day).encode()).hexdigest()
        noon = dt.datetime.combine(day, dt.time(12)).timestamp()
        ids[day], _ = store.add_image(ImageRecord(sha256=sha, path=image_rel_path(sha, "png"), format="PNG",
                                                  width=8, height=8, file_size=1, prompt=f"made {day}",
                                                  created_at=noon))
    window.resync()
    return ids


def _set(edit: QDateEdit, day: dt.date) -> None:
    edit.setDate(QDate(day.year, day.month, day.day))


def test_custom_range_filters_the_gallery(qtbot, window) -> None:
    ids = _images_on_days(window)
    qtbot.waitUntil(lambda: window.model.rowCount() == 3 and not window.model.busy, timeout=2000)
    combo = window.filters.dates
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_End)  # keyboard choice of the last item, "Custom range…"
    dialog = _wait_dialog(qtbot, window, "dateRangeDialog")
    assert not window.model.busy and window.model.rowCount() == 3  # nothing applied before a range is chosen
    edits = dialog.findChildren(QDateEdit)
    assert len(edits) == 2 and all(e.calendarPopup() for e in edits)
    _set(dialog.start, dt.date(2024, 3, 5))
    _set(dialog.end, dt.date(2024, 3, 15))
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: window.model.ids == [ids[DAYS[1]]] and not window.model.busy, timeout=2000)
    assert combo.currentText() == "5 Mar – 15 Mar 2024"
    assert window.filters.active_filters() and window.view.empty_title == "No matching images"
    query = window.model.query
    assert query.date_from is not None and query.date_to is not None

    # choosing the item again edits the range; the To field cannot go before From
    combo.activated.emit(CUSTOM)
    dialog = _wait_dialog(qtbot, window, "dateRangeDialog")
    assert dialog.dates() == (dt.date(2024, 3, 5), dt.date(2024, 3, 15))
    _set(dialog.start, dt.date(2024, 3, 20))
    assert dialog.end.date() == QDate(2024, 3, 20)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: window.model.ids == [ids[DAYS[2]]] and not window.model.busy, timeout=2000)

    combo.setCurrentIndex(0)  # "Any time"
    qtbot.waitUntil(lambda: window.model.rowCount() == 3 and not window.model.busy, timeout=2000)
    assert combo.itemText(CUSTOM) == "Custom range…" and not window.filters.active_filters()


def test_cancel_keeps_the_previous_choice(qtbot, window) -> None:
    _images_on_days(window)
    combo = window.filters.dates
    combo.setCurrentIndex(2)  # Last 7 days: the March 2024 images are older
    qtbot.waitUntil(lambda: window.model.rowCount() == 0 and not window.model.busy, timeout=2000)
    combo.setCurrentIndex(CUSTOM)
    combo.activated.emit(CUSTOM)
    dialog = _wait_dialog(qtbot, window, "dateRangeDialog")
    assert dialog.dates()[1] == dt.date.today()  # a sensible default: the last week
    dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: combo.currentIndex() == 2, timeout=2000)
    assert window.model.rowCount() == 0 and window.filters.apply(window.model.query).date_to is None
