"""Test-wide isolation: headless Qt, a temporary data folder, an in-memory keyring, no real network."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import keyring  # noqa: E402
import keyring.backend  # noqa: E402
import pytest  # noqa: E402

# Provider keys and base URLs from the developer's shell must never leak into tests.
_PROVIDER_ENV = [
    "OPENAI_API_KEY", "STABILITY_API_KEY", "REPLICATE_API_TOKEN", "KIE_API_KEY", "POLLINATIONS_API_KEY",
    "OPENAI_BASE_URL",
] + [f"IMAGES_STUDIO_{p}_BASE_URL" for p in
     ("OPENAI", "STABILITY", "REPLICATE", "KIE", "POLLINATIONS", "A1111", "COMFYUI")]


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture(autouse=True)
def _isolate(tmp_path, monkeypatch):
    for name in _PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "studio-home"
    monkeypatch.setenv("IMAGES_STUDIO_HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    previous = keyring.get_keyring()
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    backend = keyring.get_keyring()
    assert isinstance(backend, MemoryKeyring)
    return backend


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
