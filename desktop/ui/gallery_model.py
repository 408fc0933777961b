"""The gallery's item model: a list of image ids; row details are fetched lazily in pages into an LRU.

`data()` never touches disk, SQLite or Pillow. On a miss it answers with a placeholder and queues the
page of ~200 ids around the row; the page is read on the next event-loop turn (one `rows()` call, well
under a millisecond) and the affected rows get `dataChanged`. Thumbnails come from the ThumbnailLoader's
pixmap cache, also by id.

Structural updates diff the old and new id lists: pure insertions or pure removals become
beginInsertRows/beginRemoveRows runs (selection and scroll position survive), anything else a reset.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import Any, Protocol

from PySide6.QtCore import (QAbstractListModel, QByteArray, QMimeData, QModelIndex, QObject,
                            QPersistentModelIndex, Qt, QTimer, QUrl, Signal)

from desktop.ui.thumbnail_loader import ThumbnailLoader
from desktop.viewmodels.records import ImageQuery, ImageRow

IDS_MIME = "application/x-ai-images-studio-ids"
PAGE = 200
HEAD_ROWS = 600  # shown synchronously when a query changes: several screens of the largest grid
ROW_CACHE = 5000

Index = QModelIndex | QPersistentModelIndex


class GallerySource(Protocol):
    """What the gallery model reads (the LibraryViewModel provides it)."""

    def ids(self, query: ImageQuery, limit: int | None = None) -> list[int]: ...

    def search_head(self, query: ImageQuery, limit: int) -> list[int] | None: ...

    def rows(self, ids: Sequence[int]) -> dict[int, ImageRow]: ...

    def get(self, image_id: int) -> ImageRow | None: ...

    def submit(self, read: Callable[[], None]) -> object: ...


class Roles(IntEnum):
    Id = Qt.ItemDataRole.UserRole + 1
    Row = Qt.ItemDataRole.UserRole + 2  # ImageRow | None (None = not loaded yet)
    Thumb = Qt.ItemDataRole.UserRole + 3  # QPixmap | None


def encode_ids(ids: Sequence[int]) -> QMimeData:
    mime = QMimeData()
    mime.setData(IDS_MIME, QByteArray(json.dumps(list(ids)).encode()))
    mime.setText("\n".join(str(i) for i in ids))
    return mime


def decode_ids(mime: QMimeData) -> list[int]:
    if not mime.hasFormat(IDS_MIME):
        return []
    try:
        return [int(i) for i in json.loads(bytes(mime.data(IDS_MIME).data()).decode())]
    except (ValueError, TypeError):
        return []


def diff_runs(old: Sequence[int], new: Sequence[int]) -> list[tuple[int, int]] | None:
    """If `new` is `old` with items inserted (order kept), the (position, count) runs to insert, in order;
    otherwise None."""
    runs: list[tuple[int, int]] = []
    i = 0
    n_old = len(old)
    j = 0
    while j < len(new):
        if i < n_old and new[j] == old[i]:
            i += 1
            j += 1
            continue
        start = j
        while j < len(new) and (i >= n_old or new[j] != old[i]):
            j += 1
        runs.append((start, j - start))
    return runs if i == n_old else None


class GalleryModel(QAbstractListModel):
    rowsLoaded = Signal()  # new row details arrived (the view refreshes what it wants from the loader)
    countChanged = Signal(int)
    searchFinished = Signal()  # the full id list of the current query is in place
    _idsReady = Signal(int, object, bool)  # generation, ids (or an exception), reset — queued from a worker

    def __init__(self, library: GallerySource, loader: ThumbnailLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.loader = loader
        self.thumb_px = 256
        self._query = ImageQuery()
        self._ids: list[int] = []
        self._pos: dict[int, int] | None = None  # id -> row, rebuilt lazily after structural changes
        self._rows: OrderedDict[int, ImageRow] = OrderedDict()
        self._pending_pages: set[int] = set()
        self._fetch_timer = QTimer(self)
        self._fetch_timer.setSingleShot(True)
        self._fetch_timer.setInterval(0)
        self._fetch_timer.timeout.connect(self._fetch_pending)
        loader.ready.connect(self._thumb_ready)
        self._generation = 0  # bumps on every refresh so a slow search never overwrites a newer answer
        self.searching = False
        self._idsReady.connect(self._apply_ids, Qt.ConnectionType.QueuedConnection)

    # -- queries ---------------------------------------------------------------------------------------
    @property
    def query(self) -> ImageQuery:
        return self._query

    @property
    def ids(self) -> list[int]:
        return self._ids

    def set_query(self, query: ImageQuery) -> None:
        self._query = query
        self.refresh(reset=True)

    def refresh(self, *, reset: bool = False, sync: bool = False) -> None:
        """Re-query the ids. The full list runs on a worker (its own read connection; WAL), so a 100k
        library or a term matching most of it (~80 ms in SQLite) never stalls the window. A new query first
        shows its newest screenfuls at once (an indexed LIMIT, well under a millisecond); the rest is
        appended when the worker answers, so the library's size is invisible when the window opens."""
        self._generation += 1
        generation, query = self._generation, self._query
        if sync:  # a local edit (reorder) whose result the caller reselects at once
            self._set_ids(self.library.ids(query), reset)
            return
        if reset:
            # The newest screens first (an indexed LIMIT, or FTS5's rowid walk for a search: ~1-4 ms even
            # for a term in most of 100k images); the worker's exact full list replaces it moments later.
            head = (self.library.search_head(query, HEAD_ROWS) if query.search.strip()
                    else self.library.ids(query, HEAD_ROWS))
            if head is not None:
                self._set_ids(head, True)
                reset = False
        self.searching = True

        def run() -> None:
            try:
                result: object = self.library.ids(query)
            except Exception as exc:  # shown as an empty result; the error is logged by the slot
                result = exc
            self._idsReady.emit(generation, result, reset)

        self.library.submit(run)

    def _apply_ids(self, generation: int, result: object, reset: bool) -> None:
        if generation != self._generation:
            return  # a newer query was started meanwhile
        self.searching = False
        if isinstance(result, BaseException):
            import logging

            logging.getLogger(__name__).error("listing the gallery failed", exc_info=result)
            result = []
        self._set_ids(list(result), reset)  # type: ignore[call-overload]
        self.searchFinished.emit()

    def add_newest(self, image_ids: Sequence[int]) -> bool:
        """Put images that just arrived at the top without re-listing the library, when that is certainly
        where they belong: the plain newest-first view, and none older than the current first tile. A
        generation streaming into a 100k library then costs one insert, not a 100k re-query and diff.
        False (the caller re-queries) for anything else: filters, search, other sorts, imports of old files."""
        q = self._query
        plain = (q.sort == "newest" and not q.search.strip() and not q.favorites and not q.min_rating
                 and not q.provider and not q.collection and q.date_from is None and q.date_to is None
                 and not q.trashed and q.include_rejected)
        new = list(dict.fromkeys(image_ids))
        if not plain or self.searching or not new:
            return False
        if self._ids and min(new) <= max(self._ids):
            return False  # may already be shown (a duplicate re-added): let the re-query decide
        rows = self.library.rows(new + self._ids[:1])
        if any(i not in rows for i in new):
            return False
        if self._ids:
            top = rows.get(self._ids[0])
            if top is None or any(rows[i].created_at < top.created_at for i in new):
                return False
        new.sort(key=lambda i: (rows[i].created_at, i), reverse=True)
        self.beginInsertRows(QModelIndex(), 0, len(new) - 1)
        self._ids[0:0] = new
        self._pos = None
        self.endInsertRows()
        self.countChanged.emit(len(self._ids))
        return True

    def drop_ids(self, image_ids: Sequence[int]) -> None:
        """Remove rows we know are gone (trashed) without waiting for the re-query."""
        gone = set(image_ids)
        if gone & set(self._ids):
            self._set_ids([i for i in self._ids if i not in gone], False)

    @property
    def busy(self) -> bool:
        """True while a re-query is running on the worker."""
        return self.searching

    def _set_ids(self, new: list[int], reset: bool) -> None:
        if reset or not self._apply_diff(new):
            self.beginResetModel()
            self._ids = list(new)
            self._pos = None
            self._pending_pages.clear()
            self.endResetModel()
        self.countChanged.emit(len(self._ids))

    def _apply_diff(self, new: list[int]) -> bool:
        old = self._ids
        if new == old:
            return True
        inserts = diff_runs(old, new)
        if inserts is not None:
            for start, count in inserts:  # runs are in final positions, ascending: apply in order
                self.beginInsertRows(QModelIndex(), start, start + count - 1)
                self._ids[start:start] = new[start:start + count]
                self._pos = None
                self.endInsertRows()
            return True
        removals = diff_runs(new, old)  # old is new with items inserted == new is old with items removed
        if removals is not None:
            for start, count in reversed(removals):  # positions in old: remove from the end
                self.beginRemoveRows(QModelIndex(), start, start + count - 1)
                del self._ids[start:start + count]
                self._pos = None
                self.endRemoveRows()
            return True
        return False

    def row_of(self, image_id: int) -> int:
        if self._pos is None:
            self._pos = {image_id: row for row, image_id in enumerate(self._ids)}
        return self._pos.get(image_id, -1)

    def index_of(self, image_id: int) -> QModelIndex:
        row = self.row_of(image_id)
        return self.index(row, 0) if row >= 0 else QModelIndex()

    def image_id(self, row: int) -> int:
        return self._ids[row]

    def cached_row(self, image_id: int) -> ImageRow | None:
        return self._rows.get(image_id)

    def ensure_rows(self, first: int, last: int) -> None:
        """Queue the pages covering [first, last] (the view asks for what it is about to show)."""
        if not self._ids:
            return
        first = max(0, first)
        last = min(len(self._ids) - 1, last)
        for page in range(first // PAGE, last // PAGE + 1):
            start = page * PAGE
            if any(i not in self._rows for i in self._ids[start:start + PAGE]):
                self._pending_pages.add(page)
        if self._pending_pages and not self._fetch_timer.isActive():
            self._fetch_timer.start()

    def invalidate(self, image_ids: Sequence[int]) -> None:
        """Rows changed in the library: drop cached details and repaint them (they reload on demand)."""
        for image_id in image_ids:
            self._rows.pop(image_id, None)
            row = self.row_of(image_id)
            if row >= 0:
                index = self.index(row, 0)
                self.dataChanged.emit(index, index)

    # -- Qt model interface ----------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._ids)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._ids):
            return None
        image_id = self._ids[index.row()]
        if role == Roles.Id:
            return image_id
        if role == Roles.Thumb or role == Qt.ItemDataRole.DecorationRole:
            return self.loader.pixmap(image_id, self.thumb_px)
        row = self._rows.get(image_id)
        if row is None:
            self.ensure_rows(index.row(), index.row())
            if role == Qt.ItemDataRole.DisplayRole:
                return ""
            return None
        self._rows.move_to_end(image_id)
        if role == Roles.Row:
            return row
        if role == Qt.ItemDataRole.DisplayRole:
            return row.prompt or row.source_path.rsplit("/", 1)[-1]
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(row)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return row.prompt or f"image {image_id}"
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
                | Qt.ItemFlag.ItemNeverHasChildren)

    def mimeTypes(self) -> list[str]:
        return [IDS_MIME]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        rows = sorted({i.row() for i in indexes if i.isValid()})
        ids = [self._ids[r] for r in rows]
        mime = encode_ids(ids)
        # The files too, so images can be dragged out into an editor, a chat or the file manager.
        missing = [i for i in ids if i not in self._rows]
        found = {i: self._rows[i] for i in ids if i in self._rows}
        if missing:
            found.update(self.library.rows(missing))
        mime.setUrls([QUrl.fromLocalFile(found[i].path) for i in ids if i in found])
        return mime

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction | Qt.DropAction.MoveAction

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction | Qt.DropAction.CopyAction

    # -- internals -------------------------------------------------------------------------------------
    def _fetch_pending(self) -> None:
        pages = sorted(self._pending_pages)
        self._pending_pages.clear()
        wanted: list[int] = []
        for page in pages:
            wanted.extend(i for i in self._ids[page * PAGE:(page + 1) * PAGE] if i not in self._rows)
        if not wanted:
            return
        fetched = self.library.rows(wanted)
        for image_id, row in fetched.items():
            self._rows[image_id] = row
            self._rows.move_to_end(image_id)
        while len(self._rows) > ROW_CACHE:
            self._rows.popitem(last=False)
        rows = sorted(r for r in (self.row_of(i) for i in fetched) if r >= 0)
        if rows:  # one dataChanged per contiguous span keeps the signal count small
            start = prev = rows[0]
            for r in rows[1:] + [None]:
                if r is not None and r == prev + 1:
                    prev = r
                    continue
                self.dataChanged.emit(self.index(start, 0), self.index(prev, 0))
                if r is not None:
                    start = prev = r
        self.rowsLoaded.emit()

    def _thumb_ready(self, image_id: int, px: int) -> None:
        row = self.row_of(image_id)
        if row >= 0:
            index = self.index(row, 0)
            self.dataChanged.emit(index, index, [Roles.Thumb, Qt.ItemDataRole.DecorationRole])


def _tooltip(row: ImageRow) -> str:
    prompt = row.prompt if len(row.prompt) < 300 else row.prompt[:300] + "…"
    bits = [b for b in (row.provider, row.model, f"{row.width}×{row.height}") if b]
    return f"{prompt}\n{' · '.join(bits)}" if prompt else " · ".join(bits)
