"""Stall detector (architecture §11): a GUI-thread heartbeat plus a watchdog thread that logs the GUI stack.

The heartbeat is a 10 ms QTimer; if the GUI thread is busy the timer cannot fire, so the time since the last
beat is exactly how long the GUI thread has been blocked. The watchdog runs outside Qt, so it can still look
while the GUI thread is stuck and log *what* it is doing (sys._current_frames), which a post-hoc gap cannot.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Qt, QTimer

log = logging.getLogger(__name__)


@dataclass
class StallStats:
    worst_gap: float = 0.0  # seconds between two heartbeats, the worst seen since start()/reset()
    beats: int = 0
    stalls: int = 0  # watchdog reports (one per stall, however long it lasts)
    gaps: list[float] = field(default_factory=list)  # every gap, for p95 in benchmarks (bounded)

    def percentile(self, p: float) -> float:
        if not self.gaps:
            return 0.0
        ordered = sorted(self.gaps)
        return ordered[min(len(ordered) - 1, int(p / 100.0 * len(ordered)))]


class StallDetector(QObject):
    """start()/stop(); `stats` holds the worst gap. `threshold` is when the watchdog logs a stack."""

    MAX_GAPS = 200_000

    def __init__(self, parent: QObject | None = None, *, interval_ms: int = 10,
                 threshold: float = 0.100, check_every: float = 0.020) -> None:
        super().__init__(parent)
        self.threshold = threshold
        self.check_every = check_every
        self.stats = StallStats()
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._beat)
        self._last = time.monotonic()
        self._reported_for = 0.0  # the beat time a stall was already reported for
        self._gui_ident = threading.get_ident()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._gui_ident = threading.get_ident()  # start() is called on the GUI thread
        self._last = time.monotonic()
        self._stop.clear()
        self._timer.start()
        self._thread = threading.Thread(target=self._watch, name="stall-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._timer.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None

    def reset(self) -> None:
        self.stats = StallStats()
        self._last = time.monotonic()

    def _beat(self) -> None:
        now = time.monotonic()
        gap = now - self._last
        self._last = now
        stats = self.stats
        stats.beats += 1
        if gap > stats.worst_gap:
            stats.worst_gap = gap
        if len(stats.gaps) < self.MAX_GAPS:
            stats.gaps.append(gap)
        if gap >= self.threshold:
            log.warning("GUI thread was blocked for %.0f ms", gap * 1000)

    def _watch(self) -> None:
        while not self._stop.wait(self.check_every):
            last = self._last
            age = time.monotonic() - last
            if age > self.threshold and self._reported_for != last:
                self._reported_for = last
                self.stats.stalls += 1
                frame = sys._current_frames().get(self._gui_ident)
                stack = "".join(traceback.format_stack(frame)) if frame is not None else "(no frame)"
                log.warning("GUI thread stalled for more than %.0f ms; it is in:\n%s", age * 1000, stack)
