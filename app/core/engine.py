"""The diagnosis engine: validated request in, full diagnose response out, with onnxruntime and nothing else.

One engine serves the CLI, the desktop app and the central service's /v1/predict, so the three can never disagree.
It works on batches: `diagnose_many` runs features, both models, the danger-sign rules, the scores, the triage
level, the explanations and the rare-disease ranking for all its requests with array operations (numpy only), and
builds the answers from the arrays; `diagnose` is a batch of one. tests/core/test_engine_batch.py holds it to the
one-request path it replaced (tests/core/reference_engine.py). It is safe to call from several threads (onnxruntime
sessions are; everything else is read-only once built, and the lazily built tables are the same whoever builds them).
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import onnxruntime as ort

from app.core import red_flags, scores, triage
from app.core.bundle import ModelBundle
from app.core.cases import Cases
from app.core.contract import CONTRACT_VERSION, DiagnoseRequest, validate_request
from app.core.explain import SPACE, AdditiveExplainer
from app.core.next_findings import NextFindings
from app.core.priority_conditions import PriorityConditions
from app.core.probability import softmax
from app.core.rare import RareDiseaseRanker
from app.core.recommendations import recommendations_for
from app.core.response import DiagnoseResponse
from app.core.vocabulary import STATE_LABELS, STATES, urgency

TOP_CONDITIONS = 5
ACUTE = "ENFERMEDAD_AGUDA"
CHRONIC = "ENFERMEDAD_CRONICA"
# Model-only emergency thresholds for a bundle built before contract v2 tuned its own on validation patients.
DEFAULT_EMERGENCY_PROBABILITY = 0.5


BATCH_RULES_FROM = 32  # batches this large evaluate the danger-sign rules and scores as array operations
_LEVELS = red_flags.TRIAGE_LEVELS  # index = rank: NO_URGENTE, PRIORITARIO, EMERGENCIA
_ACUTE_INDEX = STATES.index(ACUTE)
_CHRONIC_INDEX = STATES.index(CHRONIC)
_URGENCY = np.array([urgency(s) for s in STATES])


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
        # `expand` already gives contiguous float32 rows: no copy then (onnxruntime only reads its input).
        rows = np.ascontiguousarray(expanded, dtype=np.float32)
        (out,) = self.session.run([self.spec.output_name], {self.spec.input_name: rows})
        z = np.asarray(out, dtype=np.float64)
        # Softmax ignores a common shift; centring makes the score the class's log-odds against the mean class.
        # (sum / count is what `mean` computes, the same floats, without its Python wrapper: ~5 us a call.)
        centred: np.ndarray = z - z.sum(axis=1, keepdims=True) / z.shape[1]
        return centred


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
        # What every answer repeats, prepared once: a fresh copy per answer costs less than building it.
        self._raw_names = np.array(self.features.raw_names, dtype=object)
        self._condition_names = [self.vocabulary.condition(c).name for c in self.condition_model.classes]
        self._rules = [(rule.code, rule.level, rule.message, rank)
                       for rule, rank in zip(red_flags.RULES, red_flags.LEVEL_RANKS.tolist(), strict=True)]
        self._rank_of_rule: list[int] = red_flags.LEVEL_RANKS.tolist()
        # Conditions whose likely diagnosis asks for PRIORITARIO by itself (data/priority_conditions.toml).
        self.priority = PriorityConditions(tuple(self.condition_model.classes))
        # What to measure or ask next (issue 19): the bundle's findings distributions, or the generic stand-in.
        self.next_findings = NextFindings(self)

    @classmethod
    def load(cls, path: Path | None = None) -> DiagnosisEngine:
        return cls(ModelBundle.load(path))

    def validate(self, raw: Any) -> DiagnoseRequest:
        return validate_request(raw, self.vocabulary, self._known_terms)

    def diagnose(self, raw: Any, engine: str = "local", next_findings: bool = True) -> DiagnoseResponse:
        """Diagnose one request (a dict following the contract, or an already validated request)."""
        request = raw if isinstance(raw, DiagnoseRequest) else self.validate(raw)
        return self.diagnose_many([request], engine, next_findings)[0]

    def diagnose_many(self, requests: Sequence[DiagnoseRequest], engine: str = "local",
                      next_findings: bool = True) -> list[DiagnoseResponse]:
        """Diagnose validated requests together: one model call, and every rule, score, level and explanation
        computed for the whole batch with array operations (batch files, the central service). One case is a batch
        of one; the answers are those of one request at a time (tests/core/test_engine_batch.py).

        `next_findings=False` leaves out what to measure or ask next (issue 19; each request then costs one batch
        of its variants less): `next_findings` is then an empty list, for callers that only want the answer."""
        if not requests:
            return []
        # CPython's cyclic garbage collector is paused for the call. A batch's answers are ~300 fresh containers a
        # case, trees without a cycle: with the collector on, every 700 of them start a collection, and the older
        # generations' sweeps walk all the answers made so far again: 30% of a 2,000-case batch's time
        # (bench/diagnose.py). Paused, the first collection after the call sees them once. Another thread's call
        # may end first and turn it back on: that only brings back the cost, it never leaves the collector off.
        collector_was_on = gc.isenabled()
        gc.disable()
        try:
            return self._diagnose_many(requests, engine, next_findings)
        finally:
            if collector_was_on:
                gc.enable()

    def _diagnose_many(self, requests: Sequence[DiagnoseRequest], engine: str,
                       next_findings: bool) -> list[DiagnoseResponse]:
        n = len(requests)
        # Small batches (the desktop's one patient, a quiet service): the one-request rules and scores cost less than
        # the fixed cost of ~200 array operations; both forms give the same answers (checked by the tests).
        small = n < BATCH_RULES_FROM
        cases = None if small else Cases(requests)
        expanded = self.features.expand(self.features.raw_matrix(requests, cases))
        state_z = self.state_model.scores(expanded)
        cond_z = self.condition_model.scores(expanded)
        state_p = softmax(state_z)
        cond_p = softmax(cond_z)

        if cases is None:
            # The rules that fire, as lists of rule positions (rule order): few requests, no arrays to build.
            fired_rows = [[j for j, rule in enumerate(red_flags.RULES) if rule.applies(r)] for r in requests]
            ranks = self._rank_of_rule
            rules_level = np.array([max((ranks[j] for j in row), default=0) for row in fired_rows], dtype=np.int64)
            score_json = [scores.scores(r) for r in requests]
        else:
            batch_scores = scores.batch_scores(cases)
            fired = red_flags.evaluate_batch(cases, batch_scores)
            score_json = batch_scores.to_json()
            rules_level = np.max(np.where(fired, red_flags.LEVEL_RANKS, 0), axis=1)
            fired_rows = [[] for _ in range(n)]
            for i, j in zip(*(a.tolist() for a in np.nonzero(fired)), strict=True):  # row-major: rule order kept
                fired_rows[i].append(j)
        model_state = np.argmax(state_p, axis=1)
        # Model's own level: 2 EMERGENCIA, 1 PRIORITARIO, 0 NO_URGENTE.
        model_level = self.model_levels(state_p, cond_p, model_state)
        rare = self._rank_rare(requests)
        rare_alert = np.array([self.rare.alert(r) for r in rare] if self.rare is not None else [False] * n,
                              dtype=bool)
        priority, priority_class = self.priority.of(
            cond_p, cases.age if cases is not None else np.array([r.age for r in requests], dtype=np.float64))
        level = np.maximum(np.maximum(np.maximum(rules_level, model_level), rare_alert.astype(np.int64)),
                           priority.astype(np.int64))
        emergency = level == 2
        state_index = np.where(emergency, _ACUTE_INDEX,
                               np.where(rare_alert & (_URGENCY[model_state] < _URGENCY[_CHRONIC_INDEX]),
                                        _CHRONIC_INDEX, model_state))
        order = np.argsort(-cond_p, axis=1, kind="stable")[:, :TOP_CONDITIONS]
        top_index = order[:, 0]
        rows = np.arange(n)
        # Both explanations' SHAP values as one (2n x inputs) array: one sort, one rounding, one list for the two.
        contributions = self._contributions(np.vstack((
            self.state_model.explainer.contributions_many(expanded, state_index),
            self.condition_model.explainer.contributions_many(expanded, top_index))))
        # Every rounded number of the answers as arrays, rounded in one step each (rows of Python floats out).
        # (`ndarray.round` is what `np.round` calls, without its Python wrapper: a few us on one patient.)
        explained = np.array((
            self.state_model.explainer.base_values[state_index], state_z[rows, state_index],
            self.condition_model.explainer.base_values[top_index], cond_z[rows, top_index])).round(6).T.tolist()
        state_probabilities = state_p.round(4).tolist()
        top_probabilities = cond_p[rows[:, None], order].round(4).tolist()

        model_version = self.bundle.version
        model_sha = self.bundle.manifest_sha256
        # A request alone is its own batch of one: next_findings reuses its model columns, probabilities and rules.
        alone = (expanded, cond_p[0], float(state_p[0, _ACUTE_INDEX]), (state_z, cond_z), fired_rows[0]) if n == 1 \
            else None
        classes = self.condition_model.classes
        # What to ask next for the whole batch at once: its variants share one call of the danger-sign rules.
        asks = (self.next_findings.rank_many(requests, rare_alert.tolist(), alone) if next_findings
                else [[] for _ in range(n)])
        out: list[DiagnoseResponse] = []
        for i, (state_probs, cond_probs, top_k, lvl, m_lvl, alert, s_idx, m_state, values, listed) in enumerate(zip(
                state_probabilities, top_probabilities, order.tolist(), level.tolist(), model_level.tolist(),
                rare_alert.tolist(), state_index.tolist(), model_state.tolist(), explained,
                np.where(priority, priority_class, -1).tolist(), strict=True)):
            state = STATES[s_idx]
            rules = [self._rules[j] for j in fired_rows[i]]
            flags: list[dict[str, Any]] = [{"code": code, "level": level, "message": dict(message)}
                                           for code, level, message, _ in rules]
            reasons = [{"code": code, "message": dict(message)} for code, _, message, rank in rules if rank == lvl]
            if m_lvl:
                model_flag = triage.MODEL_EMERGENCY if m_lvl == 2 else triage.MODEL_PRIORITY
                model_message = cast(dict[str, str], model_flag["message"])
                flags.append({"code": model_flag["code"], "level": _LEVELS[m_lvl], "message": dict(model_message)})
                if m_lvl == lvl:
                    reasons.append({"code": model_flag["code"], "message": dict(model_message)})
            if alert and lvl == 1:
                reasons.append({"code": triage.RARE_ALERT["code"],
                                "message": dict(cast(dict[str, str], triage.RARE_ALERT["message"]))})
            if listed >= 0 and lvl == 1:
                reasons.append(self.priority.reason(listed))
            attention = lvl == 2
            level_name = _LEVELS[lvl]
            response = {
                "severity": state,
                "severity_label": dict(STATE_LABELS[state]),
                "severity_probabilities": dict(zip(STATES, state_probs, strict=True)),
                "confidence": state_probs[m_state],
                "requires_immediate_attention": attention,
                "red_flags": flags,
                "top_conditions": [{"code": classes[k], "name": dict(self._condition_names[k]),
                                    "probability": p} for k, p in zip(top_k, cond_probs, strict=True)],
                "rare_diseases": list(rare[i]),
                "rare_disease_alert": alert,
                "recommendations": recommendations_for(state, attention, alert, priority=lvl == 1),
                "explanation": {
                    "space": SPACE,
                    "severity": {"target": state, "base_value": values[0], "output_value": values[1],
                                 "contributions": contributions[i]},
                    "condition": {"target": classes[top_k[0]], "base_value": values[2], "output_value": values[3],
                                  "contributions": contributions[n + i]},
                },
                "triage": {"level": level_name, "label": dict(triage.TRIAGE_LABELS[level_name]), "reasons": reasons},
                "scores": score_json[i],
                "model": {"version": model_version, "sha256": model_sha},
                "engine": engine,
                "contract": CONTRACT_VERSION,
                "next_findings": asks[i],
            }
            out.append(cast(DiagnoseResponse, response))  # the shape tests/server/test_predict_v2.py checks
        return out

    def _rank_rare(self, requests: Sequence[DiagnoseRequest]) -> list[list[dict[str, Any]]]:
        """The rare-disease ranking of each request (empty lists on a bundle without the index)."""
        if self.rare is None:
            return [[] for _ in requests]
        return list(self.rare.rank_batch(requests))  # scored together (issue 18), the same lists as rank() one by one

    def _contributions(self, phi: np.ndarray) -> list[dict[str, float]]:
        """Each row's SHAP values as the contract's dict: largest magnitude first (ties keep input order), six
        decimals."""
        order = np.argsort(-np.abs(phi), axis=1, kind="stable")
        names = self._raw_names[order].tolist()
        values = phi[np.arange(phi.shape[0])[:, None], order].round(6).tolist()
        # Rows of one (rows x inputs) array: equal lengths by construction, so zip skips its length checks (~2 us a
        # row of ~110 inputs, two rows per answer).
        return [dict(zip(k, v, strict=False)) for k, v in zip(names, values, strict=True)]

    def model_levels(self, state_p: np.ndarray, cond_p: np.ndarray, model_state: np.ndarray) -> np.ndarray:
        """2 where `model_emergency`, else 1 where `model_risk`, else 0: the two share their sums (same floats)."""
        acute = state_p[:, _ACUTE_INDEX]
        critical = cond_p[:, self._critical].sum(axis=1)
        emergency = ((model_state == _ACUTE_INDEX) | (acute >= self.emergency_acute_threshold)
                     | (critical >= self.emergency_critical_threshold))
        risk = (acute >= self.acute_threshold) | (critical >= self.critical_threshold)
        levels: np.ndarray = np.where(emergency, 2, np.where(risk, 1, 0))
        return levels

    def model_risk(self, state_p: np.ndarray, cond_p: np.ndarray) -> np.ndarray:
        """True where the model alone asks for at least PRIORITARIO (rows of probabilities in, booleans out)."""
        acute = np.atleast_2d(state_p)[:, STATES.index(ACUTE)]
        critical = np.atleast_2d(cond_p)[:, self._critical].sum(axis=1)
        risk: np.ndarray = (acute >= self.acute_threshold) | (critical >= self.critical_threshold)
        return risk

    def model_emergency(self, state_p: np.ndarray, cond_p: np.ndarray) -> np.ndarray:
        """True where the model alone says EMERGENCIA: its most likely state is acute, or a risk above the
        emergency thresholds chosen on validation patients."""
        state_p, cond_p = np.atleast_2d(state_p), np.atleast_2d(cond_p)
        acute = state_p[:, STATES.index(ACUTE)]
        critical = cond_p[:, self._critical].sum(axis=1)
        emergency: np.ndarray = ((np.argmax(state_p, axis=1) == STATES.index(ACUTE))
                                 | (acute >= self.emergency_acute_threshold)
                                 | (critical >= self.emergency_critical_threshold))
        return emergency

