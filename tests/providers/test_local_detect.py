"""detect_local_backends against loopback fakes: found when running, ignored quickly when not."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from providers.catalogue import Catalogue
from providers.local_detect import detect_local_backends
from tests.fakes.servers.a1111_fake import A1111Fake
from tests.fakes.servers.base import FakeServer, Reply
from tests.fakes.servers.comfyui_fake import ComfyUIFake

pytestmark = pytest.mark.anyio
CATALOGUE = Catalogue.load()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def env_for(a1111: str, comfyui: str) -> dict[str, str]:
    return {"IMAGES_STUDIO_A1111_BASE_URL": a1111, "IMAGES_STUDIO_COMFYUI_BASE_URL": comfyui}


@pytest.fixture
def a1111() -> Iterator[A1111Fake]:
    with A1111Fake() as server:
        yield server


@pytest.fixture
def comfyui() -> Iterator[ComfyUIFake]:
    with ComfyUIFake() as server:
        yield server


async def test_finds_both_running_backends(a1111: A1111Fake, comfyui: ComfyUIFake) -> None:
    found = await detect_local_backends(CATALOGUE, env=env_for(a1111.url + "/", comfyui.url))
    assert found == {"a1111": a1111.url, "comfyui": comfyui.url}
    assert a1111.calls("sd-models") and comfyui.calls("system_stats")


async def test_catalogue_base_urls_are_used_without_env(a1111: A1111Fake) -> None:
    catalogue = Catalogue({"a1111": replace(CATALOGUE.get("a1111"), base_url=a1111.url),
                           "comfyui": replace(CATALOGUE.get("comfyui"), base_url=closed_port_url())})
    assert await detect_local_backends(catalogue, env={}) == {"a1111": a1111.url}


async def test_closed_ports_are_ignored_quickly() -> None:
    start = time.monotonic()
    found = await detect_local_backends(CATALOGUE, env=env_for(closed_port_url(), closed_port_url()))
    assert found == {} and time.monotonic() - start < 0.5


async def test_a_hanging_server_is_given_up_on_after_the_timeout(comfyui: ComfyUIFake) -> None:
    comfyui.fault("system_stats", Reply(200, {"system": {}}, delay_s=2))
    start = time.monotonic()
    found = await detect_local_backends(CATALOGUE, timeout_s=0.2, env=env_for(closed_port_url(), comfyui.url))
    assert found == {} and time.monotonic() - start < 1.0


async def test_a1111_behind_api_auth_counts() -> None:
    with A1111Fake(auth="u:p") as server:
        found = await detect_local_backends(CATALOGUE, env=env_for(server.url, closed_port_url()))
        assert found == {"a1111": server.url}


async def test_other_programs_on_the_ports_are_not_taken_for_backends(a1111: A1111Fake,
                                                                      comfyui: ComfyUIFake) -> None:
    with FakeServer() as other:
        other.route("any", "GET", r"/.*", lambda r: Reply(200, "<html>hello</html>",
                                                        headers={"Content-Type": "text/html"}))
        # each backend's URL points at the wrong program, or one without the API
        assert await detect_local_backends(CATALOGUE, env=env_for(comfyui.url, a1111.url)) == {}
        assert await detect_local_backends(CATALOGUE, env=env_for(other.url, other.url)) == {}


async def test_never_raises() -> None:
    assert await detect_local_backends(CATALOGUE, env=env_for("not a url", "http://[::1")) == {}
    assert await detect_local_backends(Catalogue({}), env={}) == {}
