"""JobService with scripted providers and real storage: journal, events, batch, fallback, cancel, resume."""

from __future__ import annotations

import asyncio

import pytest

from desktop.services.generation import GenerationService
from providers.base import AuthError, ImageRequest, InvalidRequest, ProviderDown, RateLimited
from providers.catalogue import Capabilities, Catalogue, ProviderInfo
from storage.journal import JobJournal
from tests.fakes.providers import FakeFactory, FakeProvider

pytestmark = pytest.mark.anyio


def _catalogue() -> Catalogue:
    def info(pid: str, **caps_kw) -> ProviderInfo:
        caps = Capabilities(model="m", label=f"{pid} model", sizes=("1024x1024",), aspect_ratios=("1:1",),
                            max_count=8, seed=True, price_usd=0.04, typical_seconds=1, **caps_kw)
        return ProviderInfo(id=pid, name=pid.title(), base_url="http://127.0.0.1:9", key_env=None,
                            needs_key=False, models=(caps,), default_model="m")

    return Catalogue({p.id: p for p in (info("alpha", img2img=True), info("beta", img2img=True),
                                        info("gamma", img2img=False))})


def _gen(services, **fakes: FakeProvider) -> tuple[GenerationService, list]:
    factory = FakeFactory(**fakes)
    gen = GenerationService(services.library, JobJournal(services.db), _catalogue(), factory)  # type: ignore[arg-type]
    events: list = []
    gen.jobs.events.subscribe(events.append)
    return gen, events


def req(provider: str = "alpha", **kw) -> ImageRequest:
    return ImageRequest(**{"prompt": "a lighthouse at dusk", "provider": provider, "model": "m", **kw})


async def test_sync_batch_saves_every_image_with_metadata(services):
    alpha = FakeProvider("alpha")
    gen, events = _gen(services, alpha=alpha)
    job_id = gen.submit(req(count=3, seed=7), collection="Dusk")
    record = await gen.jobs.wait(job_id)
    assert record is not None and record.state == "succeeded" and record.images_saved == 3
    image_ids = [e.image_id for e in events if e.kind == "image"]
    assert len(image_ids) == 3
    rows = services.library.rows(image_ids)
    assert {r.provider for r in rows.values()} == {"alpha"}
    assert all(r.prompt == "a lighthouse at dusk" and r.cost_usd == pytest.approx(0.04) for r in rows.values())
    assert all("Dusk" in r.collections for r in rows.values())
    kinds = [e.kind for e in events]
    assert kinds[0] == "queued" and kinds[-1] == "done"
    assert len(alpha.submitted) == 1  # one user action, one submission


async def test_async_task_id_is_journalled_before_polling_and_progress_reported(services):
    alpha = FakeProvider("alpha", asynchronous=True, polls_before_done=3)
    gen, events = _gen(services, alpha=alpha)
    seen_task_ids: list[str] = []

    def on_event(event) -> None:
        if event.kind == "progress":
            seen_task_ids.append(gen.journal.get(event.job_id).task_id)

    gen.jobs.events.subscribe(on_event)
    job_id = gen.submit(req())
    record = await gen.jobs.wait(job_id)
    assert record.state == "succeeded"
    assert seen_task_ids and all(t == "task-1" for t in seen_task_ids)
    progress = [e.progress for e in events if e.kind == "progress"]
    assert progress == sorted(progress) and 0 < progress[0] < 1


async def test_invalid_request_refused_before_anything_is_sent(services):
    alpha = FakeProvider("alpha")
    gen, _ = _gen(services, alpha=alpha)
    with pytest.raises(InvalidRequest, match="prompt is empty"):
        gen.submit(req(prompt="  "))
    with pytest.raises(InvalidRequest, match="does not support 512x512"):
        gen.submit(req(width=512, height=512))
    assert alpha.submitted == [] and gen.journal.recent() == []


async def test_fallback_when_provider_down_records_the_provider_used(services):
    alpha = FakeProvider("alpha", errors=[ProviderDown("503 after retries", provider="alpha")])
    beta = FakeProvider("beta")
    gen, events = _gen(services, alpha=alpha, beta=beta)
    job_id = gen.submit(req(), fallback=["beta"])
    record = await gen.jobs.wait(job_id)
    assert record.state == "succeeded" and record.provider == "beta" and record.fallback_from == "alpha"
    image_id = next(e.image_id for e in events if e.kind == "image")
    row = services.library.get(image_id)
    assert row.provider == "beta" and row.fallback_from == "alpha"
    assert any(e.kind == "fallback" for e in events)


async def test_permanent_errors_never_fall_back(services):
    alpha = FakeProvider("alpha", errors=[AuthError("the key was refused (401)", provider="alpha")])
    beta = FakeProvider("beta")
    gen, events = _gen(services, alpha=alpha, beta=beta)
    record = await gen.jobs.wait(gen.submit(req(), fallback=["beta"]))
    assert record.state == "failed" and record.error_kind == "auth"
    assert "Settings" in record.error_message  # the action to take
    assert beta.submitted == []


async def test_fallback_skips_providers_whose_capabilities_do_not_fit(services):
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 32
    alpha = FakeProvider("alpha", errors=[ProviderDown("down", provider="alpha")])
    gamma = FakeProvider("gamma")
    gen, _ = _gen(services, alpha=alpha, gamma=gamma)
    record = await gen.jobs.wait(gen.submit(req(init_image=png, strength=0.5), fallback=["gamma"]))
    assert record.state == "failed" and gamma.submitted == []


async def test_rate_limit_message_says_how_long_to_wait(services):
    alpha = FakeProvider("alpha", errors=[RateLimited("rate limited", retry_after=30, provider="alpha")])
    gen, _ = _gen(services, alpha=alpha)
    record = await gen.jobs.wait(gen.submit(req()))
    assert record.state == "failed" and "wait 30 s" in record.error_message


async def test_cancel_running_async_job_calls_provider_cancel(services):
    alpha = FakeProvider("alpha", asynchronous=True, polls_before_done=10_000)
    gen, events = _gen(services, alpha=alpha)
    job_id = gen.submit(req())
    for _ in range(100):
        await asyncio.sleep(0.005)
        if alpha.polled > 2:
            break
    note = gen.jobs.cancel(job_id)
    record = await gen.jobs.wait(job_id)
    assert record.state == "cancelled" and alpha.cancelled == ["task-1"]
    assert "nothing more will be billed" in note
    assert events[-1].kind == "cancelled"


async def test_cancel_without_provider_cancel_warns_about_billing(services):
    gate = asyncio.Event()
    alpha = FakeProvider("alpha", supports_cancel=False, gate=gate)
    gen, _ = _gen(services, alpha=alpha)
    job_id = gen.submit(req())
    await asyncio.sleep(0.01)
    assert "may still bill" in gen.jobs.cancel(job_id)
    assert (await gen.jobs.wait(job_id)).state == "cancelled"


async def test_concurrency_limit_per_provider(services):
    gate = asyncio.Event()
    alpha = FakeProvider("alpha", gate=gate)
    gen, _ = _gen(services, alpha=alpha)
    ids = [gen.submit(req(prompt=f"p{i}")) for i in range(4)]
    await asyncio.sleep(0.02)
    assert len(alpha.submitted) == 2  # default limit for a remote provider
    gate.set()
    for job_id in ids:
        assert (await gen.jobs.wait(job_id)).state == "succeeded"
    assert len(alpha.submitted) == 4


async def test_resume_polls_existing_task_without_resubmitting(services):
    journal = JobJournal(services.db)
    job_id = journal.create(req().to_metadata(), ["alpha"], 1)
    journal.update(job_id, state="running", task_id="task-77", task={"count": 1, "polls": 0})
    interrupted = journal.create(req(prompt="in flight").to_metadata(), ["alpha"], 1)
    journal.update(interrupted, state="submitting")
    alpha = FakeProvider("alpha", asynchronous=True, polls_before_done=1)
    gen, events = _gen(services, alpha=alpha)
    resumed = await gen.jobs.resume()
    assert resumed == [job_id]
    assert (await gen.jobs.wait(job_id)).state == "succeeded"
    assert alpha.submitted == [] and alpha.polled >= 2
    assert journal.get(interrupted).state == "interrupted"
    assert "may have been billed" in journal.get(interrupted).error_message


async def test_retry_failed_job_submits_a_new_job(services):
    alpha = FakeProvider("alpha", errors=[ProviderDown("down", provider="alpha")])
    gen, _ = _gen(services, alpha=alpha)
    first = gen.submit(req())
    assert (await gen.jobs.wait(first)).state == "failed"
    second = gen.jobs.retry(first)
    assert second != first and (await gen.jobs.wait(second)).state == "succeeded"


async def test_retries_inside_the_adapter_are_reported_as_job_events(services):
    from providers.base import RateLimited as RL
    from providers.policy import RetryPolicy, call_with_retry

    class Retrying(FakeProvider):
        async def submit(self, request):  # a provider whose HTTP layer retries a 429 once
            calls = {"n": 0}

            async def attempt():
                calls["n"] += 1
                if calls["n"] == 1:
                    raise RL("rate limited", retry_after=0.0, provider="alpha")
                return self._result(request.count, request.seed)

            return await call_with_retry(attempt, RetryPolicy(), sleep=lambda _d: asyncio.sleep(0))

    gen, events = _gen(services, alpha=Retrying("alpha"))
    record = await gen.jobs.wait(gen.submit(req()))
    assert record.state == "succeeded"
    retrying = [e for e in events if e.kind == "retrying"]
    assert len(retrying) == 1 and "rate-limited" in retrying[0].message and retrying[0].job_id == record.id


async def test_synchronous_backend_progress_is_reported_while_the_request_is_open(services):
    class Local(FakeProvider):
        async def progress(self) -> float:
            return 0.5

    alpha = Local("alpha", delay_s=0.6)
    alpha.config.poll_interval_s = 0.2
    gen, events = _gen(services, alpha=alpha)
    record = await gen.jobs.wait(gen.submit(req()))
    assert record.state == "succeeded"
    assert [e.progress for e in events if e.kind == "progress"][:1] == [0.5]


async def test_unusable_image_bytes_and_full_disk_fail_with_clear_messages(services, monkeypatch):
    from providers.base import GeneratedImage, ImageResult
    from storage.paths import StorageError

    class Garbage(FakeProvider):
        def _result(self, count, seed):
            return ImageResult((GeneratedImage(b"<html>not an image</html>"),), request_id="r1")

    gen, _ = _gen(services, alpha=Garbage("alpha"))
    record = await gen.jobs.wait(gen.submit(req()))
    assert record.state == "failed" and "unusable image" in record.error_message
    assert services.library.ids(__import__("storage.records", fromlist=["ImageQuery"]).ImageQuery()) == []

    def full_disk(*_a, **_k):
        raise StorageError("disk full: no space left for /library/images")

    monkeypatch.setattr("desktop.services.generation.prepare_generated", full_disk)
    gen2, _ = _gen(services, alpha=FakeProvider("alpha"))
    record = await gen2.jobs.wait(gen2.submit(req()))
    assert record.state == "failed" and record.error_kind == "storage"
    assert "disk full" in record.error_message and "free some disk space" in record.error_message


class OnePerCall(FakeProvider):
    """A provider whose API makes one image per request (like Pollinations or Stability v2)."""

    def batch_natively(self, model: str) -> bool:
        return False


async def test_one_image_per_call_streams_each_image_and_keeps_them_when_a_later_call_fails(services):
    alpha = OnePerCall("alpha")
    gen, events = _gen(services, alpha=alpha)
    record = await gen.jobs.wait(gen.submit(req(count=3, seed=40)))
    assert record.state == "succeeded" and record.images_saved == 3
    assert [r.count for r in alpha.submitted] == [1, 1, 1] and [r.seed for r in alpha.submitted] == [40, 41, 42]
    kinds = [e.kind for e in events if e.kind in ("image", "done")]
    assert kinds == ["image", "image", "image", "done"]

    failing = OnePerCall("alpha")
    failing.errors = []
    gen2, events2 = _gen(services, alpha=failing, beta=FakeProvider("beta"))
    original = failing.submit

    async def third_call_fails(request):
        if len(failing.submitted) == 2:
            failing.submitted.append(request)
            raise ProviderDown("503 after retries", provider="alpha")
        return await original(request)

    failing.submit = third_call_fails  # type: ignore[method-assign]
    record = await gen2.jobs.wait(gen2.submit(req(count=4), fallback=["beta"]))
    assert record.state == "failed" and "2 of 4 images were saved" in record.error_message
    assert len([e for e in events2 if e.kind == "image"]) == 2
    assert not any(e.kind == "fallback" for e in events2)  # paid-for images are never abandoned for a fallback


async def test_cancel_mid_batch_keeps_the_images_already_made(services):
    gate = asyncio.Event()
    alpha = OnePerCall("alpha")
    original = alpha.submit

    async def slow_after_first(request):
        if alpha.submitted:
            alpha.submitted.append(request)
            await gate.wait()
        return await original(request)

    alpha.submit = slow_after_first  # type: ignore[method-assign]
    gen, events = _gen(services, alpha=alpha)
    job_id = gen.submit(req(count=3))
    for _ in range(200):
        await asyncio.sleep(0.005)
        if any(e.kind == "image" for e in events):
            break
    gen.jobs.cancel(job_id)
    record = await gen.jobs.wait(job_id)
    assert record.state == "cancelled" and record.images_saved == 1
    assert len(services.library.ids(__import__("storage.records", fromlist=["ImageQuery"]).ImageQuery())) == 1
