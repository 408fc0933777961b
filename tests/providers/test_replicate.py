"""ReplicateProvider against the loopback Replicate fake: real HTTP, no internet."""

from __future__ import annotations

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
from providers.registry import create_provider
from providers.replicate import ReplicateProvider, parse_progress
from tests.fakes.servers.base import Reply, png_bytes
from tests.fakes.servers.replicate_fake import ReplicateFake, problem

pytestmark = pytest.mark.anyio

KEY = "test-token-Zq7-do-not-leak"
SCHNELL = "black-forest-labs/flux-schnell"
DEV = "black-forest-labs/flux-dev"
PRO = "black-forest-labs/flux-1.1-pro"
SDXL_VERSION = "7762fd07cf82c948538e41f63f77d685e02b063e37e496e96eefd46c929f9bdc"
SDXL = f"stability-ai/sdxl:{SDXL_VERSION}"
CATALOGUE = Catalogue.load()


class Sleeps:
    """A no-op sleep that records what it was asked to wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def server() -> Iterator[ReplicateFake]:
    with ReplicateFake(KEY) as fake:
        yield fake


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make(server: ReplicateFake, sleeps: Sleeps, **overrides: object) -> ReplicateProvider:
    config = ProviderConfig(provider="replicate", base_url=server.base_url, api_key=KEY, timeout_s=5.0,
                            poll_interval_s=0.01, max_attempts=3)
    return ReplicateProvider(replace(config, **overrides), CATALOGUE.get("replicate"), sleep=sleeps)


@pytest.fixture
async def provider(server: ReplicateFake, sleeps: Sleeps) -> AsyncIterator[ReplicateProvider]:
    prov = make(server, sleeps)
    yield prov
    await prov.aclose()


def req(model: str = SCHNELL, **kw: object) -> ImageRequest:
    return ImageRequest(prompt=kw.pop("prompt", "a red fox in snow"), provider="replicate", model=model, **kw)


async def run(provider: ReplicateProvider, handle: TaskHandle, limit: int = 10) -> list[TaskStatus]:
    seen = []
    for _ in range(limit):
        status = await provider.poll(handle)
        seen.append(status)
        if status.state.terminal:
            return seen
    raise AssertionError(f"never finished: {seen}")


def assert_key_only_in_auth_header(server: ReplicateFake) -> None:
    for r in server.log:
        assert KEY not in r.path and KEY not in str(r.query) and KEY.encode() not in r.body
        other = {k: v for k, v in r.headers.items() if k.lower() != "authorization"}
        assert KEY not in str(other)
        if getattr(r, "route", None) == "file":
            assert r.header("authorization") is None
        else:
            assert r.header("authorization") == f"Bearer {KEY}"


# ---------------------------------------------------------------------------------------------- happy paths


async def test_text_to_image_goes_through_states_and_downloads(provider, server):
    handle = await provider.submit(req(aspect_ratio="16:9", count=2, seed=42, negative_prompt="blurry"))
    assert isinstance(handle, TaskHandle) and handle.provider == "replicate"
    create = server.calls("create_model")[0]
    assert create.path == f"/v1/models/{SCHNELL}/predictions"
    assert create.json() == {"input": {  # no negative_prompt: FLUX has none
        "prompt": "a red fox in snow", "aspect_ratio": "16:9", "num_outputs": 2, "seed": 42,
        "output_format": "png"}}
    assert create.header("prefer") is None
    assert handle.state["get"] == f"predictions/{handle.task_id}"

    states = await run(provider, handle)
    assert [s.state for s in states] == [TaskState.QUEUED, TaskState.RUNNING, TaskState.SUCCEEDED]
    assert states[1].progress == pytest.approx(0.5)
    result = states[-1].result
    assert result is not None and len(result.images) == 2
    assert all(img.data.startswith(b"\x89PNG") and img.mime == "image/png" for img in result.images)
    assert result.images[0].data != result.images[1].data
    assert result.images[0].seed == 42
    assert result.request_id == handle.task_id
    assert result.usage == {"predict_time": 1.6, "total_time": 1.9}
    assert result.cost_usd is None
    assert len(server.calls("file")) == 2
    assert_key_only_in_auth_header(server)


async def test_single_string_output_and_no_num_outputs_for_single_image_model(server, sleeps):
    server.output_shape = "string"
    prov = make(server, sleeps)
    handle = await prov.submit(req(PRO, width=1600, height=900))
    body = server.calls("create_model")[0].json()
    assert body["input"] == {"prompt": "a red fox in snow", "aspect_ratio": "16:9", "output_format": "png"}
    states = await run(prov, handle)
    assert len(states[-1].result.images) == 1
    await prov.aclose()


async def test_data_url_outputs_are_decoded(server, sleeps):
    server.output_shape = "data"
    prov = make(server, sleeps)
    states = await run(prov, await prov.submit(req()))
    assert states[-1].result.images[0].data.startswith(b"\x89PNG")
    assert server.calls("file") == []
    await prov.aclose()


async def test_community_model_uses_version_and_pixel_size(provider, server):
    handle = await provider.submit(req(SDXL, aspect_ratio="16:9", negative_prompt="blurry", seed=7))
    create = server.calls("create_version")[0]
    assert create.path == "/v1/predictions"
    assert create.json() == {"version": SDXL_VERSION, "input": {
        "prompt": "a red fox in snow", "width": 1344, "height": 768, "num_outputs": 1, "seed": 7,
        "negative_prompt": "blurry"}}
    assert (await run(provider, handle))[-1].state is TaskState.SUCCEEDED


async def test_image_to_image_sends_data_url_and_strength(provider, server):
    source = png_bytes(4, 4)
    handle = await provider.submit(req(DEV, init_image=source, init_image_mime="image/png", strength=0.6))
    inp = server.calls("create_model")[0].json()["input"]
    assert inp["image"].startswith("data:image/png;base64,") and inp["prompt_strength"] == 0.6
    assert (await run(provider, handle))[-1].state is TaskState.SUCCEEDED


async def test_unsupported_inputs_are_refused_before_any_request(provider, server):
    with pytest.raises(InvalidRequest):
        await provider.submit(req(SCHNELL, init_image=png_bytes()))
    with pytest.raises(InvalidRequest):
        await provider.submit(req(PRO, count=2))
    with pytest.raises(InvalidRequest):
        await provider.submit(req(SCHNELL, aspect_ratio="7:1"))
    with pytest.raises(InvalidRequest):
        await provider.submit(req("someone/unknown-model"))
    assert server.log == []


# ---------------------------------------------------------------------------------------------- outcomes


async def test_cancel_then_poll_reports_cancelled(provider, server):
    handle = await provider.submit(req())
    assert (await provider.poll(handle)).state is TaskState.QUEUED
    assert await provider.cancel(handle) is True
    assert server.calls("cancel")[0].path == f"/v1/predictions/{handle.task_id}/cancel"
    assert (await provider.poll(handle)).state is TaskState.CANCELLED
    assert provider.supports_cancel


async def test_cancel_after_success_returns_false(provider):
    handle = await provider.submit(req())
    await run(provider, handle)
    assert await provider.cancel(handle) is False


@pytest.mark.parametrize("text, kind", [
    ("NSFW content detected. Try running it again, or try a different prompt.", ModerationError),
    ("All generated images contained NSFW content. Try running it again with a different prompt.",
     ModerationError),
    ("CUDA out of memory", ProviderDown),
    ("Invalid value for seed: must be positive", InvalidRequest),
])
async def test_failed_prediction_maps_error_text(server, sleeps, text, kind):
    server.outcome, server.failure_text = "failed", text
    prov = make(server, sleeps)
    status = (await run(prov, await prov.submit(req())))[-1]
    assert status.state is TaskState.FAILED and type(status.error) is kind
    assert text[:20] in status.error.message
    await prov.aclose()


@pytest.mark.parametrize("outcome", ["canceled", "aborted"])
async def test_canceled_or_aborted_is_cancelled(server, sleeps, outcome):
    server.outcome = outcome
    prov = make(server, sleeps)
    assert (await run(prov, await prov.submit(req())))[-1].state is TaskState.CANCELLED
    await prov.aclose()


async def test_removed_output_is_invalid_response(server, sleeps):
    server.data_removed = True
    prov = make(server, sleeps)
    status = (await run(prov, await prov.submit(req())))[-1]
    assert status.state is TaskState.FAILED and isinstance(status.error, InvalidResponse)
    await prov.aclose()


# ---------------------------------------------------------------------------------------------- HTTP errors


async def test_401_is_auth_error_and_never_echoes_the_key(provider, server):
    server.fault("create_model", Reply(401, {"detail": f"Invalid token {KEY}", "status": 401}))
    with pytest.raises(AuthError) as info:
        await provider.submit(req())
    assert KEY not in str(info.value) and KEY not in repr(info.value)


async def test_wrong_key_is_refused_by_the_fake(server, sleeps):
    prov = make(server, sleeps, api_key="some-other-token")
    with pytest.raises(AuthError):
        await prov.check_key()
    await prov.aclose()


async def test_missing_key_fails_without_a_request(server, sleeps):
    prov = make(server, sleeps, api_key=None)
    with pytest.raises(AuthError):
        await prov.submit(req())
    assert server.log == []


@pytest.mark.parametrize("reply", [
    problem(422, "- input.num_outputs: Must be less than or equal to 4", "Input validation failed"),
    problem(422, "The specified version does not exist (or perhaps you don't have permission to use it?)",
            "Invalid version or not permitted"),
    problem(422, "- input.disable_safety_checker: Invalid type. Expected: boolean"),
])
async def test_422_is_invalid_request(provider, server, reply):
    server.fault("create_model", reply)
    with pytest.raises(InvalidRequest) as info:
        await provider.submit(req())
    assert type(info.value) is InvalidRequest and info.value.status == 422


async def test_402_is_insufficient_credits(provider, server):
    server.fault("create_model", problem(402, "You have insufficient credit to run this model."))
    with pytest.raises(InsufficientCredits):
        await provider.submit(req())


async def test_unknown_model_404_on_create_is_invalid_request(server, sleeps):
    server.known_models = (DEV,)
    prov = make(server, sleeps)
    with pytest.raises(InvalidRequest, match="unknown model"):
        await prov.submit(req(SCHNELL))
    await prov.aclose()


async def test_unknown_prediction_404_on_poll_is_task_not_found(provider):
    handle = TaskHandle(provider="replicate", task_id="nope", model=SCHNELL,
                        state={"get": "predictions/nope"})
    with pytest.raises(TaskNotFound):
        await provider.poll(handle)


async def test_429_honours_retry_after_then_succeeds(provider, server, sleeps):
    server.fault("create_model",
                 Reply(429, {"detail": "Request was throttled."}, headers={"Retry-After": "7"}))
    handle = await provider.submit(req())
    assert len(server.calls("create_model")) == 2 and 7.0 in sleeps.calls
    assert (await run(provider, handle))[-1].state is TaskState.SUCCEEDED


async def test_429_without_header_uses_the_reset_hint(provider, server, sleeps):
    server.fault("get", Reply(429, {"detail": "Request was throttled. Your rate limit resets in ~30s."}))
    handle = await provider.submit(req())
    assert (await provider.poll(handle)).state is TaskState.QUEUED
    assert 30.0 in sleeps.calls


async def test_429_over_the_budget_is_raised(provider, server):
    server.fault("create_model", Reply(429, {"detail": "throttled"}, headers={"Retry-After": "600"}))
    with pytest.raises(RateLimited) as info:
        await provider.submit(req())
    assert info.value.retry_after == 600.0


async def test_5xx_is_retried_then_succeeds(provider, server):
    handle = await provider.submit(req())
    server.fault("get", Reply(503, {"detail": "Service Unavailable"}), times=2)
    assert (await provider.poll(handle)).state is TaskState.QUEUED
    assert len(server.calls("get")) == 3


async def test_persistent_5xx_is_provider_down(provider, server):
    handle = await provider.submit(req())
    server.fault("get", Reply(500, "Internal Server Error"), times=10)
    with pytest.raises(ProviderDown):
        await provider.poll(handle)
    assert len(server.calls("get")) == 3  # max_attempts


async def test_hang_beyond_deadline_is_timeout(server, sleeps):
    prov = make(server, sleeps, timeout_s=0.3)
    server.fault("create_model", Reply(201, {"id": "x"}, delay_s=2.0))
    with pytest.raises(ProviderTimeout):
        await prov.submit(req())
    await prov.aclose()


async def test_truncated_poll_is_retried_but_truncated_create_is_not(provider, server):
    handle = await provider.submit(req())
    server.fault("get", Reply(200, {"status": "starting", "id": handle.task_id}, truncate_to=10))
    assert (await provider.poll(handle)).state is TaskState.QUEUED
    server.fault("create_model", Reply(201, {"id": "abc", "status": "starting"}, truncate_to=5), times=5)
    with pytest.raises(ProviderDown):
        await provider.submit(req())
    assert len(server.calls("create_model")) == 2  # the first submit, then exactly one: never paid twice


async def test_malformed_json_is_invalid_response(provider, server):
    handle = await provider.submit(req())
    server.fault("get", Reply(200, b'{"status": "succ', headers={"Content-Type": "application/json"}))
    with pytest.raises(InvalidResponse):
        await provider.poll(handle)


async def test_unknown_status_is_invalid_response(provider, server):
    handle = await provider.submit(req())
    server.fault("get", Reply(200, {"id": handle.task_id, "status": "exploded"}))
    with pytest.raises(InvalidResponse):
        await provider.poll(handle)


# ---------------------------------------------------------------------------------------------- downloads


@pytest.mark.parametrize("reply", [
    Reply(200, "<html><body>Access denied</body></html>", headers={"Content-Type": "text/html"}),
    Reply(404, "Not Found"),
])
async def test_bad_result_url_is_invalid_response(provider, server, reply):
    handle = await provider.submit(req())
    server.fault("file", reply)
    with pytest.raises(InvalidResponse):
        await run(provider, handle)


async def test_oversized_download_is_invalid_response(server, sleeps):
    prov = make(server, sleeps, max_download_bytes=2000)
    handle = await prov.submit(req())
    server.fault("file", Reply(200, png_bytes(8, 8) + b"\0" * 5000, headers={"Content-Type": "image/png"}))
    with pytest.raises(InvalidResponse, match="larger"):
        await run(prov, handle)
    await prov.aclose()


async def test_status_urls_on_another_host_are_not_followed(provider, server):
    evil = "http://127.0.0.2:9/v1/predictions/evil1"
    server.fault("create_model", Reply(201, {"id": "evil1", "status": "starting",
                                             "urls": {"get": evil, "cancel": evil + "/cancel"}}))
    handle = await provider.submit(req())
    assert handle.state["get"] == "predictions/evil1"
    assert handle.state["cancel"] == "predictions/evil1/cancel"


# ---------------------------------------------------------------------------------------------- misc


async def test_check_key_names_the_account(provider, server):
    assert await provider.check_key() == "key works (fake-user)"
    assert server.calls("account")[0].header("authorization") == f"Bearer {KEY}"


def test_progress_from_logs() -> None:
    assert parse_progress(" 10%|#   | 2/20 [00:01]\n 45%|####    | 9/20 [00:02]") == pytest.approx(0.45)
    assert parse_progress("Using seed 3") is None
    assert parse_progress(None) is None


async def test_registry_builds_the_adapter(server):
    config = ProviderConfig(provider="replicate", base_url=server.base_url, api_key=KEY)
    prov = create_provider(config, CATALOGUE)
    assert isinstance(prov, ReplicateProvider) and isinstance(prov, Provider)
    assert "REPLICATE_API_TOKEN" == CATALOGUE.get("replicate").key_env
    assert KEY not in repr(config)
    await prov.aclose()
