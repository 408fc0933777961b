"""A loopback ComfyUI (reference §8b), driven by polls rather than time so tests are fast and deterministic.

* ``POST /prompt``: validates the API-format graph (known node classes, a checkpoint from `checkpoints`,
  a prompt at all) like ComfyUI: 400 with ``error`` + ``node_errors``. Queues the job.
* A job waits `pending_polls` ``GET /history/{id}`` calls in ``queue_pending``, then `running_polls` in
  ``queue_running`` (history ``{}`` all that time), then finishes with `outcome`: ``success`` (one PNG per
  batch item saved for ``GET /view``), ``error`` (``execution_error``) or ``no_images``.
* ``POST /interrupt`` ends the running job (``execution_interrupted``); ``POST /queue {"delete": [...]}``
  drops pending ones.
* ``GET /queue``, ``GET /object_info/CheckpointLoaderSimple``, ``GET /system_stats``.

Route names for `fault()`: ``prompt``, ``history``, ``queue``, ``queue_edit``, ``interrupt``, ``view``,
``object_info``, ``system_stats``.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.servers.base import FakeServer, Reply, Request, png_bytes

NODE_CLASSES = {"CheckpointLoaderSimple", "CLIPTextEncode", "EmptyLatentImage", "KSampler",
                "KSamplerAdvanced", "VAEDecode", "SaveImage", "PreviewImage", "LoraLoader", "LoadImage",
                "VAEEncode"}


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
            name = node["inputs"].get("ckpt_name")
            if node["class_type"] == "CheckpointLoaderSimple" and name not in self.checkpoints:
                node_errors[node_id] = {"errors": [{
                    "type": "value_not_in_list", "message": "Value not in list",
                    "details": f"ckpt_name: '{name}' not in {self.checkpoints}",
                    "extra_info": {"input_name": "ckpt_name", "received_value": name}}],
                    "dependent_outputs": ["9"], "class_type": "CheckpointLoaderSimple"}
        if node_errors:
            return Reply(400, {"error": {"type": "prompt_outputs_failed_validation",
                                         "message": "Prompt outputs failed validation", "details": "",
                                         "extra_info": {}}, "node_errors": node_errors})
        with self._jobs_lock:
            self._number += 1
            job = Job(str(uuid.uuid4()), self._number, graph, outcome=self.outcome)
            self.jobs[job.prompt_id] = job
        return Reply(200, {"prompt_id": job.prompt_id, "number": job.number, "node_errors": {}})

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
            latent = next(n for n in job.graph.values() if n["class_type"] == "EmptyLatentImage")["inputs"]
            prefix = job.graph[save_id]["inputs"].get("filename_prefix", "ComfyUI")
            images = []
            for i in range(int(latent["batch_size"])):
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
