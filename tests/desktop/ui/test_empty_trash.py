"""Emptying a big trash keeps the window responsive: rows on the writer thread, files in the executor."""

from __future__ import annotations

import hashlib
import threading
import time

from desktop.ui.stall import StallDetector
from desktop.ui.thumbnail_loader import LARGE_THUMB
from storage.layout import image_rel_path, thumb_path_for
from storage.library import Library
from storage.records import ImageQuery, ImageRecord
from tests.desktop.ui.test_window import _wait_dialog

N = 300


def _trashed_images(services, n: int) -> list[tuple[str, list]]:  # type: ignore[no-untyped-def]
    """n trashed rows with an image file and both thumbnail sizes each (contents need not decode)."""
    paths, store = services.paths, services.library.library
    made = []
    ids = []
    for k in range(n):
        sha = hashlib.sha256(f"image {k}".encode()).hexdigest()
        rel = image_rel_path(sha, "png")
        files = [paths.data / rel, thumb_path_for(paths, sha), thumb_path_for(paths, sha, LARGE_THUMB)]
        for f in files:
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(b"x")
        image_id, _ = store.add_image(ImageRecord(sha256=sha, path=rel, format="PNG", width=8, height=8,
                                                  file_size=1, prompt=f"prompt {k}", created_at=1000.0 + k))
        ids.append(image_id)
        made.append((sha, files))
    store.trash(ids)
    return made


def test_empty_trash_with_hundreds_of_images_never_blocks_the_gui(qtbot, window, monkeypatch) -> None:
    made = _trashed_images(window.services, N)
    real = Library.remove_files
    threads: list[int] = []

    def slow_remove(self, doomed):  # type: ignore[no-untyped-def]
        threads.append(threading.get_ident())
        time.sleep(0.002 * len(doomed))  # a slow disk: 0.6 s in all, which would freeze a synchronous delete
        real(self, doomed)

    monkeypatch.setattr(Library, "remove_files", slow_remove)
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)
    window.actions["show_trash"].trigger()
    qtbot.waitUntil(lambda: window.model.rowCount() == N and not window.model.busy, timeout=3000)

    detector = StallDetector(threshold=0.2)
    detector.start()
    try:
        window.actions["empty_trash"].trigger()
        box = _wait_dialog(qtbot, window, "confirmDialog")
        detector.reset()  # measure the deletion, not the dialog
        next(b for b in box.buttons() if b.text() == "Delete permanently").click()
        qtbot.waitUntil(lambda: any(m.startswith("Deleted 300") for m in messages), timeout=10000)
    finally:
        detector.stop()

    assert detector.stats.worst_gap < 0.15, detector.stats.worst_gap
    assert threads and threading.main_thread().ident not in threads
    progress = [m for m in messages if m.startswith("Emptying trash")]
    assert len(progress) >= 3 and progress[-1] == "Emptying trash… deleted 300 of 300 files"
    assert not any(f.exists() for _, files in made for f in files)
    assert window.library.ids(ImageQuery(trashed=True)) == []
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=2000)
    assert window.actions["empty_trash"].isEnabled()


def test_empty_trash_async_keeps_files_of_reimported_images(qtbot, qloop, services) -> None:
    made = _trashed_images(services, 4)
    store = services.library.library
    kept_sha, kept_files = made[0]
    original = store.delete_trashed_rows

    def delete_then_reimport():  # type: ignore[no-untyped-def]
        doomed = original()
        # the same picture comes back (an import) before its files are deleted
        store.add_image(ImageRecord(sha256=kept_sha, path=image_rel_path(kept_sha, "png"), format="PNG",
                                    width=8, height=8, file_size=1))
        return doomed

    store.delete_trashed_rows = delete_then_reimport  # type: ignore[method-assign]
    calls: list[tuple[int, int]] = []
    task = qloop.create_task(services.library.empty_trash_async(lambda d, t: calls.append((d, t)), batch=2))
    qtbot.waitUntil(task.done, timeout=5000)
    assert task.result() == 4 and calls == [(2, 4), (4, 4)]
    assert all(f.exists() for f in kept_files)
    assert not any(f.exists() for _, files in made[1:] for f in files)
