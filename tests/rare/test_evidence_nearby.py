"""Few-shot evidence and imprecise reporting (issue 18): a confirmed case's term also speaks for the terms next to it,
through the same reporting model the ranker applies to the annotation (its parent through the true-path rule, its
siblings through the sibling share), so the next patient who names a neighbouring term is credited too."""

from __future__ import annotations

import numpy as np

from app.core.contract import DiagnoseRequest
from app.core.rare import RareDiseaseRanker
from app.core.rare_evidence import DiseaseEvidence

MARFAN = 558
# The confirmed case: arachnodactyly (annotated to Marfan) and a focal-onset seizure, which Marfan's annotation lacks.
CASE = DiseaseEvidence(MARFAN, 1, {"HP:0001166": 1, "HP:0007359": 1}, {})
SIBLING = "HP:0002197"  # generalized-onset seizure: another child of "Seizure", as the case's focal-onset seizure
PARENT = "HP:0001250"  # seizure


def patient(*terms: str) -> DiagnoseRequest:
    return DiagnoseRequest(20.0, "M", None, {}, {}, terms)


def test_a_term_next_to_a_confirmed_cases_term_is_credited(ranker: RareDiseaseRanker) -> None:
    learnt = ranker.with_evidence([CASE])
    d = ranker.disease_position[MARFAN]
    for term, explained in ((SIBLING, False), (PARENT, True)):
        before, after = ranker.evidence(patient(term)), learnt.evidence(patient(term))
        assert not before.explained[0, d], f"{term} must be foreign to Marfan's annotation for this test"
        assert after.log_ratio[0, d] > before.log_ratio[0, d] + 0.1, term
        # A sibling is an imprecise report of the case's term: credited, but not listed as explained.
        assert bool(after.explained[0, d]) is explained, term


def test_next_patient_naming_a_sibling_ranks_the_disease_higher_by_the_terms_alone(ranker: RareDiseaseRanker) -> None:
    learnt = ranker.with_evidence([CASE])
    learnt.log_disease_prior = None  # the prior raise off: only the case's terms may move Marfan
    d = ranker.disease_position[MARFAN]
    request = patient("HP:0000545", SIBLING)  # myopia (annotated) and the sibling of the case's seizure

    def rank(r: RareDiseaseRanker) -> int:
        score = r.evidence(request).ranking_score
        return int(np.sum(score > score[d])) + 1

    assert rank(learnt) < rank(ranker)
