"""API keys: OS keychain through `keyring`, else session memory, else the provider's environment variable.

Architecture 9.7. Every method may block (a D-Bus round trip, or an unlock prompt): call them from a worker
thread. Keys never reach logs, exceptions, repr(), the database or a config file.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

import keyring
from keyring.errors import KeyringError, PasswordDeleteError

log = logging.getLogger(__name__)

SERVICE = "ai-images-studio"
NO_KEYRING_REASON = "No system keyring found; key kept for this session only"
KEYRING_ERROR_REASON = "The system keyring refused the key ({error}); key kept for this session only"


def _backend_name(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _unusable(backend: Any) -> bool:
    """fail/null backends store nothing; keyrings.alt stores keys in a plaintext file, which we refuse."""
    from keyring.backends import fail, null

    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return True
    return type(backend).__module__.startswith("keyrings.alt")


class SecretStore:
    """One interface over three sources; `source()` tells the settings dialog where a key comes from."""

    def __init__(self, service: str = SERVICE, env: Mapping[str, str] | None = None) -> None:
        self._service = service
        self._env = env  # None = os.environ, read at call time
        self._lock = threading.RLock()
        self._backend: Any = None
        self._available: bool | None = None  # resolved lazily: importing keyring backends can be slow
        self._session: dict[str, str] = {}
        self._reason = ""

    def __repr__(self) -> str:
        stored = ", ".join(sorted(self._session))
        return f"SecretStore(service={self._service!r}, available={self._available}, session=[{stored}])"

    # -- backend -----------------------------------------------------------------------------------------

    def _resolve(self) -> bool:
        with self._lock:
            if self._available is None:
                try:
                    self._backend = keyring.get_keyring()
                    self._available = not _unusable(self._backend)
                except (KeyringError, RuntimeError, ImportError) as exc:
                    log.warning("keyring backend could not be loaded: %s", type(exc).__name__)
                    self._available = False
                name = _backend_name(self._backend) if self._backend is not None else "none"
                log.info("keyring backend: %s (%s)", name, "usable" if self._available else "not usable")
                if not self._available:
                    self._reason = NO_KEYRING_REASON
            return self._available

    def _backend_failed(self, action: str, exc: Exception) -> None:
        """A usable-looking backend that fails (locked, prompt dismissed): stop using it for this session."""
        log.warning("keyring %s failed with %s; using session memory", action, type(exc).__name__)
        with self._lock:
            self._available = False
            self._reason = KEYRING_ERROR_REASON.format(error=type(exc).__name__)

    def available(self) -> bool:
        """True when keys can be kept in the OS keychain."""
        return self._resolve()

    @property
    def backend_name(self) -> str:
        self._resolve()
        return _backend_name(self._backend) if self._backend is not None else "none"

    @property
    def session_only(self) -> bool:
        """True when set() keeps keys in memory only (the user must enter them again next run)."""
        return not self._resolve()

    @property
    def reason(self) -> str:
        """Why keys are session-only, for the settings dialog; "" while the keychain works."""
        self._resolve()
        return self._reason

    # -- keys ---------------------------------------------------------------------------------------------

    def _env_value(self, env_name: str) -> str | None:
        if not env_name:
            return None
        value = (os.environ if self._env is None else self._env).get(env_name, "").strip()
        return value or None

    def _keychain_get(self, provider: str) -> str | None:
        if not self._resolve():
            return None
        try:
            return self._backend.get_password(self._service, provider) or None
        except KeyringError as exc:
            self._backend_failed("read", exc)
            return None

    def get(self, provider: str, env_name: str = "") -> str | None:
        """The key for `provider`: keychain, then session memory, then `env_name` from the environment."""
        return self._keychain_get(provider) or self._session.get(provider) or self._env_value(env_name)

    def source(self, provider: str, env_name: str = "") -> str:
        """"keychain" | "session" | "environment" | "none": where get() would find the key."""
        if self._keychain_get(provider):
            return "keychain"
        if provider in self._session:
            return "session"
        if self._env_value(env_name):
            return "environment"
        return "none"

    def set(self, provider: str, key: str) -> None:
        """Keep `key` in the keychain, or in session memory when there is none (see session_only/reason)."""
        key = key.strip()
        if not key:
            raise ValueError("the API key is empty")
        if self._resolve():
            try:
                self._backend.set_password(self._service, provider, key)
            except KeyringError as exc:
                self._backend_failed("write", exc)
            else:
                with self._lock:
                    self._session.pop(provider, None)
                log.info("API key for %s saved in %s", provider, self.backend_name)
                return
        with self._lock:
            self._session[provider] = key
        log.info("API key for %s kept in session memory only", provider)

    def delete(self, provider: str) -> None:
        """Forget the key everywhere we can write (the environment is read-only)."""
        with self._lock:
            self._session.pop(provider, None)
        if not self._resolve():
            return
        try:
            self._backend.delete_password(self._service, provider)
        except PasswordDeleteError:
            pass  # nothing stored: deleting is idempotent
        except KeyringError as exc:
            self._backend_failed("delete", exc)
        log.info("API key for %s deleted", provider)
