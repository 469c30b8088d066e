"""Ruby's conversions of list values, as the Cloudkeeper core 2.0 applies them.

The core reads the list with Ruby's JSON parser and builds each appliance with `to_s`, `to_i`,
`strip` and `Time.strptime`; ckos must give the same strings and numbers for the same list, or a
site switching from the core to the standalone sync would see every appliance as changed.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal

from ckos.domain.errors import SourceInvalid

JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]

# Ruby's ISSPACE for String#to_i, and what String#strip removes (NUL only at the ends).
_SPACE = " \t\n\v\f\r"
_STRIPPED = _SPACE + "\0"
# Base 10 also takes Ruby's `0d` prefix ("0d12".to_i == 12).
_LEADING_INTEGER = re.compile(r"([+-]?)(?:0[dD](?=[0-9]))?([0-9]+(?:_[0-9]+)*)")
_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})T([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})Z")


def float_to_s(value: float) -> str:
    """Ruby `Float#to_s`: shortest round-trip digits, exponent form outside 1e-4 <= |x| < 1e16."""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return f"{sign}0.0"
    # Python's repr holds the same shortest digits as Ruby's dtoa (mode 0).
    parts = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, parts.digits)).rstrip("0")
    exponent = int(parts.exponent) + len(parts.digits) - len(digits)
    decpt = exponent + len(digits)  # value = 0.DIGITS x 10**decpt
    if -4 < decpt <= 0:
        return f"{sign}0.{'0' * -decpt}{digits}"
    if 0 < decpt < len(digits):  # at most 17 digits, so decpt <= 16
        return f"{sign}{digits[:decpt]}.{digits[decpt:]}"
    if len(digits) <= decpt < 16:
        return f"{sign}{digits}{'0' * (decpt - len(digits))}.0"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}e{decpt - 1:+03d}"


def to_s(value: JsonValue, key: str = "") -> str:
    """Ruby `to_s` of a parsed value (nil is empty); arrays and objects are refused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_to_s(value)
    # Ruby would print its own inspect form of the structure; no publisher sends one.
    raise SourceInvalid(f"{key} is a JSON {type(value).__name__}, not a text")


def to_i(value: JsonValue, key: str = "") -> int:
    """Ruby `to_i`: a string's leading integer (ASCII digits, single `_` between them), nil is 0."""
    if value is None:
        return 0
    if isinstance(value, str):
        match = _LEADING_INTEGER.match(value.lstrip(_SPACE))
        return int(match[1] + match[2].replace("_", "")) if match else 0
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    # true.to_i, [].to_i, Infinity.to_i: the core fails on these.
    raise SourceInvalid(f"{key} is not a number: {value!r}")


def strip(text: str) -> str:
    """Ruby `String#strip`: ASCII whitespace and NUL only (not NBSP, not U+2028)."""
    return text.strip(_STRIPPED)


def blank(value: JsonValue) -> bool:
    """ActiveSupport `blank?`: nil, false, empty or whitespace-only strings, empty arrays and objects."""
    if value is None or value is False:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | dict):
        return not value
    return False


def unix_time(value: JsonValue, key: str) -> int:
    """A list date `YYYY-MM-DDTHH:MM:SSZ` (zero padding optional) as Unix seconds, read as UTC.

    The core parsed it in its host's time zone; ckos reads the `Z` for what it says.
    """
    text = to_s(value, key)
    match = _DATE.fullmatch(text)
    try:
        if not match:
            raise ValueError(text)
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise SourceInvalid(f"{key} is not a date YYYY-MM-DDTHH:MM:SSZ: {text!r}") from None
    return int(moment.timestamp())
