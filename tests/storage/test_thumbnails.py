"""256 px WebP thumbnails (architecture 9.4)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from storage import thumbnails
from storage.imaging import BadImage
from storage.layout import thumb_path_for
from storage.paths import AppPaths
from storage.thumbnails import ensure_thumbnail, make_thumbnail
from tests.storage import samples


def opened(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


@pytest.mark.parametrize(("fmt", "size", "expected"), [
    ("PNG", (1024, 512), (256, 128)),
    ("JPEG", (600, 1200), (128, 256)),
    ("WEBP", (300, 300), (256, 256)),
    ("PNG", (100, 40), (100, 40)),  # never upscaled
])
def test_long_edge_is_256_and_format_webp(fmt: str, size: tuple[int, int], expected: tuple[int, int]) -> None:
    thumb = opened(make_thumbnail(samples.encode(samples.gradient(*size), fmt)))
    assert thumb.format == "WEBP"
    assert thumb.size == expected
    assert thumb.mode == "RGB"


def test_custom_size() -> None:
    assert opened(make_thumbnail(samples.png(800, 400), size=64)).size == (64, 32)


def halves(width: int, height: int) -> Image.Image:
    """Left half red, right half blue."""
    im = Image.new("RGB", (width, height), (255, 0, 0))
    im.paste((0, 0, 255), (width // 2, 0, width, height))
    return im


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exif_orientation_is_applied(fmt: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, display rotated 90 degrees clockwise
    data = samples.encode(halves(400, 200), fmt, exif=exif.tobytes())
    thumb = opened(make_thumbnail(data)).convert("RGB")
    assert thumb.size == (128, 256)
    top, bottom = thumb.getpixel((64, 20)), thumb.getpixel((64, 235))
    assert top[0] > 200 and top[2] < 60  # the left (red) half is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_rgba_keeps_alpha() -> None:
    im = Image.new("RGBA", (512, 512), (255, 0, 0, 255))
    im.paste((0, 0, 0, 0), (0, 0, 256, 512))
    thumb = opened(make_thumbnail(samples.encode(im, "PNG")))
    assert thumb.mode == "RGBA"
    assert thumb.getpixel((10, 128))[3] == 0
    assert thumb.getpixel((245, 128))[3] == 255


def test_palette_with_transparency_becomes_rgba() -> None:
    im = Image.new("P", (300, 300), 1)
    im.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    im.paste(0, (0, 0, 150, 300))
    thumb = opened(make_thumbnail(samples.encode(im, "PNG", transparency=0)))
    assert thumb.mode == "RGBA"
    assert thumb.getpixel((10, 100))[3] == 0
    red, green, _blue, alpha = thumb.getpixel((250, 100))
    assert red < 10 and green > 240 and alpha == 255


def test_palette_without_transparency_becomes_rgb() -> None:
    thumb = opened(make_thumbnail(samples.encode(samples.gradient(300, 200, "P"), "PNG")))
    assert thumb.mode == "RGB"
    assert thumb.size == (256, 171)


def test_la_becomes_rgba() -> None:
    im = Image.new("LA", (300, 300), (200, 255))
    im.paste((50, 0), (0, 0, 150, 300))
    thumb = opened(make_thumbnail(samples.encode(im, "PNG")))
    assert thumb.mode == "RGBA"
    assert thumb.getpixel((10, 100))[3] == 0
    assert all(abs(channel - 200) < 4 for channel in thumb.getpixel((250, 100))[:3])


def test_cmyk_jpeg_becomes_rgb() -> None:
    im = Image.new("CMYK", (300, 300), (0, 255, 255, 0))  # red in CMYK
    thumb = opened(make_thumbnail(samples.encode(im, "JPEG")))
    assert thumb.mode == "RGB"
    red, green, blue = thumb.getpixel((128, 128))
    assert red > 200 and green < 60 and blue < 60


def test_16_bit_greyscale_is_scaled_not_clipped() -> None:
    im = Image.new("I;16", (512, 4))
    im.putdata([x * 128 for x in range(512)] * 4)  # 0 .. 65408 left to right
    data = samples.encode(im, "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    thumb = opened(make_thumbnail(data)).convert("L")
    middle = thumb.getpixel((128, 1))
    assert 100 < middle < 160  # a plain convert("L") would clip this to 255
    assert thumb.getpixel((2, 1)) < 20


def test_undecodable_bytes_raise_bad_image() -> None:
    with pytest.raises(BadImage, match="truncated or corrupt image"):
        make_thumbnail(samples.png(300, 300)[:-100])
    with pytest.raises(BadImage):
        make_thumbnail(b"not an image")


@pytest.fixture
def app_paths(tmp_path: Path) -> AppPaths:
    return AppPaths(data=tmp_path / "data", cache=tmp_path / "cache", logs=tmp_path / "logs")


def test_ensure_thumbnail_writes_once(app_paths: AppPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    sha = "ab" * 32
    path = ensure_thumbnail(app_paths, sha, samples.png(400, 300))
    assert path == thumb_path_for(app_paths, sha) == app_paths.thumbs_dir / "ab" / "ab" / f"{sha}_256.webp"
    assert opened(path.read_bytes()).size == (256, 192)

    def boom(*_args: object, **_kwargs: object) -> bytes:
        raise AssertionError("thumbnail rebuilt although a valid one exists")

    monkeypatch.setattr(thumbnails, "make_thumbnail", boom)
    assert ensure_thumbnail(app_paths, sha, samples.png(400, 300)) == path


def test_ensure_thumbnail_replaces_an_undecodable_cache_file(app_paths: AppPaths) -> None:
    sha = "cd" * 32
    path = thumb_path_for(app_paths, sha)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"RIFF\x00\x00\x00\x00WEBPjunk")
    ensure_thumbnail(app_paths, sha, samples.jpeg(300, 300))
    assert opened(path.read_bytes()).size == (256, 256)
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_png_with_oversized_text_chunk_still_gets_a_thumbnail() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("workflow", "w" * (PngImagePlugin.MAX_TEXT_CHUNK + 1), zip=True)
    assert opened(make_thumbnail(samples.png(512, 256, pnginfo=info))).size == (256, 128)


def test_bomb_is_refused() -> None:
    with pytest.raises(BadImage, match="decompression bomb"):
        make_thumbnail(samples.png_header_claiming(20000, 20000))


def test_thumbnail_from_the_verification_decode_matches_the_separate_path():
    """prepare_file/prepare_generated make the thumbnail from the pixels verify already decoded."""
    import io

    from PIL import Image

    from storage.imaging import verify_image_with
    from storage.thumbnails import make_thumbnail, render_loaded

    src = Image.new("RGB", (900, 600), (10, 120, 200))
    buf = io.BytesIO()
    src.save(buf, "PNG")
    info, thumb = verify_image_with(buf.getvalue(), render_loaded)
    assert (info.width, info.height) == (900, 600)
    one = Image.open(io.BytesIO(thumb))
    two = Image.open(io.BytesIO(make_thumbnail(buf.getvalue())))
    assert one.format == two.format == "WEBP" and one.size == two.size == (256, 171)
