"""SecretStore: keychain, session memory, environment (architecture 9.7)."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Iterator

import keyring
import keyring.backend
import pytest
from keyring.backends import fail, null
from keyring.errors import KeyringLocked, PasswordDeleteError

from storage.secrets import NO_KEYRING_REASON, SERVICE, SecretStore

KEY = "sk-test-0123456789abcdefSECRET"
Install = Callable[[keyring.backend.KeyringBackend], keyring.backend.KeyringBackend]


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.items.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")


class LockedKeyring(MemoryKeyring):
    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked(f"cannot store {password}")  # a careless backend echoing the secret


@pytest.fixture
def use_backend() -> Iterator[Install]:
    previous = keyring.get_keyring()

    def install(backend: keyring.backend.KeyringBackend) -> keyring.backend.KeyringBackend:
        keyring.set_keyring(backend)
        return backend

    yield install
    keyring.set_keyring(previous)


def test_keychain_set_get_delete(use_backend: Install) -> None:
    backend = use_backend(MemoryKeyring())
    store = SecretStore(env={})
    assert store.available() and not store.session_only and store.reason == ""
    store.set("openai", f"  {KEY}\n")
    assert backend.items == {(SERVICE, "openai"): KEY}
    assert store.get("openai") == KEY
    assert store.source("openai", "OPENAI_API_KEY") == "keychain"
    store.delete("openai")
    store.delete("openai")  # idempotent
    assert store.get("openai") is None
    assert store.source("openai", "OPENAI_API_KEY") == "none"


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()], ids=["fail", "null"])
def test_no_keychain_keeps_key_for_the_session(use_backend: Install,
                                                backend: keyring.backend.KeyringBackend) -> None:
    use_backend(backend)
    store = SecretStore(env={})
    assert not store.available()
    assert store.session_only
    assert store.reason == NO_KEYRING_REASON == "No system keyring found; key kept for this session only"
    store.set("kie", KEY)
    assert store.get("kie") == KEY
    assert store.source("kie") == "session"
    assert SecretStore(env={}).get("kie") is None  # a new run starts empty
    store.delete("kie")
    assert store.source("kie") == "none"


def test_environment_is_the_last_source(use_backend: Install) -> None:
    use_backend(MemoryKeyring())
    store = SecretStore(env={"BFL_API_KEY": "env-key"})
    assert store.get("bfl", "BFL_API_KEY") == "env-key"
    assert store.source("bfl", "BFL_API_KEY") == "environment"
    assert store.get("bfl") is None  # without the variable name the environment is not consulted
    store.set("bfl", KEY)
    assert store.get("bfl", "BFL_API_KEY") == KEY
    assert store.source("bfl", "BFL_API_KEY") == "keychain"


def test_session_beats_environment(use_backend: Install) -> None:
    use_backend(fail.Keyring())
    store = SecretStore(env={"FAL_KEY": "env-key"})
    store.set("fal", KEY)
    assert store.get("fal", "FAL_KEY") == KEY
    assert store.source("fal", "FAL_KEY") == "session"


def test_os_environ_is_read_at_call_time(use_backend: Install, monkeypatch: pytest.MonkeyPatch) -> None:
    use_backend(MemoryKeyring())
    store = SecretStore()
    monkeypatch.setenv("KIE_API_KEY", "later")
    assert store.source("kie", "KIE_API_KEY") == "environment"


def test_failing_backend_falls_back_without_leaking(use_backend: Install,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    use_backend(LockedKeyring())
    caplog.set_level(logging.DEBUG)
    store = SecretStore(env={})
    assert store.available()
    store.set("openai", KEY)
    assert store.get("openai") == KEY
    assert store.source("openai") == "session"
    assert store.session_only
    assert "session only" in store.reason and "KeyringLocked" in store.reason
    assert KEY not in caplog.text
    assert KEY not in repr(store) and KEY not in store.reason


def test_key_never_logged_or_in_repr(use_backend: Install, caplog: pytest.LogCaptureFixture) -> None:
    use_backend(MemoryKeyring())
    caplog.set_level(logging.DEBUG)
    store = SecretStore(env={"X_KEY": KEY})
    store.set("openai", KEY)
    store.get("openai")
    store.source("x", "X_KEY")
    store.delete("openai")
    assert "MemoryKeyring" in caplog.text  # the backend name is logged
    assert KEY not in caplog.text
    assert KEY not in repr(store)


def test_backend_is_resolved_lazily(use_backend: Install, monkeypatch: pytest.MonkeyPatch) -> None:
    use_backend(MemoryKeyring())
    calls = []
    real = keyring.get_keyring
    monkeypatch.setattr(keyring, "get_keyring", lambda: calls.append(1) or real())
    store = SecretStore(env={})
    assert calls == []
    store.get("openai")
    store.get("openai")
    assert calls == [1]


def test_plaintext_keyrings_alt_backend_is_refused(use_backend: Install) -> None:
    plaintext = type("PlaintextKeyring", (MemoryKeyring,), {"__module__": "keyrings.alt.file"})
    use_backend(plaintext())
    store = SecretStore(env={})
    assert not store.available()
    store.set("openai", KEY)
    assert store.source("openai") == "session"


def test_empty_key_is_refused(use_backend: Install) -> None:
    use_backend(MemoryKeyring())
    with pytest.raises(ValueError):
        SecretStore(env={}).set("openai", "   ")


def test_keyrings_alt_is_not_installed_nor_a_backend() -> None:
    try:
        spec = importlib.util.find_spec("keyrings.alt")
    except ModuleNotFoundError:
        spec = None
    assert spec is None
    modules = [type(b).__module__ for b in keyring.backend.get_all_keyring()]
    assert not any(m.startswith("keyrings.alt") for m in modules)
    assert not type(keyring.get_keyring()).__module__.startswith("keyrings.alt")
