"""`rank` of one patient (`rare_batch.rank_one`) gives the bits the batch-of-one path gave (tests/rare/
reference_rank.py): the same diseases in the same order, ties in ORPHA code order, the same scores, matched and
unexplained terms and P(some rare disease)."""

from __future__ import annotations

import itertools

import numpy as np

from app.core.contract import DiagnoseRequest
from app.core.rare import RareDiseaseRanker
from app.core.rare_evidence import DiseaseEvidence
from tests.rare.reference_rank import reference_rank
from tests.rare.test_batch import simulated_requests


def same(ranker: RareDiseaseRanker, request: DiagnoseRequest, top: int = 10) -> None:
    got = ranker.rank(request, top)
    want = reference_rank(ranker, ranker.findings(request), top)
    assert got == want
    assert got.rare_probability == want.rare_probability  # the same float, not a close one
    alone = ranker.rank_batch([request], top)[0]  # the engine's one case goes through rank_batch
    assert alone == want and alone.rare_probability == want.rare_probability


def test_rank_matches_the_reference_on_two_thousand_patients(ranker: RareDiseaseRanker) -> None:
    requests = simulated_requests(ranker, 2000, seed=1616)
    for request in requests:
        same(ranker, request)
    assert any(ranker.rank(r) == [] for r in requests) and any(len(ranker.rank(r)) == 10 for r in requests)


def test_rank_matches_the_reference_for_every_cut_off(ranker: RareDiseaseRanker) -> None:
    for request in simulated_requests(ranker, 40, seed=1617):
        for top in (1, 5, 37, ranker.n_diseases):  # the full ranking too, which takes the sort of every disease
            same(ranker, request, top)


def test_ties_keep_orpha_code_order(ranker: RareDiseaseRanker) -> None:
    """A vague finding ties most diseases (the exact, crowded way of `best_first`): the listed ones are the first
    tied in ORPHA code order, whatever the path."""
    request = DiagnoseRequest(30.0, "F", None, {}, {}, ("HP:0000118",))  # Phenotypic abnormality
    ranked = ranker.rank(request, 25)
    same(ranker, request, 25)
    scores = [e["score"] for e in ranked]
    assert len(set(scores)) < len(scores)  # ties exist: the check below means something
    for a, b in itertools.pairwise(ranked):
        if a["score"] == b["score"]:
            assert ranker._orpha_labels.index(a["orpha_code"]) < ranker._orpha_labels.index(b["orpha_code"])


def test_many_findings_and_absent_ones(ranker: RareDiseaseRanker) -> None:
    """More than 62 findings (the bit patterns outgrow int64) and absent findings, which count but are never listed."""
    rng = np.random.default_rng(16)
    annotated = ranker.term_ids[np.diff(ranker.cl_indptr) > 0]
    terms = [f"HP:{int(t):07d}" for t in rng.choice(annotated, size=90, replace=False)]
    many = DiagnoseRequest(8.0, "M", None, {}, {}, tuple(terms[:70]), excluded_hpo_terms=tuple(terms[70:]))
    assert len(ranker.findings(many)) == 90
    same(ranker, many)
    assert all(len(e["matched_terms"]) + len(e["unexplained_terms"]) == 70 for e in ranker.rank(many))


def test_rank_matches_the_reference_with_evidence(ranker: RareDiseaseRanker) -> None:
    learnt = ranker.with_evidence([DiseaseEvidence(558, 2, {"HP:0001166": 2, "HP:0001250": 1}, {"HP:0001083": 1})])
    assert learnt.log_disease_prior is not None
    for request in simulated_requests(learnt, 300, seed=1618):
        same(learnt, request, 5)
