"""A stateful loopback fake of the Stability AI API (reference/providers.md §2).

Routes (names for `fault()`): `core`, `ultra`, `sd3` (POST /v2beta/stable-image/generate/<name>, multipart,
`Accept: application/json` -> base64 JSON, otherwise raw bytes with `finish-reason`/`seed` headers),
`v1_t2i` and `v1_i2i` (POST /v1/generation/<engine>/text-to-image (JSON) | image-to-image (multipart)),
`balance` GET /v1/user/balance, `engines` GET /v1/engines/list.
It checks the bearer key, validates fields, charges credits from `credits` (402 `payment_required` when
they run out), answers prompts containing `filtered_words` with `CONTENT_FILTERED`, and prompts containing
`flagged_words` with 403 (v2beta) or 400 `invalid_prompts` (v1).
"""

from __future__ import annotations

import base64
import itertools
import re
import struct
from typing import Any

from tests.fakes.servers.base import FakeServer, Reply, Request, png_bytes

RATIOS = {"16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"}
STYLES = {"3d-model", "analog-film", "anime", "cinematic", "comic-book", "digital-art", "enhance",
          "fantasy-art", "isometric", "line-art", "low-poly", "modeling-compound", "neon-punk", "origami",
          "photographic", "pixel-art", "tile-texture"}
SDXL_SIZES = {(1024, 1024), (1152, 896), (896, 1152), (1216, 832), (832, 1216), (1344, 768), (768, 1344),
              (1536, 640), (640, 1536)}
SD3_MODELS = {"sd3.5-large": 6.5, "sd3.5-large-turbo": 4.0, "sd3.5-medium": 3.5}
COST = {"core": 3.0, "ultra": 8.0}
V1_COST = 0.9  # per image; the v1 price is not in the reference, any positive figure will do
ENGINES = ("stable-diffusion-xl-1024-v1-0",)


def v2_error(status: int, name: str, *errors: str) -> Reply:
    return Reply(status, {"id": "a1b2c3", "name": name, "errors": list(errors)})


def v1_error(status: int, name: str, message: str) -> Reply:
    return Reply(status, {"id": "0f1e2d3c-0000-4000-8000-000000000000", "name": name, "message": message})


def png_size(data: bytes) -> tuple[int, int] | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return w, h
    return None


class StabilityFake(FakeServer):
    def __init__(self, key: str = "sk-test-stability-0123456789", credits: float = 100.0,
                 filtered_words: tuple[str, ...] = ("blurme",),
                 flagged_words: tuple[str, ...] = ("forbidden",)) -> None:
        super().__init__()
        self.key = key
        self.credits = credits
        self.filtered_words = filtered_words
        self.flagged_words = flagged_words
        self._seeds = itertools.count(1000)
        for name in ("core", "ultra", "sd3"):
            self.route(name, "POST", rf"/v2beta/stable-image/generate/{name}", self._v2)
        self.route("v1_t2i", "POST", r"/v1/generation/(?P<engine>[^/]+)/text-to-image", self._v1_t2i)
        self.route("v1_i2i", "POST", r"/v1/generation/(?P<engine>[^/]+)/image-to-image", self._v1_i2i)
        self.route("balance", "GET", r"/v1/user/balance", self._balance)
        self.route("engines", "GET", r"/v1/engines/list", self._engines)

    def _authorised(self, req: Request) -> bool:
        return req.header("authorization") == f"Bearer {self.key}"

    def _charge(self, credits: float) -> bool:
        with self._lock:
            if self.credits < credits:
                return False
            self.credits -= credits
            return True

    def _seed(self, given: Any) -> int:
        try:
            seed = int(given)
        except (TypeError, ValueError):
            seed = 0
        return seed or next(self._seeds)

    # -- v2beta -----------------------------------------------------------------------------------------
    def _v2(self, req: Request) -> Reply:
        if not self._authorised(req):
            return v2_error(401, "unauthorized", "authorization: invalid or missing API key")
        endpoint = req.path.rsplit("/", 1)[-1]
        if not (req.header("content-type") or "").startswith("multipart/form-data"):
            return v2_error(400, "bad_request", "content-type: must be multipart/form-data")
        parts = req.multipart()
        image = parts.pop("image", [None])[0]
        f = {k: v[0].decode("utf-8", "replace") for k, v in parts.items()}
        prompt = f.get("prompt", "")
        if not 1 <= len(prompt) <= 10000:
            return v2_error(400, "bad_request", "prompt: is required and must be 1 to 10000 characters")
        if "aspect_ratio" in f and (f["aspect_ratio"] not in RATIOS or image is not None):
            return v2_error(400, "bad_request",
                            "aspect_ratio: must be one of the allowed values (text-to-image only)")
        if "style_preset" in f and (f["style_preset"] not in STYLES or endpoint == "sd3"):
            return v2_error(400, "bad_request", "style_preset: invalid value")
        if "seed" in f and not (f["seed"].isdigit() and int(f["seed"]) <= 4294967294):
            return v2_error(400, "bad_request", "seed: must be between 0 and 4294967294")
        if f.get("output_format", "png") not in ("png", "jpeg", "webp"):
            return v2_error(400, "bad_request", "output_format: invalid value")
        cost = COST.get(endpoint, 0.0)
        if endpoint == "sd3":
            model = f.get("model", "sd3.5-large")
            if model not in SD3_MODELS:
                return v2_error(400, "bad_request", "model: invalid value")
            if model.endswith("turbo") and "negative_prompt" in f:
                return v2_error(400, "bad_request", "negative_prompt: not supported by turbo models")
            if (f.get("mode", "text-to-image") == "image-to-image") != (image is not None):
                return v2_error(400, "bad_request", "mode: image-to-image needs an image, and only then")
            cost = SD3_MODELS[model]
        elif "mode" in f or "model" in f:
            return v2_error(400, "bad_request", "mode/model: only for the sd3 endpoint")
        if image is not None:
            if endpoint == "core":
                return v2_error(400, "bad_request", "image: not accepted by this endpoint")
            if "strength" not in f or not 0.0 <= float(f["strength"]) <= 1.0:
                return v2_error(400, "bad_request", "strength: is required when image is provided (0 to 1)")
            if not image.startswith((b"\x89PNG", b"\xff\xd8\xff", b"RIFF")):
                return v2_error(400, "bad_request", "image: unsupported format")
        if any(w in prompt.lower() for w in self.flagged_words):
            return v2_error(403, "content_moderation",
                            "Your request was flagged by our content moderation system")
        if not self._charge(cost):
            return v2_error(402, "payment_required", "You lack sufficient credits to make this request")
        seed = self._seed(f.get("seed"))
        filtered = any(w in prompt.lower() for w in self.filtered_words)
        reason = "CONTENT_FILTERED" if filtered else "SUCCESS"
        data = png_bytes(color=(90, 90, 90) if filtered else (seed % 256, 60, 120))
        headers = {"x-request-id": f"stab-{seed}"}
        if (req.header("accept") or "").startswith("application/json"):
            body = {"image": base64.b64encode(data).decode(), "finish_reason": reason, "seed": seed}
            return Reply(200, body, headers=headers)
        return Reply(200, data, headers={"Content-Type": "image/png", "finish-reason": reason,
                                         "seed": str(seed), **headers})

    # -- v1 ---------------------------------------------------------------------------------------------
    def _v1_common(self, req: Request, prompts: list[dict[str, Any]],
                   scalars: dict[str, Any]) -> Reply | None:
        engine = req.match.group("engine") if req.match else ""
        if engine not in ENGINES:
            return v1_error(404, "not_found", f"The specified engine (ID {engine}) was not found.")
        if not prompts or any(not isinstance(p.get("text"), str) or not p["text"] or len(p["text"]) > 2000
                              for p in prompts):
            return v1_error(400, "bad_request", "text_prompts: each needs 1 to 2000 characters of text")
        samples = int(scalars.get("samples", 1))
        if not 1 <= samples <= 10:
            return v1_error(400, "invalid_samples", "samples must be between 1 and 10")
        if "style_preset" in scalars and scalars["style_preset"] not in STYLES:
            return v1_error(400, "bad_request", "style_preset: invalid value")
        if not 0 <= int(scalars.get("seed", 0)) <= 4294967295:
            return v1_error(400, "bad_request", "seed: out of range")
        positive = " ".join(p["text"] for p in prompts if float(p.get("weight", 1)) > 0).lower()
        if any(w in positive for w in self.flagged_words):
            return v1_error(400, "invalid_prompts", "One or more of the prompts contains filtered words")
        return None

    def _v1_answer(self, req: Request, prompts: list[dict[str, Any]], scalars: dict[str, Any]) -> Reply:
        samples = int(scalars.get("samples", 1))
        if not self._charge(V1_COST * samples):
            return v2_error(402, "payment_required", "You lack sufficient credits to make this request")
        positive = " ".join(p["text"] for p in prompts if float(p.get("weight", 1)) > 0).lower()
        reason = "CONTENT_FILTERED" if any(w in positive for w in self.filtered_words) else "SUCCESS"
        base = self._seed(scalars.get("seed"))
        arts = [{"base64": base64.b64encode(png_bytes(color=((base + i) % 256, 30, 30))).decode(),
                 "seed": base + i, "finishReason": reason} for i in range(samples)]
        accept = req.header("accept") or "application/json"
        if accept.startswith("image/png"):
            if samples != 1:
                return v1_error(400, "invalid_samples", "Accept: image/png needs samples=1")
            return Reply(200, base64.b64decode(arts[0]["base64"]),
                         headers={"Content-Type": "image/png", "Finish-Reason": reason, "Seed": str(base)})
        return Reply(200, {"artifacts": arts}, headers={"x-request-id": f"v1-{base}"})

    def _v1_t2i(self, req: Request) -> Reply:
        if not self._authorised(req):
            return v1_error(401, "unauthorized", "missing authorization header")
        try:
            body = req.json()
        except ValueError:
            return v1_error(400, "bad_request", "the body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("text_prompts"), list):
            return v1_error(400, "bad_request", "text_prompts: is required")
        if (int(body.get("width", 512)), int(body.get("height", 512))) not in SDXL_SIZES:
            return v1_error(400, "invalid_sdxl_v1_dimensions",
                            "for SDXL v1 the allowed dimensions are 1024x1024, 1152x896, ...")
        prompts = body["text_prompts"]
        return self._v1_common(req, prompts, body) or self._v1_answer(req, prompts, body)

    def _v1_i2i(self, req: Request) -> Reply:
        if not self._authorised(req):
            return v1_error(401, "unauthorized", "missing authorization header")
        parts = req.multipart()
        init = parts.pop("init_image", [None])[0]
        if init is None:
            return v1_error(400, "bad_request", "init_image: is required")
        f = {k: v[0].decode("utf-8", "replace") for k, v in parts.items()}
        if png_size(init) not in SDXL_SIZES:
            return v1_error(400, "invalid_sdxl_v1_dimensions", "the init image must have an SDXL v1 size")
        if f.get("init_image_mode", "IMAGE_STRENGTH") != "IMAGE_STRENGTH" or \
                not 0.0 <= float(f.get("image_strength", 0.35)) <= 1.0:
            return v1_error(400, "bad_request", "image_strength: must be between 0 and 1")
        prompts = []
        for i in itertools.count():
            if f"text_prompts[{i}][text]" not in f:
                break
            prompts.append({"text": f[f"text_prompts[{i}][text]"],
                            "weight": float(f.get(f"text_prompts[{i}][weight]", 1))})
        scalars = {k: v for k, v in f.items() if not re.match(r"text_prompts\[", k)}
        return self._v1_common(req, prompts, scalars) or self._v1_answer(req, prompts, scalars)

    # -- account ----------------------------------------------------------------------------------------
    def _balance(self, req: Request) -> Reply:
        if not self._authorised(req):
            return v1_error(401, "unauthorized", "missing authorization header")
        return Reply(200, {"credits": self.credits})

    def _engines(self, req: Request) -> Reply:
        if not self._authorised(req):
            return v1_error(401, "unauthorized", "missing authorization header")
        return Reply(200, [{"id": e, "name": "Stable Diffusion XL v1.0", "description": "", "type": "PICTURE"}
                           for e in ENGINES])
