"""GET raw image bytes from a provider's own API (Pollinations' prompt URL, ComfyUI's /view).

`HttpSession.request` reads bodies whole and uncapped, and `HttpSession.download` uses the key-less client
and turns every 4xx into InvalidResponse. An API that answers the image itself needs both: the API client
(its base URL and, for Pollinations, the key header) and error bodies mapped like any API call (429 with
Retry-After, 402, 401). Bodies are streamed with the session's byte cap, the Content-Type must be an image
type, and the bytes must carry PNG, JPEG or WebP magic.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from providers.base import InvalidResponse, ProviderDown, ProviderTimeout
from providers.http import ErrorMapper, HttpSession, default_error, redact, request_id_from, sniff_image_mime
from providers.policy import call_with_retry, with_deadline

ERROR_BODY_CAP = 64 * 1024
# application/octet-stream (or no type) is allowed because some servers send files that way; the magic
# bytes decide. Text, HTML and JSON never are images: they are error pages.
_NEUTRAL_TYPES = ("", "application/octet-stream", "binary/octet-stream")


async def _read_capped(resp: httpx.Response, cap: int, provider: str, *, fail: bool = True) -> bytes:
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.aiter_bytes():
        total += len(chunk)
        if total > cap:
            if not fail:
                break
            raise InvalidResponse(f"the image is larger than {cap // (1024 * 1024)} MB", provider=provider)
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_error_body(raw: bytes) -> Any:
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text[:2000]


async def fetch_image(session: HttpSession, url: str, *, params: Mapping[str, Any] | None = None,
                      error_mapper: ErrorMapper | None = None, follow_redirects: bool = False,
                      sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                      deadline_s: float | None = None) -> tuple[bytes, str]:
    """One idempotent GET for image bytes with retries and an overall deadline; returns (bytes, mime).

    `follow_redirects` is only safe when the key travels in `Authorization`, which httpx drops on a
    cross-origin redirect.
    """
    provider = session.provider
    cap = session.config.max_download_bytes

    async def attempt() -> tuple[bytes, str]:
        await session.limiter.acquire()
        try:
            async with session.api.stream("GET", url, params=params,
                                          follow_redirects=follow_redirects) as resp:
                if resp.status_code >= 300:
                    body = _parse_error_body(await _read_capped(resp, ERROR_BODY_CAP, provider, fail=False))
                    err = (error_mapper(resp, body) if error_mapper else None) or default_error(
                        resp, body, provider) or InvalidResponse(
                        f"unexpected HTTP {resp.status_code} instead of an image", provider=provider,
                        status=resp.status_code)
                    err.message = redact(err.message, (session.config.api_key,))
                    err.request_id = err.request_id or request_id_from(resp)
                    raise err
                ctype = resp.headers.get("content-type", "").split(";", 1)[0].strip().lower()
                if not (ctype.startswith("image/") or ctype in _NEUTRAL_TYPES):
                    raise InvalidResponse(f"the service answered {ctype} instead of an image",
                                          provider=provider, status=resp.status_code)
                data = await _read_capped(resp, cap, provider)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ProviderDown(f"cannot connect to {session.config.base_url}: {type(exc).__name__}",
                               provider=provider) from None
        except httpx.TimeoutException:
            raise ProviderTimeout("the service stopped answering", provider=provider) from None
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise ProviderDown(f"the image transfer was cut off ({type(exc).__name__})",
                               provider=provider) from None
        mime = sniff_image_mime(data)
        if mime is None:
            raise InvalidResponse("the service answered bytes that are not a PNG, JPEG or WebP image",
                                  provider=provider)
        return data, mime

    retried = call_with_retry(attempt, session.retry, sleep=sleep, on_retry=session.on_retry)
    return await with_deadline(retried, deadline_s or session.config.timeout_s, provider)
