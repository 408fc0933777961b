"""Style presets from resources/styles/presets.json: native where the model has the style, else prompt text."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from importlib import resources

from providers.base import ImageRequest
from providers.catalogue import Capabilities


@dataclass(frozen=True)
class StylePreset:
    id: str
    label: str
    prompt: str
    negative: str


def load_presets() -> list[StylePreset]:
    text = resources.files("resources").joinpath("styles/presets.json").read_text(encoding="utf-8")
    return [StylePreset(p["id"], p["label"], p.get("prompt", ""), p.get("negative", ""))
            for p in json.loads(text)["presets"]]


def apply_style(request: ImageRequest, caps: Capabilities, presets: list[StylePreset]) -> ImageRequest:
    """Send a style natively when the model knows it; otherwise fold the preset's words into the prompt
    (and its negative words into the negative prompt when the model takes one)."""
    if not request.style or request.style == "none":
        return dataclasses.replace(request, style=None)
    if request.style in caps.styles:
        return request
    preset = next((p for p in presets if p.id == request.style or p.label == request.style), None)
    if preset is None:
        return request  # validation reports the unknown style
    prompt = f"{request.prompt.rstrip(' ,.')}, {preset.prompt}" if preset.prompt else request.prompt
    negative = request.negative_prompt
    if preset.negative and caps.negative_prompt:
        negative = f"{negative}, {preset.negative}" if negative.strip() else preset.negative
    return dataclasses.replace(request, prompt=prompt, negative_prompt=negative, style=None)
