"""The engine's one-case-at-a-time path as it was before the vectorised engine (issue 16), kept as the reference.

`reference_diagnose_many` answers exactly as `DiagnosisEngine.diagnose_many` did: features row by row
(`raw_vector`) and expanded input by input, the danger-sign rules, scores, triage and explanations evaluated per
request with their one-request functions (`red_flags.evaluate`, `scores.scores`, `triage.decide`,
`AdditiveExplainer.explain`), and the response built with Python loops. tests/core/test_engine_batch.py checks the
vectorised engine against it; bench/diagnose.py times both in one run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from app.core import priority_conditions, red_flags, scores, triage
from app.core.contract import CONTRACT_VERSION, DiagnoseRequest
from app.core.engine import ACUTE, CHRONIC, TOP_CONDITIONS, DiagnosisEngine
from app.core.explain import SPACE, Explanation
from app.core.features import FeatureSchema
from app.core.finding_distributions import age_band
from app.core.priority_conditions import BANDS, PRIORITY_PROBABILITY
from app.core.probability import softmax
from app.core.recommendations import recommendations_for
from app.core.vocabulary import STATE_LABELS, STATES, urgency


def expand_per_input(schema: FeatureSchema, raw: np.ndarray) -> np.ndarray:
    """`FeatureSchema.expand` as it was: one raw input at a time."""
    raw = np.atleast_2d(raw)
    out = np.zeros((raw.shape[0], schema.n_expanded), dtype=np.float32)
    col = 0
    for j, spec in enumerate(schema.specs):
        x = raw[:, j]
        missing = np.isnan(x)
        present = ~missing
        band = np.searchsorted(np.asarray(spec.cuts), x[present], side="right")
        out[np.flatnonzero(present), col + band] = 1.0
        col += len(spec.cuts) + 1
        if spec.linear_scale is not None:
            out[present, col] = x[present] / spec.linear_scale
            col += 1
        if spec.missing:
            out[missing, col] = 1.0
            col += 1
        elif missing.any():
            raise ValueError(f"{spec.name} is required by the model but missing")
    return out


def reference_diagnose_many(engine: DiagnosisEngine, requests: Sequence[DiagnoseRequest],
                            engine_name: str = "local", next_findings: bool = True) -> list[dict[str, Any]]:
    if not requests:
        return []
    raw = np.vstack([engine.features.raw_vector(r) for r in requests])
    expanded = expand_per_input(engine.features, raw)
    state_z = engine.state_model.scores(expanded)
    cond_z = engine.condition_model.scores(expanded)
    state_p = softmax(state_z)
    cond_p = softmax(cond_z)
    answers = [_response(engine, r, expanded[i], state_z[i], state_p[i], cond_z[i], cond_p[i], engine_name)
               for i, r in enumerate(requests)]
    for request, answer in zip(requests, answers, strict=True):
        # What to ask next (issue 19): the same ranking, called one request at a time.
        answer["next_findings"] = (engine.next_findings.rank(request, answer["rare_disease_alert"])
                                   if next_findings else [])
    return answers


def _model_level(engine: DiagnosisEngine, state_p: np.ndarray, cond_p: np.ndarray) -> str:
    if bool(engine.model_emergency(state_p, cond_p)[0]):
        return red_flags.EMERGENCIA
    return red_flags.PRIORITARIO if bool(engine.model_risk(state_p, cond_p)[0]) else red_flags.NO_URGENTE


def _priority_condition(engine: DiagnosisEngine, request: DiagnoseRequest,
                        cond_p: np.ndarray) -> dict[str, Any] | None:
    """The reason of the most likely condition of data/priority_conditions.toml for the patient's age band, when
    those conditions together reach PRIORITY_PROBABILITY; else None (one request, one condition at a time)."""
    band = BANDS[age_band(request.age)]
    classes = list(engine.condition_model.classes)
    listed = [(float(cond_p[classes.index(c.code)]), -classes.index(c.code), c) for c in priority_conditions.listed()
              if c.code in classes and band in c.bands]
    if not listed or sum(p for p, _, _ in listed) < PRIORITY_PROBABILITY:
        return None
    best = max(listed, key=lambda item: item[:2])[2]  # ties: the first class, as argmax
    return {"code": priority_conditions.CODE, "message": best.reason}


def _response(engine: DiagnosisEngine, request: DiagnoseRequest, x: np.ndarray, state_z: np.ndarray,
              state_p: np.ndarray, cond_z: np.ndarray, cond_p: np.ndarray, engine_name: str) -> dict[str, Any]:
    fired = red_flags.evaluate(request)
    model_level = _model_level(engine, state_p, cond_p)
    rare = engine.rare.rank(request) if engine.rare is not None else []
    rare_alert = engine.rare.alert(rare) if engine.rare is not None else False
    decided = triage.decide(fired, model_level, rare_alert, _priority_condition(engine, request, cond_p))
    model_state_index = int(np.argmax(state_p))
    state = STATES[model_state_index]
    if decided.emergency:
        state = ACUTE
    elif rare_alert and urgency(state) < urgency(CHRONIC):
        state = CHRONIC
    flags = [{"code": rule.code, "level": rule.level, "message": dict(rule.message)} for rule in fired]
    if model_level != red_flags.NO_URGENTE:
        model_flag = triage.MODEL_EMERGENCY if model_level == red_flags.EMERGENCIA else triage.MODEL_PRIORITY
        flags.append({"code": model_flag["code"], "level": model_level,
                      "message": dict(cast(dict[str, str], model_flag["message"]))})
    attention = decided.emergency
    classes = engine.condition_model.classes
    order = np.argsort(-cond_p, kind="stable")
    top = [{"code": classes[k], "name": dict(engine.vocabulary.condition(classes[k]).name),
            "probability": round(float(cond_p[k]), 4)} for k in order[:TOP_CONDITIONS]]
    state_index = STATES.index(state)
    severity_expl = engine.state_model.explainer.explain(x, state_index, float(state_z[state_index]))
    top_index = int(order[0])
    condition_expl = engine.condition_model.explainer.explain(x, top_index, float(cond_z[top_index]))
    return {
        "severity": state,
        "severity_label": dict(STATE_LABELS[state]),
        "severity_probabilities": {s: round(float(p), 4) for s, p in zip(STATES, state_p, strict=True)},
        "confidence": round(float(state_p[model_state_index]), 4),
        "requires_immediate_attention": attention,
        "red_flags": flags,
        "top_conditions": top,
        "rare_diseases": list(rare),
        "rare_disease_alert": rare_alert,
        "recommendations": recommendations_for(state, attention, rare_alert,
                                               priority=decided.level == red_flags.PRIORITARIO),
        "explanation": {
            "space": SPACE,
            "severity": _explanation_json(engine, state, severity_expl),
            "condition": _explanation_json(engine, classes[top_index], condition_expl),
        },
        "triage": decided.to_json(),
        "scores": scores.scores(request),
        "model": {"version": engine.bundle.version, "sha256": engine.bundle.manifest_sha256},
        "engine": engine_name,
        "contract": CONTRACT_VERSION,
    }


def _explanation_json(engine: DiagnosisEngine, target: str, expl: Explanation) -> dict[str, Any]:
    names = engine.features.raw_names
    order = np.argsort(-np.abs(expl.contributions), kind="stable")
    return {
        "target": target,
        "base_value": round(expl.base_value, 6),
        "output_value": round(expl.output_value, 6),
        "contributions": {names[j]: round(float(expl.contributions[j]), 6) for j in order},
    }
