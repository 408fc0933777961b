"""OpenAIProvider against the loopback OpenAI fake: fields sent, key handling, results, every error shape."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from providers.base import (
    AuthError,
    ImageRequest,
    ImageResult,
    InsufficientCredits,
    InvalidRequest,
    InvalidResponse,
    ModerationError,
    Provider,
    ProviderConfig,
    ProviderDown,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    TaskHandle,
    TaskNotFound,
)
from providers.catalogue import Capabilities, Catalogue
from providers.openai import OpenAIProvider, cost_from_usage, size_for_aspect
from providers.registry import create_provider
from tests.fakes.servers.base import Reply, png_bytes
from tests.fakes.servers.openai_fake import OpenAIFake, openai_error

pytestmark = pytest.mark.anyio
KEY = "sk-test-openai-0123456789abcdef"
CATALOGUE = Catalogue.load()


class Sleeps(list):
    """An instant `sleep` that records the delays asked for."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake() -> Iterator[OpenAIFake]:
    with OpenAIFake(key=KEY) as server:
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make(fake: OpenAIFake, sleeps: Sleeps) -> AsyncIterator[Any]:
    made: list[OpenAIProvider] = []

    def factory(key: str | None = KEY, **cfg: Any) -> OpenAIProvider:
        config = ProviderConfig("openai", fake.base_url, key, **cfg)
        provider = OpenAIProvider(config, CATALOGUE.get("openai"), sleep=sleeps)
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.aclose()


def req(**kw: Any) -> ImageRequest:
    base = {"prompt": "a watercolor fox in snow", "provider": "openai", "model": "gpt-image-2"}
    return ImageRequest(**{**base, **kw})


def assert_key_only_in_auth_header(fake: OpenAIFake, key: str = KEY) -> None:
    assert fake.log, "no request reached the fake"
    for r in fake.log:
        assert key not in r.path and key not in str(r.query)
        assert key.encode() not in r.body
        for name, value in r.headers.items():
            if name.lower() != "authorization":
                assert key not in value


def assert_key_not_in_error(err: ProviderError, key: str) -> None:
    assert key not in str(err) and key not in err.message and key not in repr(err.args)


# -- success ----------------------------------------------------------------------------------------


async def test_generation_sends_documented_fields_and_returns_images(fake: OpenAIFake, make: Any) -> None:
    provider = make()
    result = await provider.submit(req(width=1536, height=1024, quality="high", count=2, seed=42,
                                       negative_prompt="blurry", extras=(("background", "opaque"),)))
    (call,) = fake.calls("generations")
    assert call.header("authorization") == f"Bearer {KEY}"
    assert call.header("content-type") == "application/json"
    assert call.json() == {"model": "gpt-image-2", "prompt": "a watercolor fox in snow", "n": 2,
                           "size": "1536x1024", "quality": "high", "output_format": "png",
                           "background": "opaque"}
    assert_key_only_in_auth_header(fake)
    assert isinstance(result, ImageResult)
    assert len(result.images) == 2 and result.images[0].data != result.images[1].data
    assert all(img.data.startswith(b"\x89PNG") and img.mime == "image/png" for img in result.images)
    assert (result.images[0].width, result.images[0].height) == (1536, 1024)
    assert result.images[0].seed is None and result.images[0].revised_prompt is None
    assert result.request_id == "req_000001"
    usage = result.usage
    assert usage["output_tokens"] == 2 * 4160 and usage["input_tokens_details"]["text_tokens"] > 0
    text_in = usage["input_tokens_details"]["text_tokens"]
    assert result.cost_usd == pytest.approx((text_in * 5.0 + 2 * 4160 * 30.0) / 1e6)


async def test_aspect_ratio_maps_to_a_size_the_api_takes(fake: OpenAIFake, make: Any) -> None:
    provider = make()
    await provider.submit(req(aspect_ratio="16:9"))
    await provider.submit(req(aspect_ratio="21:9"))  # not in the catalogue: computed for the free-size model
    sizes = [c.json().get("size") for c in fake.calls("generations")]
    assert sizes[0] == "1280x720"
    w, h = map(int, sizes[1].split("x"))
    assert w % 16 == 0 and h % 16 == 0 and abs(w / h - 21 / 9) < 0.05 and 0.8e6 < w * h < 1.3e6


def test_size_for_aspect_refuses_what_a_fixed_size_model_lacks() -> None:
    caps = Capabilities(model="m", label="m", sizes=("1024x1024", "1536x1024"))
    assert size_for_aspect("3:2", caps) == "1536x1024"
    with pytest.raises(InvalidRequest):
        size_for_aspect("16:9", caps)
    with pytest.raises(InvalidRequest):
        size_for_aspect("wide", caps)


async def test_image_to_image_uses_multipart_edits(fake: OpenAIFake, make: Any) -> None:
    source = png_bytes(16, 16, (1, 2, 3))
    result = await make().submit(req(prompt="make it night time", init_image=source,
                                     init_image_mime="image/png",
                                     extras=(("moderation", "low"), ("input_fidelity", "high"))))
    assert not fake.calls("generations")
    (call,) = fake.calls("edits")
    assert call.header("content-type").startswith("multipart/form-data")
    parts = call.multipart()
    assert parts["image"] == [source]
    assert parts["prompt"] == [b"make it night time"] and parts["model"] == [b"gpt-image-2"]
    assert parts["input_fidelity"] == [b"high"] and parts["n"] == [b"1"]
    assert "moderation" not in parts and "seed" not in parts  # edits take no moderation field
    assert_key_only_in_auth_header(fake)
    assert len(result.images) == 1 and result.images[0].mime == "image/png"


async def test_source_that_is_not_an_image_is_refused_before_sending(fake: OpenAIFake, make: Any) -> None:
    with pytest.raises(InvalidRequest):
        await make().submit(req(init_image=b"GIF89a not supported"))
    assert fake.log == []


async def test_url_results_are_downloaded_without_the_key(fake: OpenAIFake, make: Any) -> None:
    result = await make().submit(req(model="dall-e-3", quality="hd", width=1024, height=1024))
    (call,) = fake.calls("generations")
    body = call.json()
    assert "output_format" not in body and "moderation" not in body and "response_format" not in body
    (download,) = fake.calls("files")
    assert download.header("authorization") is None
    assert result.images[0].data == fake.files[download.path.rsplit("/", 1)[-1]]
    assert result.images[0].revised_prompt == "A detailed rendering of a watercolor fox in snow"
    assert result.usage == {} and result.cost_usd is None


async def test_expired_url_is_an_invalid_response(fake: OpenAIFake, make: Any) -> None:
    fake.fault("generations", Reply(200, {"created": 1, "data": [{"url": f"{fake.url}/files/gone.png"}]}))
    with pytest.raises(InvalidResponse):
        await make().submit(req())


async def test_check_key_and_missing_key(fake: OpenAIFake, make: Any) -> None:
    assert await make().check_key() == "key works"
    fake.models.remove("gpt-image-2")
    assert "not available" in await make().check_key()
    with pytest.raises(AuthError):
        await make(key="sk-wrong-key-000000000000").check_key()
    calls_before = len(fake.log)
    with pytest.raises(AuthError):
        await make(key=None).submit(req())
    assert len(fake.log) == calls_before


async def test_protocol_shape_and_no_cancel(make: Any) -> None:
    provider = make()
    assert isinstance(provider, Provider) and provider.id == "openai" and provider.supports_cancel is False
    handle = TaskHandle("openai", "t1", "gpt-image-2")
    assert await provider.cancel(handle) is False
    with pytest.raises(TaskNotFound):
        await provider.poll(handle)


async def test_registry_builds_the_adapter(fake: OpenAIFake, sleeps: Sleeps) -> None:
    provider = create_provider(ProviderConfig("openai", fake.base_url, KEY), CATALOGUE, sleep=sleeps)
    try:
        assert isinstance(provider, OpenAIProvider)
        assert len((await provider.submit(req())).images) == 1
    finally:
        await provider.aclose()


# -- errors -----------------------------------------------------------------------------------------


async def test_wrong_key_is_auth_error_and_never_echoed(fake: OpenAIFake, make: Any) -> None:
    wrong = "sk-wrong-key-abcdefghijklmnop"
    with pytest.raises(AuthError) as info:
        await make(key=wrong).submit(req())
    assert info.value.status == 401
    assert_key_not_in_error(info.value, wrong)
    assert len(fake.calls("generations")) == 1  # not retried


@pytest.mark.parametrize("kwargs, fault, expected, fragment", [
    ({"width": 1000, "height": 1000}, None, InvalidRequest, "Invalid size"),
    ({"prompt": "something forbidden"}, None, ModerationError, "safety system"),
    ({"prompt": "something forbidden", "model": "dall-e-3"}, None, ModerationError, "safety system"),
    ({"model": "gpt-image-1"}, None, InvalidRequest, "gpt-image-1 is not available"),
    ({}, openai_error(403, "Your organization must be verified to use the model `gpt-image-2`."), AuthError,
     "verified"),
    ({}, openai_error(400, "Billing hard limit has been reached", code="billing_hard_limit_reached"),
     InsufficientCredits, "Billing"),
    ({}, openai_error(429, "You exceeded your current quota, please check your plan and billing details.",
                      etype="insufficient_quota", code="insufficient_quota"), InsufficientCredits, "quota"),
])
async def test_documented_errors_map_to_typed_errors(fake: OpenAIFake, make: Any, kwargs: dict[str, Any],
                                                     fault: Reply | None, expected: type,
                                                     fragment: str) -> None:
    if fault is not None:
        fault.headers["x-request-id"] = "req_err"
        fake.fault("generations", fault)
    with pytest.raises(expected) as info:
        await make().submit(req(**kwargs))
    err = info.value
    assert fragment in err.message and err.provider == "openai" and not err.retryable
    assert len(fake.calls("generations")) == 1
    if fault is not None:
        assert err.request_id == "req_err"
    assert_key_not_in_error(err, KEY)


@pytest.mark.parametrize("headers, delay", [({"retry-after": "2"}, 2.0), ({"retry-after-ms": "1500"}, 1.5)])
async def test_rate_limit_honours_retry_after_then_succeeds(fake: OpenAIFake, make: Any, sleeps: Sleeps,
                                                            headers: dict[str, str], delay: float) -> None:
    fake.fault("generations", openai_error(429, "Rate limit reached for images per minute",
                                           etype="requests", code="rate_limit_exceeded", headers=headers))
    result = await make().submit(req())
    assert len(result.images) == 1
    assert sleeps == [delay]
    assert len(fake.calls("generations")) == 2


async def test_rate_limit_beyond_budget_is_raised_at_once(fake: OpenAIFake, make: Any,
                                                          sleeps: Sleeps) -> None:
    fake.fault("generations", openai_error(429, "slow down", code="rate_limit_exceeded",
                                           headers={"retry-after": "30"}))
    with pytest.raises(RateLimited) as info:
        await make(retry_budget_s=10).submit(req())
    assert info.value.retry_after == 30 and info.value.retryable
    assert sleeps == [] and len(fake.calls("generations")) == 1


async def test_rate_limit_every_time_gives_up_after_max_attempts(fake: OpenAIFake, make: Any,
                                                                 sleeps: Sleeps) -> None:
    fake.fault("generations", openai_error(429, "slow down", code="rate_limit_exceeded",
                                           headers={"retry-after": "1"}), times=5)
    with pytest.raises(RateLimited):
        await make(max_attempts=3).submit(req())
    assert sleeps == [1.0, 1.0] and len(fake.calls("generations")) == 3


async def test_server_error_is_retried_then_succeeds(fake: OpenAIFake, make: Any, sleeps: Sleeps) -> None:
    fake.fault("generations", openai_error(500, "The server had an error", etype="server_error"))
    fake.fault("generations", openai_error(503, "overloaded", etype="server_error"))
    result = await make().submit(req())
    assert len(result.images) == 1 and len(sleeps) == 2 and all(0 < s <= 8 for s in sleeps)


async def test_persistent_server_error_is_provider_down(fake: OpenAIFake, make: Any, sleeps: Sleeps) -> None:
    fake.fault("generations", openai_error(502, "bad gateway", etype="server_error"), times=10)
    with pytest.raises(ProviderDown) as info:
        await make().submit(req())
    assert info.value.fallback_ok and len(fake.calls("generations")) == 4


async def test_x_should_retry_false_stops_retries(fake: OpenAIFake, make: Any, sleeps: Sleeps) -> None:
    fake.fault("generations", openai_error(500, "no", etype="server_error",
                                           headers={"x-should-retry": "false"}))
    with pytest.raises(ProviderDown):
        await make().submit(req())
    assert sleeps == [] and len(fake.calls("generations")) == 1


async def test_hang_beyond_deadline_is_a_timeout(fake: OpenAIFake, make: Any) -> None:
    fake.fault("generations", Reply(200, {"data": []}, delay_s=3.0))
    start = time.monotonic()
    with pytest.raises(ProviderTimeout) as info:
        await make(timeout_s=0.5).submit(req())
    assert time.monotonic() - start < 2.0
    assert not info.value.retryable  # a paid create call is never resent after a timeout
    assert len(fake.calls("generations")) == 1


async def test_truncated_body_is_not_resent(fake: OpenAIFake, make: Any, sleeps: Sleeps) -> None:
    good = {"created": 1, "data": [{"b64_json": base64.b64encode(png_bytes()).decode()}]}
    fake.fault("generations", Reply(200, good, truncate_to=30))
    with pytest.raises(ProviderDown) as info:
        await make().submit(req())
    assert not info.value.retryable and len(fake.calls("generations")) == 1


@pytest.mark.parametrize("reply", [
    Reply(200, b'{"created": 1, "data": [{"b64_json": "iVBO', headers={"Content-Type": "application/json"}),
    Reply(200, "<html>gateway</html>", headers={"Content-Type": "text/html"}),
    Reply(200, {"created": 1, "data": []}),
    Reply(200, {"created": 1, "data": [{"b64_json": "not base64 at all!"}]}),
    Reply(200, {"created": 1, "data": [{"b64_json": base64.b64encode(b"hello, not an image").decode()}]}),
    Reply(200, {"created": 1, "data": [{"revised_prompt": "no image here"}]}),
    Reply(200, {"created": 1, "data": ["iVBORw0KGgo="]}),
])
async def test_malformed_success_bodies_are_invalid_responses(fake: OpenAIFake, make: Any,
                                                               reply: Reply) -> None:
    fake.fault("generations", reply)
    with pytest.raises(InvalidResponse) as info:
        await make().submit(req())
    assert info.value.fallback_ok


def test_cost_from_usage_needs_every_price() -> None:
    caps = CATALOGUE.capabilities("openai", "gpt-image-2")
    usage = {"input_tokens": 10, "output_tokens": 1000}
    assert cost_from_usage(usage, caps) == pytest.approx((10 * 5 + 1000 * 30) / 1e6)
    with_text_out = {"input_tokens": 10, "output_tokens": 1000,
                     "output_tokens_details": {"image_tokens": 900, "text_tokens": 100}}
    assert cost_from_usage(with_text_out, caps) is None  # no text-output price in the catalogue
    assert cost_from_usage({"input_tokens": "ten", "output_tokens": 5}, caps) is None
    assert cost_from_usage(usage, Capabilities(model="x", label="x")) is None
