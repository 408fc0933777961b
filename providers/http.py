"""HTTP plumbing shared by the adapters: one keyed API client and one key-less download client per
provider, retries, an overall deadline, typed error mapping, capped downloads, and redaction.

Every response body is untrusted: JSON is parsed defensively, downloads are capped whatever
Content-Length says, and only bytes that look like PNG, JPEG or WebP are accepted.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json as jsonlib
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from providers.base import (
    AuthError,
    InsufficientCredits,
    InvalidRequest,
    InvalidResponse,
    ModerationError,
    ProviderConfig,
    ProviderDown,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    TaskNotFound,
)
from providers.policy import RateLimiter, RetryPolicy, call_with_retry, parse_retry_after, with_deadline

ErrorMapper = Callable[[httpx.Response, Any], ProviderError | None]

_SECRET_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{6,}"),
    re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/=]{6,}"),
    # Header-shaped secrets in any rendering: "x-key: v", "'x-key': 'v'", "x-goog-api-key=v", "api_key=v".
    re.compile(r"(?i)((?:x-key|x-goog-api-key|x-api-key|api[-_]?key|authorization)['\"]?\s*[:=]\s*['\"]?)"
               r"(?!bearer\b|basic\b)[^\s'\",}]{6,}"),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"\br8_[A-Za-z0-9]{8,}"),
]


def redact(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    """Remove known secrets and anything shaped like a bearer token or an API key from `text`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.lastindex else "") + "***", text)
    return text


def sniff_image_mime(data: bytes) -> str | None:
    """The image type from magic bytes: PNG, JPEG or WebP; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def decode_b64_image(value: Any, provider: str) -> bytes:
    """Decode a base64 image field (optionally a data: URL) and check it looks like an image."""
    if not isinstance(value, str) or not value:
        raise InvalidResponse("the response held no image data", provider=provider)
    if value.startswith("data:"):
        value = value.split(",", 1)[-1]
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidResponse("the image data in the response was not valid base64", provider=provider) from None
    if sniff_image_mime(data) is None:
        raise InvalidResponse("the response held bytes that are not a PNG, JPEG or WebP image", provider=provider)
    return data


def error_message_from_body(body: Any) -> str:
    """Best-effort human text from the many error body shapes providers use."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            for key in ("message", "msg", "detail"):
                if isinstance(err.get(key), str):
                    return err[key]
        if isinstance(err, str) and err:
            return err
        for key in ("message", "msg", "detail"):
            val = body.get(key)
            if isinstance(val, str) and val:
                return val
            if isinstance(val, list) and val:
                return "; ".join(str(v.get("msg", v)) if isinstance(v, dict) else str(v) for v in val[:3])
        # Stability v2beta puts the human text in `errors` and a short code in `name`: prefer the text.
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(str(e) for e in errors[:3])
        for key in ("title", "name"):
            val = body.get(key)
            if isinstance(val, str) and val:
                return val
    if isinstance(body, str):
        return body
    return ""


def default_error(resp: httpx.Response, body: Any, provider: str) -> ProviderError | None:
    """Map an HTTP error status to a typed error; None for success."""
    status = resp.status_code
    if status < 400:
        return None
    text = error_message_from_body(body) or resp.reason_phrase or f"HTTP {status}"
    text = text[:300]
    kw: dict[str, Any] = {"provider": provider, "status": status}
    lowered = text.lower()
    if status in (401, 403):
        return AuthError(f"the key was refused ({status}): {text}", **kw)
    if status == 402:
        return InsufficientCredits(f"not enough credits: {text}", **kw)
    if status == 429:
        return RateLimited(f"rate limited: {text}", retry_after=parse_retry_after(resp.headers), **kw)
    if status == 404:
        return TaskNotFound(f"not found: {text}", **kw)
    if status >= 500:
        return ProviderDown(f"the service failed ({status}): {text}", **kw)
    if any(w in lowered for w in ("moderat", "safety", "nsfw", "content polic", "content_filtered")):
        return ModerationError(f"refused by the safety filter: {text}", **kw)
    return InvalidRequest(f"the request was refused ({status}): {text}", **kw)


def parse_body(resp: httpx.Response) -> Any:
    """JSON when the body is JSON, else the text (capped); never raises. Image bodies are left alone
    (returns "") so a multi-megabyte PNG is not decoded as JSON and then as text."""
    if resp.headers.get("content-type", "").lower().startswith("image/"):
        return ""
    try:
        return resp.json()
    except (ValueError, UnicodeDecodeError):
        try:
            return resp.text[:2000]
        except (UnicodeDecodeError, ValueError):
            return ""


def bearer_headers(key: str | None) -> dict[str, str]:
    """The usual `Authorization: Bearer <key>` header, or none without a key (keyless or local use)."""
    return {"Authorization": f"Bearer {key}"} if key else {}


class HttpSession:
    """One provider's clients. The API client carries the key headers; the download client carries none,
    because httpx keeps custom headers on a cross-origin redirect and result URLs point anywhere."""

    def __init__(self, config: ProviderConfig, auth_headers: Mapping[str, str] | None = None, *,
                 rate_per_s: float = 5.0, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 on_retry: Callable[[ProviderError, int, float], None] | None = None) -> None:
        self.config = config
        self.provider = config.provider
        self._auth_headers = dict(auth_headers or {})
        self._api: httpx.AsyncClient | None = None
        self._dl: httpx.AsyncClient | None = None
        self._sleep = sleep
        self.on_retry = on_retry
        self.retry = RetryPolicy(max_attempts=config.max_attempts, budget_s=config.retry_budget_s)
        # The limiter keeps the real sleep: it measures time with the real clock, so an injected no-op sleep
        # (meant to make retry back-off instant in tests) would turn its wait into a busy loop that blocks the
        # event loop (and the deadline) and floods any sleep recorder.
        self.limiter = RateLimiter(rate_per_s, burst=max(1, int(rate_per_s)))

    @property
    def api(self) -> httpx.AsyncClient:
        if self._api is None:
            self._api = httpx.AsyncClient(
                base_url=self.config.base_url.rstrip("/"),
                headers=self._auth_headers,
                timeout=httpx.Timeout(connect=5.0, read=min(300.0, self.config.timeout_s), write=30.0, pool=5.0),
                transport=httpx.AsyncHTTPTransport(
                    retries=1, limits=httpx.Limits(max_connections=8, max_keepalive_connections=4)),
                follow_redirects=False,
            )
        return self._api

    @property
    def downloads(self) -> httpx.AsyncClient:
        if self._dl is None:
            self._dl = httpx.AsyncClient(
                timeout=httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=5.0), follow_redirects=True)
        return self._dl

    def require_key(self, what: str = "API key") -> None:
        """Refuse before anything is sent when the provider needs a key and none is configured."""
        if not self.config.api_key:
            raise AuthError(f"no {what} is set for {self.provider}: add one in Settings ▸ Providers",
                            provider=self.provider)

    def _secret(self) -> tuple[str | None, ...]:
        return (self.config.api_key,)

    async def request(self, method: str, url: str, *, idempotent: bool = False,
                      error_mapper: ErrorMapper | None = None, deadline_s: float | None = None,
                      **kwargs: Any) -> tuple[httpx.Response, Any]:
        """Send one logical call with retries; return the response and its parsed body, or raise typed."""

        async def attempt() -> tuple[httpx.Response, Any]:
            await self.limiter.acquire()
            try:
                resp = await self.api.request(method, url, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                err = ProviderDown(f"cannot connect to {self.config.base_url}: {type(exc).__name__}",
                                   provider=self.provider)
                raise err from None
            except httpx.TimeoutException:
                err = ProviderTimeout("the service stopped answering", provider=self.provider)
                err.retryable = idempotent  # never resend a paid "create" after a read timeout
                raise err from None
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                err = ProviderDown(f"the connection broke ({type(exc).__name__})", provider=self.provider)
                err.retryable = idempotent
                raise err from None
            body = parse_body(resp)
            mapped = (error_mapper(resp, body) if error_mapper else None) or default_error(resp, body, self.provider)
            if mapped is not None:
                mapped.message = redact(mapped.message, self._secret())
                mapped.args = (mapped.message,)  # repr() and tracebacks read args, not message
                mapped.request_id = mapped.request_id or request_id_from(resp)
                raise mapped
            return resp, body

        try:
            return await with_deadline(
                call_with_retry(attempt, self.retry, sleep=self._sleep, on_retry=self.on_retry),
                deadline_s or self.config.timeout_s, self.provider)
        except ProviderTimeout as exc:
            # The overall deadline can cut a create call off mid-flight too: a caller must not resend it.
            if not idempotent:
                exc.retryable = False
            raise

    async def request_json(self, method: str, url: str, **kwargs: Any) -> tuple[httpx.Response, dict[str, Any]]:
        resp, body = await self.request(method, url, **kwargs)
        if not isinstance(body, dict):
            raise InvalidResponse("the service answered with something that is not a JSON object",
                                  provider=self.provider, status=resp.status_code)
        return resp, body

    async def download(self, url: str) -> bytes:
        """Fetch a result URL with the key-less client, capped at max_download_bytes, and check the bytes."""
        if url.startswith("data:"):
            return decode_b64_image(url, self.provider)
        if not url.startswith(("http://", "https://")):
            raise InvalidResponse("the result URL is not http(s)", provider=self.provider)
        cap = self.config.max_download_bytes

        async def fetch() -> bytes:
            try:
                async with self.downloads.stream("GET", url) as resp:
                    if resp.status_code >= 400:
                        err: ProviderError = (ProviderDown if resp.status_code >= 500 else InvalidResponse)(
                            f"downloading the image failed (HTTP {resp.status_code})", provider=self.provider,
                            status=resp.status_code)
                        raise err
                    chunks: list[bytes] = []
                    total = 0
                    async for chunk in resp.aiter_bytes():
                        total += len(chunk)
                        if total > cap:
                            raise InvalidResponse(f"the image is larger than {cap // (1024 * 1024)} MB",
                                                  provider=self.provider)
                        chunks.append(chunk)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                raise ProviderDown("cannot connect to download the image", provider=self.provider) from None
            except httpx.TimeoutException:
                raise ProviderTimeout("downloading the image timed out", provider=self.provider) from None
            except (httpx.RemoteProtocolError, httpx.ReadError):
                err = ProviderDown("the image download was cut off", provider=self.provider)
                raise err from None
            data = b"".join(chunks)
            if sniff_image_mime(data) is None:
                raise InvalidResponse("the result URL did not return a PNG, JPEG or WebP image",
                                      provider=self.provider)
            return data

        # Downloads are idempotent GETs: connection faults and truncation may be retried.
        return await with_deadline(call_with_retry(fetch, self.retry, sleep=self._sleep), self.config.timeout_s,
                                   self.provider)

    async def aclose(self) -> None:
        for client in (self._api, self._dl):
            if client is not None:
                await client.aclose()
        self._api = self._dl = None


def request_id_from(resp: httpx.Response) -> str | None:
    for name in ("x-request-id", "request-id", "x-amzn-requestid", "cf-ray"):
        if name in resp.headers:
            return resp.headers[name][:120]
    return None


def dumps_compact(value: Any) -> str:
    return jsonlib.dumps(value, separators=(",", ":"), sort_keys=True)
