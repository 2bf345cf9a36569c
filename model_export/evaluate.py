"""Evaluate a bundle the way the clinic uses it: through `DiagnosisEngine`, red-flag rules included.

Reports, on held-out simulated patients: condition macro-F1, top-3 accuracy, WHO ETAT triage (recall of critical
patients at EMERGENCIA and at EMERGENCIA or PRIORITARIO, share of patients at EMERGENCIA against the critical
prevalence), negative predictive value of "not EMERGENCIA", expected calibration error (condition and state),
overall, by age band (infant, 1-4, 5-17, adult, older), for pregnant or postpartum women and by sex; on the clinical
vignettes of `tests/core/vignettes.toml` (written from textbooks, not from the simulator): top-3 accuracy and
whether every critical one is flagged; and the origin document's five use cases.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
from sklearn.metrics import f1_score

from app.core.engine import DiagnosisEngine
from app.core.response import DiagnoseResponse
from app.core.vocabulary import STATES, urgency
from model_export.train import Dataset, ece

ROOT = Path(__file__).resolve().parents[1]
MIN_CLASS_SUPPORT = 10  # patients of a condition in a group for its F1 to count in the group's macro-F1
VIGNETTES = ROOT / "tests" / "core" / "vignettes.toml"

# The origin document's use cases, with its expected state; age 40 and sex F when the document does not say.
ORIGIN_CASES: tuple[tuple[dict[str, int], str], ...] = (
    ({"fatiga": 2, "dolor_muscular": 1, "mareos": 1}, "NO_ENFERMO"),
    ({"fiebre": 3, "dolor_cabeza": 3, "dificultad_respirar": 5}, "MOLESTIAS_LEVES"),
    ({"fiebre": 10, "dolor_pecho": 8, "dificultad_respirar": 7}, "ENFERMEDAD_LEVE"),
    ({"dolor_pecho": 7, "dificultad_respirar": 9, "fatiga": 8}, "ENFERMEDAD_AGUDA"),
    ({"dolor_pecho": 10, "Tos": 10, "dificultad_respirar": 10}, "ENFERMEDAD_CRONICA"),
)
ORIGIN_ATTENTION = (False, False, True, True, True)  # cases 3, 4 and 5 must set the flag


def origin_request(symptoms: dict[str, int]) -> dict[str, Any]:
    return {"age": 40, "sex": "F", "symptoms": dict(symptoms)}


def state_probabilities(response: DiagnoseResponse) -> list[float]:
    """P(state) in the order of STATES (a TypedDict is indexed by literal keys only; STATES is a runtime tuple)."""
    probabilities = cast(Mapping[str, float], response["severity_probabilities"])
    return [probabilities[s] for s in STATES]


def triage_level(response: DiagnoseResponse) -> str:
    """The answer's WHO ETAT level; a contract v1 answer (no `triage`) counts its immediate-attention flag as
    EMERGENCIA and nothing as PRIORITARIO."""
    if "triage" in response:
        return str(response["triage"]["level"])
    return "EMERGENCIA" if response["requires_immediate_attention"] else "NO_URGENTE"


def _metrics(responses: Sequence[DiagnoseResponse], data: Dataset, mask: np.ndarray) -> dict[str, Any]:
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return {"n": 0}
    truth = data.condition[idx]
    answers = [responses[int(i)] for i in idx]
    top = [a["top_conditions"] for a in answers]
    pred = np.array([t[0]["code"] for t in top])
    conf = np.array([t[0]["probability"] for t in top])
    top3 = np.array([truth[k] in {c["code"] for c in t[:3]} for k, t in enumerate(top)])
    levels = np.array([triage_level(a) for a in answers])
    flagged = levels == "EMERGENCIA"
    urgent = flagged | (levels == "PRIORITARIO")
    critical = data.critical[idx]
    state_p = np.array([state_probabilities(a) for a in answers])
    state_pred = state_p.argmax(axis=1)
    negatives = ~flagged
    # Macro-F1 over the conditions with enough patients in the group to have an F1 at all: a condition seen two or
    # three times among infants (hepatitis, say) would swing a group's macro-F1 on a single answer.
    counts = {code: int((truth == code).sum()) for code in set(truth)}
    labels = sorted(code for code, k in counts.items() if k >= MIN_CLASS_SUPPORT) or sorted(counts)
    return {
        "n": int(idx.size),
        "condition_macro_f1": round(float(f1_score(truth, pred, labels=labels, average="macro")), 4),
        "condition_macro_f1_classes": len(labels),
        "condition_accuracy": round(float((pred == truth).mean()), 4),
        "condition_top3": round(float(top3.mean()), 4),
        "condition_ece": round(ece(conf, pred == truth), 4),
        "state_accuracy": round(float((state_pred == data.state[idx]).mean()), 4),
        "state_ece": round(ece(state_p.max(axis=1), state_pred == data.state[idx]), 4),
        "critical_n": int(critical.sum()),
        "critical_prevalence": round(float(critical.mean()), 4),
        # recall of critical patients at EMERGENCIA (= requires_immediate_attention from contract v2 on)
        "critical_recall": round(float(flagged[critical].mean()), 4) if critical.any() else None,
        "critical_recall_emergency_or_priority": round(float(urgent[critical].mean()), 4) if critical.any() else None,
        "not_critical_npv": round(float((~critical[negatives]).mean()), 4) if negatives.any() else None,
        "flagged_share": round(float(flagged.mean()), 4),  # share at EMERGENCIA (the flag rate)
        "priority_share": round(float((urgent & ~flagged).mean()), 4),
        "emergency_share_over_prevalence": round(float(flagged.mean() / critical.mean()), 3)
        if critical.any() else None,
    }


def held_out(engine: DiagnosisEngine, data: Dataset) -> dict[str, Any]:
    responses = engine.diagnose_many(data.requests, next_findings=False)
    groups = {**data.groups(), "female": data.sex == "F", "male": data.sex == "M"}
    return {name: _metrics(responses, data, mask) for name, mask in groups.items()}


def load_vignettes(path: Path = VIGNETTES) -> list[dict[str, Any]]:
    return tomllib.loads(path.read_text(encoding="utf-8"))["vignette"]


def vignettes(engine: DiagnosisEngine, path: Path = VIGNETTES) -> dict[str, Any]:
    rows = []
    for v in load_vignettes(path):
        response = engine.diagnose(v["request"])
        codes = [c["code"] for c in response["top_conditions"]]
        rank = codes.index(v["expected_condition"]) + 1 if v["expected_condition"] in codes else None
        rows.append({
            "id": v["id"],
            "expected": v["expected_condition"],
            "top3": codes[:3],
            "rank": rank,
            "critical": bool(v["critical"]),
            "flagged": response["requires_immediate_attention"],
            "triage": triage_level(response),
            "severity": response["severity"],
        })
    critical = [r for r in rows if r["critical"]]
    return {
        "n": len(rows),
        "top1": round(sum(r["rank"] == 1 for r in rows) / len(rows), 4),
        "top3": round(sum(r["rank"] is not None and r["rank"] <= 3 for r in rows) / len(rows), 4),
        "critical_n": len(critical),
        "critical_flagged": sum(r["flagged"] for r in critical),
        "non_critical_flagged": sum(r["flagged"] for r in rows if not r["critical"]),
        "rows": rows,
    }


def origin_cases(engine: DiagnosisEngine) -> list[dict[str, Any]]:
    out = []
    for (symptoms, expected), attention in zip(ORIGIN_CASES, ORIGIN_ATTENTION, strict=True):
        r = engine.diagnose(origin_request(symptoms))
        out.append({
            "symptoms": symptoms,
            "expected": expected,
            "severity": r["severity"],
            "model_state": STATES[int(np.argmax(state_probabilities(r)))],
            "requires_immediate_attention": r["requires_immediate_attention"],
            "attention_expected": attention,
            "red_flags": [f["code"] for f in r["red_flags"]],
            "top_conditions": [c["code"] for c in r["top_conditions"][:3]],
            "ok": urgency(r["severity"]) >= urgency(expected)
            and (r["requires_immediate_attention"] or not attention),
        })
    return out
