"""Attach the generation stack (keys, provider factory, job service) to a built AppServices."""

from __future__ import annotations

import os
from typing import Any

from desktop.services.container import AppServices
from desktop.services.generation import GenerationService
from desktop.services.provider_factory import ProviderFactory
from storage.journal import JobJournal
from storage.secrets import SecretStore


def attach_generation(services: AppServices, *, secrets: Any = None, guard: Any = None,
                      adapter_kwargs: dict[str, Any] | None = None, poll_interval_s: float | None = None,
                      env: Any = None) -> GenerationService:
    if "generation" in services.extras:
        return services.extras["generation"]
    secrets = secrets or services.extras.get("secrets") or SecretStore()
    services.extras.setdefault("secrets", secrets)
    library = services.library.library

    def base_url_override(provider_id: str) -> str | None:
        getter = getattr(library, "provider_setting", None)
        setting = getter(provider_id) if getter else None
        return (setting or {}).get("base_url") if isinstance(setting, dict) else getattr(setting, "base_url", None)

    poll = poll_interval_s
    if poll is None and os.environ.get("IMAGES_STUDIO_POLL_INTERVAL"):
        poll = float(os.environ["IMAGES_STUDIO_POLL_INTERVAL"])
    factory = ProviderFactory(services.catalogue, secrets, base_url_overrides=base_url_override, env=env,
                              poll_interval_s=poll, adapter_kwargs=adapter_kwargs)
    gen = GenerationService(services.library, JobJournal(services.db), services.catalogue, factory,
                            guard=guard or services.extras.get("guard"))
    services.extras["generation"] = gen
    return gen
