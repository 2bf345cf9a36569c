"""The de-identified feedback record written to the outbox when a doctor closes an encounter.

This is the only thing about a patient that ever leaves the laptop, so it is built here, next to the data, from an
allow-list: the clinical findings the model saw, what it answered, and what the doctor confirmed. No names,
document numbers, phones, village, free-text notes (they may contain names) or exact dates: the patient and the
encounter appear as keyed pseudonyms (HMAC-SHA256 under a clinic secret that never leaves the database, so the
central service can link a patient's encounters without being able to reverse them), the date as its month, and
ages above 89 as 90 (HIPAA Safe Harbor's rule for ages).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

FEEDBACK_FORMAT = 1
OLDEST_EXACT_AGE = 89
# Contract v2's pregnancy (weeks or days since delivery: a stage, never a date), AVPU and signs are findings too, and
# so are the HPO terms the doctor looked for and found absent (the rare-disease evidence learns from them, issue 18).
_REQUEST_FIELDS = ("sex", "duration_days", "symptoms", "vitals", "hpo_terms", "excluded_hpo_terms", "pregnancy",
                   "consciousness", "signs")


def pseudonym(key: bytes, kind: str, value: str) -> str:
    return hmac.new(key, f"{kind}|{value}".encode(), hashlib.sha256).hexdigest()[:32]


def feedback_payload(*, clinic_id: str, pseudonym_key: bytes, patient_id: str, encounter_id: str,
                     closed_at: dt.datetime, request: dict[str, Any], response: dict[str, Any],
                     final_code: str, final_code_system: str) -> dict[str, Any]:
    findings = {k: request[k] for k in _REQUEST_FIELDS if k in request}
    age = request.get("age")
    if isinstance(age, int | float):
        findings["age"] = float(OLDEST_EXACT_AGE + 1) if age > OLDEST_EXACT_AGE else float(age)
    prediction = {
        "severity": response.get("severity"),
        "requires_immediate_attention": response.get("requires_immediate_attention"),
        "red_flags": [f.get("code") for f in response.get("red_flags", [])],
        "top_conditions": [
            {"code": c.get("code"), "probability": c.get("probability")} for c in response.get("top_conditions", [])
        ],
        "rare_diseases": [
            {"orpha_code": r.get("orpha_code"), "score": r.get("score")} for r in response.get("rare_diseases", [])
        ],
        "model": response.get("model"),
        "engine": response.get("engine"),
    }
    return {
        "format": FEEDBACK_FORMAT,
        "clinic_id": clinic_id,
        "patient": pseudonym(pseudonym_key, "patient", patient_id),
        "encounter": pseudonym(pseudonym_key, "encounter", encounter_id),
        "month": closed_at.astimezone(dt.UTC).strftime("%Y-%m"),
        "request": findings,
        "prediction": prediction,
        "confirmed": {"code": final_code, "system": final_code_system},
    }
