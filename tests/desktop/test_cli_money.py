"""`images-studio keys | quota | usage` and `generate --count N` cut short by a quota."""

from __future__ import annotations

import gc
import io
import json

import keyring
import pytest
from keyring.backends import fail

from desktop.app import main
from storage.secrets import SERVICE
from tests.fakes.servers.openai_fake import OpenAIFake


@pytest.fixture(autouse=True)
def _collect_garbage():
    """Each CLI call builds parsers and services full of reference cycles; collect them here, so a later
    refcount-sensitive test (test_qt_binding) does not see their collection as a None-refcount drop."""
    yield
    gc.collect()


def run(capsys, monkeypatch, *argv: str, stdin: str = "") -> tuple[int, list[dict], str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    objs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return code, objs, out, err


def test_keys_set_reads_stdin_and_status_never_shows_the_key(capsys, monkeypatch, desktop_memory_keyring):
    secret = "sk-cli-secret-abcdef123456"
    code, _, out, err = run(capsys, monkeypatch, "keys", "set", "openai", stdin=f"  {secret}\n\n")
    assert code == 0 and "saved in the system keychain" in out and secret not in out + err
    assert desktop_memory_keyring.store[(SERVICE, "openai")] == secret  # whitespace stripped
    monkeypatch.setenv("STABILITY_API_KEY", "sk-env-stability-000000")
    code, objs, out, err = run(capsys, monkeypatch, "keys", "status", "--json")
    assert code == 0 and secret not in out and "sk-env" not in out
    by_id = {o["provider"]: o for o in objs}
    assert by_id["openai"]["source"] == "keychain" and by_id["openai"]["env_var"] == "OPENAI_API_KEY"
    assert by_id["stability"]["source"] == "environment" and by_id["kie"]["source"] == "none"
    code, _, out, _ = run(capsys, monkeypatch, "keys", "status")
    assert code == 0 and "openai" in out and "keychain" in out and secret not in out
    code, _, out, _ = run(capsys, monkeypatch, "keys", "delete", "openai")
    assert code == 0 and (SERVICE, "openai") not in desktop_memory_keyring.store


def test_keys_set_refuses_empty_input_arguments_and_unknown_providers(capsys, monkeypatch, desktop_memory_keyring):
    code, _, _, err = run(capsys, monkeypatch, "keys", "set", "openai", stdin="  \n")
    assert code == 2 and err.count("\n") == 1 and "no key on standard input" in err
    with pytest.raises(SystemExit) as exited:  # the key is never an argument (it would land in shell history)
        run(capsys, monkeypatch, "keys", "set", "openai", "sk-in-argv-0000000")
    assert exited.value.code == 2
    code, _, _, err = run(capsys, monkeypatch, "keys", "set", "nobody", stdin="k")
    assert code == 2 and "unknown provider 'nobody'" in err
    assert desktop_memory_keyring.store == {}


def test_keys_set_without_a_keychain_fails_and_suggests_the_environment(capsys, monkeypatch):
    keyring.set_keyring(fail.Keyring())
    code, _, out, err = run(capsys, monkeypatch, "keys", "set", "openai", stdin="sk-nowhere-to-go-12345")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "no usable system keyring" in err and "OPENAI_API_KEY" in err and "sk-nowhere" not in err
    code, objs, _, err = run(capsys, monkeypatch, "keys", "status", "--json")
    assert code == 0 and all(o["keychain"] is False and o["source"] == "none" for o in objs)


def test_quota_set_show_merge_and_global_cap(capsys, monkeypatch, tmp_path):
    data = ["--data-dir", str(tmp_path / "lib")]
    assert run(capsys, monkeypatch, *data, "quota", "set", "openai", "--images-per-day", "10")[0] == 0
    code, _, out, _ = run(capsys, monkeypatch, *data, "quota", "set", "openai", "--usd-per-day", "2.5")
    assert code == 0 and "images per day 10" in out and "usd per day 2.5" in out  # earlier limit kept
    assert run(capsys, monkeypatch, *data, "quota", "set", "all", "--usd-per-month", "20")[0] == 0
    code, objs, _, _ = run(capsys, monkeypatch, *data, "quota", "show", "--json")
    assert code == 0
    by_id = {o["provider"]: o for o in objs}
    assert by_id["openai"] | {} == {**by_id["openai"], "images_per_day": 10, "usd_per_day": 2.5,
                                    "usd_per_month": None, "images_today": 0, "usd_today": 0.0}
    assert by_id["*"]["usd_per_month"] == 20.0
    run(capsys, monkeypatch, *data, "quota", "set", "openai", "--images-per-day", "none")
    code, objs, _, _ = run(capsys, monkeypatch, *data, "quota", "show", "--json")
    assert {o["provider"]: o for o in objs}["openai"]["images_per_day"] is None
    code, _, out, _ = run(capsys, monkeypatch, *data, "quota", "show")
    assert code == 0 and "All providers (global cap)" in out and "$0.00 / $20.00" in out
    code, _, _, err = run(capsys, monkeypatch, *data, "quota", "set", "nobody", "--images-per-day", "1")
    assert code == 2 and "unknown provider" in err
    code, _, _, err = run(capsys, monkeypatch, *data, "quota", "set", "openai")
    assert code == 2 and "at least one" in err
    code, _, _, err = run(capsys, monkeypatch, *data, "quota", "set", "openai", "--usd-per-day", "nan")
    assert code == 2 and err.count("\n") == 1


def test_generate_cut_short_by_a_quota_then_usage_shows_the_ledger(capsys, monkeypatch, tmp_path):
    data = ["--data-dir", str(tmp_path / "lib")]
    with OpenAIFake() as fake:
        monkeypatch.setenv("IMAGES_STUDIO_OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", fake.key)
        run(capsys, monkeypatch, *data, "quota", "set", "openai", "--images-per-day", "2")
        code, objs, _, err = run(capsys, monkeypatch, *data, "generate", "a red kite", "--provider", "openai",
                                 "--size", "1024x1024", "--count", "5", "--json")
        assert code == 1 and len(objs) == 2  # the images allowed are saved
        last = err.strip().splitlines()[-1]
        assert "OpenAI images per day (2) allows only 2 of 5 images" in last and "resets at midnight" in last
        assert json.loads(fake.calls("generations")[0].body)["n"] == 2
        code, _, _, err = run(capsys, monkeypatch, *data, "generate", "a kite", "--provider", "openai")
        assert code == 1 and "OpenAI images per day (2) reached" in err and len(fake.calls("generations")) == 1
    code, rows, _, _ = run(capsys, monkeypatch, *data, "usage", "--json")
    assert code == 0 and len(rows) == 1
    row = rows[0]
    assert row["provider"] == "openai" and row["status"] == "ok" and row["images"] == 2
    assert row["reported_usd"] > 0 and row["estimated_usd"] > 0 and row["job_id"] is not None
    code, _, out, _ = run(capsys, monkeypatch, *data, "usage")
    assert code == 0 and "total: 1 request(s), 2 image(s)" in out and "openai" in out
    code, _, _, err = run(capsys, monkeypatch, *data, "usage", "--since", "yesterday")
    assert code == 2 and "YYYY-MM-DD" in err
    code, rows, _, _ = run(capsys, monkeypatch, *data, "usage", "--json", "--since", "2999-01-01")
    assert code == 0 and rows == []
