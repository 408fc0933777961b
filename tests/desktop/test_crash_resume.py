"""kill -9 during a slow asynchronous generation, restart, and nothing is lost or paid for twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.servers.replicate_fake import ReplicateFake

ROOT = Path(__file__).resolve().parents[2]


def _env(fake: ReplicateFake, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGES_STUDIO_")}
    env.update({
        "IMAGES_STUDIO_HOME": str(home),
        "IMAGES_STUDIO_REPLICATE_BASE_URL": fake.base_url,
        "REPLICATE_API_TOKEN": fake.key,
        "IMAGES_STUDIO_POLL_INTERVAL": "0.05",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",  # no keychain in the child
        "PYTHONPATH": str(ROOT),
    })
    return env


def _wait(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


@pytest.mark.slow
def test_sigkill_after_task_created_then_resume_saves_exactly_one_image(tmp_path):
    fake = ReplicateFake(polls_starting=1, polls_processing=10_000).start()
    home = tmp_path / "home"
    env = _env(fake, home)
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "desktop", "generate", "a slow sunrise over dunes", "--provider", "replicate",
             "--model", "black-forest-labs/flux-schnell", "--json"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        creates = lambda: [r for r in fake.log if r.method == "POST" and r.path.endswith("/predictions")]  # noqa: E731
        polls = lambda: [r for r in fake.log if r.method == "GET" and "/predictions/" in r.path]  # noqa: E731
        # Polling only starts once the task id is in the journal, so two polls mean it is stored.
        _wait(lambda: len(creates()) == 1 and len(polls()) >= 2)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL

        fake.polls_processing = 0  # the provider finishes the task while the app is down
        resumed = subprocess.run([sys.executable, "-m", "desktop", "resume", "--json"], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=60)
        assert resumed.returncode == 0, resumed.stderr
        saved = [json.loads(line) for line in resumed.stdout.splitlines() if line.startswith("{")]
        assert len(saved) == 1 and saved[0]["provider"] == "replicate"

        # A second resume finds nothing left to do and sends nothing.
        again = subprocess.run([sys.executable, "-m", "desktop", "resume", "--json"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=60)
        assert again.returncode == 0 and again.stdout.strip() == ""
        listed = subprocess.run([sys.executable, "-m", "desktop", "list", "--json"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert len(rows) == 1 and rows[0]["prompt"] == "a slow sunrise over dunes"
        assert len(creates()) == 1  # exactly one submission reached the provider
    finally:
        fake.stop()


@pytest.mark.slow
def test_sigkill_during_synchronous_request_marks_job_interrupted(tmp_path):
    from tests.fakes.servers.openai_fake import OpenAIFake
    from tests.fakes.servers.base import Reply

    fake = OpenAIFake().start()
    fake.fault("generations", Reply(200, {"data": [{"b64_json": ""}]}, delay_s=30))
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGES_STUDIO_")}
    env.update({"IMAGES_STUDIO_HOME": str(home), "IMAGES_STUDIO_OPENAI_BASE_URL": fake.base_url,
                "OPENAI_API_KEY": fake.key, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
                "PYTHONPATH": str(ROOT)})
    try:
        child = subprocess.Popen([sys.executable, "-m", "desktop", "generate", "a lamp", "--provider", "openai"],
                                 cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _wait(lambda: any(r.method == "POST" for r in fake.log))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        resumed = subprocess.run([sys.executable, "-m", "desktop", "resume"], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=60)
        assert resumed.returncode == 0
        jobs = subprocess.run([sys.executable, "-m", "desktop", "jobs", "--json"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        records = [json.loads(line) for line in jobs.stdout.splitlines()]
        assert records[0]["state"] == "interrupted" and "billed" in records[0]["error"]
        assert len([r for r in fake.log if r.method == "POST"]) == 1  # never re-sent by itself
    finally:
        fake.stop()
