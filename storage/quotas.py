"""The usage ledger and spending quotas (no Qt, no providers).

One ledger row per provider request. A request is *reserved* (status "reserved") before it leaves, inside
one `BEGIN IMMEDIATE` transaction that also sums what was already consumed, so concurrent jobs (or a CLI run
next to the window) can never overshoot a quota. The row is then settled as "ok", "failed" or "cancelled".

What counts against a quota: "ok" and "reserved" rows count their images and their cost (reported by the
provider when it said, else estimated); "failed"/"cancelled" rows count only a cost the provider reported
(a failed request is usually not billed, but when the provider says it was, we believe it). A reservation
older than STALE_S whose job is not running counts as failed: the app died before settling it.

Quota rows: one per provider, plus provider "*" for the global caps (all providers together). NULL = no
limit. Day and month boundaries are local time, computed from an injectable `now`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

GLOBAL = "*"
STALE_S = 24 * 3600
OPEN = "reserved"
STATUSES = ("ok", "failed", "cancelled")
_EPS = 1e-9  # float sums: $0.10 * 5 must still fit under a $0.50 cap

# The cost a row counts for: reported when the provider said, else the estimate while the request stands.
# A failed or cancelled request counts the images it delivered before it stopped (a batch cut short, a
# cancel after two of four): those were made and paid for. Settling sets `images` to what came back.
_COST_SQL = ("CASE WHEN reported_usd IS NOT NULL THEN reported_usd "
             "WHEN status IN ('ok', 'reserved') OR images > 0 THEN COALESCE(estimated_usd, 0) ELSE 0 END")
_IMAGES_SQL = "images"


class QuotaExceeded(Exception):
    """Nothing of the request fits a quota; `message` names the quota and when it resets."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Reservation:
    ledger_id: int
    images: int  # how many of the requested images may be made (<= count, >= 1)
    message: str = ""  # names the quota when `images` is below the count asked for
    provider: str = ""
    estimated_usd: float = 0.0


@dataclass(frozen=True)
class QuotaLimits:
    provider: str
    images_per_day: int | None = None
    usd_per_day: float | None = None
    usd_per_month: float | None = None

    @property
    def empty(self) -> bool:
        return self.images_per_day is None and self.usd_per_day is None and self.usd_per_month is None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LedgerRow:
    id: int
    job_id: int | None
    provider: str
    model: str
    status: str
    images: int
    latency_ms: int | None
    estimated_usd: float | None
    reported_usd: float | None
    reported_raw: str
    request_id: str
    created_at: float

    @property
    def cost_usd(self) -> float:
        """What this request counts for (see the module docstring)."""
        if self.reported_usd is not None:
            return self.reported_usd
        return (self.estimated_usd or 0.0) if self.status in ("ok", OPEN) else 0.0

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["cost_usd"] = round(self.cost_usd, 6)
        out["created"] = datetime.fromtimestamp(self.created_at).isoformat(timespec="seconds")
        return out


# ------------------------------------------------------------------------------------------- time


def day_start(now: float) -> float:
    """Local midnight at or before `now`."""
    d = datetime.fromtimestamp(now).date()
    return datetime(d.year, d.month, d.day).timestamp()


def month_start(now: float) -> float:
    d = datetime.fromtimestamp(now).date()
    return datetime(d.year, d.month, 1).timestamp()


def next_month(now: float) -> date:
    d = datetime.fromtimestamp(now).date()
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def _resets(period: str, now: float) -> str:
    if period == "day":
        return "resets at midnight (local time)"
    first = next_month(now)
    return f"resets on {first.day} {first.strftime('%B')}"


# ------------------------------------------------------------------------------------------- quotas


def quotas(db: Any) -> dict[str, QuotaLimits]:
    rows = db.execute_sql("SELECT provider, images_per_day, usd_per_day, usd_per_month FROM quota "
                          "ORDER BY provider").fetchall()
    return {r[0]: QuotaLimits(r[0], r[1], r[2], r[3]) for r in rows}


def set_quota(db: Any, provider: str, images_per_day: int | None = None, usd_per_day: float | None = None,
              usd_per_month: float | None = None) -> QuotaLimits:
    """Replace the provider's three limits (None = no limit); provider "*" is the global cap."""
    for name, value in (("images per day", images_per_day), ("USD per day", usd_per_day),
                        ("USD per month", usd_per_month)):
        if value is not None and (not math.isfinite(value) or value < 0):
            raise ValueError(f"{name} must be a number of 0 or more, not {value!r}")
    limits = QuotaLimits(provider, None if images_per_day is None else int(images_per_day),
                         None if usd_per_day is None else float(usd_per_day),
                         None if usd_per_month is None else float(usd_per_month))
    with db.atomic():
        if limits.empty:
            db.execute_sql("DELETE FROM quota WHERE provider = ?", (provider,))
        else:
            db.execute_sql(
                "INSERT INTO quota (provider, images_per_day, usd_per_day, usd_per_month) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (provider) DO UPDATE SET images_per_day = excluded.images_per_day, "
                "usd_per_day = excluded.usd_per_day, usd_per_month = excluded.usd_per_month",
                (provider, limits.images_per_day, limits.usd_per_day, limits.usd_per_month))
    return limits


def consumption(db: Any, provider: str, now: float | None = None) -> dict[str, float]:
    """{"images_today", "usd_today", "usd_month"} for one provider, or all of them for "*"."""
    now = time.time() if now is None else now
    where, args = ("", ()) if provider == GLOBAL else ("AND provider = ?", (provider,))
    stale = now - STALE_S
    # A reservation left open for a day (the app died) is treated as the failed request it most likely is.
    live = f"NOT (status = '{OPEN}' AND created_at < ?)"
    start_day, start_month = day_start(now), month_start(now)
    row = db.execute_sql(
        f"SELECT COALESCE(SUM(CASE WHEN created_at >= ? THEN {_IMAGES_SQL} END), 0), "
        f"COALESCE(SUM(CASE WHEN created_at >= ? THEN {_COST_SQL} END), 0), "
        f"COALESCE(SUM({_COST_SQL}), 0) "
        f"FROM usage_ledger WHERE created_at >= ? AND {live} {where}",
        (start_day, start_day, start_month, stale, *args)).fetchone()
    return {"images_today": int(row[0]), "usd_today": float(row[1]), "usd_month": float(row[2])}


def _label(provider: str, names: dict[str, str] | None) -> str:
    if provider == GLOBAL:
        return "All providers"
    return (names or {}).get(provider) or provider


def _fit(limits: QuotaLimits, used: dict[str, float], count: int, unit_usd: float, now: float,
         label: str) -> tuple[int, str, str]:
    """How many of `count` images fit these limits; the tightest quota's name and when it resets."""
    best, name, reset = count, "", ""
    checks: list[tuple[int, str, str]] = []
    if limits.images_per_day is not None:
        left = max(0, limits.images_per_day - int(used["images_today"]))
        checks.append((left, f"{label} images per day ({limits.images_per_day})", _resets("day", now)))
    # A free request (unit price 0) spends nothing, so spending caps never hold it back.
    for limit, spent, what, period in ((limits.usd_per_day, used["usd_today"], "spend per day", "day"),
                                       (limits.usd_per_month, used["usd_month"], "spend per month", "month")):
        if limit is not None and unit_usd > 0:
            left = max(0, math.floor((limit - spent) / unit_usd + _EPS))
            checks.append((left, f"{label} {what} (${limit:.2f})", _resets(period, now)))
    for left, what, when in checks:
        if left < best:
            best, name, reset = left, what, when
    return best, name, reset


def reserve(db: Any, job_id: int | None, provider: str, model: str, count: int, unit_usd: float,
            now: float | None = None, *, names: dict[str, str] | None = None,
            running: Iterable[int] = ()) -> Reservation:
    """Check every quota and record a reservation for as many images as fit, in ONE write transaction.

    Raises QuotaExceeded when none fits. `running` are job ids still in progress (their old reservations are
    not stale). A job that reserves again (resumed after a crash before it sent anything) first releases
    its leftover reservation, so it is not counted twice.
    """
    now = time.time() if now is None else now
    unit = max(0.0, float(unit_usd or 0.0))
    with db.atomic("IMMEDIATE"):  # takes the write lock before reading: the check and the insert are one
        _expire(db, now, running)
        if job_id is not None:
            db.execute_sql(f"UPDATE usage_ledger SET status = 'cancelled', images = 0 "
                           f"WHERE job_id = ? AND status = '{OPEN}'",
                           (job_id,))
        limits = quotas(db)
        allowed, name, reset = count, "", ""
        for scope in (provider, GLOBAL):
            if scope not in limits:
                continue
            fit, what, when = _fit(limits[scope], consumption(db, scope, now), count, unit, now,
                                   _label(scope, names))
            if fit < allowed:
                allowed, name, reset = fit, what, when
        if allowed <= 0:
            raise QuotaExceeded(f"{name} reached; {reset}")
        message = f"{name} allows only {allowed} of {count} images; {reset}" if name else ""
        cursor = db.execute_sql(
            "INSERT INTO usage_ledger (job_id, provider, model, status, images, estimated_usd, reported_raw, "
            "request_id, created_at) VALUES (?, ?, ?, ?, ?, ?, '', '', ?)",
            (job_id, provider, model, OPEN, allowed, round(allowed * unit, 6), now))
        return Reservation(int(cursor.lastrowid), allowed, message, provider, allowed * unit)


def settle(db: Any, ledger_id: int, status: str, latency_ms: int | None = None,
           reported_usd: float | None = None, reported_raw: str = "", request_id: str = "",
           images: int | None = None) -> None:
    """Close a reservation. `images`: how many actually came back (the estimate scales with it)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    with db.atomic():
        row = db.execute_sql("SELECT images, estimated_usd FROM usage_ledger WHERE id = ?",
                             (ledger_id,)).fetchone()
        if row is None:
            return
        reserved, estimate = int(row[0]), row[1]
        count = reserved if images is None else max(0, int(images))
        if status != "ok" and images is None:
            count = 0  # nothing known to be delivered
        if estimate is not None and reserved > 0 and count != reserved and (status == "ok" or count > 0):
            estimate = round(estimate * count / reserved, 6)  # what was delivered, however the request ended
        db.execute_sql("UPDATE usage_ledger SET status = ?, images = ?, latency_ms = ?, estimated_usd = ?, "
                       "reported_usd = ?, reported_raw = ?, request_id = ? WHERE id = ?",
                       (status, count, latency_ms, estimate, reported_usd, reported_raw[:4000],
                        request_id[:200], ledger_id))


def settle_job(db: Any, job_id: int, status: str) -> int:
    """Settle every open reservation of a job (one resumed after a restart has no reservation object)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    images = "images" if status == "ok" else "0"
    with db.atomic():
        cursor = db.execute_sql(f"UPDATE usage_ledger SET status = ?, images = {images} "
                                f"WHERE job_id = ? AND status = '{OPEN}'", (status, job_id))
    return int(cursor.rowcount or 0)


def _expire(db: Any, now: float, running: Iterable[int]) -> int:
    keep = [int(j) for j in running]
    marks = ",".join("?" * len(keep))
    extra = f"AND (job_id IS NULL OR job_id NOT IN ({marks}))" if keep else ""
    cursor = db.execute_sql(f"UPDATE usage_ledger SET status = 'failed', images = 0 "
                            f"WHERE status = '{OPEN}' AND created_at < ? {extra}", (now - STALE_S, *keep))
    return int(cursor.rowcount or 0)


def stale_reservations(db: Any, running_job_ids: Iterable[int], now: float | None = None) -> int:
    """Mark reservations older than a day whose job is not running as failed; returns how many."""
    with db.atomic():
        return _expire(db, time.time() if now is None else now, running_job_ids)


# ------------------------------------------------------------------------------------------- reports

_ROW_COLUMNS = ("id, job_id, provider, model, status, images, latency_ms, estimated_usd, reported_usd, "
                "reported_raw, request_id, created_at")


def usage_rows(db: Any, since: float | None = None, until: float | None = None,
               provider: str | None = None, limit: int | None = None) -> list[LedgerRow]:
    """Ledger rows, newest first."""
    clauses, args = ["1"], []
    if since is not None:
        clauses.append("created_at >= ?"), args.append(since)
    if until is not None:
        clauses.append("created_at < ?"), args.append(until)
    if provider:
        clauses.append("provider = ?"), args.append(provider)
    sql = f"SELECT {_ROW_COLUMNS} FROM usage_ledger WHERE {' AND '.join(clauses)} ORDER BY created_at DESC, id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [LedgerRow(*row) for row in db.execute_sql(sql, args).fetchall()]


@dataclass
class UsageTotal:
    key: tuple[str, ...]
    requests: int = 0
    images: int = 0
    usd: float = 0.0
    failed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"key": list(self.key), "requests": self.requests, "images": self.images,
                "usd": round(self.usd, 6), "failed": self.failed}


def summarize(rows: Iterable[LedgerRow], group_by: Sequence[str] = ("provider",)) -> list[UsageTotal]:
    """Totals per key (fields among "day", "provider", "model"; () = one grand total), sorted by key."""
    totals: dict[tuple[str, ...], UsageTotal] = {}
    for row in rows:
        key = tuple(datetime.fromtimestamp(row.created_at).date().isoformat() if g == "day"
                    else str(getattr(row, g)) for g in group_by)
        total = totals.setdefault(key, UsageTotal(key))
        total.requests += 1
        total.images += row.images if row.status in ("ok", OPEN) else 0
        total.usd += row.cost_usd
        total.failed += row.status in ("failed", "cancelled")
    return [totals[k] for k in sorted(totals)]


def usage_summary(db: Any, since: float | None = None, group_by: Sequence[str] = ("provider",)) -> list[UsageTotal]:
    return summarize(usage_rows(db, since), group_by)


def raw_json(value: Any) -> str:
    """Provider-reported usage as compact JSON for the ledger ('' when there is none)."""
    if not value:
        return ""
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def since_day(text: str) -> float:
    """'YYYY-MM-DD' -> local midnight of that day (ValueError with a clear message otherwise)."""
    try:
        d = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected a date as YYYY-MM-DD, not {text!r}") from None
    return datetime(d.year, d.month, d.day).timestamp()


def days_back(now: float, days: int) -> float:
    """Local midnight `days` days before today (date arithmetic, so DST changes do not shift it)."""
    d = datetime.fromtimestamp(now).date() - timedelta(days=days)
    return datetime(d.year, d.month, d.day).timestamp()
