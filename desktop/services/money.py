"""Money without Qt: the quota guard JobService calls, price estimates, provider-reported costs, and the
settings the money UI edits (cost confirmation threshold, fallback order).

Reservations run on the caller's thread (the loop thread, which is the one DB writer). `quotas.reserve` has no
await inside and runs in one BEGIN IMMEDIATE transaction, so twenty coroutines reserving at once are served
strictly one after another; a second process (the CLI next to the window) waits on SQLite's write lock.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from desktop.services.jobs import JobEvent, QuotaBlocked
from providers.base import ImageRequest, ImageResult
from providers.catalogue import Catalogue
from storage import quotas as q

log = logging.getLogger(__name__)

CONFIRM_KEY = "confirm_cost_usd"
CONFIRM_DEFAULT = 1.00
FALLBACK_KEY = "fallback_order"
_TERMINAL = {"done": "ok", "failed": "failed", "cancelled": "cancelled"}


# ------------------------------------------------------------------------------------------- prices


def unit_price(request: ImageRequest, catalogue: Catalogue) -> float | None:
    """Catalogue price of one image at the request's size and quality; None when unknown."""
    if request.provider not in catalogue:
        return None
    caps = catalogue.capabilities(request.provider, request.model)
    return caps.price_for(request.size, request.quality) if caps else None


def estimate(request: ImageRequest, catalogue: Catalogue) -> float | None:
    """Estimated cost of the whole request (count x unit price); None when the catalogue has no price."""
    unit = unit_price(request, catalogue)
    return None if unit is None else round(unit * max(1, request.count), 6)


def format_usd(value: float | None) -> str:
    if value is None:
        return "price unknown"
    if value == 0:
        return "free"
    return f"${value:.3f}" if value < 0.1 else f"${value:.2f}"


def needs_confirmation(estimated: float | None, threshold: float | None) -> bool:
    """A confirmation is asked when one action would cost more than the user's threshold."""
    return estimated is not None and threshold is not None and estimated > threshold


def reported_cost(result: ImageResult | None) -> tuple[float | None, str]:
    """(USD the provider reported, raw usage JSON for the ledger).

    OpenAI: the adapter already turned `usage` tokens into cost_usd. Replicate: metrics are times only (no
    cost). KIE: credits whose USD rate is unverified, so they are kept raw, never converted.
    """
    if result is None:
        return None, ""
    return result.cost_usd, q.raw_json(result.usage)


# ------------------------------------------------------------------------------------------- the guard


class QuotaGuard:
    """JobService's Guard over storage.quotas: reserve before a request leaves, settle when it ends."""

    def __init__(self, db: Any, *, names: dict[str, str] | None = None,
                 clock: Callable[[], float] = time.time,
                 running: Callable[[], Iterable[int]] = lambda: ()) -> None:
        self.db = db
        self.names = names or {}
        self.clock = clock
        self.running = running  # job ids in progress: their old reservations are not stale

    async def reserve(self, job_id: int, provider: str, model: str, count: int,
                      unit_usd: float) -> q.Reservation:
        try:
            # No await between the quota check and the insert: the loop cannot interleave another reserve.
            return q.reserve(self.db, job_id, provider, model, count, unit_usd, self.clock(),
                             names=self.names, running=self.running())
        except q.QuotaExceeded as exc:
            raise QuotaBlocked(exc.message, provider=provider) from None

    async def settle(self, reservation: q.Reservation, outcome: str, *, latency_ms: int,
                     result: ImageResult | None) -> None:
        usd, raw = reported_cost(result)
        images = len(result.images) if result is not None else 0
        try:
            q.settle(self.db, reservation.ledger_id, outcome if outcome in q.STATUSES else "failed",
                     latency_ms, usd, raw, (result.request_id or "") if result else "", images)
        except Exception:  # a ledger write must never turn a delivered image into a failed job
            log.exception("could not settle ledger row %s", reservation.ledger_id)

    def on_job_event(self, event: JobEvent) -> None:
        """Settle reservations of jobs that end without a reservation object (resumed after a restart).

        Rows the normal path settles are no longer "reserved" by then, so this only touches leftovers.
        """
        status = _TERMINAL.get(event.kind)
        if status is None:
            return
        try:
            q.settle_job(self.db, event.job_id, status)
        except Exception:
            log.exception("could not settle the reservations of job %s", event.job_id)


# ------------------------------------------------------------------------------------------- use cases


@dataclass(frozen=True)
class QuotaView:
    """One quota with what has been used, for `quota show` and the progress bars."""

    provider: str
    label: str
    limits: q.QuotaLimits
    used: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {**self.limits.to_json(), "label": self.label, "images_today": int(self.used["images_today"]),
                "usd_today": round(self.used["usd_today"], 6), "usd_month": round(self.used["usd_month"], 6)}


class MoneyService:
    """Quotas, usage and money settings over the library database (CLI and settings dialog share it)."""

    def __init__(self, db: Any, catalogue: Catalogue, settings: Any, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.catalogue = catalogue
        self.settings = settings  # storage.library.Library (get_setting/set_setting)
        self.clock = clock

    def names(self) -> dict[str, str]:
        return {info.id: info.name for info in self.catalogue.all()}

    def label(self, provider: str) -> str:
        return "All providers (global cap)" if provider == q.GLOBAL else self.names().get(provider, provider)

    # -- quotas
    def quota_views(self, providers: Sequence[str] | None = None) -> list[QuotaView]:
        """Every provider that has a quota or use this month (or `providers`), then the global cap."""
        limits = q.quotas(self.db)
        now = self.clock()
        if providers is None:
            used_ids = {r.provider for r in q.usage_rows(self.db, since=q.month_start(now))}
            providers = [p for p in self.catalogue.ids() if p in limits or p in used_ids]
        out = [QuotaView(p, self.label(p), limits.get(p, q.QuotaLimits(p)), q.consumption(self.db, p, now))
               for p in providers if p != q.GLOBAL]
        out.append(QuotaView(q.GLOBAL, self.label(q.GLOBAL), limits.get(q.GLOBAL, q.QuotaLimits(q.GLOBAL)),
                             q.consumption(self.db, q.GLOBAL, now)))
        return out

    def set_quota(self, provider: str, images_per_day: int | None = None, usd_per_day: float | None = None,
                  usd_per_month: float | None = None) -> q.QuotaLimits:
        provider = q.GLOBAL if provider in ("all", q.GLOBAL) else provider
        if provider != q.GLOBAL and provider not in self.catalogue:
            raise ValueError(f"unknown provider {provider!r}; choose one of {', '.join(self.catalogue.ids())} "
                             "or 'all'")
        return q.set_quota(self.db, provider, images_per_day, usd_per_day, usd_per_month)

    # -- usage
    def usage(self, since: float | None = None) -> list[q.LedgerRow]:
        return q.usage_rows(self.db, since)

    def csv(self, rows: Sequence[q.LedgerRow]) -> str:
        return usage_csv(rows)

    # -- settings
    def confirm_threshold(self) -> float:
        value = self.settings.get_setting(CONFIRM_KEY, CONFIRM_DEFAULT)
        try:
            return max(0.0, float(value))
        except (TypeError, ValueError):
            return CONFIRM_DEFAULT  # a hand-edited, unreadable value falls back to the default

    def set_confirm_threshold(self, value: float) -> None:
        self.settings.set_setting(CONFIRM_KEY, round(max(0.0, float(value)), 2))

    def fallback_order(self) -> list[str]:
        value = self.settings.get_setting(FALLBACK_KEY, [])
        if not isinstance(value, list):
            return []
        return [p for p in dict.fromkeys(str(v) for v in value) if p in self.catalogue]

    def set_fallback_order(self, providers: Sequence[str]) -> None:
        unknown = [p for p in providers if p not in self.catalogue]
        if unknown:
            raise ValueError(f"unknown provider(s): {', '.join(unknown)}")
        self.settings.set_setting(FALLBACK_KEY, list(dict.fromkeys(providers)))


CSV_FIELDS = ("id", "created", "job_id", "provider", "model", "status", "images", "latency_ms",
              "estimated_usd", "reported_usd", "cost_usd", "request_id", "reported_raw")


def usage_csv(rows: Sequence[q.LedgerRow]) -> str:
    """The ledger as CSV (spreadsheet-ready; a cell starting with = + - @ is quoted against formula injection)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        obj = row.to_json()
        for key in ("model", "request_id", "reported_raw", "provider"):
            text = str(obj.get(key) or "")
            if text[:1] in ("=", "+", "-", "@"):
                obj[key] = "'" + text
        writer.writerow(obj)
    return buffer.getvalue()
