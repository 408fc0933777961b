"""Embedding and reading generation metadata without re-encoding pixels (architecture 9.6)."""

from __future__ import annotations

import io
import json
import struct
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from storage import containers, pngchunks
from storage.imaging import verify_image
from storage.metadata import (
    STUDIO_KEY,
    ParsedMetadata,
    embed_metadata,
    format_a1111_parameters,
    read_metadata,
)
from storage.xmp import build_xmp, parse_xmp
from tests.storage import samples

FIELDS = {"Steps": 30, "Sampler": "DPM++ 2M", "CFG scale": 6.5, "Seed": 3217195245, "Size": "64x48",
          "Model": "sdxl-base", "Provider": "openai"}
STUDIO = {"provider": "openai", "model": "gpt-image-1", "prompt": "a red fox, snow", "seed": 3217195245,
          "cost_usd": 0.04, "request_id": "req_123", "revised_prompt": "A red fox standing in snow",
          "request": {"size": "1024x1024", "quality": "high"}}
PARAMS = format_a1111_parameters("a red fox, snow", "blurry", FIELDS)


def scan_data(jpeg: bytes) -> bytes:
    """Everything from the first SOS marker on: the entropy-coded image."""
    return jpeg[containers.jpeg_segments(jpeg)[-1].end:]


def webp_bitstream(data: bytes) -> list[bytes]:
    return [c.raw for c in containers.riff_chunks(data) if c.fourcc in (b"VP8 ", b"VP8L", b"ALPH")]


def check_common(parsed: ParsedMetadata) -> None:
    assert parsed.source == "studio"
    assert parsed.studio == STUDIO
    assert parsed.prompt == "a red fox, snow"
    assert parsed.negative_prompt == "blurry"  # from the infotext: the studio JSON has none
    assert parsed.seed == 3217195245
    assert parsed.model == "gpt-image-1"  # our JSON wins over the infotext's Model
    assert (parsed.steps, parsed.cfg_scale, parsed.sampler) == (30, 6.5, "DPM++ 2M")
    assert (parsed.width, parsed.height) == (64, 48)
    assert parsed.extra["Provider"] == "openai"


def test_png_round_trip_keeps_pixels() -> None:
    original = samples.png()
    out = embed_metadata(original, "PNG", PARAMS, STUDIO)
    assert samples.idat(out) == samples.idat(original)
    assert samples.decoded(out) == samples.decoded(original)
    list(pngchunks.iter_chunks(out, check_crc=True))  # every CRC is right
    check_common(read_metadata(out))
    with Image.open(io.BytesIO(out)) as im:  # other tools (A1111's PNG Info) read header text chunks
        assert im.info["parameters"] == PARAMS
        assert json.loads(im.info[STUDIO_KEY]) == STUDIO
    assert verify_image(out).format == "PNG"


def test_png_embedding_twice_replaces_instead_of_duplicating() -> None:
    once = embed_metadata(samples.png(), "PNG", "old text\nSteps: 1, Seed: 1, Size: 1x1", {"provider": "a"})
    twice = embed_metadata(once, "PNG", PARAMS, STUDIO)
    keys = [c.data.split(b"\x00")[0] for c in pngchunks.iter_chunks(twice) if c.type in pngchunks.TEXT_TYPES]
    assert sorted(keys) == sorted([b"parameters", STUDIO_KEY.encode()])
    check_common(read_metadata(twice))


def test_png_non_latin_prompt_uses_itxt() -> None:
    text = "富士山, 夕焼け — ünïcödé\nSteps: 20, Seed: 5, Size: 64x48"
    out = embed_metadata(samples.png(), "PNG", text, {"prompt": "富士山"})
    types = {c.data.split(b"\x00")[0]: c.type for c in pngchunks.iter_chunks(out) if c.type != b"IDAT"}
    assert types[b"parameters"] == b"iTXt"
    with Image.open(io.BytesIO(out)) as im:
        assert im.info["parameters"] == text


def test_png_keeps_unknown_chunks() -> None:
    original = samples.png()
    private = pngchunks.make_chunk(b"caBX", b"c2pa manifest bytes")
    chunks = list(pngchunks.iter_chunks(original))
    with_c2pa = original[:chunks[1].start] + private + original[chunks[1].start:]
    out = embed_metadata(with_c2pa, "PNG", PARAMS, STUDIO)
    assert private in out


def test_jpeg_round_trip_keeps_scan_data() -> None:
    original = samples.jpeg()
    out = embed_metadata(original, "JPEG", PARAMS, STUDIO)
    assert scan_data(out) == scan_data(original)
    assert samples.decoded(out) == samples.decoded(original)
    check_common(read_metadata(out))
    with Image.open(io.BytesIO(out)) as im:
        ET.fromstring(im.info["xmp"])  # Pillow finds the XMP, and it is well-formed XML
    markers = [s.marker for s in containers.jpeg_segments(out)]
    assert markers[:2] == [0xE0, 0xE1]  # after JFIF APP0


def test_jpeg_xmp_goes_after_exif_and_replaces_old_xmp() -> None:
    exif = samples.piexif_user_comment("old\nSteps: 1, Seed: 2, Size: 3x4")
    original = samples.insert_jpeg_app1(samples.jpeg(), exif)
    once = embed_metadata(original, "JPEG", PARAMS, {"provider": "x"})
    twice = embed_metadata(once, "JPEG", PARAMS, STUDIO)
    segments = containers.jpeg_segments(twice)
    xmp_segments = [s for s in segments if s.payload.startswith(containers.XMP_HEADER)]
    assert len(xmp_segments) == 1
    assert segments[0].payload.startswith(containers.EXIF_HEADER)
    check_common(read_metadata(twice))
    assert scan_data(twice) == scan_data(original)


def test_jpeg_oversized_json_drops_request_copy() -> None:
    big = dict(STUDIO, request={"blob": "x" * 70000})
    out = embed_metadata(samples.jpeg(), "JPEG", PARAMS, big)
    parsed = read_metadata(out)
    assert parsed.studio == {k: v for k, v in big.items() if k != "request"}


@pytest.mark.parametrize("params", [{}, {"lossless": True}, {"lossless": True, "mode": "RGBA"}],
                         ids=["lossy", "lossless", "lossless-alpha"])
def test_webp_simple_file_becomes_vp8x_with_xmp(params: dict[str, object]) -> None:
    mode = params.pop("mode", "RGB")
    im = samples.gradient(64, 48, str(mode))
    if mode == "RGBA":
        im.putalpha(Image.linear_gradient("L").resize((64, 48)))
    original = samples.encode(im, "WEBP", **params)
    assert containers.riff_chunks(original)[0].fourcc in (b"VP8 ", b"VP8L")
    out = embed_metadata(original, "WEBP", PARAMS, STUDIO)
    chunks = containers.riff_chunks(out)
    assert chunks[0].fourcc == b"VP8X"
    flags = chunks[0].payload[0]
    assert flags & containers.VP8X_XMP
    assert bool(flags & containers.VP8X_ALPHA) == (mode == "RGBA")
    width = int.from_bytes(chunks[0].payload[4:7], "little") + 1
    height = int.from_bytes(chunks[0].payload[7:10], "little") + 1
    assert (width, height) == (64, 48)
    assert struct.unpack("<I", out[4:8])[0] == len(out) - 8
    assert webp_bitstream(out) == webp_bitstream(original)
    assert samples.decoded(out) == samples.decoded(original)
    assert verify_image(out).format == "WEBP"
    check_common(read_metadata(out))
    with Image.open(io.BytesIO(out)) as im2:
        assert json.loads(parse_xmp(im2.info["xmp"]).studio_json) == STUDIO  # Pillow finds our chunk


def test_webp_extended_file_keeps_exif_and_sets_flag() -> None:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    original = samples.encode(samples.gradient(), "WEBP", exif=exif.tobytes())
    assert containers.riff_chunks(original)[0].fourcc == b"VP8X"
    out = embed_metadata(embed_metadata(original, "WEBP", "x", {}), "WEBP", PARAMS, STUDIO)
    fourccs = [c.fourcc for c in containers.riff_chunks(out)]
    assert fourccs.count(b"XMP ") == 1
    assert fourccs.index(b"EXIF") < fourccs.index(b"XMP ")
    with Image.open(io.BytesIO(out)) as im:
        assert im.getexif()[0x010F] == "CameraMaker"
    check_common(read_metadata(out))
    assert samples.decoded(out) == samples.decoded(original)


def test_embed_rejects_unknown_format() -> None:
    with pytest.raises(ValueError):
        embed_metadata(samples.png(), "GIF", PARAMS, STUDIO)
    with pytest.raises(ValueError):
        embed_metadata(b"not a png", "PNG", PARAMS, STUDIO)


# ---- reading files written by other tools -------------------------------------------------------------

A1111_TEXT = ("masterpiece, a castle on a hill, (sunset:1.2)\nbirds\n"
              "Negative prompt: lowres, bad anatomy\n"
              "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 3217195245, "
              "Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, "
              'Lora hashes: "detail: 1a2b3c4d5e6f", Version: v1.10.1')


def check_a1111(parsed: ParsedMetadata) -> None:
    assert parsed.source == "a1111"
    assert parsed.prompt == "masterpiece, a castle on a hill, (sunset:1.2)\nbirds"
    assert parsed.negative_prompt == "lowres, bad anatomy"
    assert (parsed.steps, parsed.sampler, parsed.cfg_scale, parsed.seed) == (28, "DPM++ 2M", 7.0, 3217195245)
    assert (parsed.width, parsed.height, parsed.model) == (512, 768, "v1-5-pruned-emaonly")
    assert parsed.extra["Lora hashes"] == "detail: 1a2b3c4d5e6f"
    assert parsed.extra["Schedule type"] == "Karras"
    assert parsed.studio == {}


def test_a1111_png() -> None:
    info = PngImagePlugin.PngInfo()  # what A1111's save_image_with_geninfo does for PNG
    info.add_text("parameters", A1111_TEXT)
    check_a1111(read_metadata(samples.png(pnginfo=info)))


def test_a1111_jpeg_exif_user_comment() -> None:
    data = samples.insert_jpeg_app1(samples.jpeg(), samples.piexif_user_comment(A1111_TEXT))
    assert verify_image(data).format == "JPEG"
    check_a1111(read_metadata(data))


def test_a1111_webp_exif_user_comment() -> None:
    data = samples.encode(samples.gradient(), "WEBP", exif=samples.piexif_user_comment(A1111_TEXT))
    check_a1111(read_metadata(data))


def test_little_endian_user_comment() -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + A1111_TEXT.encode("utf-16-le")
    check_a1111(read_metadata(samples.jpeg(exif=exif.tobytes())))


COMFY_GRAPH = {
    "3": {"class_type": "KSampler", "inputs": {
        "seed": 156680208700286, "steps": 20, "cfg": 8, "sampler_name": "euler", "scheduler": "normal",
        "denoise": 1, "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0],
        "latent_image": ["5", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"batch_size": 1, "height": 512, "width": 768}},
    "6": {"class_type": "CLIPTextEncode",
          "inputs": {"clip": ["4", 1], "text": "beautiful scenery, glass bottle"}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["4", 1], "text": "text, watermark"}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
}


def test_comfyui_png() -> None:
    info = PngImagePlugin.PngInfo()  # what ComfyUI's SaveImage writes
    info.add_text("prompt", json.dumps(COMFY_GRAPH))
    info.add_text("workflow", json.dumps({"last_node_id": 9, "nodes": [], "links": [], "version": 0.4}))
    parsed = read_metadata(samples.png(pnginfo=info))
    assert parsed.source == "comfyui"
    assert parsed.prompt == "beautiful scenery, glass bottle"
    assert parsed.negative_prompt == "text, watermark"
    assert (parsed.seed, parsed.steps) == (156680208700286, 20)
    assert (parsed.cfg_scale, parsed.sampler) == (8.0, "euler")
    assert (parsed.width, parsed.height) == (768, 512)
    assert parsed.model == "v1-5-pruned-emaonly.safetensors"
    assert parsed.extra["scheduler"] == "normal"
    assert parsed.extra["comfyui_workflow"] is True


def test_oversized_compressed_chunk_is_skipped_not_fatal() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111_TEXT)
    info.add_text("workflow", json.dumps({"nodes": ["n" * 100] * 20000}), zip=True)  # > 1 MB inflated
    data = samples.png(pnginfo=info)
    with pytest.raises(ValueError, match="Decompressed data too large"):
        Image.open(io.BytesIO(data))
    parsed = read_metadata(data)
    check_a1111(parsed)
    assert parsed.extra["skipped_chunks"] == ["workflow"]


def test_only_an_oversized_chunk_gives_metadata_less_result() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", "{" + " " * (2 * 1024 * 1024) + "}", zip=True)
    parsed = read_metadata(samples.png(pnginfo=info))
    assert (parsed.source, parsed.prompt, parsed.studio) == ("", "", {})


@pytest.mark.parametrize("data", [
    b"", b"garbage", samples.png()[:50], samples.jpeg()[:30], samples.webp()[:20],
    samples.png(pnginfo=PngImagePlugin.PngInfo()), samples.jpeg(), samples.webp(),
])
def test_files_without_metadata_never_raise(data: bytes) -> None:
    assert read_metadata(data) == ParsedMetadata()


def test_bad_json_in_our_chunk_falls_back_to_parameters() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text(STUDIO_KEY, "{not json")
    info.add_text("parameters", A1111_TEXT)
    check_a1111(read_metadata(samples.png(pnginfo=info)))


def test_xmp_with_entities_is_refused() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>')
    assert parse_xmp(bomb).studio_json == ""
    assert parse_xmp(b"<unclosed").studio_json == ""


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompt=st.text(max_size=300), fmt=st.sampled_from(["PNG", "JPEG", "WEBP"]))
def test_prompt_round_trips_through_every_format(prompt: str, fmt: str) -> None:
    data = {"PNG": PNG_SMALL, "JPEG": JPEG_SMALL, "WEBP": WEBP_SMALL}[fmt]
    studio = {"prompt": prompt, "provider": "p"}
    parameters = format_a1111_parameters(prompt, "", {"Seed": 1, "Steps": 2, "Size": "8x8"})
    out = embed_metadata(data, fmt, parameters, studio)
    parsed = read_metadata(out)
    assert parsed.studio == studio
    assert parsed.prompt == prompt or (prompt.strip() == "" and parsed.prompt == "")


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=200))
def test_xmp_packet_is_always_well_formed(text: str) -> None:
    packet = build_xmp(text, json.dumps({"prompt": text}))
    ET.fromstring(packet)
    assert json.loads(parse_xmp(packet).studio_json) == {"prompt": text}


PNG_SMALL = samples.png(8, 8)
JPEG_SMALL = samples.jpeg(8, 8)
WEBP_SMALL = samples.webp(8, 8)


def test_ascii_user_comment_and_jpeg_comment_segment() -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"ASCII\x00\x00\x00" + A1111_TEXT.encode()
    check_a1111(read_metadata(samples.jpeg(exif=exif.tobytes())))
    check_a1111(read_metadata(samples.jpeg(comment=A1111_TEXT.encode())))


def test_numbers_in_our_json_are_typed_defensively() -> None:
    out = embed_metadata(samples.png(), "PNG", "", {"seed": "18446744073709551615", "steps": 20.0,
                                                    "cfg_scale": "nan", "width": True, "height": "x"})
    parsed = read_metadata(out)
    assert (parsed.seed, parsed.steps, parsed.cfg_scale, parsed.width, parsed.height) == \
        (18446744073709551615, 20, None, None, None)
