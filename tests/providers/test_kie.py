"""KieProvider against the loopback KIE fake: Market, Flux Kontext and 4o Image families, real HTTP."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import pytest

from providers.base import (
    AuthError,
    ImageRequest,
    InsufficientCredits,
    InvalidRequest,
    InvalidResponse,
    ModerationError,
    Provider,
    ProviderConfig,
    ProviderDown,
    ProviderTimeout,
    RateLimited,
    TaskHandle,
    TaskNotFound,
    TaskState,
    TaskStatus,
)
from providers.catalogue import Catalogue
from providers.kie import KieProvider, parse_api
from providers.registry import create_provider
from tests.fakes.servers.base import Reply, png_bytes
from tests.fakes.servers.kie_fake import KieFake, envelope, kie_error

pytestmark = pytest.mark.anyio

KEY = "kie-test-secret-Qx81-do-not-leak"
CATALOGUE = Catalogue.load()
BANANA, BANANA_EDIT = "google/nano-banana", "google/nano-banana-edit"
KONTEXT, GPT4O = "flux-kontext-pro", "gpt-4o-image"


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def server() -> Iterator[KieFake]:
    with KieFake(KEY) as fake:
        yield fake


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make(server: KieFake, sleeps: Sleeps, **overrides: object) -> KieProvider:
    config = ProviderConfig(provider="kie", base_url=server.url, api_key=KEY, timeout_s=5.0,
                            poll_interval_s=0.01, max_attempts=3)
    return KieProvider(replace(config, **overrides), CATALOGUE.get("kie"), sleep=sleeps)


@pytest.fixture
async def provider(server: KieFake, sleeps: Sleeps) -> AsyncIterator[KieProvider]:
    prov = make(server, sleeps)
    yield prov
    await prov.aclose()


def req(model: str = BANANA, **kw: object) -> ImageRequest:
    return ImageRequest(prompt=kw.pop("prompt", "a lighthouse at dusk"), provider="kie", model=model, **kw)


async def run(provider: KieProvider, handle: TaskHandle, limit: int = 10) -> list[TaskStatus]:
    seen = []
    for _ in range(limit):
        status = await provider.poll(handle)
        seen.append(status)
        if status.state.terminal:
            return seen
    raise AssertionError(f"never finished: {seen}")


def assert_key_only_in_auth_header(server: KieFake) -> None:
    for r in server.log:
        assert KEY not in r.path and KEY not in str(r.query) and KEY.encode() not in r.body
        assert KEY not in str({k: v for k, v in r.headers.items() if k.lower() != "authorization"})
        if getattr(r, "route", None) == "file":
            assert r.header("authorization") is None
        else:
            assert r.header("authorization") == f"Bearer {KEY}"


# ---------------------------------------------------------------------------------------------- happy paths


async def test_market_task_goes_through_states(provider, server):
    handle = await provider.submit(req(aspect_ratio="16:9", seed=3, negative_prompt="fog"))
    assert handle.state == {"api": "market"} and handle.task_id.startswith("task_market_")
    create = server.calls("market_create")[0]
    assert create.json() == {"model": BANANA, "input": {  # no seed/negative_prompt: the model has none
        "prompt": "a lighthouse at dusk", "image_size": "16:9", "output_format": "png"}}
    states = await run(provider, handle)
    assert [s.state for s in states] == [TaskState.QUEUED, TaskState.RUNNING, TaskState.SUCCEEDED]
    assert server.calls("market_info")[0].query == {"taskId": [handle.task_id]}
    result = states[-1].result
    assert result is not None and len(result.images) == 1 and result.images[0].data.startswith(b"\x89PNG")
    assert result.request_id == handle.task_id and result.usage == {"cost_time_ms": 8123}
    assert_key_only_in_auth_header(server)


async def test_flux_kontext_text_to_image(provider, server):
    handle = await provider.submit(req(KONTEXT, width=1920, height=1080))
    assert server.calls("kontext_create")[0].json() == {
        "prompt": "a lighthouse at dusk", "model": "flux-kontext-pro", "outputFormat": "png",
        "aspectRatio": "16:9"}
    states = await run(provider, handle)
    assert [s.state for s in states] == [TaskState.RUNNING, TaskState.RUNNING, TaskState.SUCCEEDED]
    assert len(states[-1].result.images) == 1
    assert_key_only_in_auth_header(server)


async def test_4o_image_reports_progress_and_variants(provider, server):
    handle = await provider.submit(req(GPT4O, aspect_ratio="3:2", count=2))
    assert server.calls("gpt4o_create")[0].json() == {"prompt": "a lighthouse at dusk", "size": "3:2",
                                                      "nVariants": 2}
    states = await run(provider, handle)
    assert [s.progress for s in states[:2]] == [pytest.approx(0.33), pytest.approx(0.67)]
    images = states[-1].result.images
    assert len(images) == 2 and images[0].data != images[1].data


@pytest.mark.parametrize("model, route, field", [
    (BANANA_EDIT, "market_create", "image_urls"),
    (KONTEXT, "kontext_create", "inputImage"),
    (GPT4O, "gpt4o_create", "filesUrl"),
])
async def test_image_to_image_uploads_the_source_first(provider, server, model, route, field):
    source = png_bytes(4, 4, (1, 2, 3))
    handle = await provider.submit(req(model, init_image=source, init_image_mime="image/png"))
    upload = server.calls("upload")[0]
    assert base64.b64decode(upload.json()["base64Data"].split(",", 1)[1]) == source
    body = server.calls(route)[0].json()
    sent = body["input"][field] if model == BANANA_EDIT else body[field]
    url = sent[0] if isinstance(sent, list) else sent
    assert url.startswith(server.url + "/files/upload-")
    if model == KONTEXT:
        assert "aspectRatio" not in body  # an edit keeps the source's ratio
    assert (await run(provider, handle))[-1].state is TaskState.SUCCEEDED
    assert_key_only_in_auth_header(server)


async def test_quality_maps_to_the_model_input_name(provider, server):
    await provider.submit(req("gpt-image-2-text-to-image", aspect_ratio="1:1", quality="2K"))
    assert server.calls("market_create")[0].json()["input"] == {
        "prompt": "a lighthouse at dusk", "aspect_ratio": "1:1", "resolution": "2K"}


async def test_unsupported_inputs_are_refused_before_any_request(provider, server):
    for bad in (req(BANANA, init_image=png_bytes()), req(GPT4O, count=3), req(KONTEXT, aspect_ratio="5:1"),
                req(BANANA, count=2), req("not/a-model"), req(BANANA, prompt="  ")):
        with pytest.raises(InvalidRequest):
            await provider.submit(bad)
    assert server.log == []


def test_api_field_parsing() -> None:
    assert parse_api("") == ("market", {"ratio": "aspect_ratio", "images": "image_urls", "quality": "quality",
                                        "format": ""})
    assert parse_api("market?ratio=image_size")[1]["ratio"] == "image_size"
    assert parse_api("4o-image") == ("4o-image", {})
    with pytest.raises(ValueError):
        parse_api("midjourney")


# ---------------------------------------------------------------------------------------------- failures


@pytest.mark.parametrize("model", [BANANA, KONTEXT, GPT4O])
@pytest.mark.parametrize("code, msg, kind", [
    (501, "generation failed", ProviderDown),
    (400, "Your prompt was flagged by the content policy", ModerationError),
    (422, "image_size is not valid", InvalidRequest),
])
async def test_failed_task_maps_to_typed_error(server, sleeps, model, code, msg, kind):
    server.outcome, server.fail_code, server.fail_msg = "fail", code, msg
    prov = make(server, sleeps)
    status = (await run(prov, await prov.submit(req(model))))[-1]
    assert status.state is TaskState.FAILED and type(status.error) is kind and msg in status.error.message
    await prov.aclose()


@pytest.mark.parametrize("http_200", [False, True])
@pytest.mark.parametrize("code, msg, kind", [
    (401, "You do not have access permissions", AuthError),
    (402, "Insufficient credits", InsufficientCredits),
    (422, "aspectRatio is invalid", InvalidRequest),
    (400, "The prompt violates content policy", ModerationError),
    (451, "Failed to fetch the image from filesUrl", InvalidRequest),
    (505, "This feature is disabled", ProviderDown),
])
async def test_create_error_codes_in_status_and_body(provider, server, http_200, code, msg, kind):
    server.fault("market_create", kie_error(code, msg, http_200=http_200))
    with pytest.raises(kind) as info:
        await provider.submit(req())
    assert type(info.value) is kind and msg in info.value.message
    assert len(server.calls("market_create")) == 1  # none of these is retried


async def test_wrong_key_is_refused_by_the_fake_even_with_http_200(server, sleeps):
    server.errors_as_http_200 = True
    prov = make(server, sleeps, api_key="another-key-entirely")
    with pytest.raises(AuthError):
        await prov.check_key()
    await prov.aclose()


async def test_error_text_never_carries_the_key(provider, server):
    server.fault("market_create", kie_error(401, f"invalid key {KEY}"))
    with pytest.raises(AuthError) as info:
        await provider.submit(req())
    assert KEY not in str(info.value) and KEY not in repr(info.value)


async def test_missing_key_fails_without_a_request(server, sleeps):
    prov = make(server, sleeps, api_key=None)
    with pytest.raises(AuthError):
        await prov.submit(req())
    assert server.log == []


async def test_unknown_task_is_task_not_found(provider):
    with pytest.raises(TaskNotFound):
        await provider.poll(TaskHandle(provider="kie", task_id="task_missing", model=BANANA,
                                       state={"api": "market"}))


@pytest.mark.parametrize("http_200", [False, True])
async def test_429_is_retried_then_succeeds(provider, server, sleeps, http_200):
    headers = {} if http_200 else {"Retry-After": "4"}
    server.fault("market_create", kie_error(429, "Rate limited", http_200=http_200, headers=headers))
    handle = await provider.submit(req())
    assert len(server.calls("market_create")) == 2
    if not http_200:
        assert 4.0 in sleeps.calls
    assert (await run(provider, handle))[-1].state is TaskState.SUCCEEDED


async def test_persistent_429_is_rate_limited(provider, server):
    server.fault("market_create", kie_error(429, "Rate limited", http_200=True), times=5)
    with pytest.raises(RateLimited):
        await provider.submit(req())
    assert len(server.calls("market_create")) == 3


@pytest.mark.parametrize("code", [455, 500])
async def test_5xx_codes_retried_then_success(provider, server, code):
    handle = await provider.submit(req())
    server.fault("market_info", kie_error(code, "Service unavailable"), times=2)
    assert (await provider.poll(handle)).state is TaskState.QUEUED
    assert len(server.calls("market_info")) == 3


async def test_persistent_5xx_is_provider_down(provider, server):
    handle = await provider.submit(req())
    server.fault("market_info", Reply(502, "<html>Bad Gateway</html>"), times=5)
    with pytest.raises(ProviderDown):
        await provider.poll(handle)
    assert len(server.calls("market_info")) == 3


async def test_hang_beyond_deadline_is_timeout(server, sleeps):
    prov = make(server, sleeps, timeout_s=0.3)
    server.fault("market_create", Reply(200, envelope({"taskId": "t1"}), delay_s=2.0))
    with pytest.raises(ProviderTimeout):
        await prov.submit(req())
    await prov.aclose()


async def test_truncated_create_is_not_resent(provider, server):
    server.fault("market_create", Reply(200, envelope({"taskId": "t1"}), truncate_to=8), times=3)
    with pytest.raises(ProviderDown):
        await provider.submit(req())
    assert len(server.calls("market_create")) == 1


@pytest.mark.parametrize("reply", [
    Reply(200, b'{"code": 200, "msg": "success", "data": {"taskId"',
          headers={"Content-Type": "application/json"}),
    Reply(200, {"msg": "no code at all", "data": {"taskId": "t1"}}),
    Reply(200, envelope({"taskId": None})),
])
async def test_malformed_create_answers_are_invalid_response(provider, server, reply):
    server.fault("market_create", reply)
    with pytest.raises(InvalidResponse):
        await provider.submit(req())


async def test_malformed_result_json_is_invalid_response(provider, server):
    handle = await provider.submit(req())
    server.fault("market_info", Reply(200, envelope({"taskId": handle.task_id, "state": "success",
                                                     "resultJson": "{not json"})))
    with pytest.raises(InvalidResponse):
        await provider.poll(handle)


# ---------------------------------------------------------------------------------------------- downloads


@pytest.mark.parametrize("reply", [
    Reply(200, "<html><body>Not an image</body></html>", headers={"Content-Type": "text/html"}),
    Reply(404, "<html><body>404 Not Found</body></html>", headers={"Content-Type": "text/html"}),
])
async def test_bad_result_url_is_invalid_response(provider, server, reply):
    handle = await provider.submit(req(KONTEXT))
    server.fault("file", reply)
    with pytest.raises(InvalidResponse):
        await run(provider, handle)


async def test_expired_result_url_is_invalid_response(provider, server):
    handle = await provider.submit(req())
    server.fault("market_info", Reply(200, envelope({
        "taskId": handle.task_id, "state": "success",
        "resultJson": f'{{"resultUrls": ["{server.url}/files/expired.png"]}}'})))
    with pytest.raises(InvalidResponse):
        await provider.poll(handle)


async def test_oversized_download_is_invalid_response(server, sleeps):
    prov = make(server, sleeps, max_download_bytes=2000)
    handle = await prov.submit(req(GPT4O))
    server.fault("file", Reply(200, png_bytes(8, 8) + b"\0" * 5000, headers={"Content-Type": "image/png"}))
    with pytest.raises(InvalidResponse, match="larger"):
        await run(prov, handle)
    await prov.aclose()


# ---------------------------------------------------------------------------------------------- account


async def test_balance_and_check_key(provider, server):
    assert await provider.balance() == 100.0
    assert await provider.check_key() == "key works — 100 credits"
    await run(provider, await provider.submit(req()))
    assert await provider.balance() == 96.0
    assert_key_only_in_auth_header(server)


async def test_cancel_is_not_supported(provider, server):
    handle = await provider.submit(req())
    assert provider.supports_cancel is False
    assert await provider.cancel(handle) is False
    assert len(server.log) == 1


async def test_registry_builds_the_adapter(server):
    config = ProviderConfig(provider="kie", base_url=server.url, api_key=KEY)
    prov = create_provider(config, CATALOGUE)
    assert isinstance(prov, KieProvider) and isinstance(prov, Provider)
    assert CATALOGUE.get("kie").key_env == "KIE_API_KEY"
    await prov.aclose()
