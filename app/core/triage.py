"""WHO ETAT triage for one answer: the level, its words, and the reasons, from the danger-sign rules and the model.

The level is the highest of what the rules call for and what the model's own risk calls for; an orphan-disease
alert asks for at least PRIORITARIO, and so does a likely condition whose guideline asks for action the same day
(app/core/priority_conditions.py). From contract v2 on, three things always agree: `triage.level` is EMERGENCIA
exactly when `requires_immediate_attention` is true and exactly when `severity` is ENFERMEDAD_AGUDA. So a model
state of ENFERMEDAD_AGUDA makes the level EMERGENCIA, and an emergency raises the state to ENFERMEDAD_AGUDA; never
the other way down (the origin document's precautionary principle).

Why the model's part is split in two: a model-only risk that fired the old immediate-attention flag at P(acute) >=
0.05 flagged a third of all patients, so nobody would heed it. Moderate model risk now asks to see the patient
before the queue (PRIORITARIO); only a probability chosen on validation patients makes it an emergency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.red_flags import EMERGENCIA, NO_URGENTE, PRIORITARIO, TRIAGE_LEVELS, RedFlagRule

TRIAGE_LABELS: dict[str, dict[str, str]] = {
    EMERGENCIA: {"es": "EMERGENCIA", "en": "Emergency"},
    PRIORITARIO: {"es": "PRIORITARIO", "en": "Priority"},
    NO_URGENTE: {"es": "NO URGENTE", "en": "Not urgent"},
}
MODEL_EMERGENCY = {
    "code": "MODEL_HIGH_RISK",
    "message": {"es": "El modelo estima una probabilidad alta de enfermedad aguda o de una condición crítica.",
                "en": "The model estimates a high probability of acute illness or of a critical condition."},
}
MODEL_PRIORITY = {
    "code": "MODEL_RISK",
    "message": {"es": "El modelo estima un riesgo moderado: valorar antes de la fila.",
                "en": "The model estimates a moderate risk: assess before the queue."},
}
RARE_ALERT = {
    "code": "RARE_DISEASE_ALERT",
    "message": {"es": "Los hallazgos sugieren una enfermedad rara: valorar y remitir.",
                "en": "The findings suggest a rare disease: assess and refer."},
}


def rank(level: str) -> int:
    return TRIAGE_LEVELS.index(level)


@dataclass(frozen=True, slots=True)
class Triage:
    level: str
    reasons: tuple[dict[str, Any], ...]

    @property
    def emergency(self) -> bool:
        return self.level == EMERGENCIA

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "label": dict(TRIAGE_LABELS[self.level]),
                "reasons": [{"code": r["code"], "message": dict(r["message"])} for r in self.reasons]}


def decide(fired: list[RedFlagRule], model_level: str, rare_alert: bool,
           priority_condition: dict[str, Any] | None = None) -> Triage:
    """The level and the reasons that put the patient there (the reasons at that level, rules first).
    `priority_condition`: the reason of a likely condition that asks for PRIORITARIO by itself
    (app/core/priority_conditions.py), if any."""
    candidates: list[tuple[str, dict[str, Any]]] = [
        (rule.level, {"code": rule.code, "message": rule.message}) for rule in fired]
    if model_level == EMERGENCIA:
        candidates.append((EMERGENCIA, MODEL_EMERGENCY))
    elif model_level == PRIORITARIO:
        candidates.append((PRIORITARIO, MODEL_PRIORITY))
    if rare_alert:
        candidates.append((PRIORITARIO, RARE_ALERT))
    if priority_condition is not None:
        candidates.append((PRIORITARIO, priority_condition))
    level = max((lvl for lvl, _ in candidates), key=rank, default=NO_URGENTE)
    return Triage(level, tuple(reason for lvl, reason in candidates if lvl == level))
