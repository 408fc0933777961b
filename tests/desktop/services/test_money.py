"""QuotaGuard with the real JobService: atomic reservations under concurrency (scripted provider and real
HTTP to the OpenAI loopback fake), partial counts, ledger rows with reported costs, estimates, CSV."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest

from desktop.services import money
from desktop.services.generation import GenerationService
from desktop.services.jobs import QuotaBlocked
from desktop.services.wiring import attach_generation, attach_money
from providers.base import GeneratedImage, ImageRequest, ImageResult, ProviderDown
from providers.catalogue import Capabilities, Catalogue, ProviderInfo
from storage import quotas as q
from storage.journal import JobJournal
from tests.fakes.providers import FakeFactory, FakeProvider
from tests.fakes.servers.openai_fake import OpenAIFake

pytestmark = pytest.mark.anyio


def _catalogue(price: float | None = 0.04) -> Catalogue:
    caps = Capabilities(model="m", label="Alpha model", sizes=("1024x1024",), max_count=8, price_usd=price,
                        prices={"size:1024x1024|quality:high": 0.25})
    info = ProviderInfo(id="alpha", name="Alpha", base_url="http://127.0.0.1:9", key_env=None, needs_key=False,
                        models=(caps,), default_model="m")
    return Catalogue({"alpha": info})


def _gen(services, provider: FakeProvider, **guard_kw) -> GenerationService:
    guard = money.QuotaGuard(services.db, names={"alpha": "Alpha"}, **guard_kw)
    gen = GenerationService(services.library, JobJournal(services.db), _catalogue(), FakeFactory(alpha=provider),
                            guard=guard)  # type: ignore[arg-type]
    gen.jobs.events.subscribe(guard.on_job_event)
    return gen


def req(provider: str = "alpha", model: str = "m", **kw) -> ImageRequest:
    return ImageRequest(**{"prompt": "a lighthouse at dusk", "provider": provider, "model": model, **kw})


async def test_twenty_concurrent_submissions_against_a_quota_of_five(services):
    alpha = FakeProvider("alpha", delay_s=0.01)
    gen = _gen(services, alpha)
    q.set_quota(services.db, "alpha", images_per_day=5)
    job_ids = [gen.submit(req()) for _ in range(20)]
    records = [await gen.jobs.wait(j) for j in job_ids]
    assert len(alpha.submitted) == 5
    assert sum(r.state == "succeeded" for r in records) == 5
    blocked = [r for r in records if r.state == "failed"]
    assert len(blocked) == 15 and {r.error_kind for r in blocked} == {"quota"}
    assert "Alpha images per day (5) reached; resets at midnight (local time)" in blocked[0].error_message
    rows = q.usage_rows(services.db)
    assert len(rows) == 5 and {r.status for r in rows} == {"ok"} and sum(r.images for r in rows) == 5


async def test_twenty_concurrent_submissions_over_real_http_reach_the_fake_five_times(services):
    with OpenAIFake() as fake:
        gen = attach_generation(services, env={"IMAGES_STUDIO_OPENAI_BASE_URL": fake.base_url,
                                               "OPENAI_API_KEY": fake.key})
        q.set_quota(services.db, "openai", images_per_day=5)
        job_ids = [gen.submit(req("openai", "gpt-image-2", quality="low")) for _ in range(20)]
        records = [await gen.jobs.wait(j) for j in job_ids]
        assert len(fake.calls("generations")) == 5
        assert sorted(r.state for r in records) == ["failed"] * 15 + ["succeeded"] * 5
        assert all("OpenAI images per day (5) reached" in r.error_message for r in records if r.state == "failed")
        rows = q.usage_rows(services.db)
        assert len(rows) == 5 and {r.status for r in rows} == {"ok"}
        # OpenAI reports token usage; the adapter priced it and the ledger keeps both
        assert all(r.reported_usd is not None and r.reported_usd > 0 for r in rows)
        assert all('"output_tokens"' in r.reported_raw and r.request_id.startswith("req_") for r in rows)
        assert all(r.latency_ms is not None and r.latency_ms >= 0 for r in rows)
        await gen.aclose()


async def test_a_count_cut_short_saves_what_is_allowed_and_fails_naming_the_quota(services):
    alpha = FakeProvider("alpha")
    gen = _gen(services, alpha)
    q.set_quota(services.db, "alpha", images_per_day=3)
    events: list = []
    gen.jobs.events.subscribe(events.append)
    record = await gen.jobs.wait(gen.submit(req(count=5)))
    assert alpha.submitted[0].count == 3  # only what the quota allows left the app
    assert record.state == "failed" and record.error_kind == "quota" and record.images_saved == 3
    assert "Alpha images per day (3) allows only 3 of 5 images" in record.error_message
    assert len([e for e in events if e.kind == "image"]) == 3
    (row,) = q.usage_rows(services.db)
    assert row.status == "ok" and row.images == 3 and row.estimated_usd == pytest.approx(0.12)


async def test_failed_and_cancelled_requests_are_recorded_honestly(services):
    alpha = FakeProvider("alpha", errors=[ProviderDown("503 after retries", provider="alpha")])
    gen = _gen(services, alpha)
    record = await gen.jobs.wait(gen.submit(req(count=2)))
    assert record.state == "failed"
    alpha.gate = asyncio.Event()
    job = gen.submit(req())
    while not alpha.submitted[1:]:
        await asyncio.sleep(0.005)
    gen.jobs.cancel(job)
    await gen.jobs.wait(job)
    statuses = [(r.status, r.images) for r in q.usage_rows(services.db)]
    assert statuses == [("cancelled", 0), ("failed", 0)]
    assert q.consumption(services.db, "alpha")["usd_today"] == 0.0


async def test_a_resumed_job_settles_its_reservation_when_it_finishes(services):
    alpha = FakeProvider("alpha", asynchronous=True, polls_before_done=1)
    gen = _gen(services, alpha)
    journal = gen.journal
    job = journal.create({"prompt": "p", "provider": "alpha", "model": "m"}, ["alpha"], 1)
    q.reserve(services.db, job, "alpha", "m", 1, 0.04)
    journal.update(job, state="running", task_id="task-9", task={"count": 1, "polls": 0})
    assert await gen.jobs.resume() == [job]
    record = await gen.jobs.wait(job)
    assert record.state == "succeeded"
    assert [(r.job_id, r.status) for r in q.usage_rows(services.db)] == [(job, "ok")]


async def test_guard_translates_quota_exceeded(services):
    guard = money.QuotaGuard(services.db, names={"alpha": "Alpha"})
    q.set_quota(services.db, "alpha", usd_per_month=0.01)
    with pytest.raises(QuotaBlocked, match=r"Alpha spend per month \(\$0\.01\) reached; resets on 1 "):
        await guard.reserve(None, "alpha", "m", 1, 0.04)  # type: ignore[arg-type]


def test_estimates_and_reported_costs():
    cat = _catalogue()
    assert money.estimate(req(count=3), cat) == pytest.approx(0.12)
    assert money.estimate(req(count=2, width=1024, height=1024, quality="high"), cat) == pytest.approx(0.5)
    assert money.estimate(req(), _catalogue(price=None)) is None
    assert money.estimate(req(provider="nobody"), cat) is None
    assert money.needs_confirmation(1.5, 1.0) and not money.needs_confirmation(0.5, 1.0)
    assert not money.needs_confirmation(None, 1.0)
    assert money.format_usd(0) == "free" and money.format_usd(0.0317) == "$0.032" and money.format_usd(2) == "$2.00"
    image = GeneratedImage(b"x")
    assert money.reported_cost(ImageResult((image,), cost_usd=0.05, usage={"total_tokens": 9})) == (
        0.05, '{"total_tokens":9}')
    # Replicate metrics and KIE credits are kept raw; no USD is invented for them
    assert money.reported_cost(ImageResult((image,), usage={"predict_time": 1.5})) == (None, '{"predict_time":1.5}')
    assert money.reported_cost(None) == (None, "")


def test_money_settings_and_csv(services):
    m = attach_money(services).money
    assert m.confirm_threshold() == 1.0
    m.set_confirm_threshold(2.5)
    assert m.confirm_threshold() == 2.5
    services.library.library.set_setting(money.CONFIRM_KEY, "junk")
    assert m.confirm_threshold() == 1.0
    m.set_fallback_order(["stability", "openai", "stability"])
    assert m.fallback_order() == ["stability", "openai"]
    with pytest.raises(ValueError, match="unknown provider"):
        m.set_fallback_order(["nope"])
    m.set_quota("all", usd_per_month=20)
    m.set_quota("openai", images_per_day=10)
    with pytest.raises(ValueError, match="unknown provider"):
        m.set_quota("nope", images_per_day=1)
    views = m.quota_views()
    assert [v.provider for v in views] == ["openai", "*"] and views[-1].limits.usd_per_month == 20
    r = q.reserve(services.db, None, "openai", "=cmd()", 2, 0.04)
    q.settle(services.db, r.ledger_id, "ok", 5, 0.07, "", "req_9", 2)
    parsed = list(csv.DictReader(io.StringIO(m.csv(m.usage()))))
    assert parsed[0]["provider"] == "openai" and parsed[0]["model"] == "'=cmd()"
    assert float(parsed[0]["cost_usd"]) == pytest.approx(0.07) and parsed[0]["images"] == "2"
    assert views[0].to_json()["images_per_day"] == 10
