"""API-key use cases over storage.secrets.SecretStore: save, remove, where a key comes from, test it.

Every keyring call blocks (a D-Bus round trip, maybe an unlock prompt), so it runs in a worker thread.
A key is only ever handed to SecretStore and to a provider adapter's config; verdicts and errors are
redacted with the key itself before they reach the UI or a log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from desktop.services.provider_factory import ProviderFactory
from providers.base import ProviderError
from providers.catalogue import Catalogue
from providers.http import redact

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyStatus:
    """Where a provider's key comes from. Never the key itself."""

    provider: str
    name: str
    source: str  # "keychain" | "session" | "environment" | "none"
    env_var: str | None
    needs_key: bool
    keychain: bool  # the OS keychain works (False: keys are kept for this session only)
    reason: str = ""  # why there is no keychain, for the warning banner

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def described(self) -> str:
        return {"keychain": "saved in the system keychain", "session": "kept for this session only",
                "environment": f"from environment ({self.env_var})",
                "none": "no key" if self.needs_key else "no key needed"}[self.source]


@dataclass(frozen=True)
class KeyTest:
    ok: bool
    verdict: str
    balance: float | None = None


class _OneKey:
    """A KeySource holding one candidate key, so a test builds the adapter exactly like a generation would."""

    def __init__(self, provider: str, key: str) -> None:
        self._provider, self._key = provider, key

    def get(self, provider: str) -> str | None:
        return self._key if provider == self._provider else None

    def __repr__(self) -> str:
        return f"_OneKey({self._provider!r}, ***)"


class KeyService:
    def __init__(self, secrets: Any, catalogue: Catalogue, factory: ProviderFactory | None = None, *,
                 make_factory: Callable[[Any], ProviderFactory] | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        """`factory`: the app's provider factory (its cached adapter is dropped after a key change).
        `make_factory(key_source)`: builds a throw-away factory configured like the app's (base URL
        overrides, timeouts) for `test_key`."""
        self.secrets = secrets
        self.catalogue = catalogue
        self.factory = factory
        self._env = env
        self._make_factory = make_factory or (lambda keys: ProviderFactory(catalogue, keys, env=env,
                                                                           timeout_s=30.0))

    def _env_name(self, provider: str) -> str:
        return self.catalogue.get(provider).key_env or ""

    # -- status ---------------------------------------------------------------------------------------
    def status_sync(self, provider: str) -> KeyStatus:
        """Blocking (keyring): for the CLI, or from a worker thread."""
        info = self.catalogue.get(provider)
        source = self.secrets.source(provider, self._env_name(provider))
        keychain = self.secrets.available()
        return KeyStatus(provider, info.name, source, info.key_env, info.needs_key, keychain,
                         "" if keychain else self.secrets.reason)

    async def status(self, provider: str) -> KeyStatus:
        return await asyncio.to_thread(self.status_sync, provider)

    async def statuses(self) -> list[KeyStatus]:
        return await asyncio.to_thread(lambda: [self.status_sync(p) for p in self.catalogue.ids()])

    async def keychain_available(self) -> bool:
        return await asyncio.to_thread(self.secrets.available)

    # -- change ---------------------------------------------------------------------------------------
    async def set(self, provider: str, key: str) -> KeyStatus:
        """Save in the keychain (or session memory when there is none: see KeyStatus.keychain/reason)."""
        self.catalogue.get(provider)  # KeyError for an unknown provider, before the key goes anywhere
        key = (key or "").strip()
        if not key:
            raise ValueError("the API key is empty")
        await asyncio.to_thread(self.secrets.set, provider, key)
        await self._forget(provider)
        return await self.status(provider)

    async def delete(self, provider: str) -> KeyStatus:
        self.catalogue.get(provider)
        await asyncio.to_thread(self.secrets.delete, provider)
        await self._forget(provider)
        return await self.status(provider)

    async def _forget(self, provider: str) -> None:
        if self.factory is not None:
            await self.factory.forget(provider)  # the cached adapter still holds the old key

    # -- test -----------------------------------------------------------------------------------------
    async def test_key(self, provider: str, key: str | None = None) -> KeyTest:
        """A cheap authenticated call with `key` (or the stored/environment key when None).

        Returns a verdict for the user; never raises for a refused key or an unreachable service.
        """
        info = self.catalogue.get(provider)
        candidate = (key or "").strip()
        source: Any = _OneKey(provider, candidate) if candidate else self.secrets
        factory = self._make_factory(source)
        secrets: tuple[str | None, ...] = (candidate,) if candidate else ()
        try:
            adapter = await factory.get(provider)
            secrets = (candidate or getattr(getattr(adapter, "config", None), "api_key", None),)
            verdict = await adapter.check_key()
            balance = None
            if hasattr(adapter, "balance"):
                try:
                    balance = await adapter.balance()
                except ProviderError as exc:
                    log.info("%s balance unavailable: %s", provider, exc.kind)
            return KeyTest(True, redact(verdict, secrets), balance)
        except ProviderError as exc:
            return KeyTest(False, _verdict(info.name, exc, secrets))
        except Exception as exc:  # anything unexpected still gets a verdict, never a key
            log.warning("testing the %s key failed: %s", provider, type(exc).__name__)
            return KeyTest(False, f"{info.name}: could not test the key ({type(exc).__name__})")
        finally:
            await factory.aclose()


def _verdict(name: str, exc: ProviderError, secrets: tuple[str | None, ...]) -> str:
    message = redact(exc.message, secrets)
    if exc.kind == "auth":
        return f"{name} refused the key: {message}"
    if exc.kind in ("provider_down", "timeout"):
        return f"{name} could not be reached: {message}"
    if exc.kind == "insufficient_credits":
        return f"the key works but the account has no credit: {message}"
    return f"{name}: {message}"
