"""Small image builders for the storage file tests (generated in memory, nothing stored on disk)."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from PIL import Image

from storage import pngchunks


def gradient(width: int = 64, height: int = 48, mode: str = "RGB") -> Image.Image:
    """A non-uniform image, so a re-encode or a wrong rotation would show in the pixels."""
    im = Image.new("RGB", (width, height))
    im.putdata([((x * 255) // max(width - 1, 1), (y * 255) // max(height - 1, 1), (x * y) % 256)
                for y in range(height) for x in range(width)])
    return im.convert(mode) if mode != "RGB" else im


def encode(im: Image.Image, fmt: str, **params: Any) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def png(width: int = 64, height: int = 48, **params: Any) -> bytes:
    return encode(gradient(width, height), "PNG", **params)


def jpeg(width: int = 64, height: int = 48, **params: Any) -> bytes:
    return encode(gradient(width, height), "JPEG", quality=90, **params)


def webp(width: int = 64, height: int = 48, **params: Any) -> bytes:
    return encode(gradient(width, height), "WEBP", **params)


def decoded(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.mode, im.size, im.tobytes()


def idat(data: bytes) -> bytes:
    return b"".join(c.data for c in pngchunks.iter_chunks(data) if c.type == b"IDAT")


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims a huge canvas (a decompression bomb as seen by Image.open)."""
    ihdr = pngchunks.make_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    body = pngchunks.make_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
    return pngchunks.PNG_SIGNATURE + ihdr + body + pngchunks.make_chunk(b"IEND", b"")


def piexif_user_comment(text: str) -> bytes:
    """The EXIF blob A1111 writes for JPEG/WebP: piexif.dump({"Exif": {UserComment: UserComment.dump(text,
    encoding="unicode")}}), i.e. 'Exif\\0\\0', big-endian TIFF, IFD0 with an ExifIFD pointer, one UNDEFINED
    UserComment entry holding 'UNICODE\\0' + UTF-16-BE text."""
    comment = b"UNICODE\x00" + text.encode("utf-16-be")
    ifd0_offset = 8
    ifd0 = struct.pack(">H", 1) + struct.pack(">HHII", 0x8769, 4, 1, ifd0_offset + 18) + struct.pack(">I", 0)
    exif_ifd_offset = ifd0_offset + len(ifd0)
    data_offset = exif_ifd_offset + 18
    exif_ifd = (struct.pack(">H", 1) + struct.pack(">HHII", 0x9286, 7, len(comment), data_offset)
                + struct.pack(">I", 0))
    tiff = b"MM\x00\x2a" + struct.pack(">I", ifd0_offset) + ifd0 + exif_ifd + comment
    return b"Exif\x00\x00" + tiff


def insert_jpeg_app1(data: bytes, payload: bytes) -> bytes:
    """piexif.insert(): the EXIF APP1 right after SOI."""
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:]
