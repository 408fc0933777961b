"""Off-thread thumbnail decoding with our own pixmap LRU (architecture §10).

Workers (plain threads; Qt's image readers are thread-safe) decode the cached 256 px WebP into a QImage,
scale it to the tile's device pixels and convert it to a premultiplied 32-bit format, which makes
QPixmap.fromImage on the GUI thread about a microsecond. Results come back through a queued signal.

The queue is *replaced*, not appended to: each scroll hands over the ordered "wanted" list (visible first,
then prefetch), so workers never decode rows the user has already scrolled past.

Big tiles: ingest only makes 256 px thumbnails (architecture 9.4). A request for more than that which names
its original file and hash is served from a 512 px WebP made on demand: a fast worker first hands over the
256 px one (so the tile is never blank), then a separate "large" lane decodes the original, writes the
512 px thumbnail atomically and swaps it in. The lane has its own one or two threads, because a 4096² source
can take ~280 MB in Pillow and must never hold up the cheap 256 px decodes.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader, QPixmap

from desktop.ui.qtfix import install_emit_refcount_fix
from storage.layout import THUMB_SIZE, thumb_path_for
from storage.paths import AppPaths
from storage.thumbnails import ensure_thumbnail

log = logging.getLogger(__name__)

Key = tuple[int, int]  # (image id, long edge in device pixels)
LARGE_THUMB = 512  # the on-demand size for big tiles and HiDPI screens


@dataclass(frozen=True)
class ThumbRequest:
    image_id: int
    path: str
    px: int  # long edge in device pixels
    source: str = ""  # the original file: lets a request above 256 px be served from a 512 px thumbnail
    sha: str = ""  # content hash naming that thumbnail


def decode_scaled(path: str, px: int) -> QImage:
    """Decode `path` to at most px×px (keeping the aspect ratio) as a premultiplied 32-bit QImage."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and (size.width() > px or size.height() > px):
        reader.setScaledSize(size.scaled(QSize(px, px), Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        return image
    if image.width() > px or image.height() > px:  # formats without scaled decode
        image = image.scaled(px, px, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    fmt = QImage.Format.Format_ARGB32_Premultiplied if image.hasAlphaChannel() else QImage.Format.Format_RGB32
    return image.convertToFormat(fmt)


class PixmapLRU:
    """Pixmaps by (id, px), bounded by bytes; `best(id)` returns any size while the right one loads."""

    def __init__(self, limit_bytes: int = 96 * 1024 * 1024) -> None:
        self.limit = limit_bytes
        self.used = 0
        self._items: OrderedDict[Key, QPixmap] = OrderedDict()
        self._by_id: dict[int, set[int]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    @staticmethod
    def cost(pm: QPixmap) -> int:
        return max(1, pm.width() * pm.height() * 4)

    def get(self, key: Key) -> QPixmap | None:
        pm = self._items.get(key)
        if pm is not None:
            self._items.move_to_end(key)
        return pm

    def best(self, image_id: int, px: int) -> QPixmap | None:
        sizes = self._by_id.get(image_id)
        if not sizes:
            return None
        chosen = px if px in sizes else min(sizes, key=lambda s: (s < px, abs(s - px)))
        return self.get((image_id, chosen))

    def put(self, key: Key, pm: QPixmap) -> None:
        if key in self._items:
            self.used -= self.cost(self._items.pop(key))
        self._items[key] = pm
        self._by_id.setdefault(key[0], set()).add(key[1])
        self.used += self.cost(pm)
        while self.used > self.limit and len(self._items) > 1:
            old_key, old = self._items.popitem(last=False)
            self.used -= self.cost(old)
            sizes = self._by_id.get(old_key[0])
            if sizes is not None:
                sizes.discard(old_key[1])
                if not sizes:
                    del self._by_id[old_key[0]]

    def discard_id(self, image_id: int) -> None:
        for px in self._by_id.pop(image_id, set()):
            pm = self._items.pop((image_id, px), None)
            if pm is not None:
                self.used -= self.cost(pm)

    def clear(self) -> None:
        self._items.clear()
        self._by_id.clear()
        self.used = 0


class ThumbnailLoader(QObject):
    """`want(client, requests)` sets what a client (the gallery, the sidebar) needs now; `ready(id, px)`
    fires on the GUI thread once `pixmap(id, px)` can answer. With `paths`, requests above 256 px that name
    their source are upgraded to the 512 px thumbnail (made on demand by `large_workers` threads)."""

    ready = Signal(int, int)
    _decoded = Signal(int, int, QImage)  # worker -> GUI thread (queued: emitted from a foreign thread)
    _interim = Signal(int, int, QImage)  # the 256 px stand-in while the large one is made

    def __init__(self, parent: QObject | None = None, *, workers: int = 2, paths: AppPaths | None = None,
                 large_workers: int = 1, limit_bytes: int = 96 * 1024 * 1024) -> None:
        super().__init__(parent)
        install_emit_refcount_fix()  # workers emit once per thumbnail (see qtfix)
        self.paths = paths
        self.cache = PixmapLRU(limit_bytes)
        self.failed: set[Key] = set()
        self._wanted: dict[str, list[ThumbRequest]] = {}
        self._queue: deque[ThumbRequest] = deque()
        self._large: deque[ThumbRequest] = deque()  # waiting for a full-size decode (in _in_flight meanwhile)
        self._in_flight: set[Key] = set()
        self._cond = threading.Condition()
        self._closed = False
        self._decoded.connect(self._on_decoded, Qt.ConnectionType.QueuedConnection)
        self._interim.connect(self._on_interim, Qt.ConnectionType.QueuedConnection)
        self._threads = [threading.Thread(target=self._work, name=f"thumbs-{i}", daemon=True)
                         for i in range(workers)]
        if paths is not None:
            self._threads += [threading.Thread(target=self._work_large, name=f"thumbs-large-{i}", daemon=True)
                              for i in range(max(1, large_workers))]
        for t in self._threads:
            t.start()

    # -- GUI thread ------------------------------------------------------------------------------------
    def pixmap(self, image_id: int, px: int) -> QPixmap | None:
        return self.cache.best(image_id, px)

    def has_exact(self, image_id: int, px: int) -> bool:
        return self.cache.get((image_id, px)) is not None

    def want(self, client: str, requests: Iterable[ThumbRequest]) -> None:
        self._wanted[client] = [r for r in requests if r.path]
        self._rebuild_queue()

    def forget(self, image_ids: Iterable[int]) -> None:
        """Files changed or left the library: drop their pixmaps so they are decoded again if needed."""
        for image_id in image_ids:
            self.cache.discard_id(image_id)
            self.failed = {k for k in self.failed if k[0] != image_id}

    def _rebuild_queue(self) -> None:
        seen: set[Key] = set()
        queue: deque[ThumbRequest] = deque()
        with self._cond:
            for requests in self._wanted.values():
                for r in requests:
                    key = (r.image_id, r.px)
                    if key in seen:
                        continue
                    seen.add(key)
                    if key in self._in_flight or key in self.failed or key in self.cache:
                        continue
                    queue.append(r)
            self._queue = queue
            # Full-size decodes nobody wants any more are dropped before they start (they are the costly ones).
            for r in [r for r in self._large if (r.image_id, r.px) not in seen]:
                self._large.remove(r)
                self._in_flight.discard((r.image_id, r.px))
            self._cond.notify_all()

    def _on_decoded(self, image_id: int, px: int, image: QImage) -> None:
        key = (image_id, px)
        with self._cond:
            self._in_flight.discard(key)
        if image.isNull():
            self.failed.add(key)  # a missing or corrupt cache file: show the placeholder, do not retry forever
            return
        self.cache.put(key, QPixmap.fromImage(image))
        self.ready.emit(image_id, px)

    def _on_interim(self, image_id: int, px: int, image: QImage) -> None:
        if not image.isNull() and (image_id, px) not in self.cache:
            self.cache.put((image_id, px), QPixmap.fromImage(image))
            self.ready.emit(image_id, px)

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + len(self._in_flight)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._large.clear()
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=1.0)

    # -- worker threads --------------------------------------------------------------------------------
    def _is_large(self, request: ThumbRequest) -> bool:
        return self.paths is not None and request.px > THUMB_SIZE and bool(request.source and request.sha)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                request = self._queue.popleft()
                key = (request.image_id, request.px)
                self._in_flight.add(key)
            try:
                image = self._decode(request)
            except Exception:  # a decoder bug must not kill the worker
                log.exception("thumbnail decode failed for %s", request.path)
                image = QImage()
            if image is None:
                continue  # handed over to the large lane
            with self._cond:
                if self._closed:
                    return
            self._decoded.emit(request.image_id, request.px, image)

    def _decode(self, request: ThumbRequest) -> QImage | None:
        """The finished image, or None once the request waits in the large lane."""
        if not self._is_large(request):
            return decode_scaled(request.path, request.px)
        assert self.paths is not None
        large = thumb_path_for(self.paths, request.sha, LARGE_THUMB)
        if large.is_file():
            image = decode_scaled(str(large), request.px)
            if not image.isNull():
                return image  # made in an earlier session; an undecodable one is a miss (architecture 9.3)
        self._interim.emit(request.image_id, THUMB_SIZE, decode_scaled(request.path, THUMB_SIZE))
        with self._cond:
            self._large.append(request)
            self._cond.notify_all()
        return None

    def _work_large(self) -> None:
        assert self.paths is not None
        while True:
            with self._cond:
                while not self._large and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                request = self._large.popleft()
            try:
                data = Path(request.source).read_bytes()
                target = ensure_thumbnail(self.paths, request.sha, data, LARGE_THUMB)
                del data  # the source bytes can be tens of MB: free them before decoding the result
                image = decode_scaled(str(target), request.px)
            except Exception as exc:  # noqa: BLE001 -- missing or corrupt source, disk full: keep the 256 px one
                log.warning("large thumbnail failed for %s: %s", request.source, exc)
                image = QImage()
            with self._cond:
                if self._closed:
                    return
            self._decoded.emit(request.image_id, request.px, image)
