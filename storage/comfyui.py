"""Best-effort reading of a ComfyUI API-format `prompt` graph (providers.md 9.2). Never raises."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SAMPLERS = ("KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced")
_TEXT_KEYS = ("text", "text_g", "text_l", "prompt", "string", "value", "text_positive", "text_negative")
# Conditioning pass-through nodes (ConditioningCombine, ControlNetApply, FluxGuidance, CFGGuider...).
_COND_KEYS = ("conditioning", "conditioning_1", "conditioning_to", "conditioning_from", "conditioning_2",
              "positive", "base_positive")
_SEED_KEYS = ("seed", "noise_seed", "value", "int", "number")
_MODEL_KEYS = ("ckpt_name", "unet_name", "model_name", "gguf_name")
_MAX_VISITS = 10_000


class _Walk:
    """Link resolution over one graph. `seen` stops cycles and keeps hostile graphs linear in their size."""

    def __init__(self, graph: Mapping[str, Any]) -> None:
        self.graph = graph

    def node(self, ref: Any, seen: set[str]) -> Mapping[str, Any] | None:
        """The node a link `[node_id, output_index]` points at, unless unknown or already visited."""
        if not (isinstance(ref, (list, tuple)) and len(ref) == 2 and isinstance(ref[0], (str, int))):
            return None
        node_id = str(ref[0])
        node = self.graph.get(node_id)
        if node_id in seen or not isinstance(node, Mapping) or len(seen) > _MAX_VISITS:
            return None
        seen.add(node_id)
        return node

    def text(self, ref: Any, seen: set[str] | None = None) -> str:
        """Prompt text behind a conditioning or string link: CLIPTextEncode, primitives, pass-throughs."""
        if isinstance(ref, str):
            return ref
        seen = set() if seen is None else seen
        inputs = _inputs(self.node(ref, seen))
        for key in (*_TEXT_KEYS, *_COND_KEYS):
            if key in inputs:
                found = self.text(inputs[key], seen)
                if found:
                    return found
        return ""

    def number(self, ref: Any, keys: tuple[str, ...], seen: set[str] | None = None) -> float | None:
        if isinstance(ref, bool):
            return None
        if isinstance(ref, (int, float)):
            return ref
        seen = set() if seen is None else seen
        inputs = _inputs(self.node(ref, seen))
        for key in keys:
            if key in inputs:
                found = self.number(inputs[key], keys, seen)
                if found is not None:
                    return found
        return None

    def string(self, ref: Any, keys: tuple[str, ...], seen: set[str] | None = None) -> str:
        if isinstance(ref, str):
            return ref
        seen = set() if seen is None else seen
        inputs = _inputs(self.node(ref, seen))
        for key in keys:
            if key in inputs:
                found = self.string(inputs[key], keys, seen)
                if found:
                    return found
        return ""

    def model(self, ref: Any, seen: set[str] | None = None) -> str:
        """Checkpoint name behind a MODEL link, walking through LoRA loaders and other model patches."""
        seen = set() if seen is None else seen
        inputs = _inputs(self.node(ref, seen))
        for key in _MODEL_KEYS:
            if isinstance(inputs.get(key), str):
                return inputs[key]
        return self.model(inputs.get("model"), seen) if "model" in inputs else ""

    def size(self, ref: Any, seen: set[str] | None = None) -> tuple[int, int] | None:
        seen = set() if seen is None else seen
        inputs = _inputs(self.node(ref, seen))
        width = self.number(inputs.get("width"), ("value", "int", "width"))
        height = self.number(inputs.get("height"), ("value", "int", "height"))
        if width and height and width > 0 and height > 0:
            return int(width), int(height)
        for key in ("samples", "latent", "latent_image", "pixels", "image"):
            if key in inputs:
                found = self.size(inputs[key], seen)
                if found:
                    return found
        return None


def _inputs(node: Mapping[str, Any] | None) -> Mapping[str, Any]:
    inputs = node.get("inputs") if node else None
    return inputs if isinstance(inputs, Mapping) else {}


def _class(node: Any) -> str:
    value = node.get("class_type") if isinstance(node, Mapping) else None
    return value if isinstance(value, str) else ""


def _sort_key(node_id: str) -> tuple[int, str]:
    digits = re.match(r"\d+", node_id)
    return (int(digits.group()) if digits else 1 << 62, node_id)


def _ordered(graph: Mapping[str, Any], classes: tuple[str, ...]) -> list[str]:
    """Ids of nodes of the given classes, numeric ids in numeric order (ComfyUI ids are usually "3", "10")."""
    return sorted((k for k, v in graph.items() if _class(v) in classes), key=_sort_key)


def _sampler_fields(walk: _Walk, node: Mapping[str, Any]) -> dict[str, Any]:
    inputs = _inputs(node)
    # SamplerCustomAdvanced keeps conditioning and cfg in a separate guider node.
    guider_inputs = _inputs(walk.node(inputs.get("guider"), set()))
    cond = guider_inputs or inputs
    fields: dict[str, Any] = {
        "prompt": walk.text(cond.get("positive", cond.get("conditioning"))),
        "negative_prompt": walk.text(cond.get("negative")),
        "seed": walk.number(inputs.get("seed", inputs.get("noise_seed", inputs.get("noise"))), _SEED_KEYS),
        "steps": walk.number(inputs.get("steps", inputs.get("sigmas")), ("steps", "value", "int")),
        "cfg_scale": walk.number(cond.get("cfg"), ("cfg", "value", "float")),
        "sampler": walk.string(inputs.get("sampler_name", inputs.get("sampler")), ("sampler_name", "value")),
        "scheduler": walk.string(inputs.get("scheduler", inputs.get("sigmas")), ("scheduler", "value")),
        "model": walk.model(inputs.get("model", guider_inputs.get("model"))),
        "denoise": walk.number(inputs.get("denoise"), ("value", "float")),
    }
    size = walk.size(inputs.get("latent_image"))
    if size:
        fields["width"], fields["height"] = size
    return fields


def parse_comfyui_prompt(graph: Any) -> dict[str, Any]:
    """Generation fields from an API-format graph: the first sampler (lowest node id) that leads to a prompt,
    followed through its positive/negative links to the text; seed, steps, cfg, sampler, size, checkpoint.
    Keys absent from the result were not found. Unknown shapes give {}."""
    if not isinstance(graph, Mapping):
        return {}
    walk = _Walk(graph)
    candidates = [_sampler_fields(walk, graph[i]) for i in _ordered(graph, SAMPLERS)]
    fields = next((c for c in candidates if c["prompt"]), candidates[0] if candidates else {})
    if not fields:
        encoders = _ordered(graph, ("CLIPTextEncode",))
        if len(encoders) == 1:  # with one encoder the prompt is unambiguous even without a sampler
            fields = {"prompt": walk.text([encoders[0], 0])}
    if not fields.get("model"):
        loaders = _ordered(graph, ("CheckpointLoaderSimple", "CheckpointLoader", "UNETLoader"))
        if loaders:
            fields["model"] = walk.model([loaders[0], 0])
    if "width" not in fields:
        for latent in _ordered(graph, ("EmptyLatentImage", "EmptySD3LatentImage")):
            size = walk.size([latent, 0])
            if size:
                fields["width"], fields["height"] = size
                break
    return {k: v for k, v in fields.items() if v not in (None, "")}
