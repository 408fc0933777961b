"""Composition root: `images-studio` with no arguments opens the window; with a subcommand it is the CLI.

GUI start-up order (architecture §4): QApplication, paths, logging + excepthook, Pillow limits, database,
services, window; all on a qasync loop. Async teardown happens before Qt quits.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys
from collections.abc import Sequence

log = logging.getLogger("desktop")


class RedactingFilter(logging.Filter):
    """Scrub anything key-shaped from every log record, whatever module wrote it."""

    def filter(self, record: logging.LogRecord) -> bool:
        from providers.http import redact

        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def setup_logging(log_dir: os.PathLike[str] | str, debug: bool = False) -> None:
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    handler = logging.handlers.RotatingFileHandler(os.path.join(log_dir, "studio.log"), maxBytes=2_000_000,
                                                   backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    # httpx logs request lines at INFO; headers are never logged, but keep it quiet anyway.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def cli_commands() -> list:
    """Subcommand registrars from the feature modules (generation, keys, quotas, usage)."""
    registrars = []
    for module_name in ("desktop.cli_generate", "desktop.cli_money"):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        registrars.append(module.register)
    return registrars


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from desktop import cli

    parser = cli.build_parser(cli_commands())
    if _subcommand(argv, parser) or any(a in ("-h", "--help") for a in argv):
        return cli.run(argv, parser)
    gui_parser = argparse.ArgumentParser(prog="images-studio")
    gui_parser.add_argument("--data-dir")
    gui_parser.add_argument("--debug", action="store_true")
    gui_args, rest = gui_parser.parse_known_args(argv)
    # Files handed over by the desktop ("Open with", Exec=images-studio %F) are imported into the library;
    # anything else is left for Qt (e.g. -platform xcb).
    files = [os.path.abspath(a) for a in rest if not a.startswith("-") and os.path.exists(a)]
    qt_args = [a for a in rest if os.path.abspath(a) not in files]
    unknown = [a for a in qt_args if not a.startswith("-")]
    if unknown:
        return cli.run(argv, parser)  # a mistyped subcommand: argparse says what is valid, exit 2
    from desktop.gui import run_gui

    return run_gui(gui_args.data_dir, gui_args.debug, qt_args, open_paths=files)


def _subcommand(argv: Sequence[str], parser: argparse.ArgumentParser) -> str | None:
    """The first word that names a subcommand, skipping global options and their values."""
    commands: set[str] = set()
    for action in parser._actions:  # argparse keeps subparsers here; there is no public accessor
        if isinstance(action, argparse._SubParsersAction):
            commands.update(action.choices)
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--data-dir":
            skip = True
            continue
        if arg.startswith("-"):
            continue
        return arg if arg in commands else None
    return None


if __name__ == "__main__":
    sys.exit(main())
