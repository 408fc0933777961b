"""A loopback AUTOMATIC1111 WebUI API (reference §8a).

* ``POST /sdapi/v1/txt2img`` / ``img2img``: one job at a time (a global lock, as the WebUI's queue lock);
  `steps` sampling steps of `step_s` seconds each, advancing ``GET /sdapi/v1/progress``; ``POST
  /sdapi/v1/interrupt`` ends the running job early. Answers ``images`` (bare base64 PNGs) and ``info`` (a JSON
  string with ``all_seeds`` etc.). `return_grid` puts a grid first (``index_of_first_image`` 1);
  `extra_images` appends detect maps as ControlNet does.
* Errors as the WebUI's middleware words them: 404 "Sampler not found", 500 "Invalid encoded image",
  FastAPI 422 ``detail[]`` for a wrongly typed field, 401 + ``WWW-Authenticate: Basic`` when `auth`
  ("user:pass") is set and the request lacks it.
* ``GET /sdapi/v1/sd-models``, ``GET /internal/ping``.

Route names for `fault()`: ``txt2img``, ``img2img``, ``progress``, ``interrupt``, ``sd-models``, ``ping``.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import threading
import time
from typing import Any

from tests.fakes.servers.base import FakeServer, Reply, Request, png_bytes

CHECKPOINTS = [
    {"title": "v1-5-pruned-emaonly.safetensors [6ce0161689]", "model_name": "v1-5-pruned-emaonly",
     "hash": "6ce0161689", "sha256": "6ce0161689" + "0" * 54,
     "filename": "/models/v1-5-pruned-emaonly.safetensors", "config": None},
    {"title": "sd_xl_base_1.0.safetensors [31e35c80fc]", "model_name": "sd_xl_base_1.0", "hash": "31e35c80fc",
     "sha256": "31e35c80fc" + "0" * 54, "filename": "/models/sd_xl_base_1.0.safetensors", "config": None},
]
SAMPLERS = {"Euler a", "Euler", "DPM++ 2M", "DDIM"}


def _http_exception(status: int, detail: str) -> Reply:
    return Reply(status, {"error": "HTTPException", "detail": detail, "body": "", "errors": ""})


class A1111Fake(FakeServer):
    def __init__(self, auth: str | None = None) -> None:
        super().__init__()
        self.auth = auth
        self.step_s = 0.0
        self.return_grid = False
        self.extra_images = 0
        self.loaded = CHECKPOINTS[0]["title"]
        self.progress_value = 0.0
        self.running = False
        self.sampling = (0, 0)
        self._interrupt = threading.Event()
        self._queue_lock = threading.Lock()
        for name, method, path, handler in (
            ("txt2img", "POST", r"/sdapi/v1/txt2img", self._txt2img),
            ("img2img", "POST", r"/sdapi/v1/img2img", self._img2img),
            ("progress", "GET", r"/sdapi/v1/progress", self._progress),
            ("interrupt", "POST", r"/sdapi/v1/interrupt", self._interrupt_job),
            ("sd-models", "GET", r"/sdapi/v1/sd-models", lambda r: Reply(200, CHECKPOINTS)),
            ("ping", "GET", r"/internal/ping", lambda r: Reply(200, {})),
        ):
            self.route(name, method, path, self._guarded(handler))

    def _guarded(self, handler: Any) -> Any:
        def run(req: Request) -> Reply:
            if self.auth:
                expected = "Basic " + base64.b64encode(self.auth.encode()).decode()
                if req.header("authorization") != expected:
                    return Reply(401, {"detail": "Incorrect username or password"},
                                 headers={"WWW-Authenticate": "Basic"})
            return handler(req)
        return run

    # -- generation ------------------------------------------------------------------------------------
    def _txt2img(self, req: Request) -> Reply:
        return self._generate(req, img2img=False)

    def _img2img(self, req: Request) -> Reply:
        return self._generate(req, img2img=True)

    def _generate(self, req: Request, *, img2img: bool) -> Reply:
        body = req.json()
        for name in ("width", "height", "steps", "batch_size", "n_iter", "seed"):
            if name in body and not isinstance(body[name], int):
                return Reply(422, {"detail": [{"loc": ["body", name], "msg": "value is not a valid integer",
                                               "type": "type_error.integer"}]})
        if body.get("sampler_name") and body["sampler_name"] not in SAMPLERS:
            return _http_exception(404, "Sampler not found")
        if img2img:
            images = body.get("init_images") or []
            if not images:
                return _http_exception(500, "Invalid encoded image")  # the WebUI fails on an empty list too
            for value in images:
                raw = value.split(",", 1)[-1] if value.startswith("data:") else value
                try:
                    data = base64.b64decode(raw, validate=True)
                except (binascii.Error, ValueError):
                    return _http_exception(500, "Invalid encoded image")
                if not data.startswith((b"\x89PNG", b"\xff\xd8\xff")):
                    return _http_exception(500, "Invalid encoded image")
        with self._queue_lock:  # the WebUI runs one job at a time; others wait here
            return self._run(body, img2img)

    def _run(self, body: dict[str, Any], img2img: bool) -> Reply:
        checkpoint = (body.get("override_settings") or {}).get("sd_model_checkpoint") or self.loaded
        count = int(body.get("batch_size", 1)) * int(body.get("n_iter", 1))
        steps = int(body.get("steps", 20))
        self._interrupt.clear()
        self.running, self.progress_value = True, 0.0
        done = 0
        try:
            for step in range(steps):
                if self._interrupt.is_set():
                    break
                time.sleep(self.step_s)
                done = step + 1
                self.sampling = (done, steps)
                self.progress_value = done / steps
        finally:
            self.running, self.progress_value, self.sampling = False, 0.0, (0, 0)
        seed = int(body.get("seed", -1))
        first_seed = seed if seed != -1 else random.randrange(2**32)
        seeds = [first_seed + i for i in range(count)]
        width, height = int(body.get("width", 512)), int(body.get("height", 512))
        model_name = next((c["model_name"] for c in CHECKPOINTS if c["title"] == checkpoint), checkpoint)
        infotexts = [f"{body.get('prompt', '')}\nSteps: {steps}, Seed: {s}, Size: {width}x{height}, "
                     f"Model: {model_name}" for s in seeds]
        images = [png_bytes(text={"parameters": t}) for t in infotexts] if done else []
        if self.return_grid and len(images) > 1:
            images.insert(0, png_bytes(16, 16))
        images += [png_bytes(color=(0, 0, 0)) for _ in range(self.extra_images)]
        info = {"prompt": body.get("prompt", ""), "all_prompts": [body.get("prompt", "")] * count,
                "negative_prompt": body.get("negative_prompt", ""), "seed": first_seed, "all_seeds": seeds,
                "width": width, "height": height, "steps": steps, "batch_size": body.get("batch_size", 1),
                "sd_model_name": model_name, "sd_model_hash": "6ce0161689", "infotexts": infotexts,
                "index_of_first_image": 1 if self.return_grid and count > 1 else 0, "version": "v1.10.1",
                "denoising_strength": body.get("denoising_strength") if img2img else None}
        return Reply(200, {"images": [base64.b64encode(i).decode() for i in images],
                           "parameters": body | {"init_images": None}, "info": json.dumps(info)})

    # -- progress and interrupt --------------------------------------------------------------------------
    def _progress(self, req: Request) -> Reply:
        step, steps = self.sampling
        return Reply(200, {"progress": self.progress_value, "eta_relative": 0.0,
                           "state": {"skipped": False, "interrupted": self._interrupt.is_set(), "job": "",
                                     "job_count": 1 if self.running else 0, "job_timestamp": "20261124100000",
                                     "job_no": 0, "sampling_step": step, "sampling_steps": steps},
                           "current_image": None, "textinfo": None})

    def _interrupt_job(self, req: Request) -> Reply:
        if self.running:
            self._interrupt.set()
        return Reply(200, {})
