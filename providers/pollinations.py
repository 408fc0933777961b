"""Pollinations: free images from one GET whose path is the prompt; the zero-set-up default (reference §7b).

Two APIs, both supported because which one answers without a key has changed over time:

* no key: the legacy anonymous endpoint,
  ``GET {base}/prompt/{prompt}?model=&width=&height=&seed=&nologo=&private=``;
* a key: the gateway, ``GET {gateway}/image/{prompt}?model=&width=&height=&seed=`` with
  ``Authorization: Bearer <key>``. The documented ``?key=`` alternative is never used: URLs end up in proxy
  and server logs, headers do not.

Base URLs: the catalogue's `base_url` is the anonymous endpoint; the gateway's default is `GATEWAY_URL` here,
because the catalogue format carries one URL per provider. An overridden base URL (settings or
``IMAGES_STUDIO_POLLINATIONS_BASE_URL``) is used for both paths, so one mirror, proxy or test fake serves
``/prompt/`` and ``/image/`` alike.

The answer is the image itself (no seed echoed), so each image is one request and the seed sent is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx

from providers.base import (
    AuthError,
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
    TaskStatus,
)
from providers.catalogue import ProviderInfo
from providers.http import HttpSession, default_error, error_message_from_body
from providers.imagefetch import fetch_image
from providers.sizing import size_for

GATEWAY_URL = "https://gen.pollinations.ai"
KEY_URL = "https://enter.pollinations.ai"
# The anonymous tier allows about one request per IP at a time, a few seconds apart (§7b): a batch of four
# sent back to back would trip 429s, so anonymous requests queue behind one lock and keep this gap.
ANON_MIN_GAP_S = 3.0
SEED_MAX = 2**31 - 1
MAX_ENCODED_PROMPT = 6000  # URLs much longer than ~8 KB are refused by common servers and proxies
DEFAULT_SIZE = (1024, 1024)


class PollinationsProvider:
    id = "pollinations"
    supports_cancel = False

    def batch_natively(self, model: str) -> bool:
        """Every image is its own request, so the job service asks for them one by one and saves each."""
        return False

    def __init__(self, config: ProviderConfig, info: ProviderInfo, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        key = (config.api_key or "").strip() or None
        self.config = replace(config, api_key=key)
        self.info = info
        self.keyed = key is not None
        self.base_url = self._pick_base_url(config.base_url, info.base_url)
        self._sleep = sleep
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = HttpSession(replace(self.config, base_url=self.base_url), headers, rate_per_s=10.0,
                                 sleep=sleep)
        self._anon_turn = asyncio.Lock()
        self._last_anon_done: float | None = None

    def _pick_base_url(self, configured: str, catalogue_default: str) -> str:
        configured = configured.rstrip("/")
        if self.keyed and configured == catalogue_default.rstrip("/"):
            return GATEWAY_URL
        return configured

    # -- generation ----------------------------------------------------------------------------------
    async def submit(self, request: ImageRequest) -> ImageResult:
        if request.init_image is not None:
            raise InvalidRequest("Pollinations cannot start from a local image (it only takes public image "
                                 "URLs)", provider=self.id)
        prompt = request.prompt.strip()
        if not prompt:
            raise InvalidRequest("the prompt is empty", provider=self.id)
        encoded = quote(prompt, safe="")
        if len(encoded) > MAX_ENCODED_PROMPT:
            raise InvalidRequest("the prompt is too long for Pollinations (it travels in the URL)",
                                 provider=self.id)
        width, height = size_for(request, long_side=1024, multiple=8) or DEFAULT_SIZE
        model = request.model or self.info.default_model
        images = []
        for seed in self._seeds(request):
            data, mime = await self._generate_one(encoded, model, width, height, seed)
            # The response echoes nothing: the seed is the one sent; the size is read from the bytes later.
            images.append(GeneratedImage(data=data, mime=mime, seed=seed))
        return ImageResult(images=tuple(images))

    @staticmethod
    def _seeds(request: ImageRequest) -> list[int]:
        count = max(1, request.count)
        if request.seed is not None:
            return [(request.seed + i) % (SEED_MAX + 1) for i in range(count)]
        return random.sample(range(SEED_MAX), count)

    async def _generate_one(self, encoded_prompt: str, model: str, width: int, height: int,
                            seed: int) -> tuple[bytes, str]:
        params: dict[str, Any] = {"model": model, "width": width, "height": height, "seed": seed}
        if self.keyed:
            path = f"/image/{encoded_prompt}"
            turn: contextlib.AbstractAsyncContextManager[Any] = contextlib.nullcontext()
        else:
            path = f"/prompt/{encoded_prompt}"
            params.update(nologo="true", private="true")  # private: keep the image out of the public feed
            turn = self._anon_turn
        async with turn:
            if not self.keyed and self._last_anon_done is not None:
                wait = ANON_MIN_GAP_S - (time.monotonic() - self._last_anon_done)
                if wait > 0:
                    await self._sleep(wait)
            try:
                # Redirects are safe to follow: the key is only ever in Authorization, which httpx drops
                # on a cross-origin redirect.
                return await fetch_image(self._http, path, params=params, error_mapper=self._map_error,
                                         follow_redirects=True, sleep=self._sleep)
            finally:
                if not self.keyed:
                    self._last_anon_done = time.monotonic()

    def _map_error(self, resp: httpx.Response, body: Any) -> ProviderError | None:
        status = resp.status_code
        if isinstance(body, dict) and all(isinstance(body.get(k), str) for k in ("error", "message")):
            # The legacy endpoint answers {"error": "<status text>", "message": "<what went wrong>"}.
            body = {"message": f"{body['error']}: {body['message']}"}
        text = (error_message_from_body(body) or resp.reason_phrase or f"HTTP {status}")[:300]
        kw: dict[str, Any] = {"provider": self.id, "status": status}
        if status in (401, 403) and not self.keyed:
            return AuthError(f"Pollinations asked for a key ({status}): {text}. A free key from {KEY_URL} "
                             "can be added in Settings.", **kw)
        if status == 404:
            err = ProviderDown(f"Pollinations has no such endpoint or model (404): {text}", **kw)
            err.retryable = False  # asking again will not make it appear
            return err
        # 402 pollen exhausted, 429, 5xx, 400: the shared mapping, with the fuller text.
        return default_error(resp, body, self.id)

    # -- models and key --------------------------------------------------------------------------------
    async def list_models(self) -> list[str]:
        """Model names the endpoint in use offers (no authentication needed)."""
        path = "/image/models" if self.keyed else "/models"
        _resp, body = await self._http.request("GET", path, idempotent=True, error_mapper=self._map_error)
        if not isinstance(body, list):
            raise InvalidResponse("the model list is not a JSON list", provider=self.id)
        names = [m if isinstance(m, str) else (m.get("name") or m.get("id")) if isinstance(m, dict) else None
                 for m in body]
        return [str(n) for n in names if n]

    async def check_key(self) -> str:
        if not self.keyed:
            models = await self.list_models()
            return f"No key needed: the free anonymous tier answers ({len(models)} models)."
        key = self.config.api_key or ""
        if not key.startswith(("sk_", "pk_")):
            raise AuthError("this does not look like a Pollinations key (they start with sk_ or pk_)",
                            provider=self.id)
        models = await self.list_models()
        kind = "secret key" if key.startswith("sk_") else "publishable key (rate-limited)"
        # Pollinations documents no free call that checks a key; the first image will confirm it.
        return f"The gateway answers ({len(models)} models); the {kind} is checked with the first image."

    # -- no tasks --------------------------------------------------------------------------------------
    async def poll(self, handle: TaskHandle) -> TaskStatus:
        raise TaskNotFound("Pollinations answers synchronously: there is no task to follow", provider=self.id)

    async def cancel(self, handle: TaskHandle) -> bool:
        return False  # no cancel endpoint: the caller can only stop waiting

    async def aclose(self) -> None:
        await self._http.aclose()
