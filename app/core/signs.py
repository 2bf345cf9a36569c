"""The examination signs of contract v2: a closed vocabulary kept as data (`data/signs.toml`), each with a source.

The signs belong to the contract, not to a model bundle: the danger-sign rules read them whatever bundle is
installed, so an older bundle whose models never saw a sign still triages a child with chest indrawing correctly.

Each sign also says the ages it applies to (from its source: IMCI's young infant is under 2 months, its sick child
2 months to 5 years...). The ages choose what the examination checklist offers and what `next_findings` proposes, so
a 78-year-old is not offered "unable to breastfeed"; they never refuse a request nor silence a danger-sign rule (the
doctor saw the sign, whatever the book's age range).

A sign of one sex only (vaginal bleeding) says so with `sex`, and the same screens and `next_findings` leave it out
for the other sex, so a man is never offered nor asked about vaginal bleeding. Like the ages, the sex refuses no
request and silences no rule. A sex not given yet (None) hides nothing.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from app.core.age import AGE_RANGE, DAYS_PER_YEAR

SIGNS_FILE = Path(__file__).resolve().parent / "data" / "signs.toml"
# An age as signs.toml writes it: "0 days", "2 months", "5 years" (the units the doctor says aloud).
_AGE = re.compile(r"^(\d+(?:\.\d+)?) (days?|months?|years?)$")
_PER_YEAR = {"day": DAYS_PER_YEAR, "month": 12.0, "year": 1.0}
SEXES = ("F", "M")  # the contract's `sex` values


@dataclass(frozen=True, slots=True)
class Sign:
    code: str
    group: str
    label: dict[str, str]
    source: str
    min_age: float = 0.0  # years, inclusive
    below_age: float = math.inf  # years, exclusive: a child of exactly 5 is no longer "2 months up to 5 years"
    ages_note: str = ""  # why these ages (above all where a children's source is kept for every age)
    sex: str | None = None  # "F" or "M" for a sign of one sex only; None: every sex
    sex_note: str = ""  # why that sex, where it is not plain

    def applies_at(self, age: float | None, sex: str | None = None) -> bool:
        """Whether the sign is one to look for at this age (years, as the contract gives it) and sex ("F"/"M"); an
        unknown age or sex (None) hides nothing by it: nothing is hidden before the doctor says who the patient is."""
        return ((age is None or self.min_age <= age < self.below_age)
                and (sex is None or self.sex is None or sex == self.sex))

    @property
    def every_age(self) -> bool:
        return self.min_age <= 0.0 and self.below_age == math.inf


@dataclass(frozen=True, slots=True)
class SignVocabulary:
    groups: dict[str, dict[str, str]]  # group key -> {"es", "en"}, in the order screens show them
    signs: tuple[Sign, ...]
    _by_code: dict[str, Sign] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {s.code: s for s in self.signs})  # `applies` runs per candidate

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(s.code for s in self.signs)

    def sign(self, code: str) -> Sign:
        return self._by_code[code]

    def by_group(self) -> list[tuple[str, list[Sign]]]:
        return [(g, [s for s in self.signs if s.group == g]) for g in self.groups]

    def applies(self, code: str, age: float | None, sex: str | None = None) -> bool:
        """Whether sign `code` is one to look for at `age` in a patient of `sex` (see `Sign.applies_at`)."""
        return self._by_code[code].applies_at(age, sex)

    def for_patient(self, age: float | None, sex: str | None) -> list[Sign]:
        """The signs to look for in a patient of this age and sex, in the vocabulary's order."""
        return [s for s in self.signs if s.applies_at(age, sex)]

    def for_age(self, age: float | None) -> list[Sign]:
        """The signs to look for at `age` whatever the sex, in the vocabulary's order."""
        return self.for_patient(age, None)


def _years(text: Any, where: str) -> float:
    match = _AGE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"signs.toml: {where} must be an age such as \"0 days\", \"2 months\" or \"5 years\", "
                         f"not {text!r}")
    number, unit = float(match.group(1)), match.group(2).rstrip("s")
    return number / _PER_YEAR[unit]


def parse_ages(raw: Any, code: str) -> tuple[float, float]:
    """A sign's `ages` as (from, below) in contract years; every mistake is named with the sign's code."""

    where = f"sign {code!r}: ages"
    if raw is None:
        raise ValueError(f"signs.toml: sign {code!r} has no ages: write ages = \"all\" or "
                         f"ages = {{ from = \"2 months\", below = \"5 years\" }}, as its source says")
    if raw == "all":
        return 0.0, math.inf
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"signs.toml: {where} must be \"all\" or a table with from and/or below, not {raw!r}")
    unknown = set(raw) - {"from", "below"}
    if unknown:
        raise ValueError(f"signs.toml: {where} has unknown keys {sorted(unknown)} (only from and below)")
    low = _years(raw["from"], f"{where}.from") if "from" in raw else 0.0
    high = _years(raw["below"], f"{where}.below") if "below" in raw else math.inf
    if not AGE_RANGE[0] <= low <= AGE_RANGE[1]:
        raise ValueError(f"signs.toml: {where}.from is outside the contract's ages {AGE_RANGE[0]:g}-{AGE_RANGE[1]:g}"
                         f" years")
    if high != math.inf and not AGE_RANGE[0] < high <= AGE_RANGE[1]:
        raise ValueError(f"signs.toml: {where}.below is outside the contract's ages "
                         f"{AGE_RANGE[0]:g}-{AGE_RANGE[1]:g} years")
    if low >= high:
        raise ValueError(f"signs.toml: {where}: from ({raw['from']}) must be younger than below ({raw['below']})")
    return low, high


def parse_sex(raw: Any, note: Any, code: str) -> tuple[str | None, str]:
    """A sign's optional `sex` and `sex_note`; every mistake is named with the sign's code."""
    if raw is not None and not isinstance(raw, str):
        raise ValueError(f"signs.toml: sign {code!r}: sex must be text, \"F\" or \"M\", not {raw!r}")
    if raw is not None and raw not in SEXES:  # the contract's values only: "f", "female" or "" would never match
        raise ValueError(f"signs.toml: sign {code!r}: sex must be \"F\" or \"M\" (or left out: every sex), "
                         f"not {raw!r}")
    if note is not None and not isinstance(note, str):
        raise ValueError(f"signs.toml: sign {code!r}: sex_note must be text, not {note!r}")
    if note and raw is None:
        raise ValueError(f"signs.toml: sign {code!r} has a sex_note but no sex")
    return raw, note or ""


def parse(data: dict[str, Any]) -> SignVocabulary:
    """The vocabulary from signs.toml's parsed content, checked: a wrong file fails on load, saying where."""
    groups = {k: dict(v) for k, v in data["groups"].items()}
    out: list[Sign] = []
    for s in data["sign"]:
        low, high = parse_ages(s.get("ages"), s["code"])
        note = s.get("ages_note", "")
        if not isinstance(note, str):
            raise ValueError(f"signs.toml: sign {s['code']!r}: ages_note must be text")
        sex, sex_note = parse_sex(s.get("sex"), s.get("sex_note"), s["code"])
        out.append(Sign(s["code"], s["group"], dict(s["label"]), s["source"], low, high, note, sex, sex_note))
    vocabulary = SignVocabulary(groups=groups, signs=tuple(out))
    unknown = {s.group for s in vocabulary.signs} - set(vocabulary.groups)
    if unknown:
        raise ValueError(f"signs.toml: unknown groups {sorted(unknown)}")
    codes = [s.code for s in vocabulary.signs]
    if len(codes) != len(set(codes)):
        raise ValueError(f"signs.toml: codes given twice {sorted({c for c in codes if codes.count(c) > 1})}")
    return vocabulary


@cache
def signs() -> SignVocabulary:
    return parse(tomllib.loads(SIGNS_FILE.read_text(encoding="utf-8")))
