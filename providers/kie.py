"""KIE AI (reference §4): three API families behind one key, chosen per model by the catalogue's "api" field.

* "market" (default): `POST /api/v1/jobs/createTask` + `GET /api/v1/jobs/recordInfo`, `state` and a
  `resultJson` string. Input names differ per model, so the catalogue says them in a query-like suffix:
  ``"market?ratio=image_size&images=image_urls&format=output_format&quality=resolution"``.
* "flux-kontext": `/api/v1/flux/kontext/generate` + `record-info`, `successFlag`, `resultImageUrl`.
* "4o-image": `/api/v1/gpt4o-image/generate` + `record-info`, `successFlag`, `progress`, `resultUrls`.

Every answer is a `{code, msg, data}` envelope and the body `code` is checked even on HTTP 200. Source images
must be URLs, so they are first sent to KIE's base64 upload endpoint. KIE documents no cancel endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx

from providers.base import (
    AuthError,
    GeneratedImage,
    ImageRequest,
    ImageResult,
    InsufficientCredits,
    InvalidRequest,
    InvalidResponse,
    ModerationError,
    ProviderConfig,
    ProviderDown,
    ProviderError,
    RateLimited,
    TaskHandle,
    TaskNotFound,
    TaskState,
    TaskStatus,
)
from providers.catalogue import Capabilities, ProviderInfo
from providers.http import HttpSession, bearer_headers, redact, sniff_image_mime
from providers.policy import parse_retry_after

FAMILIES = {
    "market": ("api/v1/jobs/createTask", "api/v1/jobs/recordInfo"),
    "flux-kontext": ("api/v1/flux/kontext/generate", "api/v1/flux/kontext/record-info"),
    "4o-image": ("api/v1/gpt4o-image/generate", "api/v1/gpt4o-image/record-info"),
}
UPLOAD_PATH = "api/file-base64-upload"  # docs.kie.ai shows it on api.kie.ai (also kieai.redpandaai.co)
_MARKET_DEFAULTS = {"ratio": "aspect_ratio", "images": "image_urls", "quality": "quality", "format": ""}
_MODERATION_WORDS = ("content polic", "flagged", "sensitive", "nsfw", "safety system", "moderat", "violat",
                     "inappropriate")
_NOT_MODERATION_CODES = (401, 402, 403, 429, 455, 505)  # their texts are about the account or the service
_TASK_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_GPT4O_COUNTS = (1, 2, 4)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _nearest_ratio(width: int, height: int, choices: tuple[str, ...]) -> str | None:
    usable = [c for c in choices if re.fullmatch(r"\d+:\d+", c)]
    if not usable:
        return None
    target = width / height
    return min(usable, key=lambda c: abs(int(c.split(":")[0]) / int(c.split(":")[1]) - target))


def parse_api(api: str) -> tuple[str, dict[str, str]]:
    """`"market?ratio=image_size"` -> ("market", {"ratio": "image_size", ...defaults})."""
    family, _, query = (api or "market").partition("?")
    if family not in FAMILIES:
        raise ValueError(f"unknown KIE API family {family!r}")
    names = dict(_MARKET_DEFAULTS) if family == "market" else {}
    names.update(dict(parse_qsl(query)))
    return family, names


class KieProvider:
    id = "kie"
    supports_cancel = False

    def __init__(self, config: ProviderConfig, info: ProviderInfo, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.config = config
        self.info = info
        self.http = HttpSession(config, bearer_headers(config.api_key), rate_per_s=5.0, sleep=sleep)

    # ------------------------------------------------------------------------------------- errors

    def error_for(self, code: int | None, msg: str, *, status: int | None = None, creating: bool = False,
                  retry_after: float | None = None, request_id: str | None = None) -> ProviderError:
        """One KIE error code (§4.1) to a typed error."""
        text = redact((msg or f"code {code}")[:300], (self.config.api_key,))
        kw: dict[str, Any] = {"provider": self.id, "status": status or code, "request_id": request_id}
        if code not in _NOT_MODERATION_CODES and any(w in text.lower() for w in _MODERATION_WORDS):
            return ModerationError(f"refused by the content policy: {text}", **kw)
        if code in (401, 403):
            return AuthError(f"the key was refused: {text}", **kw)
        if code == 402:
            return InsufficientCredits(f"not enough KIE credits: {text}", **kw)
        if code == 429:
            return RateLimited(f"rate limited: {text}", retry_after=retry_after, **kw)
        if code == 404 and not creating:
            return TaskNotFound(f"task not found: {text}", **kw)
        if code in (400, 404, 422, 451):
            return InvalidRequest(f"the request was refused ({code}): {text}", **kw)
        if code == 505:  # feature disabled: waiting will not help, another provider may
            err = ProviderDown(f"this KIE feature is disabled: {text}", **kw)
            err.retryable = False
            return err
        return ProviderDown(f"KIE failed ({code}): {text}", **kw)

    def _map(self, resp: httpx.Response, body: Any, *, creating: bool) -> ProviderError | None:
        code = _int(body.get("code")) if isinstance(body, dict) else None
        if code is None and resp.status_code >= 400:
            return None  # not an envelope: the shared HTTP mapping applies
        if code is None:
            return InvalidResponse("KIE answered without a status code", provider=self.id,
                                   status=resp.status_code)
        if code == 200 and resp.status_code < 400:
            return None
        if code == 200:
            code = resp.status_code
        msg = body.get("msg") if isinstance(body.get("msg"), str) else ""
        status = resp.status_code if resp.status_code >= 400 else code
        return self.error_for(code, msg, status=status, creating=creating,
                              retry_after=parse_retry_after(resp.headers))

    async def _call(self, method: str, path: str, *, creating: bool = False, **kwargs: Any) -> Any:
        """One enveloped call; returns `data`."""
        _resp, body = await self.http.request_json(
            method, path, idempotent=not creating or method == "GET",
            error_mapper=lambda r, b: self._map(r, b, creating=creating), **kwargs)
        return body.get("data")

    # ------------------------------------------------------------------------------------- submit
    async def _upload(self, request: ImageRequest) -> str:
        """KIE takes source images only as URLs: upload the bytes and use the returned link."""
        assert request.init_image is not None
        mime = request.init_image_mime or sniff_image_mime(request.init_image)
        if mime is None:
            raise InvalidRequest("the source image is not a PNG, JPEG or WebP", provider=self.id)
        data_url = f"data:{mime};base64,{base64.b64encode(request.init_image).decode('ascii')}"
        data = await self._call("POST", UPLOAD_PATH, json={"base64Data": data_url, "uploadPath": "images"})
        url = (data.get("downloadUrl") or data.get("fileUrl")) if isinstance(data, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidResponse("the image upload returned no URL", provider=self.id)
        return url

    def _ratio(self, request: ImageRequest, caps: Capabilities) -> str | None:
        if request.aspect_ratio:
            if caps.aspect_ratios and request.aspect_ratio not in caps.aspect_ratios:
                raise InvalidRequest(f"{caps.label} does not offer aspect ratio {request.aspect_ratio}",
                                     provider=self.id)
            return request.aspect_ratio
        if request.width and request.height and caps.aspect_ratios:
            return _nearest_ratio(request.width, request.height, caps.aspect_ratios)
        return None

    def _check(self, request: ImageRequest, caps: Capabilities) -> None:
        if not request.prompt.strip():
            raise InvalidRequest("the prompt is empty", provider=self.id)
        if len(request.prompt) > caps.max_prompt_chars:
            raise InvalidRequest(f"the prompt is longer than {caps.max_prompt_chars} characters",
                                 provider=self.id)
        if request.count < 1 or request.count > caps.max_count:
            raise InvalidRequest(f"{caps.label} makes 1 to {caps.max_count} images per request",
                                 provider=self.id)
        if request.init_image is not None and not caps.img2img:
            raise InvalidRequest(f"{caps.label} does not take a source image", provider=self.id)

    async def build_body(self, request: ImageRequest, caps: Capabilities, family: str,
                         names: dict[str, str]) -> dict[str, Any]:
        """The create body for one family; uploads the source image first when there is one."""
        self._check(request, caps)
        ratio = self._ratio(request, caps)
        image_url = await self._upload(request) if request.init_image is not None else None
        if family == "flux-kontext":
            body: dict[str, Any] = {"prompt": request.prompt, "model": caps.model, "outputFormat": "png"}
            if not ratio and image_url is None:  # text-to-image needs a ratio; an edit keeps the input's
                square = "1:1" in caps.aspect_ratios or not caps.aspect_ratios
                ratio = "1:1" if square else caps.aspect_ratios[0]
            if ratio:
                body["aspectRatio"] = ratio
            if image_url:
                body["inputImage"] = image_url
            return body
        if family == "4o-image":
            if request.count not in _GPT4O_COUNTS:
                raise InvalidRequest("the 4o Image API makes 1, 2 or 4 images", provider=self.id)
            body = {"prompt": request.prompt, "size": ratio or "1:1", "nVariants": request.count}
            if image_url:
                body["filesUrl"] = [image_url]
            return body
        inp: dict[str, Any] = {"prompt": request.prompt}
        if ratio and names.get("ratio"):
            inp[names["ratio"]] = ratio
        if image_url and names.get("images"):
            inp[names["images"]] = [image_url]
        if names.get("format"):
            inp[names["format"]] = "png"
        if request.quality and caps.qualities and names.get("quality"):
            if request.quality not in caps.qualities:
                raise InvalidRequest(f"{caps.label} does not offer quality {request.quality}",
                                     provider=self.id)
            inp[names["quality"]] = request.quality
        if caps.seed and request.seed is not None:
            inp["seed"] = int(request.seed)
        if caps.negative_prompt and request.negative_prompt.strip():
            inp["negative_prompt"] = request.negative_prompt
        return {"model": caps.model, "input": inp}

    async def submit(self, request: ImageRequest) -> TaskHandle:
        self.http.require_key("API key")
        caps = self.info.model(request.model)
        if caps is None:
            raise InvalidRequest(f"unknown KIE model {request.model!r}", provider=self.id)
        family, names = parse_api(caps.api)
        body = await self.build_body(request, caps, family, names)
        data = await self._call("POST", FAMILIES[family][0], creating=True, json=body)
        task_id = data.get("taskId") if isinstance(data, dict) else None
        if not isinstance(task_id, str) or not _TASK_ID_RE.match(task_id):
            raise InvalidResponse("KIE accepted the task but returned no task id", provider=self.id)
        return TaskHandle(provider=self.id, task_id=task_id, model=request.model, state={"api": family})

    # ------------------------------------------------------------------------------------- poll
    async def poll(self, handle: TaskHandle) -> TaskStatus:
        self.http.require_key("API key")
        family = str(handle.state.get("api") or "market")
        if family not in FAMILIES:
            raise InvalidRequest(f"unknown KIE API family {family!r} in the task", provider=self.id)
        data = await self._call("GET", FAMILIES[family][1], params={"taskId": handle.task_id})
        if not isinstance(data, dict):
            raise TaskNotFound(f"KIE has no record of task {handle.task_id}", provider=self.id)
        if family == "market":
            return await self._market_status(data, handle)
        return await self._flag_status(data, handle, family)

    async def _market_status(self, data: dict[str, Any], handle: TaskHandle) -> TaskStatus:
        state = data.get("state")
        if state in ("waiting", "queuing"):
            return TaskStatus(TaskState.QUEUED, message=str(state))
        if state == "generating":
            return TaskStatus(TaskState.RUNNING, message="generating")
        if state == "fail":
            err = self.error_for(_int(data.get("failCode")), str(data.get("failMsg") or "generation failed"),
                                 request_id=handle.task_id)
            return TaskStatus(TaskState.FAILED, error=err, message="failed")
        if state != "success":
            raise InvalidResponse(f"unknown KIE task state {str(state)[:40]!r}", provider=self.id)
        raw = data.get("resultJson")
        try:
            parsed = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            raise InvalidResponse("KIE's resultJson is not valid JSON", provider=self.id) from None
        urls = parsed.get("resultUrls") if isinstance(parsed, dict) else None
        usage = {"cost_time_ms": data["costTime"]} if isinstance(data.get("costTime"), (int, float)) else {}
        return await self._success(urls, handle, usage)

    async def _flag_status(self, data: dict[str, Any], handle: TaskHandle, family: str) -> TaskStatus:
        flag = _int(data.get("successFlag"))
        if flag == 0:
            try:  # a decimal string such as "0.48" (4o only)
                progress: float | None = max(0.0, min(1.0, float(str(data.get("progress")))))
            except ValueError:
                progress = None
            return TaskStatus(TaskState.RUNNING, progress=progress, message="generating")
        if flag in (2, 3):
            msg = str(data.get("errorMessage") or "generation failed")
            err = self.error_for(_int(data.get("errorCode")), msg, request_id=handle.task_id)
            return TaskStatus(TaskState.FAILED, error=err, message="failed")
        if flag != 1:
            raise InvalidResponse(f"unknown KIE successFlag {str(data.get('successFlag'))[:20]!r}",
                                  provider=self.id)
        response = data.get("response") if isinstance(data.get("response"), dict) else {}
        if family == "flux-kontext":
            url = response.get("resultImageUrl") or response.get("originImageUrl")
            urls: Any = [url] if url else None
        else:
            urls = response.get("resultUrls") or response.get("result_urls")
        return await self._success(urls, handle, {})

    async def _success(self, urls: Any, handle: TaskHandle, usage: dict[str, Any]) -> TaskStatus:
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u for u in urls):
            raise InvalidResponse("KIE reported success but gave no result URLs", provider=self.id,
                                  request_id=handle.task_id)
        images = []
        for url in urls:
            data = await self.http.download(url)
            images.append(GeneratedImage(data=data, mime=sniff_image_mime(data)))
        result = ImageResult(images=tuple(images), request_id=handle.task_id, usage=usage)
        return TaskStatus(TaskState.SUCCEEDED, progress=1.0, result=result)

    # ------------------------------------------------------------------------------------- account
    async def cancel(self, handle: TaskHandle) -> bool:
        return False  # no cancel endpoint is documented; the caller only stops waiting (KIE may still bill)

    async def balance(self) -> float | None:
        """Remaining credits (`GET /api/v1/chat/credit`), None when KIE's answer holds no number."""
        self.http.require_key("API key")
        data = await self._call("GET", "api/v1/chat/credit")
        return float(data) if isinstance(data, (int, float)) and not isinstance(data, bool) else None

    async def check_key(self) -> str:
        credits = await self.balance()
        return "key works" if credits is None else f"key works — {credits:g} credits"

    async def aclose(self) -> None:
        await self.http.aclose()
