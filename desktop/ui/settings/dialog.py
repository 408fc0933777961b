"""The Settings dialog: a sidebar (one entry per provider, then Quotas and General) over stacked pages.

Non-modal and never exec()'d: install_money_ui shows it with show(), and async work (keychain, key tests)
runs through the window's TaskRunner.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFrame, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QStackedWidget, QVBoxLayout, QWidget)

from desktop.ui.settings.general_page import GeneralPage
from desktop.ui.settings.provider_page import ProviderPage
from desktop.ui.settings.quotas_page import QuotasPage
from desktop.viewmodels.money import MoneyViewModels

Spawn = Callable[[Coroutine[Any, Any, Any]], Any]


class SettingsDialog(QDialog):
    def __init__(self, bundle: MoneyViewModels, spawn: Spawn, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.resize(920, 660)
        self.bundle = bundle
        self.spawn = spawn
        providers = bundle.money.providers()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 12)
        body = QHBoxLayout()
        body.setSpacing(0)
        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setFixedWidth(224)
        self.sidebar.setSpacing(1)
        self.sidebar.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.sidebar.setTextElideMode(Qt.TextElideMode.ElideRight)
        side = QFrame()
        side.setObjectName("settingsSide")
        side.setStyleSheet("QFrame#settingsSide { background: palette(alternate-base); "
                           "border-right: 1px solid palette(midlight); }")
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(8, 12, 8, 8)
        side_layout.addWidget(self.sidebar)
        self.stack = QStackedWidget()
        body.addWidget(side)
        body.addWidget(self.stack, 1)
        layout.addLayout(body, 1)

        self.provider_pages: dict[str, ProviderPage] = {}
        self._section("PROVIDERS")
        for info in providers:
            page = ProviderPage(info, bundle.keys, bundle.money, spawn, self._provider_changed)
            self.provider_pages[info.id] = page
            self._add(info.name, page)
        self._section("SPENDING")
        paid = [i.id for i in providers if not i.local and any((m.price_usd or 0) > 0 for m in i.models)]
        self.quotas = QuotasPage(bundle.money, paid)
        self._add("Quotas", self.quotas)
        self.general = GeneralPage(bundle.money)
        self._add("General", self.general)
        self.sidebar.currentRowChanged.connect(self._show_row)

        footer = QHBoxLayout()
        footer.setContentsMargins(16, 10, 16, 0)
        self.status = QLabel("")
        self.status.setObjectName("hint")
        footer.addWidget(self.status, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setObjectName("saveSettings")
        self.buttons.accepted.connect(lambda: self.spawn(self.apply()))
        self.buttons.rejected.connect(self.close)
        footer.addWidget(self.buttons)
        layout.addLayout(footer)
        self.sidebar.setCurrentRow(1)
        self.spawn(self.refresh_keys())

    # -- navigation -----------------------------------------------------------------------------------
    def _section(self, text: str) -> None:
        item = QListWidgetItem(text)
        item.setFlags(Qt.ItemFlag.NoItemFlags)  # a heading, not a page
        font = item.font()
        font.setPointSizeF(font.pointSizeF() * 0.8)
        font.setBold(True)
        item.setFont(font)
        self.sidebar.addItem(item)
        self.stack.addWidget(QWidget())  # keep rows and stack indexes aligned

    def _add(self, text: str, page: QWidget) -> None:
        self.sidebar.addItem(QListWidgetItem(text))
        self.stack.addWidget(page)

    def _show_row(self, row: int) -> None:
        self.stack.setCurrentIndex(row)
        if self.stack.currentWidget() is self.quotas:
            self.quotas.refresh()

    def show_page(self, name: str) -> QWidget:
        """Select a page by provider id, "quotas" or "general"."""
        page = {"quotas": self.quotas, "general": self.general}.get(name) or self.provider_pages[name]
        self.sidebar.setCurrentRow(self.stack.indexOf(page))
        return page

    # -- async ----------------------------------------------------------------------------------------
    async def refresh_keys(self) -> None:
        for status in await self.bundle.keys.statuses():
            page = self.provider_pages.get(status.provider)
            if page is not None:
                page.show_status(status)

    async def _provider_changed(self, provider: str) -> None:
        await self.bundle.keys.forget_adapter(provider)

    async def apply(self) -> bool:
        """Save every page's settings (keys are saved by their own buttons)."""
        try:
            changed = [await page.apply() for page in self.provider_pages.values()]
            changed += [self.quotas.apply(), self.general.apply()]
        except ValueError as exc:
            self.status.setText(f"Not saved: {exc}")
            return False
        self.status.setText("Saved." if any(changed) else "Nothing to save.")
        return True
