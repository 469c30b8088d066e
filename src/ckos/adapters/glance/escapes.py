"""Text Glance can store: it refuses 4-byte UTF-8 characters (emoji...) in names and properties.

Glance answers HTTP 400 "can't contain 4 byte unicode characters" to any name, property name
or value holding a character beyond U+FFFF (it keeps MySQL's 3-byte utf8 working). An image
list may well hold one in a title or description, so the codec writes each such character as
the escape `\\U` + 8 hex digits (Python's own spelling) and reads it back.

One ambiguity is accepted: a text that already held such an escape, literally, reads back as
the character it names. Nothing else is touched, so ordinary text is stored as it is.
"""

from __future__ import annotations

import re

_BEYOND_BMP = re.compile("[\U00010000-\U0010ffff]")
_ESCAPE = re.compile(r"\\U([0-9a-fA-F]{8})")


def storable(text: str) -> str:
    """The text with every character Glance refuses written as an escape."""
    return _BEYOND_BMP.sub(lambda match: f"\\U{ord(match.group()):08x}", text)


def readable(text: str) -> str:
    """The text storable() was given back: escapes of characters beyond U+FFFF undone."""
    return _ESCAPE.sub(_unescaped, text)


def json_storable(text: str) -> str:
    """JSON text with every character Glance refuses as a JSON surrogate pair escape.

    JSON readers decode `\\ud83d\\ude80` to the character itself, so the document keeps
    meaning exactly what it said. Only valid on JSON text: such characters can appear only
    inside its strings.
    """
    return _BEYOND_BMP.sub(lambda match: _surrogates(ord(match.group())), text)


def refused(text: str) -> bool:
    """Whether Glance refuses the text."""
    return _BEYOND_BMP.search(text) is not None


def _unescaped(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    return chr(code) if 0x10000 <= code <= 0x10FFFF else match.group()


def _surrogates(code: int) -> str:
    offset = code - 0x10000
    return f"\\u{0xD800 + (offset >> 10):04x}\\u{0xDC00 + (offset & 0x3FF):04x}"
