"""What the queue shows: one `JobItem` per job, built from the journal's recent jobs and kept current from
JobEvents. Progress is the provider's figure when an event carried one, else elapsed time against the
model's typical time (capped below 100% so a slow job never looks finished)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal

from desktop.viewmodels.generation_queue import QueueViewModel
from desktop.viewmodels.records import JobEvent, JobRecord

# JobService / journal states -> the five the queue shows.
STATE_GROUP = {
    "pending": "pending", "submitting": "running", "running": "running", "succeeded": "done",
    "failed": "failed", "interrupted": "failed", "cancelled": "cancelled",
}
FINISHED = ("done", "failed", "cancelled")


@dataclass
class JobItem:
    job_id: int
    prompt: str
    provider: str
    model: str
    count: int
    state: str = "pending"  # pending | running | done | failed | cancelled
    progress: float | None = None  # provider-reported (0..1), None = estimate from elapsed time
    started_at: float | None = None  # monotonic, when the request left
    typical_s: float = 20.0
    message: str = ""  # error text (already worded for a creator), or a status line
    note: str = ""  # the billing note from cancel
    fallback_from: str = ""
    image_ids: list[int] = field(default_factory=list)
    saved: int = 0

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def shown_progress(self, now: float | None = None) -> float:
        if self.state == "done":
            return 1.0
        if self.progress is not None:
            return self.progress
        if self.state != "running" or self.started_at is None:
            return 0.0
        elapsed = (now if now is not None else time.monotonic()) - self.started_at
        return min(0.95, elapsed / max(1.0, self.typical_s))


class JobsModel(QObject):
    added = Signal(int)  # job id (newest first in the view)
    changed = Signal(int)
    removed = Signal(int)

    def __init__(self, queue: QueueViewModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.items: dict[int, JobItem] = {}

    def load_history(self, limit: int = 30) -> None:
        """Recent jobs from the journal, so the queue also says what happened before a restart."""
        for record in reversed(self.queue.recent_jobs(limit)):
            if record.id not in self.items:
                self.items[record.id] = self._from_record(record)
                self.added.emit(record.id)

    def _from_record(self, record: JobRecord) -> JobItem:
        caps = self.queue.capabilities(record.provider, record.model)
        return JobItem(record.id, str(record.request.get("prompt", "")), record.provider, record.model,
                       record.count, STATE_GROUP.get(record.state, "failed"),
                       progress=record.progress or None, typical_s=caps.typical_seconds if caps else 20.0,
                       message=record.error_message, fallback_from=record.fallback_from,
                       saved=record.images_saved)

    def on_event(self, event: JobEvent) -> None:
        item = self.items.get(event.job_id)
        if item is None:
            record = self.queue.job(event.job_id)
            if record is None:
                return
            item = self._from_record(record)
            self.items[item.job_id] = item
            self.added.emit(item.job_id)
        kind = event.kind
        if kind == "started":
            item.state = "running"
            item.provider = event.provider or item.provider
            item.started_at = time.monotonic()
            item.message = "resumed after restart" if event.message == "resumed" else ""
            record = self.queue.job(item.job_id)
            if record is not None:
                item.model = record.model or item.model
                caps = self.queue.capabilities(item.provider, item.model)
                item.typical_s = caps.typical_seconds if caps else item.typical_s
        elif kind == "progress":
            item.state = "running"
            item.progress = event.progress
            item.message = event.message if event.message and len(event.message) < 120 else item.message
        elif kind == "retrying":
            wait = f" in {event.retry_in:.0f} s" if event.retry_in and event.retry_in >= 1 else ""
            if event.message.startswith("rate-limited"):
                item.message = f"rate-limited, retrying{wait}"
            else:
                item.message = f"provider hiccup, retrying{wait}"
        elif kind == "fallback":
            item.fallback_from = item.fallback_from or item.provider
            item.provider = event.provider
            item.state, item.progress, item.started_at = "pending", None, None
            item.message = f"{item.fallback_from} is down; trying {event.provider}"
        elif kind == "image" and event.image_id is not None:
            if event.image_id not in item.image_ids:
                item.image_ids.append(event.image_id)
            item.saved = len(item.image_ids)
        elif kind == "done":
            item.state, item.progress = "done", 1.0
            item.message = ""
        elif kind == "failed":
            item.state = "failed"
            item.message = event.message
        elif kind == "cancelled":
            item.state = "cancelled"
            item.message = "cancelled"
        elif kind == "queued":
            item.state = "pending"
        self.changed.emit(item.job_id)

    # -- commands -----------------------------------------------------------------------------------------
    def cancel(self, job_id: int) -> str:
        note = self.queue.cancel(job_id)
        item = self.items.get(job_id)
        if item is not None:
            item.note = note
            self.changed.emit(job_id)
        return note

    def cancel_all(self) -> int:
        active = [i for i in self.items.values() if not i.finished and self.queue.is_running(i.job_id)]
        for item in active:
            self.cancel(item.job_id)
        return len(active)

    def retry(self, job_id: int) -> int:
        return self.queue.retry(job_id)

    def clear_finished(self) -> None:
        for job_id in [i.job_id for i in self.items.values() if i.finished]:
            del self.items[job_id]
            self.removed.emit(job_id)

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in ("pending", "running", "done", "failed", "cancelled")}
        for item in self.items.values():
            out[item.state] = out.get(item.state, 0) + 1
        return out

    def any_running(self) -> bool:
        return any(i.state == "running" for i in self.items.values())
