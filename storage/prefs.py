"""Application and per-provider settings rows (JSON values). Never secrets: keys live in the keyring."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from storage.base import StoreBase


@dataclass(frozen=True)
class ProviderSettings:
    provider: str
    base_url: str = ""
    enabled: bool = True
    default_model: str = ""
    settings: dict[str, Any] = field(default_factory=dict)


class SettingsOps(StoreBase):
    """The settings half of storage.library.Library."""

    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self._db.execute_sql("SELECT value_json FROM app_setting WHERE key = ?", (key,)).fetchone()
        if row is None:
            return default
        try:
            return json.loads(row[0])
        except ValueError:
            return default  # a hand-edited, unreadable value falls back like a missing one

    def set_setting(self, key: str, value: Any) -> None:
        encoded = json.dumps(value)  # TypeError for values that are not JSON: caught before writing
        with self._write("save the setting"):
            self._db.execute_sql("INSERT INTO app_setting (key, value_json) VALUES (?, ?) "
                                 "ON CONFLICT (key) DO UPDATE SET value_json = excluded.value_json",
                                 (key, encoded))

    def provider_setting(self, provider: str) -> ProviderSettings | None:
        row = self._db.execute_sql(
            "SELECT provider, base_url, enabled, default_model, settings_json FROM provider_setting "
            "WHERE provider = ?", (provider,)).fetchone()
        if row is None:
            return None
        try:
            extra = json.loads(row[4])
        except ValueError:
            extra = {}
        return ProviderSettings(provider=row[0], base_url=row[1], enabled=bool(row[2]), default_model=row[3],
                                settings=extra if isinstance(extra, dict) else {})

    def save_provider_setting(self, setting: ProviderSettings) -> None:
        encoded = json.dumps(setting.settings)
        with self._write("save the provider settings"):
            self._db.execute_sql(
                "INSERT INTO provider_setting (provider, base_url, enabled, default_model, settings_json) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (provider) DO UPDATE SET base_url = excluded.base_url, "
                "enabled = excluded.enabled, default_model = excluded.default_model, "
                "settings_json = excluded.settings_json",
                (setting.provider, setting.base_url, int(setting.enabled), setting.default_model, encoded))
