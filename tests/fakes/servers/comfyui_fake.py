"""A loopback ComfyUI (reference §8b), driven by polls rather than time so tests are fast and deterministic.

* ``POST /prompt``: validates the API-format graph (known node classes, a checkpoint from `checkpoints`,
  a LoadImage file that was uploaded, the encoder's links, a prompt at all) like ComfyUI: 400 with ``error``
  + ``node_errors``. Queues the job.
* ``POST /upload/image``: multipart ``image`` (+ ``type``, ``subfolder``, ``overwrite``) stored in `files`
  under its type; a clashing name without ``overwrite`` gets `` (1)`` like ComfyUI unless the bytes are the
  same. Stricter than ComfyUI (which stores anything): 400 for bytes that are not PNG/JPEG/WebP.
* A job waits `pending_polls` ``GET /history/{id}`` calls in ``queue_pending``, then `running_polls` in
  ``queue_running`` (history ``{}`` all that time), then finishes with `outcome`: ``success`` (one PNG per
  batch item of the sampler's latent saved for ``GET /view``), ``error`` (``execution_error``) or ``no_images``.
* ``POST /interrupt`` ends the running job (``execution_interrupted``); ``POST /queue {"delete": [...]}``
  drops pending ones.
* ``GET /queue``, ``GET /object_info/CheckpointLoaderSimple``, ``GET /system_stats``.

Route names for `fault()`: ``prompt``, ``upload``, ``history``, ``queue``, ``queue_edit``, ``interrupt``,
``view``, ``object_info``, ``system_stats``.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.servers.base import FakeServer, Reply, Request, png_bytes

NODE_CLASSES = {"CheckpointLoaderSimple", "CLIPTextEncode", "EmptyLatentImage", "KSampler",
                "KSamplerAdvanced", "VAEDecode", "SaveImage", "PreviewImage", "LoraLoader", "LoadImage",
                "VAEEncode", "RepeatLatentBatch"}
REQUIRED_LINKS = {"VAEEncode": ("pixels", "vae"), "RepeatLatentBatch": ("samples",)}
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")


@dataclass
class Job:
    prompt_id: str
    number: int
    graph: dict[str, Any]
    polls: int = 0
    outcome: str = "success"
    interrupted: bool = False
    finished: bool = False
    outputs: dict[str, Any] = field(default_factory=dict)


class ComfyUIFake(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.checkpoints = ["sd_xl_base_1.0.safetensors", "v1-5-pruned-emaonly.safetensors"]
        self.pending_polls = 0
        self.running_polls = 0
        self.outcome = "success"
        self.jobs: dict[str, Job] = {}
        self.files: dict[tuple[str, str, str], bytes] = {}
        self._number = 0
        self._jobs_lock = threading.RLock()
        self.route("prompt", "POST", r"/prompt", self._queue_prompt)
        self.route("upload", "POST", r"/upload/image", self._upload)
        self.route("history", "GET", r"/history/(?P<id>[^/]+)", self._history)
        self.route("queue", "GET", r"/queue", self._queue)
        self.route("queue_edit", "POST", r"/queue", self._queue_edit)
        self.route("interrupt", "POST", r"/interrupt", self._interrupt)
        self.route("view", "GET", r"/view", self._view)
        self.route("object_info", "GET", r"/object_info/CheckpointLoaderSimple", lambda r: Reply(200, {
            "CheckpointLoaderSimple": {"input": {"required": {"ckpt_name": [list(self.checkpoints), {}]}},
                                       "output": ["MODEL", "CLIP", "VAE"],
                                       "name": "CheckpointLoaderSimple"}}))
        self.route("system_stats", "GET", r"/system_stats", lambda r: Reply(200, {
            "system": {"os": "posix", "comfyui_version": "0.3.40", "python_version": "3.11"},
            "devices": [{"name": "cpu", "type": "cpu", "vram_total": 0, "vram_free": 0}]}))

    # -- queueing --------------------------------------------------------------------------------------
    def _queue_prompt(self, req: Request) -> Reply:
        body = req.json()
        graph = body.get("prompt") if isinstance(body, dict) else None
        if not isinstance(graph, dict) or not graph:
            return Reply(400, {"error": {"type": "no_prompt", "message": "No prompt provided", "details": "",
                                         "extra_info": {}}, "node_errors": {}})
        for node_id, node in graph.items():
            if not isinstance(node, dict) or node.get("class_type") not in NODE_CLASSES:
                kind = node.get("class_type") if isinstance(node, dict) else None
                return Reply(400, {"error": {"type": "invalid_prompt", "message":
                                             f"Cannot execute because node {kind} does not exist.",
                                             "details": f"Node ID '#{node_id}'", "extra_info": {}},
                                   "node_errors": {}})
        node_errors = {}
        for node_id, node in graph.items():
            errors = self._node_problems(graph, node)
            if errors:
                node_errors[node_id] = {"errors": errors, "dependent_outputs": ["9"],
                                        "class_type": node["class_type"]}
        if node_errors:
            return Reply(400, {"error": {"type": "prompt_outputs_failed_validation",
                                         "message": "Prompt outputs failed validation", "details": "",
                                         "extra_info": {}}, "node_errors": node_errors})
        with self._jobs_lock:
            self._number += 1
            job = Job(str(uuid.uuid4()), self._number, graph, outcome=self.outcome)
            self.jobs[job.prompt_id] = job
        return Reply(200, {"prompt_id": job.prompt_id, "number": job.number, "node_errors": {}})

    def _node_problems(self, graph: dict[str, Any], node: dict[str, Any]) -> list[dict[str, Any]]:
        """ComfyUI's per-node validation errors for the inputs this fake knows about."""
        kind, inputs = node["class_type"], node.get("inputs") or {}
        name = inputs.get("ckpt_name")
        if kind == "CheckpointLoaderSimple" and name not in self.checkpoints:
            return [{"type": "value_not_in_list", "message": "Value not in list",
                     "details": f"ckpt_name: '{name}' not in {self.checkpoints}",
                     "extra_info": {"input_name": "ckpt_name", "received_value": name}}]
        if kind == "LoadImage" and not self._input_file_exists(inputs.get("image")):
            # LoadImage.VALIDATE_INPUTS refuses a file missing from the input folder.
            value = inputs.get("image")
            return [{"type": "custom_validation_failed", "message": "Custom validation failed for node",
                     "details": f"image - Invalid image file: {value}",
                     "extra_info": {"input_name": "image", "received_value": value}}]
        for wanted in REQUIRED_LINKS.get(kind, ()):
            link = inputs.get(wanted)
            if not (isinstance(link, list) and len(link) == 2 and str(link[0]) in graph):
                return [{"type": "required_input_missing", "message": "Required input is missing",
                         "details": wanted, "extra_info": {"input_name": wanted}}]
        return []

    def _input_file_exists(self, value: Any) -> bool:
        """An annotated path ("sub/name.png", "name.png [temp]") naming an uploaded or saved file."""
        if not isinstance(value, str) or not value:
            return False
        m = re.fullmatch(r"(.*) \[(input|output|temp)\]", value)
        path, kind = (m.group(1), m.group(2)) if m else (value, "input")
        subfolder, _, name = path.rpartition("/")
        return (subfolder, name, kind) in self.files

    # -- uploads ---------------------------------------------------------------------------------------
    def _upload(self, req: Request) -> Reply:
        parts = form_parts(req)
        if "image" not in parts or not parts["image"][0]:
            return Reply(400, b"")  # ComfyUI answers a missing file part with a bare 400
        filename, data = parts["image"]
        assert filename is not None
        kind = (parts.get("type", (None, b"input"))[1] or b"input").decode()
        subfolder = parts.get("subfolder", (None, b""))[1].decode()
        overwrite = parts.get("overwrite", (None, b""))[1].decode() in ("true", "1")
        if kind not in ("input", "temp", "output") or ".." in subfolder or subfolder.startswith("/") \
                or "/" in filename or ".." in filename:
            return Reply(400, b"")
        if not (data.startswith(IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")):
            return Reply(400, "Invalid image file: not a PNG, JPEG or WebP image")
        stem, dot, ext = filename.rpartition(".")
        stem, ext = (stem, dot + ext) if dot else (filename, "")
        name, i = filename, 1
        while not overwrite and (subfolder, name, kind) in self.files and self.files[(subfolder, name, kind)] != data:
            name, i = f"{stem} ({i}){ext}", i + 1
        self.files[(subfolder, name, kind)] = data
        return Reply(200, {"name": name, "subfolder": subfolder, "type": kind})

    def _state(self, job: Job) -> str:
        """The queue a job is in after `job.polls` empty history answers (the k-th answer counts as k)."""
        if job.interrupted or job.finished:
            return "done"
        return "pending" if self.pending_polls and job.polls <= self.pending_polls else "running"

    def _entry(self, job: Job) -> tuple[Any, ...]:
        return (job.number, job.prompt_id, job.graph, {"client_id": "x"}, ["9"])

    def _queue(self, req: Request) -> Reply:
        with self._jobs_lock:
            running = [self._entry(j) for j in self.jobs.values() if self._state(j) == "running"]
            pending = [self._entry(j) for j in self.jobs.values() if self._state(j) == "pending"]
        return Reply(200, {"queue_running": running, "queue_pending": pending})

    def _queue_edit(self, req: Request) -> Reply:
        body = req.json() or {}
        with self._jobs_lock:
            for prompt_id in body.get("delete", []):
                job = self.jobs.get(prompt_id)
                if job is not None and self._state(job) == "pending":
                    del self.jobs[prompt_id]
        return Reply(200, b"")

    def _interrupt(self, req: Request) -> Reply:
        wanted = (req.json() or {}).get("prompt_id") if req.body else None
        with self._jobs_lock:
            for job in self.jobs.values():
                if self._state(job) == "running" and wanted in (None, job.prompt_id):
                    job.interrupted = True
        return Reply(200, b"")

    # -- history and files -------------------------------------------------------------------------------
    def _history(self, req: Request) -> Reply:
        assert req.match is not None
        with self._jobs_lock:
            job = self.jobs.get(req.match.group("id"))
            if job is None:
                return Reply(200, {})
            if not job.interrupted and job.polls < self.pending_polls + self.running_polls:
                job.polls += 1
                return Reply(200, {})
            job.finished = True
            return Reply(200, {job.prompt_id: self._history_entry(job)})

    def _history_entry(self, job: Job) -> dict[str, Any]:
        start = ["execution_start", {"prompt_id": job.prompt_id, "timestamp": 0}]
        if job.interrupted:
            return self._failed(start, ["execution_interrupted", {
                "prompt_id": job.prompt_id, "node_id": "3", "node_type": "KSampler", "executed": ["4"]}])
        if job.outcome == "error":
            return self._failed(start, ["execution_error", {
                "prompt_id": job.prompt_id, "node_id": "3", "node_type": "KSampler", "executed": [],
                "exception_message": "CUDA out of memory", "exception_type": "torch.OutOfMemoryError",
                "traceback": []}])
        if not job.outputs and job.outcome == "success":
            save_id = next(i for i, n in job.graph.items() if n["class_type"] == "SaveImage")
            sampler = next(n for n in job.graph.values() if n["class_type"] in ("KSampler", "KSamplerAdvanced"))
            prefix = job.graph[save_id]["inputs"].get("filename_prefix", "ComfyUI")
            images = []
            for i in range(batch_size(job.graph, sampler["inputs"]["latent_image"])):
                name = f"{prefix}_{job.number:05}_{i}_.png"
                self.files[("", name, "output")] = png_bytes(text={"prompt": "x"})
                images.append({"filename": name, "subfolder": "", "type": "output"})
            job.outputs = {save_id: {"images": images}}
        return {"prompt": [job.number, job.prompt_id, job.graph, {}, ["9"]], "outputs": job.outputs,
                "status": {"status_str": "success", "completed": True, "messages": [
                    start, ["execution_success", {"prompt_id": job.prompt_id, "timestamp": 1}]]},
                "meta": {}}

    @staticmethod
    def _failed(*messages: list[Any]) -> dict[str, Any]:
        return {"prompt": [], "outputs": {},
                "status": {"status_str": "error", "completed": False, "messages": list(messages)}}

    def _view(self, req: Request) -> Reply:
        def q(name: str, default: str = "") -> str:
            return (req.query.get(name) or [default])[0]

        if ".." in q("filename") or q("filename").startswith("/"):
            return Reply(403, b"")
        data = self.files.get((q("subfolder"), q("filename"), q("type", "output")))
        if data is None:
            return Reply(404, b"")
        return Reply(200, data, headers={"Content-Type": "image/png",
                                         "Content-Disposition": f'filename="{q("filename")}"'})


def batch_size(graph: dict[str, Any], link: Any, depth: int = 0) -> int:
    """How many latents a link carries: an empty latent's batch, a repeat's amount, one encoded image."""
    node = graph.get(str(link[0])) if isinstance(link, list) and link else None
    if node is None or depth > 10:
        return 1
    inputs = node["inputs"]
    if node["class_type"] == "EmptyLatentImage":
        return int(inputs["batch_size"])
    if node["class_type"] == "RepeatLatentBatch":
        return int(inputs["amount"]) * batch_size(graph, inputs.get("samples"), depth + 1)
    return 1


def form_parts(req: Request) -> dict[str, tuple[str | None, bytes]]:
    """A multipart body as {field: (file name or None, raw bytes)}; `Request.multipart` drops file names."""
    m = re.search(r"boundary=\"?([^\";]+)\"?", req.header("content-type") or "")
    if not m:
        return {}
    out: dict[str, tuple[str | None, bytes]] = {}
    for part in req.body.split(b"--" + m.group(1).encode())[1:]:
        if part.startswith(b"--"):
            break
        part = part[2:] if part.startswith(b"\r\n") else part  # only the CRLF framing: the file is binary
        part = part[:-2] if part.endswith(b"\r\n") else part
        head, _, value = part.partition(b"\r\n\r\n")
        field_name = re.search(rb'(?<![A-Za-z])name="([^"]*)"', head)  # not the tail of filename=
        file_name = re.search(rb'filename="([^"]*)"', head)
        if field_name:
            out[field_name.group(1).decode()] = (file_name.group(1).decode() if file_name else None, value)
    return out
