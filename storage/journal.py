"""The job journal: every generation is written down before its first request, and its provider task id
the moment it is known, so a restart resumes polling instead of paying twice."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from storage.models import Job

UNFINISHED = ("pending", "submitting", "running")
FINISHED = ("succeeded", "failed", "cancelled", "interrupted")


@dataclass(frozen=True)
class JobRecord:
    id: int
    state: str
    provider: str
    model: str
    request: dict[str, Any]
    count: int
    task_id: str
    task: dict[str, Any]
    provider_chain: list[str]
    error_kind: str
    error_message: str
    images_saved: int
    fallback_from: str
    progress: float
    created_at: float
    updated_at: float
    image_ids: list[int] = field(default_factory=list)
    owner_pid: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.id, "state": self.state, "provider": self.provider, "model": self.model,
            "prompt": self.request.get("prompt", ""), "count": self.count, "task_id": self.task_id or None,
            "images_saved": self.images_saved, "error_kind": self.error_kind or None,
            "error": self.error_message or None, "fallback_from": self.fallback_from or None,
            "created_at": self.created_at, "updated_at": self.updated_at,
        }


def _record(row: Job) -> JobRecord:
    def load(text: str | None, default: Any) -> Any:
        try:
            return json.loads(text) if text else default
        except ValueError:
            return default

    return JobRecord(
        id=row.id, state=row.state, provider=row.provider or "", model=row.model or "",
        request=load(row.request_json, {}), count=row.count or 1, task_id=row.task_id or "",
        task=load(row.task_json, {}), provider_chain=load(row.provider_chain, []),
        error_kind=row.error_kind or "", error_message=row.error_message or "",
        images_saved=row.images_saved or 0, fallback_from=row.fallback_from or "",
        progress=row.progress or 0.0, created_at=row.created_at, updated_at=row.updated_at,
        owner_pid=row.owner_pid,
    )


class JobJournal:
    """Synchronous journal over the Job table; callers use it on the one writer thread."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def create(self, request: dict[str, Any], chain: list[str], count: int) -> int:
        now = time.time()
        with self.db.atomic():
            row = Job.create(created_at=now, updated_at=now, state="pending", provider=chain[0],
                             model=request.get("model", ""), request_json=json.dumps(request),
                             count=count, task_id="", task_json="", provider_chain=json.dumps(chain),
                             error_kind="", error_message="", images_saved=0, fallback_from="", progress=0.0,
                             owner_pid=os.getpid())
        return int(row.id)

    def update(self, job_id: int, **fields: Any) -> None:
        values: dict[str, Any] = {"updated_at": time.time()}
        for key, value in fields.items():
            if key == "task":
                values["task_json"] = json.dumps(value)
            elif key == "request":
                values["request_json"] = json.dumps(value)
            else:
                values[key] = value
        with self.db.atomic():
            Job.update(**values).where(Job.id == job_id).execute()

    def add_saved(self, job_id: int, n: int = 1) -> None:
        with self.db.atomic():
            Job.update(images_saved=Job.images_saved + n, updated_at=time.time()).where(Job.id == job_id).execute()

    def get(self, job_id: int) -> JobRecord | None:
        row = Job.get_or_none(Job.id == job_id)
        return _record(row) if row else None

    def claim(self, job_id: int) -> None:
        """This process now runs the job (it resumed it)."""
        self.update(job_id, owner_pid=os.getpid())

    def unfinished(self) -> list[JobRecord]:
        return [_record(r) for r in Job.select().where(Job.state.in_(UNFINISHED)).order_by(Job.id)]

    def recent(self, limit: int = 200) -> list[JobRecord]:
        return [_record(r) for r in Job.select().order_by(Job.id.desc()).limit(limit)]


def owner_alive(record: JobRecord) -> bool:
    """Is the job run by another live process on this machine? (POSIX signal 0 probes without touching it;
    elsewhere, and for jobs from before schema v3, we cannot tell and treat the owner as gone.)"""
    pid = record.owner_pid
    if not pid or pid == os.getpid() or os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
