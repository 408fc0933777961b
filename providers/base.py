"""The one provider protocol: request values, results, task handles and typed errors.

Pure Python: no Qt, no storage, no Pillow. An adapter receives a `ProviderConfig` (base URL and key) and
turns an `ImageRequest` into either finished images or a `TaskHandle` to poll.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

PROVIDER_IDS = ("openai", "stability", "replicate", "kie", "pollinations", "a1111", "comfyui")


@dataclass(frozen=True)
class ImageRequest:
    """Everything a provider needs for one generation, and never the key.

    Either `width`/`height` or `aspect_ratio` (``"16:9"``) may be given; adapters map them to what the API
    takes. `strength` is how much the image-to-image source may change: 0 keeps it, 1 ignores it (adapters
    whose API counts the other way convert). `extras` holds per-model options as sorted ``(name, value)`` pairs so the value stays hashable.
    """

    prompt: str
    provider: str
    model: str
    negative_prompt: str = ""
    width: int | None = None
    height: int | None = None
    aspect_ratio: str | None = None
    count: int = 1
    seed: int | None = None
    style: str | None = None
    quality: str | None = None
    init_image: bytes | None = field(default=None, repr=False)
    init_image_mime: str | None = None
    strength: float | None = None
    extras: tuple[tuple[str, Any], ...] = ()

    @property
    def size(self) -> str | None:
        return f"{self.width}x{self.height}" if self.width and self.height else None

    def extra(self, name: str, default: Any = None) -> Any:
        return dict(self.extras).get(name, default)

    def to_metadata(self) -> dict[str, Any]:
        """A JSON-able description (no image bytes, no key) for logs, journals and file metadata."""
        return {
            "prompt": self.prompt,
            "provider": self.provider,
            "model": self.model,
            "negative_prompt": self.negative_prompt,
            "width": self.width,
            "height": self.height,
            "aspect_ratio": self.aspect_ratio,
            "count": self.count,
            "seed": self.seed,
            "style": self.style,
            "quality": self.quality,
            "has_init_image": self.init_image is not None,
            "strength": self.strength,
            "extras": dict(self.extras),
        }


@dataclass(frozen=True)
class GeneratedImage:
    """One image's bytes plus the parameters the provider actually used (None when it did not say)."""

    data: bytes = field(repr=False)
    mime: str | None = None
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    revised_prompt: str | None = None


@dataclass(frozen=True)
class ImageResult:
    """A finished generation: its images, the provider's request id and any cost the provider reported."""

    images: tuple[GeneratedImage, ...]
    request_id: str | None = None
    cost_usd: float | None = None  # provider-reported figure in USD, when the API gives one
    usage: dict[str, Any] = field(default_factory=dict)  # provider-reported usage/credits, raw
    model: str | None = None  # the model actually used when it differs from the request (a local checkpoint)


@dataclass(frozen=True)
class TaskHandle:
    """An asynchronous task to follow. `state` holds what polling needs (API family, URLs); it is JSON-able
    so a job journal can store it and resume polling after a restart."""

    provider: str
    task_id: str
    model: str
    state: dict[str, Any] = field(default_factory=dict)


class TaskState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED)


@dataclass(frozen=True)
class TaskStatus:
    state: TaskState
    progress: float | None = None  # 0..1 when the provider reports it
    result: ImageResult | None = None  # set when SUCCEEDED
    error: ProviderError | None = None  # set when FAILED
    message: str = ""


# ---------------------------------------------------------------------------------------------- errors


class ProviderError(Exception):
    """Base of every typed provider error. `retryable`: the same request may succeed later on the same
    provider. `fallback_ok`: another provider may be tried (the provider is down, not the request wrong)."""

    retryable = False
    fallback_ok = False
    kind = "error"

    def __init__(self, message: str, *, provider: str = "", status: int | None = None,
                 request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.request_id = request_id

    def __str__(self) -> str:
        return f"{self.provider}: {self.message}" if self.provider else self.message


class AuthError(ProviderError):
    kind = "auth"


class InvalidRequest(ProviderError):
    kind = "invalid_request"


class ModerationError(ProviderError):
    kind = "moderated"


class InsufficientCredits(ProviderError):
    kind = "insufficient_credits"


class RateLimited(ProviderError):
    kind = "rate_limited"
    retryable = True
    fallback_ok = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ProviderDown(ProviderError):
    kind = "provider_down"
    retryable = True
    fallback_ok = True


class ProviderTimeout(ProviderError):
    kind = "timeout"
    retryable = True
    fallback_ok = True


class InvalidResponse(ProviderError):
    kind = "invalid_response"
    fallback_ok = True


class TaskNotFound(ProviderError):
    kind = "task_not_found"


class Cancelled(ProviderError):
    kind = "cancelled"


# ---------------------------------------------------------------------------------------------- protocol


@dataclass(frozen=True)
class ProviderConfig:
    """How to reach one provider. The key is kept out of repr so it never lands in a log line."""

    provider: str
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 180.0  # overall deadline for one logical call
    poll_interval_s: float = 2.0
    max_download_bytes: int = 64 * 1024 * 1024
    max_attempts: int = 4  # retries on 429/5xx/connection errors, with backoff
    retry_budget_s: float = 120.0


@runtime_checkable
class Provider(Protocol):
    """Submit, then either finished images or a task to poll; cancel where the API has it."""

    id: str
    supports_cancel: bool

    async def submit(self, request: ImageRequest) -> ImageResult | TaskHandle: ...

    async def poll(self, handle: TaskHandle) -> TaskStatus: ...

    async def cancel(self, handle: TaskHandle) -> bool: ...

    async def check_key(self) -> str: ...  # cheap authenticated call; returns a short verdict or raises

    # Optional: `batch_natively(model) -> bool`. False means the API makes one image per call; the job service
    # then sends one request per image so each is saved as it arrives. Absent means True.

    async def aclose(self) -> None: ...
