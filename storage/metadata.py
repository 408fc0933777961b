"""Generation metadata inside image files (architecture 9.6, providers.md 9).

Write: an A1111 `parameters` infotext (so A1111, Forge, Civitai and ComfyUI-side readers show the prompt) plus
our JSON under a private name, added by splicing container chunks; pixel data is never re-encoded, so C2PA
credentials and other chunks survive. PNG gets text chunks, JPEG an XMP APP1 segment, WebP an XMP chunk (a
simple VP8/VP8L file is converted to the extended VP8X layout); no sidecar files are written.

Read: our JSON first, then A1111 `parameters` (PNG text chunk, or EXIF UserComment in JPEG/WebP as A1111
writes it), then a ComfyUI `prompt` graph. Reading never raises and never decodes pixels.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from storage import containers, pngchunks, xmp
from storage.comfyui import parse_comfyui_prompt
from storage.imaging import sniff_format
from storage.infotext import format_a1111_parameters, parse_a1111_parameters

__all__ = ["STUDIO_KEY", "ParsedMetadata", "embed_metadata", "format_a1111_parameters",
           "parse_a1111_parameters", "read_metadata", "studio_json_text"]

log = logging.getLogger(__name__)

STUDIO_KEY = "ai-images-studio"  # PNG keyword of our JSON chunk
_USER_COMMENT_TAG, _EXIF_IFD = 0x9286, 0x8769
_TYPED = ("prompt", "negative_prompt", "seed", "width", "height", "model", "steps", "cfg_scale", "sampler")
# A1111 infotext key -> ParsedMetadata field.
_A1111_FIELDS = {"Steps": "steps", "Sampler": "sampler", "CFG scale": "cfg_scale", "Seed": "seed",
                 "Model": "model"}


@dataclass(frozen=True)
class ParsedMetadata:
    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    model: str = ""
    steps: int | None = None
    cfg_scale: float | None = None
    sampler: str = ""
    source: str = ""  # "studio" | "a1111" | "comfyui" | "" (none found)
    studio: dict[str, Any] = field(default_factory=dict)  # our JSON as written
    extra: dict[str, Any] = field(default_factory=dict)  # other infotext/graph fields; "skipped_chunks"


def studio_json_text(studio: Mapping[str, Any]) -> str:
    """Our JSON as stored: ASCII-only, so it survives XML and Latin-1 containers whatever the prompt holds."""
    return json.dumps(dict(studio), ensure_ascii=True, separators=(",", ":"), default=str)


# ---- write -------------------------------------------------------------------------------------------------

def _fit_jpeg(parameters: str, studio: Mapping[str, Any]) -> bytes:
    """One APP1 segment holds at most 64 KB: drop the request copy first, then the JSON (the DB keeps it)."""
    packet = xmp.build_xmp(parameters, studio_json_text(studio))
    if len(packet) + len(containers.XMP_HEADER) <= containers.MAX_JPEG_SEGMENT:
        return packet
    slim = {k: v for k, v in studio.items() if k not in ("request", "response")}
    packet = xmp.build_xmp(parameters, studio_json_text(slim))
    if len(packet) + len(containers.XMP_HEADER) <= containers.MAX_JPEG_SEGMENT:
        return packet
    return xmp.build_xmp(parameters[:16000], "")


def embed_metadata(data: bytes, fmt: str, parameters: str, studio_json: Mapping[str, Any]) -> bytes:
    """The same image with `parameters` (infotext) and `studio_json` added; existing copies are replaced.

    fmt is "PNG", "JPEG" or "WEBP". Only container structure changes: the PNG IDAT chunks, JPEG scan data and
    WebP bitstream are copied byte for byte. Raises ValueError if the container is malformed or fmt unknown.
    """
    fmt = fmt.upper()
    if fmt == "PNG":
        chunks = []
        if parameters:
            chunks.append(pngchunks.text_chunk("parameters", parameters))
        chunks.append(pngchunks.text_chunk(STUDIO_KEY, studio_json_text(studio_json), force_itxt=True))
        return pngchunks.splice_text_chunks(data, chunks, replace_keys=("parameters", STUDIO_KEY))
    if fmt == "JPEG":
        return containers.jpeg_insert_xmp(data, _fit_jpeg(parameters, studio_json))
    if fmt == "WEBP":
        return containers.webp_insert_xmp(data, xmp.build_xmp(parameters, studio_json_text(studio_json)))
    raise ValueError(f"cannot embed metadata in {fmt or 'unknown'} files")


# ---- read --------------------------------------------------------------------------------------------------

def decode_user_comment(raw: bytes) -> str:
    """EXIF UserComment: 8-byte charset prefix + text. A1111 (piexif) writes 'UNICODE\\0' + UTF-16 big-endian;
    little-endian writers exist, so the byte order is guessed from where the zero bytes of ASCII text fall."""
    prefix, body = raw[:8], raw[8:]
    if prefix == b"UNICODE\x00":
        encoding = "utf-16-be"
        if len(body) >= 2 and body[1] == 0 and body[0] != 0:
            encoding = "utf-16-le"
        return body.decode(encoding, "replace").rstrip("\x00")
    if prefix in (b"ASCII\x00\x00\x00", b"\x00" * 8):
        return body.decode("utf-8", "replace").rstrip("\x00 ")
    return raw.decode("utf-8", "ignore").rstrip("\x00 ")


def _user_comment(exif_blob: bytes | None) -> str:
    if not exif_blob:
        return ""
    try:
        exif = Image.Exif()
        exif.load(exif_blob)  # accepts the 'Exif\0\0' header or a bare TIFF structure
        value = exif.get_ifd(_EXIF_IFD).get(_USER_COMMENT_TAG)
    except (OSError, ValueError, KeyError, TypeError, SyntaxError, IndexError) as exc:
        log.debug("unreadable EXIF: %s", exc)
        return ""
    if isinstance(value, bytes):
        return decode_user_comment(value)
    return value if isinstance(value, str) else ""


def _container_texts(data: bytes) -> tuple[dict[str, str], list[str]]:
    """{"parameters", STUDIO_KEY, "prompt", "workflow"...} found in the file, and unreadable chunk names."""
    kind = sniff_format(data)
    if kind == "PNG":
        found = pngchunks.read_text_chunks(data)
        return dict(found.texts), list(found.skipped)
    texts: dict[str, str] = {}
    if kind == "JPEG":
        packet, exif_blob, comment = containers.jpeg_metadata(data)
    elif kind == "WEBP":
        (packet, exif_blob), comment = containers.webp_metadata(data), None
    else:
        return texts, []
    if packet:
        fields = xmp.parse_xmp(packet)
        if fields.studio_json:
            texts[STUDIO_KEY] = fields.studio_json
        if fields.parameters:
            texts["parameters"] = fields.parameters
    if "parameters" not in texts:
        comment_text = _user_comment(exif_blob) or (comment or b"").decode("utf-8", "ignore")
        if comment_text.strip():
            texts["parameters"] = comment_text
    return texts, []


def _json_dict(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _as_int(value: Any) -> int | None:
    """Seeds can exceed 2**53, so strings go through int() before any float."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        pass
    number = _as_float(value)
    return int(number) if number is not None and number.is_integer() else None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if result == result and abs(result) != float("inf") else None


def _as_str(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _typed(fields: Mapping[str, Any]) -> dict[str, Any]:
    convert = {"seed": _as_int, "width": _as_int, "height": _as_int, "steps": _as_int, "cfg_scale": _as_float}
    out: dict[str, Any] = {}
    for name in _TYPED:
        value = convert.get(name, _as_str)(fields.get(name))
        if value not in (None, ""):
            out[name] = value
    return out


def _from_a1111(text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    parsed = parse_a1111_parameters(text)
    fields = {"prompt": parsed.pop("prompt"), "negative_prompt": parsed.pop("negative_prompt"),
              "width": parsed.pop("width", None), "height": parsed.pop("height", None)}
    for key, name in _A1111_FIELDS.items():
        if key in parsed:
            fields[name] = parsed.pop(key)
    parsed.pop("Size", None)
    return _typed(fields), parsed


def read_metadata(data: bytes) -> ParsedMetadata:
    """Generation metadata found in the file; an empty ParsedMetadata (source "") when there is none or the
    container is damaged. Text chunks whose content exceeds 1 MB compressed-inflated are skipped and named in
    extra["skipped_chunks"]."""
    try:
        texts, skipped = _container_texts(data)
    except (ValueError, OSError) as exc:  # PngFormatError / ContainerError are ValueErrors
        log.debug("metadata not readable: %s", exc)
        return ParsedMetadata()
    layers: list[tuple[str, dict[str, Any], dict[str, Any]]] = []  # (source, typed fields, extra)
    studio = _json_dict(texts.get(STUDIO_KEY))
    if studio:
        layers.append(("studio", _typed(studio), {}))
    if texts.get("parameters"):
        typed, extra = _from_a1111(texts["parameters"])
        layers.append(("a1111", typed, extra))
    if texts.get("prompt"):
        graph = _json_dict(texts["prompt"])
        comfy = parse_comfyui_prompt(graph) if graph else {}
        if comfy:
            layers.append(("comfyui", _typed(comfy), {k: v for k, v in comfy.items() if k not in _TYPED}))
    merged: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for _source, typed, layer_extra in reversed(layers):  # earlier layers win
        merged.update(typed)
        extra.update(layer_extra)
    if "workflow" in texts:
        extra["comfyui_workflow"] = True
    if skipped:
        extra["skipped_chunks"] = skipped
    source = layers[0][0] if layers else ""
    return ParsedMetadata(source=source, studio=studio, extra=extra, **merged)
