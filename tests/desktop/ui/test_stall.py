"""The stall detector sees a blocked GUI thread and logs where it was."""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QTimer

from desktop.ui.stall import StallDetector


def _block_gui_thread_for_a_while() -> None:
    time.sleep(0.18)


def test_detects_and_reports_a_blocking_slot(qtbot, caplog) -> None:
    detector = StallDetector(threshold=0.1)
    caplog.set_level(logging.WARNING, logger="desktop.ui.stall")
    detector.start()
    try:
        qtbot.wait(60)
        QTimer.singleShot(0, _block_gui_thread_for_a_while)
        qtbot.waitUntil(lambda: detector.stats.worst_gap >= 0.17, timeout=2000)
        qtbot.wait(30)
    finally:
        detector.stop()
    assert detector.stats.stalls == 1
    assert any("_block_gui_thread_for_a_while" in r.getMessage() for r in caplog.records)
    assert detector.stats.beats > 3 and detector.stats.percentile(50) < 0.1
    assert not detector.running


def test_quiet_gui_thread_reports_nothing(qtbot) -> None:
    detector = StallDetector(threshold=0.1)
    detector.start()
    qtbot.wait(100)
    detector.stop()
    assert detector.stats.stalls == 0 and detector.stats.worst_gap < 0.1


def test_emit_refcount_fix_keeps_true_alive(qapp) -> None:
    import sys

    from PySide6.QtCore import QObject, Signal

    from desktop.ui.qtfix import emit_leaks_true, install_emit_refcount_fix

    install_emit_refcount_fix()
    assert not emit_leaks_true()

    class Emitter(QObject):
        fired = Signal(int)

    emitter = Emitter()
    emitter.fired.connect(lambda _n: None)
    before = sys.getrefcount(True)
    for _ in range(500):
        emitter.fired.emit(1)
    assert sys.getrefcount(True) >= before
