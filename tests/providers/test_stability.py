"""StabilityProvider against the loopback Stability fake: v2beta core/ultra/sd3, v1 SDXL, balance, errors."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

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
    ProviderError,
    ProviderTimeout,
    RateLimited,
    TaskHandle,
)
from providers.catalogue import Catalogue
from providers.stability import StabilityProvider, endpoint_for
from tests.fakes.servers.base import Reply, png_bytes
from tests.fakes.servers.stability_fake import StabilityFake, v1_error, v2_error

pytestmark = pytest.mark.anyio
KEY = "sk-test-stability-0123456789"
CATALOGUE = Catalogue.load()
SDXL = "stable-diffusion-xl-1024-v1-0"


class Sleeps(list):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake() -> Iterator[StabilityFake]:
    with StabilityFake(key=KEY, credits=100.0) as server:
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make(fake: StabilityFake, sleeps: Sleeps) -> AsyncIterator[Any]:
    made: list[StabilityProvider] = []

    def factory(key: str | None = KEY, **cfg: Any) -> StabilityProvider:
        config = ProviderConfig("stability", fake.url, key, **cfg)
        provider = StabilityProvider(config, CATALOGUE.get("stability"), sleep=sleeps)
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.aclose()


def req(**kw: Any) -> ImageRequest:
    return ImageRequest(**{"prompt": "a lighthouse on a cliff", "provider": "stability",
                           "model": "stable-image-core", **kw})


def fields(call: Any) -> dict[str, str]:
    return {k: v[0].decode() for k, v in call.multipart().items() if k not in ("image", "init_image")}


def assert_key_only_in_auth_header(fake: StabilityFake) -> None:
    assert fake.log
    for r in fake.log:
        assert KEY not in r.path and KEY not in str(r.query) and KEY.encode() not in r.body
        assert all(KEY not in v for k, v in r.headers.items() if k.lower() != "authorization")


def assert_key_not_in_error(err: ProviderError, key: str = KEY) -> None:
    assert key not in str(err) and key not in err.message and key not in repr(err.args)


def test_model_ids_pick_the_endpoint() -> None:
    assert endpoint_for("stable-image-core") == ("v2", "/v2beta/stable-image/generate/core")
    assert endpoint_for("stable-image-ultra") == ("v2", "/v2beta/stable-image/generate/ultra")
    assert endpoint_for("sd3.5-medium") == ("v2", "/v2beta/stable-image/generate/sd3")
    assert endpoint_for(SDXL) == ("v1", f"/v1/generation/{SDXL}")
    with pytest.raises(InvalidRequest):
        endpoint_for("../v1/user/balance?")


# -- v2beta -----------------------------------------------------------------------------------------


async def test_core_sends_multipart_fields_and_returns_the_image(fake: StabilityFake, make: Any) -> None:
    result = await make().submit(req(negative_prompt="people", aspect_ratio="16:9", seed=77,
                                     style="photographic"))
    (call,) = fake.calls("core")
    assert call.header("authorization") == f"Bearer {KEY}"
    assert call.header("accept") == "application/json"
    assert call.header("content-type").startswith("multipart/form-data")
    assert fields(call) == {"prompt": "a lighthouse on a cliff", "negative_prompt": "people",
                            "aspect_ratio": "16:9", "seed": "77", "style_preset": "photographic",
                            "output_format": "png"}
    assert_key_only_in_auth_header(fake)
    (image,) = result.images
    assert image.seed == 77 and image.mime == "image/png" and image.data.startswith(b"\x89PNG")
    assert result.request_id == "stab-77" and fake.credits == 97.0


async def test_width_and_height_become_the_nearest_aspect_ratio(fake: StabilityFake, make: Any) -> None:
    await make().submit(req(width=1920, height=1080))
    await make().submit(req(width=800, height=1000))
    assert [fields(c)["aspect_ratio"] for c in fake.calls("core")] == ["16:9", "4:5"]


async def test_batch_is_one_call_per_image_with_consecutive_seeds(fake: StabilityFake, make: Any) -> None:
    result = await make().submit(req(count=3, seed=10))
    assert [fields(c)["seed"] for c in fake.calls("core")] == ["10", "11", "12"]
    assert [i.seed for i in result.images] == [10, 11, 12]


async def test_batch_keeps_paid_images_when_a_later_call_fails(fake: StabilityFake, make: Any) -> None:
    fake.credits = 7.0  # enough for two core images
    result = await make().submit(req(count=3))
    assert len(result.images) == 2 and result.usage["incomplete"] is True


async def test_ultra_image_to_image(fake: StabilityFake, make: Any) -> None:
    source = png_bytes(64, 64)
    await make().submit(req(model="stable-image-ultra", init_image=source, strength=0.3, aspect_ratio="16:9"))
    (call,) = fake.calls("ultra")
    sent = fields(call)
    assert call.multipart()["image"] == [source]
    assert sent["strength"] == "0.3" and "aspect_ratio" not in sent and "mode" not in sent


async def test_sd3_sends_model_and_mode_and_leaves_out_what_it_lacks(fake: StabilityFake, make: Any) -> None:
    await make().submit(req(model="sd3.5-large", style="anime", negative_prompt="fog"))
    await make().submit(req(model="sd3.5-large-turbo", negative_prompt="fog"))
    await make().submit(req(model="sd3.5-medium", init_image=png_bytes(), extras=(("cfg_scale", 4),)))
    first, turbo, i2i = (fields(c) for c in fake.calls("sd3"))
    assert first["model"] == "sd3.5-large" and first["negative_prompt"] == "fog"
    assert "style_preset" not in first
    assert turbo["model"] == "sd3.5-large-turbo" and "negative_prompt" not in turbo
    assert i2i["mode"] == "image-to-image" and i2i["strength"] == "0.65" and i2i["cfg_scale"] == "4"


async def test_core_refuses_a_source_image_before_sending(fake: StabilityFake, make: Any) -> None:
    with pytest.raises(InvalidRequest):
        await make().submit(req(init_image=png_bytes()))
    with pytest.raises(InvalidRequest):
        await make().submit(req(model="stable-image-ultra", init_image=b"not an image"))
    assert fake.log == []


async def test_raw_image_answer_is_accepted(fake: StabilityFake, make: Any) -> None:
    data = png_bytes(color=(1, 2, 3))
    fake.fault("core", Reply(200, data, headers={"Content-Type": "image/png", "finish-reason": "SUCCESS",
                                                 "seed": "4242"}))
    (image,) = (await make().submit(req())).images
    assert image.data == data and image.seed == 4242


@pytest.mark.parametrize("reply, expected", [
    (None, ModerationError),  # the fake filters prompts containing "blurme"
    (Reply(200, png_bytes(), headers={"Content-Type": "image/png", "finish-reason": "CONTENT_FILTERED"}),
     ModerationError),
    (Reply(200, {"image": base64.b64encode(png_bytes()).decode(), "finish_reason": "ERROR", "seed": 1}),
     InvalidResponse),
])
async def test_finish_reasons(fake: StabilityFake, make: Any, reply: Reply | None, expected: type) -> None:
    if reply is not None:
        fake.fault("core", reply)
    with pytest.raises(expected):
        await make().submit(req(prompt="please blurme"))


# -- v1 ---------------------------------------------------------------------------------------------


async def test_v1_text_to_image_json(fake: StabilityFake, make: Any) -> None:
    result = await make().submit(req(model=SDXL, negative_prompt="blurry", count=2, seed=5, width=1216,
                                     height=832, style="anime", extras=(("steps", 30), ("cfg_scale", 7))))
    (call,) = fake.calls("v1_t2i")
    assert call.path == f"/v1/generation/{SDXL}/text-to-image"
    assert call.header("accept") == "application/json" and call.header("authorization") == f"Bearer {KEY}"
    assert call.json() == {"text_prompts": [{"text": "a lighthouse on a cliff", "weight": 1.0},
                                            {"text": "blurry", "weight": -1.0}],
                           "width": 1216, "height": 832, "samples": 2, "seed": 5, "style_preset": "anime",
                           "steps": 30, "cfg_scale": 7}
    assert_key_only_in_auth_header(fake)
    assert [i.seed for i in result.images] == [5, 6] and result.images[0].width == 1216


async def test_v1_snaps_to_an_sdxl_size(fake: StabilityFake, make: Any) -> None:
    await make().submit(req(model=SDXL, aspect_ratio="16:9"))
    await make().submit(req(model=SDXL, width=1000, height=1000))
    await make().submit(req(model=SDXL))
    sizes = [(c.json()["width"], c.json()["height"]) for c in fake.calls("v1_t2i")]
    assert sizes == [(1344, 768), (1024, 1024), (1024, 1024)]


async def test_v1_keeps_unfiltered_artifacts(fake: StabilityFake, make: Any) -> None:
    good = base64.b64encode(png_bytes()).decode()
    artifacts = [{"base64": good, "seed": 1, "finishReason": "SUCCESS"},
                 {"base64": good, "seed": 2, "finishReason": "CONTENT_FILTERED"}]
    fake.fault("v1_t2i", Reply(200, {"artifacts": artifacts}))
    result = await make().submit(req(model=SDXL, count=2))
    assert [i.seed for i in result.images] == [1] and result.usage["not_returned"] == ["CONTENT_FILTERED"]


async def test_v1_image_to_image_multipart(fake: StabilityFake, make: Any) -> None:
    source = png_bytes(1024, 1024)
    await make().submit(req(model=SDXL, init_image=source, strength=0.25, negative_prompt="fog", seed=3))
    (call,) = fake.calls("v1_i2i")
    assert call.multipart()["init_image"] == [source]
    sent = fields(call)
    assert sent["text_prompts[0][text]"] == "a lighthouse on a cliff"
    assert sent["text_prompts[0][weight]"] == "1"
    assert sent["text_prompts[1][text]"] == "fog" and sent["text_prompts[1][weight]"] == "-1"
    assert sent["image_strength"] == "0.75" and sent["init_image_mode"] == "IMAGE_STRENGTH"
    assert sent["seed"] == "3" and sent["samples"] == "1"


# -- account ----------------------------------------------------------------------------------------


async def test_balance_and_check_key(fake: StabilityFake, make: Any) -> None:
    fake.credits = 12.5
    assert await make().balance() == 12.5
    assert await make().check_key() == "key works — 12.5 credits"
    with pytest.raises(AuthError) as info:
        await make(key="sk-wrong-stability-key-1234").check_key()
    assert_key_not_in_error(info.value, "sk-wrong-stability-key-1234")
    assert all(c.header("authorization") == f"Bearer {KEY}" for c in fake.calls("balance")[:2])


async def test_protocol_shape(make: Any, fake: StabilityFake) -> None:
    provider = make()
    assert isinstance(provider, Provider) and provider.id == "stability" and not provider.supports_cancel
    assert await provider.cancel(TaskHandle("stability", "x", SDXL)) is False
    with pytest.raises(AuthError):
        await make(key=None).submit(req())
    assert fake.log == []


# -- errors -----------------------------------------------------------------------------------------


async def test_wrong_key(fake: StabilityFake, make: Any) -> None:
    with pytest.raises(AuthError) as info:
        await make(key="sk-another-key-999999999").submit(req())
    assert info.value.status == 401 and len(fake.calls("core")) == 1
    assert_key_not_in_error(info.value, "sk-another-key-999999999")


@pytest.mark.parametrize("kwargs, route, fault, expected, fragment", [
    ({"aspect_ratio": "7:3"}, "core", None, InvalidRequest, "aspect_ratio"),
    ({"prompt": "forbidden thing"}, "core", None, ModerationError, "flagged"),
    ({"prompt": "forbidden thing", "model": SDXL}, "v1_t2i", None, ModerationError, "filtered words"),
    ({"model": "stable-diffusion-v1-6"}, "v1_t2i", None, InvalidRequest, "not available"),
    ({"model": SDXL, "init_image": png_bytes(8, 8)}, "v1_i2i", None, InvalidRequest, "SDXL v1 size"),
    ({}, "core", v2_error(402, "payment_required", "You lack sufficient credits"), InsufficientCredits,
     "credits"),
    ({}, "core", v2_error(403, "permission_denied", "not allowed"), AuthError, "not allowed"),
    ({}, "ultra", Reply(413, {"name": "payload_too_large", "errors": ["body too large"]}), InvalidRequest,
     "too large"),
    ({}, "core", v2_error(422, "invalid_language", "English only"), InvalidRequest, "English only"),
    ({"model": SDXL}, "v1_t2i", v1_error(403, "permission_denied", "no access"), AuthError, "no access"),
])
async def test_documented_errors(fake: StabilityFake, make: Any, kwargs: dict[str, Any], route: str,
                                 fault: Reply | None, expected: type, fragment: str) -> None:
    if route == "ultra":
        kwargs = {**kwargs, "model": "stable-image-ultra"}
    if fault is not None:
        fake.fault(route, fault)
    with pytest.raises(expected) as info:
        await make().submit(req(**kwargs))
    assert fragment in info.value.message and not info.value.retryable
    assert len(fake.calls(route)) == 1
    assert_key_not_in_error(info.value)


async def test_out_of_credits_from_the_fake_ledger(fake: StabilityFake, make: Any) -> None:
    fake.credits = 1.0
    with pytest.raises(InsufficientCredits):
        await make().submit(req())
    assert await make().balance() == 1.0


async def test_rate_limit_waits_out_the_lockout_then_succeeds(fake: StabilityFake, make: Any,
                                                              sleeps: Sleeps) -> None:
    fake.fault("core", Reply(429, {"name": "rate_limit_exceeded", "errors": ["too many requests"]}))
    fake.fault("core", Reply(429, {"name": "rate_limit_exceeded", "errors": ["x"]},
                             headers={"Retry-After": "3"}))
    assert len((await make().submit(req())).images) == 1
    assert sleeps == [60.0, 3.0]  # no header: the documented 60 s lockout


async def test_rate_limit_beyond_budget(fake: StabilityFake, make: Any, sleeps: Sleeps) -> None:
    fake.fault("core", Reply(429, {"name": "rate_limit_exceeded", "errors": ["too many requests"]}))
    with pytest.raises(RateLimited) as info:
        await make(retry_budget_s=30).submit(req())
    assert info.value.retry_after == 60.0 and sleeps == [] and len(fake.calls("core")) == 1


async def test_server_errors(fake: StabilityFake, make: Any, sleeps: Sleeps) -> None:
    fake.fault("core", v2_error(500, "internal_error", "boom"))
    assert len((await make().submit(req())).images) == 1 and len(sleeps) == 1
    fake.fault("v1_t2i", v1_error(500, "server_error", "boom"), times=10)
    with pytest.raises(ProviderDown):
        await make().submit(req(model=SDXL))
    assert len(fake.calls("v1_t2i")) == 4


async def test_hang_beyond_deadline(fake: StabilityFake, make: Any) -> None:
    fake.fault("core", Reply(200, {"image": ""}, delay_s=3.0))
    start = time.monotonic()
    with pytest.raises(ProviderTimeout) as info:
        await make(timeout_s=0.5).submit(req())
    assert time.monotonic() - start < 2.0 and not info.value.retryable


@pytest.mark.parametrize("reply, error", [
    (Reply(200, png_bytes(), headers={"Content-Type": "image/png"}, truncate_to=20), ProviderDown),
    (Reply(200, b'{"image": "iVBOR', headers={"Content-Type": "application/json"}), InvalidResponse),
    (Reply(200, {"image": "%%% not base64", "finish_reason": "SUCCESS"}), InvalidResponse),
    (Reply(200, {"finish_reason": "SUCCESS", "seed": 1}), InvalidResponse),
    (Reply(200, {"image": base64.b64encode(b"<html>").decode(), "finish_reason": "SUCCESS"}),
     InvalidResponse),
    (Reply(200, b"<html>not an image</html>", headers={"Content-Type": "image/png"}), InvalidResponse),
    (Reply(200, json.dumps(["a list"]), headers={"Content-Type": "application/json"}), InvalidResponse),
])
async def test_broken_answers(fake: StabilityFake, make: Any, reply: Reply, error: type) -> None:
    fake.fault("core", reply)
    with pytest.raises(error) as info:
        await make().submit(req())
    assert not info.value.retryable and len(fake.calls("core")) == 1


async def test_v1_broken_artifacts(fake: StabilityFake, make: Any) -> None:
    fake.fault("v1_t2i", Reply(200, {"artifacts": [{"base64": "@@@", "finishReason": "SUCCESS"}]}))
    with pytest.raises(InvalidResponse):
        await make().submit(req(model=SDXL))
    fake.fault("v1_t2i", Reply(200, {"result": "no artifacts"}))
    with pytest.raises(InvalidResponse):
        await make().submit(req(model=SDXL))
