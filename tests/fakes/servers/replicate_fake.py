"""A stateful loopback fake of Replicate's predictions API (reference §3, fake notes §3.7).

Predictions go `starting -> processing -> <outcome>` as they are fetched: `polls_starting` GETs in
`starting`, then `polls_processing` GETs in `processing` (with a tqdm bar in `logs`), then the outcome.
Outputs are URLs of the fake's own `/files/<name>` route (a string or a list, by `output_shape`) or data URLs.
Route names for `fault()`: create_model, create_version, get, cancel, list, model, account, file.
"""

from __future__ import annotations

import base64
import itertools
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.servers.base import FakeServer, Reply, Request, png_bytes

VERSION_RE = re.compile(r"^[0-9a-f]{64}$")
INVALID_INPUT = "Input validation failed"
NSFW_TEXT = "NSFW content detected. Try running it again, or try a different prompt."
ASPECT_RATIOS = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21")


def problem(status: int, detail: str, title: str = "") -> Reply:
    """An RFC 7807 error body as Replicate sends it."""
    body: dict[str, Any] = {"detail": detail, "status": status}
    if title:
        body["title"] = title
    return Reply(status, body, headers={"Content-Type": "application/problem+json"})


@dataclass
class Prediction:
    id: str
    model: str
    version: str
    input: dict[str, Any]
    polls: int = 0
    status: str = "starting"
    output: Any = None
    error: str | None = None
    data_removed: bool = False
    outcome: str = "succeeded"
    wait: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class ReplicateFake(FakeServer):
    def __init__(self, key: str = "r8_fake_key", *, polls_starting: int = 1, polls_processing: int = 1,
                 outcome: str = "succeeded", failure_text: str = NSFW_TEXT, output_shape: str = "list",
                 data_removed: bool = False, known_models: tuple[str, ...] | None = None,
                 username: str = "fake-user") -> None:
        super().__init__()
        self.key = key
        self.polls_starting = polls_starting
        self.polls_processing = polls_processing
        self.outcome = outcome  # succeeded | failed | canceled | aborted (deadline passed before start)
        self.failure_text = failure_text
        self.output_shape = output_shape  # list | string | data
        self.data_removed = data_removed
        self.known_models = known_models
        self.username = username
        self.predictions: dict[str, Prediction] = {}
        self.files: dict[str, bytes] = {}
        self._ids = itertools.count(1)
        self._state_lock = threading.Lock()
        self.route("create_model", "POST", r"/v1/models/(?P<owner>[^/]+)/(?P<name>[^/]+)/predictions",
                   self._create_model)
        self.route("create_version", "POST", r"/v1/predictions", self._create_version)
        self.route("cancel", "POST", r"/v1/predictions/(?P<id>[^/]+)/cancel", self._cancel)
        self.route("get", "GET", r"/v1/predictions/(?P<id>[^/]+)", self._get)
        self.route("list", "GET", r"/v1/predictions", self._list)
        self.route("model", "GET", r"/v1/models/(?P<owner>[^/]+)/(?P<name>[^/]+)", self._model)
        self.route("account", "GET", r"/v1/account", self._account)
        self.route("file", "GET", r"/files/(?P<name>[^/]+)", self._file)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # -- helpers ---------------------------------------------------------------------------------------
    def _unauthorised(self, req: Request) -> Reply | None:
        if req.header("authorization") == f"Bearer {self.key}":
            return None
        return problem(401, "You did not pass a valid authentication token", "Unauthenticated")

    def _json(self, pred: Prediction) -> dict[str, Any]:
        get = f"{self.base_url}/predictions/{pred.id}"
        body = {
            "id": pred.id, "model": pred.model, "version": pred.version, "input": pred.input,
            "logs": "", "output": pred.output, "error": pred.error, "status": pred.status,
            "data_removed": pred.data_removed, "created_at": "2026-11-24T10:00:00.000Z",
            "urls": {"get": get, "cancel": f"{get}/cancel", "web": f"https://replicate.com/p/{pred.id}"},
        }
        if pred.status == "processing":
            body["logs"] = ("Using seed: 1\n  0%|          | 0/4 [00:00<?, ?it/s]\n"
                            " 50%|#####     | 2/4 [00:01<00:01]")
        if pred.status in ("succeeded", "failed", "canceled"):
            body["metrics"] = {"predict_time": 1.6, "total_time": 1.9}
            body["completed_at"] = "2026-11-24T10:00:01.900Z"
        return body

    def _finish(self, pred: Prediction) -> None:
        pred.status = pred.outcome
        if pred.outcome == "failed":
            pred.error = self.failure_text
        if pred.outcome != "succeeded":
            return
        if self.data_removed:
            pred.data_removed, pred.output = True, None
            return
        count = int(pred.input.get("num_outputs", 1) or 1)
        urls = []
        for i in range(count):
            data = png_bytes(8, 8, (10 * i, 120, 200))
            if self.output_shape == "data" or pred.wait:
                urls.append("data:image/png;base64," + base64.b64encode(data).decode())
            else:
                name = f"{pred.id}-{i}.png"
                self.files[name] = data
                urls.append(f"{self.url}/files/{name}")
        pred.output = urls[0] if self.output_shape == "string" else urls

    def _validate(self, inp: Any) -> Reply | None:
        if not isinstance(inp, dict) or not isinstance(inp.get("prompt"), str) or not inp["prompt"]:
            return problem(422, "- input: prompt is required", INVALID_INPUT)
        if not 1 <= int(inp.get("num_outputs", 1)) <= 4:
            return problem(422, "- input.num_outputs: Must be less than or equal to 4", INVALID_INPUT)
        if "aspect_ratio" in inp and inp["aspect_ratio"] not in ASPECT_RATIOS:
            return problem(422, "- input.aspect_ratio: must be one of the listed values", INVALID_INPUT)
        return None

    def _new(self, req: Request, model: str, version: str, inp: dict[str, Any]) -> Reply:
        with self._state_lock:
            pred = Prediction(id=f"p{next(self._ids):04d}fake", model=model, version=version, input=inp,
                              outcome=self.outcome)
            pred.wait = (req.header("prefer") or "").startswith("wait")
            if pred.wait:  # blocking mode: answer already finished, with data URLs
                self._finish(pred)
            self.predictions[pred.id] = pred
            headers = {"Preference-Applied": "wait"} if pred.wait else {}
            return Reply(201, self._json(pred), headers=headers)

    # -- routes ----------------------------------------------------------------------------------------
    def _create_model(self, req: Request) -> Reply:
        if (denied := self._unauthorised(req)) is not None:
            return denied
        assert req.match is not None
        model = f"{req.match['owner']}/{req.match['name']}"
        if self.known_models is not None and model not in self.known_models:
            return problem(404, f"Model {model} not found", "Not found")
        body = req.json() or {}
        if (invalid := self._validate(body.get("input"))) is not None:
            return invalid
        return self._new(req, model, "hidden", body["input"])

    def _create_version(self, req: Request) -> Reply:
        if (denied := self._unauthorised(req)) is not None:
            return denied
        body = req.json() or {}
        version = str(body.get("version", ""))
        if not VERSION_RE.match(version):
            return problem(422, "The specified version does not exist (or perhaps you don't have permission "
                                "to use it?)", "Invalid version or not permitted")
        if (invalid := self._validate(body.get("input"))) is not None:
            return invalid
        return self._new(req, "community/model", version, body["input"])

    def _get(self, req: Request) -> Reply:
        if (denied := self._unauthorised(req)) is not None:
            return denied
        assert req.match is not None
        with self._state_lock:
            pred = self.predictions.get(req.match["id"])
            if pred is None:
                return problem(404, "Not found.")
            if pred.status in ("starting", "processing"):
                pred.polls += 1
                if pred.polls > self.polls_starting + self.polls_processing:
                    self._finish(pred)
                elif pred.polls > self.polls_starting:
                    pred.status = "processing"
            return Reply(200, self._json(pred))

    def _cancel(self, req: Request) -> Reply:
        if (denied := self._unauthorised(req)) is not None:
            return denied
        assert req.match is not None
        with self._state_lock:
            pred = self.predictions.get(req.match["id"])
            if pred is None:
                return problem(404, "Not found.")
            if pred.status in ("starting", "processing"):
                pred.status = "canceled"
            return Reply(200, self._json(pred))

    def _list(self, req: Request) -> Reply:
        if (denied := self._unauthorised(req)) is not None:
            return denied
        with self._state_lock:
            results = [self._json(p) for p in self.predictions.values()]
        return Reply(200, {"previous": None, "next": None, "results": results})

    def _model(self, req: Request) -> Reply:
        assert req.match is not None
        name = f"{req.match['owner']}/{req.match['name']}"
        return Reply(200, {"owner": req.match["owner"], "name": req.match["name"],
                           "url": f"https://replicate.com/{name}",
                           "latest_version": {"id": "0" * 64, "openapi_schema": {}}})

    def _account(self, req: Request) -> Reply:
        if (denied := self._unauthorised(req)) is not None:
            return denied
        return Reply(200, {"type": "user", "username": self.username, "name": "Fake User",
                           "github_url": None, "avatar_url": None})

    def _file(self, req: Request) -> Reply:
        assert req.match is not None
        data = self.files.get(req.match["name"])
        if data is None:
            return Reply(404, "Not Found")
        return Reply(200, data, headers={"Content-Type": "image/png"})
