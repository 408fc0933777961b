"""Big tiles stay sharp: 512 px thumbnails made on demand off the GUI thread, with a bounded large lane."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from desktop.ui.thumbnail_loader import LARGE_THUMB, ThumbnailLoader, ThumbRequest
from storage import thumbnails
from storage.layout import thumb_path_for
from storage.paths import AppPaths
from storage.records import ImageQuery
from tests.desktop.ui.conftest import import_and_wait


def _original(paths: AppPaths, tmp_path: Path, n: int, size: tuple[int, int] = (1200, 900)) -> ThumbRequest:
    """An original file plus its 256 px thumbnail (as ingest leaves them); the request asks for 480 px."""
    source = tmp_path / f"orig{n}.png"
    Image.new("RGB", size, (20 * n % 255, 90, 160)).save(source)
    data = source.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    small = thumbnails.ensure_thumbnail(paths, sha, data, 256)
    return ThumbRequest(n, str(small), 480, str(source), sha)


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    p = AppPaths.resolve(tmp_path / "data")
    p.ensure()
    return p


class _Spy:
    """Wraps make_thumbnail: which threads ran it and how many ran at once."""

    def __init__(self, real, delay: float = 0.05) -> None:  # type: ignore[no-untyped-def]
        self.real, self.delay = real, delay
        self.threads: list[int] = []
        self.sizes: list[int] = []
        self.now = self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, data: bytes, size: int = 256) -> bytes:
        with self.lock:
            self.threads.append(threading.get_ident())
            self.sizes.append(size)
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            time.sleep(self.delay)  # long enough for overlapping decodes to show up
            return self.real(data, size)
        finally:
            with self.lock:
                self.now -= 1


def test_large_tile_shows_256_first_then_swaps_in_512_made_off_thread(qtbot, paths, tmp_path, monkeypatch) -> None:
    requests = [_original(paths, tmp_path, n) for n in range(1, 6)]
    spy = _Spy(thumbnails.make_thumbnail)
    monkeypatch.setattr(thumbnails, "make_thumbnail", spy)
    loader = ThumbnailLoader(workers=2, paths=paths, large_workers=2)
    order: list[tuple[int, int]] = []
    loader.ready.connect(lambda i, px: order.append((i, px)))
    try:
        loader.want("gallery", requests)
        qtbot.waitUntil(lambda: all(loader.has_exact(r.image_id, 480) for r in requests), timeout=10000)
        assert loader.pending == 0
    finally:
        loader.close()
    for r in requests:  # the stand-in arrived before the sharp one
        assert order.index((r.image_id, 256)) < order.index((r.image_id, 480))
        big = thumb_path_for(paths, r.sha, LARGE_THUMB)
        with Image.open(big) as im:
            assert im.format == "WEBP" and im.size == (512, 384)
        pm = loader.pixmap(r.image_id, 480)
        assert pm is not None and (pm.width(), pm.height()) == (480, 360)
    assert spy.sizes == [LARGE_THUMB] * 5
    assert threading.main_thread().ident not in spy.threads
    assert spy.peak <= 2  # bounded: full-size decodes are the memory-hungry ones

    # A later session finds the 512 px file: no decode of the original, no stand-in.
    spy.sizes.clear()
    again = ThumbnailLoader(workers=1, paths=paths, large_workers=1)
    seen: list[tuple[int, int]] = []
    again.ready.connect(lambda i, px: seen.append((i, px)))
    try:
        again.want("gallery", requests[:2])
        qtbot.waitUntil(lambda: len(seen) == 2, timeout=5000)
    finally:
        again.close()
    assert sorted(seen) == [(1, 480), (2, 480)] and spy.sizes == []


def test_one_large_worker_decodes_one_original_at_a_time(qtbot, paths, tmp_path, monkeypatch) -> None:
    requests = [_original(paths, tmp_path, n, (700, 700)) for n in range(1, 4)]
    spy = _Spy(thumbnails.make_thumbnail, delay=0.03)
    monkeypatch.setattr(thumbnails, "make_thumbnail", spy)
    loader = ThumbnailLoader(workers=3, paths=paths, large_workers=1)
    try:
        loader.want("gallery", requests)
        qtbot.waitUntil(lambda: all(loader.has_exact(r.image_id, 480) for r in requests), timeout=10000)
    finally:
        loader.close()
    assert spy.peak == 1 and len(spy.sizes) == 3


def test_missing_original_keeps_the_256_thumbnail(qtbot, paths, tmp_path) -> None:
    request = _original(paths, tmp_path, 1)
    Path(request.source).unlink()
    loader = ThumbnailLoader(workers=1, paths=paths)
    try:
        loader.want("gallery", [request])
        qtbot.waitUntil(lambda: (1, 480) in loader.failed, timeout=5000)
        pm = loader.pixmap(1, 480)
        assert pm is not None and max(pm.width(), pm.height()) == 256  # blurry beats blank
        assert not thumb_path_for(paths, request.sha, LARGE_THUMB).exists()
    finally:
        loader.close()


def test_unwanted_large_decodes_are_dropped(qtbot, paths, tmp_path, monkeypatch) -> None:
    requests = [_original(paths, tmp_path, n, (600, 400)) for n in range(1, 7)]
    spy = _Spy(thumbnails.make_thumbnail, delay=0.1)
    monkeypatch.setattr(thumbnails, "make_thumbnail", spy)
    loader = ThumbnailLoader(workers=2, paths=paths, large_workers=1)
    try:
        loader.want("gallery", requests)
        qtbot.waitUntil(lambda: len(spy.sizes) >= 1, timeout=5000)
        loader.want("gallery", [])  # scrolled away
        qtbot.waitUntil(lambda: loader.pending == 0, timeout=5000)
        assert len(spy.sizes) <= 3  # the lane stopped; it did not work through all six originals
    finally:
        loader.close()


def test_big_tiles_in_the_window_and_empty_trash_removes_512(qtbot, window, sample_folder) -> None:
    import_and_wait(qtbot, window, [sample_folder])
    window.filters.size_slider.setValue(window.filters.size_slider.maximum())
    assert window.filters.size_slider.maximum() == 512
    model, view = window.model, window.view

    def sharp() -> bool:
        shown = [model.image_id(r) for r in view.visible_rows()]
        return bool(shown) and all(window.loader.has_exact(i, model.thumb_px) for i in shown)

    qtbot.waitUntil(sharp, timeout=8000)
    assert model.thumb_px > 256
    rows = window.library.rows(model.ids)
    shown = [rows[model.image_id(r)] for r in view.visible_rows()]
    bigs = [thumb_path_for(window.library.paths, r.sha256, LARGE_THUMB) for r in shown]
    assert all(p.is_file() for p in bigs)

    window.view.selectAll()
    window.actions["trash"].trigger()
    assert len(window.library.ids(ImageQuery(trashed=True))) == 3
    removed = window.services.library.library.empty_trash()
    assert removed == 3
    assert not any(p.exists() for p in bigs)
    assert not any(Path(r.thumb_path).exists() or Path(r.path).exists() for r in rows.values())


def test_big_tiles_are_not_stretched_without_bound(qtbot, window, sample_folder) -> None:
    from desktop.ui.gallery_view import MARGIN, MAX_STRETCH

    import_and_wait(qtbot, window, [sample_folder])
    view = window.view
    window.filters.size_slider.setValue(480)
    target = 480 + 2 * view._delegate.padding
    assert view.columns == 1 and view.cell.width() <= int(target * MAX_STRETCH)
    first = view.visualRect(window.model.index(0, 0))
    spare = view.viewport().width() - first.width()
    assert abs(first.left() - spare // 2) <= MARGIN  # centred, not glued to the left
    view.setCurrentIndex(window.model.index(0, 0))
    assert view.visualRect(window.model.index(0, 0)).top() >= 0  # a tall tile shows its top, not its bottom
