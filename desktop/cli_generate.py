"""`images-studio generate`, `resume` and `jobs`: generation from the command line into the library.

Each image is saved (file, thumbnail, metadata, row) the moment it arrives; `--json` prints one object per
saved image; progress goes to stderr; a failure exits non-zero with one line naming the provider and reason.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from desktop.cli import CliError, _print_json, _services
from providers.base import PROVIDER_IDS, ImageRequest, InvalidRequest, ProviderError


def _build_request(args: argparse.Namespace, catalogue: Any) -> ImageRequest:
    from desktop.services.generation import with_default_model
    from providers.validation import parse_size

    if args.provider not in catalogue:
        raise CliError(f"unknown provider {args.provider!r}; choose one of {', '.join(catalogue.ids())}", 2)
    width = height = None
    if args.size:
        try:
            width, height = parse_size(args.size)
        except InvalidRequest as exc:
            raise CliError(f"{args.provider}: {exc.message}", 2) from None
    init = None
    if args.init_image:
        path = Path(args.init_image)
        try:
            if path.stat().st_size > 50 * 1024 * 1024:
                raise CliError(f"{args.provider}: the init image {path} is larger than 50 MB", 2)
            init = path.read_bytes()
        except OSError as exc:
            raise CliError(f"{args.provider}: cannot read the init image {path}: {exc.strerror or exc}", 2) from None
        _check_init_image(init, args.provider, path)
    elif args.strength is not None:
        raise CliError("--strength needs --init-image", 2)
    request = ImageRequest(
        prompt=args.prompt, provider=args.provider, model=args.model or "", negative_prompt=args.negative_prompt or "",
        width=width, height=height, aspect_ratio=args.aspect_ratio, count=args.count, seed=args.seed,
        style=args.style, quality=args.quality, init_image=init,
        init_image_mime=None, strength=args.strength if init is not None else None,
    )
    return with_default_model(request, catalogue)


def _check_init_image(data: bytes, provider: str, path: Path) -> None:
    """Decode the init image fully before anything leaves: truncated or corrupt files are refused here."""
    from storage.imaging import BadImage, verify_image

    try:
        verify_image(data)
    except BadImage as exc:
        raise CliError(f"{provider}: the init image {path} is unusable: {exc}", 2) from None


class ProgressReporter:
    """Progress on stderr: one rewritten line on a terminal; plain lines (every 25 %) for scripts and logs."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.open_line = False
        self.last_step = -1

    def line(self, text: str) -> None:
        if self.open_line:
            sys.stderr.write("\n")
            self.open_line = False
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def __call__(self, event: Any) -> None:
        if event.kind == "progress" and event.progress is not None:
            pct = int(event.progress * 100)
            if self.tty:
                sys.stderr.write(f"\r{event.provider}: {pct:3d}% {event.message[:50]:<50}")
                sys.stderr.flush()
                self.open_line = True
            elif pct // 25 > self.last_step:
                self.last_step = pct // 25
                self.line(f"{event.provider}: {pct}%")
        elif event.kind == "started":
            self.last_step = -1
            self.line(f"{event.provider}: working…")
        elif event.kind in ("fallback", "retrying"):
            self.line(f"{event.provider}: {event.message}")

    def finish(self) -> None:
        if self.open_line:
            sys.stderr.write("\n")
            self.open_line = False


async def _generate(args: argparse.Namespace) -> int:
    from desktop.services.wiring import attach_generation

    services = _services(args)
    try:
        gen = attach_generation(services)
        request = _build_request(args, services.catalogue)
        fallback = [p.strip() for p in (args.fallback or "").split(",") if p.strip()]
        unknown = [p for p in fallback if p not in services.catalogue]
        if unknown:
            raise CliError(f"unknown fallback provider(s): {', '.join(unknown)}", 2)
        saved: list[int] = []
        report = ProgressReporter()

        def on_event(event: Any) -> None:
            report(event)
            if event.kind == "image" and event.image_id is not None:
                saved.append(event.image_id)
                row = services.library.get(event.image_id)
                if row is not None:
                    if args.json:
                        _print_json(_image_json(row))
                    else:
                        report.line(f"saved {row.path}")

        gen.jobs.events.subscribe(on_event)
        try:
            job_id = gen.submit(request, fallback=fallback, collection=args.collection)
        except InvalidRequest as exc:
            raise CliError(f"{exc.provider or args.provider}: {exc.message}", 2) from None
        record = await gen.jobs.wait(job_id)
        report.finish()
        if record is None or record.state != "succeeded":
            reason = record.error_message if record else "the job vanished"
            if saved:
                reason += f" ({len(saved)} image(s) were saved before this)"
            raise CliError(reason or f"{args.provider}: the job ended as {record.state if record else '?'}", 1)
        return 0
    finally:
        await services.aclose()


def _image_json(row: Any) -> dict[str, Any]:
    obj = row.to_json()
    obj.setdefault("cost_usd", row.cost_usd)
    obj["job_id"] = row.job_id
    return obj


async def _resume(args: argparse.Namespace) -> int:
    from desktop.services.wiring import attach_generation

    services = _services(args)
    try:
        gen = attach_generation(services)
        saved: list[int] = []

        def on_event(event: Any) -> None:
            if event.kind == "image" and event.image_id is not None:
                saved.append(event.image_id)
                row = services.library.get(event.image_id)
                if args.json and row is not None:
                    _print_json(_image_json(row))
            elif event.kind == "failed":
                sys.stderr.write(f"job {event.job_id}: {event.message}\n")

        gen.jobs.events.subscribe(on_event)
        resumed = await gen.jobs.resume()
        failed = 0
        for job_id in resumed:
            record = await gen.jobs.wait(job_id)
            if record is None or record.state != "succeeded":
                failed += 1
        if not args.json:
            print(f"resumed {len(resumed)} job(s); {len(saved)} image(s) saved; {failed} failed")
        return 1 if failed else 0
    finally:
        await services.aclose()


def cmd_generate(args: argparse.Namespace) -> int:
    if args.count < 1:
        raise CliError("--count must be at least 1", 2)
    try:
        return asyncio.run(_generate(args))
    except ProviderError as exc:
        raise CliError(str(exc)) from None


def cmd_resume(args: argparse.Namespace) -> int:
    return asyncio.run(_resume(args))


def cmd_jobs(args: argparse.Namespace) -> int:
    from storage.journal import JobJournal

    services = _services(args)
    try:
        for record in JobJournal(services.db).recent(args.limit):
            if args.json:
                _print_json(record.to_json())
            else:
                print(f"{record.id:>5} {record.state:<11} {record.provider:<12} {record.request.get('prompt', '')[:60]}")
        return 0
    finally:
        services.close()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate images into the library")
    p.add_argument("prompt")
    p.add_argument("--provider", required=True, help=f"one of {', '.join(PROVIDER_IDS)}")
    p.add_argument("--model")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--size", help="WIDTHxHEIGHT")
    size.add_argument("--aspect-ratio", help="W:H")
    p.add_argument("--negative-prompt")
    p.add_argument("--seed", type=int)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--style")
    p.add_argument("--quality")
    p.add_argument("--init-image")
    p.add_argument("--strength", type=float)
    p.add_argument("--collection")
    p.add_argument("--fallback", help="comma-separated provider ids to try when the first is down")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("resume", help="resume unfinished generation jobs (after a crash)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("jobs", help="list recent generation jobs")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_jobs)
