"""Desktop test fixtures: offscreen Qt bound to PySide6, the qasync loop (architecture §13.3), real services
over a temporary library, and an in-memory keyring."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = os.environ.get("QT_QPA_PLATFORM", "offscreen")
os.environ["QT_API"] = "pyside6"

import asyncio  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

import keyring  # noqa: E402
import keyring.backend  # noqa: E402
import pytest  # noqa: E402


class _DictKeyring(keyring.backend.KeyringBackend):
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
def desktop_memory_keyring() -> Iterator[keyring.backend.KeyringBackend]:
    previous = keyring.get_keyring()
    backend = _DictKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def _emit_refcount_fix(qapp):  # type: ignore[no-untyped-def]
    """PySide6 6.12 + Python 3.11 leak a reference to True per emit (desktop/ui/qtfix.py)."""
    from desktop.ui.qtfix import install_emit_refcount_fix

    install_emit_refcount_fix()


@pytest.fixture
def qloop(qapp):  # type: ignore[no-untyped-def]
    """qasync loop marked running, so asyncSlot/create_task work while qtbot pumps Qt events."""
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=True)
    executor = ThreadPoolExecutor(max_workers=4)  # owned, so it can be shut down (exit-134 pitfall)
    loop.set_default_executor(executor)
    asyncio.set_event_loop(loop)
    yield loop
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    for _ in range(50):  # let cancellations run
        if all(t.done() for t in pending):
            break
        qapp.processEvents()
    asyncio.events._set_running_loop(None)  # undo already_running (test-only private call)
    asyncio.set_event_loop(None)
    executor.shutdown(wait=True)


@pytest.fixture
def services(tmp_path):  # type: ignore[no-untyped-def]
    from desktop.services.container import build_services
    from storage.paths import AppPaths

    built = build_services(AppPaths.resolve(tmp_path / "data"))
    yield built
    built.close()
