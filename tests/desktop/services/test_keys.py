"""KeyService: keychain present and absent, sources, and test-key verdicts against loopback fakes."""

from __future__ import annotations

import keyring
import pytest
from keyring.backends import fail

from desktop.services.keys import KeyService
from desktop.services.provider_factory import ProviderFactory
from providers.catalogue import Catalogue
from storage.secrets import SERVICE, SecretStore
from tests.fakes.servers.kie_fake import KieFake
from tests.fakes.servers.openai_fake import OpenAIFake
from tests.fakes.servers.stability_fake import StabilityFake

pytestmark = pytest.mark.anyio


class RecordingFactory(ProviderFactory):
    """The app's factory, recording which adapters were dropped after a key change."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.forgotten: list[str] = []

    async def forget(self, provider_id: str) -> None:
        self.forgotten.append(provider_id)
        await super().forget(provider_id)


def _service(env: dict[str, str] | None = None) -> tuple[KeyService, RecordingFactory]:
    catalogue = Catalogue.load()
    secrets = SecretStore(env=env or {})
    factory = RecordingFactory(catalogue, secrets, env=env or {})
    return KeyService(secrets, catalogue, factory, env=env or {}), factory


async def test_set_status_delete_with_a_keychain(desktop_memory_keyring):
    keys, factory = _service()
    status = await keys.set("openai", "  sk-live-key-1234567890  ")
    assert desktop_memory_keyring.store[(SERVICE, "openai")] == "sk-live-key-1234567890"
    assert status.source == "keychain" and status.keychain and status.reason == ""
    assert "sk-live" not in repr(status) and "sk-live" not in str(status.to_json())
    assert factory.forgotten == ["openai"]  # the cached adapter held the old key
    status = await keys.delete("openai")
    assert status.source == "none" and (SERVICE, "openai") not in desktop_memory_keyring.store
    assert factory.forgotten == ["openai", "openai"]
    with pytest.raises(ValueError, match="empty"):
        await keys.set("openai", "   ")
    with pytest.raises(KeyError):
        await keys.set("nobody", "x")


async def test_environment_keys_are_reported_as_such():
    keys, _ = _service(env={"OPENAI_API_KEY": "sk-from-env-000000000"})
    statuses = {s.provider: s for s in await keys.statuses()}
    assert statuses["openai"].source == "environment" and statuses["openai"].env_var == "OPENAI_API_KEY"
    assert statuses["openai"].described == "from environment (OPENAI_API_KEY)"
    assert statuses["stability"].source == "none" and statuses["a1111"].described == "no key needed"


async def test_without_a_keychain_keys_are_session_only_and_say_why():
    keyring.set_keyring(fail.Keyring())
    keys, _ = _service()
    assert await keys.keychain_available() is False
    status = await keys.set("openai", "sk-session-only-123456")
    assert status.source == "session" and not status.keychain
    assert status.reason == "No system keyring found; key kept for this session only"
    assert keys.secrets.get("openai") == "sk-session-only-123456"
    assert (await keys.delete("openai")).source == "none"


async def test_test_key_success_and_refusal_against_the_openai_fake():
    with OpenAIFake() as fake:
        keys, _ = _service(env={"IMAGES_STUDIO_OPENAI_BASE_URL": fake.base_url})
        good = await keys.test_key("openai", fake.key)
        assert good.ok and good.verdict == "key works" and good.balance is None
        wrong = "sk-wrong-candidate-key-9876543210"
        bad = await keys.test_key("openai", wrong)
        assert not bad.ok and bad.verdict.startswith("OpenAI refused the key")
        assert wrong not in bad.verdict and "9876543210" not in bad.verdict  # the fake echoes the key it got
        assert [r.header("authorization") for r in fake.calls("models")] == [f"Bearer {fake.key}",
                                                                             f"Bearer {wrong}"]
        # without a candidate the stored key is tested; with none stored the verdict says what to do
        missing = await keys.test_key("openai")
        assert not missing.ok and "no API key" in missing.verdict
        await keys.set("openai", fake.key)
        assert (await keys.test_key("openai")).ok


async def test_test_key_reports_the_balance_where_the_api_has_one():
    with StabilityFake(credits=42.5) as stability, KieFake() as kie:
        env = {"IMAGES_STUDIO_STABILITY_BASE_URL": stability.url, "IMAGES_STUDIO_KIE_BASE_URL": kie.url}
        keys, _ = _service(env=env)
        result = await keys.test_key("stability", stability.key)
        assert result.ok and result.balance == pytest.approx(42.5) and "42.5 credits" in result.verdict
        kie_result = await keys.test_key("kie", kie.key)
        assert kie_result.ok and kie_result.balance is not None
        refused = await keys.test_key("kie", "not-the-kie-key-000000")
        assert not refused.ok and "not-the-kie-key" not in refused.verdict


async def test_unreachable_service_gets_a_verdict_not_an_exception():
    async def no_sleep(_s: float) -> None:
        return None

    env = {"IMAGES_STUDIO_OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    keys = KeyService(SecretStore(env={}), Catalogue.load(), env=env,
                      make_factory=lambda source: ProviderFactory(Catalogue.load(), source, env=env,
                                                                  adapter_kwargs={"sleep": no_sleep}))
    result = await keys.test_key("openai", "sk-some-key-0000000000")
    assert not result.ok and "OpenAI" in result.verdict and "sk-some-key" not in result.verdict
