"""The form being edited, as a plain value, and the pure rules around it: which controls a model gets, the
request it becomes, its cost, its one-line summary and how a gallery image's parameters merge into it.

No Qt here, so every rule is testable without widgets; the view-model owns one `FormState` at a time.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from providers.base import ImageRequest, InvalidRequest
from providers.catalogue import Capabilities, ProviderInfo
from providers.validation import parse_size, ratio_of

SEED_MODES = ("random", "fixed", "increment")
CUSTOM = "custom"  # the shape value meaning "free width/height" (any_size models only)
REUSE_PARTS = ("prompt", "seed", "size")


@dataclass(frozen=True)
class FormState:
    """Everything the parameters view edits. Values a model cannot take are kept (hidden), not dropped, so
    switching back to a model that supports them restores them; `to_request` leaves them out."""

    prompt: str = ""
    provider: str = ""
    model: str = ""
    negative_prompt: str = ""
    shape: str = "1:1"  # "16:9" (aspect ratio), "1024x1024" (listed size), CUSTOM, or "" (fit width/height)
    width: int = 1024
    height: int = 1024
    count: int = 1
    seed_mode: str = "random"
    seed: int = 0
    style: str = ""  # "" = no style
    quality: str = ""  # "" = the provider's default
    init_image: bytes | None = dataclasses.field(default=None, repr=False)
    init_name: str = ""
    strength: float = 0.6


@dataclass(frozen=True)
class Option:
    value: str
    label: str


def shape_options(caps: Capabilities) -> list[Option]:
    """Listed sizes when the model has them, else its aspect ratios; plus "Custom size" for free sizes."""
    out: list[Option] = []
    if caps.sizes:
        for size in caps.sizes:
            w, h = parse_size(size)
            out.append(Option(size, f"{w} × {h}  ({ratio_of(w, h)})"))
    else:
        out.extend(Option(r, _ratio_label(r)) for r in caps.aspect_ratios)
    if caps.any_size:
        out.append(Option(CUSTOM, "Custom size"))
    return out


def _ratio_label(ratio: str) -> str:
    names = {"1:1": "square", "16:9": "wide", "9:16": "tall", "4:3": "landscape", "3:4": "portrait",
             "21:9": "cinema", "3:2": "photo", "2:3": "photo portrait", "auto": ""}
    name = names.get(ratio, "")
    if ratio == "auto":
        return "Auto"
    return f"{ratio}  {name}" if name else ratio


def style_options(caps: Capabilities, presets: Sequence[object]) -> list[Option]:
    """No style, the model's native styles, then the app's presets (folded into the prompt when sent)."""
    out = [Option("", "No style")]
    native = set(caps.styles)
    for style in caps.styles:
        out.append(Option(style, style.replace("-", " ").capitalize()))
    for preset in presets:
        pid, label = getattr(preset, "id", ""), getattr(preset, "label", "")
        if pid and pid != "none" and pid not in native:
            out.append(Option(pid, label))
    return out


def _default_shape(caps: Capabilities) -> str:
    options = [o.value for o in shape_options(caps)]
    for preferred in ("1:1", "1024x1024"):
        if preferred in options:
            return preferred
    return options[0] if options else ""


def fit_shape(caps: Capabilities, shape: str, width: int, height: int) -> tuple[str, int, int]:
    """The nearest shape this model offers for a wanted shape or pixel size (keeps the ratio when it can)."""
    options = [o.value for o in shape_options(caps)]
    if shape in options and shape != CUSTOM:
        return shape, width, height
    if shape == CUSTOM and caps.any_size:  # keep the typed size, clamped to what the model can make
        return CUSTOM, _clamp(width, caps), _clamp(height, caps)
    if shape == CUSTOM or not shape:
        size = f"{width}x{height}"
        if size in options:
            return size, width, height
        if caps.any_size and caps.min_side <= min(width, height) and max(width, height) <= caps.max_side:
            return CUSTOM, width, height
        ratio = ratio_of(width, height)
    elif "x" in shape:
        w, h = parse_size(shape)
        ratio = ratio_of(w, h)
        if caps.any_size:
            return CUSTOM, w, h
    else:
        ratio = shape
    if ratio in options:
        return ratio, width, height
    same = [o for o in options if "x" in o and ratio_of(*parse_size(o)) == ratio]
    if same:
        return same[0], width, height
    return _nearest(options, ratio) or _default_shape(caps), width, height


def _ratio_value(option: str) -> float | None:
    try:
        if "x" in option:
            w, h = parse_size(option)
            return w / h
        a, b = option.split(":")
        return float(a) / float(b)
    except (ValueError, ZeroDivisionError, InvalidRequest):
        return None


def _nearest(options: Sequence[str], ratio: str) -> str | None:
    """The listed shape closest in proportion (log scale, so 2:1 and 1:2 are equally far from 1:1)."""
    target = _ratio_value(ratio)
    scored = [(abs(math.log(v / target)), o) for o in options if (v := _ratio_value(o)) and target]
    return min(scored)[1] if scored else None


def _clamp(side: int, caps: Capabilities) -> int:
    return max(caps.min_side, min(caps.max_side, side))


def normalise(form: FormState, caps: Capabilities, presets: Sequence[object] = ()) -> FormState:
    """Make the visible values valid for `caps`; hidden ones (negative prompt, image source) are kept."""
    shape, width, height = fit_shape(caps, form.shape, form.width, form.height)
    styles = {o.value for o in style_options(caps, presets)}
    return dataclasses.replace(
        form, model=caps.model, shape=shape, width=width, height=height,
        count=max(1, min(form.count, max(1, caps.max_count))),
        style=form.style if form.style in styles else "",
        quality=form.quality if form.quality in caps.qualities else "",
        seed_mode=form.seed_mode if caps.seed else "random",
    )


def to_request(form: FormState, caps: Capabilities) -> ImageRequest:
    """The request to send: only what the model supports (hidden values stay out)."""
    width = height = None
    aspect = None
    if form.shape == CUSTOM and caps.any_size:
        width, height = form.width, form.height
    elif "x" in form.shape:
        width, height = parse_size(form.shape)
    elif form.shape and form.shape != "auto":
        aspect = form.shape
    elif form.shape == "auto":
        aspect = "auto"
    img2img = caps.img2img and form.init_image is not None
    return ImageRequest(
        prompt=form.prompt, provider=form.provider, model=caps.model,
        negative_prompt=form.negative_prompt if caps.negative_prompt else "",
        width=width, height=height, aspect_ratio=aspect, count=form.count,
        seed=form.seed if caps.seed and form.seed_mode != "random" else None,
        style=form.style or None, quality=form.quality or None,
        init_image=form.init_image if img2img else None,
        init_image_mime=_mime(form.init_image) if img2img else None,
        strength=form.strength if img2img else None,
    )


def _mime(data: bytes | None) -> str | None:
    if not data:
        return None
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    return "image/webp" if data[8:12] == b"WEBP" else None


def estimate_usd(request: ImageRequest, caps: Capabilities) -> float | None:
    unit = caps.price_for(request.size, request.quality)
    return None if unit is None else unit * request.count


def cost_text(cost: float | None) -> str:
    if cost is None:
        return "price unknown"
    if cost == 0:
        return "free"
    digits = 2 if cost >= 0.1 else 3
    return f"≈ ${cost:.{digits}f}"


NEGATIVE_CHARS = 24  # the summary names the negative prompt; its full text is in the field above


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def summary(request: ImageRequest, info: ProviderInfo, caps: Capabilities, cost: float | None) -> str:
    """"Stability · SD 3.5 Large · 16:9 · 2 images · seed 42 · negative: blurry, low qu… · ≈ $0.13"."""
    parts = [info.name.replace(" (free)", ""), caps.label]
    if request.size:
        parts.append(f"{request.width}×{request.height}")
    elif request.aspect_ratio:
        parts.append(request.aspect_ratio)
    parts.append(f"{request.count} image{'s' if request.count != 1 else ''}")
    if request.seed is not None:
        parts.append(f"seed {request.seed}")
    if request.quality:
        parts.append(f"{request.quality} quality")
    if request.style:
        parts.append(f"style {request.style}")
    if request.init_image is not None:
        parts.append(f"from image, strength {round((request.strength or 0) * 100)}%")
    negative = " ".join((request.negative_prompt or "").split())
    if negative:
        parts.append(f"negative: {shorten(negative, NEGATIVE_CHARS)}")
    parts.append(cost_text(cost))
    return " · ".join(parts)


@dataclass(frozen=True)
class Reused:
    """What a gallery image offers to reuse (from storage.records.ImageRow)."""

    prompt: str
    negative_prompt: str
    provider: str
    model: str
    seed: int | None
    width: int
    height: int


def reuse(form: FormState, image: Reused, parts: Iterable[str], provider_info: ProviderInfo | None,
          ) -> FormState:
    """Copy only the asked-for parts of an image's parameters into the form.

    parts: "all", or any of "prompt", "seed", "size". "all" also switches provider/model when the image's
    are known to the catalogue, and copies the negative prompt. Nothing outside `parts` is touched."""
    wanted = set(parts)
    everything = "all" in wanted
    changes: dict[str, object] = {}
    if everything and provider_info is not None and provider_info.model(image.model) is not None:
        changes.update(provider=provider_info.id, model=image.model)
    if everything or "prompt" in wanted:
        changes["prompt"] = image.prompt
    if everything:
        changes["negative_prompt"] = image.negative_prompt
    if (everything or "seed" in wanted) and image.seed is not None:
        changes.update(seed_mode="fixed", seed=int(image.seed))
    if (everything or "size" in wanted) and image.width and image.height:
        changes.update(shape="", width=image.width, height=image.height)  # "": fit_shape picks the nearest
    return dataclasses.replace(form, **changes)  # type: ignore[arg-type]
