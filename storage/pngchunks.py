"""PNG chunk surgery: read and splice text chunks without touching (or decoding) the pixel data."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_TYPES = (b"tEXt", b"zTXt", b"iTXt")
# Same cap as Pillow's PngImagePlugin.MAX_TEXT_CHUNK: a compressed chunk that inflates past it is skipped.
MAX_TEXT_CHUNK = 1024 * 1024


class PngFormatError(ValueError):
    """The bytes are not a well-formed PNG chunk stream."""


@dataclass(frozen=True)
class Chunk:
    type: bytes
    data: bytes
    start: int  # offset of the length field
    end: int  # offset just after the CRC


def iter_chunks(data: bytes, *, check_crc: bool = False) -> Iterator[Chunk]:
    """Walk the chunks up to and including IEND; raise PngFormatError on a malformed stream."""
    if not data.startswith(PNG_SIGNATURE):
        raise PngFormatError("not a PNG")
    pos = len(PNG_SIGNATURE)
    view = memoryview(data)
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", view[pos:pos + 8])
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > len(data):
            raise PngFormatError("chunk runs past the end of the file")
        payload = bytes(view[pos + 8:pos + 8 + length])
        if check_crc:
            (crc,) = struct.unpack(">I", view[end - 4:end])
            if zlib.crc32(kind + payload) & 0xFFFFFFFF != crc:
                raise PngFormatError(f"bad CRC in {kind!r} chunk")
        yield Chunk(kind, payload, pos, end)
        if kind == b"IEND":
            return
        pos = end
    raise PngFormatError("no IEND chunk")


def make_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _keyword(key: str) -> bytes:
    raw = key.encode("latin-1")
    if not 1 <= len(raw) <= 79 or b"\x00" in raw:
        raise ValueError(f"invalid PNG keyword {key!r}")
    return raw


def text_chunk(key: str, value: str, *, force_itxt: bool = False) -> bytes:
    """tEXt when the value is Latin-1 (as Pillow's PngInfo.add_text does), else iTXt (UTF-8, uncompressed)."""
    value = value.replace("\x00", "")  # NUL separates fields in text chunks
    if not force_itxt:
        try:
            return make_chunk(b"tEXt", _keyword(key) + b"\x00" + value.encode("latin-1"))
        except UnicodeEncodeError:
            pass
    # iTXt: keyword NUL, compression flag 0, method 0, empty language NUL, empty translated keyword NUL, text.
    body = _keyword(key) + b"\x00\x00\x00\x00\x00" + value.encode("utf-8", "replace")
    return make_chunk(b"iTXt", body)


def _inflate(blob: bytes) -> bytes | None:
    """Decompress at most MAX_TEXT_CHUNK bytes; None when the chunk is larger (a huge ComfyUI workflow)."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(blob, MAX_TEXT_CHUNK)
    if inflater.unconsumed_tail:
        return None
    return out


def decode_text_chunk(chunk: Chunk) -> tuple[str, str | None]:
    """(keyword, text); text is None when a compressed chunk exceeds MAX_TEXT_CHUNK. Raises on bad chunks."""
    key_raw, sep, rest = chunk.data.partition(b"\x00")
    if not sep:
        raise PngFormatError("text chunk without keyword separator")
    key = key_raw.decode("latin-1")
    if chunk.type == b"tEXt":
        return key, rest.decode("latin-1")
    if chunk.type == b"zTXt":
        inflated = _inflate(rest[1:])
        return key, None if inflated is None else inflated.decode("latin-1")
    # iTXt
    if len(rest) < 2:
        raise PngFormatError("short iTXt chunk")
    compressed, rest = rest[0], rest[2:]
    _lang, _, rest = rest.partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    if compressed:
        inflated = _inflate(text)
        if inflated is None:
            return key, None
        text = inflated
    return key, text.decode("utf-8", "replace")


@dataclass(frozen=True)
class PngText:
    texts: dict[str, str]
    skipped: tuple[str, ...]  # keywords of chunks too large (or broken) to read


def read_text_chunks(data: bytes) -> PngText:
    """Every text chunk, before or after IDAT, without decoding pixels. First occurrence of a keyword wins."""
    texts: dict[str, str] = {}
    skipped: list[str] = []
    for chunk in iter_chunks(data):
        if chunk.type not in TEXT_TYPES:
            continue
        try:
            key, text = decode_text_chunk(chunk)
        except (PngFormatError, zlib.error, UnicodeDecodeError):
            skipped.append(chunk.data.partition(b"\x00")[0].decode("latin-1", "replace"))
            continue
        if text is None:
            skipped.append(key)
        elif key not in texts:
            texts[key] = text
    return PngText(texts, tuple(skipped))


def splice_text_chunks(data: bytes, chunks: Iterable[bytes], replace_keys: Iterable[str]) -> bytes:
    """Insert ready-made chunks before the first IDAT (so header-only readers see them) and drop existing text
    chunks whose keyword is in replace_keys. Every other byte, including IDAT, is copied unchanged."""
    drop = {k.encode("latin-1") for k in replace_keys}
    new = b"".join(chunks)
    parts: list[bytes] = [PNG_SIGNATURE]
    inserted = False
    for chunk in iter_chunks(data):
        if chunk.type in TEXT_TYPES and chunk.data.partition(b"\x00")[0] in drop:
            continue
        if not inserted and chunk.type in (b"IDAT", b"IEND"):
            parts.append(new)
            inserted = True
        parts.append(data[chunk.start:chunk.end])
    return b"".join(parts)


def strip_text_chunks(data: bytes) -> bytes:
    """The PNG without tEXt/zTXt/iTXt chunks: lets Pillow decode an image whose metadata it refuses."""
    parts = [PNG_SIGNATURE]
    parts.extend(data[c.start:c.end] for c in iter_chunks(data) if c.type not in TEXT_TYPES)
    return b"".join(parts)
