"""Conditions whose likely diagnosis is itself a reason to see the patient before the queue (PRIORITARIO).

WHO ETAT's priority signs are findings (a tiny baby, very high temperature, severe pallor...), and the danger-sign
rules (red_flags.py) read them. Some patients show none of them and still should not wait in the ordinary queue,
because a guideline asks for action the same day for the condition they most likely have: separating a suspected
measles or tuberculosis patient from the waiting room, admitting an infant under 6 months with pertussis, starting
malaria treatment. The outside vignettes (tests/core/vignettes_etat.toml) showed 15 of 33 such patients at
NO_URGENTE with bundle 2026.11.3, most of them with the right condition first.

`data/priority_conditions.toml` lists those conditions by ICD-10 code, each with the age bands its guideline
covers, a short reason the doctor reads (what to do today), and its source. When the condition model gives the
listed conditions of the patient's age band a probability of at least `PRIORITY_PROBABILITY` together, the triage
level is at least PRIORITARIO, and the reason is that of the most likely of them. Like the danger-sign rules, the
list belongs to the app, not to a model bundle: it raises the level, never lowers it, and never changes the state
(only EMERGENCIA is tied to ENFERMEDAD_AGUDA). A listed code the installed bundle does not know is skipped.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from app.core.finding_distributions import BAND_NAMES as BANDS
from app.core.finding_distributions import age_bands

PRIORITY_FILE = Path(__file__).resolve().parent / "data" / "priority_conditions.toml"
# "More likely than not" one of the listed conditions: the level a doctor would act on. The emergency threshold on
# critical conditions (chosen on validation patients) is 0.5 in every bundle so far, too.
PRIORITY_PROBABILITY = 0.5
CODE = "PRIORITY_CONDITION"


@dataclass(frozen=True, slots=True)
class PriorityCondition:
    code: str  # ICD-10, as the condition model's classes
    bands: tuple[str, ...]  # the age bands its guideline covers
    reason: dict[str, str]  # {"es", "en"}: what to do today
    source: str


def parse(data: dict[str, Any]) -> tuple[PriorityCondition, ...]:
    """The `[[condition]]` entries of priority_conditions.toml; a clear error naming the entry for a bad one."""
    out: list[PriorityCondition] = []
    seen: set[str] = set()
    for k, entry in enumerate(data.get("condition", [])):
        code = entry.get("code")
        where = f"priority_conditions.toml, condition {k + 1} ({code or 'no code'})"
        if not isinstance(code, str) or not code:
            raise ValueError(f"{where}: 'code' (ICD-10) is required")
        if code in seen:
            raise ValueError(f"{where}: listed twice")
        seen.add(code)
        bands = entry.get("bands")
        if not isinstance(bands, list) or not bands or any(b not in BANDS for b in bands):
            raise ValueError(f"{where}: 'bands' must be a non-empty list of {', '.join(BANDS)}")
        reason = entry.get("reason")
        if not isinstance(reason, dict) or not all(isinstance(reason.get(lang), str) and reason[lang].strip()
                                                   for lang in ("es", "en")):
            raise ValueError(f"{where}: 'reason' needs es and en text")
        source = entry.get("source")
        if not isinstance(source, str) or not source.strip():
            raise ValueError(f"{where}: 'source' is required")
        out.append(PriorityCondition(code, tuple(b for b in BANDS if b in bands),
                                     {"es": reason["es"], "en": reason["en"]}, source))
    return tuple(out)


@cache
def listed() -> tuple[PriorityCondition, ...]:
    return parse(tomllib.loads(PRIORITY_FILE.read_text(encoding="utf-8")))


class PriorityConditions:
    """The list for one condition model's classes: which classes count in which band, and their reasons."""

    def __init__(self, classes: tuple[str, ...] | list[str],
                 conditions: tuple[PriorityCondition, ...] | None = None) -> None:
        index = {code: k for k, code in enumerate(classes)}
        self.mask = np.zeros((len(BANDS), len(classes)))  # 1.0 where the class counts in that band
        self.reasons: list[dict[str, str] | None] = [None] * len(classes)
        for c in listed() if conditions is None else conditions:
            k = index.get(c.code)
            if k is None:
                continue
            for band in c.bands:
                self.mask[BANDS.index(band), k] = 1.0
            self.reasons[k] = c.reason

    def of(self, cond_p: np.ndarray, ages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For rows of condition probabilities and the patients' ages (years): whether the listed conditions of each
        patient's band reach `PRIORITY_PROBABILITY` together, and the most likely listed class (the reason's)."""
        weighted = cond_p * self.mask[age_bands(ages)]
        hit: np.ndarray = weighted.sum(axis=1) >= PRIORITY_PROBABILITY
        return hit, np.argmax(weighted, axis=1)

    def reason(self, k: int) -> dict[str, Any]:
        """The triage reason for listed class `k`, as the contract's reasons are written."""
        message = self.reasons[k]
        assert message is not None, "only a listed class has a reason"
        return {"code": CODE, "message": dict(message)}
