"""The clinical vocabulary a model bundle speaks: symptoms, vital signs, conditions and states.

The app never reads the knowledge base under `model_export/` (that is build time); the bundle carries a copy of the
parts the app needs in its `knowledge.json`, so a model update can bring new symptoms or conditions with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The origin document's five states, in urgency order (least urgent first).
STATES: tuple[str, ...] = (
    "NO_ENFERMO",
    "MOLESTIAS_LEVES",
    "ENFERMEDAD_LEVE",
    "ENFERMEDAD_CRONICA",
    "ENFERMEDAD_AGUDA",
)
STATE_LABELS: dict[str, dict[str, str]] = {
    "NO_ENFERMO": {"es": "NO ENFERMO", "en": "Not ill"},
    "MOLESTIAS_LEVES": {"es": "MOLESTIAS LEVES", "en": "Minor complaints"},
    "ENFERMEDAD_LEVE": {"es": "ENFERMEDAD LEVE", "en": "Mild illness"},
    "ENFERMEDAD_CRONICA": {"es": "ENFERMEDAD CRÓNICA", "en": "Chronic illness"},
    "ENFERMEDAD_AGUDA": {"es": "ENFERMEDAD AGUDA", "en": "Acute illness"},
}
LANGUAGES: tuple[str, ...] = ("es", "en")


def urgency(state: str) -> int:
    """Position of `state` on the urgency order: higher is more urgent."""
    return STATES.index(state)


Text = dict[str, str]  # {"es": ..., "en": ...}


@dataclass(frozen=True, slots=True)
class Symptom:
    key: str
    label: Text
    system: str
    hpo: str
    hpo_label: str


@dataclass(frozen=True, slots=True)
class Vital:
    key: str
    label: Text
    unit: Text
    plausible: tuple[float, float]
    decimals: int


@dataclass(frozen=True, slots=True)
class Condition:
    code: str
    name: Text
    critical: bool


@dataclass(frozen=True, slots=True)
class Vocabulary:
    systems: dict[str, Text]
    symptoms: tuple[Symptom, ...]
    vitals: tuple[Vital, ...]
    conditions: tuple[Condition, ...]
    # Lookups built once; the diagnose path uses them for every request.
    _symptoms_by_key: dict[str, Symptom] = field(init=False, repr=False, compare=False)
    _vitals_by_key: dict[str, Vital] = field(init=False, repr=False, compare=False)
    _conditions_by_code: dict[str, Condition] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_symptoms_by_key", {s.key: s for s in self.symptoms})
        object.__setattr__(self, "_vitals_by_key", {v.key: v for v in self.vitals})
        object.__setattr__(self, "_conditions_by_code", {c.code: c for c in self.conditions})

    def symptom(self, key: str) -> Symptom:
        return self._symptoms_by_key[key]

    def vital(self, key: str) -> Vital:
        return self._vitals_by_key[key]

    def condition(self, code: str) -> Condition:
        return self._conditions_by_code[code]

    @property
    def symptom_keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.symptoms)

    @property
    def vital_keys(self) -> tuple[str, ...]:
        return tuple(v.key for v in self.vitals)

    def to_json(self) -> dict[str, Any]:
        return {
            "systems": self.systems,
            "symptoms": [
                {"key": s.key, "label": s.label, "system": s.system, "hpo": s.hpo, "hpo_label": s.hpo_label}
                for s in self.symptoms
            ],
            "vitals": [
                {"key": v.key, "label": v.label, "unit": v.unit, "plausible": list(v.plausible), "decimals": v.decimals}
                for v in self.vitals
            ],
            "conditions": [{"code": c.code, "name": c.name, "critical": c.critical} for c in self.conditions],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Vocabulary:
        return cls(
            systems={k: dict(v) for k, v in data["systems"].items()},
            symptoms=tuple(
                Symptom(s["key"], dict(s["label"]), s["system"], s["hpo"], s["hpo_label"]) for s in data["symptoms"]
            ),
            vitals=tuple(
                Vital(v["key"], dict(v["label"]), dict(v["unit"]), (float(v["plausible"][0]), float(v["plausible"][1])),
                      int(v["decimals"]))
                for v in data["vitals"]
            ),
            conditions=tuple(Condition(c["code"], dict(c["name"]), bool(c["critical"])) for c in data["conditions"]),
        )

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
