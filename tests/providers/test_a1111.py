"""A1111Provider against the loopback WebUI fake: payloads, img2img, auth, progress, interrupt, errors."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from providers.a1111 import A1111Provider
from providers.base import (
    AuthError,
    Cancelled,
    ImageRequest,
    InvalidRequest,
    InvalidResponse,
    Provider,
    ProviderConfig,
    ProviderDown,
    ProviderTimeout,
    TaskHandle,
    TaskNotFound,
    TaskState,
)
from providers.catalogue import Catalogue
from providers.registry import create_provider
from tests.fakes.servers.a1111_fake import CHECKPOINTS, A1111Fake
from tests.fakes.servers.base import Reply, png_bytes

pytestmark = pytest.mark.anyio
CATALOGUE = Catalogue.load()
INFO = CATALOGUE.get("a1111")
HANDLE = TaskHandle("a1111", "", "default")


class Sleeps(list):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake() -> Iterator[A1111Fake]:
    with A1111Fake() as server:
        yield server


@pytest.fixture
async def make(fake: A1111Fake) -> AsyncIterator[Any]:
    made: list[A1111Provider] = []

    def build(key: str | None = None, server: A1111Fake | None = None, **config: Any) -> A1111Provider:
        url = config.pop("base_url", (server or fake).url)
        cfg = ProviderConfig("a1111", url, api_key=key, **{"timeout_s": 5.0, "max_attempts": 3, **config})
        provider = A1111Provider(cfg, INFO, sleep=Sleeps())
        made.append(provider)
        return provider

    yield build
    for provider in made:
        await provider.aclose()


def req(prompt: str = "a lighthouse at dusk", **kw: Any) -> ImageRequest:
    return ImageRequest(prompt=prompt, provider="a1111", model=kw.pop("model", "default"), **kw)


# -- success ---------------------------------------------------------------------------------------------


async def test_txt2img_sends_the_request_and_reads_seeds(make: Any, fake: A1111Fake) -> None:
    provider = make()
    assert isinstance(provider, Provider) and provider.supports_cancel
    result = await provider.submit(req(negative_prompt="blurry", count=2, seed=1234, width=768, height=512,
                                       extras=(("sampler", "DPM++ 2M"), ("steps", 12))))
    (call,) = fake.calls("txt2img")
    body = call.json()
    assert body["prompt"] == "a lighthouse at dusk" and body["negative_prompt"] == "blurry"
    assert (body["seed"], body["batch_size"], body["n_iter"]) == (1234, 2, 1)
    assert (body["width"], body["height"], body["steps"], body["sampler_name"]) == (768, 512, 12, "DPM++ 2M")
    assert body["send_images"] is True and "override_settings" not in body and "init_images" not in body
    assert call.header("authorization") is None
    assert [i.seed for i in result.images] == [1234, 1235]
    assert all(i.mime == "image/png" and (i.width, i.height) == (768, 512) for i in result.images)
    assert b"Seed: 1235" in result.images[1].data
    assert result.usage["sd_model_name"] == "v1-5-pruned-emaonly"


async def test_random_seed_is_read_back_from_info(make: Any, fake: A1111Fake) -> None:
    result = await make().submit(req(aspect_ratio="16:9"))
    body = fake.calls("txt2img")[0].json()
    assert body["seed"] == -1 and (body["width"], body["height"]) == (1024, 576)
    assert isinstance(result.images[0].seed, int) and result.images[0].seed >= 0


async def test_named_model_overrides_the_checkpoint(make: Any, fake: A1111Fake) -> None:
    title = CHECKPOINTS[1]["title"]
    result = await make().submit(req(model=title))
    body = fake.calls("txt2img")[0].json()
    assert body["override_settings"] == {"sd_model_checkpoint": title}
    assert body["override_settings_restore_afterwards"] is True
    assert result.usage["sd_model_name"] == "sd_xl_base_1.0"


async def test_img2img_sends_init_image_and_strength(make: Any, fake: A1111Fake) -> None:
    source = png_bytes(16, 16, (1, 2, 3))
    result = await make().submit(req(init_image=source, strength=0.35, width=512, height=512))
    assert not fake.calls("txt2img")
    body = fake.calls("img2img")[0].json()
    (init,) = body["init_images"]
    assert init.startswith("data:image/png;base64,") and base64.b64decode(init.split(",", 1)[1]) == source
    assert body["denoising_strength"] == 0.35 and len(result.images) == 1


async def test_img2img_default_strength(make: Any, fake: A1111Fake) -> None:
    await make().submit(req(init_image=png_bytes()))
    assert fake.calls("img2img")[0].json()["denoising_strength"] == 0.75


async def test_grid_and_detect_maps_are_left_out(make: Any, fake: A1111Fake) -> None:
    fake.return_grid, fake.extra_images = True, 2
    result = await make().submit(req(count=3, seed=5))
    assert [i.seed for i in result.images] == [5, 6, 7]
    assert all(b"Seed: " in i.data for i in result.images)  # the grid and detect maps carry no infotext


async def test_malformed_info_still_gives_the_images(make: Any, fake: A1111Fake) -> None:
    image = base64.b64encode(png_bytes()).decode()
    fake.fault("txt2img", Reply(200, {"images": [image], "parameters": {}, "info": "{not json"}))
    (only,) = (await make().submit(req())).images
    assert only.seed is None and only.data.startswith(b"\x89PNG")


async def test_basic_auth_from_user_pass_key(make: Any) -> None:
    with A1111Fake(auth="alice:s3cret-pass") as server:
        provider = make("alice:s3cret-pass", server=server)
        assert "2 checkpoints" in await provider.check_key()
        await provider.submit(req())
        for call in server.log:
            assert call.header("authorization") == "Basic " + base64.b64encode(b"alice:s3cret-pass").decode()
            assert b"s3cret" not in call.body and "s3cret" not in call.path + str(call.query)
        with pytest.raises(AuthError, match="refused") as info:
            await make("alice:wrong", server=server).submit(req())
        assert "wrong" not in str(info.value)
        with pytest.raises(AuthError, match="--api-auth"):
            await make(server=server).submit(req())


async def test_key_without_colon_is_refused_before_sending(make: Any, fake: A1111Fake) -> None:
    provider = make("just-a-password")
    with pytest.raises(AuthError, match="user:pass"):
        await provider.submit(req())
    assert not fake.log


async def test_list_models_and_registry(make: Any, fake: A1111Fake) -> None:
    assert await make().list_models() == [c["title"] for c in CHECKPOINTS]
    provider = create_provider(ProviderConfig("a1111", fake.url), CATALOGUE, sleep=Sleeps())
    try:
        assert isinstance(provider, A1111Provider)
    finally:
        await provider.aclose()


# -- progress and cancel ----------------------------------------------------------------------------------


async def wait_for_progress(provider: A1111Provider) -> float:
    for _ in range(500):
        value = await provider.progress()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError("progress never advanced")


async def test_progress_advances_while_generating(make: Any, fake: A1111Fake) -> None:
    fake.step_s = 0.01
    provider = make()
    assert await provider.progress() is None  # idle
    with pytest.raises(TaskNotFound):
        await provider.poll(HANDLE)
    job = asyncio.create_task(provider.submit(req(extras=(("steps", 40),))))
    first = await wait_for_progress(provider)
    status = await provider.poll(HANDLE)
    assert status.state is TaskState.RUNNING
    await asyncio.sleep(0.05)
    later = await provider.progress()
    assert later is None or later >= first  # None once it has finished
    assert len((await job).images) == 1
    assert fake.calls("progress")[0].query == {"skip_current_image": ["true"]}


async def test_cancel_interrupts_and_submit_raises_cancelled(make: Any, fake: A1111Fake) -> None:
    fake.step_s = 0.02
    provider = make()
    job = asyncio.create_task(provider.submit(req(extras=(("steps", 200),))))
    await wait_for_progress(provider)
    assert await provider.cancel(HANDLE) is True
    with pytest.raises(Cancelled):
        await asyncio.wait_for(job, 3)
    assert len(fake.calls("interrupt")) == 1
    # the next job is not affected by the earlier interrupt
    assert len((await provider.submit(req())).images) == 1


async def test_progress_is_none_when_server_is_gone(make: Any) -> None:
    assert await make(base_url="http://127.0.0.1:9", max_attempts=1).progress() is None


# -- errors ----------------------------------------------------------------------------------------------


async def test_unknown_sampler_is_invalid_request(make: Any) -> None:
    with pytest.raises(InvalidRequest, match="Sampler not found") as info:
        await make().submit(req(extras=(("sampler", "Nope"),)))
    assert info.value.status == 404


async def test_schema_violation_422_names_the_field(make: Any) -> None:
    with pytest.raises(InvalidRequest, match="steps: value is not a valid integer"):
        await make().submit(req(extras=(("steps", "many"),)))


async def test_bad_init_image_is_invalid_request_not_retried(make: Any, fake: A1111Fake) -> None:
    with pytest.raises(InvalidRequest, match="Invalid encoded image"):
        await make().submit(req(init_image=b"<html>not an image</html>", init_image_mime="image/png"))
    assert len(fake.calls("img2img")) == 1


async def test_api_not_enabled_says_so(make: Any, fake: A1111Fake) -> None:
    fake.fault("txt2img", Reply(404, {"detail": "Not Found"}))
    with pytest.raises(ProviderDown, match="--api") as info:
        await make().submit(req())
    assert info.value.retryable is False


async def test_5xx_retried_then_success(make: Any, fake: A1111Fake) -> None:
    fake.fault("txt2img", Reply(500, {"error": "RuntimeError", "detail": "CUDA error", "body": ""}))
    assert len((await make().submit(req())).images) == 1
    assert len(fake.calls("txt2img")) == 2


async def test_5xx_every_time_is_provider_down(make: Any, fake: A1111Fake) -> None:
    fake.fault("txt2img", Reply(500, {"error": "OutOfMemoryError", "detail": "CUDA out of memory"}), times=3)
    with pytest.raises(ProviderDown, match="CUDA out of memory"):
        await make().submit(req())


async def test_429_retry_after_then_success(make: Any, fake: A1111Fake) -> None:
    sleeps = Sleeps()
    provider = A1111Provider(ProviderConfig("a1111", fake.url, timeout_s=5.0), INFO, sleep=sleeps)
    try:
        fake.fault("txt2img", Reply(429, {"detail": "busy"}, headers={"Retry-After": "3"}))
        assert len((await provider.submit(req())).images) == 1 and 3.0 in sleeps
    finally:
        await provider.aclose()


async def test_hang_is_timeout_and_the_generation_is_not_resent(make: Any, fake: A1111Fake) -> None:
    fake.fault("txt2img", Reply(200, {"images": []}, delay_s=2))
    with pytest.raises(ProviderTimeout):
        await make(timeout_s=0.3).submit(req())
    assert len(fake.calls("txt2img")) == 1


async def test_truncated_body_is_provider_down_not_resent(make: Any, fake: A1111Fake) -> None:
    body = {"images": [base64.b64encode(png_bytes()).decode()], "info": "{}"}
    fake.fault("txt2img", Reply(200, json.dumps(body), headers={"Content-Type": "application/json"},
                                truncate_to=30))
    with pytest.raises(ProviderDown, match="broke"):
        await make().submit(req())
    assert len(fake.calls("txt2img")) == 1


@pytest.mark.parametrize("reply", [
    Reply(200, '{"images": ["iVBOR', headers={"Content-Type": "application/json"}),  # malformed JSON
    Reply(200, "<html><body>Gradio</body></html>", headers={"Content-Type": "text/html"}),
    Reply(200, {"images": ["!!!not base64!!!"], "info": "{}"}),
    Reply(200, {"images": [base64.b64encode(b"<html>nope</html>").decode()], "info": "{}"}),
    Reply(200, {"images": [], "info": "{}"}),
    Reply(200, {"detail": "no images key"}),
])
async def test_bad_answers_are_invalid_response(make: Any, fake: A1111Fake, reply: Reply) -> None:
    fake.fault("txt2img", reply)
    with pytest.raises(InvalidResponse):
        await make().submit(req())


async def test_not_running_is_provider_down(make: Any) -> None:
    with pytest.raises(ProviderDown, match="cannot connect"):
        await make(base_url="http://127.0.0.1:9", max_attempts=1).submit(req())
