"""OpenAI Images adapter: `POST /images/generations` (JSON) and `POST /images/edits` (multipart).

Synchronous: the HTTP call stays open until the images are done, so `submit` returns an `ImageResult`
and there is no task to poll or cancel. GPT image models answer with `b64_json`; legacy or relayed
models may answer with `url`s, which are fetched at once with the key-less download client.
OpenAI image models have no seed and no negative prompt, so neither is ever sent.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any

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
    TaskStatus,
)
from providers.catalogue import Capabilities, ProviderInfo
from providers.http import (
    ErrorMapper,
    HttpSession,
    bearer_headers,
    decode_b64_image,
    error_message_from_body,
    request_id_from,
    sniff_image_mime,
)
from providers.policy import parse_retry_after

_MODERATION_CODES = {"moderation_blocked", "content_policy_violation"}
_BILLING_CODES = {"insufficient_quota", "billing_hard_limit_reached"}
_SIZE_RE = re.compile(r"^(\d{2,5})x(\d{2,5})$")
# Token price keys in a model's catalogue `prices` (USD per 1M tokens), next to the per-image keys.
TOKEN_PRICE_KEYS = {
    "text_in": "per_1m_tokens:text_input",
    "image_in": "per_1m_tokens:image_input",
    "image_out": "per_1m_tokens:image_output",
    "text_out": "per_1m_tokens:text_output",
}


def _legacy_dalle(model: str) -> bool:
    """DALL·E (retired 2026-05) takes none of the GPT image parameters; anything else is treated as GPT image
    so a new model id from the catalogue works without a code change."""
    return model.startswith("dall-e")


def _ratio(text: str) -> float | None:
    w, _, h = text.partition(":")
    try:
        value = float(w) / float(h)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def size_for_aspect(aspect: str, caps: Capabilities | None) -> str:
    """The catalogue size closest to one megapixel with this aspect ratio; for free-size models, a computed
    one (sides multiples of 16, about a megapixel, within the model's side limits)."""
    ratio = _ratio(aspect)
    if ratio is None:
        raise InvalidRequest(f"the aspect ratio {aspect!r} is not of the form W:H", provider="openai")
    matches = []
    for size in caps.sizes if caps else ():
        m = _SIZE_RE.match(size)
        if m and abs(int(m.group(1)) / int(m.group(2)) - ratio) < 0.01 * ratio:
            matches.append((abs(int(m.group(1)) * int(m.group(2)) - 1024 * 1024), size))
    if matches:
        return min(matches)[1]
    if caps is not None and caps.any_size and 1 / 3 <= ratio <= 3:
        width = min(caps.max_side, max(caps.min_side, round(math.sqrt(1024 * 1024 * ratio) / 16) * 16))
        height = min(caps.max_side, max(caps.min_side, round(width / ratio / 16) * 16))
        return f"{width}x{height}"
    raise InvalidRequest(f"the aspect ratio {aspect} is not available for this model", provider="openai")


def cost_from_usage(usage: dict[str, Any], caps: Capabilities | None) -> float | None:
    """USD from the token counts in `usage` and the model's token prices; None when a price is missing or the
    usage is malformed (better no figure than a wrong one)."""
    prices = caps.prices if caps else {}

    def count(obj: Any, key: str) -> int | None:
        value = obj.get(key, 0) if isinstance(obj, dict) else None
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

    in_details, out_details = usage.get("input_tokens_details"), usage.get("output_tokens_details")
    if isinstance(in_details, dict):
        parts = {"text_in": count(in_details, "text_tokens"), "image_in": count(in_details, "image_tokens")}
    else:
        parts = {"text_in": count(usage, "input_tokens"), "image_in": 0}
    if isinstance(out_details, dict):
        parts |= {"image_out": count(out_details, "image_tokens"),
                  "text_out": count(out_details, "text_tokens")}
    else:
        parts |= {"image_out": count(usage, "output_tokens"), "text_out": 0}
    total = 0.0
    for part, tokens in parts.items():
        if tokens is None:
            return None
        if tokens:
            price = prices.get(TOKEN_PRICE_KEYS[part])
            if price is None:
                return None
            total += tokens * price / 1_000_000
    return round(total, 6) if any(parts.values()) else None


class OpenAIProvider:
    id = "openai"
    supports_cancel = False

    def __init__(self, config: ProviderConfig, info: ProviderInfo, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.config = config
        self.info = info
        self.http = HttpSession(config, bearer_headers(config.api_key), sleep=sleep)

    # -- protocol ---------------------------------------------------------------------------------------
    async def submit(self, request: ImageRequest) -> ImageResult:
        self.http.require_key("API key")
        if not request.prompt.strip():
            raise InvalidRequest("the prompt is empty", provider=self.id)
        caps = self.info.model(request.model)
        fields = self._fields(request, caps)
        mapper = self._error_mapper(request.model)
        if request.init_image is not None:
            mime = sniff_image_mime(request.init_image)
            if mime is None:
                raise InvalidRequest("the source image is not a PNG, JPEG or WebP file", provider=self.id)
            ext = mime.split("/")[1].replace("jpeg", "jpg")
            # Multipart: scalar fields as plain parts, the source image as a file part. No mask: the whole
            # image is the reference, which is the app's "image to image".
            files: list[tuple[str, Any]] = [(k, (None, str(v))) for k, v in fields.items()
                                            if k != "moderation"]
            files.append(("image", (f"source.{ext}", request.init_image, mime)))
            resp, body = await self.http.request_json("POST", "/images/edits", files=files,
                                                      error_mapper=mapper)
        else:
            resp, body = await self.http.request_json("POST", "/images/generations", json=fields,
                                                      error_mapper=mapper)
        return await self._result(resp, body, request, caps, fields.get("size"))

    async def poll(self, handle: TaskHandle) -> TaskStatus:
        raise TaskNotFound("OpenAI image generation is synchronous: there is no task to poll",
                           provider=self.id)

    async def cancel(self, handle: TaskHandle) -> bool:
        return False  # no cancel endpoint: the caller can only stop waiting (the call may still be billed)

    async def check_key(self) -> str:
        """`GET /models`: free, needs a valid key, and tells whether the default model is visible to it."""
        self.http.require_key("API key")
        _, body = await self.http.request_json("GET", "/models", idempotent=True,
                                               error_mapper=self._error_mapper(None),
                                               deadline_s=min(30.0, self.config.timeout_s))
        listed = {m.get("id") for m in body.get("data", []) if isinstance(m, dict)} \
            if isinstance(body.get("data"), list) else set()
        wanted = self.info.default_model
        if wanted and listed and wanted not in listed:
            return f"key works, but {wanted} is not available to it"
        return "key works"

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- request ----------------------------------------------------------------------------------------

    def _fields(self, request: ImageRequest, caps: Capabilities | None) -> dict[str, Any]:
        fields: dict[str, Any] = {"model": request.model, "prompt": request.prompt, "n": request.count}
        size = request.size or (size_for_aspect(request.aspect_ratio, caps) if request.aspect_ratio else None)
        if size:
            fields["size"] = size
        if request.quality:
            fields["quality"] = request.quality
        if request.style and caps is not None and request.style in caps.styles:
            fields["style"] = request.style
        if not _legacy_dalle(request.model):
            fields["output_format"] = request.extra("output_format", "png")
            for name in ("background", "moderation", "output_compression", "input_fidelity", "user"):
                value = request.extra(name)
                if value is not None:
                    fields[name] = value
            if request.init_image is None:
                fields.pop("input_fidelity", None)  # an edits-only parameter
            if fields["output_format"] == "png":
                fields.pop("output_compression", None)  # only for jpeg/webp
        return fields

    # -- response ---------------------------------------------------------------------------------------
    async def _result(self, resp: httpx.Response, body: dict[str, Any], request: ImageRequest,
                      caps: Capabilities | None, sent_size: str | None) -> ImageResult:
        items = body.get("data")
        if not isinstance(items, list) or not items:
            raise InvalidResponse("the response held no images", provider=self.id, status=resp.status_code,
                                  request_id=request_id_from(resp))
        size = body.get("size") if isinstance(body.get("size"), str) else sent_size
        m = _SIZE_RE.match(size or "")
        width, height = (int(m.group(1)), int(m.group(2))) if m else (None, None)
        images = []
        for item in items:
            if not isinstance(item, dict):
                raise InvalidResponse("an entry of the response's data is not an object", provider=self.id)
            if item.get("b64_json") is not None:
                data = decode_b64_image(item["b64_json"], self.id)
            elif isinstance(item.get("url"), str):
                data = await self.http.download(item["url"])  # DALL·E-style URLs expire after an hour
            else:
                raise InvalidResponse("an image in the response has neither b64_json nor url",
                                      provider=self.id)
            revised = item.get("revised_prompt")
            images.append(GeneratedImage(data=data, mime=sniff_image_mime(data), width=width, height=height,
                                         revised_prompt=revised if isinstance(revised, str) else None))
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        return ImageResult(images=tuple(images), request_id=request_id_from(resp),
                           cost_usd=cost_from_usage(usage, caps) if usage else None, usage=dict(usage))

    # -- errors -----------------------------------------------------------------------------------------
    def _error_mapper(self, model: str | None) -> ErrorMapper:
        def mapper(resp: httpx.Response, body: Any) -> ProviderError | None:
            err = self._map_error(resp, body, model)
            # The API may say outright whether a retry makes sense (the official SDK obeys this header).
            if err is not None and resp.headers.get("x-should-retry", "").lower() == "false":
                err.retryable = False
            return err
        return mapper

    def _map_error(self, resp: httpx.Response, body: Any, model: str | None) -> ProviderError | None:
        status = resp.status_code
        if status < 400:
            return None
        err = body.get("error") if isinstance(body, dict) else None
        err = err if isinstance(err, dict) else {}
        code, etype = str(err.get("code") or ""), str(err.get("type") or "")
        text = (error_message_from_body(body) or resp.reason_phrase or f"HTTP {status}")[:300]
        kw: dict[str, Any] = {"provider": self.id, "status": status}
        if code in _MODERATION_CODES or etype in _MODERATION_CODES:
            return ModerationError(f"refused by OpenAI's safety system: {text}", **kw)
        if code in _BILLING_CODES or etype in _BILLING_CODES:
            return InsufficientCredits(f"the account's quota or spend limit is used up: {text}", **kw)
        if status == 401:
            return AuthError(f"the key was refused: {text}", **kw)
        if status == 403:
            return AuthError(f"the key may not use this (organization verification or region?): {text}", **kw)
        if status == 404:
            what = f"the model {model}" if model else "the model"
            if code == "model_not_found":
                return InvalidRequest(f"{what} is not available (retired or unknown): {text}", **kw)
            return InvalidRequest(f"not found: {text}", **kw)
        if status == 429:
            return RateLimited(f"rate limited: {text}", retry_after=parse_retry_after(resp.headers), **kw)
        if status in (408, 409) or status >= 500:
            return ProviderDown(f"OpenAI failed ({status}): {text}", **kw)
        return None  # other 4xx: the shared mapping (validation -> InvalidRequest)
