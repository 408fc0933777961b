"""ComfyUIProvider against the loopback ComfyUI fake: filled workflow, queue/history/view, cancel, errors."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest

from providers.base import (
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
    TaskStatus,
)
from providers.catalogue import Catalogue
from providers.comfyui import ComfyUIProvider, fill_workflow, load_template, locate_nodes
from providers.registry import create_provider
from tests.fakes.servers.base import Reply
from tests.fakes.servers.comfyui_fake import ComfyUIFake

pytestmark = pytest.mark.anyio
CATALOGUE = Catalogue.load()
INFO = CATALOGUE.get("comfyui")


class Sleeps(list):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake() -> Iterator[ComfyUIFake]:
    with ComfyUIFake() as server:
        yield server


@pytest.fixture
async def make(fake: ComfyUIFake) -> AsyncIterator[Any]:
    made: list[ComfyUIProvider] = []

    def build(**config: Any) -> ComfyUIProvider:
        url = config.pop("base_url", fake.url)
        cfg = ProviderConfig("comfyui", url, **{"timeout_s": 5.0, "poll_interval_s": 0.01, "max_attempts": 3,
                                               **config})
        provider = ComfyUIProvider(cfg, INFO, sleep=Sleeps())
        made.append(provider)
        return provider

    yield build
    for provider in made:
        await provider.aclose()


def req(prompt: str = "a red fox in snow", **kw: Any) -> ImageRequest:
    return ImageRequest(prompt=prompt, provider="comfyui", model=kw.pop("model", "default"), **kw)


async def follow(provider: ComfyUIProvider, handle: TaskHandle, limit: int = 50) -> list[TaskStatus]:
    seen = []
    for _ in range(limit):
        status = await provider.poll(handle)
        seen.append(status)
        if status.state.terminal:
            return seen
        await anyio.sleep(provider.config.poll_interval_s)
    raise AssertionError(f"never finished: {seen[-1]}")


def sent_graph(fake: ComfyUIFake, index: int = 0) -> dict[str, Any]:
    return fake.calls("prompt")[index].json()["prompt"]


# -- success ---------------------------------------------------------------------------------------------


async def test_txt2img_fills_the_workflow_and_fetches_the_images(make: Any, fake: ComfyUIFake) -> None:
    provider = make()
    assert isinstance(provider, Provider) and provider.supports_cancel
    handle = await provider.submit(req(negative_prompt="blurry", seed=99, width=832, height=1216, count=2,
                                       extras=(("steps", 12),)))
    body = fake.calls("prompt")[0].json()
    assert body["client_id"] == handle.state["client_id"] and handle.task_id in fake.jobs
    nodes = locate_nodes(body["prompt"])
    assert nodes["positive"]["inputs"]["text"] == "a red fox in snow"
    assert nodes["negative"]["inputs"]["text"] == "blurry"
    assert (nodes["sampler"]["inputs"]["seed"], nodes["sampler"]["inputs"]["steps"]) == (99, 12)
    assert nodes["latent_image"]["inputs"] == {"width": 832, "height": 1216, "batch_size": 2}
    # "default": the template's checkpoint is not installed, so the server's first one is used
    assert nodes["checkpoint"]["inputs"]["ckpt_name"] == "sd_xl_base_1.0.safetensors"
    assert all(k != "_meta" for n in body["prompt"].values() for k in n["inputs"])

    (done,) = await follow(provider, handle)
    assert done.state is TaskState.SUCCEEDED and done.result is not None
    images = done.result.images
    assert len(images) == 2 and all(i.data.startswith(b"\x89PNG") and i.seed == 99 for i in images)
    assert (images[0].width, images[0].height, done.result.request_id) == (832, 1216, handle.task_id)
    views = fake.calls("view")
    assert [v.query["type"] for v in views] == [["output"], ["output"]]
    assert views[0].query["filename"][0].startswith("AIStudio_")


async def test_default_keeps_the_template_checkpoint_when_installed(make: Any, fake: ComfyUIFake) -> None:
    fake.checkpoints.append("model.safetensors")
    await make().submit(req())
    assert locate_nodes(sent_graph(fake))["checkpoint"]["inputs"]["ckpt_name"] == "model.safetensors"


async def test_named_model_and_template_defaults(make: Any, fake: ComfyUIFake) -> None:
    handle = await make().submit(req(model="v1-5-pruned-emaonly.safetensors"))
    nodes = locate_nodes(sent_graph(fake))
    assert nodes["checkpoint"]["inputs"]["ckpt_name"] == "v1-5-pruned-emaonly.safetensors"
    assert nodes["latent_image"]["inputs"] == {"width": 1024, "height": 1024, "batch_size": 1}
    assert nodes["sampler"]["inputs"]["steps"] == 25 and not fake.calls("object_info")
    assert isinstance(handle.state["seed"], int)


async def test_slow_job_is_queued_then_running_then_done(make: Any, fake: ComfyUIFake) -> None:
    fake.pending_polls, fake.running_polls = 2, 3
    provider = make()
    handle = await provider.submit(req())
    states = [s.state for s in await follow(provider, handle)]
    assert states == [TaskState.QUEUED] * 2 + [TaskState.RUNNING] * 3 + [TaskState.SUCCEEDED]


async def test_queue_position_is_reported(make: Any, fake: ComfyUIFake) -> None:
    fake.pending_polls = 10
    provider = make()
    await provider.submit(req())
    second = await provider.submit(req())
    status = await provider.poll(second)
    assert status.state is TaskState.QUEUED and "1 job(s) ahead" in status.message


async def test_registry_and_health(make: Any, fake: ComfyUIFake) -> None:
    assert "0.3.40" in await make().check_key()
    assert await make().list_models() == fake.checkpoints
    provider = create_provider(ProviderConfig("comfyui", fake.url), CATALOGUE, sleep=Sleeps())
    try:
        assert isinstance(provider, ComfyUIProvider)
    finally:
        await provider.aclose()


async def test_list_models_reads_the_newer_combo_schema(make: Any, fake: ComfyUIFake) -> None:
    fake.fault("object_info", Reply(200, {"CheckpointLoaderSimple": {"input": {"required": {
        "ckpt_name": ["COMBO", {"options": ["a.safetensors", "b.safetensors"]}]}}}}))
    assert await make().list_models() == ["a.safetensors", "b.safetensors"]
    fake.fault("object_info", Reply(200, {"CheckpointLoaderSimple": {}}))
    with pytest.raises(InvalidResponse):
        await make().list_models()


# -- cancel ----------------------------------------------------------------------------------------------


async def test_cancel_pending_deletes_it_from_the_queue(make: Any, fake: ComfyUIFake) -> None:
    fake.pending_polls = 5
    provider = make()
    handle = await provider.submit(req())
    assert await provider.cancel(handle) is True
    assert fake.calls("queue_edit")[0].json() == {"delete": [handle.task_id]} and not fake.calls("interrupt")
    assert (await provider.poll(handle)).state is TaskState.CANCELLED


async def test_cancel_running_interrupts_it(make: Any, fake: ComfyUIFake) -> None:
    fake.running_polls = 5
    provider = make()
    handle = await provider.submit(req())
    assert (await provider.poll(handle)).state is TaskState.RUNNING
    assert await provider.cancel(handle) is True
    assert fake.calls("interrupt")[0].json() == {"prompt_id": handle.task_id} and not fake.calls("queue_edit")
    assert (await provider.poll(handle)).state is TaskState.CANCELLED


async def test_cancel_after_finishing_does_nothing(make: Any, fake: ComfyUIFake) -> None:
    provider = make()
    handle = await provider.submit(req())
    await follow(provider, handle)
    assert await provider.cancel(handle) is False
    assert not fake.calls("interrupt") and not fake.calls("queue_edit")


# -- errors ----------------------------------------------------------------------------------------------


async def test_validation_400_names_the_node_error(make: Any) -> None:
    with pytest.raises(InvalidRequest, match="not in") as info:
        await make().submit(req(model="missing.safetensors"))
    assert "Prompt outputs failed validation" in str(info.value) and info.value.status == 400


@pytest.mark.parametrize("reply, text", [
    (Reply(400, {"error": "no prompt", "node_errors": {}}), "no prompt"),
    (Reply(400, {"error": {"type": "invalid_prompt", "details": "Node ID '#3'",
                           "message": "Cannot execute because node Foo does not exist."}, "node_errors": {}}),
     "Foo does not exist"),
    (Reply(200, {"prompt_id": "x", "number": 1,
                 "node_errors": {"3": {"errors": [{"message": "Bad"}], "class_type": "KSampler"}}}),
     "KSampler: Bad"),
])
async def test_refused_workflows_are_invalid_request(make: Any, fake: ComfyUIFake, reply: Reply,
                                                     text: str) -> None:
    fake.fault("prompt", reply)
    with pytest.raises(InvalidRequest, match=text):
        await make().submit(req(model="sd_xl_base_1.0.safetensors"))


async def test_execution_error_fails_the_task(make: Any, fake: ComfyUIFake) -> None:
    fake.outcome = "error"
    provider = make()
    done = (await follow(provider, await provider.submit(req())))[-1]
    assert done.state is TaskState.FAILED and done.error is not None
    assert "CUDA out of memory" in done.error.message and "KSampler" in done.error.message


async def test_finished_without_images_fails(make: Any, fake: ComfyUIFake) -> None:
    fake.outcome = "no_images"
    provider = make()
    done = (await follow(provider, await provider.submit(req())))[-1]
    assert done.state is TaskState.FAILED and isinstance(done.error, InvalidResponse)


@pytest.mark.parametrize("reply", [
    Reply(404, b""),
    Reply(200, "<html>login</html>", headers={"Content-Type": "text/html"}),
    Reply(200, b"not a png", headers={"Content-Type": "image/png"}),
])
async def test_missing_or_bad_view_file_fails_the_task(make: Any, fake: ComfyUIFake, reply: Reply) -> None:
    provider = make()
    handle = await provider.submit(req())
    fake.fault("view", reply)
    done = (await follow(provider, handle))[-1]
    assert done.state is TaskState.FAILED and isinstance(done.error, InvalidResponse)


async def test_view_server_error_is_raised_for_a_later_poll(make: Any, fake: ComfyUIFake) -> None:
    provider = make()
    handle = await provider.submit(req())
    fake.fault("view", Reply(500, b"boom"), times=3)
    with pytest.raises(ProviderDown):
        await provider.poll(handle)
    assert (await provider.poll(handle)).state is TaskState.SUCCEEDED  # the server came back


async def test_5xx_and_truncation_on_history_are_retried(make: Any, fake: ComfyUIFake) -> None:
    provider = make()
    handle = await provider.submit(req())
    fake.fault("history", Reply(503, "busy"))
    fake.fault("history", Reply(200, '{"' + handle.task_id + '": {}}', truncate_to=10))
    assert (await provider.poll(handle)).state is TaskState.SUCCEEDED
    assert len(fake.calls("history")) == 3


async def test_429_retry_after_then_success(fake: ComfyUIFake) -> None:
    sleeps = Sleeps()
    provider = ComfyUIProvider(ProviderConfig("comfyui", fake.url, timeout_s=5.0), INFO, sleep=sleeps)
    try:
        fake.fault("prompt", Reply(429, {"error": "slow down"}, headers={"Retry-After": "2"}))
        handle = await provider.submit(req(model="sd_xl_base_1.0.safetensors"))
        assert handle.task_id in fake.jobs and 2.0 in sleeps
    finally:
        await provider.aclose()


async def test_malformed_history_is_invalid_response(make: Any, fake: ComfyUIFake) -> None:
    provider = make()
    handle = await provider.submit(req())
    fake.fault("history", Reply(200, "{oops", headers={"Content-Type": "application/json"}))
    with pytest.raises(InvalidResponse):
        await provider.poll(handle)


async def test_hang_on_queueing_is_timeout_and_not_resent(make: Any, fake: ComfyUIFake) -> None:
    fake.fault("prompt", Reply(200, {"prompt_id": "late"}, delay_s=2))
    with pytest.raises(ProviderTimeout):
        await make(timeout_s=0.3).submit(req(model="sd_xl_base_1.0.safetensors"))
    assert len(fake.calls("prompt")) == 1


async def test_missing_prompt_id_is_invalid_response(make: Any, fake: ComfyUIFake) -> None:
    fake.fault("prompt", Reply(200, {"number": 1, "node_errors": {}}))
    with pytest.raises(InvalidResponse, match="prompt_id"):
        await make().submit(req(model="sd_xl_base_1.0.safetensors"))


async def test_forgotten_job_is_task_not_found(make: Any) -> None:
    with pytest.raises(TaskNotFound, match="restarted"):
        await make().poll(TaskHandle("comfyui", "gone", "default"))


async def test_not_running_is_provider_down(make: Any) -> None:
    with pytest.raises(ProviderDown):
        await make(base_url="http://127.0.0.1:9", max_attempts=1).submit(req())


# -- the template ------------------------------------------------------------------------------------------


def test_nodes_are_found_by_links_not_ids() -> None:
    template = load_template()
    renamed = {f"n{k}": copy.deepcopy(v) for k, v in template.items()}
    for node in renamed.values():
        for name, value in node["inputs"].items():
            if isinstance(value, list):
                node["inputs"][name] = [f"n{value[0]}", value[1]]
    # a LoRA between checkpoint and sampler, and the advanced sampler's seed name
    renamed["lora"] = {"class_type": "LoraLoader", "inputs": {"model": ["n4", 0], "clip": ["n4", 1],
                                                               "lora_name": "x", "strength_model": 1.0}}
    renamed["n3"]["inputs"]["model"] = ["lora", 0]
    renamed["n3"]["class_type"] = "KSamplerAdvanced"
    renamed["n3"]["inputs"]["noise_seed"] = renamed["n3"]["inputs"].pop("seed")
    request = req("hi", negative_prompt="lo", aspect_ratio="3:4")
    graph = fill_workflow(renamed, request, seed=5, checkpoint="c")
    assert graph["n6"]["inputs"]["text"] == "hi" and graph["n7"]["inputs"]["text"] == "lo"
    assert graph["n3"]["inputs"]["noise_seed"] == 5 and graph["n4"]["inputs"]["ckpt_name"] == "c"
    assert (graph["n5"]["inputs"]["width"], graph["n5"]["inputs"]["height"]) == (768, 1024)
    assert renamed["n6"]["inputs"]["text"] == ""  # the template itself is untouched


def test_a_template_without_one_sampler_is_refused() -> None:
    template = load_template()
    broken = {k: v for k, v in template.items() if v["class_type"] != "KSampler"}
    with pytest.raises(InvalidRequest, match="exactly one"):
        locate_nodes(broken)
    template["3"]["inputs"]["positive"] = ["404", 0]
    with pytest.raises(InvalidRequest, match="positive"):
        locate_nodes(template)
