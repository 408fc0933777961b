"""JPEG segment and WebP RIFF chunk surgery: add or read metadata without re-encoding the image data."""

from __future__ import annotations

import struct
from dataclasses import dataclass

XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
EXIF_HEADER = b"Exif\x00\x00"
MAX_JPEG_SEGMENT = 65533  # payload bytes of one APPn segment (the 2-byte length counts itself)
_SOS, _EOI = 0xDA, 0xD9
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RSTn carry no length field

# WebP VP8X flag bits (RIFF container spec): ICC 0x20, alpha 0x10, EXIF 0x08, XMP 0x04, animation 0x02.
VP8X_ALPHA, VP8X_XMP = 0x10, 0x04
# Chunks that must stay before XMP (spec order: VP8X, ICCP, ANIM, image data, EXIF, XMP, unknown).
_BEFORE_XMP = {b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L", b"EXIF"}


class ContainerError(ValueError):
    """The file structure is not what its magic bytes promise."""


@dataclass(frozen=True)
class Segment:
    marker: int
    payload: bytes
    start: int
    end: int


def jpeg_segments(data: bytes) -> list[Segment]:
    """Marker segments from SOI up to (not including) the first SOS; entropy-coded data is never touched."""
    if not data.startswith(b"\xff\xd8"):
        raise ContainerError("not a JPEG")
    segments: list[Segment] = []
    pos = 2
    while pos < len(data):
        if data[pos] != 0xFF:
            raise ContainerError("JPEG marker expected")
        start = pos
        while pos < len(data) and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= len(data):
            break
        marker = data[pos]
        pos += 1
        if marker in (_SOS, _EOI):
            return segments
        if marker in _STANDALONE:
            segments.append(Segment(marker, b"", start, pos))
            continue
        if pos + 2 > len(data):
            raise ContainerError("truncated JPEG segment")
        (length,) = struct.unpack(">H", data[pos:pos + 2])
        if length < 2 or pos + length > len(data):
            raise ContainerError("bad JPEG segment length")
        segments.append(Segment(marker, data[pos + 2:pos + length], start, pos + length))
        pos += length
    raise ContainerError("JPEG without image data")


def _is_xmp(seg: Segment) -> bool:
    return seg.marker == 0xE1 and seg.payload.startswith(XMP_HEADER)


def jpeg_insert_xmp(data: bytes, packet: bytes) -> bytes:
    """Replace any XMP APP1 with ours, placed after SOI and the leading APP0 (JFIF) / APP1 (Exif) segments."""
    payload = XMP_HEADER + packet
    if len(payload) > MAX_JPEG_SEGMENT:
        raise ContainerError("XMP packet too large for one JPEG segment")
    segments = jpeg_segments(data)
    body_start = segments[-1].end if segments else 2  # the SOS marker: from here on bytes are copied as-is
    kept = [s for s in segments if not _is_xmp(s)]
    lead = 0
    while lead < len(kept) and (kept[lead].marker == 0xE0 or
                                (kept[lead].marker == 0xE1 and kept[lead].payload.startswith(EXIF_HEADER))):
        lead += 1
    new_segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    raw = [data[s.start:s.end] for s in kept]
    return data[:2] + b"".join(raw[:lead]) + new_segment + b"".join(raw[lead:]) + data[body_start:]


def jpeg_metadata(data: bytes) -> tuple[bytes | None, bytes | None, bytes | None]:
    """(XMP packet, EXIF blob with its 'Exif\\0\\0' header, COM text) of a JPEG, each None when absent."""
    xmp = exif = comment = None
    for seg in jpeg_segments(data):
        if xmp is None and _is_xmp(seg):
            xmp = seg.payload[len(XMP_HEADER):]
        elif exif is None and seg.marker == 0xE1 and seg.payload.startswith(EXIF_HEADER):
            exif = seg.payload
        elif comment is None and seg.marker == 0xFE:
            comment = seg.payload
    return xmp, exif, comment


@dataclass(frozen=True)
class RiffChunk:
    fourcc: bytes
    payload: bytes
    raw: bytes  # header + payload + padding, exactly as in the file


def riff_chunks(data: bytes) -> list[RiffChunk]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ContainerError("not a WebP file")
    (riff_size,) = struct.unpack("<I", data[4:8])
    end = min(len(data), 8 + riff_size)
    chunks: list[RiffChunk] = []
    pos = 12
    while pos + 8 <= end:
        fourcc = data[pos:pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4:pos + 8])
        stop = pos + 8 + size
        if stop > end:
            raise ContainerError("WebP chunk runs past the end of the file")
        padded = min(stop + (size & 1), end)
        chunks.append(RiffChunk(fourcc, data[pos + 8:stop], data[pos:padded]))
        pos = padded
    if not chunks:
        raise ContainerError("empty WebP file")
    return chunks


def _riff_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) & 1 else b"")


def _canvas(chunk: RiffChunk) -> tuple[int, int, bool]:
    """(width, height, has_alpha) from a simple-format VP8 or VP8L bitstream header."""
    p = chunk.payload
    if chunk.fourcc == b"VP8 " and len(p) >= 10 and p[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", p[6:10])
        return width & 0x3FFF, height & 0x3FFF, False
    if chunk.fourcc == b"VP8L" and len(p) >= 5 and p[0] == 0x2F:
        bits = int.from_bytes(p[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)
    raise ContainerError("unrecognised WebP bitstream")


def webp_insert_xmp(data: bytes, packet: bytes) -> bytes:
    """Add (or replace) the XMP chunk. A simple VP8/VP8L file is first wrapped in the extended (VP8X) layout
    with the canvas size taken from the bitstream; the RIFF size and the VP8X XMP flag are updated."""
    chunks = [c for c in riff_chunks(data) if c.fourcc != b"XMP "]
    if chunks[0].fourcc == b"VP8X":
        header = bytearray(chunks[0].payload)
        if len(header) < 10:
            raise ContainerError("short VP8X chunk")
        header[0] |= VP8X_XMP
        chunks[0] = RiffChunk(b"VP8X", bytes(header), _riff_chunk(b"VP8X", bytes(header)))
    else:
        width, height, alpha = _canvas(chunks[0])
        flags = VP8X_XMP | (VP8X_ALPHA if alpha else 0)
        canvas = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
        header = bytes([flags, 0, 0, 0]) + canvas
        chunks.insert(0, RiffChunk(b"VP8X", header, _riff_chunk(b"VP8X", header)))
    position = max(i for i, c in enumerate(chunks) if c.fourcc in _BEFORE_XMP) + 1
    xmp = _riff_chunk(b"XMP ", packet)
    body = b"".join(c.raw for c in chunks[:position]) + xmp + b"".join(c.raw for c in chunks[position:])
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def webp_metadata(data: bytes) -> tuple[bytes | None, bytes | None]:
    """(XMP packet, EXIF blob) of a WebP file, each None when absent."""
    xmp = exif = None
    for chunk in riff_chunks(data):
        if chunk.fourcc == b"XMP " and xmp is None:
            xmp = chunk.payload
        elif chunk.fourcc == b"EXIF" and exif is None:
            exif = chunk.payload
    return xmp, exif
