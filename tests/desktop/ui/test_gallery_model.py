"""The gallery model, its diffing, the thumbnail cache and the grid geometry."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QPixmap

from desktop.ui.gallery_model import GalleryModel, Roles, decode_ids, diff_runs, encode_ids
from desktop.ui.thumbnail_loader import PixmapLRU, ThumbnailLoader, ThumbRequest, decode_scaled
from desktop.viewmodels.commands import move_ids
from desktop.viewmodels.library import LibraryViewModel
from storage.records import ImageQuery
from tests.desktop.ui.conftest import a1111_png, import_and_wait


@pytest.mark.parametrize(("old", "new", "runs"), [
    ([], [1, 2], [(0, 2)]),
    ([3, 4], [1, 2, 3, 4], [(0, 2)]),
    ([3, 4], [3, 9, 4, 8], [(1, 1), (3, 1)]),
    ([3, 4], [4, 3], None),
    ([3, 4], [3], None),
    ([1, 2], [1, 2], []),
])
def test_diff_runs(old: list[int], new: list[int], runs: list[tuple[int, int]] | None) -> None:
    assert diff_runs(old, new) == runs


@pytest.mark.parametrize(("order", "moved", "target", "expected"), [
    ([1, 2, 3, 4], [4], 0, [4, 1, 2, 3]),
    ([1, 2, 3, 4], [1], 4, [2, 3, 4, 1]),
    ([1, 2, 3, 4], [2, 3], 0, [2, 3, 1, 4]),
    ([1, 2, 3, 4], [1, 3], 3, [2, 1, 3, 4]),
    ([1, 2, 3, 4], [2], 2, [1, 2, 3, 4]),
])
def test_move_ids(order: list[int], moved: list[int], target: int, expected: list[int]) -> None:
    assert move_ids(order, moved, target) == expected


def test_mime_roundtrip() -> None:
    assert decode_ids(encode_ids([5, 3, 9])) == [5, 3, 9]
    assert decode_ids(QMimeData()) == []


def test_model_passes_modeltester_and_loads_rows_lazily(qtbot, qtmodeltester, qloop, services,
                                                        sample_folder) -> None:
    task = qloop.create_task(services.library.import_paths([sample_folder]))
    qtbot.waitUntil(task.done, timeout=5000)
    loader = ThumbnailLoader(workers=1)
    try:
        model = GalleryModel(LibraryViewModel(services.library), loader)
        model.set_query(ImageQuery())
        assert model.rowCount() == 3
        index = model.index(0, 0)
        assert model.data(index, Roles.Row) is None  # a miss never blocks: placeholder, load queued
        assert model.data(index, Roles.Id) == model.ids[0]
        with qtbot.waitSignal(model.rowsLoaded, timeout=2000):
            pass
        row = model.data(index, Roles.Row)
        assert row is not None and row.id == model.ids[0]
        assert model.data(index, Qt.ItemDataRole.ToolTipRole)
        qtmodeltester.check(model, force_py=True)

        # structural updates are incremental when they can be
        with qtbot.waitSignal(model.rowsRemoved):
            services.library.trash([model.ids[1]])
            model.refresh()
        assert model.rowCount() == 2
        with qtbot.waitSignal(model.rowsInserted):
            services.library.restore(services.library.ids(ImageQuery(trashed=True)))
            model.refresh()
        assert model.rowCount() == 3
        qtmodeltester.check(model, force_py=True)
    finally:
        loader.close()


def test_pixmap_lru_is_bounded_and_serves_other_sizes(qapp) -> None:
    pm = QPixmap(64, 64)
    lru = PixmapLRU(limit_bytes=3 * 64 * 64 * 4)
    for i in range(5):
        lru.put((i, 64), pm)
    assert len(lru) == 3 and lru.get((0, 64)) is None and lru.get((4, 64)) is not None
    assert lru.best(4, 128) is not None  # the wrong size is still better than a placeholder
    lru.discard_id(4)
    assert lru.best(4, 64) is None


def test_loader_decodes_in_workers_and_skips_broken_files(qtbot, tmp_path: Path) -> None:
    good = a1111_png(tmp_path / "g.png", size=(300, 200))
    broken = tmp_path / "b.png"
    broken.write_bytes(b"not an image")
    loader = ThumbnailLoader(workers=2)
    try:
        with qtbot.waitSignal(loader.ready, timeout=3000) as blocker:
            loader.want("t", [ThumbRequest(1, str(broken), 64), ThumbRequest(2, str(good), 64)])
        assert blocker.args == [2, 64]
        pm = loader.pixmap(2, 64)
        assert pm is not None and max(pm.width(), pm.height()) == 64
        qtbot.waitUntil(lambda: loader.pending == 0)
        assert (1, 64) in loader.failed and loader.pixmap(1, 64) is None
    finally:
        loader.close()
    image = decode_scaled(str(good), 100)
    assert image.width() == 100 and image.height() in (66, 67)


def test_grid_geometry_and_file_drop(qtbot, window, sample_folder, tmp_path: Path) -> None:
    import_and_wait(qtbot, window, [sample_folder])
    view = window.view
    first = view.visualRect(window.model.index(0, 0))
    second = view.visualRect(window.model.index(1, 0))
    assert first.width() == first.height() and second.left() == first.right() + 1
    assert view.indexAt(first.center()).row() == 0
    assert view.indexAt(QPoint(first.center().x(), first.bottom() + view.cell.height() * 5)).isValid() is False
    columns = view.columns
    window.filters.size_slider.setValue(window.filters.size_slider.maximum())
    assert view.columns < columns

    extra = a1111_png(tmp_path / "dropped.png", prompt="a dropped file", seed=5, color=(9, 9, 200))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(extra))])
    event = QDropEvent(QPointF(first.center()), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(view.filesDropped) as blocker:
        view.dropEvent(event)
    assert blocker.args == [[extra]]
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=5000)


def test_dragged_tiles_carry_their_files_for_other_apps(qtbot, window, sample_folder) -> None:
    """Dragging tiles out gives other applications the image files; our own window does not re-import them."""
    from pathlib import Path

    from tests.desktop.ui.conftest import import_and_wait

    import_and_wait(qtbot, window, [sample_folder])
    model = window.model
    mime = model.mimeData([model.index(0, 0), model.index(1, 0)])
    files = [Path(u.toLocalFile()) for u in mime.urls()]
    rows = window.library.rows(model.ids[:2])
    assert files == [Path(rows[i].path) for i in model.ids[:2]] and all(f.is_file() for f in files)
    assert window.view._accepts(_FakeDrag(mime, source=None)) is None  # not imported again


class _FakeDrag:
    def __init__(self, mime, source) -> None:  # type: ignore[no-untyped-def]
        self._mime, self._source = mime, source

    def mimeData(self):  # type: ignore[no-untyped-def]
        return self._mime

    def source(self):  # type: ignore[no-untyped-def]
        return self._source


def test_new_images_go_on_top_without_a_requery_and_old_imports_still_requery(qtbot, window, sample_folder) -> None:
    from tests.desktop.ui.conftest import import_and_wait
    from tests.storage.conftest import make_record

    import_and_wait(qtbot, window, [sample_folder])
    model, lib = window.model, window.services.library.library
    before = list(model.ids)
    newest = max(r.created_at for r in lib.rows(before).values())
    fresh, _ = lib.add_image(make_record(7001, created_at=newest + 10))
    assert model.add_newest([fresh]) and model.ids == [fresh, *before] and not model.busy
    old, _ = lib.add_image(make_record(7002, created_at=1.0))  # an imported file from long ago
    assert not model.add_newest([old])  # belongs further down: the caller re-queries
    assert not model.add_newest([fresh])  # already shown
