"""Ledger and quotas: atomic reservations, local-time resets, partial counts, settling, stale rows, totals."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from storage import quotas as q
from storage.db import open_database
from storage.journal import JobJournal

NOW = datetime(2026, 11, 20, 15, 30).timestamp()  # a Friday afternoon, local time
NAMES = {"openai": "OpenAI", "stability": "Stability AI"}


@pytest.fixture
def db(library):
    return library.db


def _job(db) -> int:
    return JobJournal(db).create({"prompt": "p", "model": "m"}, ["openai"], 1)


def test_images_per_day_blocks_with_the_quota_and_its_reset_named(db):
    q.set_quota(db, "openai", images_per_day=3)
    first = q.reserve(db, None, "openai", "gpt-image-2", 2, 0.04, NOW, names=NAMES)
    assert first.images == 2 and first.message == ""
    second = q.reserve(db, None, "openai", "gpt-image-2", 4, 0.04, NOW, names=NAMES)
    assert second.images == 1
    assert second.message == ("OpenAI images per day (3) allows only 1 of 4 images; "
                              "resets at midnight (local time)")
    with pytest.raises(q.QuotaExceeded) as caught:
        q.reserve(db, None, "openai", "gpt-image-2", 1, 0.04, NOW, names=NAMES)
    assert caught.value.message == "OpenAI images per day (3) reached; resets at midnight (local time)"
    # other providers are not affected, and tomorrow (local midnight) the count starts again
    assert q.reserve(db, None, "stability", "core", 5, 0.03, NOW).images == 5
    tomorrow = datetime(2026, 11, 21, 0, 0, 1).timestamp()
    assert q.reserve(db, None, "openai", "gpt-image-2", 3, 0.04, tomorrow).images == 3


def test_monthly_and_global_caps_name_the_first_of_next_month(db):
    q.set_quota(db, "openai", usd_per_month=0.10)
    assert q.reserve(db, None, "openai", "m", 5, 0.04, NOW, names=NAMES).images == 2  # $0.08 of $0.10
    with pytest.raises(q.QuotaExceeded, match=r"OpenAI spend per month \(\$0\.10\) reached; resets on 1 December"):
        q.reserve(db, None, "openai", "m", 1, 0.04, NOW, names=NAMES)
    q.set_quota(db, q.GLOBAL, usd_per_month=0.20)
    r = q.reserve(db, None, "stability", "core", 10, 0.03, NOW, names=NAMES)  # 0.08 spent, 0.12 left
    assert r.images == 4 and "All providers spend per month ($0.20) allows only 4 of 10" in r.message
    december = datetime(2026, 12, 31, 23, 0).timestamp()
    with pytest.raises(q.QuotaExceeded, match="resets on 1 January"):
        q.set_quota(db, q.GLOBAL, usd_per_month=0.0)
        q.reserve(db, None, "stability", "core", 1, 0.03, december)


def test_usd_per_day_and_free_requests(db):
    q.set_quota(db, "openai", usd_per_day=0.5)
    assert q.reserve(db, None, "openai", "m", 5, 0.10, NOW).images == 5  # exactly $0.50: float sums still fit
    with pytest.raises(q.QuotaExceeded, match=r"spend per day \(\$0\.50\) reached"):
        q.reserve(db, None, "openai", "m", 1, 0.10, NOW)
    # A free (or unpriced) request spends nothing, so a spending cap does not hold it back.
    assert q.reserve(db, None, "openai", "m", 2, 0.0, NOW).images == 2


def test_settle_records_outcome_and_failed_requests_count_only_reported_cost(db):
    q.set_quota(db, "openai", images_per_day=10, usd_per_day=1.0)
    job = _job(db)
    ok = q.reserve(db, job, "openai", "m", 4, 0.05, NOW)
    q.settle(db, ok.ledger_id, "ok", 1200, 0.11, '{"total_tokens":1}', "req_1", images=3)
    failed = q.reserve(db, None, "openai", "m", 2, 0.05, NOW)
    q.settle(db, failed.ledger_id, "failed", 300)
    billed = q.reserve(db, None, "openai", "m", 1, 0.05, NOW)
    q.settle(db, billed.ledger_id, "failed", 300, reported_usd=0.02)  # filtered but billed
    used = q.consumption(db, "openai", NOW)
    assert used == {"images_today": 3, "usd_today": pytest.approx(0.13), "usd_month": pytest.approx(0.13)}
    rows = q.usage_rows(db)
    assert [r.status for r in rows] == ["failed", "failed", "ok"]
    assert rows[-1].job_id == job and rows[-1].latency_ms == 1200 and rows[-1].request_id == "req_1"
    assert rows[-1].estimated_usd == pytest.approx(0.15)  # scaled to the 3 images that came back
    assert rows[-1].reported_raw == '{"total_tokens":1}' and rows[-1].cost_usd == pytest.approx(0.11)
    with pytest.raises(ValueError):
        q.settle(db, ok.ledger_id, "reserved")


def test_stale_reservations_count_as_failed_unless_their_job_runs(db):
    job = _job(db)
    old = NOW - q.STALE_S - 60
    q.set_quota(db, "openai", images_per_day=100)
    q.reserve(db, job, "openai", "m", 2, 1.0, old)
    q.reserve(db, None, "openai", "m", 3, 1.0, old)
    assert q.consumption(db, "openai", NOW)["usd_month"] == 0.0  # open for a day: most likely never billed
    assert q.stale_reservations(db, running_job_ids=[job], now=NOW) == 1
    statuses = sorted((r.job_id or 0, r.status) for r in q.usage_rows(db))
    assert statuses == [(0, "failed"), (job, "reserved")]
    # the resumed job finishes: its open reservation is settled
    assert q.settle_job(db, job, "ok") == 1
    assert {r.job_id: r.status for r in q.usage_rows(db)}[job] == "ok"


def test_a_job_reserving_again_releases_its_leftover_reservation(db):
    job = _job(db)
    q.set_quota(db, "openai", images_per_day=3)
    q.reserve(db, job, "openai", "m", 3, 0.0, NOW)  # the app died before the request left
    again = q.reserve(db, job, "openai", "m", 3, 0.0, NOW)
    assert again.images == 3
    assert sorted(r.status for r in q.usage_rows(db)) == ["cancelled", "reserved"]


def test_reservations_from_two_connections_never_overshoot(library, tmp_path):
    """A CLI process next to the window: BEGIN IMMEDIATE serialises the check and the insert."""
    db = library.db
    q.set_quota(db, "openai", images_per_day=5)
    granted: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        other = open_database(library.paths.db_path)  # own connection (peewee: one per thread anyway)
        try:
            for _ in range(5):
                try:
                    granted.append(q.reserve(other, None, "openai", "m", 1, 0.0, NOW).images)
                except q.QuotaExceeded:
                    pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            other.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sum(granted) == 5


def test_quota_validation_and_removal(db):
    with pytest.raises(ValueError, match="images per day"):
        q.set_quota(db, "openai", images_per_day=-1)
    with pytest.raises(ValueError):
        q.set_quota(db, "openai", usd_per_day=float("nan"))
    q.set_quota(db, "openai", images_per_day=2, usd_per_month=5)
    assert q.quotas(db)["openai"] == q.QuotaLimits("openai", 2, None, 5.0)
    q.set_quota(db, "openai")
    assert "openai" not in q.quotas(db)


def test_summary_by_day_and_provider(db):
    day1, day2 = datetime(2026, 11, 19, 10).timestamp(), NOW
    for when, provider, n, unit in ((day1, "openai", 2, 0.04), (day2, "openai", 1, 0.04),
                                    (day2, "stability", 3, 0.03)):
        r = q.reserve(db, None, provider, "m", n, unit, when)
        q.settle(db, r.ledger_id, "ok", 10, images=n)
    r = q.reserve(db, None, "stability", "m", 1, 0.03, day2)
    q.settle(db, r.ledger_id, "failed", 10)
    by_provider = {t.key: t for t in q.usage_summary(db, group_by=("provider",))}
    assert by_provider[("openai",)].images == 3 and by_provider[("openai",)].usd == pytest.approx(0.12)
    assert by_provider[("stability",)].requests == 2 and by_provider[("stability",)].failed == 1
    by_day = [(t.key, t.images) for t in q.usage_summary(db, group_by=("day", "provider"))]
    assert by_day == [(("2026-11-19", "openai"), 2), (("2026-11-20", "openai"), 1),
                      (("2026-11-20", "stability"), 3)]
    assert [t.key for t in q.usage_summary(db, since=q.since_day("2026-11-20"))] == [("openai",), ("stability",)]
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        q.since_day("20/11/2026")


def test_no_secret_columns_in_the_ledger(db):
    columns = {row[1] for row in db.execute_sql("PRAGMA table_info(usage_ledger)").fetchall()}
    assert not any("key" in c or "secret" in c or "token" in c for c in columns)
