"""The queue dock and reuse: cancel (with the honest billing note), cancel all, retry a failed job, fallback
("fell back from" in the queue and the detail view), and reusing parts of a gallery image's parameters."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from desktop.ui.gallery_menu import build_gallery_menu
from tests.desktop.ui.conftest import A1111_PROMPT, A1111_SEED, a1111_png, import_and_wait
from tests.desktop.ui.gen_fixtures import gen_window, pollinations, replicate  # noqa: F401
from tests.fakes.servers.base import Reply


def _choose(combo, value) -> None:  # type: ignore[no-untyped-def]
    combo.setCurrentIndex(combo.findData(value))


def _submit(qtbot, ui, prompt: str) -> int:  # type: ignore[no-untyped-def]
    ui.panel.prompt.setPlainText(prompt)
    assert ui.panel.generate.isEnabled(), ui.panel.problem.text()
    before = set(ui.jobs.items)
    qtbot.mouseClick(ui.panel.generate, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(set(ui.jobs.items) - before), timeout=2000)
    return (set(ui.jobs.items) - before).pop()


def test_cancel_async_job_calls_the_provider_and_says_nothing_more_is_billed(qtbot, gen_window, replicate) -> None:
    _win, ui = gen_window
    replicate.polls_starting = 10**6  # never finishes by itself
    _choose(ui.panel.provider, "replicate")
    job_id = _submit(qtbot, ui, "a slow lighthouse")
    qtbot.waitUntil(lambda: ui.jobs.items[job_id].state == "running"
                    and ui.jobs.items[job_id].progress is not None, timeout=2000)
    card = ui.queue.cards[job_id]
    assert card.cancel.isVisible() and card.bar.isVisible()
    qtbot.mouseClick(card.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ui.jobs.items[job_id].state == "cancelled", timeout=2000)
    qtbot.waitUntil(lambda: len(replicate.calls("cancel")) == 1, timeout=2000)
    assert "nothing more will be billed" in card.note.text()
    assert card.retry.isVisible() and not card.cancel.isVisible()
    assert card.state.text() == "Cancelled"


def test_cancel_all_on_a_sync_provider_warns_it_may_still_bill(qtbot, gen_window, pollinations) -> None:
    _win, ui = gen_window
    pollinations.work_s = 1.5  # the request is in flight when we cancel
    first = _submit(qtbot, ui, "a slow fox")
    qtbot.waitUntil(lambda: ui.jobs.items[first].state == "running", timeout=2000)
    qtbot.waitUntil(ui.queue.cancel_all.isEnabled, timeout=1000)
    qtbot.mouseClick(ui.queue.cancel_all, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ui.jobs.items[first].state == "cancelled", timeout=2000)
    assert "may still bill" in ui.queue.cards[first].note.text()
    assert "may still bill" in ui.queue.status.text()
    assert not ui.queue.cancel_all.isEnabled()


def test_failed_job_shows_creator_wording_and_retry_succeeds(qtbot, gen_window, pollinations) -> None:
    win, ui = gen_window
    pollinations.fault("generate", Reply(400, {"error": "Bad Request", "message": "prompt rejected by filter"}))
    job_id = _submit(qtbot, ui, "a castle made of cheese")
    qtbot.waitUntil(lambda: ui.jobs.items[job_id].state == "failed", timeout=3000)
    card = ui.queue.cards[job_id]
    assert card.error.isVisible() and "change the parameters" in card.error.text()
    assert card.retry.isVisible() and not card.bar.isVisible()

    qtbot.mouseClick(card.retry, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(ui.jobs.items) == 2, timeout=2000)
    retried = max(ui.jobs.items)
    qtbot.waitUntil(lambda: ui.jobs.items[retried].state == "done", timeout=3000)
    qtbot.waitUntil(lambda: win.model.rowCount() == 1, timeout=3000)
    assert ui.queue.counts.text() == "1 done · 1 failed"
    ui.queue.clear.click()
    assert not ui.jobs.items and ui.queue.empty.isVisible()


def test_fallback_to_the_next_provider_is_shown_in_queue_and_detail(qtbot, gen_window, pollinations, replicate,
                                                                     services) -> None:
    win, ui = gen_window
    services.library.library.set_setting("fallback_order", ["replicate"])
    pollinations.fault("generate", Reply(503, {"error": "Service Unavailable"}), times=20)
    job_id = _submit(qtbot, ui, "a fox under the northern lights")
    qtbot.waitUntil(lambda: ui.jobs.items[job_id].state == "done", timeout=3000)
    item = ui.jobs.items[job_id]
    assert item.fallback_from == "pollinations" and item.provider == "replicate"
    assert "fell back from pollinations" in ui.queue.cards[job_id].meta.text()
    assert len(replicate.calls("create_model")) == 1

    qtbot.waitUntil(lambda: win.model.rowCount() == 1, timeout=3000)
    image_id = win.model.ids[0]
    win.view.setCurrentIndex(win.model.index_of(image_id))
    qtbot.waitUntil(lambda: ui.requested is not None and ui.requested.isVisible(), timeout=2000)
    assert "Pollinations (free) → Replicate (fell back from Pollinations (free))" in ui.requested.text()
    assert win.detail.values["fallback_from"].text() == "pollinations"
    assert "Seed: random" in ui.requested.text()


def test_reuse_only_what_was_asked(qtbot, gen_window, tmp_path: Path) -> None:
    win, ui = gen_window
    folder = tmp_path / "in"
    folder.mkdir()
    import_and_wait(qtbot, win, [a1111_png(folder / "l.png", size=(832, 1216))])
    image_id = win.model.ids[0]
    win.view.setCurrentIndex(win.model.index_of(image_id))
    vm, panel = ui.vm, ui.panel
    panel.prompt.setPlainText("my own words")
    _choose(panel.shape, "16:9")

    menu = build_gallery_menu(win)
    reuse = menu.findChild(type(menu), "reuseMenu")
    assert reuse is not None
    next(a for a in reuse.actions() if a.objectName() == "reuseSeed").trigger()
    assert vm.form.seed_mode == "fixed" and vm.form.seed == A1111_SEED
    assert panel.seed.value.value() == A1111_SEED
    assert vm.form.prompt == "my own words" and vm.form.shape == "16:9"  # untouched

    ui.reuse_bar.buttons["reuseSize"].click()
    assert vm.form.shape == "custom" and (vm.form.width, vm.form.height) == (832, 1216)
    assert vm.form.prompt == "my own words"

    ui.reuse_bar.buttons["reusePrompt"].click()
    assert panel.prompt.toPlainText() == A1111_PROMPT and vm.form.provider == "pollinations"
    assert vm.form.negative_prompt == ""  # "prompt only" leaves the negative prompt alone

    panel.prompt.setPlainText("other")
    ui.reuse_bar.buttons["reuseAll"].click()
    assert vm.form.prompt == A1111_PROMPT and vm.form.negative_prompt == "blurry, lowres"
    assert vm.request().seed == A1111_SEED
