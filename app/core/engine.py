"""The diagnosis engine: validated request in, full diagnose response out, with onnxruntime and nothing else.

One engine serves the CLI, the desktop app and the central service's /v1/predict, so the three can never disagree.
It is safe to call from several threads (onnxruntime sessions are; everything else here is read-only).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import onnxruntime as ort

from app.core import red_flags, scores, triage
from app.core.bundle import ModelBundle
from app.core.contract import CONTRACT_VERSION, DiagnoseRequest, validate_request
from app.core.explain import SPACE, AdditiveExplainer, Explanation
from app.core.rare import RareDiseaseRanker
from app.core.recommendations import recommendations_for
from app.core.response import DiagnoseResponse
from app.core.vocabulary import STATE_LABELS, STATES, urgency

TOP_CONDITIONS = 5
ACUTE = "ENFERMEDAD_AGUDA"
CHRONIC = "ENFERMEDAD_CRONICA"
# Model-only emergency thresholds for a bundle built before contract v2 tuned its own on validation patients.
DEFAULT_EMERGENCY_PROBABILITY = 0.5


class _ScoringModel:
    """One ONNX model returning centred class scores (log-odds space) for expanded rows."""

    def __init__(self, bundle: ModelBundle, name: str) -> None:
        spec = bundle.model(name)
        options = ort.SessionOptions()
        # The models are small: threads cost more than they give, and the laptop has other work to do.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(bundle.path / spec.file), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.spec = spec
        self.classes = spec.classes
        self.explainer = AdditiveExplainer.from_scores(
            self.scores, np.asarray(spec.background_mean), bundle.features.groups, bundle.features.n_raw
        )

    def scores(self, expanded: np.ndarray) -> np.ndarray:
        (out,) = self.session.run([self.spec.output_name], {self.spec.input_name: expanded.astype(np.float32)})
        z = out.astype(np.float64)
        # Softmax ignores a common shift; centring makes the score the class's log-odds against the mean class.
        return z - z.mean(axis=1, keepdims=True)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class DiagnosisEngine:
    def __init__(self, bundle: ModelBundle) -> None:
        self.bundle = bundle
        self.vocabulary = bundle.vocabulary
        self.features = bundle.features
        self.state_model = _ScoringModel(bundle, "state")
        self.condition_model = _ScoringModel(bundle, "condition")
        if tuple(self.state_model.classes) != STATES:
            raise ValueError(f"state model classes {self.state_model.classes} are not the five states in order")
        self._critical = np.array(
            [self.vocabulary.condition(c).critical for c in self.condition_model.classes], dtype=bool
        )
        thresholds = bundle.thresholds
        # Model risk at or above the attention thresholds: PRIORITARIO; at or above the emergency ones: EMERGENCIA.
        self.acute_threshold = thresholds["attention_acute_probability"]
        self.critical_threshold = thresholds["attention_critical_condition_probability"]
        self.emergency_acute_threshold = thresholds.get("emergency_acute_probability", DEFAULT_EMERGENCY_PROBABILITY)
        self.emergency_critical_threshold = thresholds.get("emergency_critical_condition_probability",
                                                           DEFAULT_EMERGENCY_PROBABILITY)
        # The rare-disease index travels in the bundle; an older bundle without one still diagnoses.
        self.rare: RareDiseaseRanker | None = RareDiseaseRanker.load(bundle.path) if "rare" in bundle.manifest else None
        self._known_terms = self.rare.known_terms() if self.rare is not None else None

    @classmethod
    def load(cls, path: Path | None = None) -> DiagnosisEngine:
        return cls(ModelBundle.load(path))

    def validate(self, raw: Any) -> DiagnoseRequest:
        return validate_request(raw, self.vocabulary, self._known_terms)

    def diagnose(self, raw: Any, engine: str = "local") -> DiagnoseResponse:
        """Diagnose one request (a dict following the contract, or an already validated request)."""
        request = raw if isinstance(raw, DiagnoseRequest) else self.validate(raw)
        return self.diagnose_many([request], engine)[0]

    def diagnose_many(self, requests: Sequence[DiagnoseRequest], engine: str = "local") -> list[DiagnoseResponse]:
        """Diagnose validated requests with one model call for all of them (batch files, the central service)."""
        if not requests:
            return []
        expanded = self.features.expand(self.features.raw_matrix(requests))
        state_z = self.state_model.scores(expanded)
        cond_z = self.condition_model.scores(expanded)
        state_p = softmax(state_z)
        cond_p = softmax(cond_z)
        return [
            self._response(r, expanded[i], state_z[i], state_p[i], cond_z[i], cond_p[i], engine)
            for i, r in enumerate(requests)
        ]

    def model_risk(self, state_p: np.ndarray, cond_p: np.ndarray) -> np.ndarray:
        """True where the model alone asks for at least PRIORITARIO (rows of probabilities in, booleans out)."""
        acute = np.atleast_2d(state_p)[:, STATES.index(ACUTE)]
        critical = np.atleast_2d(cond_p)[:, self._critical].sum(axis=1)
        return (acute >= self.acute_threshold) | (critical >= self.critical_threshold)

    def model_emergency(self, state_p: np.ndarray, cond_p: np.ndarray) -> np.ndarray:
        """True where the model alone says EMERGENCIA: its most likely state is acute, or a risk above the
        emergency thresholds chosen on validation patients."""
        state_p, cond_p = np.atleast_2d(state_p), np.atleast_2d(cond_p)
        acute = state_p[:, STATES.index(ACUTE)]
        critical = cond_p[:, self._critical].sum(axis=1)
        return ((np.argmax(state_p, axis=1) == STATES.index(ACUTE)) | (acute >= self.emergency_acute_threshold)
                | (critical >= self.emergency_critical_threshold))

    def model_level(self, state_p: np.ndarray, cond_p: np.ndarray) -> str:
        if bool(self.model_emergency(state_p, cond_p)[0]):
            return red_flags.EMERGENCIA
        return red_flags.PRIORITARIO if bool(self.model_risk(state_p, cond_p)[0]) else red_flags.NO_URGENTE

    def _response(
        self,
        request: DiagnoseRequest,
        x: np.ndarray,
        state_z: np.ndarray,
        state_p: np.ndarray,
        cond_z: np.ndarray,
        cond_p: np.ndarray,
        engine: str,
    ) -> DiagnoseResponse:
        fired = red_flags.evaluate(request)
        model_level = self.model_level(state_p, cond_p)
        rare = self.rare.rank(request) if self.rare is not None else []
        rare_alert = self.rare.alert(rare) if self.rare is not None else False
        decided = triage.decide(fired, model_level, rare_alert)
        model_state_index = int(np.argmax(state_p))
        state = STATES[model_state_index]
        if decided.emergency:
            state = ACUTE  # EMERGENCIA and ENFERMEDAD_AGUDA always agree (contract v2)
        elif rare_alert and urgency(state) < urgency(CHRONIC):
            # Findings that fit an orphan disease are never "not ill" or "minor complaints": at least a
            # long-lasting condition to follow up and refer (precautionary principle; never lowers a state).
            state = CHRONIC
        flags = [{"code": rule.code, "level": rule.level, "message": dict(rule.message)} for rule in fired]
        if model_level != red_flags.NO_URGENTE:
            model_flag = triage.MODEL_EMERGENCY if model_level == red_flags.EMERGENCIA else triage.MODEL_PRIORITY
            flags.append({"code": model_flag["code"], "level": model_level, "message": dict(model_flag["message"])})
        attention = decided.emergency

        order = np.argsort(-cond_p, kind="stable")
        top = [
            {
                "code": self.condition_model.classes[k],
                "name": dict(self.vocabulary.condition(self.condition_model.classes[k]).name),
                "probability": round(float(cond_p[k]), 4),
            }
            for k in order[:TOP_CONDITIONS]
        ]
        state_index = STATES.index(state)
        severity_expl = self.state_model.explainer.explain(x, state_index, float(state_z[state_index]))
        top_index = int(order[0])
        condition_expl = self.condition_model.explainer.explain(x, top_index, float(cond_z[top_index]))
        response = {
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
                "severity": self._explanation_json(state, severity_expl),
                "condition": self._explanation_json(self.condition_model.classes[top_index], condition_expl),
            },
            "triage": decided.to_json(),
            "scores": scores.scores(request),
            "model": {"version": self.bundle.version, "sha256": self.bundle.manifest_sha256},
            "engine": engine,
            "contract": CONTRACT_VERSION,
        }
        return cast(DiagnoseResponse, response)  # the shape tests/server/test_predict_v2.py checks

    def _explanation_json(self, target: str, expl: Explanation) -> dict[str, Any]:
        names = self.features.raw_names
        order = np.argsort(-np.abs(expl.contributions), kind="stable")
        return {
            "target": target,
            "base_value": round(expl.base_value, 6),
            "output_value": round(expl.output_value, 6),
            "contributions": {names[j]: round(float(expl.contributions[j]), 6) for j in order},
        }
