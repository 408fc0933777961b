"""Job values that outlive a run: the request as journalled (and rebuilt for resume/retry) and the
one-line error wording a creator sees."""

from __future__ import annotations

import base64
from typing import Any

from providers.base import ImageRequest, ProviderError
from storage.journal import JobRecord


def journal_meta(request: ImageRequest) -> dict[str, Any]:
    """The request as the journal stores it: JSON, the init image as base64, never a key."""
    meta = request.to_metadata()
    if request.init_image is not None:
        meta["init_image_b64"] = base64.b64encode(request.init_image).decode("ascii")
    return meta


def request_from_record(record: JobRecord) -> ImageRequest:
    """Rebuild the request a job was journalled with."""
    meta = dict(record.request)
    init = meta.get("init_image_b64")
    return ImageRequest(
        prompt=meta.get("prompt", ""), provider=meta.get("provider", record.provider),
        model=meta.get("model", record.model), negative_prompt=meta.get("negative_prompt", "") or "",
        width=meta.get("width"), height=meta.get("height"), aspect_ratio=meta.get("aspect_ratio"),
        count=int(meta.get("count", record.count) or 1), seed=meta.get("seed"), style=meta.get("style"),
        quality=meta.get("quality"), init_image=base64.b64decode(init) if init else None,
        strength=meta.get("strength"), extras=tuple(sorted((meta.get("extras") or {}).items())),
    )


def friendly_error(exc: ProviderError) -> str:
    """One line for a creator: what happened and what to do."""
    name = exc.provider or "the provider"
    hints = {
        "auth": "check the API key in Settings ▸ Providers",
        "insufficient_credits": "top up your account with the provider",
        "moderated": "rephrase the prompt; the provider's safety filter refused it",
        "rate_limited": "wait a moment and retry",
        "provider_down": "the service is having trouble; retry later or add a fallback provider",
        "timeout": "the service did not answer in time; retry later",
        "invalid_request": "change the parameters",
        "invalid_response": "retry; the provider sent something unusable",
        "quota": "raise the quota in Settings ▸ Quotas or wait for it to reset",
        "storage": "free some disk space or check that the library folder is writable, then retry",
    }
    text = exc.message
    retry_after = getattr(exc, "retry_after", None)
    if exc.kind == "rate_limited" and retry_after:
        hints["rate_limited"] = f"wait {int(retry_after + 0.999)} s and retry"
    if exc.kind in ("provider_down", "timeout") and "cannot connect" in text:
        hints[exc.kind] = "check your network connection, or the provider's base URL in Settings ▸ Providers"
    hint = hints.get(exc.kind)
    if hint and "Settings ▸" in hint and "Settings ▸" in text:
        hint = None  # the message already says where to go
    return f"{name}: {text}" + (f" — {hint}" if hint else "")
