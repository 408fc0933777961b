"""GUI start-up on a qasync loop (architecture §4): the window shell first, async teardown before Qt quits."""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from collections.abc import Sequence

log = logging.getLogger("desktop.gui")


def _install_excepthook(show: "callable | None" = None) -> None:
    from providers.http import redact

    def hook(exc_type, exc, tb) -> None:  # type: ignore[no-untyped-def]
        text = redact("".join(traceback.format_exception(exc_type, exc, tb)))
        log.error("unhandled error:\n%s", text)
        if show is not None:
            try:
                show(redact(f"{exc_type.__name__}: {exc}"))
            except Exception:
                pass

    sys.excepthook = hook


def run_gui(data_dir: str | None, debug: bool, qt_args: Sequence[str]) -> int:
    import PySide6  # noqa: F401  (bind qasync to PySide6 before importing it)
    from PySide6.QtWidgets import QApplication, QMessageBox

    import qasync

    from desktop.app import setup_logging
    from storage.paths import AppPaths, StorageError

    app = QApplication([sys.argv[0], *qt_args])
    app.setApplicationName("AI Images Studio")
    app.setOrganizationName("AI Images Studio")
    app.setDesktopFileName("ai-images-studio")
    paths = AppPaths.resolve(data_dir)
    try:
        paths.ensure()
    except StorageError as exc:
        QMessageBox.critical(None, "AI Images Studio", f"The library cannot be opened:\n{exc}")
        return 3
    setup_logging(paths.logs, debug)
    log.info("starting; data folder %s", paths.data)

    async def run_app() -> int:
        from desktop.asyncqt import TaskRunner
        from desktop.services.container import build_services

        app.setQuitOnLastWindowClosed(False)
        closing = asyncio.Event()
        try:
            services = build_services(paths)
        except StorageError as exc:
            from desktop.asyncqt import run_dialog

            box = QMessageBox(QMessageBox.Icon.Critical, "AI Images Studio",
                              f"The library cannot be opened:\n{exc}")
            await run_dialog(box)  # never exec() inside a coroutine
            return 3
        from desktop.ui.main_window import MainWindow

        runner = TaskRunner()
        window = MainWindow(services, runner, on_close=closing.set)
        _install_excepthook(getattr(window, "show_error", None))
        window.show()
        starter = getattr(window, "after_show", None)
        if starter is not None:
            starter()
        await closing.wait()
        await runner.cancel_all()
        await services.aclose()
        return 0

    return int(qasync.run(run_app()) or 0)
