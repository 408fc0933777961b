"""Check a request against a model's capabilities before anything leaves, and adapt one for a fallback.

Pure functions: the window, the CLI and the job service all call these, so a bad prompt or an unsupported
size is refused with the same clear message everywhere.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from providers.base import ImageRequest, InvalidRequest
from providers.catalogue import Capabilities, ProviderInfo

MAX_INIT_IMAGE_BYTES = 20 * 1024 * 1024
_INIT_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = text.lower().replace("×", "x").split("x")
        width, height = int(w), int(h)
    except ValueError:
        raise InvalidRequest(f"size {text!r} is not of the form WIDTHxHEIGHT") from None
    if width <= 0 or height <= 0:
        raise InvalidRequest(f"size {text!r} must be positive")
    return width, height


def ratio_of(width: int, height: int) -> str:
    f = Fraction(width, height)
    return f"{f.numerator}:{f.denominator}"


def _init_image_problem(data: bytes) -> str | None:
    if not data:
        return "the image-to-image source is empty"
    if len(data) > MAX_INIT_IMAGE_BYTES:
        return f"the image-to-image source is larger than {MAX_INIT_IMAGE_BYTES // (1024 * 1024)} MB"
    if not (data.startswith(_INIT_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")):
        return "the image-to-image source is not a PNG, JPEG or WebP image"
    return None


def problems(request: ImageRequest, caps: Capabilities) -> list[str]:
    """Everything wrong with `request` for this model, worded for a creator; empty when it can be sent."""
    found: list[str] = []
    prompt = request.prompt.strip()
    if not prompt:
        found.append("the prompt is empty")
    elif len(request.prompt) > caps.max_prompt_chars:
        found.append(f"the prompt is {len(request.prompt):,} characters; {caps.label} accepts at most "
                     f"{caps.max_prompt_chars:,}")
    if request.count < 1:
        found.append("the image count must be at least 1")
    elif request.count > max(1, caps.max_count) and caps.max_count < 1000:
        # Providers without a native batch take N separate calls; max_count is then the app's own cap.
        found.append(f"{caps.label} makes at most {caps.max_count} images per request")
    if request.width and request.height:
        size = f"{request.width}x{request.height}"
        if caps.any_size:
            if not (caps.min_side <= request.width <= caps.max_side and caps.min_side <= request.height <= caps.max_side):
                found.append(f"{size} is outside {caps.min_side}–{caps.max_side} px per side for {caps.label}")
            elif request.width % 8 or request.height % 8:
                found.append(f"{size}: width and height must be multiples of 8")
        elif caps.sizes and size not in caps.sizes:
            found.append(f"{caps.label} does not support {size}; pick one of {', '.join(caps.sizes)}")
        elif not caps.sizes and caps.aspect_ratios and ratio_of(request.width, request.height) not in caps.aspect_ratios:
            found.append(f"{caps.label} takes aspect ratios, not sizes: pick one of {', '.join(caps.aspect_ratios)}")
    if request.aspect_ratio and caps.aspect_ratios and request.aspect_ratio not in caps.aspect_ratios:
        found.append(f"{caps.label} does not support aspect ratio {request.aspect_ratio}; "
                     f"pick one of {', '.join(caps.aspect_ratios)}")
    if request.aspect_ratio and not caps.aspect_ratios and not caps.sizes and not caps.any_size:
        found.append(f"{caps.label} does not take an aspect ratio")
    if request.negative_prompt.strip() and not caps.negative_prompt:
        found.append(f"{caps.label} does not support a negative prompt")
    if request.seed is not None and not caps.seed:
        found.append(f"{caps.label} does not support a fixed seed")
    if request.seed is not None and not (0 <= request.seed < 2**32):
        found.append("the seed must be between 0 and 4294967295")
    # App style presets are folded into the prompt before this check; what is left must be the model's own.
    if request.style and request.style not in caps.styles:
        known = f"; pick one of {', '.join(caps.styles)}" if caps.styles else " (it takes no style)"
        found.append(f"{caps.label} has no style {request.style!r}{known}")
    if request.quality and request.quality not in caps.qualities:
        known = f"; pick one of {', '.join(caps.qualities)}" if caps.qualities else " (it has no quality setting)"
        found.append(f"{caps.label} has no quality {request.quality!r}{known}")
    if request.init_image is not None:
        if not caps.img2img:
            found.append(f"{caps.label} does not support image-to-image")
        else:
            problem = _init_image_problem(request.init_image)
            if problem:
                found.append(problem)
        if request.strength is not None and not (0.0 <= request.strength <= 1.0):
            found.append("the strength must be between 0 and 1")
    return found


def capabilities_for(info: ProviderInfo, model: str) -> Capabilities | None:
    """A catalogue model, or for a local backend any checkpoint name with the backend's "default" abilities."""
    caps = info.model(model)
    if caps is None and info.local and model:
        caps = info.model("default")
    return caps


def check(request: ImageRequest, info: ProviderInfo) -> Capabilities:
    """Raise InvalidRequest with every problem at once, or return the model's capabilities."""
    caps = capabilities_for(info, request.model)
    if caps is None:
        known = ", ".join(m.model for m in info.models)
        raise InvalidRequest(f"{info.name} has no model {request.model!r}; known: {known}", provider=info.id)
    found = problems(request, caps)
    if found:
        raise InvalidRequest("; ".join(found), provider=info.id)
    return caps


def adapt_for(request: ImageRequest, info: ProviderInfo) -> ImageRequest | None:
    """The same request for another provider's default model, or None when that model cannot honour it.

    Used by fallback: the prompt, count, negative prompt and init image must carry over unchanged; a size
    becomes the nearest thing the target takes (its own size list or the same aspect ratio)."""
    model_id = info.default_model or (info.models[0].model if info.models else "")
    caps = info.model(model_id)
    if caps is None:
        return None
    changes: dict[str, object] = {"provider": info.id, "model": model_id, "style": None, "quality": None,
                                  "extras": ()}
    if request.seed is not None and not caps.seed:
        changes["seed"] = None  # a seed is a preference, not part of the picture asked for
    if request.width and request.height:
        size = f"{request.width}x{request.height}"
        ratio = ratio_of(request.width, request.height)
        if caps.any_size or size in caps.sizes:
            pass
        elif ratio in caps.aspect_ratios:
            changes.update(width=None, height=None, aspect_ratio=ratio)
        else:
            same_ratio = [s for s in caps.sizes if ratio_of(*parse_size(s)) == ratio]
            if not same_ratio:
                return None
            w, h = parse_size(same_ratio[0])
            changes.update(width=w, height=h)
    elif request.aspect_ratio and caps.aspect_ratios and request.aspect_ratio not in caps.aspect_ratios:
        return None
    elif request.aspect_ratio and not caps.aspect_ratios:
        sizes = [s for s in caps.sizes if ratio_of(*parse_size(s)) == request.aspect_ratio]
        if sizes:
            w, h = parse_size(sizes[0])
            changes.update(width=w, height=h, aspect_ratio=None)
        elif not caps.any_size:
            return None
    adapted = dataclasses.replace(request, **changes)  # type: ignore[arg-type]
    return adapted if not problems(adapted, caps) else None
