"""Queue readability: the failure reason sits under the title (wrapped, also in tooltips), Cancel / Retry never
squeeze the title, status lines expire or can be dismissed, and Details / Queue share the right column as tabs
that come forward by themselves. Also: each fact once in the details of a generated image."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from desktop.services.jobs import JobEvent
from desktop.ui.generate.queue_view import queue_title
from tests.desktop.ui.conftest import a1111_png, import_and_wait
from tests.desktop.ui.gen_fixtures import gen_window, pollinations  # noqa: F401
from tests.fakes.servers.base import Reply

QUOTA = ("stability: Stability AI images per day (1) allows only 1 of 4 images; resets at midnight (local time) "
         "— raise the quota in Settings ▸ Quotas or wait for it to reset")


def _job(ui, prompt: str, count: int = 4) -> int:  # type: ignore[no-untyped-def]
    return ui.vm.generation.journal.create({"prompt": prompt, "provider": "stability",
                                              "model": "stable-image-core", "count": count}, ["stability"], count)


def _in_front(dock) -> bool:  # type: ignore[no-untyped-def]
    return dock.isVisible() and not dock.visibleRegion().isEmpty()


def test_failed_card_shows_the_reason_under_a_full_width_title(qtbot, gen_window) -> None:
    win, ui = gen_window
    win.resize(1600, 1000)
    ui.queue_dock.raise_()
    job_id = _job(ui, "batch of quota blocked lighthouses at dawn")
    ui.jobs.on_event(JobEvent(job_id, "started", provider="stability"))
    ui.jobs.on_event(JobEvent(job_id, "failed", message=QUOTA))
    qtbot.waitUntil(lambda: _in_front(ui.queue_dock), timeout=2000)
    qtbot.wait(30)
    card = ui.queue.cards[job_id]
    assert card.error.isVisible() and card.error.text() == QUOTA and card.error.wordWrap()
    assert QUOTA in card.error.toolTip() and QUOTA in card.prompt.toolTip()
    # Directly under the title row and entirely inside the visible part of the queue: no scrolling needed.
    assert card.prompt.y() < card.error.y() < card.meta.y()
    bottom = card.error.mapTo(ui.queue, card.error.rect().bottomLeft()).y()
    assert bottom < ui.queue.height(), f"the reason ends at {bottom}, the queue is {ui.queue.height()} tall"
    # The title gets the card's width: Retry lives on its own row.
    assert card.retry.isVisible() and card.retry.mapTo(card, card.retry.rect().topLeft()).y() > card.error.y()
    assert card.prompt.width() >= card.width() - card.state.width() - 40
    assert ui.queue_dock.windowTitle() == "Queue · 1 failed"


def test_status_line_expires_and_can_be_dismissed(qtbot, gen_window, pollinations) -> None:  # noqa: F811
    _win, ui = gen_window
    pollinations.fault("generate", Reply(400, {"error": "Bad Request", "message": "prompt rejected by filter"}))
    ui.panel.prompt.setPlainText("a castle made of cheese")
    ui.panel.start_generate()
    qtbot.waitUntil(lambda: any(i.state == "failed" for i in ui.jobs.items.values()), timeout=3000)
    failed = next(i.job_id for i in ui.jobs.items.values() if i.state == "failed")
    queue = queue_view = ui.queue
    queue.status_timer.setInterval(50)  # the real one is a few seconds
    queue_view.retry_job(failed)
    assert queue.status_box.isVisible() and queue.status.text().startswith(f"Retrying job {failed} as job ")
    qtbot.waitUntil(lambda: not queue.status_box.isVisible(), timeout=2000)
    assert queue.status.text() == ""
    queue.status_timer.setInterval(60_000)
    queue_view.retry_job(failed)
    assert queue.status_box.isVisible()
    qtbot.mouseClick(queue.dismiss, Qt.MouseButton.LeftButton)
    assert not queue.status_box.isVisible() and not queue.status_timer.isActive()


def test_details_and_queue_are_tabs_that_come_forward_when_needed(qtbot, gen_window, pollinations,  # noqa: F811
                                                                   tmp_path: Path) -> None:
    win, ui = gen_window
    assert ui.queue_dock in win.tabifiedDockWidgets(win.detail_dock)
    folder = tmp_path / "in"
    folder.mkdir()
    import_and_wait(qtbot, win, [a1111_png(folder / "a.png"), a1111_png(folder / "b.png", seed=2)])
    first, second = win.model.ids[:2]
    ui.panel.prompt.setPlainText("a fox in the snow")
    win.view.setCurrentIndex(win.model.index_of(first))
    qtbot.waitUntil(lambda: _in_front(win.detail_dock), timeout=2000)
    ui.panel.start_generate()
    qtbot.waitUntil(lambda: _in_front(ui.queue_dock), timeout=2000)  # a job started: the queue comes forward
    qtbot.waitUntil(lambda: ui.queue_dock.windowTitle() == "Queue · 1 active"
                    or all(i.finished for i in ui.jobs.items.values()), timeout=2000)
    qtbot.waitUntil(lambda: all(i.state == "done" for i in ui.jobs.items.values()), timeout=3000)
    qtbot.waitUntil(lambda: win.model.rowCount() == 3, timeout=3000)
    qtbot.wait(50)
    assert _in_front(ui.queue_dock)  # the refresh that re-selects the same image does not take it away
    assert ui.queue_dock.windowTitle() == "Queue"
    win.view.setCurrentIndex(win.model.index_of(second))  # the creator picks another image
    qtbot.waitUntil(lambda: _in_front(win.detail_dock), timeout=2000)
    win.actions["toggle_details"].trigger()
    assert not win.detail_dock.isVisible()
    win.view.setCurrentIndex(win.model.index_of(first))
    assert not win.detail_dock.isVisible()  # closed stays closed
    win.actions["toggle_details"].trigger()
    qtbot.waitUntil(lambda: _in_front(win.detail_dock), timeout=2000)


def test_queue_title_says_what_is_going_on() -> None:
    assert queue_title({"pending": 1, "running": 2, "failed": 1}) == "Queue · 3 active"
    assert queue_title({"done": 4, "failed": 2}) == "Queue · 2 failed"
    assert queue_title({"done": 4}) == "Queue"


def test_generated_image_details_list_provider_model_and_seed_once(qtbot, gen_window, pollinations,  # noqa: F811
                                                                   tmp_path: Path) -> None:
    win, ui = gen_window
    folder = tmp_path / "in"
    folder.mkdir()
    import_and_wait(qtbot, win, [a1111_png(folder / "imported.png")])
    imported = win.model.ids[0]
    ui.panel.prompt.setPlainText("a watercolour heron")
    ui.panel.seed.mode.setCurrentIndex(ui.panel.seed.mode.findData("fixed"))
    ui.panel.seed.value.setValue(77)
    ui.panel.start_generate()
    qtbot.waitUntil(lambda: win.model.rowCount() == 2, timeout=3000)
    generated = next(i for i in win.model.ids if i != imported)
    win.view.setCurrentIndex(win.model.index_of(generated))
    qtbot.waitUntil(lambda: ui.requested.isVisibleTo(win.detail), timeout=2000)
    detail = win.detail

    def shown_titles() -> list[str]:
        plain = [detail.keys[k].text() for k in detail.keys if detail.keys[k].isVisibleTo(detail)]
        table = [t for t, _a, _b in ui.requested.lines] if ui.requested.isVisibleTo(detail) else []
        return plain + table

    titles = shown_titles()
    for title in ("Provider", "Model", "Seed", "Size"):
        assert titles.count(title) == 1, titles
    assert "Seed: 77 → 77" in ui.requested.text()
    assert detail.values["size"].text().startswith("PNG") and detail.keys["size"].text() == "File type"

    win.view.setCurrentIndex(win.model.index_of(imported))  # imported: no request, the plain rows are back
    qtbot.waitUntil(lambda: not ui.requested.isVisibleTo(detail), timeout=2000)
    for key in ("provider", "model", "seed"):
        assert detail.values[key].isVisibleTo(detail) or not detail.values[key].text()
    assert detail.values["seed"].isVisibleTo(detail) and detail.keys["size"].text() == "Size"
    assert "×" in detail.values["size"].text()
