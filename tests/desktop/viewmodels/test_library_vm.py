"""The library view-model without widgets: service events become Qt signals on the GUI thread, reads and
commands go through it, and its undo stack puts things back exactly."""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import Qt

from desktop.services.events import LibraryEvent
from desktop.viewmodels.library import ImageQuery, LibraryViewModel
from storage.layout import image_rel_path
from storage.records import ImageRecord
from tests.desktop.ui.conftest import a1111_png


@pytest.fixture
def vm(qapp, services):  # type: ignore[no-untyped-def]
    model = LibraryViewModel(services.library)
    yield model
    model.close()


def _add_rows(services, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    """n rows written straight to storage (no service event), oldest first."""
    ids = []
    for k in range(n):
        sha = hashlib.sha256(f"vm image {k}".encode()).hexdigest()
        image_id, _ = services.library.library.add_image(ImageRecord(
            sha256=sha, path=image_rel_path(sha, "png"), format="PNG", width=8, height=8, file_size=1,
            prompt=f"prompt {k}", created_at=1000.0 + k))
        ids.append(image_id)
    return ids


def test_import_through_the_vm_emits_images_added(qtbot, qloop, vm, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    a1111_png(folder / "a.png")
    a1111_png(folder / "b.png", prompt="a second image", seed=7, color=(10, 20, 30))
    with qtbot.waitSignal(vm.imagesAdded, timeout=5000) as added:
        task = qloop.create_task(vm.import_paths([folder]))
        qtbot.waitUntil(task.done, timeout=5000)
    report = task.result()
    assert sorted(added.args[0]) == sorted(report.imported) and len(report.imported) == 2
    assert sorted(vm.ids(ImageQuery())) == sorted(report.imported)
    assert {vm.get(i).prompt for i in report.imported} == {"a lighthouse on a basalt cliff at golden hour",
                                                           "a second image"}


def test_commands_emit_typed_signals(qtbot, vm, services) -> None:
    a, b, c = _add_rows(services, 3)
    with qtbot.waitSignal(vm.imagesChanged, timeout=1000) as changed:
        assert vm.toggle_favorite([a, b]) is True
    assert changed.args == [[a, b]]
    with qtbot.waitSignal(vm.imagesRemoved, timeout=1000) as removed:
        assert vm.trash([c]) == 1
    assert removed.args == [[c]]
    assert vm.trashed_count() == 1
    with qtbot.waitSignal(vm.imagesAdded, timeout=1000) as added:
        assert vm.restore([c]) == 1
    assert added.args == [[c]]
    with qtbot.waitSignal(vm.collectionsChanged, timeout=1000):
        cid = vm.create_collection("Picks")
    with qtbot.waitSignals([vm.collectionsChanged, vm.imagesChanged], timeout=1000):
        vm.add_to_collection(cid, [b])
    assert [(r.name, r.count) for r in vm.collections()] == [("Picks", 1)]
    vm.trash([a])
    with qtbot.waitSignal(vm.libraryReset, timeout=1000):
        services.library.empty_trash()
    assert vm.get(a) is None and vm.trashed_count() == 0


def test_undo_restores_mixed_selections_exactly(qtbot, vm, services) -> None:
    a, b, c = _add_rows(services, 3)
    labels: list[str] = []
    vm.undoChanged.connect(labels.append)
    vm.set_favorite([a], True)
    vm.rate([b], 3)
    assert vm.toggle_favorite([a, b]) is True  # mixed: all become favourites
    vm.rate([a, b, c], 5)
    assert labels == ["Favorite", "Rate 3", "Favorite", "Rate 5"] and vm.undo_label == "Rate 5"
    assert {i: vm.get(i).rating for i in (a, b, c)} == {a: 5, b: 5, c: 5}

    assert vm.undo() == "Rate 5"
    assert {i: vm.get(i).rating for i in (a, b, c)} == {a: 0, b: 3, c: 0}
    assert vm.undo() == "Favorite"
    assert (vm.get(a).favorite, vm.get(b).favorite) == (True, False)
    assert vm.toggle_reject([c]) is True and vm.get(c).rejected
    assert vm.undo() == "Reject" and not vm.get(c).rejected

    vm.trash([a, b])
    assert vm.trashed_count() == 2
    assert vm.undo() == "Move 2 to trash" and vm.trashed_count() == 0

    cid = vm.create_collection("Order")
    vm.add_to_collection(cid, [a, b, c])
    in_order = ImageQuery(collection="Order", sort="collection")
    before = vm.ids(in_order)
    assert vm.reorder(cid, before, [before[2]], 0) == [before[2], before[0], before[1]]
    assert vm.ids(in_order) == [before[2], before[0], before[1]]
    assert vm.undo() == "Reorder" and vm.ids(in_order) == before
    vm.remove_from_collection(cid, [before[1]], before)
    assert vm.ids(in_order) == [before[0], before[2]]
    assert vm.undo() == "Remove from collection" and vm.ids(in_order) == before
    assert vm.undo() == "Add to collection" and vm.ids(in_order) == []


def test_empty_trash_clears_the_undo_stack(qtbot, qloop, vm, services) -> None:
    a, b = _add_rows(services, 2)
    vm.trash([a])
    assert vm.undo_label == "Move 1 to trash"
    with qtbot.waitSignals([vm.libraryReset, vm.undoChanged], timeout=1000):
        task = qloop.create_task(vm.empty_trash())
        qtbot.waitUntil(task.done, timeout=5000)
    assert task.result() == 1
    assert vm.undo_label == "" and vm.undo() == ""  # nothing may point at the deleted image
    assert vm.ids(ImageQuery()) == [b]


def test_an_event_from_a_worker_thread_arrives_on_the_gui_thread(qtbot, vm, services) -> None:
    seen: list[tuple[list[int], int]] = []
    # A direct connection runs in the emitting thread: this checks where the VM *emits*, so any consumer,
    # whatever its connection type, gets the signal on the GUI thread.
    vm.imagesChanged.connect(lambda ids: seen.append((ids, threading.get_ident())),
                             Qt.ConnectionType.DirectConnection)
    worker = threading.Thread(
        target=lambda: services.library.events.publish(LibraryEvent("changed", (4, 2))), name="publisher")
    with qtbot.waitSignal(vm.imagesChanged, timeout=2000) as changed:
        worker.start()
        worker.join()
        assert seen == []  # queued: nothing ran on the publishing thread
    assert changed.args == [[4, 2]]
    assert seen == [([4, 2], threading.main_thread().ident)]


def test_closed_or_deleted_vm_stops_listening(qtbot, vm, services, caplog) -> None:
    vm.close()
    with qtbot.assertNotEmitted(vm.collectionsChanged, wait=50):
        services.library.events.publish(LibraryEvent("collections"))
    other = LibraryViewModel(services.library)
    shiboken6.delete(other)  # what happens to a VM parented to a window that is destroyed
    with caplog.at_level(logging.ERROR):
        services.library.events.publish(LibraryEvent("reset"))
    assert "event subscriber failed" not in caplog.text
