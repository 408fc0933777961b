"""A small XMP packet for JPEG/WebP: dc:description = the infotext, a private property = our JSON."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape

STUDIO_NS = "https://ai-images-studio.app/ns/1.0/"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_DC = "http://purl.org/dc/elements/1.1/"
_X = "adobe:ns:meta/"
# Characters XML 1.0 cannot carry at all, even escaped (controls except tab/newline/CR, lone surrogates...).
_XML_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    """Escape for element content and attributes; drop characters XML cannot represent."""
    # A raw CR would be normalised to LF by every XML parser; the character reference survives.
    return escape(_XML_INVALID.sub("", value), {'"': "&quot;", "'": "&apos;", "\r": "&#13;"})


def build_xmp(parameters: str, studio_json: str) -> bytes:
    """An XMP packet (UTF-8). studio_json is stored as text; json.dumps(ensure_ascii=True) keeps it exact."""
    description = ""
    if parameters:
        description = (f"<dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">{xml_text(parameters)}"
                       "</rdf:li></rdf:Alt></dc:description>")
    studio = f"<aistudio:generation>{xml_text(studio_json)}</aistudio:generation>" if studio_json else ""
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        f'<x:xmpmeta xmlns:x="{_X}">'
        f'<rdf:RDF xmlns:rdf="{_RDF}">'
        f'<rdf:Description rdf:about="" xmlns:dc="{_DC}" xmlns:aistudio="{STUDIO_NS}">'
        f"{description}{studio}"
        "</rdf:Description></rdf:RDF></x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return packet.encode("utf-8")


@dataclass(frozen=True)
class XmpFields:
    parameters: str  # "" when the packet is not ours or has no description
    studio_json: str


def parse_xmp(packet: bytes) -> XmpFields:
    """Read our two fields. Packets with a DTD are refused outright (XMP never needs one; entity expansion
    is the classic XML attack). Unparseable packets give empty fields."""
    if b"<!DOCTYPE" in packet or b"<!ENTITY" in packet:
        return XmpFields("", "")
    try:
        root = ET.fromstring(packet.decode("utf-8", "replace").strip("\x00 \r\n\ufeff"))
    except ET.ParseError:
        return XmpFields("", "")
    studio = ""
    description = ""
    for desc in root.iter(f"{{{_RDF}}}Description"):
        element = desc.find(f"{{{STUDIO_NS}}}generation")
        if element is not None and element.text:
            studio = element.text
        elif desc.get(f"{{{STUDIO_NS}}}generation"):  # a rewriter may turn simple properties into attributes
            studio = desc.get(f"{{{STUDIO_NS}}}generation", "")
        li = desc.find(f"{{{_DC}}}description/{{{_RDF}}}Alt/{{{_RDF}}}li")
        if li is not None and li.text:
            description = li.text
    # dc:description is a caption in other tools' files; only treat it as an infotext in our own packets.
    return XmpFields(description if studio else "", studio)
