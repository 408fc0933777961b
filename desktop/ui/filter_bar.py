"""Search box (debounced), sort, filters and the thumbnail-size slider above the gallery.

The controls come in groups (search, filters, sort, and the size slider unless the window moved it to its
status bar) that share one row when there is room and wrap onto more rows in a narrow window, each group
kept whole."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (QComboBox, QFrame, QHBoxLayout, QLabel, QLineEdit, QSizePolicy, QSlider, QToolButton,
                               QVBoxLayout, QWidget)

from desktop.asyncqt import run_dialog
from desktop.ui.date_range import DateRangeDialog, day_bounds, label_for
from desktop.ui.icons import icon
from desktop.viewmodels.records import ImageQuery

SORTS = (("newest", "Newest first"), ("oldest", "Oldest first"), ("rating", "Top rated"),
         ("collection", "Collection order"))
RATINGS = (("Any rating", 0), ("★ 1+", 1), ("★ 2+", 2), ("★ 3+", 3), ("★ 4+", 4), ("★ 5", 5))
DATES = (("Any time", 0), ("Today", 1), ("Last 7 days", 7), ("Last 30 days", 30), ("Last 365 days", 365),
         ("Custom range…", -1))
CUSTOM = len(DATES) - 1
ALL_PROVIDERS = "All providers"


class FilterBar(QFrame):
    """Emits `changed` with the filter part of the query (search, favourites, rating, provider, dates, sort)."""

    changed = Signal()
    tileSizeChanged = Signal(int)
    customRangeRequested = Signal()  # the window answers with choose_custom_range() (a coroutine)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filterBar")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(6)
        self.rows = [QHBoxLayout() for _ in range(4)]
        for row in self.rows:
            row.setSpacing(8)
            layout.addLayout(row)
        search_group, filter_group, sort_group, size_group = (self._group() for _ in range(4))
        self.groups = [search_group, filter_group, sort_group, size_group]
        self.size_group = size_group
        self._placement: tuple[int, ...] = ()

        self.search = QLineEdit()
        self.search.setObjectName("searchBox")
        self.search.setPlaceholderText("Search prompts, models, seeds…  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.setMinimumWidth(220)
        search_group.layout().addWidget(self.search, 1)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)  # type-ahead without a query per keystroke
        self._debounce.timeout.connect(self.changed)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.search.returnPressed.connect(self._flush)

        self.favorites = QToolButton()
        self.favorites.setCheckable(True)
        self.favorites.setIcon(icon("star"))
        self.favorites.setText("Favorites")
        self.favorites.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.favorites.setToolTip("Show only favorites")
        self.favorites.toggled.connect(self._favorites_toggled)
        search_group.layout().addWidget(self.favorites)

        self.rating = self._combo([t for t, _ in RATINGS], "Minimum rating")
        self.provider = self._combo([ALL_PROVIDERS], "Provider")
        self.dates = QComboBox()
        self.dates.addItems([t for t, _ in DATES])
        self.dates.setToolTip("Created")
        self.dates.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._date_index = 0  # the applied choice; the combo shows "Custom range…" before a range is chosen
        self._range: tuple[dt.date, dt.date] | None = None
        self.dates.currentIndexChanged.connect(self._date_changed)
        self.dates.activated.connect(self._date_activated)
        self.sort = self._combo([t for _, t in SORTS], "Sort order")
        for combo in (self.rating, self.provider, self.dates):
            filter_group.layout().addWidget(combo)
        self.separator = QFrame()
        self.separator.setFrameShape(QFrame.Shape.VLine)
        self.separator.setFrameShadow(QFrame.Shadow.Sunken)
        sort_group.layout().addWidget(self.separator)
        sort_group.layout().addWidget(self.sort)
        small = QLabel("▪")
        small.setObjectName("hint")
        size_group.layout().addWidget(small)
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setObjectName("thumbSize")
        self.size_slider.setRange(96, 512)  # the top end is served by 512 px thumbnails
        self.size_slider.setSingleStep(16)
        self.size_slider.setPageStep(48)
        self.size_slider.setValue(180)
        self.size_slider.setFixedWidth(110)
        self.size_slider.setToolTip("Thumbnail size (Ctrl+= / Ctrl+-)")
        self.size_slider.valueChanged.connect(self.tileSizeChanged)
        size_group.layout().addWidget(self.size_slider)
        big = QLabel("■")
        big.setObjectName("hint")
        size_group.layout().addWidget(big)
        self.set_collection_mode(False)
        self._flow()

    def take_size_control(self) -> QWidget:
        """Hand the thumbnail-size slider to the window (its status bar, as photo browsers do): the filter row
        keeps its width for search and filters."""
        if self.size_group in self.groups:
            self.groups.remove(self.size_group)
            for row in self.rows:
                row.removeWidget(self.size_group)
            self._placement = ()
            self._flow()
        self.size_group.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)  # ▪ —o— ■ stay together
        return self.size_group

    @staticmethod
    def _group() -> QWidget:
        group = QWidget()
        row = QHBoxLayout(group)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        return group

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._flow()

    def row_of(self, group: QWidget) -> int:
        return next(i for i, row in enumerate(self.rows) if row.indexOf(group) >= 0)

    def _flow(self) -> None:
        """Fill rows greedily with whole groups in order; the search group takes the spare width of its row,
        other rows keep the sort and size groups at the right."""
        margins = self.layout().contentsMargins()
        room = max(0, self.width() - margins.left() - margins.right())
        spacing = self.rows[0].spacing() + 8  # a little air between groups
        placement: list[int] = []
        row, used = 0, 0
        for group in self.groups:
            need = group.minimumSizeHint().width() if not group.isHidden() else 0
            if used and used + spacing + need > room:
                row, used = row + 1, 0
            used += (spacing if used else 0) + need
            placement.append(row)
        if tuple(placement) == self._placement:
            return
        self._placement = tuple(placement)
        for group in self.groups:
            for r in self.rows:
                r.removeWidget(group)
        for r in self.rows:
            while r.count():
                r.takeAt(0)  # the stretches left from the previous placement
        for index, (group, r) in enumerate(zip(self.groups, placement)):
            if index >= 2 and placement[0] != r and not any(placement[k] == r for k in range(2, index)):
                self.rows[r].addStretch(1)  # a row without the search box: sort / size sit at the right edge
            self.rows[r].addWidget(group, 1 if index == 0 else 0)
        for r in set(placement):
            if placement[0] != r and not any(placement[k] == r for k in range(2, len(placement))):
                self.rows[r].addStretch(1)  # filters alone on a row: keep them at the left
        self.separator.setVisible(placement[2] == placement[1])  # only between filters and sort on one row

    def _combo(self, items: list[str], tip: str) -> QComboBox:
        combo = QComboBox()
        combo.addItems(items)
        combo.setToolTip(tip)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        combo.currentIndexChanged.connect(lambda _i: self.changed.emit())
        return combo

    def _date_changed(self, index: int) -> None:
        if index == CUSTOM:
            return  # applied once a range is chosen (activated -> dialog)
        self._date_index = index
        self.dates.setItemText(CUSTOM, DATES[CUSTOM][0])
        self.changed.emit()

    def _date_activated(self, index: int) -> None:
        if index == CUSTOM:  # also when it is already the current item: that edits the range
            self.customRangeRequested.emit()

    async def choose_custom_range(self) -> bool:
        """Ask for the range in a small dialog under the combo; Cancel puts the previous choice back."""
        today = dt.date.today()
        first, last = self._range or (today - dt.timedelta(days=6), today)
        dialog = DateRangeDialog(self, first, last)
        dialog.place_below(self.dates)
        try:
            accepted = await run_dialog(dialog) == DateRangeDialog.DialogCode.Accepted
            if accepted:
                self.set_custom_range(*dialog.dates())
            else:
                self.dates.blockSignals(True)
                self.dates.setCurrentIndex(self._date_index)
                self.dates.blockSignals(False)
            return accepted
        finally:
            dialog.deleteLater()

    def set_custom_range(self, first: dt.date, last: dt.date) -> None:
        self._range = (min(first, last), max(first, last))
        self._date_index = CUSTOM
        self.dates.blockSignals(True)
        self.dates.setItemText(CUSTOM, label_for(*self._range))
        self.dates.setCurrentIndex(CUSTOM)
        self.dates.blockSignals(False)
        self.changed.emit()

    def _flush(self) -> None:
        self._debounce.stop()
        self.changed.emit()

    def _favorites_toggled(self, on: bool) -> None:
        self.favorites.setIcon(icon("star-filled" if on else "star"))
        self.changed.emit()

    # -- state -----------------------------------------------------------------------------------------
    def set_providers(self, providers: list[str]) -> None:
        current = self.provider.currentText()
        self.provider.blockSignals(True)
        self.provider.clear()
        self.provider.addItems([ALL_PROVIDERS, *providers])
        index = self.provider.findText(current)
        self.provider.setCurrentIndex(max(0, index))
        self.provider.blockSignals(False)
        self.provider.setVisible(bool(providers))

    def set_collection_mode(self, in_collection: bool) -> None:
        """'Collection order' only makes sense inside a collection: it becomes the default there."""
        model = self.sort.model()
        item = model.item(3)  # type: ignore[attr-defined]
        item.setEnabled(in_collection)
        self.sort.blockSignals(True)
        if in_collection and self.sort_key() == "newest":
            self.sort.setCurrentIndex(3)
        elif not in_collection and self.sort_key() == "collection":
            self.sort.setCurrentIndex(0)
        self.sort.blockSignals(False)

    def set_sort(self, key: str) -> None:
        keys = [k for k, _ in SORTS]
        if key in keys:
            self.sort.setCurrentIndex(keys.index(key))

    def sort_key(self) -> str:
        return SORTS[max(0, self.sort.currentIndex())][0]

    def apply(self, query: ImageQuery, *, now: float | None = None) -> ImageQuery:
        days = DATES[self._date_index][1]
        now = time.time() if now is None else now
        date_from = date_to = None
        if self._date_index == CUSTOM and self._range is not None:
            date_from, date_to = day_bounds(*self._range)
        elif days > 0:
            start_of_today = time.mktime(time.localtime(now)[:3] + (0, 0, 0, 0, 0, -1))
            date_from = start_of_today - (days - 1) * 86400
        provider = self.provider.currentText()
        return replace(query, search=self.search.text().strip(), favorites=self.favorites.isChecked(),
                       min_rating=RATINGS[max(0, self.rating.currentIndex())][1],
                       provider="" if provider == ALL_PROVIDERS else provider,
                       date_from=date_from, date_to=date_to, sort=self.sort_key())

    def active_filters(self) -> bool:
        return bool(self.search.text().strip() or self.favorites.isChecked() or self.rating.currentIndex()
                    or self.provider.currentIndex() > 0 or self._date_index)
