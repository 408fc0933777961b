"""The only asyncio <-> Qt glue: awaitable dialogs and a task runner that keeps strong references."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtWidgets import QDialog

log = logging.getLogger(__name__)


async def run_dialog(dialog: QDialog) -> int:
    """Show a dialog without a nested event loop (exec() inside a coroutine breaks qasync)."""
    fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    dialog.finished.connect(lambda r: fut.done() or fut.set_result(int(r)))
    dialog.open()
    return await fut


class TaskRunner:
    """Owns every fire-and-forget task: strong references, one error reporter, cancel_all() at shutdown."""

    def __init__(self, on_error: Callable[[BaseException], None] | None = None) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_error = on_error

    def spawn(self, coro: Coroutine[Any, Any, Any], *,
              on_error: Callable[[BaseException], None] | None = None) -> asyncio.Task[Any]:
        task = asyncio.get_event_loop().create_task(coro)
        self._tasks.add(task)
        handler = on_error or self._on_error

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if t.cancelled():
                return
            exc = t.exception()
            if exc is not None:
                if handler is not None:
                    handler(exc)
                else:
                    log.error("background task failed", exc_info=exc)

        task.add_done_callback(done)
        return task

    @property
    def active(self) -> int:
        return len(self._tasks)

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
