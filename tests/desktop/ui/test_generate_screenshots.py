"""Offscreen screenshots of the parameters view (two providers with different capabilities), the queue in
several states and the whole window. Always rendered (and checked for clipped controls); written to the folder
named by IMAGES_STUDIO_SCREENSHOTS (e.g. docs/screenshots) when that variable is set."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, ImageDraw
from PySide6.QtWidgets import QAbstractButton, QComboBox, QLabel, QWidget

from desktop.services.jobs import JobEvent
from tests.desktop.ui.conftest import import_and_wait
from tests.desktop.ui.gen_fixtures import gen_window, pollinations, replicate  # noqa: F401


def _save(widget: QWidget, name: str, tmp_path: Path) -> Path:
    pixmap = widget.grab()
    assert not pixmap.isNull() and pixmap.width() > 200
    folder = Path(os.environ.get("IMAGES_STUDIO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    assert pixmap.save(str(path))
    return path


def _assert_nothing_clipped(root: QWidget) -> None:
    """Every visible button, combo and one-line label gets at least its minimum size hint."""
    for widget in root.findChildren(QWidget):
        if not widget.isVisibleTo(root) or not isinstance(widget, (QAbstractButton, QComboBox, QLabel)):
            continue
        if isinstance(widget, QLabel) and (widget.wordWrap() or widget.pixmap() is not None
                                           or widget.sizePolicy().horizontalPolicy().name == "Ignored"):
            continue
        box = widget.rect().translated(widget.mapTo(root, widget.rect().topLeft()))
        assert root.rect().contains(box), f"{widget.objectName()!r} {box} leaves {root.rect()}"
        hint = widget.minimumSizeHint()
        assert widget.width() >= hint.width() - 1 and widget.height() >= hint.height() - 1, (
            f"{type(widget).__name__} {widget.objectName()!r} {getattr(widget, 'text', lambda: '')()!r} "
            f"is {widget.width()}x{widget.height()}, needs {hint.width()}x{hint.height()}")


def _gradient(path: Path, a: tuple[int, int, int], b: tuple[int, int, int], size=(320, 320)) -> Path:
    image = Image.new("RGB", size, a)
    draw = ImageDraw.Draw(image)
    for y in range(size[1]):
        t = y / size[1]
        draw.line([(0, y), (size[0], y)], fill=tuple(int(a[i] * (1 - t) + b[i] * t) for i in range(3)))
    draw.ellipse([size[0] * 0.3, size[1] * 0.25, size[0] * 0.7, size[1] * 0.65], fill=(250, 235, 200))
    image.save(path)
    return path


def _choose(combo: QComboBox, value: str) -> None:
    combo.setCurrentIndex(combo.findData(value))


def test_parameters_view_for_two_providers(qtbot, gen_window, tmp_path: Path) -> None:
    win, ui = gen_window
    panel = ui.panel
    panel.resize(980, panel.sizeHint().height())
    _choose(panel.provider, "stability")
    _choose(panel.model, "sd3.5-large")
    panel.prompt.setPlainText("A lighthouse on a basalt cliff at golden hour, waves crashing, seagulls, "
                              "volumetric light")
    panel.negative.setPlainText("blurry, text, watermark")
    _choose(panel.shape, "16:9")
    panel.count.setValue(2)
    _choose(panel.seed.mode, "fixed")
    panel.seed.value.setValue(42)
    _choose(panel.style_combo, "cinematic")
    panel.resize(980, panel.sizeHint().height())
    qtbot.wait(20)
    _assert_nothing_clipped(panel)
    assert "Stability AI · Stable Diffusion 3.5 Large · 16:9 · 2 images · seed 42" in panel.summary.text()
    _save(panel, "parameters-stability", tmp_path)

    _choose(panel.provider, "openai")
    _choose(panel.shape, "1536x1024")
    _choose(panel.quality, "high")
    panel.count.setValue(4)
    panel.resize(980, panel.sizeHint().height())
    qtbot.wait(20)
    _assert_nothing_clipped(panel)
    assert not panel.fields["seed"].isVisible() and panel.fields["quality"].isVisible()
    _save(panel, "parameters-openai", tmp_path)


def test_queue_in_several_states(qtbot, gen_window, tmp_path: Path) -> None:
    win, ui = gen_window
    folder = tmp_path / "art"
    folder.mkdir()
    colours = [((30, 60, 120), (240, 140, 60)), ((20, 90, 80), (200, 220, 140)), ((80, 30, 90), (250, 120, 150))]
    import_and_wait(qtbot, win, [_gradient(folder / f"{i}.png", a, b) for i, (a, b) in enumerate(colours)])
    image_ids = sorted(win.model.ids)
    journal = ui.vm.generation.journal

    def job(prompt: str, provider: str, model: str, count: int) -> int:
        return journal.create({"prompt": prompt, "provider": provider, "model": model, "count": count},
                              [provider], count)

    done = job("Misty pine forest at dawn, soft light", "stability", "sd3.5-large", 3)
    running = job("A copper robot reading in the rain, cinematic", "replicate", "black-forest-labs/flux-dev", 2)
    waiting = job("Isometric tiny island with a windmill", "openai", "gpt-image-2", 1)
    failed = job("Portrait of a knight in ornate armour", "openai", "gpt-image-2", 1)
    cancelled = job("Neon city street at night, reflections", "pollinations", "flux", 1)
    fell_back = job("Watercolour fox in the snow", "pollinations", "flux", 1)
    events = [
        JobEvent(done, "started", provider="stability"),
        *[JobEvent(done, "image", image_id=i) for i in image_ids],
        JobEvent(done, "done", progress=1.0),
        JobEvent(fell_back, "started", provider="pollinations"),
        JobEvent(fell_back, "fallback", provider="stability", message="falling back from pollinations"),
        JobEvent(fell_back, "started", provider="stability"),
        JobEvent(running, "started", provider="replicate"),
        JobEvent(running, "progress", progress=0.45),
        JobEvent(running, "image", image_id=image_ids[1]),
        JobEvent(waiting, "queued"),
        JobEvent(failed, "started", provider="openai"),
        JobEvent(failed, "failed", message="OpenAI: invalid API key — check the API key in Settings ▸ Providers"),
        JobEvent(cancelled, "started", provider="pollinations"),
        JobEvent(cancelled, "cancelled"),
    ]
    for event in events:
        ui.jobs.on_event(event)
    ui.jobs.items[cancelled].note = "stopped waiting; the provider may still bill a request it already received"
    ui.jobs.changed.emit(cancelled)
    qtbot.waitUntil(lambda: ui.queue.cards[done].filled_count() == 3 and all(
        s.pixmap() is not None and not s.pixmap().isNull() for s in ui.queue.cards[done].slots), timeout=3000)
    qtbot.waitUntil(lambda: ui.queue.cards[running].slots[0].pixmap() is not None
                    and not ui.queue.cards[running].slots[0].pixmap().isNull(), timeout=3000)
    ui.queue.resize(420, 900)
    qtbot.wait(20)
    _assert_nothing_clipped(ui.queue)
    assert ui.queue.counts.text() == "1 pending · 2 running · 1 done · 1 failed · 1 cancelled"
    _save(ui.queue, "queue", tmp_path)

    ui.panel.prompt.setPlainText("A lighthouse on a basalt cliff at golden hour")
    win.resize(1500, 950)
    ui.queue_dock.raise_()  # as after pressing Generate: the queue tab in front of the details
    qtbot.wait(50)
    _assert_nothing_clipped(ui.queue)
    _save(win, "window-generate", tmp_path)


def test_detail_shows_requested_against_actual(qtbot, gen_window, pollinations, replicate, services,  # noqa: F811
                                               tmp_path: Path) -> None:
    from tests.fakes.servers.base import Reply

    win, ui = gen_window
    services.library.library.set_setting("fallback_order", ["replicate"])
    pollinations.fault("generate", Reply(503, {"error": "Service Unavailable"}), times=20)
    ui.panel.prompt.setPlainText("A watercolour fox under the northern lights")
    ui.panel.seed.mode.setCurrentIndex(ui.panel.seed.mode.findData("fixed"))
    ui.panel.seed.value.setValue(1234)
    ui.panel.start_generate()
    qtbot.waitUntil(lambda: win.model.rowCount() == 1, timeout=3000)
    win.view.setCurrentIndex(win.model.index_of(win.model.ids[0]))
    qtbot.waitUntil(lambda: ui.requested.isVisible() and not win.detail.preview.source().isNull(), timeout=3000)
    assert "Seed: 1234 → 1234" in ui.requested.text()
    win.detail_dock.resize(360, 900)
    qtbot.wait(20)
    _save(win.detail, "detail-requested-actual", tmp_path)
