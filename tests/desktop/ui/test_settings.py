"""Settings dialog (keys, provider settings, quotas, general), usage view and cost confirmation, offscreen."""

from __future__ import annotations

import csv
import io

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QMainWindow, QMessageBox

from desktop.asyncqt import TaskRunner
from desktop.ui.settings import confirm_cost, install_money_ui
from desktop.ui.usage_view import UsageView
from providers.base import ImageRequest
from storage import quotas as q
from storage.secrets import SERVICE
from tests.fakes.servers.openai_fake import OpenAIFake

pytestmark = pytest.mark.gui


@pytest.fixture
def ui(qtbot, qloop, services):  # type: ignore[no-untyped-def]
    window = QMainWindow()
    window.menuBar().addMenu("&File")
    window.menuBar().addMenu("&Help")
    qtbot.addWidget(window)
    runner = TaskRunner()
    install_money_ui(window, services, runner)
    yield window.money_ui
    for widget in (window.money_ui.settings, window.money_ui.usage):
        if widget is not None:
            widget.close()


def _wait(qtbot, task) -> object:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(task.done, timeout=5000)
    return task.result()


def test_menu_actions_open_a_non_modal_dialog(qtbot, ui):
    menus = [a.text() for a in ui.window.menuBar().actions()]
    assert menus == ["&File", "&Tools", "&Help"]  # placed before Help
    assert ui.actions["settings"].shortcut().toString() == "Ctrl+,"
    ui.actions["settings"].trigger()
    dialog = ui.settings
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    ui.actions["settings"].trigger()
    assert ui.settings is dialog  # one dialog, raised again
    ui.actions["usage"].trigger()
    assert ui.usage is not None and ui.usage.isVisible()


def test_save_show_hide_and_remove_a_key(qtbot, ui, desktop_memory_keyring):
    page = ui.open_settings().show_page("openai")
    qtbot.waitUntil(lambda: page.status is not None)
    assert page.key_edit.echoMode() == QLineEdit.EchoMode.Password and not page.banner.isVisible()
    qtbot.mouseClick(page.show_key, Qt.MouseButton.LeftButton)
    assert page.key_edit.echoMode() == QLineEdit.EchoMode.Normal and page.show_key.text() == "Hide"
    page.key_edit.setText("  sk-typed-in-the-dialog-0001 ")
    assert page.save_button.isEnabled()
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.status.source == "keychain", timeout=5000)
    assert desktop_memory_keyring.store[(SERVICE, "openai")] == "sk-typed-in-the-dialog-0001"
    assert page.key_edit.text() == ""  # the key leaves the widget once saved
    assert page.source_label.text() == "Current key: saved in the system keychain"
    assert page.remove_button.isEnabled()
    qtbot.mouseClick(page.remove_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.status.source == "none", timeout=5000)
    assert (SERVICE, "openai") not in desktop_memory_keyring.store


def test_no_keychain_shows_the_banner_and_keeps_the_key_for_the_session(qtbot, ui):
    keyring.set_keyring(fail.Keyring())
    page = ui.open_settings().show_page("kie")
    qtbot.waitUntil(lambda: page.status is not None)
    assert page.banner.isVisible()
    assert page.banner.text() == "No system keyring found; key kept for this session only"
    page.key_edit.setText("kie-session-key")
    _wait(qtbot, ui.spawn(page.save_key()))
    assert page.status.source == "session" and "session only" in page.verdict.text()


def test_environment_key_is_shown_as_from_environment(qtbot, ui, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-shell-00000000")
    page = ui.open_settings().show_page("openai")
    qtbot.waitUntil(lambda: page.status is not None)
    assert page.source_label.text() == "Current key: from environment (OPENAI_API_KEY)"
    assert "OPENAI_API_KEY" in page.key_edit.placeholderText() and page.test_button.isEnabled()


def test_test_key_verdicts_against_the_loopback_fake(qtbot, ui, monkeypatch):
    with OpenAIFake() as fake:
        monkeypatch.setenv("IMAGES_STUDIO_OPENAI_BASE_URL", fake.base_url)
        page = ui.open_settings().show_page("openai")
        wrong = "sk-wrong-typed-key-55555555"
        page.key_edit.setText(wrong)
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.last_test is not None, timeout=5000)
        assert not page.last_test.ok and page.verdict.text().startswith("✗ OpenAI refused the key")
        assert wrong not in page.verdict.text() and "55555555" not in page.verdict.text()
        page.key_edit.setText(fake.key)
        result = _wait(qtbot, ui.spawn(page.test_key()))
        assert result.ok and page.verdict.text() == "✓ key works" and not page.balance.isVisible()
        assert len(fake.calls("models")) == 2


def test_provider_settings_are_saved_and_validated(qtbot, ui, services):
    dialog = ui.open_settings("openai")
    page = dialog.provider_pages["openai"]
    page.base_url.setText("http://127.0.0.1:8080/v1/")
    page.enabled.setChecked(False)
    assert _wait(qtbot, ui.spawn(dialog.apply())) is True
    saved = services.library.library.provider_setting("openai")
    assert saved.base_url == "http://127.0.0.1:8080/v1" and saved.enabled is False
    assert saved.default_model == "gpt-image-2" and dialog.status.text() == "Saved."
    page.base_url.setText("ftp://example")
    assert _wait(qtbot, ui.spawn(dialog.apply())) is False
    assert dialog.status.text().startswith("Not saved: OpenAI: the base URL must start with http")


def test_quotas_page_edits_limits_and_shows_consumption(qtbot, ui, services):
    q.set_quota(services.db, "openai", images_per_day=10)
    r = q.reserve(services.db, None, "openai", "gpt-image-2", 3, 0.04)
    q.settle(services.db, r.ledger_id, "ok", 100, None, "", "", 3)
    page = ui.open_settings().show_page("quotas")
    row = page.rows["openai"]
    assert row.spins["images_per_day"].value() == 10
    assert row.bars["images_per_day"].format() == "3 of 10" and row.bars["images_per_day"].value() == 300
    assert row.bars["usd_per_day"].format() == "$0.12 used" and not row.bars["usd_per_day"].isEnabled()
    row.spins["usd_per_month"].setValue(5.0)
    row.spins["images_per_day"].setValue(-1)  # "No limit"
    assert row.spins["images_per_day"].text() == "No limit"
    page.rows[q.GLOBAL].spins["usd_per_month"].setValue(30.0)
    assert page.apply() is True
    limits = q.quotas(services.db)
    assert limits["openai"] == q.QuotaLimits("openai", None, None, 5.0)
    assert limits[q.GLOBAL].usd_per_month == 30.0
    assert page.apply() is False  # nothing changed since


def test_general_page_threshold_and_fallback_order(qtbot, ui):
    page = ui.open_settings().show_page("general")
    assert page.threshold.value() == pytest.approx(1.0)
    page.threshold.setValue(2.5)
    ids = [page.fallback.item(i).data(Qt.ItemDataRole.UserRole) for i in range(page.fallback.count())]
    for wanted in ("stability", "openai"):
        page.fallback.item(ids.index(wanted)).setCheckState(Qt.CheckState.Checked)
    page.fallback.setCurrentRow(ids.index("stability"))
    for _ in range(ids.index("stability")):
        page.move(-1)
    assert page.order() == ["stability", "openai"]
    assert page.apply() is True
    money = ui.bundle.money
    assert money.confirm_threshold() == 2.5 and money.fallback_order() == ["stability", "openai"]


def test_usage_view_chart_table_and_csv(qtbot, ui, services, tmp_path):
    for provider, n, unit, status in (("openai", 2, 0.04, "ok"), ("stability", 3, 0.03, "ok"),
                                      ("stability", 1, 0.03, "failed")):
        r = q.reserve(services.db, None, provider, "m", n, unit)
        q.settle(services.db, r.ledger_id, status, 1500, None, "", "req_x", n)
    dialog = ui.open_usage()
    view = dialog.findChild(UsageView)
    assert view.table.rowCount() == 3 and view.by_provider.rowCount() == 2
    labels, values = view.series_data()
    assert values["openai"][-1] == pytest.approx(0.08) and values["stability"][-1] == pytest.approx(0.09)
    view.metric.button(1).click()
    _, images = view.series_data()
    assert images["stability"][-1] == 3 and view.chart.title() == "Images per day"
    assert "$0.17" in view.totals.text() and "1 failed" in view.totals.text()
    path = _wait(qtbot, ui.spawn(view.export_csv(tmp_path / "usage.csv")))
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert [r["status"] for r in rows] == ["failed", "ok", "ok"] and rows[1]["cost_usd"] == "0.09"


def test_cost_confirmation_above_the_threshold(qtbot, ui):
    ui.bundle.money.set_confirm_threshold(0.05)
    cheap = ImageRequest("a fox", "openai", "gpt-image-2", width=1024, height=1024, quality="low")
    assert _wait(qtbot, ui.spawn(confirm_cost(ui.window, cheap, ui.bundle))) is True
    costly = ImageRequest("a fox", "openai", "gpt-image-2", width=1024, height=1024, quality="high", count=4)
    task = ui.spawn(confirm_cost(ui.window, costly, ui.bundle))
    qtbot.waitUntil(lambda: ui.window.findChild(QMessageBox, "confirmCostDialog") is not None)
    box = ui.window.findChild(QMessageBox, "confirmCostDialog")
    assert "$0.50" in box.text() and "4 ×" in box.text()
    next(b for b in box.buttons() if b.text() == "Generate").click()
    assert _wait(qtbot, task) is True


def test_no_keychain_save_button_says_keep_for_this_session(qtbot, ui):
    keyring.set_keyring(fail.Keyring())
    page = ui.open_settings().show_page("stability")
    qtbot.waitUntil(lambda: page.status is not None)
    assert page.banner.isVisible() and page.save_button.text() == "Keep for this session"


def test_save_button_says_keychain_when_there_is_one(qtbot, ui, desktop_memory_keyring):
    page = ui.open_settings().show_page("stability")
    qtbot.waitUntil(lambda: page.status is not None)
    assert not page.banner.isVisible() and page.save_button.text() == "Save to keychain"


def test_base_url_shows_the_effective_address_and_its_source(qtbot, ui, monkeypatch):
    for name in ("IMAGES_STUDIO_OPENAI_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    page = ui.open_settings().show_page("openai")
    assert page.base_url.text() == ""
    assert page.effective_url.text() == f"In use: {page.info.base_url.rstrip('/')} (the provider's default)"
    page.base_url.setText("https://proxy.example/v1/")
    assert page.effective_url.text() == "In use: https://proxy.example/v1 (from settings)"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("IMAGES_STUDIO_OPENAI_BASE_URL", "http://127.0.0.1:8/v1/")
    page.load_settings()  # loading the settings reads the environment again
    text = page.effective_url.text()
    assert text.startswith("In use: http://127.0.0.1:8/v1 (from IMAGES_STUDIO_OPENAI_BASE_URL)")
    page.base_url.setText("https://proxy.example/v1")
    assert "IMAGES_STUDIO_OPENAI_BASE_URL wins over the address typed above" in page.effective_url.text()
