"""Load and check the clinical knowledge base (`model_export/knowledge/*.toml`).

The checks are the ones a reviewer would otherwise do by hand: every code and key known, shares summing to one,
probabilities and intensities in range. A knowledge base that fails them never reaches the simulator.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.vocabulary import STATES, Condition, Symptom, Vital, Vocabulary

KNOWLEDGE_DIR = Path(__file__).resolve().parent / "knowledge"
FILES = ("symptoms.toml", "vitals.toml", "conditions.toml")
AGE_BANDS = ("child", "adult", "older")


class KnowledgeError(ValueError):
    pass


def age_band(age: float) -> str:
    return "child" if age < 18 else "adult" if age < 65 else "older"


@dataclass(frozen=True)
class VitalProfile:
    key: str
    label: dict[str, str]
    unit: dict[str, str]
    plausible: tuple[float, float]
    decimals: int
    missing_rate: float
    normal: dict[str, tuple[float, float]]  # age band -> (mean, sd)


@dataclass(frozen=True)
class ConditionProfile:
    code: str
    name: dict[str, str]
    pattern: str
    prevalence: float
    critical: bool
    age: dict[str, float]
    female: float
    duration_days: tuple[float, float]  # median, sigma of log
    states: dict[str, float]
    symptoms: dict[str, tuple[float, float]]  # key -> (probability, mean intensity)
    vitals: dict[str, tuple[float, float]]  # key -> (mean, sd)
    sources: tuple[str, ...]

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
            {band: (float(v["normal"][band][0]), float(v["normal"][band][1])) for band in AGE_BANDS},
        )
        for v in vit["vital"]
    )
    conditions = tuple(
        ConditionProfile(
            code=c["code"], name=dict(c["name"]), pattern=c["pattern"], prevalence=float(c["prevalence"]),
            critical=bool(c["critical"]), age={k: float(v) for k, v in c["age"].items()}, female=float(c["female"]),
            duration_days=(float(c["duration_days"][0]), float(c["duration_days"][1])),
            states={k: float(v) for k, v in c["states"].items()},
            symptoms={k: (float(v[0]), float(v[1])) for k, v in c.get("symptoms", {}).items()},
            vitals={k: (float(v[0]), float(v[1])) for k, v in c.get("vitals", {}).items()},
            sources=tuple(c["sources"]),
        )
        for c in con["condition"]
    )
    kb = KnowledgeBase(dict(sym["systems"]), tuple(sym["symptom"]), vitals, conditions, digest.hexdigest())
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
        if abs(sum(c.age.values()) - 1.0) > 1e-6 or set(c.age) != set(AGE_BANDS):
            problems.append(f"{where}: age shares must cover {AGE_BANDS} and sum to 1")
        if not 0 <= c.female <= 1:
            problems.append(f"{where}: female share out of [0, 1]")
        if c.duration_days[0] <= 0 or c.duration_days[1] < 0:
            problems.append(f"{where}: duration must have a positive median and a non-negative spread")
        for key, (p, mean) in c.symptoms.items():
            if key not in symptom_keys:
                problems.append(f"{where}: unknown symptom {key}")
            if not 0 <= p <= 1 or not 0 <= mean <= 10:
                problems.append(f"{where}: symptom {key} probability or intensity out of range")
        for key, (_mean, sd) in c.vitals.items():
            if key not in vital_keys:
                problems.append(f"{where}: unknown vital {key}")
            if sd <= 0:
                problems.append(f"{where}: vital {key} needs a positive sd")
        if not c.sources:
            problems.append(f"{where}: no sources")
    if not any(c.code == "Z00.0" for c in kb.conditions):
        problems.append("no healthy visitor (Z00.0)")
    return problems
