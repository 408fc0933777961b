"""Helpers for the generation UI tests: a MainWindow with the generation UI installed over real services,
loopback provider fakes, and small wait helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.fakes.servers.pollinations_fake import PollinationsFake
from tests.fakes.servers.replicate_fake import ReplicateFake

REPLICATE_KEY = "r8_fake_key"


async def no_wait(_seconds: float) -> None:
    """Injected into adapters: retries and the anonymous-tier gap cost nothing in tests."""
    await asyncio.sleep(0)


@pytest.fixture
def pollinations(monkeypatch) -> Iterator[PollinationsFake]:  # type: ignore[no-untyped-def]
    with PollinationsFake() as fake:
        monkeypatch.setenv("IMAGES_STUDIO_POLLINATIONS_BASE_URL", fake.url)
        yield fake


@pytest.fixture
def replicate(monkeypatch) -> Iterator[ReplicateFake]:  # type: ignore[no-untyped-def]
    with ReplicateFake(REPLICATE_KEY, polls_starting=2, polls_processing=3) as fake:
        monkeypatch.setenv("IMAGES_STUDIO_REPLICATE_BASE_URL", fake.base_url)
        monkeypatch.setenv("REPLICATE_API_TOKEN", REPLICATE_KEY)
        yield fake


@pytest.fixture
def gen_window(qtbot, qloop, services, closed):  # type: ignore[no-untyped-def]
    """The real window with the generation UI; providers resolve base URLs from the env set by the fakes."""
    from desktop.asyncqt import TaskRunner
    from desktop.services.wiring import attach_generation
    from desktop.ui.generate import install_generation_ui
    from desktop.ui.main_window import MainWindow

    attach_generation(services, poll_interval_s=0.01, adapter_kwargs={"sleep": no_wait})
    runner = TaskRunner()
    win = MainWindow(services, runner, lambda: closed.append(True))
    ui = install_generation_ui(win, services, runner, refresh=False)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    yield win, ui
    ui.vm.close()
    if win.isVisible():
        win.close()
    for job_id in list(services.extras["generation"].jobs.running):
        services.extras["generation"].jobs.cancel(job_id)
