"""Desktop test fixtures: offscreen Qt bound to PySide6, the qasync loop (architecture §13.3), real services
over a temporary library, and an in-memory keyring."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = os.environ.get("QT_QPA_PLATFORM", "offscreen")
os.environ["QT_API"] = "pyside6"

import asyncio  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture
def desktop_memory_keyring(memory_keyring):  # type: ignore[no-untyped-def]
    """The in-memory keychain every test already has (tests/conftest.py installs it for each test)."""
    return memory_keyring


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
