"""WWW-Authenticate parsing (RFC 7235): what registries send, and anything a grammar allows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ckos.adapters.sources.oci_challenges import Challenge, parse_challenges

HARBOR = (
    'Bearer realm="https://registry.egi.eu/service/token",service="harbor-registry",'
    'scope="repository:egi_vm_images/ubuntu:pull"'
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            HARBOR,
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "https://registry.egi.eu/service/token",
                        "service": "harbor-registry",
                        "scope": "repository:egi_vm_images/ubuntu:pull",
                    },
                )
            ],
        ),
        ('Basic realm="harbor"', [Challenge("basic", {"realm": "harbor"})]),
        (
            'BEARER Realm = "r", Scope="repository:a/b:pull,push", error=invalid_token',
            [
                Challenge(
                    "bearer", {"realm": "r", "scope": "repository:a/b:pull,push", "error": "invalid_token"}
                )
            ],
        ),
        (
            'Basic realm="a, b", Bearer realm="t"',
            [Challenge("basic", {"realm": "a, b"}), Challenge("bearer", {"realm": "t"})],
        ),
        (
            'Negotiate YWJj==, Basic realm="q\\"uote"',
            [Challenge("negotiate", {}), Challenge("basic", {"realm": 'q"uote'})],
        ),
        ("Basic", [Challenge("basic", {})]),
        ("", []),
        ('"not a challenge', []),
    ],
)
def test_challenges(header: str, expected: list[Challenge]) -> None:
    assert parse_challenges(header) == expected


_TOKEN = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+!#$%&'*^`|", min_size=1
)
_VALUE = st.text(alphabet=st.characters(codec="ascii", exclude_categories=["Cc"]))


@given(st.lists(st.tuples(_TOKEN, st.dictionaries(_TOKEN, _VALUE, max_size=4)), min_size=1, max_size=3))
def test_any_quoted_challenges_parse_back(challenges: list[tuple[str, dict[str, str]]]) -> None:
    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    header = ", ".join(
        f"{scheme} " + ", ".join(f"{name}={quoted(value)}" for name, value in params.items())
        for scheme, params in challenges
    )
    expected = []
    for scheme, params in challenges:
        lowered: dict[str, str] = {}
        for name, value in params.items():
            lowered.setdefault(name.lower(), value)
        expected.append(Challenge(scheme.lower(), lowered))
    assert parse_challenges(header) == expected
