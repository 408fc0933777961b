"""Jobs: one user action -> one journalled job -> provider calls -> images saved -> events.

Crash safety: the job row is written before the first request; an async provider's task id is written
the moment it is known; at start-up unfinished jobs resume polling. A job killed while a synchronous
request was in flight is marked "interrupted" (it may have been billed) and never re-sent by itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from desktop.services.events import EventBus
from providers.base import (
    Cancelled,
    ImageRequest,
    ImageResult,
    InvalidRequest,
    Provider,
    ProviderError,
    TaskHandle,
    TaskState,
)
from providers.catalogue import Catalogue
from providers.policy import RETRY_LISTENER
from providers.validation import adapt_for, check
from desktop.services.job_records import friendly_error, journal_meta, request_from_record
from storage.journal import JobJournal, JobRecord, owner_alive

log = logging.getLogger(__name__)

MAX_POLL_FAILURES = 5
SaveImages = Callable[[int, ImageRequest, ImageResult, str], Awaitable[list[int]]]


@dataclass(frozen=True)
class JobEvent:
    """kind: queued | started | progress | retrying | fallback | image | done | failed | cancelled."""

    job_id: int
    kind: str
    state: str = ""
    provider: str = ""
    progress: float | None = None
    message: str = ""
    image_id: int | None = None
    error_kind: str = ""
    retry_in: float | None = None


class QuotaBlocked(ProviderError):
    """A spending or image quota refused (part of) a job; the message names the quota and its reset."""

    kind = "quota"


class Guard(Protocol):
    """Quotas and the usage ledger. `reserve` raises QuotaBlocked when nothing is allowed; otherwise it
    returns a reservation whose `images` may be below `count` (with a `message` naming the quota)."""

    async def reserve(self, job_id: int, provider: str, model: str, count: int, unit_usd: float) -> Any: ...

    async def settle(self, reservation: Any, outcome: str, *, latency_ms: int,
                     result: ImageResult | None) -> None: ...


class JobService:
    def __init__(self, journal: JobJournal, catalogue: Catalogue, get_provider: Callable[[str], Awaitable[Provider]],
                 save_images: SaveImages, *, guard: Guard | None = None, concurrency: dict[str, int] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.journal = journal
        self.catalogue = catalogue
        self._get_provider = get_provider
        self._save_images = save_images
        self.guard = guard  # quotas + ledger (reserve/settle); None = no spending limits
        self._sleep = sleep
        self._limits = concurrency or {}
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._handles: dict[int, tuple[Provider, TaskHandle]] = {}
        self.events: EventBus[JobEvent] = EventBus()

    # -- public API ----------------------------------------------------------------------------------
    def prepare(self, request: ImageRequest) -> None:
        """Validate without side effects; raises InvalidRequest with every problem worded for the user."""
        check(request, self.catalogue.get(request.provider))

    def submit(self, request: ImageRequest, fallback: Sequence[str] = (), collection: str | None = None) -> int:
        """Journal the job and start it. Returns at once; progress arrives as JobEvents."""
        self.prepare(request)
        chain = [request.provider] + [p for p in fallback if p != request.provider and p in self.catalogue]
        meta = journal_meta(request)
        if collection:
            meta["collection"] = collection
        job_id = self.journal.create(meta, chain, request.count)
        log.info("job %s: %d image(s) from %s/%s%s", job_id, request.count, request.provider, request.model,
                 f", fallback {', '.join(chain[1:])}" if len(chain) > 1 else "")
        self._emit(job_id, "queued", "pending", request.provider)
        self._start(job_id, self._run(job_id, request, chain))
        return job_id

    def cancel(self, job_id: int) -> str:
        """Stop a job. Returns an honest note about billing for the user."""
        task = self._tasks.get(job_id)
        if task is None:
            return "the job is not running"
        task.cancel()
        entry = self._handles.get(job_id)
        if entry is not None and entry[0].supports_cancel:
            return "cancelled at the provider; nothing more will be billed"
        return "stopped waiting; the provider may still bill a request it already received"

    def cancel_all(self) -> None:
        for job_id in list(self._tasks):
            self.cancel(job_id)

    def retry(self, job_id: int) -> int:
        record = self.journal.get(job_id)
        if record is None:
            raise KeyError(job_id)
        return self.submit(request_from_record(record), fallback=record.provider_chain[1:],
                           collection=record.request.get("collection"))

    async def resume(self) -> list[int]:
        """Resume unfinished jobs after a restart; returns the ids resumed (polling or first submit)."""
        resumed: list[int] = []
        for record in self.journal.unfinished():
            if record.id in self._tasks:
                continue
            if owner_alive(record):
                log.info("job %s is being run by process %s; not resuming it here", record.id, record.owner_pid)
                continue
            self.journal.claim(record.id)
            request = request_from_record(record)
            if record.state == "running" and record.task_id:
                handle = TaskHandle(record.provider, record.task_id, record.model, record.task)
                self._start(record.id, self._resume_poll(record, request, handle))
                resumed.append(record.id)
            elif record.state == "pending":
                self._start(record.id, self._run(record.id, request, record.provider_chain or [record.provider]))
                resumed.append(record.id)
            else:  # "submitting": a request was in flight when the app died; its outcome is unknown
                self.journal.update(record.id, state="interrupted", error_kind="interrupted",
                                    error_message="the app stopped while a request was in flight; "
                                                  "it may have been billed")
                self._emit(record.id, "failed", "interrupted", record.provider,
                           message="interrupted while a request was in flight", error_kind="interrupted")
        return resumed

    async def wait(self, job_id: int) -> JobRecord | None:
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        return self.journal.get(job_id)

    @property
    def running(self) -> list[int]:
        return list(self._tasks)

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- internals -----------------------------------------------------------------------------------
    def _emit(self, job_id: int, kind: str, state: str = "", provider: str = "", **kw: Any) -> None:
        if kind in ("failed", "cancelled", "fallback", "retrying", "done"):
            log.info("job %s %s (%s): %s", job_id, kind, provider or "-", kw.get("message", ""))
        self.events.publish(JobEvent(job_id, kind, state, provider, **kw))

    def _start(self, job_id: int, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks[job_id] = task
        task.add_done_callback(lambda _t: (self._tasks.pop(job_id, None), self._handles.pop(job_id, None)))

    def _semaphore(self, provider: str) -> asyncio.Semaphore:
        if provider not in self._semaphores:
            default = 1 if self.catalogue.get(provider).local else 2
            self._semaphores[provider] = asyncio.Semaphore(self._limits.get(provider, default))
        return self._semaphores[provider]

    async def _run(self, job_id: int, request: ImageRequest, chain: Sequence[str]) -> None:
        await self._with_endings(job_id, self._run_chain(job_id, request, chain))

    async def _with_endings(self, job_id: int, work: Awaitable[None]) -> None:
        """Every way a job can end is journalled and announced the same way, fresh or resumed."""
        try:
            await work
        except asyncio.CancelledError:
            self.journal.update(job_id, state="cancelled", error_kind="cancelled", error_message="cancelled")
            self._emit(job_id, "cancelled", "cancelled", message="cancelled")
            raise
        except ProviderError as exc:
            message = friendly_error(exc)
            self.journal.update(job_id, state="failed", error_kind=exc.kind, error_message=message)
            self._emit(job_id, "failed", "failed", exc.provider, message=message, error_kind=exc.kind)
        except Exception as exc:  # a bug must fail the job visibly, never hang it or leave it "running"
            log.exception("job %s crashed", job_id)
            self.journal.update(job_id, state="failed", error_kind="internal", error_message=str(exc)[:300])
            self._emit(job_id, "failed", "failed", message=f"internal error: {type(exc).__name__}",
                       error_kind="internal")

    async def _run_chain(self, job_id: int, request: ImageRequest, chain: Sequence[str]) -> None:
        first = chain[0]
        last_error: ProviderError | None = None
        skipped: list[str] = []
        for index, provider_id in enumerate(chain):
            attempt = request if index == 0 else adapt_for(request, self.catalogue.get(provider_id))
            if attempt is None:
                skipped.append(provider_id)
                continue
            if index > 0:
                self._emit(job_id, "fallback", "pending", provider_id,
                           message=f"{first} is unavailable; trying {provider_id}")
            try:
                await self._attempt(job_id, attempt, fallback_from=first if index else "")
                return
            except ProviderError as exc:
                last_error = exc
                if not exc.fallback_ok:
                    raise  # authentication, moderation, invalid request, billed work: never hidden
                log.info("job %s: %s failed (%s); trying the next provider", job_id, provider_id, exc.kind)
        if last_error is None:
            raise InvalidRequest("no provider in the chain can take this request", provider=first)
        if skipped:
            last_error.message += f" (fallback {', '.join(skipped)} cannot honour this request)"
        raise last_error

    async def _attempt(self, job_id: int, request: ImageRequest, fallback_from: str) -> None:
        provider_id = request.provider
        info = self.catalogue.get(provider_id)
        caps = check(request, info)
        unit = caps.price_for(request.size, request.quality) or 0.0
        reservation = None
        shortfall = ""
        if self.guard is not None:
            # Checked and reserved atomically before any request leaves. A quota may allow fewer images
            # than asked: those are made and saved, then the job ends naming the quota.
            reservation = await self.guard.reserve(job_id, provider_id, request.model, request.count, unit)
            allowed = int(getattr(reservation, "images", request.count))
            if allowed < request.count:
                shortfall = getattr(reservation, "message", "") or "a quota allows fewer images"
                request = dataclasses.replace(request, count=allowed)
        started = time.monotonic()
        outcome = "failed"
        result: ImageResult | None = None

        def on_retry(exc: ProviderError, attempt: int, delay: float) -> None:
            what = "rate-limited" if exc.kind == "rate_limited" else exc.message
            self._emit(job_id, "retrying", "submitting", provider_id, retry_in=delay,
                       message=f"{what}; retrying in {delay:.0f} s (attempt {attempt + 1})")

        RETRY_LISTENER.set(on_retry)  # this task only: concurrent jobs keep their own listener
        billed = False  # once a provider answered a request, it may have charged for it
        try:
            async with self._semaphore(provider_id):
                provider = await self._get_provider(provider_id)
                # Journal first: if the app dies during this call, resume knows a request was in flight.
                self.journal.update(job_id, state="submitting", provider=provider_id, model=request.model,
                                    fallback_from=fallback_from)
                self._emit(job_id, "started", "submitting", provider_id)
                calls = _calls(provider, request)
                for call in calls:
                    try:
                        one = await self._one_call(job_id, provider, call, caps.typical_seconds)
                        billed = True
                    except ProviderError as exc:
                        if result is not None:  # images already made are paid for: keep them, never fall back
                            exc.fallback_ok = False
                            exc.message += f" ({len(result.images)} of {request.count} images were saved)"
                        raise
                    if len(calls) > 1:  # one image per call: each one streams into the library as it lands
                        await self._save_and_announce(job_id, call, one, fallback_from)
                        result = _merged(result, one)
                    else:
                        result = one
            outcome = "ok"
            assert result is not None
            if len(calls) == 1:
                await self._save_and_announce(job_id, request, result, fallback_from)
            if shortfall:
                raise QuotaBlocked(shortfall, provider=provider_id)
            self._complete(job_id, provider_id, len(result.images))
        except ProviderError as exc:
            if billed or self._handles.get(job_id) is not None:
                exc.fallback_ok = False  # a request the provider took may be billed: never pay twice
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"
            await self._cancel_at_provider(job_id)
            raise
        finally:
            if self.guard is not None and reservation is not None:
                latency = int((time.monotonic() - started) * 1000)
                await self.guard.settle(reservation, outcome, latency_ms=latency, result=result)

    async def _one_call(self, job_id: int, provider: Provider, request: ImageRequest,
                        typical_s: float) -> ImageResult:
        """One provider request: submit, then follow the task (its id journalled first) until it ends."""
        watcher = self._watch_progress(job_id, provider, typical_s)
        try:
            submitted = await provider.submit(request)
        finally:
            if watcher is not None:
                watcher.cancel()
        if not isinstance(submitted, TaskHandle):
            return submitted
        self.journal.update(job_id, state="running", task_id=submitted.task_id, task=submitted.state)
        self._handles[job_id] = (provider, submitted)
        result = await self._poll(job_id, provider, submitted, typical_s)
        self._handles.pop(job_id, None)  # finished: a later cancel must not target this task
        return result

    async def _cancel_at_provider(self, job_id: int) -> None:
        """On cancel, stop the provider's task where the API allows it (shielded: we are being cancelled)."""
        entry = self._handles.get(job_id)
        if entry is not None and entry[0].supports_cancel:
            try:
                await asyncio.shield(entry[0].cancel(entry[1]))
            except (ProviderError, asyncio.CancelledError):
                pass

    def _watch_progress(self, job_id: int, provider: Provider, typical_s: float) -> asyncio.Task[None] | None:
        """While a synchronous request is open, report the backend's own progress (A1111's /progress) so
        a slow local render shows more than a spinner."""
        probe = getattr(provider, "progress", None)
        if not callable(probe):
            return None
        interval = max(0.2, getattr(getattr(provider, "config", None), "poll_interval_s", 1.0))

        async def watch() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    value = await probe()
                except ProviderError:
                    continue
                if value is not None:
                    self._emit(job_id, "progress", "running", provider.id, progress=value)

        return asyncio.ensure_future(watch())

    async def _poll(self, job_id: int, provider: Provider, handle: TaskHandle, typical_s: float) -> ImageResult:
        started = time.monotonic()
        interval = getattr(getattr(provider, "config", None), "poll_interval_s", 2.0)
        failures = 0
        while True:
            try:
                status = await provider.poll(handle)
                failures = 0
            except ProviderError as exc:
                # The task exists and may be billed: never fall back to another provider from here.
                # Transient polling faults are ridden out; the provider keeps working on the task.
                exc.fallback_ok = False
                failures += 1
                if not exc.retryable or failures >= MAX_POLL_FAILURES:
                    raise
                self._emit(job_id, "retrying", "running", handle.provider, message=str(exc),
                           retry_in=interval)
                await self._sleep(interval)
                continue
            if status.state is TaskState.SUCCEEDED and status.result is not None:
                return status.result
            if status.state is TaskState.FAILED:
                error = status.error or InvalidRequest(status.message or "the task failed",
                                                       provider=handle.provider)
                error.fallback_ok = False  # the task ran (and may be billed): tell the user, do not resubmit
                raise error
            if status.state is TaskState.CANCELLED:
                raise Cancelled("the provider cancelled the task", provider=handle.provider)
            elapsed = time.monotonic() - started
            progress = status.progress if status.progress is not None else min(0.95, elapsed / max(1.0, typical_s))
            self.journal.update(job_id, progress=progress)
            self._emit(job_id, "progress", "running", handle.provider, progress=progress,
                       message=status.message)
            await self._sleep(interval)

    async def _resume_poll(self, record: JobRecord, request: ImageRequest, handle: TaskHandle) -> None:
        await self._with_endings(record.id, self._follow_resumed(record, request, handle))

    async def _follow_resumed(self, record: JobRecord, request: ImageRequest, handle: TaskHandle) -> None:
        provider = await self._get_provider(handle.provider)
        self._handles[record.id] = (provider, handle)
        try:
            self._emit(record.id, "started", "running", handle.provider, message="resumed")
            caps = self.catalogue.capabilities(handle.provider, handle.model)
            result = await self._poll(record.id, provider, handle, caps.typical_seconds if caps else 20.0)
        except asyncio.CancelledError:
            await self._cancel_at_provider(record.id)
            raise
        await self._save_and_announce(record.id, dataclasses.replace(request, provider=handle.provider,
                                                                     model=handle.model),
                                      result, record.fallback_from)
        self._complete(record.id, handle.provider, len(result.images))

    async def _save_and_announce(self, job_id: int, request: ImageRequest, result: ImageResult,
                                 fallback_from: str) -> list[int]:
        if not result.images:
            raise InvalidRequest("the provider returned no image", provider=request.provider)
        image_ids = await self._save_images(job_id, request, result, fallback_from)
        for image_id in image_ids:
            self._emit(job_id, "image", "running", request.provider, image_id=image_id)
        return image_ids

    def _complete(self, job_id: int, provider: str, count: int) -> None:
        self.journal.update(job_id, state="succeeded", progress=1.0)
        self._emit(job_id, "done", "succeeded", provider, progress=1.0, message=f"{count} image(s) saved")


def _calls(provider: Provider, request: ImageRequest) -> list[ImageRequest]:
    """The requests one job makes. A provider that makes one image per call (Pollinations, Stability v2)
    gets one call per image, seeds counting up, so each image is saved the moment it exists and a later
    failure or a cancel never throws away the ones already paid for."""
    natively = getattr(provider, "batch_natively", None)
    if request.count <= 1 or not callable(natively) or natively(request.model):
        return [request]
    return [dataclasses.replace(request, count=1, seed=None if request.seed is None else request.seed + i)
            for i in range(request.count)]


def _merged(done: ImageResult | None, one: ImageResult) -> ImageResult:
    if done is None:
        return one
    costs = (done.cost_usd, one.cost_usd)
    return ImageResult(done.images + one.images, request_id=one.request_id or done.request_id,
                       cost_usd=None if None in costs else sum(costs),  # type: ignore[arg-type]
                       usage={**done.usage, **one.usage})
