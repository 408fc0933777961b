"""`images-studio SUBCOMMAND`: scripting access to the library and the providers, without Qt.

Outputs are a public contract: JSON field names are only ever added, never renamed or dropped.
Errors: a non-zero exit and one clear line on stderr, never a traceback and never a key.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from storage.paths import AppPaths, StorageError

log = logging.getLogger(__name__)


class CliError(Exception):
    """One clear line for stderr; `code` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _services(args: argparse.Namespace) -> Any:
    from desktop.app import setup_logging
    from desktop.services.container import build_services

    services = build_services(AppPaths.resolve(args.data_dir))
    # CLI runs leave the same trail as the window (keys redacted), so a failed script can be diagnosed.
    if not any(getattr(h, "baseFilename", "").startswith(str(services.paths.logs))
               for h in logging.getLogger().handlers):
        setup_logging(services.paths.logs, getattr(args, "debug", False))
    return services


# ------------------------------------------------------------------------------------------- commands


def cmd_import(args: argparse.Namespace) -> int:
    services = _services(args)
    try:
        sources = [Path(p) for p in args.paths]
        missing = [str(p) for p in sources if not p.exists()]
        if missing and len(missing) == len(sources):
            raise CliError(f"no such file or folder: {', '.join(missing)}")

        def progress(done: int, total: int, name: str) -> None:
            if not args.json:
                sys.stderr.write(f"\r[{done}/{total}] {name[:60]:<60}")
                sys.stderr.flush()

        report = asyncio.run(services.library.import_paths(sources, collection=args.collection,
                                                           on_progress=progress))
        if not args.json and report.imported + report.duplicates + report.skipped:
            sys.stderr.write("\n")
        for path in missing:
            report.skipped.append((path, "no such file or folder"))
        for path, reason in report.skipped:
            sys.stderr.write(f"skipped {path}: {reason}\n")
        if args.json:
            rows = services.library.rows([image_id for image_id, _status, _src in report.entries])
            for image_id, status, source in report.entries:  # one line per file, in import order
                obj = rows[image_id].to_json()
                obj["status"] = status
                obj["source_file"] = source
                _print_json(obj)
        else:
            print(report.summary())
        # Some files skipped is still a successful import of the rest; nothing importable at all is not.
        if report.skipped and not (report.imported or report.duplicates):
            return 2
        return 0
    finally:
        services.close()


def cmd_list(args: argparse.Namespace) -> int:
    from storage.records import ImageQuery

    services = _services(args)
    try:
        if args.collection and services.library.library.collection_by_name(args.collection) is None:
            raise CliError(f"no collection named {args.collection!r}")
        query = ImageQuery(search=args.search or "", favorites=args.favorites,
                           collection=args.collection or "", sort=args.sort)
        ids = services.library.ids(query)
        if args.limit:
            ids = ids[: args.limit]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = services.library.rows(chunk)
            for image_id in chunk:
                row = rows.get(image_id)
                if row is None:
                    continue
                if args.json:
                    _print_json(row.to_json())
                else:
                    stars = "★" if row.favorite else " "
                    print(f"{row.id:>6} {stars} {row.rating or '-'} {row.width}x{row.height} "
                          f"{row.provider or '-':<12} {row.prompt[:70]}")
        return 0
    finally:
        services.close()


def cmd_collections(args: argparse.Namespace) -> int:
    services = _services(args)
    try:
        for row in services.library.collections():
            if args.json:
                _print_json(row.to_json())
            else:
                print(f"{row.name}\t{row.count}")
        return 0
    finally:
        services.close()


def cmd_export(args: argparse.Namespace) -> int:
    services = _services(args)
    try:
        if services.library.library.collection_by_name(args.collection) is None:
            raise CliError(f"no collection named {args.collection!r}")
        report = services.library.library.export_collection(args.collection, Path(args.dest))
        for name, reason in getattr(report, "skipped", []):
            sys.stderr.write(f"skipped {name}: {reason}\n")
        print(f"exported {len(report.files)} images to {report.dest}")
        return 0
    finally:
        services.close()


def cmd_providers(args: argparse.Namespace) -> int:
    from providers.catalogue import Catalogue

    catalogue = Catalogue.load()
    for info in catalogue.all():
        if args.json:
            _print_json(info.to_json())
        else:
            models = ", ".join(m.model for m in info.models)
            key = "no key needed" if not info.needs_key else f"key: {info.key_env}"
            print(f"{info.id:<13} {info.name:<30} {key:<32} models: {models}")
    return 0


# ------------------------------------------------------------------------------------------- parser

Command = Callable[[argparse.Namespace], int]


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line on stderr (scripts parse it), exit status 2 as argparse always used."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"images-studio: {message} (see '{self.prog} --help')\n")


def build_parser(extra: Sequence[Callable[[argparse._SubParsersAction], None]] = ()) -> argparse.ArgumentParser:
    parser = OneLineParser(prog="images-studio", description="AI Images Studio")
    parser.add_argument("--data-dir", help="library folder (default: IMAGES_STUDIO_HOME or the user data folder)")
    parser.add_argument("--debug", action="store_true", help="verbose logging to stderr")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("import", help="import images or folders into the library")
    p.add_argument("paths", nargs="+")
    p.add_argument("--collection")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("list", help="list library images")
    p.add_argument("--json", action="store_true")
    p.add_argument("--search")
    p.add_argument("--collection")
    p.add_argument("--favorites", action="store_true")
    p.add_argument("--sort", choices=["newest", "oldest", "rating"], default="newest")
    p.add_argument("--limit", type=int, default=0)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("collections", help="list collections")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_collections)

    p = sub.add_parser("export", help="export a collection to a folder or a .zip")
    p.add_argument("collection")
    p.add_argument("dest")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("providers", help="list providers, models and capabilities")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_providers)

    for add in extra:
        add(sub)
    return parser


def run(argv: Sequence[str], parser: argparse.ArgumentParser) -> int:
    args = parser.parse_args(list(argv))
    from desktop.app import RedactingFilter

    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if args.debug else logging.WARNING)  # the log file gets INFO regardless
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    console.addFilter(RedactingFilter())
    console.addFilter(lambda record: not getattr(record, "file_only", False))
    root = logging.getLogger()
    before = list(root.handlers)
    root.addHandler(console)
    try:
        return int(args.func(args))
    except CliError as exc:
        sys.stderr.write(f"images-studio: {exc}\n")
        return exc.code
    except StorageError as exc:
        sys.stderr.write(f"images-studio: {exc}\n")
        return 3
    except BrokenPipeError:  # `images-studio list --json | head`: the reader left, which is fine
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("images-studio: interrupted\n")
        return 130
    except Exception as exc:  # never a traceback for the user; the log has the details with --debug
        log.error("unexpected error in %s", args.command, exc_info=True, extra={"file_only": True})
        from providers.http import redact

        sys.stderr.write(f"images-studio: unexpected error: {redact(str(exc))[:300]}\n")
        return 1
    finally:
        for handler in [h for h in root.handlers if h not in before]:  # a run leaves no handler behind
            root.removeHandler(handler)
            handler.close()
