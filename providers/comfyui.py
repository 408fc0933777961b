"""ComfyUI: queue an API-format workflow, follow it through /history, fetch the files from /view (§8b).

The graphs are `resources/comfyui/txt2img.json` and, when the request has a source image, `img2img.json`
(the image is first uploaded with ``POST /upload/image``). Their nodes are found by following the links of
the one ``KSampler`` (or ``KSamplerAdvanced``), never by node id, so a user-exported API workflow with other
ids, titles or extra nodes in the chain (a LoRA loader between checkpoint and sampler) still works:

* ``seed``/``noise_seed`` and ``steps`` (+ ``cfg``, ``sampler_name``, ``scheduler`` extras) on the sampler;
* ``positive``/``negative`` lead to nodes with a ``text`` input (CLIPTextEncode): the prompts;
* ``latent_image`` leads to a node with ``width``/``height``/``batch_size`` (EmptyLatentImage), or to an
  encoder whose ``pixels`` lead (through image nodes) to the node whose ``image`` is a file name (LoadImage);
* ``model`` leads, possibly through nodes that pass a ``model`` on, to the node with ``ckpt_name``.

Template values stay when the request names none (its 1024x1024 size and 25 steps are the defaults).
ComfyUI has no "loaded checkpoint": model ``default`` keeps the template's checkpoint when the server has
it, else takes the server's first one.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from importlib import resources
from typing import Any

import httpx

from providers.base import (
    GeneratedImage,
    ImageRequest,
    ImageResult,
    InvalidRequest,
    InvalidResponse,
    ProviderConfig,
    ProviderError,
    TaskHandle,
    TaskNotFound,
    TaskState,
    TaskStatus,
)
from providers.catalogue import ProviderInfo
from providers.http import HttpSession, error_message_from_body, sniff_image_mime
from providers.imagefetch import fetch_image
from providers.sizing import size_for

DEFAULT_MODEL = "default"
SAMPLERS = ("KSampler", "KSamplerAdvanced")
SEED_MAX = 2**31 - 1
UPLOAD_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def load_template(name: str = "txt2img.json") -> dict[str, Any]:
    text = resources.files("resources").joinpath(f"comfyui/{name}").read_text(encoding="utf-8")
    return json.loads(text)


def _linked(graph: dict[str, Any], link: Any) -> dict[str, Any] | None:
    if isinstance(link, list) and link and str(link[0]) in graph:
        node = graph[str(link[0])]
        return node if isinstance(node, dict) and isinstance(node.get("inputs"), dict) else None
    return None


def _source_of(graph: dict[str, Any], latent: dict[str, Any]) -> dict[str, Any] | None:
    """The node naming the source file (LoadImage: a string ``image``) behind an encoder's ``pixels``."""
    node = _linked(graph, latent["inputs"].get("pixels"))
    for _hop in range(10):  # through image scalers and the like, whose ``image`` is a link
        if node is None or isinstance(node["inputs"].get("image"), str):
            break
        node = _linked(graph, node["inputs"].get("image"))
    return node if node is not None and isinstance(node["inputs"].get("image"), str) else None


def locate_nodes(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The sampler, prompt, latent and checkpoint nodes of an API-format graph (see the module docstring)."""
    samplers = [n for n in graph.values() if isinstance(n, dict) and n.get("class_type") in SAMPLERS]
    if len(samplers) != 1:
        raise InvalidRequest(f"the ComfyUI workflow needs exactly one KSampler (found {len(samplers)})",
                             provider="comfyui")
    sampler = samplers[0]
    inputs = sampler.get("inputs") or {}
    found = {"sampler": sampler}
    for role in ("positive", "negative"):
        node = _linked(graph, inputs.get(role))
        if node is None or "text" not in node["inputs"]:
            raise InvalidRequest(f"the ComfyUI workflow's sampler input {role!r} does not lead to a node "
                                 f"with 'text'", provider="comfyui")
        found[role] = node
    latent = _linked(graph, inputs.get("latent_image"))
    for _hop in range(10):  # through latent transforms (RepeatLatentBatch, LatentUpscale) to where it starts
        if latent is None or not isinstance(latent["inputs"].get("samples"), list):
            break
        latent = _linked(graph, latent["inputs"]["samples"])
    source = _source_of(graph, latent) if latent is not None else None
    if latent is not None and "width" in latent["inputs"]:
        found["latent_image"] = latent
    elif source is not None:
        found["source"] = source
    else:
        raise InvalidRequest("the ComfyUI workflow's sampler input 'latent_image' leads neither to a node with "
                             "'width' (EmptyLatentImage) nor to an encoded image (LoadImage -> VAEEncode)",
                             provider="comfyui")
    node = _linked(graph, inputs.get("model"))
    for _hop in range(10):  # follow LoRA loaders and the like back to the checkpoint loader
        if node is None or "ckpt_name" in node["inputs"]:
            break
        node = _linked(graph, node["inputs"].get("model"))
    if node is None or "ckpt_name" not in node["inputs"]:
        raise InvalidRequest("the ComfyUI workflow has no checkpoint loader feeding the sampler",
                             provider="comfyui")
    found["checkpoint"] = node
    return found


def fill_workflow(template: dict[str, Any], request: ImageRequest, *, seed: int, checkpoint: str,
                  image: str | None = None) -> dict[str, Any]:
    """A copy of `template` with the request's values filled in; `image` is the uploaded source's
    LoadImage value, required exactly when the template starts from an image."""
    graph = copy.deepcopy(template)
    nodes = locate_nodes(graph)
    sampler = nodes["sampler"]["inputs"]
    sampler["noise_seed" if "noise_seed" in sampler else "seed"] = seed
    for extra, field in (("steps", "steps"), ("cfg", "cfg"), ("cfg_scale", "cfg"),
                         ("sampler", "sampler_name"), ("sampler_name", "sampler_name"),
                         ("scheduler", "scheduler")):
        if request.extra(extra) is not None:
            sampler[field] = request.extra(extra)
    nodes["positive"]["inputs"]["text"] = request.prompt
    nodes["negative"]["inputs"]["text"] = request.negative_prompt
    nodes["checkpoint"]["inputs"]["ckpt_name"] = checkpoint
    if "source" not in nodes:
        if image is not None:
            raise InvalidRequest("the ComfyUI workflow has no LoadImage node for the source image",
                                 provider="comfyui")
        latent = nodes["latent_image"]["inputs"]
        size = size_for(request, long_side=1024, multiple=8)
        if size:
            latent["width"], latent["height"] = size
        latent["batch_size"] = max(1, request.count)
        return graph
    if image is None:
        raise InvalidRequest("the ComfyUI workflow starts from a source image and none was given",
                             provider="comfyui")
    # The output takes the source's size (VAEEncode encodes it as it is): a requested size does not apply.
    nodes["source"]["inputs"]["image"] = image
    if request.strength is not None:  # else the template's denoise stays
        if "denoise" in sampler:  # both count "how much to change": 0 keeps the source, 1 ignores it
            sampler["denoise"] = request.strength
        elif "start_at_step" in sampler and isinstance(sampler.get("steps"), int):
            # KSamplerAdvanced has no denoise: skipping the first steps of the schedule is roughly the same
            sampler["start_at_step"] = round(sampler["steps"] * (1 - request.strength))
    if request.count > 1:
        # VAEEncode makes a batch of one; core RepeatLatentBatch (samples, amount) repeats it, and the
        # sampler's batch noise still differs per item.
        repeat_id = "aistudio_repeat"
        while repeat_id in graph:
            repeat_id += "_"
        graph[repeat_id] = {"class_type": "RepeatLatentBatch",
                            "inputs": {"samples": sampler["latent_image"], "amount": request.count}}
        sampler["latent_image"] = [repeat_id, 0]
    return graph


def comfy_error_text(body: Any) -> str:
    """`error.message` plus the first node errors' details of a 400 from POST /prompt."""
    if not isinstance(body, dict):
        return str(body)[:300]
    parts: list[str] = []
    err = body.get("error")
    if isinstance(err, dict):
        parts += [str(err.get("message") or err.get("type") or ""), str(err.get("details") or "")]
    elif isinstance(err, str):
        parts.append(err)
    node_errors = body.get("node_errors")
    if isinstance(node_errors, dict):
        for node_id, node_err in list(node_errors.items())[:2]:
            for e in (node_err.get("errors") or [])[:2] if isinstance(node_err, dict) else []:
                if isinstance(e, dict):
                    parts.append(f"{node_err.get('class_type', node_id)}: {e.get('message', '')} "
                                 f"({e.get('details', '')})")
    return "; ".join(p for p in parts if p)[:500]


class ComfyUIProvider:
    id = "comfyui"
    supports_cancel = True

    def __init__(self, config: ProviderConfig, info: ProviderInfo, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.config = replace(config, api_key=None)  # ComfyUI has no auth
        self.info = info
        self._sleep = sleep
        self._http = HttpSession(self.config, {}, rate_per_s=100.0, sleep=sleep)  # local: no need to pace
        self._templates = {"txt2img": load_template(), "img2img": load_template("img2img.json")}
        self._client_id = uuid.uuid4().hex
        self._cancelled: set[str] = set()

    # -- submit ----------------------------------------------------------------------------------------
    async def submit(self, request: ImageRequest) -> TaskHandle:
        if request.init_image is not None and sniff_image_mime(request.init_image) is None:
            raise InvalidRequest("the source image is not a PNG, JPEG or WebP file", provider=self.id)
        seed = request.seed if request.seed is not None else random.randrange(SEED_MAX)
        template = self._templates["txt2img" if request.init_image is None else "img2img"]
        checkpoint = await self._checkpoint(request.model, template)
        image = await self._upload(request.init_image) if request.init_image is not None else None
        graph = fill_workflow(template, request, seed=seed, checkpoint=checkpoint, image=image)
        payload = {"prompt": graph, "client_id": self._client_id}
        _resp, body = await self._http.request_json("POST", "/prompt", json=payload,
                                                    error_mapper=self._map_error)
        if body.get("node_errors"):
            raise InvalidRequest(f"ComfyUI refused the workflow: {comfy_error_text(body)}", provider=self.id)
        prompt_id = body.get("prompt_id")
        if not isinstance(prompt_id, str) or not prompt_id:
            raise InvalidResponse("ComfyUI queued the workflow but returned no prompt_id", provider=self.id)
        nodes = locate_nodes(graph)
        # img2img output has the source's size, which the adapter does not measure (no image library here).
        latent = nodes["latent_image"]["inputs"] if "latent_image" in nodes else {}
        return TaskHandle(self.id, prompt_id, request.model, state={
            "client_id": self._client_id, "seed": seed, "checkpoint": checkpoint,
            "width": latent.get("width"), "height": latent.get("height"),
            "count": latent.get("batch_size", max(1, request.count))})

    async def _upload(self, data: bytes) -> str:
        """Store the source image in ComfyUI's input folder (``POST /upload/image``, §8b); the LoadImage value.

        The file name is derived from the bytes, so ``overwrite`` only ever replaces a file with itself and a
        resend after a dropped connection is harmless."""
        mime = sniff_image_mime(data) or "image/png"
        name = f"aistudio_{hashlib.sha256(data).hexdigest()[:24]}.{UPLOAD_EXT.get(mime, 'png')}"
        _resp, body = await self._http.request_json(
            "POST", "/upload/image", files={"image": (name, data, mime)},
            data={"type": "input", "overwrite": "true"}, idempotent=True, error_mapper=self._map_upload_error)
        stored, subfolder, kind = body.get("name"), body.get("subfolder"), body.get("type")
        if not isinstance(stored, str) or not stored:
            raise InvalidResponse("ComfyUI took the source image but did not say its file name", provider=self.id)
        # Assumption (ComfyUI's annotated input paths, not in §8b): LoadImage names a file in a subfolder of
        # the input folder "subfolder/name", and one stored elsewhere "name [temp]" / "name [output]".
        value = f"{subfolder}/{stored}" if isinstance(subfolder, str) and subfolder else stored
        return value if kind in (None, "", "input") else f"{value} [{kind}]"

    def _map_upload_error(self, resp: httpx.Response, body: Any) -> ProviderError | None:
        # ComfyUI answers a bare 400 for a missing/unreadable file part, 413 above its upload size limit.
        if resp.status_code in (400, 413, 415):
            detail = error_message_from_body(body)[:200]
            return InvalidRequest(f"ComfyUI refused the source image upload (HTTP {resp.status_code})"
                                  + (f": {detail}" if detail else ""), provider=self.id, status=resp.status_code)
        return None

    async def _checkpoint(self, model: str, template: dict[str, Any]) -> str:
        if model and model != DEFAULT_MODEL:
            return model
        available = await self.list_models()
        wanted = locate_nodes(template)["checkpoint"]["inputs"]["ckpt_name"]
        if wanted in available:
            return wanted
        if not available:
            raise InvalidRequest("ComfyUI has no checkpoints (put one in models/checkpoints)",
                                 provider=self.id)
        return available[0]

    def _map_error(self, resp: httpx.Response, body: Any) -> ProviderError | None:
        if resp.status_code == 400:
            return InvalidRequest(f"ComfyUI refused the workflow: {comfy_error_text(body)}", provider=self.id,
                                  status=400)
        return None

    def _map_view_error(self, resp: httpx.Response, body: Any) -> ProviderError | None:
        if 400 <= resp.status_code < 500:
            return InvalidResponse(f"ComfyUI could not serve the image file ({resp.status_code})",
                                   provider=self.id, status=resp.status_code)
        return None

    # -- poll ------------------------------------------------------------------------------------------
    async def poll(self, handle: TaskHandle) -> TaskStatus:
        prompt_id = handle.task_id
        entry = await self._history(prompt_id)
        if entry is None:
            where = await self._queue_position(prompt_id)
            if where is not None:
                state, ahead = where
                if state is TaskState.RUNNING:
                    return TaskStatus(TaskState.RUNNING, message="running")
                return TaskStatus(TaskState.QUEUED,
                                  message=f"waiting: {ahead} job(s) ahead in the ComfyUI queue")
            entry = await self._history(prompt_id)  # it may have finished between the two calls
            if entry is None:
                if prompt_id in self._cancelled:
                    return TaskStatus(TaskState.CANCELLED, message="removed from the queue")
                raise TaskNotFound("ComfyUI no longer knows this job (was it restarted?)", provider=self.id)
        return await self._finished(handle, entry)

    async def _history(self, prompt_id: str) -> dict[str, Any] | None:
        _resp, body = await self._http.request("GET", f"/history/{prompt_id}", idempotent=True,
                                               error_mapper=self._map_error)
        if not isinstance(body, dict):
            raise InvalidResponse("ComfyUI's history is not a JSON object", provider=self.id)
        entry = body.get(prompt_id)
        return entry if isinstance(entry, dict) else None

    async def _queue_position(self, prompt_id: str) -> tuple[TaskState, int] | None:
        """RUNNING or QUEUED with the number of jobs ahead; None when the queue does not hold it."""
        _resp, body = await self._http.request_json("GET", "/queue", idempotent=True,
                                                    error_mapper=self._map_error)

        def items(name: str) -> list[list[Any]]:
            value = body.get(name)
            if not isinstance(value, list):
                return []
            return [i for i in value if isinstance(i, list) and len(i) >= 2]

        if any(item[1] == prompt_id for item in items("queue_running")):
            return TaskState.RUNNING, 0
        pending = sorted(items("queue_pending"), key=lambda i: i[0] if isinstance(i[0], (int, float)) else 0)
        for index, item in enumerate(pending):
            if item[1] == prompt_id:
                return TaskState.QUEUED, index + len(items("queue_running"))
        return None

    async def _finished(self, handle: TaskHandle, entry: dict[str, Any]) -> TaskStatus:
        status = entry.get("status") if isinstance(entry.get("status"), dict) else {}
        messages = [m for m in status.get("messages") or [] if isinstance(m, list) and len(m) == 2]
        status_str = status.get("status_str")
        if status_str == "error":
            if any(kind == "execution_interrupted" for kind, _ in messages):
                return TaskStatus(TaskState.CANCELLED, message="interrupted")
            details = next((d for kind, d in messages
                            if kind == "execution_error" and isinstance(d, dict)), {})
            text = (f"ComfyUI failed in {details.get('node_type', 'a node')} "
                    f"(node {details.get('node_id', '?')}): "
                    f"{details.get('exception_message', 'no details')}")[:400]
            return TaskStatus(TaskState.FAILED, error=ProviderError(text, provider=self.id), message=text)
        if status_str not in ("success", None):
            err = InvalidResponse(f"ComfyUI reported an unknown status {status_str!r}", provider=self.id)
            return TaskStatus(TaskState.FAILED, error=err, message=err.message)
        refs = self._image_refs(entry.get("outputs"))
        if not refs:
            err = InvalidResponse("ComfyUI finished without saving an image", provider=self.id)
            return TaskStatus(TaskState.FAILED, error=err, message=err.message)
        images = []
        try:
            for ref in refs:
                data, mime = await fetch_image(self._http, "/view", params=ref,
                                               error_mapper=self._map_view_error, sleep=self._sleep)
                images.append(GeneratedImage(data=data, mime=mime, seed=handle.state.get("seed"),
                                             width=handle.state.get("width"),
                                             height=handle.state.get("height")))
        except ProviderError as exc:
            if exc.retryable:
                raise  # the server may come back: poll again later
            return TaskStatus(TaskState.FAILED, error=exc, message=exc.message)
        return TaskStatus(TaskState.SUCCEEDED, progress=1.0,
                          result=ImageResult(images=tuple(images), request_id=handle.task_id,
                                             model=_checkpoint_name(handle.state.get("checkpoint"))))

    @staticmethod
    def _image_refs(outputs: Any) -> list[dict[str, str]]:
        """`/view` parameters of the saved images; previews (type ``temp``) only when nothing was saved."""
        refs = []
        for node_output in (outputs or {}).values() if isinstance(outputs, dict) else []:
            for image in node_output.get("images") or [] if isinstance(node_output, dict) else []:
                if isinstance(image, dict) and isinstance(image.get("filename"), str):
                    refs.append({"filename": image["filename"],
                                 "subfolder": str(image.get("subfolder") or ""),
                                 "type": str(image.get("type") or "output")})
        saved = [r for r in refs if r["type"] == "output"]
        return saved or refs

    # -- cancel, models, health ------------------------------------------------------------------------
    async def cancel(self, handle: TaskHandle) -> bool:
        """Remove a waiting job from the queue, or interrupt it when it is the one running."""
        where = await self._queue_position(handle.task_id)
        if where is None:
            return False
        self._cancelled.add(handle.task_id)
        if where[0] is TaskState.QUEUED:
            await self._http.request("POST", "/queue", json={"delete": [handle.task_id]}, idempotent=True,
                                     error_mapper=self._map_error)
        else:
            # Newer servers interrupt only this prompt_id; older ones ignore the body (it is the one running).
            await self._http.request("POST", "/interrupt", json={"prompt_id": handle.task_id},
                                     idempotent=True, error_mapper=self._map_error)
        return True

    async def list_models(self) -> list[str]:
        """Checkpoint file names, from the checkpoint loader's choices."""
        _resp, body = await self._http.request_json("GET", "/object_info/CheckpointLoaderSimple",
                                                    idempotent=True, error_mapper=self._map_error)
        node = body.get("CheckpointLoaderSimple")
        inputs = node.get("input") if isinstance(node, dict) else None
        required = inputs.get("required") if isinstance(inputs, dict) else None
        spec = required.get("ckpt_name") if isinstance(required, dict) else None
        choices: Any = None
        if isinstance(spec, list) and spec:
            choices = spec[0]
            if choices == "COMBO" and len(spec) > 1 and isinstance(spec[1], dict):  # newer node schema
                choices = spec[1].get("options")
        if not isinstance(choices, list):
            raise InvalidResponse("ComfyUI's node catalogue has no checkpoint list", provider=self.id)
        return [str(c) for c in choices]

    async def check_key(self) -> str:
        _resp, body = await self._http.request_json("GET", "/system_stats", idempotent=True)
        system = body.get("system")
        version = system.get("comfyui_version") if isinstance(system, dict) else None
        return f"ComfyUI {version or ''} answers (no key needed).".replace("  ", " ")

    async def aclose(self) -> None:
        await self._http.aclose()


def _checkpoint_name(filename: object) -> str | None:
    """'sd_xl_base_1.0.safetensors' -> 'sd_xl_base_1.0': the model a creator recognises and searches for."""
    if not isinstance(filename, str) or not filename:
        return None
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    for ext in (".safetensors", ".ckpt", ".pt", ".bin"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name
