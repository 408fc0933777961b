"""The form rules without widgets: shapes per model, request building, cost wording, partial reuse; and the
view-model's seed increment and queue history after a restart."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import Qt

from desktop.viewmodels import generation_form as F
from providers.catalogue import Catalogue
from tests.desktop.ui.gen_fixtures import gen_window, pollinations  # noqa: F401

CAT = Catalogue.load()


def caps(provider: str, model: str | None = None):  # type: ignore[no-untyped-def]
    info = CAT.get(provider)
    return info.model(model or info.default_model)


def test_shapes_follow_the_model() -> None:
    openai, stability, pollinations = caps("openai"), caps("stability", "sd3.5-large"), caps("pollinations")
    assert [o.value for o in F.shape_options(openai)][:2] == ["1024x1024", "1536x1024"]
    assert F.shape_options(openai)[-1].value == F.CUSTOM and F.CUSTOM not in [o.value for o in
                                                                              F.shape_options(stability)]
    assert F.fit_shape(openai, "1:1", 0, 0)[0] == "1024x1024"  # same ratio, listed size
    assert F.fit_shape(stability, "1536x1024", 0, 0)[0] == "3:2"
    assert F.fit_shape(pollinations, F.CUSTOM, 4096, 100) == (F.CUSTOM, 2048, 256)  # clamped to the model
    assert F.fit_shape(stability, "", 832, 1216)[0] == "2:3"  # 13:19 is not offered: the nearest proportion
    assert F.fit_shape(stability, "", 1536, 640)[0] == "21:9"


def test_request_leaves_out_what_the_model_cannot_take() -> None:
    form = F.FormState(prompt="a cat", provider="openai", negative_prompt="dogs", seed_mode="fixed", seed=5,
                       shape="1536x1024", count=2, quality="high")
    request = F.to_request(form, caps("openai"))
    assert (request.negative_prompt, request.seed, request.width, request.height) == ("", None, 1536, 1024)
    assert F.estimate_usd(request, caps("openai")) == pytest.approx(2 * caps("openai").price_for("1536x1024", "high"))
    stab = F.to_request(dataclasses.replace(form, provider="stability", shape="16:9"), caps("stability", "sd3.5-large"))
    assert (stab.negative_prompt, stab.seed, stab.aspect_ratio, stab.quality) == ("dogs", 5, "16:9", "high")


def test_cost_wording() -> None:
    assert F.cost_text(0) == "free" and F.cost_text(None) == "price unknown"
    assert F.cost_text(0.13) == "≈ $0.13" and F.cost_text(0.003) == "≈ $0.003"


def test_reuse_replaces_only_the_parts_asked_for() -> None:
    form = F.FormState(prompt="mine", provider="pollinations", model="flux", negative_prompt="keep me",
                       seed_mode="random", shape="16:9")
    image = F.Reused(prompt="theirs", negative_prompt="theirs-neg", provider="stability", model="sd3.5-large",
                     seed=99, width=1344, height=768)
    seed_only = F.reuse(form, image, ["seed"], CAT.get("stability"))
    assert (seed_only.prompt, seed_only.shape, seed_only.seed_mode, seed_only.seed) == ("mine", "16:9", "fixed", 99)
    size_only = F.reuse(form, image, ["size"], CAT.get("stability"))
    assert (size_only.prompt, size_only.seed_mode, size_only.width, size_only.height) == ("mine", "random", 1344, 768)
    everything = F.reuse(form, image, ["all"], CAT.get("stability"))
    assert (everything.provider, everything.model, everything.negative_prompt) == ("stability", "sd3.5-large",
                                                                                   "theirs-neg")
    unknown_model = F.reuse(form, dataclasses.replace(image, model="gone"), ["all"], CAT.get("stability"))
    assert unknown_model.provider == "pollinations"  # never switch to a model the catalogue lacks


def test_increment_seed_and_queue_history_after_restart(qtbot, gen_window, pollinations, services) -> None:
    win, ui = gen_window
    vm, panel = ui.vm, ui.panel
    panel.prompt.setPlainText("a lantern")
    panel.seed.mode.setCurrentIndex(panel.seed.mode.findData("increment"))
    panel.seed.value.setValue(10)
    panel.count.setValue(2)
    qtbot.mouseClick(panel.generate, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(ui.jobs.items), timeout=2000)
    assert vm.form.seed == 12 and panel.seed.value.value() == 12  # next run continues after 10, 11
    job_id = next(iter(ui.jobs.items))
    qtbot.waitUntil(lambda: ui.jobs.items[job_id].state == "done", timeout=3000)

    from desktop.ui.generate.jobs_model import JobsModel
    from desktop.viewmodels.generation_queue import QueueViewModel

    fresh = JobsModel(QueueViewModel(services.extras["generation"]))
    fresh.load_history()
    assert fresh.items[job_id].state == "done" and fresh.items[job_id].saved == 2
    assert fresh.items[job_id].prompt == "a lantern"


def test_summary_names_the_negative_prompt_shortened() -> None:
    stability = caps("stability", "sd3.5-large")
    form = F.FormState(prompt="a cat", provider="stability", model="sd3.5-large", shape="1:1",
                       negative_prompt="blurry,  low quality, watermark, text, extra fingers")
    text = F.summary(F.to_request(form, stability), CAT.get("stability"), stability, 0.065)
    assert " · negative: blurry, low quality, wa… · " in text and text.endswith("$0.065")
    short = F.summary(F.to_request(dataclasses.replace(form, negative_prompt="blurry"), stability),
                      CAT.get("stability"), stability, None)
    assert "negative: blurry ·" in short
    none = F.summary(F.to_request(dataclasses.replace(form, negative_prompt="  "), stability),
                     CAT.get("stability"), stability, None)
    assert "negative" not in none
