"""Limits on JSON bodies, checked on the raw bytes before any parser sees them.

Python's `json` module accepts what breaks the code after it: nesting a few thousand levels deep (RecursionError in
the parser or in whatever walks the result), integers of thousands of digits (OverflowError, or seconds of CPU to
convert), `NaN` and `Infinity` (not JSON at all), and escaped lone surrogates such as "\\ud800" (a str that cannot be
encoded again, so writing the error about it failed). `check_json` refuses those with a `JsonRefused` naming the rule,
in a few linear passes over the bytes that never recurse; `server.api.middleware.RequestBodyGuard`
runs it on every JSON API body, so each route — /v1/predict included — only ever parses bodies that passed.

Anything else that is not valid JSON is left to the route's own parser, which reports it in the route's usual way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np

_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"?', re.DOTALL)  # an unterminated string runs to the end
_SURROGATE_HINT = re.compile(rb"\\u[dD][89a-fA-F]")
# An exponent of 309 or more (or 1000 and more with leading zeros) overflows a float for any mantissa a client would
# write; "0.001e309", finite but absurd, is refused with them.
_OVERFLOWING_EXPONENT = re.compile(rb"[eE]\+?0*(?:[1-9][0-9]{3,}|309|3[1-9][0-9]|[4-9][0-9]{2})(?![0-9])")
_AS_NUMBER_RUN = bytes(ord("n") if chr(b) in "0123456789.eE+-" else ord(" ") for b in range(256))
_AS_EXPONENT = bytes(ord("0") if chr(b).isdigit() else ord("e") if chr(b) in "eE" else b if chr(b) == "+" else ord(" ")
                     for b in range(256))
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEPS = bytes.maketrans(b"[{]}", bytes([1, 1, 255, 255]))  # +1 and -1 as int8


@dataclass(frozen=True, slots=True)
class JsonLimits:
    max_depth: int = 32
    max_number_chars: int = 32


class JsonRefused(ValueError):
    """A body refused before parsing; `code` is the API error code and the message says which rule, never the body."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _has_lone_surrogate(body: bytes) -> bool:
    """Whether a string of `body` escapes half of a surrogate pair without the other half.

    The strings are decoded together by json itself (one array, depth one: nothing to recurse into), which is the
    only exact reading of escapes; a lone half then cannot be encoded as UTF-8.
    """
    try:
        texts = json.loads(b"[" + b",".join(_STRING.findall(body)) + b"]")
    except ValueError:
        return False  # a string that is not valid JSON: the route's parser refuses the body anyway
    try:
        "".join(texts).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _deeper_than(structure: bytes, limit: int) -> bool:
    """Whether the brackets of `structure` (a JSON text with its strings emptied) nest deeper than `limit`."""
    brackets = structure.translate(None, _NOT_BRACKETS)
    if brackets.count(b"[") + brackets.count(b"{") <= limit:  # the usual request: too few to nest that deep
        return False
    steps = np.frombuffer(brackets.translate(_BRACKET_STEPS), dtype=np.int8)
    return int(np.cumsum(steps, dtype=np.int32).max()) > limit


def check_json(body: bytes, limits: JsonLimits) -> None:
    """Raise JsonRefused when `body` breaks a limit; return quietly otherwise (it may still be invalid JSON).

    Every step is a C-level pass over the bytes (regular expressions, translate, a cumulative sum), so a megabyte of
    the worst input costs milliseconds, not the seconds a token-by-token Python loop would.
    """
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonRefused("invalid_json", "The body is not UTF-8 text (JSON must be UTF-8).") from None
    if _SURROGATE_HINT.search(body) and _has_lone_surrogate(body):
        raise JsonRefused("invalid_json", "A string escapes half of a Unicode surrogate pair (\\ud800 to \\udfff "
                          "alone), which is not text.")
    # Brackets, digits and words inside strings are text, not structure: empty every string first.
    structure = _STRING.sub(b'""', body)
    if b"NaN" in structure or b"Infinity" in structure:
        raise JsonRefused("invalid_json", "NaN and Infinity are not JSON numbers.")
    if b"n" * (limits.max_number_chars + 1) in structure.translate(_AS_NUMBER_RUN):
        raise JsonRefused("number_too_long", f"A number is written with more than {limits.max_number_chars} "
                          "characters.")
    exponents = structure.translate(_AS_EXPONENT)
    if (b"e000" in exponents or b"e+000" in exponents) and _OVERFLOWING_EXPONENT.search(structure):
        raise JsonRefused("number_out_of_range", "A number is too large to be represented.")
    if _deeper_than(structure, limits.max_depth):
        raise JsonRefused("json_too_deep", f"The JSON is nested more than {limits.max_depth} levels deep.")
