"""How the diagnose responses stored with each encounter are compressed.

A response is about 4.4 KB of JSON, most of it the same keys, state and condition names, recommendations and
explanation feature names every time. Plain zlib brings one to about 2 KB, which on 4 KB encrypted pages means one
encounter per page; zlib with a preset dictionary of typical responses brings it to about 0.5 KB. A stored value
starts with one byte saying how it was written, so dictionaries can be added later without migrating old rows:

- 0x78 ... (a zlib header): plain zlib (kept readable forever);
- 0x01 + zlib stream compressed with dictionary version 1 (app/store/response_dictionary_v1.py);
- 0x02 + zlib stream compressed with dictionary version 2 (contract v2 answers: triage, scores, 63 conditions);
- 0x03 + zlib stream compressed with dictionary version 3 (bundle 2026.11.2's answers: a retrained model orders its
  explanations differently, and version 2 then saved little: 1.9 KB a response instead of 0.7 KB);
- 0x04 + zlib stream compressed with dictionary version 4 (bundle 2026.11.3's answers, for the same reason).

The zlib stream records the adler-32 of its dictionary, so data read with the wrong dictionary fails loudly
instead of decoding to garbage; the dictionary's SHA-256 is pinned here and checked by the tests.
"""

from __future__ import annotations

import hashlib
import zlib
from functools import cache

CURRENT = 4
_PINNED = {1: "3bd89a220a8c7e03ed0051e4feb72b2d236926372c8deef0b1494f774aecb54e",
           2: "656e93e3cdec3635f0648da60562dd14ec2d81f67d69c729bc65cb3a26ea007f",
           3: "039df91a59405318e9522a7b625308bed4f400a0899e5512d7ede5202b295fc8",
           4: "989cf76905e5a21c3ee7326b62a8bff2af316abb9bbd5a6b0c7ebe817148fd49"}


@cache
def dictionary(version: int) -> bytes:
    if version == 1:
        from app.store.response_dictionary_v1 import DICTIONARY
    elif version == 2:
        from app.store.response_dictionary_v2 import DICTIONARY
    elif version == 3:
        from app.store.response_dictionary_v3 import DICTIONARY
    elif version == 4:
        from app.store.response_dictionary_v4 import DICTIONARY
    else:
        raise ValueError(f"unknown compression dictionary {version}")
    if hashlib.sha256(DICTIONARY).hexdigest() != _PINNED[version]:
        raise ValueError(f"compression dictionary {version} is not the pinned one; responses would be unreadable")
    return DICTIONARY


def pack(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, dictionary(CURRENT))
    return bytes([CURRENT]) + compressor.compress(data) + compressor.flush()


def unpack(blob: bytes) -> bytes:
    if blob[:1] == b"\x78":
        return zlib.decompress(blob)
    decompressor = zlib.decompressobj(15, dictionary(blob[0]))
    return decompressor.decompress(blob[1:]) + decompressor.flush()
