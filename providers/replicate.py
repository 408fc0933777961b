"""Replicate predictions API (reference §3): create a prediction, poll it, download its output URLs.

Official models are created by name (`POST /models/{owner}/{name}/predictions`); community models carry a
pinned version in the catalogue id (`owner/name:<64-hex>`) and go to `POST /predictions`. `Prefer: wait` is
not used: a blocking create cannot be resent safely after a read timeout, and polling covers it anyway.

poll() returns FAILED/CANCELLED for what the prediction itself reports (model failure, NSFW refusal, data
removed, cancel, deadline) and raises typed errors for transport/HTTP trouble and failed downloads, which the
caller may retry by polling again.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from providers.base import (
    GeneratedImage,
    ImageRequest,
    ImageResult,
    InvalidRequest,
    InvalidResponse,
    ModerationError,
    ProviderConfig,
    ProviderDown,
    ProviderError,
    RateLimited,
    TaskHandle,
    TaskState,
    TaskStatus,
)
from providers.catalogue import Capabilities, ProviderInfo
from providers.http import HttpSession, bearer_headers, error_message_from_body, redact, sniff_image_mime
from providers.policy import parse_retry_after

_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_SEGMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_VERSION_RE = re.compile(r"^[0-9a-f]{64}$")
_PROGRESS_RE = re.compile(r"(\d{1,3})%\s*\|[^|\n]*\|\s*(\d+)\s*/\s*(\d+)")
_RESET_RE = re.compile(r"(\d+(?:\.\d+)?)\s*s\b")
_MODERATION_WORDS = ("nsfw", "safety", "sensitive", "flagged", "content polic", "inappropriate")
_INVALID_WORDS = ("invalid", "must be", "out of range", "validation", "not supported", "unsupported")
_FORMAT_DIALECTS = ("flux",)  # models whose schema has output_format (SDXL's has none)
_OUTPUT_FORMATS = ("png", "jpg", "webp")


def parse_progress(logs: Any) -> float | None:
    """The last tqdm-style progress bar (` 45%|███  | 9/20`) in the logs, as 0..1."""
    if not isinstance(logs, str) or not logs:
        return None
    matches = _PROGRESS_RE.findall(logs)
    if not matches:
        return None
    _pct, done, total = matches[-1]
    if int(total) <= 0:
        return None
    return max(0.0, min(1.0, int(done) / int(total)))


def _ratio_value(ratio: str) -> float:
    w, _, h = ratio.partition(":")
    return float(w) / float(h)


def _nearest_ratio(width: int, height: int, choices: tuple[str, ...]) -> str | None:
    usable = [c for c in choices if re.fullmatch(r"\d+:\d+", c)]
    if not usable:
        return None
    target = width / height
    return min(usable, key=lambda c: abs(_ratio_value(c) - target))


def _nearest_size(target: float, sizes: tuple[str, ...]) -> tuple[int, int] | None:
    parsed = [tuple(int(v) for v in s.split("x")) for s in sizes if re.fullmatch(r"\d+x\d+", s)]
    if not parsed:
        return None
    w, h = min(parsed, key=lambda wh: abs(wh[0] / wh[1] - target))
    return w, h


class ReplicateProvider:
    id = "replicate"
    supports_cancel = True

    def __init__(self, config: ProviderConfig, info: ProviderInfo, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.config = config
        self.info = info
        # 600 creates/min and 3000 other calls/min (§3.5): 8/s stays well inside both.
        self.http = HttpSession(config, bearer_headers(config.api_key), rate_per_s=8.0, sleep=sleep)

    # ------------------------------------------------------------------------------------- helpers

    def _caps(self, model: str) -> Capabilities:
        caps = self.info.model(model)
        if caps is None:
            raise InvalidRequest(f"unknown Replicate model {model!r}", provider=self.id)
        return caps

    def _map_error(self, resp: httpx.Response, body: Any, *, creating: bool) -> ProviderError | None:
        status = resp.status_code
        if status < 400:
            return None
        text = (error_message_from_body(body) or resp.reason_phrase or f"HTTP {status}")[:300]
        if status == 404 and creating:
            return InvalidRequest(f"unknown model or version: {text}", provider=self.id, status=status)
        if status == 422:
            return InvalidRequest(f"the request was refused: {text}", provider=self.id, status=status)
        if status == 429:
            wait = parse_retry_after(resp.headers)
            if wait is None:  # Replicate also says when the window resets, in a header and in the text
                reset = resp.headers.get("ratelimit-reset") or ""
                m = _RESET_RE.search(text) or _RESET_RE.search(reset + "s")
                wait = float(m.group(1)) if m else None
            return RateLimited(f"rate limited: {text}", retry_after=wait, provider=self.id, status=status)
        return None  # the shared mapping covers 401/403, 402, 404 (prediction), 5xx

    def _create_errors(self, resp: httpx.Response, body: Any) -> ProviderError | None:
        return self._map_error(resp, body, creating=True)

    def _poll_errors(self, resp: httpx.Response, body: Any) -> ProviderError | None:
        return self._map_error(resp, body, creating=False)

    def _relative(self, url: Any, fallback: str) -> str:
        """Only follow `urls.get`/`urls.cancel` on our own API origin: the client carries the key."""
        base = self.config.base_url.rstrip("/") + "/"
        if isinstance(url, str) and url.startswith(base):
            return url[len(base):]
        return fallback

    # ------------------------------------------------------------------------------------- input
    def build_input(self, request: ImageRequest, caps: Capabilities) -> dict[str, Any]:
        """The model input from the request, holding only fields this model's schema has."""
        if not request.prompt.strip():
            raise InvalidRequest("the prompt is empty", provider=self.id)
        if len(request.prompt) > caps.max_prompt_chars:
            raise InvalidRequest(f"the prompt is longer than {caps.max_prompt_chars} characters",
                                 provider=self.id)
        if request.count < 1 or request.count > caps.max_count:
            raise InvalidRequest(f"{caps.label} makes 1 to {caps.max_count} images per request",
                                 provider=self.id)
        inp: dict[str, Any] = {"prompt": request.prompt}
        if caps.aspect_ratios:
            if request.aspect_ratio:
                if request.aspect_ratio not in caps.aspect_ratios:
                    raise InvalidRequest(f"{caps.label} does not offer aspect ratio {request.aspect_ratio}",
                                         provider=self.id)
                inp["aspect_ratio"] = request.aspect_ratio
            elif request.width and request.height:
                ratio = _nearest_ratio(request.width, request.height, caps.aspect_ratios)
                if ratio:
                    inp["aspect_ratio"] = ratio
        elif caps.sizes or caps.any_size:
            size = self._pixel_size(request, caps)
            if size:
                inp["width"], inp["height"] = size
        if caps.max_count > 1:
            inp["num_outputs"] = request.count
        if caps.seed and request.seed is not None:
            inp["seed"] = int(request.seed)
        if caps.negative_prompt and request.negative_prompt.strip():
            inp["negative_prompt"] = request.negative_prompt
        if request.init_image is not None:
            if not caps.img2img:
                raise InvalidRequest(f"{caps.label} does not take a source image", provider=self.id)
            mime = request.init_image_mime or sniff_image_mime(request.init_image)
            if mime is None:
                raise InvalidRequest("the source image is not a PNG, JPEG or WebP", provider=self.id)
            inp["image"] = f"data:{mime};base64,{base64.b64encode(request.init_image).decode('ascii')}"
            if request.strength is not None:
                inp["prompt_strength"] = max(0.0, min(1.0, float(request.strength)))
        if caps.api in _FORMAT_DIALECTS:
            fmt = request.extra("output_format", "png")
            inp["output_format"] = fmt if fmt in _OUTPUT_FORMATS else "png"
        return inp

    def _pixel_size(self, request: ImageRequest, caps: Capabilities) -> tuple[int, int] | None:
        if request.width and request.height:
            size = f"{request.width}x{request.height}"
            if caps.sizes and size not in caps.sizes and not caps.any_size:
                raise InvalidRequest(f"{caps.label} does not offer size {size}", provider=self.id)
            if caps.any_size and not (caps.min_side <= min(request.width, request.height)
                                      and max(request.width, request.height) <= caps.max_side):
                raise InvalidRequest(f"{caps.label} takes sides from {caps.min_side} to {caps.max_side}",
                                     provider=self.id)
            return request.width, request.height
        if request.aspect_ratio and re.fullmatch(r"\d+:\d+", request.aspect_ratio):
            return _nearest_size(_ratio_value(request.aspect_ratio), caps.sizes)
        return None

    # ------------------------------------------------------------------------------------- protocol
    async def submit(self, request: ImageRequest) -> TaskHandle:
        self.http.require_key("API token")
        caps = self._caps(request.model)
        body: dict[str, Any] = {"input": self.build_input(request, caps)}
        name, _, version = request.model.partition(":")
        owner, _, model_name = name.partition("/")
        if not (_SEGMENT_RE.match(owner) and _SEGMENT_RE.match(model_name)):
            raise InvalidRequest(f"malformed Replicate model id {request.model!r}", provider=self.id)
        if version:
            if not _VERSION_RE.match(version):
                raise InvalidRequest(f"malformed Replicate version in {request.model!r}", provider=self.id)
            path, body["version"] = "predictions", version
        else:
            path = f"models/{owner}/{model_name}/predictions"
        resp, pred = await self.http.request_json(
            "POST", path, json=body,
            error_mapper=self._create_errors)
        pred_id = pred.get("id")
        if not isinstance(pred_id, str) or not _ID_RE.match(pred_id):
            raise InvalidResponse("the created prediction has no usable id", provider=self.id,
                                  status=resp.status_code)
        urls = pred.get("urls") if isinstance(pred.get("urls"), dict) else {}
        state = {
            "get": self._relative(urls.get("get"), f"predictions/{pred_id}"),
            "cancel": self._relative(urls.get("cancel"), f"predictions/{pred_id}/cancel"),
            "web": urls.get("web") if isinstance(urls.get("web"), str) else "",
        }
        return TaskHandle(provider=self.id, task_id=pred_id, model=request.model, state=state)

    async def poll(self, handle: TaskHandle) -> TaskStatus:
        self.http.require_key("API token")
        path = handle.state.get("get") or f"predictions/{handle.task_id}"
        _resp, pred = await self.http.request_json(
            "GET", str(path), idempotent=True,
            error_mapper=self._poll_errors)
        return await self._status(pred, handle)

    async def _status(self, pred: dict[str, Any], handle: TaskHandle) -> TaskStatus:
        status = pred.get("status")
        if status == "starting":
            return TaskStatus(TaskState.QUEUED, message="starting")
        if status == "processing":
            progress = parse_progress(pred.get("logs"))
            return TaskStatus(TaskState.RUNNING, progress=progress, message="processing")
        if status in ("canceled", "aborted"):
            why = "the deadline passed before it started" if status == "aborted" else "cancelled"
            return TaskStatus(TaskState.CANCELLED, message=why)
        if status == "failed":
            return TaskStatus(TaskState.FAILED, error=self._failure(pred.get("error"), handle.task_id),
                              message="failed")
        if status != "succeeded":
            raise InvalidResponse(f"unknown prediction status {str(status)[:40]!r}", provider=self.id)
        if pred.get("data_removed") or pred.get("output") is None:
            err = InvalidResponse("the prediction's output was already removed by Replicate",
                                  provider=self.id, request_id=handle.task_id)
            return TaskStatus(TaskState.FAILED, error=err, message="output removed")
        return TaskStatus(TaskState.SUCCEEDED, progress=1.0, result=await self._result(pred, handle))

    def _failure(self, error: Any, task_id: str) -> ProviderError:
        text = redact(str(error or "the model failed without a message")[:300], (self.config.api_key,))
        lowered = text.lower()
        kw: dict[str, Any] = {"provider": self.id, "request_id": task_id}
        if any(w in lowered for w in _MODERATION_WORDS):
            return ModerationError(f"refused by the safety checker: {text}", **kw)
        if any(w in lowered for w in _INVALID_WORDS):
            return InvalidRequest(f"the model refused the input: {text}", **kw)
        return ProviderDown(f"the model failed: {text}", **kw)

    async def _result(self, pred: dict[str, Any], handle: TaskHandle) -> ImageResult:
        output = pred.get("output")
        urls = [output] if isinstance(output, str) else output
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u for u in urls):
            raise InvalidResponse("the prediction succeeded but its output holds no image URLs",
                                  provider=self.id, request_id=handle.task_id)
        inp = pred.get("input") if isinstance(pred.get("input"), dict) else {}
        seed = inp.get("seed") if isinstance(inp.get("seed"), int) else None
        images = []
        for url in urls:
            data = await self.http.download(url)
            images.append(GeneratedImage(data=data, mime=sniff_image_mime(data), seed=seed))
        metrics = pred.get("metrics") if isinstance(pred.get("metrics"), dict) else {}
        usage = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
        # Metrics hold times only; Replicate reports no cost through the API (§3.3), so cost_usd stays None.
        return ImageResult(images=tuple(images), request_id=handle.task_id, usage=usage)

    async def cancel(self, handle: TaskHandle) -> bool:
        """Ask Replicate to cancel; False when the prediction had already finished another way."""
        self.http.require_key("API token")
        path = handle.state.get("cancel") or f"predictions/{handle.task_id}/cancel"
        _resp, body = await self.http.request(
            "POST", str(path), idempotent=True,
            error_mapper=self._poll_errors)
        status = body.get("status") if isinstance(body, dict) else None
        return status not in ("succeeded", "failed")

    async def check_key(self) -> str:
        self.http.require_key("API token")
        _resp, body = await self.http.request_json("GET", "account", idempotent=True,
                                                   error_mapper=self._poll_errors)
        name = body.get("username") or body.get("name")
        return f"key works ({str(name)[:60]})" if name else "key works"

    async def aclose(self) -> None:
        await self.http.aclose()
