"""Bad files are skipped with reasons and never disturb the good ones; the summary lists them."""

from __future__ import annotations

from pathlib import Path

from desktop.ui.dialogs import ImportSummaryDialog
from tests.desktop.ui.conftest import a1111_png, import_and_wait
from tests.desktop.ui.test_window import _wait_dialog


def test_bad_files_are_skipped_with_reasons(qtbot, window, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = a1111_png(folder / "good.png")
    (folder / "empty.png").write_bytes(b"")
    (folder / "broken.png").write_bytes(good.read_bytes()[:60])
    (folder / "notes.png").write_text("this is not an image\n")
    text = tmp_path / "readme.txt"
    text.write_text("hello")

    report = import_and_wait(qtbot, window, [folder, text])
    assert len(report.imported) == 1
    reasons = {Path(p).name: r for p, r in report.skipped}
    assert set(reasons) == {"empty.png", "broken.png", "notes.png", "readme.txt"}
    assert all(reasons.values())
    assert window.model.rowCount() == 1

    dialog = _wait_dialog(qtbot, window, "importSummary")
    assert isinstance(dialog, ImportSummaryDialog)
    assert {name for name, _ in dialog.skipped_rows()} == set(reasons)
    assert all(reason for _, reason in dialog.skipped_rows())
    assert not dialog.isModal()
    dialog.reject()


def test_duplicate_import_and_import_into_collection(qtbot, window, sample_folder) -> None:
    import_and_wait(qtbot, window, [sample_folder])
    cid = window.library.create_collection("Inbox")
    window.collections.select_scope("collection", cid)
    report = import_and_wait(qtbot, window, [sample_folder / "robot.png"])
    assert len(report.duplicates) == 1 and not report.imported
    qtbot.waitUntil(lambda: window.model.rowCount() == 1)  # a drop while a collection is shown files it there


def test_progress_widgets_hide_after_import(qtbot, window, sample_folder) -> None:
    import_and_wait(qtbot, window, [sample_folder])
    assert not window.imports.bar.isVisible() and not window.imports.busy
    assert "3 imported" in window.statusBar().currentMessage()
