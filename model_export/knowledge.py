"""Load and check the clinical knowledge base (`model_export/knowledge/*.toml`).

The checks are the ones a reviewer would otherwise do by hand: every code and key known, shares summing to one,
probabilities and intensities in range. A knowledge base that fails them never reaches the simulator.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.core.vocabulary import STATES, Condition, Symptom, Vital, Vocabulary

KNOWLEDGE_DIR = Path(__file__).resolve().parent / "knowledge"
FILES = ("symptoms.toml", "vitals.toml", "conditions.toml")
# Age bands of issue 12 (WHO IMCI splits young infants and children under 5 from older children; NEWS2 applies from
# 18 years; "older" from 65): infant < 1 year, 1-4, 5-17, adult 18-64, older >= 65.
AGE_BANDS = ("infant", "child_1_4", "child_5_17", "adult", "older")
AGE_RANGES: dict[str, tuple[float, float]] = {
    "infant": (0.0, 1.0), "child_1_4": (1.0, 5.0), "child_5_17": (5.0, 18.0), "adult": (18.0, 65.0),
    "older": (65.0, 95.0),
}
PREGNANCY_STATUSES = ("pregnant", "postpartum", "not_pregnant", "unknown")
AVPU = ("A", "V", "P", "U")
# Examination signs of contract v2 (the lead keeps them as data in app/core/signs.toml; this copy lets the build
# check the knowledge base without importing the app's rules). Keep in step with that file.
SIGNS = (
    "unable_to_drink_or_breastfeed", "vomits_everything", "convulsions_this_illness", "lethargic_or_unconscious",
    "chest_indrawing", "stridor", "nasal_flaring", "grunting", "central_cyanosis", "movement_only_when_stimulated",
    "bulging_fontanelle", "umbilicus_red_or_pus", "skin_pustules", "sunken_eyes", "skin_pinch_slow",
    "skin_pinch_very_slow", "restless_irritable", "drinks_eagerly", "severe_dehydration", "visible_severe_wasting",
    "bilateral_pitting_oedema", "severe_palmar_pallor", "some_palmar_pallor", "cold_extremities", "weak_fast_pulse",
    "non_blanching_rash", "mucosal_bleeding", "vaginal_bleeding", "tender_swelling_behind_ear", "fang_marks",
    "pinpoint_pupils",
)
# Pregnancy is only asked of women of this age (contract v2).
PREGNANCY_AGE = (10.0, 60.0)


class KnowledgeError(ValueError):
    pass


def age_band(age: float) -> str:
    for band in AGE_BANDS:
        if age < AGE_RANGES[band][1]:
            return band
    return "older"


@dataclass(frozen=True)
class VitalProfile:
    key: str
    label: dict[str, str]
    unit: dict[str, str]
    plausible: tuple[float, float]
    decimals: int
    missing_rate: float
    normal: dict[str, tuple[float, float]]  # age band -> (mean, sd)
    missing_by_band: dict[str, float]  # age band -> share not measured (defaults to missing_rate)
    reference: tuple[tuple[float, float, float], ...] = ()  # (age in years, median, sd) anchors; () = by band
    age_shift: str = "absolute"  # how an adult profile's change carries to a child: "absolute" or "relative"

    def norm(self, age: float) -> tuple[float, float]:
        """Healthy mean and sd at `age` (years): the age reference when there is one, else the band's."""
        if self.reference:
            ages, med, sd = (np.array(col) for col in zip(*self.reference, strict=True))
            return float(np.interp(age, ages, med)), float(np.interp(age, ages, sd))
        return self.normal[age_band(age)]

    def missing(self, band: str) -> float:
        return self.missing_by_band.get(band, self.missing_rate)


@dataclass(frozen=True)
class BandProfile:
    """How a condition differs in one age band (every field optional; merged over the condition's own)."""

    share: float
    ages: tuple[float, float] | None = None  # narrower age range within the band (neonates, febrile seizures)
    states: dict[str, float] | None = None
    symptoms: dict[str, tuple[float, float]] = field(default_factory=dict)
    vitals: dict[str, tuple[float, float]] = field(default_factory=dict)
    signs: dict[str, float] = field(default_factory=dict)
    acute_signs: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PregnancyProfile:
    """The obstetric situation a condition comes with (O14, O15, O00, O72, O85)."""

    status: dict[str, float]  # pregnancy status (or "absent": not recorded) -> share
    weeks: tuple[float, float, float, float] | None = None  # mean, sd, min, max (pregnant)
    days_since_delivery: tuple[float, float, float, float] | None = None  # mean, sd, min, max (postpartum)


@dataclass(frozen=True)
class ConditionProfile:
    code: str
    name: dict[str, str]
    pattern: str
    prevalence: float
    critical: bool
    female: float
    duration_days: tuple[float, float]  # median, sigma of log
    states: dict[str, float]
    symptoms: dict[str, tuple[float, float]]  # key -> (probability, mean intensity)
    vitals: dict[str, tuple[float, float]]  # key -> (mean, sd)
    sources: tuple[str, ...]
    bands: dict[str, BandProfile] = field(default_factory=dict)  # age band -> profile there
    signs: dict[str, float] = field(default_factory=dict)  # sign -> probability, any state
    acute_signs: dict[str, float] = field(default_factory=dict)  # sign -> probability in ENFERMEDAD_AGUDA
    acute_avpu: dict[str, float] = field(default_factory=dict)  # AVPU -> share in ENFERMEDAD_AGUDA
    acute_vitals: dict[str, tuple[float, float]] = field(default_factory=dict)  # overrides in ENFERMEDAD_AGUDA
    acute_symptoms: dict[str, tuple[float, float]] = field(default_factory=dict)  # added in ENFERMEDAD_AGUDA
    pregnancy: PregnancyProfile | None = None
    benign: bool = False  # a benign complaint: normal-for-age vitals, never acute
    vitals_z: dict[str, tuple[float, float]] = field(default_factory=dict)  # z-score against the age reference
    measured: dict[str, float] = field(default_factory=dict)  # vital -> probability measured (overrides missingness)
    pregnant_share: float | None = None  # share pregnant among women 15-49 (None: the background share)
    postpartum_share: float | None = None  # share postpartum (<= 42 days) among them (None: the background share)

    @property
    def age(self) -> dict[str, float]:
        return {band: self.bands[band].share if band in self.bands else 0.0 for band in AGE_BANDS}

    @property
    def chronic(self) -> bool:
        return self.states.get("ENFERMEDAD_CRONICA", 0.0) >= 0.5


@dataclass(frozen=True)
class KnowledgeBase:
    systems: dict[str, dict[str, str]]
    symptoms: tuple[dict[str, Any], ...]
    vitals: tuple[VitalProfile, ...]
    conditions: tuple[ConditionProfile, ...]
    sha256: str  # of the three files, in order: the "data hash" of a bundle
    default_acute: dict[str, dict[str, float]] = field(default_factory=dict)  # signs, under5_signs, avpu
    pregnancy_background: PregnancyProfile | None = None

    def condition(self, code: str) -> ConditionProfile:
        for c in self.conditions:
            if c.code == code:
                return c
        raise KeyError(code)

    def vital(self, key: str) -> VitalProfile:
        for v in self.vitals:
            if v.key == key:
                return v
        raise KeyError(key)

    def vocabulary(self) -> Vocabulary:
        return Vocabulary(
            systems=dict(self.systems),
            symptoms=tuple(Symptom(s["key"], dict(s["label"]), s["system"], s["hpo"], s["hpo_label"])
                           for s in self.symptoms),
            vitals=tuple(Vital(v.key, v.label, v.unit, v.plausible, v.decimals) for v in self.vitals),
            conditions=tuple(Condition(c.code, c.name, c.critical) for c in self.conditions),
        )


def _unit(value: Any) -> dict[str, str]:
    return {"es": value, "en": value} if isinstance(value, str) else dict(value)


def _pair(value: Any) -> tuple[float, float]:
    return float(value[0]), float(value[1])


def _symptoms(table: dict[str, Any]) -> dict[str, tuple[float, float]]:
    return {k: _pair(v) for k, v in table.items()}


def _floats(table: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in table.items()}


def _range(value: Any) -> tuple[float, float, float, float] | None:
    return None if value is None else (float(value[0]), float(value[1]), float(value[2]), float(value[3]))


def _condition(c: dict[str, Any]) -> ConditionProfile:
    band_tables = c.get("band", {})
    ages = c.get("ages", {})
    bands = {}
    for band, share in c["age"].items():
        b = band_tables.get(band, {})
        bands[band] = BandProfile(
            share=float(share),
            ages=(float(ages[band][0]), float(ages[band][1])) if band in ages else None,
            states=_floats(b["states"]) if "states" in b else None,
            symptoms=_symptoms(b.get("symptoms", {})), vitals=_symptoms(b.get("vitals", {})),
            signs=_floats(b.get("signs", {})), acute_signs=_floats(b.get("acute_signs", {})),
        )
    for band in band_tables:
        if band not in bands:
            raise KnowledgeError(f"condition {c['code']}: [condition.band.{band}] for a band not in its age shares")
    acute = c.get("acute", {})
    preg = c.get("pregnancy")
    return ConditionProfile(
        code=c["code"], name=dict(c["name"]), pattern=c["pattern"], prevalence=float(c["prevalence"]),
        critical=bool(c["critical"]), female=float(c["female"]),
        duration_days=_pair(c["duration_days"]), states=_floats(c["states"]),
        symptoms=_symptoms(c.get("symptoms", {})), vitals=_symptoms(c.get("vitals", {})),
        sources=tuple(c["sources"]), bands=bands, signs=_floats(c.get("signs", {})),
        acute_signs=_floats(acute.get("signs", {})), acute_avpu=_floats(acute.get("avpu", {})),
        acute_vitals=_symptoms(acute.get("vitals", {})), acute_symptoms=_symptoms(acute.get("symptoms", {})),
        pregnancy=None if preg is None else PregnancyProfile(
            _floats(preg["status"]), _range(preg.get("weeks")), _range(preg.get("days_since_delivery"))),
        benign=bool(c.get("benign", False)),
        vitals_z=_symptoms(c.get("vitals_z", {})), measured=_floats(c.get("measured", {})),
        pregnant_share=None if "pregnant_share" not in c else float(c["pregnant_share"]),
        postpartum_share=None if "postpartum_share" not in c else float(c["postpartum_share"]),
    )


def load(directory: Path = KNOWLEDGE_DIR) -> KnowledgeBase:
    digest = hashlib.sha256()
    data = {}
    for name in FILES:
        raw = (directory / name).read_bytes()
        digest.update(raw)
        data[name] = tomllib.loads(raw.decode("utf-8"))
    sym, vit, con = data["symptoms.toml"], data["vitals.toml"], data["conditions.toml"]
    vitals = tuple(
        VitalProfile(
            v["key"], dict(v["label"]), _unit(v["unit"]), (float(v["plausible"][0]), float(v["plausible"][1])),
            int(v.get("decimals", 0)), float(v["missing_rate"]),
            {band: _pair(v["normal"][band]) for band in AGE_BANDS if band in v["normal"]},
            {band: float(x) for band, x in v.get("missing_by_band", {}).items()},
            tuple((float(a), float(m), float(sd)) for a, m, sd in v.get("reference", [])),
            str(v.get("age_shift", "absolute")),
        )
        for v in vit["vital"]
    )
    conditions = tuple(_condition(c) for c in con["condition"])
    default_acute = {k: _floats(v) for k, v in con.get("default_acute", {}).items() if k != "sources"}
    bg = con.get("pregnancy_background")
    background = None if bg is None else PregnancyProfile(
        _floats(bg["status"]), _range(bg.get("weeks")), _range(bg.get("days_since_delivery")))
    kb = KnowledgeBase(dict(sym["systems"]), tuple(sym["symptom"]), vitals, conditions, digest.hexdigest(),
                       default_acute, background)
    problems = check(kb)
    if problems:
        raise KnowledgeError("knowledge base problems:\n- " + "\n- ".join(problems))
    return kb


def check(kb: KnowledgeBase) -> list[str]:
    """Every problem found, as a sentence naming the place."""
    problems: list[str] = []
    symptom_keys = [s["key"] for s in kb.symptoms]
    if len(set(symptom_keys)) != len(symptom_keys):
        problems.append("duplicate symptom keys")
    for s in kb.symptoms:
        if s["system"] not in kb.systems:
            problems.append(f"symptom {s['key']}: unknown system {s['system']}")
        if not str(s.get("hpo", "")).startswith("HP:"):
            problems.append(f"symptom {s['key']}: no HPO term")
    vital_keys = {v.key for v in kb.vitals}
    codes = [c.code for c in kb.conditions]
    if len(set(codes)) != len(codes):
        problems.append("duplicate condition codes")
    total = sum(c.prevalence for c in kb.conditions)
    if abs(total - 1.0) > 1e-6:
        problems.append(f"prevalences sum to {total:.6f}, not 1")
    for c in kb.conditions:
        where = f"condition {c.code}"
        if abs(sum(c.states.values()) - 1.0) > 1e-6:
            problems.append(f"{where}: state shares sum to {sum(c.states.values()):.4f}")
        if unknown := set(c.states) - set(STATES):
            problems.append(f"{where}: unknown states {sorted(unknown)}")
        if abs(sum(c.age.values()) - 1.0) > 1e-6 or not set(c.bands) <= set(AGE_BANDS):
            problems.append(f"{where}: age shares must be over {AGE_BANDS} and sum to 1")
        for band, b in c.bands.items():
            low, high = AGE_RANGES[band]
            if b.ages is not None and not low <= b.ages[0] < b.ages[1] <= high:
                problems.append(f"{where}: ages for {band} must lie within [{low}, {high})")
            if b.states is not None and (abs(sum(b.states.values()) - 1.0) > 1e-6 or set(b.states) - set(STATES)):
                problems.append(f"{where}: {band} state shares must be known states summing to 1")
            problems += _check_profile(f"{where} ({band})", b.symptoms, b.vitals, {**b.signs, **b.acute_signs},
                                       symptom_keys, vital_keys)
        problems += _check_profile(where, {**c.symptoms, **c.acute_symptoms},
                                   {**c.vitals, **c.acute_vitals, **c.vitals_z}, {**c.signs, **c.acute_signs},
                                   symptom_keys, vital_keys)
        if unknown_measured := set(c.measured) - vital_keys:
            problems.append(f"{where}: measured rates for unknown vitals {sorted(unknown_measured)}")
        if c.acute_avpu and (abs(sum(c.acute_avpu.values()) - 1.0) > 1e-6 or set(c.acute_avpu) - set(AVPU)):
            problems.append(f"{where}: acute AVPU shares must be over {AVPU} and sum to 1")
        if c.critical and set(c.states) != {"ENFERMEDAD_AGUDA"}:
            problems.append(f"{where}: a critical condition is always ENFERMEDAD_AGUDA")
        if c.benign and (c.critical or c.states.get("ENFERMEDAD_AGUDA", 0) or c.states.get("NO_ENFERMO", 0)):
            problems.append(f"{where}: a benign complaint is never acute and never 'not ill'")
        if c.pregnancy is not None:
            pg = c.pregnancy
            if abs(sum(pg.status.values()) - 1.0) > 1e-6 or set(pg.status) - {*PREGNANCY_STATUSES, "absent"}:
                problems.append(f"{where}: pregnancy status shares must be known statuses summing to 1")
            if c.female != 1.0:
                problems.append(f"{where}: an obstetric condition is in women only")
            if pg.status.get("pregnant", 0) and pg.weeks is None:
                problems.append(f"{where}: pregnant cases need weeks")
            if pg.status.get("postpartum", 0) and pg.days_since_delivery is None:
                problems.append(f"{where}: postpartum cases need days_since_delivery")
        shares = [x for x in (c.pregnant_share, c.postpartum_share) if x is not None]
        if any(not 0 <= x <= 1 for x in shares) or sum(shares) > 1:
            problems.append(f"{where}: pregnant and postpartum shares must be in [0, 1] and sum to at most 1")
        if shares and c.pregnancy is not None:
            problems.append(f"{where}: pregnant or postpartum shares adjust the background, not [condition.pregnancy]")
        if not 0 <= c.female <= 1:
            problems.append(f"{where}: female share out of [0, 1]")
        if c.duration_days[0] <= 0 or c.duration_days[1] < 0:
            problems.append(f"{where}: duration must have a positive median and a non-negative spread")
        if not c.sources:
            problems.append(f"{where}: no sources")
    problems += _check_profile("default_acute", {}, {}, {**kb.default_acute.get("signs", {}),
                                                         **kb.default_acute.get("under5_signs", {})},
                               symptom_keys, vital_keys)
    for v in kb.vitals:
        if set(v.normal) != set(AGE_BANDS):
            problems.append(f"vital {v.key}: normal values must cover {AGE_BANDS}")
    if not any(c.code == "Z00.0" for c in kb.conditions):
        problems.append("no healthy visitor (Z00.0)")
    return problems


def _check_profile(where: str, symptoms: dict[str, tuple[float, float]], vitals: dict[str, tuple[float, float]],
                   signs: dict[str, float], symptom_keys: list[str], vital_keys: set[str]) -> list[str]:
    problems = []
    for key, (p, mean) in symptoms.items():
        if key not in symptom_keys:
            problems.append(f"{where}: unknown symptom {key}")
        if not 0 <= p <= 1 or not 0 <= mean <= 10:
            problems.append(f"{where}: symptom {key} probability or intensity out of range")
    for key, (_mean, sd) in vitals.items():
        if key not in vital_keys:
            problems.append(f"{where}: unknown vital {key}")
        if sd <= 0:
            problems.append(f"{where}: vital {key} needs a positive sd")
    for key, p in signs.items():
        if key not in SIGNS:
            problems.append(f"{where}: unknown sign {key}")
        if not 0 <= p <= 1:
            problems.append(f"{where}: sign {key} probability out of range")
    return problems
