"""The shortcuts of issue 19's speed-up, each held to the full computation it skips: the danger-sign rules' gates
(app/core/red_flags_batch.py `GATES`, a rule answered "nowhere" when no case meets a condition it implies), the
shared values a batch computes on first use, NEWS2 / qSOFA for a batch of children and as floors only
(app/core/scores.py), and next_findings never trying a finding that neither model nor rule reads."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.core import red_flags, red_flags_batch, scores
from app.core.cases import Cases
from app.core.engine import DiagnosisEngine
from app.core.next_findings_variants import Candidate, outcomes, variant_cases
from app.core.probability import softmax
from model_export import knowledge
from model_export.simulator import Simulator
from tests.core.test_engine_batch import _threshold_patients


@pytest.fixture(scope="module")
def patients(engine: DiagnosisEngine) -> list[Any]:
    return _threshold_patients(engine, 5_000, seed=19)


def _cond_p(engine: DiagnosisEngine, request: Any) -> np.ndarray:
    return softmax(engine.condition_model.scores(engine.features.expand(engine.features.raw_matrix([request]))))[0]


def test_every_gated_rule_implies_its_gate(patients: list[Any]) -> None:
    """Wherever a gated rule fires, its gate holds (so "no case meets the gate" means "the rule fires nowhere"),
    checked on patients pushed onto the rules' thresholds, where every gated rule fires."""
    cases = Cases(patients)
    batch = red_flags_batch._Batch(cases, scores.batch_scores(cases))
    for code, gate in red_flags_batch.GATES.items():
        fires = red_flags_batch.BATCH_RULES[code](batch)
        assert fires.sum() >= 3, code  # the implication is tested where the rule fires
        assert not (fires & ~gate(batch)).any(), code
        assert (~gate(batch)).any(), code  # and the gate does exclude cases


def test_the_rules_over_one_patients_variants_are_their_full_evaluation(engine: DiagnosisEngine,
                                                                      patients: list[Any]) -> None:
    """Over one patient's variants (next_findings' batches, where the gates answer most rules at once), the gated
    evaluation with the floors-only scores is the rules' own, rule by rule, and the gates are taken."""
    nf = engine.next_findings
    blocked = 0
    for request in patients[::25]:
        cases = variant_cases(request, nf.candidates(request, _cond_p(engine, request), 0.5, floor=0.0))
        fast = red_flags_batch.fired_matrix(cases, scores.batch_scores(cases, floors_only=True), red_flags.CODES)
        batch = red_flags_batch._Batch(cases, scores.batch_scores(cases))
        full = np.column_stack([red_flags_batch.BATCH_RULES[code](batch) for code in red_flags.CODES])
        assert np.array_equal(fast, full), request
        blocked += sum(not gate(batch).any() for gate in red_flags_batch.GATES.values())
    assert blocked > 500


def test_the_scores_short_forms_are_the_published_scores(patients: list[Any]) -> None:
    """A batch of children only (neither score applies: answered without banding a vital) and the floors-only
    form give the one-request scores."""
    children = [r for r in patients if r.age < scores.NEWS2_MIN_AGE]
    assert len(children) > 1000
    batch = scores.batch_scores(Cases(children))
    assert batch.to_json() == [scores.scores(r) for r in children]
    assert batch.news2_floor.tolist() == [scores.news2_floor(r)[0] for r in children]
    assert batch.qsofa_floor.tolist() == [scores.qsofa_floor(r) for r in children]
    floors = scores.batch_scores(Cases(patients), floors_only=True)
    assert floors.news2_floor.tolist() == [scores.news2_floor(r)[0] for r in patients]
    assert floors.qsofa_floor.tolist() == [scores.qsofa_floor(r) for r in patients]
    assert max(floors.news2_floor.tolist()) >= 7 and max(floors.qsofa_floor.tolist()) >= 2


def test_a_finding_nothing_reads_is_never_tried_and_could_change_nothing(engine: DiagnosisEngine) -> None:
    """Height is read by neither model nor danger-sign rule: it is never a candidate, and its variants, answered
    in full (models run on their columns, every rule evaluated), all answer as the request."""
    nf = engine.next_findings
    untried = [key for key, _ in nf._vitals if not nf._reads(("vital", key))]
    assert "height_cm" in untried and "spo2" not in untried
    requests = [engine.validate(r) for r in Simulator(knowledge.load()).sample(150, seed=191).requests]
    for request in requests:
        candidates = nf.candidates(request, _cond_p(engine, request), 0.5, floor=0.0)
        assert not {c.finding for c in candidates} & set(untried)
        heights = [Candidate(key, "vital", ((60.0, 0.3), (150.0, 0.4), (210.0, 0.3)))
                   for key in untried if key not in request.vitals]
        cases = variant_cases(request, heights)
        expanded = engine.features.expand(engine.features.raw_matrix([request] * cases.n, cases))
        out = outcomes(engine, [], np.zeros(cases.n, dtype=bool), cases, expanded=expanded)
        for column in (out.level, out.state, out.top, out.danger):
            assert (column == column[0]).all(), request
