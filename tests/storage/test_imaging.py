"""verify_image: the gate every downloaded or imported image passes (architecture 9.5)."""

from __future__ import annotations

import io
import warnings

import pytest
from PIL import Image, PngImagePlugin

from storage import imaging
from storage.imaging import BadImage, ImageInfo, configure_pillow, verify_image
from tests.storage import samples


@pytest.mark.parametrize(("data", "expected"), [
    (samples.png(40, 30), ImageInfo("PNG", 40, 30, "image/png", "png")),
    (samples.jpeg(40, 30), ImageInfo("JPEG", 40, 30, "image/jpeg", "jpg")),
    (samples.webp(40, 30), ImageInfo("WEBP", 40, 30, "image/webp", "webp")),
    (samples.webp(40, 30, lossless=True), ImageInfo("WEBP", 40, 30, "image/webp", "webp")),
    (samples.encode(samples.gradient(9, 7, "RGBA"), "PNG"), ImageInfo("PNG", 9, 7, "image/png", "png")),
    (samples.encode(samples.gradient(9, 7, "P"), "PNG"), ImageInfo("PNG", 9, 7, "image/png", "png")),
])
def test_valid_images(data: bytes, expected: ImageInfo) -> None:
    assert verify_image(data) == expected


def reason(data: bytes) -> str:
    with pytest.raises(BadImage) as caught:
        verify_image(data)
    assert str(caught.value) == caught.value.reason
    return caught.value.reason


def test_empty_file() -> None:
    assert reason(b"") == "empty file"


@pytest.mark.parametrize("data", [
    b"hello world, this is a text file\n",
    b"<!DOCTYPE html><html><body>403 Forbidden</body></html>",
    b'{"error": {"message": "rate limited"}}',
    b"\x00" * 100,
    b"RIFF\x10\x00\x00\x00WAVEfmt ",  # RIFF, but not WebP
])
def test_not_an_image(data: bytes) -> None:
    assert reason(data) == "not an image"


@pytest.mark.parametrize(("fmt", "name"), [("GIF", "GIF"), ("BMP", "BMP"), ("TIFF", "TIFF")])
def test_unsupported_formats_are_named(fmt: str, name: str) -> None:
    assert reason(samples.encode(samples.gradient(8, 8), fmt)) == f"unsupported format {name}"


@pytest.mark.parametrize("data", [
    samples.png(64, 64)[:-200],  # cut inside IDAT
    samples.png(64, 64)[:40],  # header only
    samples.jpeg(64, 64)[: len(samples.jpeg(64, 64)) // 2],
    samples.webp(64, 64)[:60],
    samples.webp(64, 64, lossless=True)[:-30],
    b"\x89PNG\r\n\x1a\n" + b"garbage" * 20,
    b"\xff\xd8\xff\xe0" + b"\x00" * 50,
    b"RIFF\x20\x00\x00\x00WEBPVP8 " + b"\x00" * 30,
])
def test_truncated_or_corrupt(data: bytes) -> None:
    assert reason(data) == "truncated or corrupt image"


def test_flipped_pixel_byte_is_caught_by_crc() -> None:
    data = bytearray(samples.png(64, 64))
    pos = data.index(b"IDAT") + 20
    data[pos] ^= 0xFF
    assert reason(bytes(data)) == "truncated or corrupt image"


def test_decompression_bomb_header() -> None:
    bomb = samples.png_header_claiming(20000, 20000)
    assert len(bomb) < 200
    assert reason(bomb) == "image too large (decompression bomb)"


def test_over_our_limit_but_under_pillows_error_threshold() -> None:
    # 9000 x 9000 = 81 MP: above MAX_PIXELS (67 MP) but below 2x, where Pillow only warns.
    assert reason(samples.png_header_claiming(9000, 9000)) == "image too large (decompression bomb)"


def test_bomb_refused_even_if_warning_filters_were_reset() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Image.MAX_IMAGE_PIXELS = None  # as if someone disabled Pillow's guard
        try:
            assert reason(samples.png_header_claiming(9000, 9000)) == "image too large (decompression bomb)"
        finally:
            configure_pillow()


def test_extreme_aspect_ratio() -> None:
    assert reason(samples.png_header_claiming(20000, 2)) == "image too large (20000 x 2 pixels)"


def test_huge_file_refused_by_size(monkeypatch: pytest.MonkeyPatch) -> None:
    data = samples.png(16, 16)
    monkeypatch.setattr(imaging, "MAX_FILE_BYTES", len(data) - 1)
    assert reason(data).startswith("file too large")


def test_configure_pillow_is_idempotent() -> None:
    with warnings.catch_warnings():
        configure_pillow()
        configure_pillow()
        entries = [f for f in warnings.filters if f[2] is Image.DecompressionBombWarning and f[0] == "error"]
        assert len(entries) == 1
    assert Image.MAX_IMAGE_PIXELS == 8192 * 8192
    from PIL import ImageFile
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_png_with_oversized_compressed_text_chunk_is_still_a_valid_image() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("workflow", "x" * (PngImagePlugin.MAX_TEXT_CHUNK + 10), zip=True)
    data = samples.png(20, 10, pnginfo=info)
    with pytest.raises(ValueError, match="Decompressed data too large"):
        Image.open(io.BytesIO(data))  # the Pillow behaviour this guards against
    assert verify_image(data) == ImageInfo("PNG", 20, 10, "image/png", "png")
