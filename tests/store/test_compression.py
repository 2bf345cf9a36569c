"""Stored diagnose responses: compressed with a pinned dictionary, and every format ever written stays readable."""

from __future__ import annotations

import hashlib
import zlib

import pytest

from app.store import compression
from app.store.models import dump_json


def test_dictionary_is_the_pinned_one():
    from app.store.response_dictionary_v1 import DICTIONARY, SHA256

    assert hashlib.sha256(DICTIONARY).hexdigest() == SHA256 == compression._PINNED[1]


def test_response_round_trips_small(diagnosis):
    _, response = diagnosis
    raw = dump_json(response).encode("utf-8")
    packed = compression.pack(raw)
    assert packed[0] == compression.CURRENT
    assert compression.unpack(packed) == raw
    assert len(packed) < len(zlib.compress(raw, 9)) / 2  # the dictionary earns its keep
    assert len(packed) < 1000


def test_plain_zlib_values_stay_readable(diagnosis):
    raw = dump_json(diagnosis[1]).encode("utf-8")
    assert compression.unpack(zlib.compress(raw, 6)) == raw


def test_unknown_format_fails_loudly():
    with pytest.raises(ValueError, match="unknown compression dictionary"):
        compression.unpack(b"\x07garbage")
