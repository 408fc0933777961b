"""Work around a reference-count bug in PySide6's SignalInstance.emit (seen with PySide6 6.12.0, Python 3.11).

`emit()` returns `True` without taking a new reference. Before Python 3.12 `True` is an ordinary refcounted
object, so every emit from Python code loses one reference; after a few thousand emits (thumbnails arriving,
rows loading) the interpreter aborts with "Fatal Python error: bool_dealloc". We detect the bug with a probe
and, only if it is present, wrap emit() to give the missing reference back. Idempotent; call it once after
QCoreApplication exists (the composition root, the preview script, tests).
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

_MARK = "_studio_refcount_fix"


class _Probe(QObject):
    fired = Signal()


def emit_leaks_true() -> bool:
    if sys.version_info >= (3, 12):
        return False  # bools are immortal there; nothing to leak
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.fired.emit()
    return sys.getrefcount(True) < before


def install_emit_refcount_fix() -> bool:
    """Returns True when the wrapper is (now or already) installed."""
    if getattr(SignalInstance.emit, _MARK, False):
        return True
    if not emit_leaks_true():
        return False
    original = SignalInstance.emit
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]
    incref.restype = None

    def emit(self: SignalInstance, *args: Any) -> Any:
        result = original(self, *args)
        if result is True:
            incref(result)  # the reference PySide forgot to take
        return result

    setattr(emit, _MARK, True)
    SignalInstance.emit = emit  # type: ignore[method-assign]
    return True
