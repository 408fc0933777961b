"""GUI start-up on a qasync loop (architecture §4): the window shell first, async teardown before Qt quits."""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from collections.abc import Callable, Sequence

log = logging.getLogger("desktop.gui")


def _install_excepthook(show: Callable[[BaseException], None] | None = None) -> None:
    from providers.http import redact

    def hook(exc_type, exc, tb) -> None:  # type: ignore[no-untyped-def]
        text = redact("".join(traceback.format_exception(exc_type, exc, tb)))
        log.error("unhandled error:\n%s", text)
        if show is not None:
            try:
                show(RuntimeError(redact(f"{exc_type.__name__}: {exc}")))
            except Exception:
                pass

    sys.excepthook = hook


def install_feature_ui(window: object, services: object, runner: object) -> None:
    """Generation panel and queue, settings and usage: each feature adds itself to the window."""
    from desktop.ui.generate import install_generation_ui
    from desktop.ui.settings import install_money_ui

    install_generation_ui(window, services, runner)
    install_money_ui(window, services, runner)


async def _after_first_frame(services: object, generation: object) -> None:
    """Work that must not delay the first window: resuming journalled jobs (a restart after a crash continues
    polling instead of paying twice). Local backends are probed by the generation panel itself."""
    resumed = await generation.jobs.resume()  # type: ignore[attr-defined]
    if resumed:
        log.info("resumed %d unfinished job(s)", len(resumed))


def run_gui(data_dir: str | None, debug: bool, qt_args: Sequence[str], open_paths: Sequence[str] = ()) -> int:
    import PySide6  # noqa: F401  (bind qasync to PySide6 before importing it)
    from PySide6.QtWidgets import QApplication, QMessageBox

    import qasync

    from desktop.app import setup_logging
    from storage.paths import AppPaths, StorageError

    app = QApplication([sys.argv[0], *qt_args])
    from desktop.ui.qtfix import install_emit_refcount_fix
    from desktop.ui.theme import apply_app_style

    install_emit_refcount_fix()  # a no-op unless the PySide6 build has the emit refcount bug
    apply_app_style(app)
    app.setApplicationName("AI Images Studio")
    app.setOrganizationName("AI Images Studio")
    app.setDesktopFileName("ai-images-studio")
    from importlib import resources

    from PySide6.QtGui import QIcon

    icon_file = resources.files("resources").joinpath("icons/app/ai-images-studio.svg")
    if icon_file.is_file():
        app.setWindowIcon(QIcon(str(icon_file)))
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
        from desktop.services.wiring import attach_generation
        from desktop.ui.main_window import MainWindow

        runner = TaskRunner()
        generation = attach_generation(services)
        window = MainWindow(services, runner, on_close=closing.set)
        install_feature_ui(window, services, runner)
        _install_excepthook(getattr(window, "report_error", None))
        window.show()
        from desktop.ui.stall import StallDetector

        # Stalls of the GUI thread are logged with the stack that caused them (250 ms in normal runs,
        # 100 ms with --debug), so a freeze reported by a user can be traced from the log.
        stalls = StallDetector(window, threshold=0.1 if debug else 0.25)
        stalls.start()
        runner.spawn(_after_first_frame(services, generation))
        if open_paths:
            from pathlib import Path

            window.import_paths([Path(p) for p in open_paths])
        await closing.wait()
        stalls.stop()
        await runner.cancel_all()
        await services.aclose()
        return 0

    return int(qasync.run(run_app()) or 0)
