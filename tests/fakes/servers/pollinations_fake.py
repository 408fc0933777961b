"""A loopback Pollinations (reference §7b): the legacy anonymous endpoint and the keyed gateway in one.

* ``GET /prompt/{prompt}`` (anonymous): one request at a time per client, a second concurrent one gets 429
  with Retry-After; ``require_key_anon`` makes it answer 401 as if the anonymous tier had been closed.
* ``GET /image/{prompt}`` (gateway): ``Authorization: Bearer <key>`` for a key in `keys`; each image costs
  `cost` pollen from the key's balance, 402 when exhausted.
* ``GET /models`` and ``GET /image/models``: model names, no auth.

Images are PNGs whose text chunks echo the prompt, model and seed. Route names for `fault()`: ``generate``,
``gateway``, ``models``, ``gateway_models``.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import unquote

from tests.fakes.servers.base import FakeServer, Reply, Request, png_bytes

SECRET_KEY = "sk_test_0123456789abcdef"
PUBLISHABLE_KEY = "pk_test_0123456789abcdef"


class PollinationsFake(FakeServer):
    def __init__(self, models: tuple[str, ...] = ("flux", "turbo", "kontext")) -> None:
        super().__init__()
        self.models = list(models)
        self.keys: dict[str, float] = {SECRET_KEY: 10.0, PUBLISHABLE_KEY: 3.0}  # key -> pollen balance
        self.cost = 1.0
        self.work_s = 0.0  # time each image takes
        self.require_key_anon = False
        self._in_flight = 0
        self._state = threading.Lock()
        self.route("models", "GET", r"/models", lambda r: Reply(200, self.models))
        self.route("gateway_models", "GET", r"/image/models", lambda r: Reply(200, [
            {"name": m, "description": m.title()} for m in self.models]))
        self.route("generate", "GET", r"/prompt/(?P<prompt>[^/]+)", self._anonymous)
        self.route("gateway", "GET", r"/image/(?P<prompt>[^/]+)", self._gateway)

    def _image(self, req: Request) -> Reply:
        model = (req.query.get("model") or ["flux"])[0]
        if model not in self.models:
            return Reply(400, {"error": "Bad Request", "message": f"Invalid model: {model}"})
        assert req.match is not None
        prompt = unquote(req.match.group("prompt"))
        if self.work_s:
            time.sleep(self.work_s)
        seed = (req.query.get("seed") or ["42"])[0]
        return Reply(200, png_bytes(text={"prompt": prompt, "model": model, "seed": seed}),
                     headers={"Content-Type": "image/png"})

    def _anonymous(self, req: Request) -> Reply:
        if self.require_key_anon:
            return Reply(401, {"error": "Unauthorized",
                               "message": "Anonymous access is closed; sign up for a key"})
        with self._state:
            if self._in_flight >= 1:
                return Reply(429, {"error": "Too Many Requests", "message": "Queue full for IP"},
                             headers={"Retry-After": "2"})
            self._in_flight += 1
        try:
            return self._image(req)
        finally:
            with self._state:
                self._in_flight -= 1

    def _gateway(self, req: Request) -> Reply:
        auth = req.header("authorization") or ""
        key = auth[7:] if auth.startswith("Bearer ") else (req.query.get("key") or [""])[0]
        if key not in self.keys:
            return Reply(401, {"success": False, "error": {"message": "Invalid or missing API key",
                                                              "code": "UNAUTHORIZED"}})
        with self._state:
            if self.keys[key] < self.cost:
                return Reply(402, {"success": False, "error": {"message": "Insufficient pollen balance",
                                                                  "code": "PAYMENT_REQUIRED"}})
            self.keys[key] -= self.cost
        return self._image(req)
