"""AUTOMATIC1111 / Forge "infotext" (the `parameters` text): writer and tolerant reader (providers.md 9.1)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

# A1111's own pattern for one `Key: value` pair; quoted values may contain commas, colons and escaped quotes.
PARAM_RE = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_SIZE_RE = re.compile(r"^(\d+)x(\d+)$")
_NEGATIVE = "Negative prompt:"


def _quote(value: str) -> str:
    """A1111's quote(): JSON-quote values containing `,`, `:` or a newline, write others raw. Also quote a
    value starting with `"`, which readers would otherwise unquote."""
    if "," not in value and ":" not in value and "\n" not in value and not value.startswith('"'):
        return value
    return json.dumps(value, ensure_ascii=False)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return decoded if isinstance(decoded, str) else value
    return value


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _clean_key(key: str) -> str:
    # A key with `:`, `,` or a newline would break the pair syntax for every reader.
    return re.sub(r"[,:\r\n]+", " ", str(key)).strip()


def format_a1111_parameters(prompt: str, negative: str, fields: Mapping[str, Any]) -> str:
    """The infotext exactly as A1111's create_infotext lays it out.

    fields are written in their given order (pass Steps, Sampler, CFG scale, Seed, Size, Model, then extras
    such as Provider); None values are skipped, a value equal to its key is written bare.
    """
    pairs = []
    for raw_key, raw_value in fields.items():
        if raw_value is None or raw_value == "":
            continue
        key = _clean_key(raw_key)
        if not key:
            continue
        value = _value_text(raw_value)
        pairs.append(key if key == value else f"{key}: {_quote(value)}")
    negative_text = f"\n{_NEGATIVE} {negative}" if negative else ""
    return f"{prompt}{negative_text}\n{', '.join(pairs)}".strip()


def _split_params_line(lines: list[str]) -> tuple[list[str], str]:
    """The last line holds the parameters only when A1111's pattern finds at least three pairs in it."""
    if lines and len(PARAM_RE.findall(lines[-1])) >= 3:
        return lines[:-1], lines[-1]
    return lines, ""


def parse_a1111_parameters(text: str) -> dict[str, Any]:
    """Parse an infotext into {"prompt", "negative_prompt", <raw key>: <unquoted str>, ...}.

    Follows A1111's parse_generation_parameters: lines before `Negative prompt:` are the prompt, that line and
    the following non-parameter lines the negative prompt, the last line the `Key: value` list if it has >= 3
    pairs. Quoted values are JSON-unquoted; `Size: WxH` also yields "width"/"height" ints. Never raises.
    """
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    result: dict[str, Any] = {"prompt": "", "negative_prompt": ""}
    if not text:
        return result
    lines, params_line = _split_params_line(text.split("\n"))
    prompt: list[str] = []
    negative: list[str] = []
    in_negative = False
    for line in lines:
        line = line.strip()
        if not in_negative and line.startswith(_NEGATIVE):
            in_negative = True
            line = line[len(_NEGATIVE):].strip()
        (negative if in_negative else prompt).append(line)
    result["prompt"] = "\n".join(prompt).strip()
    result["negative_prompt"] = "\n".join(negative).strip()
    for key, raw in PARAM_RE.findall(params_line):
        key = key.strip()
        if key in ("prompt", "negative_prompt"):
            continue  # never let a stray pair overwrite the parsed prompt
        value = _unquote(raw.strip())
        result[key] = value
        size = _SIZE_RE.match(value) if key == "Size" else None
        if size:
            result["width"], result["height"] = int(size.group(1)), int(size.group(2))
    return result
