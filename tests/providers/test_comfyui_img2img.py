"""ComfyUI image-to-image against the loopback fake: upload first, then the img2img graph, then the result."""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest

from providers.base import (
    ImageRequest,
    InvalidRequest,
    InvalidResponse,
    ProviderConfig,
    TaskHandle,
    TaskState,
    TaskStatus,
)
from providers.catalogue import Catalogue
from providers.comfyui import ComfyUIProvider, fill_workflow, load_template, locate_nodes
from providers.validation import check
from tests.fakes.servers.base import Reply, png_bytes
from tests.fakes.servers.comfyui_fake import ComfyUIFake, form_parts

pytestmark = pytest.mark.anyio
INFO = Catalogue.load().get("comfyui")
SOURCE = png_bytes(16, 24, color=(10, 200, 30))
CKPT = "sd_xl_base_1.0.safetensors"


async def no_sleep(seconds: float) -> None:
    pass


@pytest.fixture
def fake() -> Iterator[ComfyUIFake]:
    with ComfyUIFake() as server:
        yield server


@pytest.fixture
async def provider(fake: ComfyUIFake) -> AsyncIterator[ComfyUIProvider]:
    cfg = ProviderConfig("comfyui", fake.url, timeout_s=5.0, poll_interval_s=0.01, max_attempts=3)
    made = ComfyUIProvider(cfg, INFO, sleep=no_sleep)
    yield made
    await made.aclose()


def req(**kw: Any) -> ImageRequest:
    return ImageRequest(prompt=kw.pop("prompt", "the same fox, in autumn"), provider="comfyui",
                        model=kw.pop("model", CKPT), **kw)


async def follow(provider: ComfyUIProvider, handle: TaskHandle) -> TaskStatus:
    for _ in range(50):
        status = await provider.poll(handle)
        if status.state.terminal:
            return status
        await anyio.sleep(0.01)
    raise AssertionError("never finished")


def by_class(graph: dict[str, Any], class_type: str) -> list[tuple[str, dict[str, Any]]]:
    return [(i, n) for i, n in graph.items() if n["class_type"] == class_type]


# -- success ---------------------------------------------------------------------------------------------


async def test_img2img_uploads_the_source_then_queues_the_graph(provider: ComfyUIProvider,
                                                                fake: ComfyUIFake) -> None:
    handle = await provider.submit(req(init_image=SOURCE, strength=0.35, seed=7, negative_prompt="blurry",
                                       extras=(("cfg", 5.5), ("steps", 18))))
    assert [r.route for r in fake.log] == ["upload", "prompt"]  # type: ignore[attr-defined]
    parts = form_parts(fake.calls("upload")[0])
    filename, data = parts["image"]
    assert data == SOURCE and filename is not None and filename.endswith(".png")
    assert parts["type"][1] == b"input" and parts["overwrite"][1] == b"true"
    stored = [key for key in fake.files if key[2] == "input"]
    assert stored == [("", filename, "input")] and fake.files[stored[0]] == SOURCE

    graph = fake.calls("prompt")[0].json()["prompt"]
    (load_id, load), = by_class(graph, "LoadImage")
    (encode_id, encode), = by_class(graph, "VAEEncode")
    (_, sampler), = by_class(graph, "KSampler")
    assert load["inputs"]["image"] == filename  # the name ComfyUI answered
    assert encode["inputs"]["pixels"] == [load_id, 0] and sampler["inputs"]["latent_image"] == [encode_id, 0]
    assert not by_class(graph, "EmptyLatentImage") and not by_class(graph, "RepeatLatentBatch")
    s = sampler["inputs"]
    assert (s["denoise"], s["seed"], s["steps"], s["cfg"]) == (0.35, 7, 18, 5.5)
    nodes = locate_nodes(graph)
    assert nodes["source"] is load and nodes["checkpoint"]["inputs"]["ckpt_name"] == CKPT
    assert (nodes["positive"]["inputs"]["text"], nodes["negative"]["inputs"]["text"]) == \
        ("the same fox, in autumn", "blurry")

    done = await follow(provider, handle)
    assert done.state is TaskState.SUCCEEDED and done.result is not None
    (image,) = done.result.images
    (view,) = fake.calls("view")
    saved = fake.files[("", view.query["filename"][0], "output")]
    assert view.query["type"] == ["output"] and image.data == saved and image.seed == 7
    assert (image.width, image.height) == (None, None)  # the source's size: not measured here
    assert done.result.model == "sd_xl_base_1.0"


async def test_default_model_count_and_template_strength(provider: ComfyUIProvider, fake: ComfyUIFake) -> None:
    handle = await provider.submit(req(model="default", init_image=SOURCE, count=3))
    routes = [r.route for r in fake.log]  # type: ignore[attr-defined]
    assert routes == ["object_info", "upload", "prompt"]
    graph = fake.calls("prompt")[0].json()["prompt"]
    (_, sampler), = by_class(graph, "KSampler")
    (repeat_id, repeat), = by_class(graph, "RepeatLatentBatch")
    (encode_id, _), = by_class(graph, "VAEEncode")
    assert sampler["inputs"]["denoise"] == load_template("img2img.json")["3"]["inputs"]["denoise"]
    assert sampler["inputs"]["latent_image"] == [repeat_id, 0]
    assert repeat["inputs"] == {"samples": [encode_id, 0], "amount": 3}
    assert handle.state["count"] == 3
    done = await follow(provider, handle)
    assert done.result is not None and len(done.result.images) == 3


async def test_the_same_source_twice_keeps_one_file(provider: ComfyUIProvider, fake: ComfyUIFake) -> None:
    await provider.submit(req(init_image=SOURCE, strength=0.5))
    await provider.submit(req(init_image=SOURCE, strength=0.6))
    await provider.submit(req(init_image=png_bytes(color=(1, 2, 3)), strength=0.6))
    names = [g.json()["prompt"]["10"]["inputs"]["image"] for g in fake.calls("prompt")]
    assert names[0] == names[1] != names[2]
    assert len([k for k in fake.files if k[2] == "input"]) == 2


async def test_txt2img_sends_no_upload(provider: ComfyUIProvider, fake: ComfyUIFake) -> None:
    await provider.submit(req(strength=0.3))  # a strength without a source image means nothing
    graph = fake.calls("prompt")[0].json()["prompt"]
    assert not fake.calls("upload") and not by_class(graph, "LoadImage")
    assert locate_nodes(graph)["sampler"]["inputs"]["denoise"] == 1.0


async def test_upload_5xx_is_retried_once_and_the_prompt_sent_once(provider: ComfyUIProvider,
                                                                   fake: ComfyUIFake) -> None:
    fake.fault("upload", Reply(503, "restarting"))
    await provider.submit(req(init_image=SOURCE))
    assert len(fake.calls("upload")) == 2 and len(fake.calls("prompt")) == 1


# -- refusals --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"GIF89a" + b"\0" * 40, b"", b"hello, not an image"])
async def test_a_non_image_source_is_refused_before_anything_is_sent(provider: ComfyUIProvider,
                                                                     fake: ComfyUIFake, data: bytes) -> None:
    with pytest.raises(InvalidRequest, match="not a PNG, JPEG or WebP"):
        await provider.submit(req(init_image=data, model="default"))
    assert not fake.log


@pytest.mark.parametrize("reply, text", [
    (Reply(400, b""), r"refused the source image upload \(HTTP 400\)$"),
    (Reply(400, "Invalid image file: not a PNG, JPEG or WebP image"), "HTTP 400.*Invalid image file"),
    (Reply(413, "Payload Too Large"), r"HTTP 413\): Payload Too Large"),
])
async def test_a_refused_upload_is_invalid_request(provider: ComfyUIProvider, fake: ComfyUIFake,
                                                   reply: Reply, text: str) -> None:
    fake.fault("upload", reply)
    with pytest.raises(InvalidRequest, match=text) as info:
        await provider.submit(req(init_image=SOURCE))
    assert info.value.status == reply.status and info.value.provider == "comfyui"
    assert len(fake.calls("upload")) == 1 and not fake.calls("prompt")


async def test_upload_answer_without_a_name_is_invalid_response(provider: ComfyUIProvider,
                                                                fake: ComfyUIFake) -> None:
    fake.fault("upload", Reply(200, {"subfolder": "", "type": "input"}))
    with pytest.raises(InvalidResponse, match="file name"):
        await provider.submit(req(init_image=SOURCE))
    assert not fake.calls("prompt")


@pytest.mark.parametrize("answer, value", [
    ({"name": "gone.png", "subfolder": "studio", "type": "input"}, "studio/gone.png"),
    ({"name": "gone.png", "subfolder": "", "type": "temp"}, "gone.png [temp]"),
])
async def test_a_source_comfyui_does_not_have_is_a_node_error(provider: ComfyUIProvider, fake: ComfyUIFake,
                                                              answer: dict[str, str], value: str) -> None:
    fake.fault("upload", Reply(200, answer))  # answered, but never stored: LoadImage validation fails
    with pytest.raises(InvalidRequest, match="LoadImage: .*Invalid image file: " + re.escape(value)):
        await provider.submit(req(init_image=SOURCE))
    assert fake.calls("prompt")[0].json()["prompt"]["10"]["inputs"]["image"] == value


# -- the fake's upload route behaves like ComfyUI's --------------------------------------------------------


def test_fake_upload_renames_clashes_and_refuses_non_images(fake: ComfyUIFake) -> None:
    def upload(data: bytes, **form: str) -> httpx.Response:
        return httpx.post(f"{fake.url}/upload/image", files={"image": ("a.png", data, "image/png")}, data=form)

    other = png_bytes(color=(9, 9, 9))
    assert upload(SOURCE).json() == {"name": "a.png", "subfolder": "", "type": "input"}
    assert upload(SOURCE).json()["name"] == "a.png"  # identical bytes: the same file
    assert upload(other).json()["name"] == "a (1).png"
    assert upload(other, overwrite="true", subfolder="s", type="temp").json() == \
        {"name": "a.png", "subfolder": "s", "type": "temp"}
    assert fake.files[("", "a.png", "input")] == SOURCE and fake.files[("s", "a.png", "temp")] == other
    assert upload(b"%PDF-1.7").status_code == 400
    assert httpx.post(f"{fake.url}/upload/image", data={"image": "x"}).status_code == 400
    assert httpx.post(f"{fake.url}/upload/image", files={"image": ("../a.png", SOURCE)}).status_code == 400


# -- the template and the catalogue -------------------------------------------------------------------------


def test_img2img_nodes_are_found_by_links_through_extra_nodes() -> None:
    template = load_template("img2img.json")
    renamed = {f"n{k}": copy.deepcopy(v) for k, v in template.items()}
    for node in renamed.values():
        for name, value in node["inputs"].items():
            if isinstance(value, list):
                node["inputs"][name] = [f"n{value[0]}", value[1]]
    # an image scaler between the loader and the encoder, and the advanced sampler
    renamed["scale"] = {"class_type": "ImageScale", "inputs": {"image": ["n10", 0], "upscale_method": "area",
                                                               "width": 512, "height": 512, "crop": "center"}}
    renamed["n11"]["inputs"]["pixels"] = ["scale", 0]
    sampler = renamed["n3"]
    sampler["class_type"] = "KSamplerAdvanced"
    sampler["inputs"]["noise_seed"] = sampler["inputs"].pop("seed")
    del sampler["inputs"]["denoise"]
    sampler["inputs"].update(start_at_step=0, end_at_step=10000)
    graph = fill_workflow(renamed, req(strength=0.3, extras=(("steps", 20),)), seed=3, checkpoint="c",
                          image="up.png")
    assert graph["n10"]["inputs"]["image"] == "up.png" and graph["scale"]["inputs"]["image"] == ["n10", 0]
    assert graph["n3"]["inputs"]["start_at_step"] == 14 and graph["n3"]["inputs"]["noise_seed"] == 3
    assert renamed["n10"]["inputs"]["image"] == "source.png"  # the template itself is untouched


def test_template_and_source_must_agree() -> None:
    with pytest.raises(InvalidRequest, match="none was given"):
        fill_workflow(load_template("img2img.json"), req(), seed=1, checkpoint="c")
    with pytest.raises(InvalidRequest, match="no LoadImage"):
        fill_workflow(load_template(), req(), seed=1, checkpoint="c", image="up.png")
    broken = load_template("img2img.json")
    broken["11"]["inputs"]["pixels"] = ["404", 0]
    with pytest.raises(InvalidRequest, match="latent_image"):
        locate_nodes(broken)


def test_catalogue_offers_img2img_for_the_default_model() -> None:
    assert INFO.model("default").img2img
    check(req(model="default", init_image=SOURCE, strength=0.5), INFO)
    check(req(model="any_local_checkpoint.safetensors", init_image=SOURCE), INFO)
