"""A tiny loopback HTTP server for provider fakes: real sockets on 127.0.0.1, port 0, in a thread.

A fake registers routes (method + regex path) whose handlers get a `Request` and return a `Reply`.
Every request is logged (method, path, headers, body) so tests can assert what was sent. Faults are
queued per route name: `server.fault("generate", Reply(429, ...))` makes the next matching call fail.
"""

from __future__ import annotations

import io
import json
import re
import struct
import threading
import time
import zlib
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    match: re.Match[str] | None = None

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def header(self, name: str) -> str | None:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None

    def multipart(self) -> dict[str, list[bytes]]:
        """Parse a multipart/form-data body into {field: [values]} (values are raw bytes)."""
        ctype = self.header("content-type") or ""
        m = re.search(r"boundary=\"?([^\";]+)\"?", ctype)
        if not m:
            return {}
        boundary = b"--" + m.group(1).encode()
        out: dict[str, list[bytes]] = defaultdict(list)
        for part in self.body.split(boundary)[1:]:
            if part.startswith(b"--"):
                break
            # Remove exactly the CRLF framing: stripping every CR/LF would eat bytes of a binary file part.
            part = part[2:] if part.startswith(b"\r\n") else part
            part = part[:-2] if part.endswith(b"\r\n") else part
            head, _, value = part.partition(b"\r\n\r\n")
            nm = re.search(rb'name="([^"]*)"', head)
            if nm:
                out[nm.group(1).decode()].append(value)
        return dict(out)


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict | list | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait before answering (a slow or hanging server)
    truncate_to: int | None = None  # announce the full length, send only this many bytes, then close
    drip_s: float = 0.0  # send the body one byte every drip_s seconds

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return self.body or b"", "application/octet-stream"


Handler = Callable[[Request], Reply]


class FakeServer:
    def __init__(self) -> None:
        self._routes: list[tuple[str, str, re.Pattern[str], Handler]] = []
        self._faults: dict[str, deque[Reply]] = defaultdict(deque)
        self.log: list[Request] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- set-up ---------------------------------------------------------------------------------------
    def route(self, name: str, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((name, method.upper(), re.compile(f"^{pattern}$"), handler))

    def fault(self, name: str, reply: Reply, times: int = 1) -> None:
        """Answer the next `times` calls of route `name` with `reply` instead of the handler."""
        with self._lock:
            for _ in range(times):
                self._faults[name].append(reply)

    def calls(self, name_or_path: str) -> list[Request]:
        return [r for r in self.log if r.path == name_or_path or getattr(r, "route", None) == name_or_path]

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> FakeServer:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in separate writes: avoid 40 ms stalls

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def handle(self) -> None:
                # A client that gave up (timeout tests) or dropped a keep-alive connection resets the socket
                # while the server waits for the next request line; that is normal, not a traceback.
                try:
                    super().handle()
                except (ConnectionResetError, BrokenPipeError):
                    pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                req = Request(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
                reply = server._dispatch(req)
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                data, ctype = reply.encoded()
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": ctype, **reply.headers}
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    if reply.truncate_to is not None:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    if reply.truncate_to is not None:
                        self.wfile.write(data[: reply.truncate_to])
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    if reply.drip_s:
                        for i in range(len(data)):
                            self.wfile.write(data[i: i + 1])
                            self.wfile.flush()
                            time.sleep(reply.drip_s)
                        return
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        # serve_forever polls for shutdown every 0.5 s by default: every stop() would cost that much.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- dispatch -------------------------------------------------------------------------------------
    def _dispatch(self, req: Request) -> Reply:
        for name, method, pattern, handler in self._routes:
            m = pattern.match(req.path)
            if m and method == req.method:
                req.match = m
                req.route = name  # type: ignore[attr-defined]
                with self._lock:
                    self.log.append(req)
                    queued = self._faults[name].popleft() if self._faults[name] else None
                if queued is not None:
                    return queued
                try:
                    return handler(req)
                except Exception as exc:  # a bug in a fake should show up as a 500, not hang the test
                    return Reply(500, {"error": f"fake server error: {exc!r}"})
        with self._lock:
            self.log.append(req)
        return Reply(404, {"error": {"message": f"no route for {req.method} {req.path}"}})


def png_bytes(width: int = 8, height: int = 8, color: tuple[int, int, int] = (200, 80, 40),
              text: dict[str, str] | None = None) -> bytes:
    """A valid RGB PNG built with zlib only (fakes must not depend on Pillow being importable)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(color) * width for _ in range(height))
    out = io.BytesIO()
    out.write(b"\x89PNG\r\n\x1a\n")
    out.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
    for key, value in (text or {}).items():
        out.write(chunk(b"tEXt", key.encode("latin-1") + b"\x00" + value.encode("latin-1", "replace")))
    out.write(chunk(b"IDAT", zlib.compress(raw)))
    out.write(chunk(b"IEND", b""))
    return out.getvalue()
