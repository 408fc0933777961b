"""Generation costs: the app's overhead per generation against an instant loopback provider, and the worst
GUI-thread stall while a 32-image batch streams into the window.

    .venv/bin/python bench/generation_bench.py [--runs 40]

Overhead = wall time from submit to the job's "done" event minus the fake server's own handling time, so it
is what the app adds: validation, journal writes, HTTP, decoding, metadata, file + thumbnail, DB row, events.
Targets (issue 4): overhead < 50 ms per generation, worst stall < 100 ms during the batch.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")


def realistic_pngs(n: int, side: int = 1024) -> list[bytes]:
    """Distinct photo-like PNGs (noise over a gradient, ~1-2 MB each): decoding, hashing and thumbnailing
    them costs what real generations cost, unlike the fake's default 8x8 tiles."""
    import io

    from PIL import Image, ImageFilter

    base = Image.linear_gradient("L").resize((side, side)).convert("RGB")
    out = []
    for i in range(n):
        noise = Image.effect_noise((side, side), 40 + i % 20).convert("RGB").filter(ImageFilter.GaussianBlur(1))
        img = Image.blend(base, noise, 0.5)
        img.putpixel((i % side, i // side), (i % 256, 0, 0))  # distinct bytes for every image
        buf = io.BytesIO()
        img.save(buf, "PNG", compress_level=6)
        out.append(buf.getvalue())
    return out


class TimedFake:
    """The A1111 loopback fake with its handling time recorded, so the app's overhead can be separated."""

    def __init__(self, pool: list[bytes]) -> None:
        import tests.fakes.servers.a1111_fake as a1111_module
        from tests.fakes.servers.a1111_fake import A1111Fake

        images = iter(pool)
        a1111_module.png_bytes = lambda *a, **k: next(images)  # type: ignore[assignment]

        self.fake = A1111Fake()
        self.server_time = 0.0
        original = self.fake._dispatch

        def timed(req):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return original(req)
            finally:
                if req.path.endswith("txt2img"):
                    self.server_time += time.perf_counter() - start

        self.fake._dispatch = timed  # type: ignore[method-assign]
        self.fake.start()


async def _run_jobs(gen, request, n: int, done_events: dict[int, asyncio.Event]) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        job_id = gen.submit(request)
        done_events.setdefault(job_id, asyncio.Event())
        await done_events[job_id].wait()
        samples.append(time.perf_counter() - start)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()

    import qasync
    from PySide6.QtWidgets import QApplication

    from desktop.asyncqt import TaskRunner
    from desktop.services.container import build_services
    from desktop.services.wiring import attach_generation
    from desktop.ui.main_window import MainWindow
    from desktop.ui.stall import StallDetector
    from providers.base import ImageRequest
    from storage.paths import AppPaths

    pool = realistic_pngs(args.runs + 3 + 32 + 4)
    print(f"made {len(pool)} realistic 1024x1024 PNGs, {sum(map(len, pool)) / len(pool) / 1e6:.1f} MB each",
          file=sys.stderr)
    timed = TimedFake(pool)
    os.environ["IMAGES_STUDIO_A1111_BASE_URL"] = timed.fake.url
    app = QApplication([])
    tmp = tempfile.mkdtemp(prefix="studio-genbench-")
    services = build_services(AppPaths.resolve(tmp))
    gen = attach_generation(services, poll_interval_s=0.01)
    window = MainWindow(services, TaskRunner(), on_close=lambda: None)
    window.resize(1400, 900)
    window.show()
    done: dict[int, asyncio.Event] = {}
    images_seen: list[int] = []

    def on_event(event) -> None:  # type: ignore[no-untyped-def]
        if event.kind in ("done", "failed", "cancelled"):
            done.setdefault(event.job_id, asyncio.Event()).set()
            if event.kind == "failed":
                print("job failed:", event.message, file=sys.stderr)
        if event.kind == "image":
            images_seen.append(event.image_id)

    gen.jobs.events.subscribe(on_event)

    async def scenario() -> dict[str, float]:
        single = ImageRequest(prompt="benchmark: a misty harbour", provider="a1111", model="default",
                              width=1024, height=1024, seed=1)
        await _run_jobs(gen, single, 3, done)  # warm-up: imports, connections, first DB pages
        timed.server_time = 0.0
        samples = await _run_jobs(gen, single, args.runs, done)
        server_each = timed.server_time / args.runs
        overhead = [s - server_each for s in samples]

        detector = StallDetector(threshold=0.1)
        detector.start()
        before = len(images_seen)
        # The local backend caps a request at 8 images, so the 32-image batch is four queued jobs of 8.
        start = time.perf_counter()
        job_ids = [gen.submit(ImageRequest(prompt="benchmark batch: thirty-two tiles", provider="a1111",
                                           model="default", width=1024, height=1024, count=8,
                                           seed=1000 * (k + 1)))
                   for k in range(4)]  # distinct seeds: 32 distinct images, none de-duplicated away
        for job_id in job_ids:
            await done.setdefault(job_id, asyncio.Event()).wait()
        batch_s = time.perf_counter() - start
        batch_ids = set(images_seen[before:])
        while time.perf_counter() - start < 30 and any(window.model.row_of(i) < 0 for i in batch_ids):
            await asyncio.sleep(0.01)  # until the gallery shows every new tile
        await asyncio.sleep(0.3)  # let thumbnails of the new tiles load while the heartbeat watches
        detector.stop()
        return {"overhead_median_ms": statistics.median(overhead) * 1000,
                "overhead_p95_ms": sorted(overhead)[int(0.95 * (len(overhead) - 1))] * 1000,
                "server_ms": server_each * 1000, "batch_images": len(images_seen) - before,
                "batch_s": batch_s, "new_tiles": sum(window.model.row_of(i) >= 0 for i in set(images_seen[before:])), "batch_worst_stall_ms": detector.stats.worst_gap * 1000,
                "batch_p95_gap_ms": detector.stats.percentile(95) * 1000}

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        result = loop.run_until_complete(scenario())
        loop.run_until_complete(services.aclose())
    timed.fake.stop()
    print(f"overhead per generation (instant loopback A1111, 1024x1024 photo-like PNGs, {args.runs} runs): "
          f"median {result['overhead_median_ms']:.1f} ms, p95 {result['overhead_p95_ms']:.1f} ms "
          f"(fake server itself: {result['server_ms']:.1f} ms)  target < 50 ms")
    print(f"32-image batch: {result['batch_images']} images ({result['new_tiles']} distinct tiles in the gallery) in "
          f"{result['batch_s']:.2f} s, worst GUI-thread stall "
          f"{result['batch_worst_stall_ms']:.1f} ms, p95 heartbeat gap {result['batch_p95_gap_ms']:.1f} ms  "
          f"target < 100 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
