"""Search-box text -> safe FTS5 MATCH strings.

Every term is emitted as a double-quoted FTS5 string, so operators and punctuation typed by the user
(`"`, `:`, `*`, `(`, `-`, `^`, AND/NOT/NEAR) are literal text and the query can never be an FTS5 syntax
error.
Grammar: words and "quoted phrases" must all match; `a OR b` (upper-case OR) matches either;
`-word` / `-"a phrase"` excludes; the last word is a
prefix ("neon cit" finds "neon city") unless it is shorter than 3 characters or the text ends with a space
or a closed quote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX_MIN_CHARS = 3  # "w1*" expands to ~1000 terms (280 ms at 100k rows); 3+ characters stay cheap

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A token: optional "-", then a quoted phrase (closing quote optional while typing) or a run of non-space.
_TOKEN = re.compile(r'(-?)(?:"([^"]*)("?)|(\S+))')


@dataclass(frozen=True)
class FtsQuery:
    include: str | None  # MATCH string every result must satisfy, None = no positive terms
    exclude: str | None  # MATCH string no result may satisfy


def _quote(text: str) -> str | None:
    # The tokenizer drops punctuation anyway; a phrase with no word characters would match nothing.
    # NUL ends the string for FTS5's parser ("unterminated string"); other controls are noise too.
    cleaned = " ".join(_CONTROL.sub(" ", text.replace('"', " ")).split())
    if not any(ch.isalnum() for ch in cleaned):
        return None
    return f'"{cleaned}"'


def build_fts_query(text: str) -> FtsQuery:
    groups: list[list[str]] = []  # every group must match; a group matches when any alternative does
    exclude: list[str] = []
    matches = list(_TOKEN.finditer(text))
    join_next = False
    for index, m in enumerate(matches):
        negative, phrase, closed, word = m.group(1), m.group(2), m.group(3), m.group(4)
        if word == "OR" and not negative:
            # "castle OR palace": either word (upper-case OR, as in web search); a dangling OR is ignored.
            join_next = bool(groups) and index < len(matches) - 1
            continue
        quoted = _quote(phrase if phrase is not None else word or "")
        if quoted is None:
            continue
        if negative:
            exclude.append(quoted)
            continue
        is_last = index == len(matches) - 1
        open_ended = word is not None or not closed
        if (is_last and open_ended and not text[-1:].isspace()
                and len(quoted.rsplit(" ", 1)[-1].strip('"')) >= PREFIX_MIN_CHARS):
            quoted += " *"
        if join_next:
            groups[-1].append(quoted)
            join_next = False
        else:
            groups.append([quoted])
    include = " ".join(g[0] if len(g) == 1 else "(" + " OR ".join(g) + ")" for g in groups)
    return FtsQuery(include=include or None, exclude=" OR ".join(exclude) or None)
