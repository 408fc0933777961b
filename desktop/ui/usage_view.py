"""Usage and costs: spend or images per day, stacked by provider (QtCharts), totals per provider, the ledger
table, and CSV export. Reads the ledger through MoneyService (a few hundred rows a month: cheap)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCharts import QBarCategoryAxis, QBarSet, QChart, QChartView, QStackedBarSeries, QValueAxis
from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from desktop.asyncqt import run_dialog
from desktop.viewmodels.money import MoneyViewModel
from desktop.viewmodels.records import LedgerRow, UsageTotal

Spawn = Callable[[Coroutine[Any, Any, Any]], Any]
PERIODS = (("Last 7 days", 7), ("Last 30 days", 30), ("This month", 0), ("Last 12 months", 365))
PROVIDER_COLOURS = ("#3d8ee0", "#e07b39", "#4caf7a", "#a66cd6", "#d4a72c", "#e0567a", "#5bb8c9")
COLUMNS = ("When", "Provider", "Model", "Status", "Images", "Cost", "Reported", "Latency", "Request id")


def _days(since: float, now: float) -> list[date]:
    first, last = datetime.fromtimestamp(since).date(), datetime.fromtimestamp(now).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


class UsageView(QWidget):
    def __init__(self, money: MoneyViewModel, spawn: Spawn, parent: QWidget | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(parent)
        self.setObjectName("usageView")
        self.money, self.spawn, self.clock = money, spawn, clock
        self.rows: list[LedgerRow] = []
        self.axis_title = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(10)

        bar = QHBoxLayout()
        self.period = QComboBox()
        self.period.setObjectName("usagePeriod")
        for label, days in PERIODS:
            self.period.addItem(label, days)
        self.period.setCurrentIndex(1)
        self.period.currentIndexChanged.connect(lambda _i: self.refresh())
        bar.addWidget(self.period)
        self.metric = QButtonGroup(self)
        for i, text in enumerate(("Spend", "Images")):
            button = QPushButton(text)
            button.setCheckable(True)
            button.setObjectName(f"metric{text}")
            self.metric.addButton(button, i)
            bar.addWidget(button)
        self.metric.button(0).setChecked(True)
        self.metric.idClicked.connect(lambda _i: self._draw_chart())
        bar.addStretch(1)
        self.totals = QLabel("")
        self.totals.setObjectName("usageTotals")
        bar.addWidget(self.totals)
        bar.addSpacing(12)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setObjectName("exportCsv")
        self.export_button.clicked.connect(lambda: self.spawn(self.ask_export()))
        bar.addWidget(self.export_button)
        layout.addLayout(bar)

        self.chart = QChart()
        self.chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        self.chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.chart.setMargins(QMargins(4, 4, 4, 4))
        self.chart.setBackgroundRoundness(6)
        self.chart_view = QChartView(self.chart)
        self.chart_view.setObjectName("usageChart")
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_view.setMinimumHeight(300)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("usageTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.by_provider = QTableWidget(0, 4)
        self.by_provider.setObjectName("usageByProvider")
        self.by_provider.setHorizontalHeaderLabels(("Provider", "Requests", "Images", "Spend"))
        self.by_provider.verticalHeader().setVisible(False)
        self.by_provider.verticalHeader().setDefaultSectionSize(24)
        self.by_provider.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.by_provider.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.by_provider.setFixedWidth(270)
        self.by_provider.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.by_provider.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in (1, 2, 3):
            self.by_provider.horizontalHeader().setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        top = QWidget()
        top_layout = QHBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.chart_view, 1)
        side = QVBoxLayout()
        caption = QLabel("By provider")
        caption.setObjectName("sectionTitle")
        side.addWidget(caption)
        side.addWidget(self.by_provider)
        side.addStretch(1)
        top_layout.addLayout(side)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.table)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout.addWidget(split, 1)
        self.refresh()

    # -- data -----------------------------------------------------------------------------------------
    def since(self) -> float:
        now = self.clock()
        days = int(self.period.currentData())
        return self.money.period_start(now, days)

    def refresh(self) -> None:
        self.rows = self.money.usage(self.since())
        self._draw_chart()
        self._fill_table()
        self._fill_totals()
        total = self.money.summarize(self.rows, ())
        t = total[0] if total else UsageTotal(())
        self.totals.setText(f"<b>${t.usd:,.2f}</b> · {t.images} images · {t.requests} requests"
                            + (f" · {t.failed} failed" if t.failed else ""))

    def series_data(self) -> tuple[list[str], dict[str, list[float]]]:
        """(bucket labels, {provider: value per bucket}) for the current metric: what the chart draws.
        Days for periods up to two months, calendar months beyond (365 bars would be unreadable)."""
        spend = self.metric.checkedId() == 0
        days = _days(self.since(), self.clock())
        monthly = len(days) > 62
        keys = list(dict.fromkeys(d.strftime("%Y-%m") if monthly else d.isoformat() for d in days))
        index = {k: i for i, k in enumerate(keys)}
        values: dict[str, list[float]] = {}
        for total in self.money.summarize(self.rows, ("day", "provider")):
            day, provider = total.key
            bucket = index.get(day[:7] if monthly else day)
            if bucket is not None:
                values.setdefault(provider, [0.0] * len(keys))[bucket] += total.usd if spend else total.images
        # Day numbers only: thirty "24 Nov" labels do not fit side by side; the axis title gives the months.
        fmt = "%b %y" if monthly else "%d"
        labels = [datetime.strptime(k, "%Y-%m" if monthly else "%Y-%m-%d").strftime(fmt).lstrip("0") for k in keys]
        self.axis_title = f"{days[0].strftime('%d %b %Y').lstrip('0')} – {days[-1].strftime('%d %b %Y').lstrip('0')}"
        return labels, values

    def _draw_chart(self) -> None:
        self.chart.removeAllSeries()
        for axis in self.chart.axes():
            self.chart.removeAxis(axis)
        labels, values = self.series_data()
        spend = self.metric.checkedId() == 0
        self.chart.setTitle("Spend per day (USD)" if spend else "Images per day")
        series = QStackedBarSeries()
        names = self.money.names()
        order = [p for p in self.money.provider_ids() if p in values] + sorted(set(values) - set(names))
        for i, provider in enumerate(order):
            bar_set = QBarSet(names.get(provider, provider))
            bar_set.append(values[provider])
            bar_set.setColor(QColor(PROVIDER_COLOURS[i % len(PROVIDER_COLOURS)]))
            bar_set.setBorderColor(QColor(PROVIDER_COLOURS[i % len(PROVIDER_COLOURS)]))
            series.append(bar_set)
        self.chart.addSeries(series)
        x = QBarCategoryAxis()
        x.append(labels)
        x.setGridLineVisible(False)
        x.setTitleText(self.axis_title)
        x.setTruncateLabels(False)  # Qt elides "24" to "…" on narrow bars although it fits
        y = QValueAxis()
        peak = max((sum(col) for col in zip(*values.values())), default=0.0)
        y.setRange(0, _nice_max(peak, spend))
        y.setLabelFormat("$%.2f" if spend else "%d")
        y.setTickCount(5)
        self.chart.addAxis(x, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(y, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(x)
        series.attachAxis(y)
        self.chart.legend().setVisible(bool(order))

    def _fill_table(self) -> None:
        names = self.money.names()
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            reported = "" if row.reported_usd is None else f"${row.reported_usd:.4f}"
            if not reported and row.reported_raw:
                reported = row.reported_raw[:60]
            cells = (datetime.fromtimestamp(row.created_at).strftime("%Y-%m-%d %H:%M"),
                     names.get(row.provider, row.provider), row.model, row.status, str(row.images),
                     f"${row.cost_usd:.4f}", reported,
                     "" if row.latency_ms is None else f"{row.latency_ms / 1000:.1f} s", row.request_id)
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c in (4, 5, 7):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if row.status in ("failed", "cancelled"):
                    item.setForeground(self.palette().placeholderText())
                self.table.setItem(r, c, item)

    def _fill_totals(self) -> None:
        names = self.money.names()
        totals = self.money.summarize(self.rows, ("provider",))
        totals.sort(key=lambda t: -t.usd)
        self.by_provider.setRowCount(len(totals))
        for r, t in enumerate(totals):
            cells = (names.get(t.key[0], t.key[0]), str(t.requests), str(t.images), f"${t.usd:,.2f}")
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.by_provider.setItem(r, c, item)
        # As tall as its rows: an empty white box under four providers looks broken.
        height = self.by_provider.horizontalHeader().height() + 24 * max(1, len(totals)) + 4
        self.by_provider.setFixedHeight(height)

    # -- export ---------------------------------------------------------------------------------------
    async def export_csv(self, path: Path, rows: Sequence[LedgerRow] | None = None) -> Path:
        text = self.money.csv(self.rows if rows is None else rows)
        await asyncio.to_thread(Path(path).write_text, text, encoding="utf-8", newline="")
        return Path(path)

    async def ask_export(self) -> Path | None:
        dialog = QFileDialog(self, "Export usage as CSV")
        dialog.setObjectName("exportCsvDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("CSV files (*.csv)")
        dialog.setDefaultSuffix("csv")
        dialog.selectFile(f"images-studio-usage-{date.today().isoformat()}.csv")
        if await run_dialog(dialog) != QFileDialog.DialogCode.Accepted or not dialog.selectedFiles():
            return None
        path = await self.export_csv(Path(dialog.selectedFiles()[0]))
        self.totals.setText(self.totals.text() + f" · exported to {path.name}")
        return path


def _nice_max(peak: float, money: bool) -> float:
    """A round axis maximum a little above the peak, so bars never touch the top."""
    if peak <= 0:
        return 1.0 if money else 4.0
    for step in (0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 5000):
        if peak * 1.1 <= step * 4:
            return step * 4
    return peak * 1.2
