"""The diagnose response as types: what `DiagnosisEngine.diagnose` returns and /v1/predict answers (contract v2).

The engine builds plain dicts (they go straight to JSON, and the batch path builds thousands a second); these
TypedDicts describe those dicts, so type checkers see the shape, the central service documents it in its OpenAPI
schema, and tests check real answers against it, all from one place. Plain `typing` only, no pydantic and no Qt:
the desktop app imports app.core. `typing_extensions.TypedDict` rather than `typing.TypedDict` because pydantic
(the service's schema) refuses the latter on Python 3.11; at run time the two are the same thing.

The Literal values are written out, not built from `STATES` and `TRIAGE_LEVELS` (a type checker cannot read a
tuple as a Literal); tests/server/test_predict_v2.py checks that they match.
"""

from __future__ import annotations

from typing import Literal, NotRequired

from typing_extensions import TypedDict

Severity = Literal["NO_ENFERMO", "MOLESTIAS_LEVES", "ENFERMEDAD_LEVE", "ENFERMEDAD_CRONICA", "ENFERMEDAD_AGUDA"]
TriageLevel = Literal["EMERGENCIA", "PRIORITARIO", "NO_URGENTE"]
# A red flag is a reason to see the patient before the queue, so it is never NO_URGENTE.
RedFlagLevel = Literal["EMERGENCIA", "PRIORITARIO"]


class LocalisedText(TypedDict):
    """One text in the two languages of the app."""

    es: str
    en: str


class SeverityProbabilities(TypedDict):
    """The state model's probability of each of the five states (they add up to 1)."""

    NO_ENFERMO: float
    MOLESTIAS_LEVES: float
    ENFERMEDAD_LEVE: float
    ENFERMEDAD_CRONICA: float
    ENFERMEDAD_AGUDA: float


class RedFlag(TypedDict):
    """A danger or priority sign that fired (a sourced rule, or the model's own risk: MODEL_RISK, MODEL_HIGH_RISK)."""

    code: str
    level: RedFlagLevel
    message: LocalisedText


class ConditionEntry(TypedDict):
    """A likely common condition: ICD-10 code, name, and the condition model's probability."""

    code: str
    name: LocalisedText
    probability: float


class RareDiseaseEntry(TypedDict):
    """An orphan disease worth considering (Orphanet via HPO annotations); `name` is Orphanet's English name."""

    orpha_code: str
    name: str
    score: float
    matched_terms: list[str]
    # Findings the disease does not explain; absent in answers from bundles built before it existed.
    unexplained_terms: NotRequired[list[str]]


class Recommendations(TypedDict):
    es: list[str]
    en: list[str]


class TargetExplanation(TypedDict):
    """SHAP values for one target: base_value + sum(contributions) == output_value, in `Explanation.space`."""

    target: str
    base_value: float
    output_value: float
    contributions: dict[str, float]


class Explanation(TypedDict):
    space: Literal["log-odds"]
    severity: TargetExplanation
    condition: TargetExplanation


class TriageReason(TypedDict):
    code: str
    message: LocalisedText


class Triage(TypedDict):
    """WHO ETAT level and the reasons that put the patient there (those at that level, rules first)."""

    level: TriageLevel
    label: LocalisedText
    reasons: list[TriageReason]


class Scores(TypedDict):
    """Published scores, each None when the patient is outside its population or an input it needs is missing."""

    news2: int | None
    qsofa: int | None


class ModelInfo(TypedDict):
    version: str
    sha256: str


FindingKind = Literal["vital", "symptom", "sign", "pregnancy"]
ChangeTarget = Literal["triage", "state", "top_condition"]


class NextFinding(TypedDict):
    """A finding the request does not give, worth measuring or asking next (issue 19; app/core/next_findings.py).

    `finding` is a vital key ("spo2"), a vocabulary symptom key, a contract-v2 sign code, or "pregnant" (the
    pregnancy question). `value_of_information` in [0, 1] weighs, lexicographically, the chance that knowing it makes
    the answer EMERGENCIA, changes the triage level, the state, the most likely condition."""

    finding: str
    kind: FindingKind
    why: LocalisedText
    could_change: list[ChangeTarget]
    value_of_information: float


class DiagnoseResponse(TypedDict):
    """The whole answer of the diagnose contract v2 (docs/api.md, "POST /v1/predict")."""

    severity: Severity
    severity_label: LocalisedText
    severity_probabilities: SeverityProbabilities
    confidence: float
    # True exactly when triage.level is EMERGENCIA and severity is ENFERMEDAD_AGUDA.
    requires_immediate_attention: bool
    red_flags: list[RedFlag]
    top_conditions: list[ConditionEntry]
    rare_diseases: list[RareDiseaseEntry]
    rare_disease_alert: bool
    recommendations: Recommendations
    explanation: Explanation
    triage: Triage
    scores: Scores
    model: ModelInfo
    engine: Literal["local", "cloud"]
    contract: Literal[2]
    # Best first, at most 5 (3 when already EMERGENCIA, then only what changes the management); [] when the caller
    # asked for none (diagnose_many(next_findings=False)).
    next_findings: list[NextFinding]
