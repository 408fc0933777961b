"""A scriptable in-process provider for service and GUI tests (the adapters have their own HTTP fakes)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from providers.base import (
    GeneratedImage,
    ImageRequest,
    ImageResult,
    ProviderError,
    TaskHandle,
    TaskState,
    TaskStatus,
)
from tests.fakes.servers.base import png_bytes


def colored_png(i: int, size: int = 16) -> bytes:
    """Distinct, valid PNGs (distinct bytes so content addressing keeps them apart)."""
    return png_bytes(size, size, ((37 * i) % 256, (91 * i + 40) % 256, (53 * i + 90) % 256))


@dataclass
class FakeConfig:
    poll_interval_s: float = 0.001


@dataclass
class FakeProvider:
    """submit() returns images (sync) or a task (async); errors can be queued per call."""

    id: str
    asynchronous: bool = False
    polls_before_done: int = 2
    supports_cancel: bool = True
    delay_s: float = 0.0
    errors: list[ProviderError] = field(default_factory=list)
    submitted: list[ImageRequest] = field(default_factory=list)
    polled: int = 0
    cancelled: list[str] = field(default_factory=list)
    counter: int = 0
    config: FakeConfig = field(default_factory=FakeConfig)
    gate: asyncio.Event | None = None  # when set, submit waits for it (to test queues and cancel)

    async def submit(self, request: ImageRequest) -> ImageResult | TaskHandle:
        self.submitted.append(request)
        if self.gate is not None:
            await self.gate.wait()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.errors:
            raise self.errors.pop(0)
        if self.asynchronous:
            self.counter += 1
            return TaskHandle(self.id, f"task-{self.counter}", request.model,
                              {"count": request.count, "polls": 0})
        return self._result(request.count, request.seed)

    def _result(self, count: int, seed: int | None) -> ImageResult:
        images = []
        for _ in range(count):
            self.counter += 1
            images.append(GeneratedImage(colored_png(self.counter + hash(self.id) % 97), "image/png",
                                         seed=(seed or 1000) + self.counter, width=16, height=16))
        return ImageResult(tuple(images), request_id=f"req-{self.counter}", cost_usd=None)

    async def poll(self, handle: TaskHandle) -> TaskStatus:
        self.polled += 1
        handle.state["polls"] = handle.state.get("polls", 0) + 1
        if handle.state["polls"] <= self.polls_before_done:
            return TaskStatus(TaskState.RUNNING, progress=handle.state["polls"] / (self.polls_before_done + 1))
        return TaskStatus(TaskState.SUCCEEDED, result=self._result(int(handle.state.get("count", 1)), None))

    async def cancel(self, handle: TaskHandle) -> bool:
        self.cancelled.append(handle.task_id)
        return True

    async def check_key(self) -> str:
        return "key works"

    async def aclose(self) -> None:
        pass


class FakeFactory:
    """Stands in for ProviderFactory.get in JobService tests."""

    def __init__(self, **providers: FakeProvider) -> None:
        self.providers = providers

    async def get(self, provider_id: str) -> Any:
        return self.providers[provider_id]

    async def aclose(self) -> None:
        pass

    async def forget(self, provider_id: str) -> None:
        pass
