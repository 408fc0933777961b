"""The generation panel end to end: type, set parameters, Generate against loopback fakes, see progress in
the queue and the images in the gallery; capability-driven controls; cost confirmation; history."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from tests.desktop.ui.gen_fixtures import gen_window, pollinations, replicate  # noqa: F401
from tests.desktop.ui.test_window import _wait_dialog


def _choose(combo, value) -> None:  # type: ignore[no-untyped-def]
    index = combo.findData(value)
    assert index >= 0, f"{value!r} not offered"
    combo.setCurrentIndex(index)


def test_pollinations_is_the_default_and_a_batch_lands_in_the_gallery(qtbot, gen_window, pollinations) -> None:
    win, ui = gen_window
    panel = ui.panel
    assert win.generate is panel and panel.provider.currentData() == "pollinations"
    assert not panel.generate.isEnabled() and "Type a prompt" in panel.problem.text()

    qtbot.keyClicks(panel.prompt, "a red fox in fresh snow")
    _choose(panel.shape, "16:9")
    panel.count.setValue(3)
    _choose(panel.seed.mode, "fixed")
    panel.seed.value.setValue(42)
    assert panel.generate.isEnabled() and panel.generate.text() == "Generate · free"
    assert panel.summary.text() == "Will send: Pollinations · Flux (free) · 16:9 · 3 images · seed 42 · free"

    qtbot.mouseClick(panel.generate, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(ui.jobs.items) == 1, timeout=2000)
    job_id = next(iter(ui.jobs.items))
    card = ui.queue.cards[job_id]
    assert len(card.slots) == 3  # N placeholders, filling in as images arrive
    qtbot.waitUntil(lambda: ui.jobs.items[job_id].state == "done", timeout=3000)
    qtbot.waitUntil(lambda: card.filled_count() == 3 and all(s.pixmap() and not s.pixmap().isNull()
                                                            for s in card.slots), timeout=3000)
    qtbot.waitUntil(lambda: win.model.rowCount() == 3, timeout=3000)
    rows = win.library.rows(win.model.ids).values()
    assert {r.prompt for r in rows} == {"a red fox in fresh snow"} and {r.provider for r in rows} == {"pollinations"}
    generated = [r for r in pollinations.log if r.path.startswith("/prompt/")]
    assert len(generated) == 3
    assert {r.query["seed"][0] for r in generated} == {"42", "43", "44"} and generated[0].query["width"] == ["1024"]
    assert generated[0].query["height"] == ["576"]
    assert not card.bar.isVisible() and not card.cancel.isVisible()


def test_async_provider_reports_progress_in_the_queue(qtbot, gen_window, replicate) -> None:
    win, ui = gen_window
    panel = ui.panel
    _choose(panel.provider, "replicate")
    panel.prompt.setPlainText("a lighthouse in a storm")
    assert panel.generate.text() == "Generate · ≈ $0.003"
    seen: list[float] = []
    ui.jobs.changed.connect(lambda jid: seen.append(ui.queue.cards[jid].bar.value()))
    panel.start_generate()
    qtbot.waitUntil(lambda: any(i.state == "done" for i in ui.jobs.items.values()), timeout=3000)
    assert any(0 < v < 1000 for v in seen), seen  # a provider-reported progress step was shown
    qtbot.waitUntil(lambda: win.model.rowCount() == 1, timeout=3000)
    assert len(replicate.calls("create_model")) == 1


def test_controls_follow_the_models_capabilities(qtbot, gen_window) -> None:
    _win, ui = gen_window
    panel = ui.panel
    fields = panel.fields
    _choose(panel.provider, "stability")
    _choose(panel.model, "sd3.5-large")
    assert panel.negative.isVisibleTo(panel) and fields["seed"].isVisibleTo(panel)
    assert not fields["quality"].isVisibleTo(panel) and panel.init.isVisibleTo(panel)
    assert panel.count.maximum() == 4
    assert [panel.shape.itemData(i) for i in range(panel.shape.count())][:3] == ["1:1", "16:9", "9:16"]
    panel.negative.setPlainText("blurry")

    _choose(panel.provider, "openai")
    assert not panel.negative.isVisibleTo(panel) and not fields["seed"].isVisibleTo(panel)
    assert fields["quality"].isVisibleTo(panel) and panel.count.maximum() == 10
    assert panel.shape.itemData(0) == "1024x1024" and panel.shape.findData("custom") >= 0
    assert ui.vm.request().negative_prompt == "" and ui.vm.request().seed is None
    _choose(panel.shape, "custom")
    assert panel.width_box.isVisibleTo(panel) and panel.height_box.isVisibleTo(panel)
    assert "(needs key)" not in panel.provider.currentText()  # key status not checked in this fixture

    _choose(panel.provider, "stability")  # the hidden negative prompt was kept, not lost
    assert panel.negative.toPlainText() == "blurry" and ui.vm.request().negative_prompt == "blurry"


def test_refuses_early_with_the_reason(qtbot, gen_window) -> None:
    _win, ui = gen_window
    panel = ui.panel
    panel.prompt.setPlainText("x" * 2500)  # Pollinations accepts 2000 characters
    assert not panel.generate.isEnabled()
    assert "2,500 characters" in panel.problem.text() and "at most 2,000" in panel.generate.toolTip()
    panel.prompt.setPlainText("a small boat")
    _choose(panel.shape, "custom")
    panel.width_box.setValue(3000)  # clamped by the spin box to the model's maximum
    assert panel.width_box.value() == 2048 and panel.generate.isEnabled()
    panel.height_box.setValue(1001)
    assert not panel.generate.isEnabled() and "multiples of 8" in panel.problem.text()
    panel.prompt.setPlainText("   ")
    assert "the prompt is empty" in panel.problem.text() and not panel.generate.isEnabled()


def test_missing_key_is_marked_and_blocks_generate(qtbot, gen_window, monkeypatch) -> None:
    _win, ui = gen_window
    qtbot.waitUntil(lambda: True)
    task_done: list[bool] = []

    async def refresh() -> None:
        await ui.vm.refresh_availability(detect_local=False)
        task_done.append(True)

    win, _ = gen_window
    win.runner.spawn(refresh())
    qtbot.waitUntil(lambda: bool(task_done), timeout=3000)
    panel = ui.panel
    labels = [panel.provider.itemText(i) for i in range(panel.provider.count())]
    assert "OpenAI (needs key)" in labels and "Pollinations (free)" in labels
    assert not any("AUTOMATIC1111" in label for label in labels)  # local backends only when configured
    _choose(panel.provider, "openai")
    panel.prompt.setPlainText("a teapot")
    assert not panel.generate.isEnabled() and "needs an API key" in panel.problem.text()


def test_cost_confirmation_declined_then_accepted(qtbot, gen_window, replicate, services) -> None:
    win, ui = gen_window
    panel = ui.panel
    services.library.library.set_setting("confirm_cost_usd", 0.005)
    _choose(panel.provider, "replicate")
    _choose(panel.model, "black-forest-labs/flux-dev")  # $0.025 per image
    panel.prompt.setPlainText("an expensive cathedral")

    task = win.runner.spawn(panel.run_generate())
    box = _wait_dialog(qtbot, win, "confirmDialog")
    assert "≈ $0.025" in box.text() and not panel.generate.isEnabled()
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(task.done, timeout=2000)
    assert task.result() is None and not ui.jobs.items and not replicate.calls("create_model")

    task = win.runner.spawn(panel.run_generate())
    box = _wait_dialog(qtbot, win, "confirmDialog")
    next(b for b in box.buttons() if b.text() == "Generate").click()
    qtbot.waitUntil(task.done, timeout=2000)
    assert isinstance(task.result(), int)
    qtbot.waitUntil(lambda: ui.jobs.items[task.result()].state == "done", timeout=3000)
    assert len(replicate.calls("create_model")) == 1


def test_ctrl_enter_generates_and_history_fills_the_prompt(qtbot, gen_window, pollinations) -> None:
    _win, ui = gen_window
    panel = ui.panel
    panel.prompt.setFocus()
    qtbot.keyClicks(panel.prompt, "a moonlit harbour")
    qtbot.keyClick(panel.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(ui.jobs.items) == 1, timeout=2000)
    assert panel.prompt.toPlainText() == "a moonlit harbour"  # Ctrl+Enter did not insert a newline
    assert ui.history.prompts[0] == "a moonlit harbour"
    ui.history.add("a windmill at noon")

    panel.prompt.setPlainText("")
    panel.show_history()
    popup = panel.history_popup
    assert popup.isVisible() and popup.listing.count() == 2
    qtbot.keyClicks(popup.filter, "moon harb")
    assert popup.listing.count() == 1
    qtbot.keyClick(popup.filter, Qt.Key.Key_Return)
    assert panel.prompt.toPlainText() == "a moonlit harbour" and not popup.isVisible()


def test_provider_settings_hide_disabled_providers_and_pick_the_default_model(qtbot, gen_window, services) -> None:
    from storage.prefs import ProviderSettings

    _win, ui = gen_window
    lib = services.library.library
    lib.save_provider_setting(ProviderSettings(provider="kie", enabled=False))
    lib.save_provider_setting(ProviderSettings(provider="stability", default_model="sd3.5-medium"))
    ids = [choice.id for choice in ui.vm.providers()]
    assert "kie" not in ids and "stability" in ids
    ui.vm.set_provider("stability")
    assert ui.vm.form.model == "sd3.5-medium"
