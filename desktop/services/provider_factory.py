"""Builds provider adapters with their key and base URL, one instance per provider, closed at exit.

The key comes from the keychain (a blocking call, so it runs in a worker thread) or else the provider's
usual environment variable; it goes straight into the adapter's ProviderConfig and nowhere else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from providers.base import AuthError, Provider, ProviderConfig
from providers.catalogue import Catalogue
from providers.registry import create_provider, key_from_env, resolve_base_url


class KeySource(Protocol):
    def get(self, provider: str) -> str | None: ...


class ProviderFactory:
    def __init__(self, catalogue: Catalogue, keys: KeySource | None = None, *,
                 base_url_overrides: Callable[[str], str | None] | None = None,
                 env: Mapping[str, str] | None = None, poll_interval_s: float | None = None,
                 timeout_s: float | None = None, adapter_kwargs: Mapping[str, Any] | None = None) -> None:
        self.catalogue = catalogue
        self.keys = keys
        self._overrides = base_url_overrides or (lambda _p: None)
        self._env = env
        self._poll = poll_interval_s
        self._timeout = timeout_s
        self._adapter_kwargs = dict(adapter_kwargs or {})
        self._cache: dict[str, Provider] = {}
        self._retired: list[Provider] = []
        self._lock = asyncio.Lock()

    async def _key(self, provider_id: str) -> str | None:
        if self.keys is not None:
            key = await asyncio.to_thread(self.keys.get, provider_id)
            if key:
                return key
        return key_from_env(provider_id, self.catalogue, self._env)

    async def get(self, provider_id: str) -> Provider:
        async with self._lock:
            if provider_id in self._cache:
                return self._cache[provider_id]
            info = self.catalogue.get(provider_id)
            key = await self._key(provider_id)
            if info.needs_key and not key:
                raise AuthError(f"no API key for {info.name}: add one in Settings ▸ Providers"
                                + (f" or set {info.key_env}" if info.key_env else ""), provider=provider_id)
            kwargs: dict[str, Any] = {}
            if self._poll is not None:
                kwargs["poll_interval_s"] = self._poll
            if self._timeout is not None:
                kwargs["timeout_s"] = self._timeout
            config = ProviderConfig(provider=provider_id,
                                    base_url=resolve_base_url(provider_id, self.catalogue,
                                                              self._overrides(provider_id), self._env),
                                    api_key=key, **kwargs)
            provider = create_provider(config, self.catalogue, **self._adapter_kwargs)
            self._cache[provider_id] = provider
            return provider

    async def forget(self, provider_id: str) -> None:
        """Drop a cached adapter (its key or base URL changed). New jobs get a fresh one; the old one is
        closed only at exit, because a request it is serving may already be paid for."""
        async with self._lock:
            provider = self._cache.pop(provider_id, None)
        if provider is not None:
            self._retired.append(provider)

    async def aclose(self) -> None:
        providers = list(self._cache.values()) + self._retired
        self._cache.clear()
        self._retired.clear()
        await asyncio.gather(*(p.aclose() for p in providers), return_exceptions=True)


ProviderGetter = Callable[[str], Awaitable[Provider]]
