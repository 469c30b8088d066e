"""`WWW-Authenticate` challenges (RFC 7235), parsed generically.

A header may hold several challenges, each a scheme then either a token68 or comma-separated
parameters whose values may be quoted strings holding commas, spaces and escaped quotes; scopes
such as `repository:a/b:pull,push` are one such value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from attrs import frozen

_TCHARS = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_SCHEME = re.compile(rf"[\s,]*({_TCHARS})")
_TOKEN68 = re.compile(r"[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*(?=,|$)")
_PARAM = re.compile(rf'[\s,]*({_TCHARS})[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"|{_TCHARS})')
_ESCAPE = re.compile(r"\\(.)")


@frozen
class Challenge:
    scheme: str  # lower-case: "bearer", "basic"
    params: Mapping[str, str]  # names lower-case, values unquoted


def parse_challenges(header: str) -> list[Challenge]:
    """Every challenge of the header, in order; what cannot be parsed ends the list."""
    challenges: list[Challenge] = []
    position = 0
    while scheme := _SCHEME.match(header, position):
        position = scheme.end()
        params: dict[str, str] = {}
        if token68 := _TOKEN68.match(header, position):
            position = token68.end()
        else:
            while param := _PARAM.match(header, position):
                name, value = param[1].lower(), param[2]
                if value.startswith('"'):
                    value = _ESCAPE.sub(r"\1", value[1:-1])
                params.setdefault(name, value)
                position = param.end()
        challenges.append(Challenge(scheme[1].lower(), params))
    return challenges
