"""The Cloudkeeper core 2.0's two change-detection digests, byte for byte.

The core hashes (SHA-512, hex) ActiveSupport's `to_json` of a subset of each list entry: the
appliance digest over the descriptive keys, the image digest over the keys of the image itself.
A site switching from the core to the standalone sync keeps its images only if ckos computes
the very same strings; the rules are in ../shared/fixtures/core-digests/README.md.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping

from ckos.adapters.sources.hepix.ruby import JsonValue, float_to_s
from ckos.domain.errors import SourceInvalid

APPLIANCE_KEYS = frozenset(
    {
        "dc:identifier",
        "ad:mpuri",
        "dc:date:expires",
        "dc:title",
        "dc:description",
        "ad:group",
        "hv:ram_minimum",
        "hv:core_minimum",
        "hv:version",
        "sl:arch",
        "ad:base_mpuri",
        "ad:appid",
        "sl:os",
        "sl:osname",
        "sl:osversion",
    }
)
IMAGE_KEYS = frozenset({"hv:uri", "sl:checksum:sha512", "hv:size", "hv:version"})

# ActiveSupport's EscapedString, applied after the JSON gem's own escaping.
_HTML_SAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def parse_json(content: bytes) -> JsonValue:
    """The document as Ruby's `JSON.parse` reads it: key order kept, a duplicate key keeps its
    first position and takes its last value; NaN, Infinity, a BOM or invalid UTF-8 are refused."""
    if content.startswith(b"\xef\xbb\xbf"):
        raise SourceInvalid("the image list starts with a byte order mark")
    try:
        text = content.decode("utf-8")
        value: JsonValue = json.loads(text, object_pairs_hook=dict, parse_constant=_refuse_constant)
        # A lone surrogate (`"\ud800"`) parses in Python, not in Ruby, and cannot be hashed.
        _check_text(value)
    except RecursionError:
        raise SourceInvalid("the image list is nested too deeply") from None
    except UnicodeError:
        raise SourceInvalid("the image list is not valid UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise SourceInvalid(f"the image list is not JSON: {error}") from None
    return value


def _refuse_constant(name: str) -> JsonValue:
    raise SourceInvalid(f"the image list holds {name}, which JSON does not allow")


def _check_text(value: JsonValue) -> None:
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, list):
        for item in value:
            _check_text(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            key.encode("utf-8")
            _check_text(item)


def to_json(value: JsonValue) -> str:
    """ActiveSupport 5.2 `to_json`: compact, non-ASCII raw, `< > & U+2028 U+2029` escaped,
    floats as Ruby prints them and non-finite floats as null."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).translate(_HTML_SAFE)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_to_s(value) if math.isfinite(value) else "null"
    if isinstance(value, list):
        return "[" + ",".join(to_json(item) for item in value) + "]"
    return "{" + ",".join(f"{to_json(key)}:{to_json(item)}" for key, item in value.items()) + "}"


def appliance_hash(
    image: Mapping[str, JsonValue],
    *,
    vo: JsonValue,
    list_identifier: JsonValue,
    x509: Mapping[str, JsonValue],
) -> dict[str, JsonValue]:
    """The hash the core builds per `hv:image`: the entry in list order, then `vo` and
    `image_list_identifier`, then the endorser's `hv:x509` keys merged in (`Hash#merge!`: a key
    already there keeps its place and takes the endorser's value)."""
    merged = dict(image)
    merged["vo"] = vo
    merged["image_list_identifier"] = list_identifier
    merged.update(x509)
    return merged


def _digest(entry: Mapping[str, JsonValue], keys: frozenset[str]) -> str:
    selected = {key: value for key, value in entry.items() if key in keys}
    return hashlib.sha512(to_json(selected).encode("utf-8")).hexdigest()


def appliance_digest(entry: Mapping[str, JsonValue]) -> str:
    """The core's `Appliance#digest` of an appliance hash (the entry with the endorser merged in)."""
    return _digest(entry, APPLIANCE_KEYS)


def image_digest(entry: Mapping[str, JsonValue]) -> str:
    """The core's `Image#digest` of the same hash."""
    return _digest(entry, IMAGE_KEYS)
