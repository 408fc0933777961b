"""A stateful loopback fake of KIE AI (reference §4, fake notes §4.6): Market jobs, Flux Kontext, 4o Image,
credits, the base64 upload service and result files, all in the `{code, msg, data}` envelope.

A task stays unfinished for `polls_running` record-info calls (Market: `waiting`, then `generating`;
Kontext/4o: `successFlag` 0 with a rising 4o `progress`), then ends with `outcome` ("success" or "fail").
Route names for `fault()`: market_create, market_info, kontext_create, kontext_info, gpt4o_create,
gpt4o_info, credit, upload, file. `kie_error()` builds error replies, with HTTP status = code or HTTP 200.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.servers.base import FakeServer, Reply, Request, png_bytes


def envelope(data: Any, code: int = 200, msg: str = "success") -> dict[str, Any]:
    return {"code": code, "msg": msg, "data": data}


def kie_error(code: int, msg: str, *, http_200: bool = False, headers: dict[str, str] | None = None) -> Reply:
    """An error envelope; `http_200` sends it with HTTP 200, as some KIE endpoints do."""
    return Reply(200 if http_200 else code, envelope(None, code, msg), headers=headers or {})


@dataclass
class Task:
    id: str
    family: str
    body: dict[str, Any]
    polls: int = 0
    done: bool = False
    files: list[str] = field(default_factory=list)


class KieFake(FakeServer):
    def __init__(self, key: str = "kie-fake-key", *, polls_running: int = 2, outcome: str = "success",
                 fail_code: int = 501, fail_msg: str = "generation failed", credits: float = 100.0,
                 credits_per_task: float = 4.0, errors_as_http_200: bool = False) -> None:
        super().__init__()
        self.key = key
        self.polls_running = polls_running
        self.outcome = outcome
        self.fail_code = fail_code
        self.fail_msg = fail_msg
        self.credits = credits
        self.credits_per_task = credits_per_task
        self.errors_as_http_200 = errors_as_http_200
        self.tasks: dict[str, Task] = {}
        self.files: dict[str, bytes] = {}
        self.uploads: dict[str, bytes] = {}
        self._ids = itertools.count(1)
        self._state_lock = threading.Lock()
        for family, create, info in (("market", "jobs/createTask", "jobs/recordInfo"),
                                     ("kontext", "flux/kontext/generate", "flux/kontext/record-info"),
                                     ("gpt4o", "gpt4o-image/generate", "gpt4o-image/record-info")):
            self.route(f"{family}_create", "POST", f"/api/v1/{create}", self._creator(family))
            self.route(f"{family}_info", "GET", f"/api/v1/{info}", self._reader(family))
        self.route("credit", "GET", "/api/v1/chat/credit", self._credit)
        self.route("upload", "POST", "/api/file-base64-upload", self._upload)
        self.route("file", "GET", r"/files/(?P<name>[^/]+)", self._file)

    # -- helpers ---------------------------------------------------------------------------------------
    def _error(self, code: int, msg: str) -> Reply:
        return kie_error(code, msg, http_200=self.errors_as_http_200)

    def _unauthorised(self, req: Request) -> Reply | None:
        if req.header("authorization") == f"Bearer {self.key}":
            return None
        return self._error(401, "You do not have access permissions")

    def _validate(self, family: str, body: Any) -> Reply | None:
        if not isinstance(body, dict):
            return self._error(422, "body must be a JSON object")
        prompt = body.get("input", {}).get("prompt") if family == "market" else body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            return self._error(422, "prompt is required")
        if family == "market" and not isinstance(body.get("model"), str):
            return self._error(422, "model is required")
        if family == "gpt4o" and body.get("nVariants", 1) not in (1, 2, 4):
            return self._error(422, "nVariants must be 1, 2 or 4")
        if family == "kontext" and body.get("model", "flux-kontext-pro") not in ("flux-kontext-pro",
                                                                                  "flux-kontext-max"):
            return self._error(422, "model must be flux-kontext-pro or flux-kontext-max")
        return None

    def _finish(self, task: Task) -> None:
        task.done = True
        if self.outcome != "success":
            return
        count = int(task.body.get("nVariants", 1)) if task.family == "gpt4o" else 1
        for i in range(count):
            name = f"{task.id}-{i}.png"
            self.files[name] = png_bytes(8, 8, (200, 20 * i, 90))
            task.files.append(f"{self.url}/files/{name}")
        self.credits -= self.credits_per_task

    def _record(self, task: Task) -> dict[str, Any]:
        running = not task.done
        failed = task.done and self.outcome != "success"
        if task.family == "market":
            if running:
                state = "waiting" if task.polls <= 1 else "generating"
            else:
                state = "fail" if failed else "success"
            return {"taskId": task.id, "model": task.body.get("model"), "state": state,
                    "param": json.dumps(task.body),
                    "resultJson": "" if running or failed else json.dumps({"resultUrls": task.files}),
                    "failCode": str(self.fail_code) if failed else None,
                    "failMsg": self.fail_msg if failed else None,
                    "costTime": None if running else 8123, "createTime": 1755599990000,
                    "completeTime": None if running else 1755600000000, "updateTime": 1755600000000}
        flag = 0 if running else (3 if failed else 1)
        record: dict[str, Any] = {"taskId": task.id, "paramJson": json.dumps(task.body), "successFlag": flag,
                                  "errorCode": self.fail_code if failed else None,
                                  "errorMessage": self.fail_msg if failed else ""}
        if task.family == "kontext":
            record["response"] = ({"originImageUrl": "https://upstream.invalid/o.png",
                                   "resultImageUrl": task.files[0]} if flag == 1 else None)
            record["createTime"] = "2026-11-24T10:25:00Z"
        else:
            record["response"] = {"resultUrls": task.files} if flag == 1 else None
            record["status"] = {0: "GENERATING", 1: "SUCCESS", 3: "GENERATE_FAILED"}[flag]
            share = min(1.0, task.polls / (self.polls_running + 1)) if running else 1.0
            record["progress"] = f"{share:.2f}"
            record["createTime"] = 1672561200000
        return record

    # -- routes ----------------------------------------------------------------------------------------
    def _creator(self, family: str):  # noqa: ANN202 - a route handler factory
        def create(req: Request) -> Reply:
            if (denied := self._unauthorised(req)) is not None:
                return denied
            try:
                body = req.json()
            except ValueError:
                return self._error(400, "malformed JSON")
            if (invalid := self._validate(family, body)) is not None:
                return invalid
            if self.credits < self.credits_per_task:
                return self._error(402, "Insufficient credits")
            with self._state_lock:
                task = Task(id=f"task_{family}_{next(self._ids):04d}", family=family, body=body)
                self.tasks[task.id] = task
            return Reply(200, envelope({"taskId": task.id}))
        return create

    def _reader(self, family: str):  # noqa: ANN202
        def read(req: Request) -> Reply:
            if (denied := self._unauthorised(req)) is not None:
                return denied
            task_id = (req.query.get("taskId") or [""])[0]
            with self._state_lock:
                task = self.tasks.get(task_id)
                if task is None or task.family != family:
                    return self._error(404, "task not found")
                if not task.done:
                    task.polls += 1
                    if task.polls > self.polls_running:
                        self._finish(task)
                return Reply(200, envelope(self._record(task)))
        return read

    def _credit(self, req: Request) -> Reply:
        if (denied := self._unauthorised(req)) is not None:
            return denied
        return Reply(200, envelope(self.credits))

    def _upload(self, req: Request) -> Reply:
        if (denied := self._unauthorised(req)) is not None:
            return denied
        raw = str((req.json() or {}).get("base64Data", ""))
        mime = raw[5:].split(";", 1)[0] if raw.startswith("data:") else "image/png"
        data = base64.b64decode(raw.split(",", 1)[-1])
        with self._state_lock:
            name = f"upload-{next(self._ids):04d}.png"
            self.uploads[name] = data
            self.files[name] = data
        return Reply(200, {"success": True, "code": 200, "msg": "File uploaded successfully",
                           "data": {"fileName": name, "filePath": f"images/{name}",
                                    "downloadUrl": f"{self.url}/files/{name}", "fileSize": len(data),
                                    "mimeType": mime, "uploadedAt": "2026-11-24T12:00:00.000Z"}})

    def _file(self, req: Request) -> Reply:
        assert req.match is not None
        data = self.files.get(req.match["name"])
        if data is None:
            return Reply(404, "<html><body>404 Not Found</body></html>",
                         headers={"Content-Type": "text/html"})
        return Reply(200, data, headers={"Content-Type": "image/png"})
