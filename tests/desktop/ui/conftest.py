"""Fixtures for the library window: sample PNGs with A1111 / ComfyUI metadata and a shown MainWindow."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

A1111_PROMPT = "a lighthouse on a basalt cliff at golden hour"
A1111_SEED = 1234567
COMFY_PROMPT = "a copper robot reading in the rain"
COMFY_SEED = 424242


def a1111_png(path: Path, prompt: str = A1111_PROMPT, seed: int = A1111_SEED,
              color: tuple[int, int, int] = (200, 90, 40), size: tuple[int, int] = (96, 64)) -> Path:
    info = PngInfo()
    info.add_text("parameters", f"{prompt}\nNegative prompt: blurry, lowres\n"
                                f"Steps: 28, Sampler: DPM++ 2M, CFG scale: 6.5, Seed: {seed}, "
                                f"Size: {size[0]}x{size[1]}, Model: studio-xl")
    Image.new("RGB", size, color).save(path, pnginfo=info)
    return path


def comfy_png(path: Path, prompt: str = COMFY_PROMPT, seed: int = COMFY_SEED) -> Path:
    graph = {
        "3": {"class_type": "KSampler", "inputs": {"seed": seed, "steps": 22, "cfg": 5.0, "sampler_name": "euler",
                                                    "scheduler": "normal", "denoise": 1.0, "model": ["4", 0],
                                                    "positive": ["6", 0], "negative": ["7", 0],
                                                    "latent_image": ["5", 0]}},
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "dreamshaper_8.safetensors"}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": prompt, "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "ugly", "clip": ["4", 1]}},
    }
    info = PngInfo()
    info.add_text("prompt", json.dumps(graph))
    Image.new("RGB", (64, 64), (40, 120, 200)).save(path, pnginfo=info)
    return path


@pytest.fixture
def sample_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir()
    a1111_png(folder / "lighthouse.png")
    comfy_png(folder / "robot.png")
    a1111_png(folder / "forest.png", prompt="misty pine forest at dawn", seed=99, color=(30, 140, 60))
    return folder


@pytest.fixture
def closed() -> list[bool]:
    return []


@pytest.fixture
def window(qtbot, qloop, services, closed) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from desktop.asyncqt import TaskRunner
    from desktop.ui.main_window import MainWindow

    runner = TaskRunner()
    win = MainWindow(services, runner, lambda: closed.append(True))
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    if win.isVisible():
        win.close()


def import_and_wait(qtbot, win, paths: list[Path]):  # type: ignore[no-untyped-def]
    task = win.import_paths(paths)
    assert task is not None
    qtbot.waitUntil(task.done, timeout=5000)
    report = task.result()
    qtbot.waitUntil(lambda: not win._resync_timer.isActive() and not win.model.busy)
    return report
