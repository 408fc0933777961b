"""A tiny synchronous publish/subscribe used by services to tell view-models what changed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)
E = TypeVar("E")


class EventBus(Generic[E]):
    def __init__(self) -> None:
        self._subscribers: list[Callable[[E], None]] = []

    def subscribe(self, callback: Callable[[E], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def publish(self, event: E) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # one broken subscriber must not stop the others
                log.exception("event subscriber failed")


@dataclass(frozen=True)
class LibraryEvent:
    """kind: "added" | "changed" | "removed" | "collections" | "reset"."""

    kind: str
    image_ids: tuple[int, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
