"""One settings page per provider: API key (masked, show/hide, keychain save/remove, test with verdict and
balance), base URL override, enabled, default model.

Key actions apply at once (they talk to the keychain); the other fields are applied by the dialog's Save.
The typed key lives only in the line edit and is cleared as soon as it is saved.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QFrame, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QToolButton, QVBoxLayout, QWidget)

from providers.catalogue import ProviderInfo
from desktop.viewmodels.money import KeysViewModel, MoneyViewModel
from desktop.viewmodels.records import KeyStatus, KeyTest, ProviderSettings
from providers.registry import base_url_env_names

Spawn = Callable[[Coroutine[Any, Any, Any]], Any]


def effective_base_url(info: ProviderInfo, typed: str, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The address the app will call and where it comes from: an environment variable's name, "settings"
    or "default" — the same order as providers.registry.resolve_base_url."""
    env = os.environ if env is None else env
    for name in base_url_env_names(info.id):
        if env.get(name):
            return env[name].rstrip("/"), name
    if typed.strip():
        return typed.strip().rstrip("/"), "settings"
    return info.base_url.rstrip("/"), "default"
OK_GREEN = QColor(46, 160, 67)
BAD_RED = QColor(207, 34, 46)


def banner(text: str, name: str = "keyringBanner") -> QLabel:
    """A soft warning strip (palette-relative, so it works in dark themes too)."""
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setStyleSheet("QLabel { background: rgba(240, 173, 40, 0.18); border: 1px solid rgba(240, 173, 40, 0.6);"
                        " border-radius: 6px; padding: 8px 10px; }")
    return label


def page_title(text: str, subtitle: str = "") -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 4)
    layout.setSpacing(2)
    title = QLabel(text)
    font = title.font()
    font.setPointSizeF(font.pointSizeF() * 1.35)
    font.setBold(True)
    title.setFont(font)
    layout.addWidget(title)
    if subtitle:
        sub = QLabel(subtitle)
        sub.setObjectName("hint")
        sub.setWordWrap(True)
        sub.setOpenExternalLinks(True)
        layout.addWidget(sub)
    return box


class ProviderPage(QWidget):
    def __init__(self, info: ProviderInfo, keys: KeysViewModel, library: MoneyViewModel, spawn: Spawn,
                 on_settings_changed: Callable[[str], Coroutine[Any, Any, Any]] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"providerPage_{info.id}")
        self.info, self.keys, self.library, self.spawn = info, keys, library, spawn
        self._on_settings_changed = on_settings_changed
        self.status: KeyStatus | None = None
        self.last_test: KeyTest | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(12)
        link = f' · <a href="{info.key_url}">Get a key</a>' if info.key_url else ""
        kind = "Runs on your computer" if info.local else ("API key required" if info.needs_key
                                                            else "Works without a key")
        layout.addWidget(page_title(info.name, f"{kind}{link}"))
        self.banner = banner("")
        self.banner.hide()
        layout.addWidget(self.banner)
        layout.addWidget(self._key_box())
        layout.addWidget(self._settings_box())
        layout.addStretch(1)
        self.load_settings()

    # -- layout ---------------------------------------------------------------------------------------
    def _key_box(self) -> QFrame:
        box = QFrame()
        box.setObjectName("keyBox")
        form = QVBoxLayout(box)
        form.setContentsMargins(0, 0, 0, 0)
        form.setSpacing(8)
        heading = QLabel("API key" if self.info.needs_key else "API key (optional)")
        heading.setObjectName("sectionTitle")
        form.addWidget(heading)
        row = QHBoxLayout()
        self.key_edit = QLineEdit()
        self.key_edit.setObjectName("keyEdit")
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setClearButtonEnabled(True)
        self.key_edit.setMinimumWidth(320)
        # Never let the key into the clipboard history or an input method's dictionary by accident.
        self.key_edit.setInputMethodHints(Qt.InputMethodHint.ImhHiddenText | Qt.InputMethodHint.ImhSensitiveData
                                          | Qt.InputMethodHint.ImhNoPredictiveText)
        self.key_edit.textChanged.connect(self._update_buttons)
        row.addWidget(self.key_edit, 1)
        self.show_key = QToolButton()
        self.show_key.setObjectName("showKey")
        self.show_key.setText("Show")
        self.show_key.setCheckable(True)
        self.show_key.setToolTip("Show or hide the key you are typing")
        self.show_key.toggled.connect(self._toggle_echo)
        row.addWidget(self.show_key)
        form.addLayout(row)
        self.source_label = QLabel("Checking the keychain…")
        self.source_label.setObjectName("keySource")
        form.addWidget(self.source_label)
        buttons = QHBoxLayout()
        self.save_button = QPushButton("Save to keychain")
        self.save_button.setObjectName("saveKey")
        self.save_button.clicked.connect(lambda: self.spawn(self.save_key()))
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName("removeKey")
        self.remove_button.clicked.connect(lambda: self.spawn(self.remove_key()))
        self.test_button = QPushButton("Test key")
        self.test_button.setObjectName("testKey")
        self.test_button.clicked.connect(lambda: self.spawn(self.test_key()))
        for b in (self.save_button, self.remove_button, self.test_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        form.addLayout(buttons)
        self.verdict = QLabel("")
        self.verdict.setObjectName("verdict")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addWidget(self.verdict)
        self.balance = QLabel("")
        self.balance.setObjectName("balance")
        self.balance.hide()
        form.addWidget(self.balance)
        self._update_buttons()
        return box

    def _settings_box(self) -> QFrame:
        box = QFrame()
        form = QFormLayout(box)
        form.setContentsMargins(0, 8, 0, 0)
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(8)
        heading = QLabel("Connection")
        heading.setObjectName("sectionTitle")
        form.addRow(heading)
        self.base_url = QLineEdit()
        self.base_url.setObjectName("baseUrl")
        self.base_url.setPlaceholderText(self.info.base_url)
        self.base_url.setToolTip("Leave empty to use the provider's address; set it for a proxy or a local server")
        self.base_url.textChanged.connect(lambda _t: self._show_effective_url())
        self.effective_url = QLabel()
        self.effective_url.setObjectName("effectiveUrl")
        self.effective_url.setWordWrap(True)
        self.effective_url.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        url_box = QWidget()
        url_column = QVBoxLayout(url_box)
        url_column.setContentsMargins(0, 0, 0, 0)
        url_column.setSpacing(3)
        url_column.addWidget(self.base_url)
        url_column.addWidget(self.effective_url)
        form.addRow("Base URL", url_box)
        self.enabled = QCheckBox("Offer this provider in the Generate panel")
        self.enabled.setObjectName("enabled")
        form.addRow("Enabled", self.enabled)
        self.default_model = QComboBox()
        self.default_model.setObjectName("defaultModel")
        for caps in self.info.models:
            self.default_model.addItem(caps.label, caps.model)
        form.addRow("Default model", self.default_model)
        if self.info.prices_date:
            prices = QLabel(f"Prices in the catalogue date from {self.info.prices_date}; "
                            "the provider's own figure is used when it reports one.")
            prices.setObjectName("hint")
            prices.setWordWrap(True)
            form.addRow(prices)
        return box

    # -- state ----------------------------------------------------------------------------------------
    def _show_effective_url(self) -> None:
        url, source = effective_base_url(self.info, self.base_url.text())
        where = {"default": "the provider's default", "settings": "from settings"}.get(source, f"from {source}")
        text = f"In use: {url} ({where})"
        if source not in ("default", "settings") and self.base_url.text().strip():
            text += f" — {source} wins over the address typed above"
        self.effective_url.setText(text)
        plain = source in ("default", "settings")
        self.effective_url.setStyleSheet("QLabel { color: palette(placeholder-text); }" if plain
                                         else "QLabel { color: #b26b00; }")  # an environment override stands out

    def _toggle_echo(self, shown: bool) -> None:
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)
        self.show_key.setText("Hide" if shown else "Show")

    def _update_buttons(self) -> None:
        typed = bool(self.key_edit.text().strip())
        self.save_button.setEnabled(typed)
        stored = self.status is not None and self.status.source in ("keychain", "session")
        self.remove_button.setEnabled(stored)
        self.test_button.setEnabled(typed or (self.status is not None and self.status.source != "none")
                                    or not self.info.needs_key)
        self.test_button.setText("Test typed key" if typed else "Test key")

    def show_status(self, status: KeyStatus) -> None:
        self.status = status
        self.source_label.setText(f"Current key: {status.described}")
        placeholder = {"keychain": "•••••••• saved — type a new key to replace it",
                       "session": "•••••••• kept for this session — type a new key to replace it",
                       "environment": f"using {status.env_var} from the environment — type a key to override",
                       "none": "Paste your API key"}[status.source]
        self.key_edit.setPlaceholderText(placeholder)
        self.banner.setVisible(not status.keychain)
        self.banner.setText(status.reason or "No system keyring found; key kept for this session only")
        # Say what the button really does: without a keychain the key lives in memory until the app quits.
        self.save_button.setText("Save to keychain" if status.keychain else "Keep for this session")
        self.save_button.setToolTip("" if status.keychain else "No system keyring: the key is forgotten when "
                                                               "the app quits")
        self._update_buttons()

    def show_verdict(self, result: KeyTest) -> None:
        self.last_test = result
        self.verdict.setText(("✓ " if result.ok else "✗ ") + result.verdict)
        self.balance.setVisible(result.balance is not None)
        if result.balance is not None:
            self.balance.setText(f"Account balance: <b>{result.balance:,.2f}</b> credits")
        palette = self.verdict.palette()
        palette.setColor(QPalette.ColorRole.WindowText, OK_GREEN if result.ok else BAD_RED)
        self.verdict.setPalette(palette)

    async def refresh(self) -> None:
        self.show_status(await self.keys.status(self.info.id))

    # -- key actions (coroutines run by the TaskRunner) ------------------------------------------------
    async def save_key(self) -> None:
        key = self.key_edit.text().strip()
        if not key:
            return
        self.save_button.setEnabled(False)
        status = await self.keys.set(self.info.id, key)
        self.key_edit.clear()  # the key now lives in the keychain (or session memory), not in the widget
        self.show_status(status)
        self.verdict.setText("Saved in the system keychain." if status.source == "keychain"
                             else "Kept for this session only (no system keyring).")
        self.verdict.setPalette(self.source_label.palette())

    async def remove_key(self) -> None:
        status = await self.keys.delete(self.info.id)
        self.show_status(status)
        self.verdict.setPalette(self.source_label.palette())
        self.verdict.setText("Key removed." + (f" {status.env_var} is still set in the environment."
                                               if status.source == "environment" else ""))

    async def test_key(self) -> KeyTest:
        self.test_button.setEnabled(False)
        self.verdict.setPalette(self.source_label.palette())
        self.verdict.setText("Testing…")
        try:
            result = await self.keys.test_key(self.info.id, self.key_edit.text().strip() or None)
        except asyncio.CancelledError:
            raise
        finally:
            self._update_buttons()
        self.show_verdict(result)
        return result

    # -- provider settings (applied by the dialog's Save) ----------------------------------------------
    def load_settings(self) -> None:
        current = self.library.provider_setting(self.info.id) or ProviderSettings(self.info.id)
        self.base_url.setText(current.base_url)
        self._show_effective_url()  # also when the text did not change (textChanged would not fire)
        self.enabled.setChecked(current.enabled)
        wanted = current.default_model or self.info.default_model
        index = self.default_model.findData(wanted)
        self.default_model.setCurrentIndex(max(0, index))

    def settings(self) -> ProviderSettings:
        current = self.library.provider_setting(self.info.id) or ProviderSettings(self.info.id)
        return ProviderSettings(self.info.id, self.base_url.text().strip().rstrip("/"), self.enabled.isChecked(),
                                self.default_model.currentData() or "", current.settings)

    async def apply(self) -> bool:
        """Save base URL / enabled / default model; True when something changed."""
        new = self.settings()
        old = self.library.provider_setting(self.info.id) or ProviderSettings(self.info.id)
        if new == old:
            return False
        url = new.base_url
        if url and not url.startswith(("http://", "https://")):
            raise ValueError(f"{self.info.name}: the base URL must start with http:// or https://")
        self.library.save_provider_setting(new)
        if new.base_url != old.base_url and self._on_settings_changed is not None:
            await self._on_settings_changed(self.info.id)  # the cached adapter still points at the old URL
        return True
