"""The value types views receive from and hand to the view-models.

They are plain frozen dataclasses defined next to the code that fills them (storage.records, storage.journal,
storage.quotas, storage.prefs, desktop.services.jobs / keys / money); views import them from here so that no
view depends on storage or on a service (import-linter checks it, see pyproject.toml).
"""

from __future__ import annotations

from desktop.services.jobs import JobEvent
from desktop.services.keys import KeyStatus, KeyTest
from desktop.services.money import QuotaView
from storage.journal import JobRecord
from storage.prefs import ProviderSettings
from storage.quotas import LedgerRow, QuotaLimits, UsageTotal
from storage.records import CollectionRow, ImageQuery, ImageRow

__all__ = ["CollectionRow", "ImageQuery", "ImageRow", "JobEvent", "JobRecord", "KeyStatus", "KeyTest", "LedgerRow",
           "ProviderSettings", "QuotaLimits", "QuotaView", "UsageTotal"]
