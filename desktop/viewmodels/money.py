"""The money UI's view-models: quotas, usage, the cost threshold and fallback order (MoneyViewModel), API keys
(KeysViewModel), and the bundle the Settings dialog and the Usage window are built from.

Plain Python over desktop.services.money / keys: the views (desktop.ui.settings, desktop.ui.usage_view) get
these objects and never import a service or storage (import-linter, pyproject.toml). Value types come from
desktop.viewmodels.records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from desktop.services.container import AppServices
from desktop.services.generation import GenerationService
from desktop.services.keys import KeyService
from desktop.services.money import MoneyService, estimate, format_usd, needs_confirmation
from desktop.services.wiring import attach_money
from desktop.viewmodels.records import (JobEvent, KeyStatus, KeyTest, LedgerRow, ProviderSettings, QuotaLimits,
                                        QuotaView, UsageTotal)
from providers.base import ImageRequest
from providers.catalogue import ProviderInfo
from storage import quotas as q

__all__ = ["GLOBAL", "KeysViewModel", "MoneyViewModel", "MoneyViewModels", "build_money_viewmodels",
           "format_usd", "needs_confirmation"]

GLOBAL = q.GLOBAL  # the provider id of the global (all providers) cap


class MoneyViewModel:
    """Quotas, the usage ledger and the money settings; also the per-provider settings (base URL, enabled,
    default model) the provider pages edit."""

    def __init__(self, money: MoneyService) -> None:
        self._money = money

    # -- providers
    def providers(self) -> list[ProviderInfo]:
        return self._money.catalogue.all()

    def provider_ids(self) -> list[str]:
        return self._money.catalogue.ids()

    def names(self) -> dict[str, str]:
        return self._money.names()

    def provider_setting(self, provider_id: str) -> ProviderSettings | None:
        return self._money.settings.provider_setting(provider_id)

    def save_provider_setting(self, setting: ProviderSettings) -> None:
        self._money.settings.save_provider_setting(setting)

    # -- quotas
    def quota_views(self, providers: Sequence[str] | None = None) -> list[QuotaView]:
        return self._money.quota_views(providers)

    def quota_limits(self) -> dict[str, QuotaLimits]:
        """The limits set now, by provider (GLOBAL for the global cap); a provider without any is absent."""
        return q.quotas(self._money.db)

    def set_quota(self, provider: str, images_per_day: int | None = None, usd_per_day: float | None = None,
                  usd_per_month: float | None = None) -> QuotaLimits:
        return self._money.set_quota(provider, images_per_day, usd_per_day, usd_per_month)

    # -- usage
    def usage(self, since: float | None = None) -> list[LedgerRow]:
        return self._money.usage(since)

    def csv(self, rows: Sequence[LedgerRow]) -> str:
        return self._money.csv(rows)

    @staticmethod
    def period_start(now: float, days: int) -> float:
        """Start of the usage period: this calendar month for 0, else the last `days` days (today included)."""
        return q.month_start(now) if days == 0 else q.days_back(now, days - 1)

    @staticmethod
    def summarize(rows: Iterable[LedgerRow], group_by: Sequence[str] = ("provider",)) -> list[UsageTotal]:
        return q.summarize(rows, group_by)

    # -- settings
    def estimate(self, request: ImageRequest) -> float | None:
        """Catalogue price of the whole request; None when unknown."""
        return estimate(request, self._money.catalogue)

    def confirm_threshold(self) -> float:
        return self._money.confirm_threshold()

    def set_confirm_threshold(self, value: float) -> None:
        self._money.set_confirm_threshold(value)

    def fallback_order(self) -> list[str]:
        return self._money.fallback_order()

    def set_fallback_order(self, providers: Sequence[str]) -> None:
        self._money.set_fallback_order(providers)


class KeysViewModel:
    """API keys: where each comes from, saving / removing one, and testing it against the provider."""

    def __init__(self, keys: KeyService) -> None:
        self._keys = keys

    async def status(self, provider: str) -> KeyStatus:
        return await self._keys.status(provider)

    async def statuses(self) -> list[KeyStatus]:
        return await self._keys.statuses()

    async def set(self, provider: str, key: str) -> KeyStatus:
        return await self._keys.set(provider, key)

    async def delete(self, provider: str) -> KeyStatus:
        return await self._keys.delete(provider)

    async def test_key(self, provider: str, key: str | None = None) -> KeyTest:
        return await self._keys.test_key(provider, key)

    async def forget_adapter(self, provider: str) -> None:
        """Drop the cached adapter (its base URL changed); the next job builds a fresh one."""
        factory = self._keys.factory
        if factory is not None:
            await factory.forget(provider)


@dataclass
class MoneyViewModels:
    money: MoneyViewModel
    keys: KeysViewModel
    _generation: GenerationService

    def subscribe_job_events(self, callback: Callable[[JobEvent], None]) -> Callable[[], None]:
        """Call `callback` with every job event (on the publishing thread); returns the unsubscribe."""
        return self._generation.jobs.events.subscribe(callback)


def build_money_viewmodels(services: AppServices, **kwargs: Any) -> MoneyViewModels:
    """Attach keys, quotas and usage to the composition root's services, then wrap them for the views."""
    bundle = attach_money(services, **kwargs)
    return MoneyViewModels(MoneyViewModel(bundle.money), KeysViewModel(bundle.keys), bundle.generation)
