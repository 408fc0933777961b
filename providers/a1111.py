"""AUTOMATIC1111 Stable Diffusion WebUI and Forge, through their `/sdapi/v1` API (reference §8a).

The generation call is synchronous and slow: it blocks until the images exist, so `submit` returns the
`ImageResult` itself. Progress is global to the server (`GET /sdapi/v1/progress`) and so is cancelling
(`POST /sdapi/v1/interrupt`): run one A1111 job at a time and a cancel always means "this job".

Auth: none by default; with ``--api-auth user:pass`` every route wants HTTP Basic, so a configured key of the
form ``user:pass`` is sent that way.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import httpx

from providers.base import (
    AuthError,
    Cancelled,
    GeneratedImage,
    ImageRequest,
    ImageResult,
    InvalidRequest,
    InvalidResponse,
    ProviderConfig,
    ProviderDown,
    ProviderError,
    TaskHandle,
    TaskNotFound,
    TaskState,
    TaskStatus,
)
from providers.catalogue import ProviderInfo
from providers.http import HttpSession, decode_b64_image, error_message_from_body, sniff_image_mime
from providers.sizing import size_for

DEFAULT_MODEL = "default"  # the checkpoint the WebUI has loaded
DEFAULT_STRENGTH = 0.75  # A1111's own img2img default
PROGRESS_DEADLINE_S = 5.0  # progress is advisory: never let it hang a UI refresh


def basic_auth_header(key: str | None, provider: str) -> dict[str, str]:
    """``Authorization: Basic`` for a ``user:pass`` key; nothing when no key is set."""
    if not key:
        return {}
    if ":" not in key:
        raise AuthError("the A1111 credentials must be user:pass (as given to --api-auth)", provider=provider)
    return {"Authorization": "Basic " + base64.b64encode(key.encode("utf-8")).decode("ascii")}


def a1111_message(body: Any) -> str:
    """A1111's middleware answers ``{"error": "HTTPException", "detail": "Sampler not found", ...}``: the
    useful text is `detail` (a list of FastAPI validation errors for 422)."""
    if isinstance(body, dict):
        detail = body.get("detail")
        if isinstance(detail, str) and detail:
            return detail
        if isinstance(detail, list) and detail:
            return "; ".join(
                f"{'.'.join(str(x) for x in d.get('loc', [])[1:])}: {d.get('msg', '')}" if isinstance(d, dict)
                else str(d) for d in detail[:3])
    return error_message_from_body(body)


class A1111Provider:
    id = "a1111"
    supports_cancel = True

    def __init__(self, config: ProviderConfig, info: ProviderInfo, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        key = (config.api_key or "").strip() or None
        self.config = replace(config, api_key=key)
        self.info = info
        self._auth_error: AuthError | None = None
        try:
            headers = basic_auth_header(key, self.id)
        except AuthError as exc:  # reported on first use, so building the adapter never fails
            self._auth_error, headers = exc, {}
        # A local server needs no client-side rate limit; a high rate keeps the limiter out of the way.
        self._http = HttpSession(self.config, headers, rate_per_s=100.0, sleep=sleep)
        self._in_flight = 0
        self._interrupted = False

    def _check_auth(self) -> None:
        if self._auth_error is not None:
            raise self._auth_error

    # -- generation ------------------------------------------------------------------------------------
    def build_payload(self, request: ImageRequest) -> tuple[str, dict[str, Any]]:
        """The route and JSON body for a request."""
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt,
            "seed": -1 if request.seed is None else request.seed,
            "batch_size": max(1, request.count),
            "n_iter": 1,
            "send_images": True,
            "save_images": False,
        }
        size = size_for(request, long_side=1024, multiple=8)
        if size:
            body["width"], body["height"] = size
        for name, field in (("steps", "steps"), ("cfg_scale", "cfg_scale"), ("sampler", "sampler_name"),
                            ("sampler_name", "sampler_name"), ("scheduler", "scheduler")):
            value = request.extra(name)
            if value is not None:
                body[field] = value
        if request.model and request.model != DEFAULT_MODEL:
            body["override_settings"] = {"sd_model_checkpoint": request.model}
            body["override_settings_restore_afterwards"] = True
        if request.init_image is None:
            return "/sdapi/v1/txt2img", body
        mime = request.init_image_mime or sniff_image_mime(request.init_image) or "image/png"
        body["init_images"] = [f"data:{mime};base64," + base64.b64encode(request.init_image).decode("ascii")]
        # ImageRequest.strength counts like denoising_strength (0 keeps the source, 1 ignores it).
        body["denoising_strength"] = DEFAULT_STRENGTH if request.strength is None else request.strength
        return "/sdapi/v1/img2img", body

    async def submit(self, request: ImageRequest) -> ImageResult:
        self._check_auth()
        route, payload = self.build_payload(request)
        self._in_flight += 1
        if self._in_flight == 1:
            self._interrupted = False
        try:
            _resp, body = await self._http.request_json("POST", route, json=payload,
                                                        error_mapper=self._map_error)
            if self._interrupted:
                raise Cancelled("the generation was interrupted", provider=self.id)
            return self._parse_result(body, max(1, request.count))
        finally:
            self._in_flight -= 1

    def _parse_result(self, body: dict[str, Any], expected: int) -> ImageResult:
        images = body.get("images")
        if not isinstance(images, list):
            raise InvalidResponse("the answer has no images list", provider=self.id)
        info = body.get("info")
        if isinstance(info, str):  # a JSON document inside a JSON string
            try:
                info = json.loads(info)
            except ValueError:
                info = None
        info = info if isinstance(info, dict) else {}
        seeds = [s for s in info.get("all_seeds") or [] if isinstance(s, int)]
        # With "return grid" the grid comes first; alwayson scripts (ControlNet) append detect maps after.
        first = info.get("index_of_first_image")
        first = first if isinstance(first, int) and 0 <= first < len(images) else 0
        wanted = images[first:first + (len(seeds) or expected)]
        if not wanted:
            raise InvalidResponse("the server returned no images", provider=self.id)
        width, height = info.get("width"), info.get("height")
        first_seed = info.get("seed") if isinstance(info.get("seed"), int) else None
        out = []
        for i, value in enumerate(wanted):
            data = decode_b64_image(value, self.id)
            seed = seeds[i] if i < len(seeds) else first_seed
            out.append(GeneratedImage(data=data, mime=sniff_image_mime(data), seed=seed,
                                      width=width if isinstance(width, int) else None,
                                      height=height if isinstance(height, int) else None))
        usage = {k: info[k] for k in ("sd_model_name", "sd_model_hash", "version") if k in info}
        model = info.get("sd_model_name") if isinstance(info.get("sd_model_name"), str) else None
        return ImageResult(images=tuple(out), usage=usage, model=model or None)

    def _map_error(self, resp: httpx.Response, body: Any) -> ProviderError | None:
        status = resp.status_code
        if status < 400:
            return None
        text = (a1111_message(body) or resp.reason_phrase or f"HTTP {status}")[:300]
        kw: dict[str, Any] = {"provider": self.id, "status": status}
        if status == 401:
            if self.config.api_key:
                return AuthError("the WebUI refused the user:pass", **kw)
            return AuthError("the WebUI wants a user:pass (it runs with --api-auth)", **kw)
        if status == 404 and text == "Not Found":
            err = ProviderDown("the WebUI has no API here: start it with --api", **kw)
            err.retryable = False
            return err
        if status in (404, 422):  # sampler / script / field not found or invalid
            return InvalidRequest(f"the WebUI refused the request: {text}", **kw)
        if status == 500 and "invalid" in text.lower() and "image" in text.lower():
            return InvalidRequest(f"the WebUI could not read the start image: {text}", **kw)
        if status >= 500:
            return ProviderDown(f"the WebUI failed ({status}): {text}", **kw)
        return None

    # -- progress, cancel, models ------------------------------------------------------------------------
    async def progress(self) -> float | None:
        """The running job's progress 0..1, or None when unknown (nothing running, server unreachable)."""
        try:
            _resp, body = await self._http.request_json(
                "GET", "/sdapi/v1/progress", params={"skip_current_image": "true"}, idempotent=True,
                error_mapper=self._map_error, deadline_s=PROGRESS_DEADLINE_S)
        except ProviderError:
            return None
        value = body.get("progress")
        state = body.get("state") if isinstance(body.get("state"), dict) else {}
        if not isinstance(value, (int, float)) or (value == 0 and not state.get("job_count")):
            return None
        return min(1.0, max(0.0, float(value)))

    async def poll(self, handle: TaskHandle) -> TaskStatus:
        """A1111 has no tasks; while a `submit` is in flight this reports its progress."""
        if not self._in_flight:
            raise TaskNotFound("A1111 answers synchronously: there is no task to follow", provider=self.id)
        return TaskStatus(TaskState.RUNNING, progress=await self.progress())

    async def cancel(self, handle: TaskHandle) -> bool:
        """Interrupt the running generation (the server's one job); the waiting `submit` raises Cancelled."""
        self._check_auth()
        if self._in_flight:
            self._interrupted = True
        await self._http.request("POST", "/sdapi/v1/interrupt", idempotent=True, error_mapper=self._map_error)
        return True

    async def list_models(self) -> list[str]:
        """Checkpoint titles, as `override_settings.sd_model_checkpoint` takes them."""
        self._check_auth()
        _resp, body = await self._http.request("GET", "/sdapi/v1/sd-models", idempotent=True,
                                               error_mapper=self._map_error)
        if not isinstance(body, list):
            raise InvalidResponse("the checkpoint list is not a JSON list", provider=self.id)
        return [str(m["title"]) for m in body if isinstance(m, dict) and m.get("title")]

    async def check_key(self) -> str:
        models = await self.list_models()
        auth = "with user:pass" if self.config.api_key else "without credentials"
        return f"The WebUI answers {auth}: {len(models)} checkpoints."

    async def aclose(self) -> None:
        await self._http.aclose()
