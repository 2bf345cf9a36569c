"""The examination signs of contract v2: a closed vocabulary kept as data (`data/signs.toml`), each with a source.

The signs belong to the contract, not to a model bundle: the danger-sign rules read them whatever bundle is
installed, so an older bundle whose models never saw a sign still triages a child with chest indrawing correctly.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SIGNS_FILE = Path(__file__).resolve().parent / "data" / "signs.toml"


@dataclass(frozen=True, slots=True)
class Sign:
    code: str
    group: str
    label: dict[str, str]
    source: str


@dataclass(frozen=True, slots=True)
class SignVocabulary:
    groups: dict[str, dict[str, str]]  # group key -> {"es", "en"}, in the order screens show them
    signs: tuple[Sign, ...]

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(s.code for s in self.signs)

    def sign(self, code: str) -> Sign:
        for s in self.signs:
            if s.code == code:
                return s
        raise KeyError(code)

    def by_group(self) -> list[tuple[str, list[Sign]]]:
        return [(g, [s for s in self.signs if s.group == g]) for g in self.groups]


@cache
def signs() -> SignVocabulary:
    data = tomllib.loads(SIGNS_FILE.read_text(encoding="utf-8"))
    vocabulary = SignVocabulary(
        groups={k: dict(v) for k, v in data["groups"].items()},
        signs=tuple(Sign(s["code"], s["group"], dict(s["label"]), s["source"]) for s in data["sign"]),
    )
    unknown = {s.group for s in vocabulary.signs} - set(vocabulary.groups)
    if unknown:  # pragma: no cover - caught by tests/core/test_contract_v2.py
        raise ValueError(f"signs.toml: unknown groups {sorted(unknown)}")
    return vocabulary
