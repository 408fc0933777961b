"""Image intake safety (architecture 9.5): every downloaded or imported image passes verify_image first."""

from __future__ import annotations

import io
import logging
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from PIL import Image, ImageFile

from storage import pngchunks

T = TypeVar("T")

log = logging.getLogger(__name__)

MAX_PIXELS = 8192 * 8192
MAX_SIDE = 16384  # WebP tops out at 16383; a 1 x 60000 strip is no gallery image either
MAX_FILE_BYTES = 200 * 1024 * 1024
SUPPORTED = {"PNG": ("image/png", "png"), "JPEG": ("image/jpeg", "jpg"), "WEBP": ("image/webp", "webp")}

_CORRUPT = "truncated or corrupt image"
_BOMB = "image too large (decompression bomb)"
# Every exception Pillow's decoders are known to raise on hostile or broken input.
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error, IndexError, KeyError, TypeError,
    AssertionError, MemoryError,
)


class BadImage(Exception):
    """The bytes cannot enter the library; `reason` is short and worded for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ImageInfo:
    format: str  # "PNG" | "JPEG" | "WEBP"
    width: int
    height: int
    mime: str
    ext: str  # without the dot: "png" | "jpg" | "webp"


def configure_pillow() -> None:
    """Process-wide Pillow limits. Idempotent: warnings.simplefilter de-duplicates its filter entry."""
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    warnings.simplefilter("error", Image.DecompressionBombWarning)


def sniff_format(data: bytes) -> str | None:
    """Format name from magic bytes: a supported one, an unsupported image type, or None for non-images."""
    head = data[:32]
    if head.startswith(pngchunks.PNG_SIGNATURE):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:2] == b"BM":
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "AVIF"
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
            return "HEIC"
    if head[:4] == b"\x00\x00\x01\x00":
        return "ICO"
    if head[:4] == b"8BPS":
        return "PSD"
    if head[:2] == b"\xff\x0a" or head[:12] == b"\x00\x00\x00\x0cJXL \r\n\x87\n":
        return "JXL"
    return None


def _check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise BadImage(_CORRUPT)
    if width * height > MAX_PIXELS:
        raise BadImage(_BOMB)
    if max(width, height) > MAX_SIDE:
        raise BadImage(f"image too large ({width} x {height} pixels)")


def _open_checked(data: bytes, expected: str) -> Image.Image:
    im = Image.open(io.BytesIO(data), formats=[expected])
    if im.format != expected:
        raise BadImage(_CORRUPT)
    _check_size(*im.size)
    return im


def _verify(data: bytes, expected: str, then: Callable[[Image.Image], T] | None = None
            ) -> tuple[tuple[int, int], T | None]:
    with _open_checked(data, expected) as im:
        im.verify()
    # verify() leaves the object unusable, so a fresh open does the full decode that catches truncation.
    with _open_checked(data, expected) as im:
        im.load()
        # `then` works on the pixels just decoded (a thumbnail), so an image is decoded once, not twice.
        return im.size, (then(im) if then is not None else None)


def verify_image(data: bytes) -> ImageInfo:
    """Verify bytes as a safe PNG/JPEG/WebP (see verify_image_with)."""
    return verify_image_with(data)[0]


def verify_image_with(data: bytes, then: Callable[[Image.Image], T] | None = None) -> tuple[ImageInfo, T | None]:
    """Magic bytes -> Image.open -> format in PNG/JPEG/WEBP and size limits -> verify() -> reopen + load().

    Raises BadImage with a user-facing reason. A PNG whose text chunks Pillow refuses (a compressed chunk
    over 1 MB, typically a big ComfyUI workflow) is verified without them: the pixels are fine, only the
    metadata is lost.
    """
    if not data:
        raise BadImage("empty file")
    if len(data) > MAX_FILE_BYTES:
        raise BadImage(f"file too large (over {MAX_FILE_BYTES // (1024 * 1024)} MB)")
    kind = sniff_format(data)
    if kind is None:
        raise BadImage("not an image")
    if kind not in SUPPORTED:
        raise BadImage(f"unsupported format {kind}")
    configure_pillow()
    try:
        try:
            (width, height), extra = _verify(data, kind, then)
        except ValueError as exc:
            if kind != "PNG" or "Decompressed data too large" not in str(exc):
                raise
            log.info("PNG text chunk over Pillow's limit; verifying pixels without metadata")
            (width, height), extra = _verify(pngchunks.strip_text_chunks(data), kind, then)
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage(_BOMB) from None
    except pngchunks.PngFormatError:
        raise BadImage(_CORRUPT) from None
    except DECODE_ERRORS as exc:
        log.debug("image rejected: %s: %s", type(exc).__name__, exc)
        raise BadImage(_CORRUPT) from None
    mime, ext = SUPPORTED[kind]
    return ImageInfo(kind, width, height, mime, ext), extra


def same_image_header(data: bytes, info: ImageInfo) -> bool:
    """A cheap check after a container edit (metadata spliced in, pixels untouched): the header still
    parses as the same format and size. The full decode already happened on the original bytes."""
    try:
        with Image.open(io.BytesIO(data), formats=[info.format]) as im:
            return im.format == info.format and im.size == (info.width, info.height)
    except DECODE_ERRORS:
        return False
