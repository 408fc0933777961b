"""Never pay twice, never lose count: billed work is not re-sent elsewhere and always reaches the ledger."""

from __future__ import annotations

import asyncio

import pytest

from desktop.services.generation import GenerationService
from desktop.services.money import QuotaGuard
from providers.base import (
    GeneratedImage,
    ImageRequest,
    ImageResult,
    ProviderDown,
    TaskHandle,
    TaskState,
    TaskStatus,
)
from providers.catalogue import Capabilities, Catalogue, ProviderInfo
from storage import quotas as q
from storage.journal import JobJournal
from tests.fakes.providers import FakeFactory, FakeProvider, colored_png

pytestmark = pytest.mark.anyio


def _catalogue() -> Catalogue:
    def info(pid: str) -> ProviderInfo:
        caps = Capabilities(model="m", label=pid, sizes=("1024x1024",), aspect_ratios=("1:1",), max_count=8,
                            seed=True, price_usd=0.04, typical_seconds=1)
        return ProviderInfo(id=pid, name=pid, base_url="http://127.0.0.1:9", key_env=None, needs_key=False,
                            models=(caps,), default_model="m")

    return Catalogue({p: info(p) for p in ("alpha", "beta")})


class OnePerCall(FakeProvider):
    """Like Stability v2 or Pollinations: one image per request."""

    bad_on_call: int = 0
    fail_on_call: int = 0
    slow_on_call: int = 0

    def batch_natively(self, model: str) -> bool:
        return False

    async def submit(self, request: ImageRequest) -> ImageResult:
        self.submitted.append(request)
        n = len(self.submitted)
        if n == self.slow_on_call:
            await asyncio.sleep(30)
        if n == self.fail_on_call:
            raise ProviderDown("the service failed (503)", provider=self.id)
        data = b"garbage-not-an-image" if n == self.bad_on_call else colored_png(n + 11)
        return ImageResult((GeneratedImage(data, "image/png", seed=n),), request_id=f"r{n}")


def _gen(services, guard: QuotaGuard | None = None, **fakes: FakeProvider) -> GenerationService:
    gen = GenerationService(services.library, JobJournal(services.db), _catalogue(), FakeFactory(**fakes),  # type: ignore[arg-type]
                            guard=guard)
    if guard is not None:
        guard.running = lambda: gen.jobs.running
        gen.jobs.events.subscribe(guard.on_job_event)
    return gen


def req(**kw) -> ImageRequest:
    return ImageRequest(**{"prompt": "a red kite", "provider": "alpha", "model": "m", **kw})


async def test_a_bad_image_after_billed_calls_never_falls_back(services):
    alpha = OnePerCall("alpha")
    alpha.bad_on_call = 3
    beta = FakeProvider("beta")
    gen = _gen(services, alpha=alpha, beta=beta)
    record = await gen.jobs.wait(gen.submit(req(count=3), fallback=["beta"]))
    assert record.state == "failed" and record.images_saved == 2
    assert beta.submitted == []  # alpha was paid for three images: nobody is asked for three more


async def test_a_single_billed_call_with_an_unusable_image_does_not_fall_back(services):
    class Garbage(FakeProvider):
        async def submit(self, request):  # type: ignore[no-untyped-def]
            self.submitted.append(request)
            return ImageResult((GeneratedImage(b"\x89PNG\r\n\x1a\n" + b"x" * 40, "image/png"),), cost_usd=0.04)

    alpha, beta = Garbage("alpha"), FakeProvider("beta")
    gen = _gen(services, alpha=alpha, beta=beta)
    record = await gen.jobs.wait(gen.submit(req(), fallback=["beta"]))
    assert record.state == "failed" and "unusable image" in record.error_message and beta.submitted == []


async def test_images_delivered_before_a_failure_count_against_quotas(services):
    alpha = OnePerCall("alpha")
    alpha.fail_on_call = 3
    q.set_quota(services.db, "alpha", images_per_day=3)
    gen = _gen(services, guard=QuotaGuard(services.db), alpha=alpha)
    record = await gen.jobs.wait(gen.submit(req(count=3)))
    assert record.state == "failed" and record.images_saved == 2
    assert q.consumption(services.db, "alpha")["images_today"] == 2
    rows = q.usage_rows(services.db)
    assert [(r.status, r.images) for r in rows] == [("failed", 2)]


async def test_images_delivered_before_a_cancel_count_against_quotas(services):
    alpha = OnePerCall("alpha")
    alpha.slow_on_call = 3
    gen = _gen(services, guard=QuotaGuard(services.db), alpha=alpha)
    job_id = gen.submit(req(count=4))
    for _ in range(400):
        await asyncio.sleep(0.005)
        if gen.journal.get(job_id).images_saved == 2:
            break
    gen.jobs.cancel(job_id)
    assert (await gen.jobs.wait(job_id)).state == "cancelled"
    assert q.consumption(services.db, "alpha")["images_today"] == 2


class FailingTask(FakeProvider):
    async def poll(self, handle: TaskHandle) -> TaskStatus:
        self.polled += 1
        return TaskStatus(TaskState.FAILED, error=ProviderDown("prediction failed: CUDA error", provider=self.id))


async def test_a_task_that_ran_and_failed_is_not_resubmitted_elsewhere(services):
    alpha, beta = FailingTask("alpha", asynchronous=True), FakeProvider("beta")
    gen = _gen(services, alpha=alpha, beta=beta)
    record = await gen.jobs.wait(gen.submit(req(), fallback=["beta"]))
    assert record.state == "failed" and beta.submitted == []


async def test_cancelling_a_resumed_job_cancels_at_the_provider(services):
    journal = JobJournal(services.db)
    job_id = journal.create(req().to_metadata(), ["alpha"], 1)
    journal.update(job_id, state="running", task_id="task-9", task={"count": 1, "polls": 0})
    alpha = FakeProvider("alpha", asynchronous=True, polls_before_done=10_000)
    gen = _gen(services, alpha=alpha)
    await gen.jobs.resume()
    for _ in range(100):
        await asyncio.sleep(0.005)
        if alpha.polled > 1:
            break
    assert "cancelled at the provider" in gen.jobs.cancel(job_id)
    assert (await gen.jobs.wait(job_id)).state == "cancelled"
    assert alpha.cancelled == ["task-9"]


async def test_a_bug_while_finishing_a_resumed_job_fails_it_instead_of_leaving_it_running(services):
    class Broken(FakeProvider):
        async def poll(self, handle):  # type: ignore[no-untyped-def]
            raise OSError("unexpected")

    journal = JobJournal(services.db)
    job_id = journal.create(req().to_metadata(), ["alpha"], 1)
    journal.update(job_id, state="running", task_id="task-1", task={"count": 1})
    gen = _gen(services, alpha=Broken("alpha", asynchronous=True))
    await gen.jobs.resume()
    record = await gen.jobs.wait(job_id)
    assert record.state == "failed" and record.error_kind == "internal"


async def test_resume_after_a_crash_between_saving_and_finishing_does_not_save_twice(services):
    alpha = FakeProvider("alpha", asynchronous=True, polls_before_done=0)
    gen = _gen(services, alpha=alpha)
    job_id = gen.submit(req())
    assert (await gen.jobs.wait(job_id)).images_saved == 1
    gen.journal.update(job_id, state="running")  # the app died after saving, before marking success
    alpha.counter = 1  # rewind the fake: polling the same task hands back the very same bytes
    await gen.jobs.resume()
    record = await gen.jobs.wait(job_id)
    assert record.state == "succeeded" and record.images_saved == 1
    assert services.library.library.count() == 1


@pytest.mark.skipif(__import__("os").name != "posix", reason="process liveness is probed with POSIX signal 0")
async def test_resume_leaves_jobs_of_a_live_process_alone_and_takes_over_once_it_is_gone(services):
    import subprocess
    import sys

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        journal = JobJournal(services.db)
        pending = journal.create(req(prompt="queued in the window").to_metadata(), ["alpha"], 1)
        running = journal.create(req(prompt="polled by the window").to_metadata(), ["alpha"], 1)
        journal.update(running, state="running", task_id="task-5", task={"count": 1})
        for job_id in (pending, running):
            journal.update(job_id, owner_pid=other.pid)  # another process (the window) runs these
        alpha = FakeProvider("alpha", asynchronous=True, polls_before_done=0)
        gen = _gen(services, alpha=alpha)
        assert await gen.jobs.resume() == []  # neither re-submitted nor polled twice
        assert alpha.submitted == [] and alpha.polled == 0
        other.kill()
        other.wait()
        resumed = await gen.jobs.resume()  # the owner died: now this process finishes them
        assert sorted(resumed) == sorted([pending, running])
        for job_id in resumed:
            assert (await gen.jobs.wait(job_id)).state == "succeeded"
        assert len(alpha.submitted) == 1  # only the job that never left is submitted
    finally:
        if other.poll() is None:
            other.kill()


async def test_a_key_change_does_not_cut_off_a_request_in_flight():
    """ProviderFactory.forget (after a key change) leaves the old adapter serving its paid request."""
    from desktop.services.provider_factory import ProviderFactory
    from providers.catalogue import Catalogue as RealCatalogue
    from tests.fakes.servers.base import Reply
    from tests.fakes.servers.openai_fake import OpenAIFake

    fake = OpenAIFake().start()
    try:
        factory = ProviderFactory(RealCatalogue.load(), None, env={"OPENAI_API_KEY": fake.key,
                                                                     "IMAGES_STUDIO_OPENAI_BASE_URL": fake.base_url})
        provider = await factory.get("openai")
        fake.fault("generations", Reply(200, {"data": [{"b64_json": __import__("base64").b64encode(
            colored_png(3)).decode()}]}, delay_s=0.4))
        request = ImageRequest(prompt="a lamp", provider="openai", model="gpt-image-2")
        call = asyncio.ensure_future(provider.submit(request))
        await asyncio.sleep(0.1)
        await factory.forget("openai")  # the user saved a new key while the request was open
        result = await call
        assert len(result.images) == 1 and fake.calls("/v1/images/generations")
        assert await factory.get("openai") is not provider  # new jobs use the new key
        await factory.aclose()
    finally:
        fake.stop()
