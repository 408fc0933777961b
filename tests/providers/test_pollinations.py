"""PollinationsProvider against the loopback Pollinations fake: both APIs, the key's one place, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import pytest

from providers.base import (
    AuthError,
    ImageRequest,
    InsufficientCredits,
    InvalidRequest,
    InvalidResponse,
    Provider,
    ProviderConfig,
    ProviderDown,
    ProviderTimeout,
    RateLimited,
    TaskHandle,
    TaskNotFound,
)
from providers.catalogue import Catalogue
from providers.pollinations import ANON_MIN_GAP_S, GATEWAY_URL, PollinationsProvider
from providers.registry import create_provider
from tests.fakes.servers.base import Reply, png_bytes
from tests.fakes.servers.pollinations_fake import PUBLISHABLE_KEY, SECRET_KEY, PollinationsFake

pytestmark = pytest.mark.anyio
CATALOGUE = Catalogue.load()
INFO = CATALOGUE.get("pollinations")


class Sleeps(list):
    """An instant `sleep` that records the delays asked for."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake() -> Iterator[PollinationsFake]:
    with PollinationsFake() as server:
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make(fake: PollinationsFake, sleeps: Sleeps) -> AsyncIterator[Any]:
    made: list[PollinationsProvider] = []

    def build(key: str | None = None, **config: Any) -> PollinationsProvider:
        cfg = ProviderConfig("pollinations", config.pop("base_url", fake.url), api_key=key,
                             **{"timeout_s": 5.0, "max_attempts": 3, **config})
        provider = PollinationsProvider(cfg, INFO, sleep=sleeps)
        made.append(provider)
        return provider

    yield build
    for provider in made:
        await provider.aclose()


def req(prompt: str = "a red fox in snow", **kw: Any) -> ImageRequest:
    return ImageRequest(prompt=prompt, provider="pollinations", model=kw.pop("model", "flux"), **kw)


def everything_sent(fake: PollinationsFake) -> str:
    return " ".join(f"{r.method} {r.path} {r.query} {r.headers} {r.body!r}" for r in fake.log)


# -- success ---------------------------------------------------------------------------------------------


async def test_anonymous_image_encodes_prompt_and_records_seed(make: Any, fake: PollinationsFake) -> None:
    provider = make()
    assert isinstance(provider, Provider) and provider.base_url == fake.url
    prompt = "a cat/dog? #1 100% naïve\nsecond line"
    result = await provider.submit(req(prompt, width=640, height=480, seed=7))
    (call,) = fake.calls("generate")
    assert call.path == "/prompt/" + quote(prompt, safe="")
    assert call.query == {"model": ["flux"], "width": ["640"], "height": ["480"], "seed": ["7"],
                          "nologo": ["true"], "private": ["true"]}
    assert call.header("authorization") is None
    (image,) = result.images
    assert image.mime == "image/png" and image.seed == 7 and image.data.startswith(b"\x89PNG")
    assert f"seed\x007".encode() in image.data  # the fake echoed the seed that was sent


async def test_count_makes_requests_with_distinct_seeds_spaced_for_the_free_tier(
        make: Any, fake: PollinationsFake, sleeps: Sleeps) -> None:
    result = await make().submit(req(count=3, aspect_ratio="16:9"))
    calls = fake.calls("generate")
    seeds = [c.query["seed"][0] for c in calls]
    assert len(calls) == 3 and len(set(seeds)) == 3
    assert [str(i.seed) for i in result.images] == seeds
    assert calls[0].query["width"] == ["1024"] and calls[0].query["height"] == ["576"]
    gaps = [s for s in sleeps if s > 1.0]
    assert len(gaps) == 2 and all(0 < g <= ANON_MIN_GAP_S for g in gaps)


async def test_given_seed_counts_up_for_a_batch(make: Any, fake: PollinationsFake) -> None:
    result = await make().submit(req(count=2, seed=100))
    assert [i.seed for i in result.images] == [100, 101]


async def test_key_goes_only_in_the_bearer_header_to_the_gateway(make: Any, fake: PollinationsFake,
                                                                  sleeps: Sleeps) -> None:
    result = await make(SECRET_KEY).submit(req(count=2, model="turbo", seed=3))
    calls = fake.calls("gateway")
    assert len(calls) == 2 and not fake.calls("generate")
    for call in calls:
        assert call.header("authorization") == f"Bearer {SECRET_KEY}"
        assert "key" not in call.query and set(call.query) == {"model", "width", "height", "seed"}
        assert call.path.startswith("/image/")
    assert everything_sent(fake).count(SECRET_KEY) == 2  # once per request, in the header
    assert fake.keys[SECRET_KEY] == 8.0 and len(result.images) == 2
    assert not [s for s in sleeps if s > 1.0]  # the keyed tier is not paced like the anonymous one


async def test_default_base_urls_anonymous_endpoint_and_gateway(make: Any) -> None:
    assert make(base_url=INFO.base_url).base_url == "https://image.pollinations.ai"
    assert make(SECRET_KEY, base_url=INFO.base_url).base_url == GATEWAY_URL
    assert make(SECRET_KEY, base_url="http://mirror:1/").base_url == "http://mirror:1"


async def test_registry_builds_it(fake: PollinationsFake, sleeps: Sleeps) -> None:
    provider = create_provider(ProviderConfig("pollinations", fake.url), CATALOGUE, sleep=sleeps)
    try:
        assert isinstance(provider, PollinationsProvider) and provider.supports_cancel is False
    finally:
        await provider.aclose()


async def test_list_models_and_check_key(make: Any, fake: PollinationsFake) -> None:
    assert await make().list_models() == ["flux", "turbo", "kontext"]
    assert "No key needed" in await make().check_key()
    verdict = await make(PUBLISHABLE_KEY).check_key()
    assert "publishable" in verdict and fake.calls("gateway_models")
    with pytest.raises(AuthError, match="sk_ or pk_"):
        await make("not-a-pollinations-key").check_key()


async def test_no_tasks_and_no_cancel(make: Any) -> None:
    provider = make()
    handle = TaskHandle("pollinations", "x", "flux")
    with pytest.raises(TaskNotFound):
        await provider.poll(handle)
    assert await provider.cancel(handle) is False


async def test_requests_it_cannot_serve_are_refused_before_sending(make: Any, fake: PollinationsFake) -> None:
    with pytest.raises(InvalidRequest, match="local image"):
        await make().submit(req(init_image=png_bytes(), strength=0.5))
    with pytest.raises(InvalidRequest, match="empty"):
        await make().submit(req("   "))
    with pytest.raises(InvalidRequest, match="too long"):
        await make().submit(req("ü" * 2000))
    assert not fake.log


# -- errors ----------------------------------------------------------------------------------------------


async def test_429_retry_after_then_success(make: Any, fake: PollinationsFake, sleeps: Sleeps) -> None:
    fake.fault("generate", Reply(429, {"error": "Too Many Requests", "message": "Queue full for IP"},
                                 headers={"Retry-After": "4"}))
    result = await make().submit(req())
    assert len(result.images) == 1 and 4.0 in sleeps and len(fake.calls("generate")) == 2


async def test_concurrent_submits_wait_their_turn_instead_of_tripping_429(make: Any,
                                                                          fake: PollinationsFake) -> None:
    fake.work_s = 0.05
    provider = make()
    results = await asyncio.gather(provider.submit(req()), provider.submit(req()))
    assert len(fake.calls("generate")) == 2 and all(len(r.images) == 1 for r in results)


async def test_persistent_429_becomes_rate_limited(make: Any, fake: PollinationsFake) -> None:
    fake.fault("generate", Reply(429, {"message": "slow down"}, headers={"Retry-After": "1"}), times=3)
    with pytest.raises(RateLimited) as info:
        await make().submit(req())
    assert info.value.retry_after == 1.0 and info.value.status == 429


async def test_5xx_is_retried(make: Any, fake: PollinationsFake) -> None:
    fake.fault("generate", Reply(502, "<html>Bad Gateway</html>", headers={"Content-Type": "text/html"}))
    fake.fault("generate", Reply(503, {"error": "Service Unavailable"}))
    result = await make().submit(req())
    assert len(result.images) == 1 and len(fake.calls("generate")) == 3


async def test_5xx_every_time_is_provider_down(make: Any, fake: PollinationsFake) -> None:
    fake.fault("generate", Reply(500, {"error": "Internal Server Error", "message": "model crashed"}),
               times=3)
    with pytest.raises(ProviderDown, match="model crashed"):
        await make().submit(req())


async def test_anonymous_tier_closed_asks_for_a_key(make: Any, fake: PollinationsFake) -> None:
    fake.require_key_anon = True
    with pytest.raises(AuthError, match="enter.pollinations.ai") as info:
        await make().submit(req())
    assert info.value.status == 401 and len(fake.calls("generate")) == 1


async def test_wrong_key_is_auth_error_without_the_key(make: Any) -> None:
    with pytest.raises(AuthError) as info:
        await make("sk_wrong_key_123456").submit(req())
    assert "sk_wrong_key_123456" not in str(info.value) and info.value.status == 401


async def test_exhausted_pollen_is_insufficient_credits(make: Any, fake: PollinationsFake) -> None:
    fake.keys[PUBLISHABLE_KEY] = 0.5
    with pytest.raises(InsufficientCredits, match="pollen"):
        await make(PUBLISHABLE_KEY).submit(req())


async def test_bad_model_is_invalid_request(make: Any) -> None:
    with pytest.raises(InvalidRequest, match="Invalid model"):
        await make().submit(req(model="nope"))


async def test_404_is_not_retried(make: Any, fake: PollinationsFake) -> None:
    fake.fault("generate", Reply(404, "Not Found"))
    with pytest.raises(ProviderDown, match="404") as info:
        await make().submit(req())
    assert info.value.retryable is False and len(fake.calls("generate")) == 1


@pytest.mark.parametrize("reply", [
    Reply(200, "<!doctype html><title>Oops</title>", headers={"Content-Type": "text/html"}),
    Reply(200, {"error": "content blocked"}),
    Reply(200, b"GIF89a not what we take", headers={"Content-Type": "image/gif"}),
    Reply(200, b"definitely not an image"),
])
async def test_non_images_are_invalid_response(make: Any, fake: PollinationsFake, reply: Reply) -> None:
    fake.fault("generate", reply)
    with pytest.raises(InvalidResponse):
        await make().submit(req())


async def test_oversized_image_is_refused(make: Any, fake: PollinationsFake) -> None:
    with pytest.raises(InvalidResponse, match="larger than"):
        await make(max_download_bytes=50).submit(req())


async def test_truncated_image_is_retried_then_provider_down(make: Any, fake: PollinationsFake) -> None:
    data = png_bytes(64, 64)
    fake.fault("generate", Reply(200, data, headers={"Content-Type": "image/png"}, truncate_to=20))
    assert len((await make().submit(req())).images) == 1
    fake.fault("generate", Reply(200, data, headers={"Content-Type": "image/png"}, truncate_to=20), times=3)
    with pytest.raises(ProviderDown, match="cut off"):
        await make().submit(req())


async def test_hang_is_provider_timeout(make: Any, fake: PollinationsFake) -> None:
    fake.fault("generate", Reply(200, png_bytes(), headers={"Content-Type": "image/png"}, delay_s=3), times=3)
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(ProviderTimeout):
        await make(timeout_s=0.3).submit(req())
    assert loop.time() - start < 2.0


async def test_dripping_server_hits_the_overall_deadline(make: Any, fake: PollinationsFake) -> None:
    fake.fault("generate", Reply(200, png_bytes(), headers={"Content-Type": "image/png"}, drip_s=0.05))
    with pytest.raises(ProviderTimeout):
        await make(timeout_s=0.4, max_attempts=1).submit(req())


async def test_unreachable_server_is_provider_down(make: Any) -> None:
    with pytest.raises(ProviderDown, match="cannot connect"):
        await make(base_url="http://127.0.0.1:9", max_attempts=1).submit(req())
