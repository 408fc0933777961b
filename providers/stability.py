"""Stability AI adapter: v2beta Stable Image (core, ultra, sd3; multipart) and legacy v1 SDXL (engine in URL).

The model id picks the endpoint: `stable-image-<name>` -> `/v2beta/stable-image/generate/<name>`, `sd3*` ->
`/v2beta/stable-image/generate/sd3` with a `model` field, anything else -> the v1 engine of that id.
All calls are synchronous. v2beta returns one image per call, so a batch is several calls.

`ImageRequest.strength` means "how much to change the source": 0 keeps it, 1 ignores it (v2beta's
`strength`). v1 counts the other way round (`image_strength` 1 = keep), so it gets `1 - strength`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from providers.base import (
    AuthError,
    GeneratedImage,
    ImageRequest,
    ImageResult,
    InvalidRequest,
    InvalidResponse,
    ModerationError,
    ProviderConfig,
    ProviderError,
    RateLimited,
    TaskHandle,
    TaskNotFound,
    TaskStatus,
)
from providers.catalogue import Capabilities, ProviderInfo
from providers.http import (
    HttpSession,
    bearer_headers,
    decode_b64_image,
    error_message_from_body,
    request_id_from,
    sniff_image_mime,
)
from providers.policy import parse_retry_after

# The documented SDXL 1.0 sizes; used when the catalogue has no size list for a v1 engine.
SDXL_SIZES = ("1024x1024", "1152x896", "896x1152", "1216x832", "832x1216", "1344x768", "768x1344",
              "1536x640", "640x1536")
LOCKOUT_S = 60.0  # a 429 blocks the key for 60 s (Stability support article); retrying sooner is pointless
DEFAULT_STRENGTH = 0.65  # v1's documented default image_strength 0.35, expressed as "how much to change"
_ENGINE_RE = re.compile(r"^[A-Za-z0-9._-]+$")
_SIZE_RE = re.compile(r"^(\d+)x(\d+)$")


def _ratio(text: str, sep: str) -> float | None:
    a, _, b = text.partition(sep)
    try:
        return float(a) / float(b) if float(a) > 0 and float(b) > 0 else None
    except (ValueError, ZeroDivisionError):
        return None


def nearest(wanted: float, options: tuple[str, ...], sep: str) -> str | None:
    """The option (`16:9` or `1344x768`) whose aspect ratio is closest to `wanted` (compared in log space)."""
    scored = [(abs((r / wanted) - 1) + abs((wanted / r) - 1), o) for o in options if (r := _ratio(o, sep))]
    return min(scored)[1] if scored else None


def endpoint_for(model: str) -> tuple[str, str]:
    """(API generation, path) for a model id."""
    if model.startswith("stable-image-"):
        return "v2", f"/v2beta/stable-image/generate/{model.removeprefix('stable-image-')}"
    if model.startswith("sd3"):
        return "v2", "/v2beta/stable-image/generate/sd3"
    if not _ENGINE_RE.match(model):
        raise InvalidRequest(f"{model!r} is not a valid engine id", provider="stability")
    return "v1", f"/v1/generation/{model}"


class StabilityProvider:
    id = "stability"
    supports_cancel = False

    def __init__(self, config: ProviderConfig, info: ProviderInfo, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.config = config
        self.info = info
        self.http = HttpSession(config, bearer_headers(config.api_key), sleep=sleep)

    def batch_natively(self, model: str) -> bool:
        """v2beta makes one image per call (a batch of n is n calls); v1 takes `samples`."""
        try:
            return endpoint_for(model)[0] == "v1"
        except InvalidRequest:
            return True

    # -- protocol ---------------------------------------------------------------------------------------
    async def submit(self, request: ImageRequest) -> ImageResult:
        self.http.require_key("API key")
        if not request.prompt.strip():
            raise InvalidRequest("the prompt is empty", provider=self.id)
        caps = self.info.model(request.model)
        if request.init_image is not None:
            if caps is not None and not caps.img2img:
                raise InvalidRequest(f"{request.model} does not take a source image", provider=self.id)
            if sniff_image_mime(request.init_image) is None:
                raise InvalidRequest("the source image is not a PNG, JPEG or WebP file", provider=self.id)
        family, path = endpoint_for(request.model)
        if family == "v1":
            return await self._v1(request, caps, path)
        return await self._v2_batch(request, caps, path)

    async def poll(self, handle: TaskHandle) -> TaskStatus:
        raise TaskNotFound("Stability image generation is synchronous: there is no task to poll",
                           provider=self.id)

    async def cancel(self, handle: TaskHandle) -> bool:
        return False  # no cancel endpoint: the caller can only stop waiting

    async def balance(self) -> float | None:
        """Remaining credits (1 credit = 0.01 USD); None if the answer holds no number."""
        self.http.require_key("API key")
        _, body = await self.http.request_json("GET", "/v1/user/balance", idempotent=True,
                                               error_mapper=self._map_error,
                                               deadline_s=min(30.0, self.config.timeout_s))
        credits = body.get("credits")
        return float(credits) if isinstance(credits, (int, float)) and not isinstance(credits, bool) else None

    async def check_key(self) -> str:
        credits = await self.balance()
        return "key works" if credits is None else f"key works — {round(credits, 2):g} credits"

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- shared -----------------------------------------------------------------------------------------

    @staticmethod
    def _allows(caps: Capabilities | None, what: str) -> bool:
        """Send an optional parameter only where the catalogue says the model takes it (unknown: yes)."""
        return caps is None or bool(getattr(caps, what))

    def _strength(self, request: ImageRequest) -> float:
        value = DEFAULT_STRENGTH if request.strength is None else request.strength
        if not 0.0 <= value <= 1.0:
            raise InvalidRequest("strength must be between 0 and 1", provider=self.id)
        return value

    def _image(self, data: bytes, finish: Any, seed: Any) -> GeneratedImage | str:
        """The image, or the finish reason when it is not a usable image."""
        reason = str(finish or "SUCCESS").upper()
        if reason != "SUCCESS":
            return reason
        if sniff_image_mime(data) is None:
            raise InvalidResponse("the response held bytes that are not a PNG, JPEG or WebP image",
                                  provider=self.id)
        seed_value = int(seed) if isinstance(seed, (int, str)) and str(seed).isdigit() else None
        return GeneratedImage(data=data, mime=sniff_image_mime(data), seed=seed_value)

    def _finish(self, images: list[GeneratedImage], reasons: list[str],
                request_id: str | None) -> ImageResult:
        """All usable images; a moderation or response error only when none came back."""
        if not images:
            kw: dict[str, Any] = {"provider": self.id, "request_id": request_id}
            if "CONTENT_FILTERED" in reasons:
                raise ModerationError("the result was blocked by Stability's content filter", **kw)
            raise InvalidResponse(f"the generation failed ({', '.join(reasons) or 'no images'})", **kw)
        usage: dict[str, Any] = {"images": len(images)}
        if reasons:
            usage["not_returned"] = reasons  # filtered or failed images are still billed
        return ImageResult(images=tuple(images), request_id=request_id, usage=usage)

    # -- v2beta -----------------------------------------------------------------------------------------
    async def _v2_batch(self, request: ImageRequest, caps: Capabilities | None, path: str) -> ImageResult:
        images: list[GeneratedImage] = []
        reasons: list[str] = []
        request_id = None
        for i in range(max(1, request.count)):
            seed = None if request.seed is None else (request.seed + i) % 4294967295
            try:
                got, request_id = await self._v2_once(request, caps, path, seed)
            except ProviderError:
                if not images and not reasons:
                    raise
                break  # earlier images were paid for: return them rather than lose them
            if isinstance(got, GeneratedImage):
                images.append(got)
            else:
                reasons.append(got)
        result = self._finish(images, reasons, request_id)
        if len(images) + len(reasons) < max(1, request.count):
            result.usage["incomplete"] = True
        return result

    async def _v2_once(self, request: ImageRequest, caps: Capabilities | None, path: str,
                       seed: int | None) -> tuple[GeneratedImage | str, str | None]:
        fields: dict[str, str] = {"prompt": request.prompt,
                                  "output_format": str(request.extra("output_format", "png"))}
        if request.negative_prompt and self._allows(caps, "negative_prompt"):
            fields["negative_prompt"] = request.negative_prompt
        if seed is not None and self._allows(caps, "seed"):
            fields["seed"] = str(seed)
        if request.style and (caps is None or request.style in caps.styles):
            fields["style_preset"] = request.style
        sd3 = path.endswith("/sd3")
        if sd3:
            fields["model"] = request.model
            if request.extra("cfg_scale") is not None:
                fields["cfg_scale"] = str(request.extra("cfg_scale"))
        files: list[tuple[str, Any]] = []
        if request.init_image is not None:
            fields["strength"] = f"{self._strength(request):g}"
            if sd3:
                fields["mode"] = "image-to-image"
            mime = sniff_image_mime(request.init_image) or "image/png"
            files.append(("image", (f"source.{mime.split('/')[1]}", request.init_image, mime)))
        else:
            ratio = self._aspect(request, caps)
            if ratio:
                fields["aspect_ratio"] = ratio
        # Multipart is required even without a file: send every field as a plain form part.
        parts = [(k, (None, v)) for k, v in fields.items()] + files
        resp, body = await self.http.request("POST", path, files=parts,
                                             headers={"Accept": "application/json"},
                                             error_mapper=self._map_error)
        rid = request_id_from(resp)
        if resp.headers.get("content-type", "").lower().startswith("image/"):
            # Defensive: an `Accept: image/*`-style answer puts the finish reason and seed in headers.
            return self._image(resp.content, resp.headers.get("finish-reason"), resp.headers.get("seed")), rid
        if not isinstance(body, dict):
            raise InvalidResponse("the service answered with something that is not a JSON object",
                                  provider=self.id, request_id=rid)
        reason = str(body.get("finish_reason") or "SUCCESS").upper()
        data = decode_b64_image(body.get("image"), self.id) if reason == "SUCCESS" else b""
        return self._image(data, reason, body.get("seed")), rid

    def _aspect(self, request: ImageRequest, caps: Capabilities | None) -> str | None:
        if request.aspect_ratio:
            return request.aspect_ratio
        if request.width and request.height:
            return nearest(request.width / request.height, caps.aspect_ratios if caps else (), ":")
        return None

    # -- v1 (legacy SDXL) -------------------------------------------------------------------------------
    async def _v1(self, request: ImageRequest, caps: Capabilities | None, path: str) -> ImageResult:
        prompts = [{"text": request.prompt, "weight": 1.0}]
        if request.negative_prompt and self._allows(caps, "negative_prompt"):
            # A negative weight is how v1 takes a negative prompt.
            prompts.append({"text": request.negative_prompt, "weight": -1.0})
        scalars: dict[str, Any] = {"samples": max(1, request.count)}
        if request.seed is not None and self._allows(caps, "seed"):
            scalars["seed"] = request.seed
        if request.style and (caps is None or request.style in caps.styles):
            scalars["style_preset"] = request.style
        for name in ("cfg_scale", "steps", "sampler", "clip_guidance_preset"):
            if request.extra(name) is not None:
                scalars[name] = request.extra(name)
        headers = {"Accept": "application/json"}
        if request.init_image is not None:
            fields: dict[str, Any] = {"init_image_mode": "IMAGE_STRENGTH",
                                      "image_strength": f"{1.0 - self._strength(request):g}", **scalars}
            for i, p in enumerate(prompts):
                fields[f"text_prompts[{i}][text]"] = p["text"]
                fields[f"text_prompts[{i}][weight]"] = f"{p['weight']:g}"
            mime = sniff_image_mime(request.init_image) or "image/png"
            parts: list[tuple[str, Any]] = [(k, (None, str(v))) for k, v in fields.items()]
            parts.append(("init_image", (f"init.{mime.split('/')[1]}", request.init_image, mime)))
            resp, body = await self.http.request("POST", f"{path}/image-to-image", files=parts,
                                                 headers=headers, error_mapper=self._map_error)
            width = height = None
        else:
            width, height = self._v1_size(request, caps)
            payload = {"text_prompts": prompts, "width": width, "height": height, **scalars}
            resp, body = await self.http.request("POST", f"{path}/text-to-image", json=payload,
                                                 headers=headers, error_mapper=self._map_error)
        rid = request_id_from(resp)
        if resp.headers.get("content-type", "").lower().startswith("image/"):
            got = [self._image(resp.content, resp.headers.get("finish-reason"), resp.headers.get("seed"))]
        else:
            artifacts = body.get("artifacts") if isinstance(body, dict) else None
            if not isinstance(artifacts, list):
                raise InvalidResponse("the response held no artifacts", provider=self.id, request_id=rid)
            got = []
            for art in artifacts:
                if not isinstance(art, dict):
                    raise InvalidResponse("an artifact in the response is not an object", provider=self.id)
                reason = str(art.get("finishReason") or "SUCCESS").upper()
                data = decode_b64_image(art.get("base64"), self.id) if reason == "SUCCESS" else b""
                got.append(self._image(data, reason, art.get("seed")))
        images = [GeneratedImage(data=g.data, mime=g.mime, seed=g.seed, width=width, height=height)
                  for g in got if isinstance(g, GeneratedImage)]
        return self._finish(images, [g for g in got if isinstance(g, str)], rid)

    def _v1_size(self, request: ImageRequest, caps: Capabilities | None) -> tuple[int, int]:
        """SDXL takes only nine sizes: an exact match, else the one nearest in aspect ratio."""
        allowed = caps.sizes if caps and caps.sizes else SDXL_SIZES
        if request.size in allowed:
            size = request.size
        elif request.width and request.height:
            size = nearest(request.width / request.height, allowed, "x")
        elif request.aspect_ratio and (ratio := _ratio(request.aspect_ratio, ":")):
            size = nearest(ratio, allowed, "x")
        else:
            size = "1024x1024" if "1024x1024" in allowed else allowed[0]
        m = _SIZE_RE.match(size or "")
        if not m:
            raise InvalidRequest("no usable size for this engine", provider=self.id)
        return int(m.group(1)), int(m.group(2))

    # -- errors -----------------------------------------------------------------------------------------
    def _map_error(self, resp: httpx.Response, body: Any) -> ProviderError | None:
        """v1 `{id, name, message}` and v2beta `{id, name, errors[]}`; the rest: the shared mapping."""
        status = resp.status_code
        if status < 400:
            return None
        name = str(body.get("name") or "") if isinstance(body, dict) else ""
        text = (error_message_from_body(body) or resp.reason_phrase or f"HTTP {status}")[:300]
        kw: dict[str, Any] = {"provider": self.id, "status": status}
        flagged = "moderat" in name or "moderat" in text.lower() or "flagged" in text.lower()
        if (status == 400 and name == "invalid_prompts") or (status in (403, 422) and flagged):
            return ModerationError(f"refused by Stability's content moderation: {text}", **kw)
        if status == 403:
            return AuthError(f"the key may not do this ({name or status}): {text}", **kw)
        if status == 404:
            return InvalidRequest(f"this model or endpoint is not available: {text}", **kw)
        if status == 413:
            return InvalidRequest(f"the request is too large (keep the source image under 10 MB): {text}",
                                  **kw)
        if status == 429:
            wait = parse_retry_after(resp.headers)
            return RateLimited(f"rate limited (the key is blocked for a minute): {text}",
                               retry_after=LOCKOUT_S if wait is None else wait, **kw)
        return None
