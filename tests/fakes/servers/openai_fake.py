"""A stateful loopback fake of the OpenAI Images API (reference/providers.md §1), mounted under `/v1`.

Routes (names for `fault()`): `generations` POST /v1/images/generations (JSON), `edits` POST /v1/images/edits
(multipart), `models` GET /v1/models, `files` GET /files/<name> (where DALL·E-style `url` results point).
It checks the bearer key, validates fields per model family, refuses `seed`/`negative_prompt` like the real
API refuses unknown arguments, answers shut-down models with 404 `model_not_found`, and blocks prompts that
contain one of `blocked_words` with the documented moderation errors.
"""

from __future__ import annotations

import base64
import itertools
import re
from typing import Any

from tests.fakes.servers.base import FakeServer, Reply, Request, png_bytes

STANDARD_SIZES = {"1024x1024", "1536x1024", "1024x1536", "auto"}
DALLE_SIZES = {"dall-e-2": {"256x256", "512x512", "1024x1024"},
               "dall-e-3": {"1024x1024", "1792x1024", "1024x1792"}}
GPT_ONLY = ("output_format", "output_compression", "background", "moderation", "stream", "partial_images")
KNOWN_FIELDS = {"model", "prompt", "n", "size", "quality", "style", "response_format", "user", *GPT_ONLY}
EDIT_FIELDS = (KNOWN_FIELDS - {"moderation", "style"}) | {"input_fidelity", "image", "image[]", "mask"}


def openai_error(status: int, message: str, etype: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, headers: dict[str, str] | None = None) -> Reply:
    """The documented error body: `{"error": {message, type, param, code}}`."""
    return Reply(status, {"error": {"message": message, "type": etype, "param": param, "code": code}},
                 headers=headers or {})


def free_size_ok(size: str) -> bool:
    """gpt-image-2: sides multiples of 16, aspect within 1:3..3:1, at most 3840x2160 worth of pixels."""
    m = re.fullmatch(r"(\d+)x(\d+)", size)
    if not m:
        return False
    w, h = int(m.group(1)), int(m.group(2))
    return w % 16 == 0 and h % 16 == 0 and 1 / 3 <= w / h <= 3 and max(w, h) <= 3840 and w * h <= 3840 * 2160


class OpenAIFake(FakeServer):
    def __init__(self, key: str = "sk-test-openai-0123456789abcdef",
                 shut_down: tuple[str, ...] = ("gpt-image-1",),
                 blocked_words: tuple[str, ...] = ("forbidden",),
                 models: tuple[str, ...] = ("gpt-image-2", "gpt-image-1.5", "dall-e-3", "dall-e-2")) -> None:
        super().__init__()
        self.key = key
        self.shut_down = set(shut_down)
        self.blocked_words = blocked_words
        self.models = list(models)
        self.files: dict[str, bytes] = {}
        self._ids = itertools.count(1)
        self.route("generations", "POST", r"/v1/images/generations", self._generations)
        self.route("edits", "POST", r"/v1/images/edits", self._edits)
        self.route("models", "GET", r"/v1/models", self._models)
        self.route("files", "GET", r"/files/(?P<name>[\w.-]+)", self._file)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # -- checks -----------------------------------------------------------------------------------------
    def _auth(self, req: Request) -> Reply | None:
        header = req.header("authorization") or ""
        if header != f"Bearer {self.key}":
            # The real message quotes (part of) the key: echo all of it, so tests prove the client redacts.
            given = header.removeprefix("Bearer ")
            return openai_error(401, f"Incorrect API key provided: {given}. You can find your API key at "
                                     "https://platform.openai.com/account/api-keys.", code="invalid_api_key")
        return None

    def _validate(self, fields: dict[str, Any], allowed: set[str]) -> Reply | None:
        model = str(fields.get("model") or "dall-e-2")
        unknown = sorted(set(fields) - allowed)
        if unknown:
            return openai_error(400, f"Unrecognized request argument supplied: {unknown[0]}",
                                param=unknown[0])
        if model in self.shut_down or model not in self.models:
            return openai_error(404, f"The model `{model}` does not exist or you do not have access to it.",
                                code="model_not_found")
        prompt = fields.get("prompt")
        limit = 32000 if model.startswith("gpt-image") else 4000 if model == "dall-e-3" else 1000
        if not isinstance(prompt, str) or not prompt:
            return openai_error(400, "Missing required parameter: 'prompt'.", param="prompt",
                                code="missing_required_parameter")
        if len(prompt) > limit:
            return openai_error(400, f"prompt is longer than {limit} characters", param="prompt",
                                code="string_above_max_length")
        try:
            n = int(fields.get("n", 1))
        except (TypeError, ValueError):
            n = 0
        if not 1 <= n <= (1 if model == "dall-e-3" else 10):
            return openai_error(400, "Invalid 'n'.", param="n", code="invalid_value")
        size = str(fields.get("size") or ("1024x1024" if model.startswith("dall-e") else "auto"))
        if model.startswith("dall-e"):
            sizes_ok = size in DALLE_SIZES[model]
            gpt_only = [k for k in GPT_ONLY if k in fields]
            if gpt_only:
                return openai_error(400, f"'{gpt_only[0]}' is not supported with {model}", param=gpt_only[0])
        else:
            sizes_ok = size in STANDARD_SIZES or (model.startswith("gpt-image-2") and free_size_ok(size))
            if "response_format" in fields:
                return openai_error(400, "Unknown parameter: 'response_format'.", param="response_format")
            if fields.get("quality", "auto") not in ("auto", "low", "medium", "high"):
                return openai_error(400, "Invalid 'quality'.", param="quality", code="invalid_value")
            if fields.get("output_format", "png") not in ("png", "jpeg", "webp"):
                return openai_error(400, "Invalid 'output_format'.", param="output_format",
                                    code="invalid_value")
            if fields.get("moderation", "auto") not in ("auto", "low"):
                return openai_error(400, "Invalid 'moderation'.", param="moderation", code="invalid_value")
        if not sizes_ok:
            return openai_error(400, f"Invalid size '{size}'.", param="size", code="invalid_size")
        if any(word in prompt.lower() for word in self.blocked_words):
            if model.startswith("dall-e"):
                return openai_error(400, "Your request was rejected as a result of our safety system.",
                                    code="content_policy_violation")
            return openai_error(400, "Your request was rejected by the safety system.",
                                etype="image_generation_user_error", code="moderation_blocked")
        return None

    # -- handlers ---------------------------------------------------------------------------------------
    def _generations(self, req: Request) -> Reply:
        if (denied := self._auth(req)) is not None:
            return denied
        try:
            fields = req.json()
        except ValueError:
            return openai_error(400, "We could not parse the JSON body of your request.")
        if not isinstance(fields, dict):
            return openai_error(400, "The body must be a JSON object.")
        return self._validate(fields, KNOWN_FIELDS) or self._answer(fields)

    def _edits(self, req: Request) -> Reply:
        if (denied := self._auth(req)) is not None:
            return denied
        parts = req.multipart()
        if not parts:
            return openai_error(400, "The request must be multipart/form-data.")
        images = parts.get("image", []) + parts.get("image[]", [])
        if not images:
            return openai_error(400, "Missing required parameter: 'image'.", param="image",
                                code="missing_required_parameter")
        if any(not img.startswith((b"\x89PNG", b"\xff\xd8\xff", b"RIFF")) for img in images):
            return openai_error(400, "Invalid image file or mode.", param="image",
                                code="invalid_image_format")
        fields: dict[str, Any] = {k: v[0].decode("utf-8", "replace") for k, v in parts.items()}
        reply = self._validate(fields, EDIT_FIELDS)
        fields.pop("image", None), fields.pop("image[]", None), fields.pop("mask", None)
        return reply or self._answer(fields)

    def _answer(self, fields: dict[str, Any]) -> Reply:
        model = str(fields.get("model") or "dall-e-2")
        n = int(fields.get("n", 1))
        size = str(fields.get("size", "auto"))
        req_id = f"req_{next(self._ids):06d}"
        headers = {"x-request-id": req_id, "openai-processing-ms": "1234"}
        if model.startswith("dall-e"):
            data = []
            for i in range(n):
                name = f"{req_id}-{i}.png"
                self.files[name] = png_bytes(color=(10 * i, 100, 200))
                item: dict[str, Any] = {"url": f"{self.url}/files/{name}"}
                if fields.get("response_format") == "b64_json":
                    item = {"b64_json": base64.b64encode(self.files[name]).decode()}
                if model == "dall-e-3":
                    item["revised_prompt"] = f"A detailed rendering of {fields['prompt']}"
                data.append(item)
            return Reply(200, {"created": 1763980000, "data": data}, headers=headers)
        out = {"low": 272, "medium": 1056, "high": 4160}.get(str(fields.get("quality", "auto")), 1056) * n
        text_in = max(1, len(str(fields["prompt"])) // 4)
        body = {
            "created": 1763980000,
            "data": [{"b64_json": base64.b64encode(png_bytes(color=(200, 10 * i, 40))).decode()}
                     for i in range(n)],
            "background": "opaque", "output_format": fields.get("output_format", "png"),
            "quality": fields.get("quality", "medium"), "size": "1024x1024" if size == "auto" else size,
            "usage": {"input_tokens": text_in,
                      "input_tokens_details": {"text_tokens": text_in, "image_tokens": 0},
                      "output_tokens": out, "output_tokens_details": {"image_tokens": out, "text_tokens": 0},
                      "total_tokens": text_in + out},
        }
        return Reply(200, body, headers=headers)

    def _models(self, req: Request) -> Reply:
        if (denied := self._auth(req)) is not None:
            return denied
        data = [{"id": m, "object": "model", "created": 1745000000, "owned_by": "system"}
                for m in self.models if m not in self.shut_down]
        return Reply(200, {"object": "list", "data": data}, headers={"x-request-id": "req_models"})

    def _file(self, req: Request) -> Reply:
        # Served without auth, like a pre-signed blob URL; a request carrying the API key is a client bug.
        if req.header("authorization"):
            return Reply(400, "an Authorization header was sent to the file host")
        data = self.files.get(req.match.group("name") if req.match else "")
        if data is None:
            return Reply(404, "<html>expired</html>", headers={"Content-Type": "text/html"})
        return Reply(200, data, headers={"Content-Type": "image/png"})
