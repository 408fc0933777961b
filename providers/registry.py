"""Which adapter serves which provider id, and where its base URL and key come from.

Base URL: `IMAGES_STUDIO_<PROVIDER>_BASE_URL` (and `OPENAI_BASE_URL` for OpenAI) when set, else the
settings override, else the catalogue default (the environment wins so a script or test can always redirect). Key: passed in by the caller (from the keychain), else the provider's usual
environment variable. The key never leaves the ProviderConfig it is put in.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping

from providers.base import Provider, ProviderConfig
from providers.catalogue import Catalogue

# provider id -> (module, class); imported lazily so start-up only pays for what is used.
ADAPTERS: dict[str, tuple[str, str]] = {
    "openai": ("providers.openai", "OpenAIProvider"),
    "stability": ("providers.stability", "StabilityProvider"),
    "replicate": ("providers.replicate", "ReplicateProvider"),
    "kie": ("providers.kie", "KieProvider"),
    "pollinations": ("providers.pollinations", "PollinationsProvider"),
    "a1111": ("providers.a1111", "A1111Provider"),
    "comfyui": ("providers.comfyui", "ComfyUIProvider"),
}

ENV_PREFIX = "IMAGES_STUDIO_"


def base_url_env_names(provider_id: str) -> list[str]:
    names = [f"{ENV_PREFIX}{provider_id.upper()}_BASE_URL"]
    if provider_id == "openai":
        names.append("OPENAI_BASE_URL")
    return names


def resolve_base_url(provider_id: str, catalogue: Catalogue, override: str | None = None,
                     env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    for name in base_url_env_names(provider_id):
        if env.get(name):
            return env[name].rstrip("/")
    if override:
        return override.rstrip("/")
    return catalogue.get(provider_id).base_url.rstrip("/")


def key_from_env(provider_id: str, catalogue: Catalogue, env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    name = catalogue.get(provider_id).key_env
    value = env.get(name) if name else None
    return value.strip() if value and value.strip() else None


def create_provider(config: ProviderConfig, catalogue: Catalogue, **kwargs: object) -> Provider:
    """Build the adapter for `config.provider`. Extra keyword arguments go to the adapter (e.g. `sleep`)."""
    try:
        module_name, class_name = ADAPTERS[config.provider]
    except KeyError:
        raise KeyError(f"unknown provider {config.provider!r}; known: {', '.join(ADAPTERS)}") from None
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(config, catalogue.get(config.provider), **kwargs)
