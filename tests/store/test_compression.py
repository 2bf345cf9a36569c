"""Stored diagnose responses: compressed with a pinned dictionary, and every format ever written stays readable."""

from __future__ import annotations

import hashlib
import zlib

import pytest

from app.store import compression
from app.store.models import dump_json


def test_dictionaries_are_the_pinned_ones():
    from app.store import (
        response_dictionary_v1,
        response_dictionary_v2,
        response_dictionary_v3,
        response_dictionary_v4,
    )

    for version, module in ((1, response_dictionary_v1), (2, response_dictionary_v2), (3, response_dictionary_v3),
                            (4, response_dictionary_v4)):
        assert hashlib.sha256(module.DICTIONARY).hexdigest() == module.SHA256 == compression._PINNED[version]


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


@pytest.mark.parametrize("version", [1, 2, 3])
def test_values_written_with_an_older_dictionary_stay_readable(diagnosis, version):
    """Encounters stored by older releases (dictionary 2: bundle 2026.11.1; 3: 2026.11.2) read back after an update."""
    _, response = diagnosis
    raw = dump_json(response).encode("utf-8")
    compressor = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, compression.dictionary(version))
    written_by_an_older_version = bytes([version]) + compressor.compress(raw) + compressor.flush()
    assert compression.unpack(written_by_an_older_version) == raw
