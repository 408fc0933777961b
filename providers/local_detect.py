"""Find local backends (A1111/Forge, ComfyUI) that are running, so the app can offer them without set-up.

Each backend's resolved base URL (``IMAGES_STUDIO_A1111_BASE_URL`` etc. override the catalogue) gets one
GET with a short timeout, all at once. A backend counts when the answer has its shape, so some other program
on port 7860 or 8188 is not taken for it. A1111 started without ``--api`` has no ``/sdapi`` routes and is
not usable, so it is not reported.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import httpx

from providers.catalogue import Catalogue
from providers.registry import resolve_base_url

log = logging.getLogger(__name__)


def _a1111_answer(resp: httpx.Response) -> bool:
    if resp.status_code == 401:  # --api-auth: running, wants user:pass
        return "basic" in resp.headers.get("www-authenticate", "").lower()
    return resp.status_code == 200 and isinstance(_json(resp), list)


def _comfyui_answer(resp: httpx.Response) -> bool:
    body = _json(resp)
    return resp.status_code == 200 and isinstance(body, dict) and isinstance(body.get("system"), dict)


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


PROBES = {
    "a1111": ("/sdapi/v1/sd-models", _a1111_answer),
    "comfyui": ("/system_stats", _comfyui_answer),
}


async def detect_local_backends(catalogue: Catalogue, timeout_s: float = 0.5,
                                env: Mapping[str, str] | None = None) -> dict[str, str]:
    """{provider_id: base_url} for the local backends that answer within `timeout_s`. Never raises."""
    targets: dict[str, str] = {}
    for provider_id in PROBES:
        try:
            if provider_id in catalogue:
                targets[provider_id] = resolve_base_url(provider_id, catalogue, env=env)
        except Exception:  # a broken catalogue entry must not break start-up
            log.debug("cannot resolve the base URL of %s", provider_id, exc_info=True)
    if not targets:
        return {}

    try:
        results = await _probe_all(targets, timeout_s)
    except Exception:  # nothing about detection may stop the app from starting
        log.debug("local backend detection failed", exc_info=True)
        return {}
    found = {p: url for (p, url), ok in zip(targets.items(), results) if ok}
    log.info("local backends found: %s", ", ".join(found) or "none")
    return found


async def _probe_all(targets: dict[str, str], timeout_s: float) -> list[bool]:
    # trust_env=False: a loopback probe must not go through a proxy configured for the internet.
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), trust_env=False,
                                 follow_redirects=False) as client:

        async def probe(provider_id: str, base_url: str) -> bool:
            path, looks_right = PROBES[provider_id]
            try:
                async with asyncio.timeout(timeout_s):
                    return looks_right(await client.get(base_url + path))
            except Exception:  # refused, timed out, bad URL: simply not there
                return False

        return list(await asyncio.gather(*(probe(p, url) for p, url in targets.items())))
