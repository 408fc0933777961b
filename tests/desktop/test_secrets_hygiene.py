"""A canary key planted in the keychain must appear nowhere: not in the data folder (DB, WAL, images,
thumbnails, exports, logs), not in stdout/stderr, not in any log record, after successful and failed
generations and key tests. Plus redaction of Authorization / x-key headers in debug logging."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path

import pytest

from desktop.app import RedactingFilter, main, setup_logging
from desktop.services.keys import KeyService
from providers.catalogue import Catalogue
from storage.paths import AppPaths
from storage.secrets import SERVICE, SecretStore
from tests.fakes.servers.openai_fake import OpenAIFake

# Shaped unlike any generic key pattern (no "sk-", no "Bearer" next to it in messages), so only redaction of
# the exact key, and keeping it out of every store, can make this test pass.
CANARY = "canary-Zq8v3Lw0pT5nR2yK9sX4"


def _hits(root: Path) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and CANARY.encode() in path.read_bytes():
            found.append(str(path.relative_to(root)))
    return found


def test_canary_key_never_leaks_after_successful_and_failed_generations(
        tmp_path, monkeypatch, capsys, caplog, desktop_memory_keyring):
    caplog.set_level(logging.DEBUG)
    desktop_memory_keyring.store[(SERVICE, "openai")] = CANARY
    paths = AppPaths.resolve(tmp_path / "lib")
    paths.ensure()
    setup_logging(paths.logs, debug=True)  # the app's own file log, at debug level
    root = logging.getLogger()
    file_handlers = [h for h in root.handlers if isinstance(h, logging.FileHandler)]
    data = ["--data-dir", str(tmp_path / "lib"), "--debug"]
    outputs: list[str] = []
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    try:
        with OpenAIFake(key=CANARY) as fake:
            monkeypatch.setenv("IMAGES_STUDIO_OPENAI_BASE_URL", fake.base_url)

            def cli(*argv: str) -> int:
                code = main([*data, *argv])
                out, err = capsys.readouterr()
                outputs.extend([out, err])
                return code

            assert cli("generate", "a paper lantern", "--provider", "openai", "--size", "1024x1024",
                       "--collection", "Lanterns", "--json") == 0
            assert cli("generate", "a forbidden lantern", "--provider", "openai") == 1  # moderation refusal
            fake.key = "sk-some-other-account-key-00000"  # now the canary is refused; the fake echoes it back
            assert cli("generate", "a lantern at night", "--provider", "openai") == 1
            assert len(fake.calls("generations")) == 3
            assert cli("export", "Lanterns", str(tmp_path / "lib" / "exported")) == 0
            for argv in (("usage", "--json"), ("usage",), ("keys", "status"), ("keys", "status", "--json"),
                         ("jobs", "--json"), ("list", "--json"), ("quota", "show", "--json")):
                assert cli(*argv) == 0
            verdict = asyncio.run(KeyService(SecretStore(), Catalogue.load()).test_key("openai"))
            assert not verdict.ok and "refused" in verdict.verdict
            outputs.append(verdict.verdict)
    finally:
        for handler in file_handlers:
            root.removeHandler(handler)
            handler.close()
    assert sum(1 for p in (tmp_path / "lib" / "images").rglob("*.png")) == 1
    assert sum(1 for _ in (tmp_path / "lib" / "exported").rglob("*.png")) == 1
    assert (tmp_path / "lib" / "logs" / "studio.log").stat().st_size > 0
    assert _hits(tmp_path) == []
    assert not any(CANARY in text for text in outputs)
    assert CANARY not in caplog.text
    assert not any(CANARY in str(r.args) or CANARY in str(r.msg) for r in caplog.records)
    # and the failures were really reported to the user, with the reason
    assert any("moderat" in t.lower() or "safety" in t.lower() for t in outputs)
    assert any("incorrect api key provided: ***" in t.lower() for t in outputs)


def _filtered(message: str, *args: object) -> str:
    record = logging.LogRecord("httpx", logging.DEBUG, __file__, 1, message, args, None)
    RedactingFilter().filter(record)
    return record.getMessage()


def test_redacting_filter_scrubs_bearer_tokens_and_known_key_shapes():
    assert "sk-live-0123456789" not in _filtered("Authorization: Bearer %s", "sk-live-0123456789")
    assert "r8_abcdefghijkl" not in _filtered("headers: %s", json.dumps({"authorization": "Token r8_abcdefghijkl"}))
    assert "canary-token-99" not in _filtered("%s", "authorization: bearer canary-token-99")
    try:
        raise RuntimeError("401 for key sk-proj-abcdef0123456789")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, __import__("sys").exc_info())
    RedactingFilter().filter(record)
    assert "sk-proj-abcdef0123456789" not in (record.exc_text or "")


def test_redacting_filter_scrubs_x_key_and_basic_headers():
    assert "bfl0123456789abcdef" not in _filtered("headers=%r", {"x-key": "bfl0123456789abcdef"})
    assert "dXNlcjpwYXNzd29yZA" not in _filtered("Authorization: Basic dXNlcjpwYXNzd29yZA")
