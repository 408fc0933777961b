"""Attach the generation stack (keys, provider factory, job service, quota guard) to a built AppServices."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from desktop.services.container import AppServices
from desktop.services.generation import GenerationService
from desktop.services.keys import KeyService
from desktop.services.money import MoneyService, QuotaGuard
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

    def make_factory(keys: Any, timeout_s: float | None = None) -> ProviderFactory:
        return ProviderFactory(services.catalogue, keys, base_url_overrides=base_url_override, env=env,
                               poll_interval_s=poll, timeout_s=timeout_s, adapter_kwargs=adapter_kwargs)

    factory = make_factory(secrets)
    # Quotas and the ledger are on by default: every request is reserved before it leaves.
    guard = guard or services.extras.get("guard") or QuotaGuard(
        services.db, names={info.id: info.name for info in services.catalogue.all()})
    services.extras.setdefault("guard", guard)
    gen = GenerationService(services.library, JobJournal(services.db), services.catalogue, factory, guard=guard)
    if isinstance(guard, QuotaGuard):
        guard.running = lambda: gen.jobs.running
        gen.jobs.events.subscribe(guard.on_job_event)
    services.extras["generation"] = gen
    # Key tests build a throw-away adapter exactly like a generation would (same base URL, same env).
    services.extras.setdefault("keys", KeyService(secrets, services.catalogue, factory, env=env,
                                                  make_factory=lambda keys: make_factory(keys, 30.0)))
    return gen


@dataclass
class MoneyServices:
    keys: KeyService
    money: MoneyService
    guard: Any
    generation: GenerationService


def attach_money(services: AppServices, **kwargs: Any) -> MoneyServices:
    """Keys, quotas, usage and money settings (builds the generation stack if it is not there yet)."""
    gen = attach_generation(services, **kwargs)
    if "keys" not in services.extras:  # the generation stack was attached by other means
        services.extras["keys"] = KeyService(services.extras.get("secrets") or SecretStore(), services.catalogue,
                                             gen.factory)
    money = services.extras.get("money")
    if money is None:
        money = services.extras["money"] = MoneyService(services.db, services.catalogue, services.library.library)
    return MoneyServices(services.extras["keys"], money, services.extras.get("guard"), gen)
