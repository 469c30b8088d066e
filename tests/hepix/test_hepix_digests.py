"""The core's digests, checked against every vector recorded from the real Cloudkeeper core 2.0.0."""

from __future__ import annotations

import json
import math
import random
import re
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ckos.adapters.sources.hepix.digests import (
    appliance_digest,
    appliance_hash,
    image_digest,
    parse_json,
    to_json,
)
from ckos.adapters.sources.hepix.ruby import float_to_s, to_i
from ckos.domain.errors import SourceInvalid

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "core-digests"
EXPECTED = json.loads((VECTORS / "expected.json").read_text())["lists"]


def _cases() -> list[Any]:
    cases = []
    for name, recorded in EXPECTED.items():
        body: Any = parse_json((VECTORS / name).read_bytes())
        image_list = body["hv:imagelist"]
        entries = [item["hv:image"] for item in image_list["hv:images"]]
        assert len(entries) == len(recorded["appliances"])
        for entry, appliance in zip(entries, recorded["appliances"], strict=True):
            cases.append(pytest.param(image_list, entry, appliance, id=f"{name}:{appliance['identifier']}"))
    return cases


@pytest.mark.parametrize(("image_list", "entry", "recorded"), _cases())
def test_digests_match_the_core(image_list: Any, entry: Any, recorded: Any) -> None:
    merged = appliance_hash(
        entry,
        vo=image_list["ad:vo"],
        list_identifier=image_list["dc:identifier"],
        x509=image_list["hv:endorser"]["hv:x509"],
    )
    assert appliance_digest(merged) == recorded["digest"]
    assert image_digest(merged) == recorded["image"]["digest"]


def test_every_vector_file_is_covered() -> None:
    files = {path.name for path in VECTORS.glob("vectors-*.json")}
    assert files == set(EXPECTED)
    assert sum(len(recorded["appliances"]) for recorded in EXPECTED.values()) == 13


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a/b", '"a/b"'),
        ("<b> & </b>", '"\\u003cb\\u003e \\u0026 \\u003c/b\\u003e"'),
        ("\u2028\u2029", '"\\u2028\\u2029"'),
        ("\t\n\r\b\f\x01\x1f\x7f", '"\\t\\n\\r\\b\\f\\u0001\\u001f\x7f"'),
        ('"\\', '"\\"\\\\"'),
        ("é 🚀", '"é 🚀"'),
        ({"k": [1, 2.0, None, True, False, 1e20]}, '{"k":[1,2.0,null,true,false,1.0e+20]}'),
        (12345678901234567890123, "12345678901234567890123"),
        (math.inf, "null"),
    ],
)
def test_active_support_json(value: Any, expected: str) -> None:
    assert to_json(value) == expected


def test_duplicate_key_keeps_its_first_place_and_last_value() -> None:
    assert to_json(parse_json(b'{"a":1,"b":2,"a":3}')) == '{"a":3,"b":2}'


@pytest.mark.parametrize(
    "content",
    [
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":-Infinity}',
        b'\xef\xbb\xbf{"a":1}',
        b'{"a":"\xff"}',
        b'{"a":"\\ud800"}',
        b'{"a":"raw\ttab"}',
        b'{"a":1,}',
        b"[" * 100_000,
    ],
)
def test_what_ruby_refuses_is_refused(content: bytes) -> None:
    with pytest.raises(SourceInvalid):
        parse_json(content)


DOCUMENTED = {
    1.0: "1.0",
    0.1: "0.1",
    0.0001: "0.0001",
    100.0: "100.0",
    -0.0: "-0.0",
    123456789.123: "123456789.123",
    1e15: "1.0e+15",
    1e16: "1.0e+16",
    1e20: "1.0e+20",
    1e-05: "1.0e-05",
    5e-324: "5.0e-324",
    1.5e300: "1.5e+300",
    9999999999999998.0: "9.999999999999998e+15",
    1234567890123456.7: "1234567890123456.8",
    100000000000000.0: "100000000000000.0",
}


@pytest.mark.parametrize(("value", "expected"), DOCUMENTED.items())
def test_documented_floats(value: float, expected: str) -> None:
    assert float_to_s(value) == expected


RUBY_FLOAT = re.compile(r"-?(?:[0-9]+\.[0-9]+|[1-9]\.[0-9]+e[+-][0-9]{2,3})")


def _significant(text: str) -> str:
    """The significant digits of a decimal rendering (either notation)."""
    return re.sub(r"e.*|[.-]", "", text).strip("0")


any_float = st.floats(allow_nan=False, allow_infinity=False) | st.integers(0, 2**64 - 1).map(
    lambda bits: struct.unpack("<d", struct.pack("<Q", bits))[0]
).filter(math.isfinite)


@given(any_float)
@example(1e15)
@example(1e16)
@example(9999999999999998.0)
@example(1234567890123456.7)
@example(0.0001)
@example(0.00009999999999999999)
def test_float_to_s_follows_the_ruby_rule(value: float) -> None:
    text = float_to_s(value)
    assert RUBY_FLOAT.fullmatch(text), text
    assert float(text) == value
    assert math.copysign(1.0, float(text)) == math.copysign(1.0, value)
    # The shortest round-trip digits, never more (Ruby's dtoa mode 0 is Python's repr).
    assert _significant(text) == _significant(repr(value))
    magnitude, fixed = abs(value), "e" not in text
    if magnitude == 0 or 1e-4 <= magnitude < 1e15:
        assert fixed
    elif 1e15 <= magnitude < 1e16:  # decpt == 16: fixed only with 17 significant digits
        assert fixed == (len(_significant(repr(value))) == 17)
    else:
        assert not fixed


def test_float_to_s_and_to_i_agree_with_ruby() -> None:
    rng = random.Random(20250301)
    floats = [struct.unpack("<d", rng.randbytes(8))[0] for _ in range(3000)]
    floats = [value for value in floats if math.isfinite(value)] + [10.0**n for n in range(-330, 309)]
    texts = [" 12", "\v-3x", "+0d7", "1_0_0", "1__0", "_5", "\u00a05", "٣", "0x10", "-", "", "9" * 30]
    script = "STDIN.each_line { |l| v = eval(l); puts(v.is_a?(Float) ? v.to_s : v.to_i.to_s) }"
    lines = [repr(value) if "e" in repr(value) or "." in repr(value) else f"{value!r}.0" for value in floats]
    lines += [f"[{json.dumps(text)}].first" for text in texts]
    done = subprocess.run(
        ["ruby", "-e", script], input="\n".join(lines), capture_output=True, text=True, check=True
    )
    mine = [float_to_s(value) for value in floats] + [str(to_i(text)) for text in texts]
    assert done.stdout.splitlines() == mine
