"""The batch arithmetic of the rare-disease ranking (app/core/rare_batch.py, issue 16) against the per-disease
evidence it summarises: matched terms of patients with many findings, chunks in any order, the per-finding cache."""

from __future__ import annotations

import numpy as np
import pytest

from app.core import rare
from app.core.contract import DiagnoseRequest
from app.core.rare import RareDiseaseRanker


def _many_findings(ranker: RareDiseaseRanker, n_terms: int, seed: int) -> DiagnoseRequest:
    """A patient with `n_terms` annotated HPO terms and every vocabulary symptom at full intensity."""
    rng = np.random.default_rng(seed)
    annotated = ranker.term_ids[np.diff(ranker.cl_indptr) > 0]
    terms = tuple(f"HP:{int(t):07d}" for t in rng.choice(annotated, n_terms, replace=False))
    return DiagnoseRequest(40.0, "F", None, {k: 9 for k in sorted(ranker.vocab)[:30]}, {}, terms)


def _expected_terms(ranker: RareDiseaseRanker, request: DiagnoseRequest, orpha_code: str) -> tuple[list[str], ...]:
    ev = ranker.evidence(request)
    d = int(np.flatnonzero(ranker.disease_codes == int(orpha_code.split(":")[1]))[0])
    matched = [f.hpo for i, f in enumerate(ev.findings) if ev.explained[i, d] and ev.log_ratio[i, d] > 0]
    return matched, [f.hpo for f in ev.findings if f.hpo not in matched]


def test_matched_terms_of_a_patient_with_more_findings_than_bits_in_a_word(ranker: RareDiseaseRanker) -> None:
    # 50 HPO terms + 30 symptoms: the findings past the 63rd need Python integers for their bit in the pattern.
    request = _many_findings(ranker, 50, seed=3)
    assert len(ranker.findings(request)) > 64
    ranked = ranker.rank(request)
    assert len(ranked) == 10
    for entry in ranked:
        assert (entry["matched_terms"], entry["unexplained_terms"]) == _expected_terms(ranker, request,
                                                                                      entry["orpha_code"])


def test_batch_order_and_chunks_do_not_change_a_patient(ranker: RareDiseaseRanker,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    requests = [_many_findings(ranker, n, seed=n) for n in (0, 1, 7, 2, 40, 3)]
    requests.append(DiagnoseRequest(30.0, "M", None, {}, {}, ()))
    one_by_one = [ranker.rank(r) for r in requests]
    monkeypatch.setattr(rare, "BATCH_CHUNK", 3)  # chunks mixing sizes, and a chunk of one
    batch = ranker.rank_batch(requests)
    assert batch == one_by_one
    assert [b.rare_probability for b in batch] == [o.rare_probability for o in one_by_one]
    # evidence_batch scores patients in the order given (not most findings first): the same figures.
    findings = [ranker.findings(r) for r in requests]
    for ev, r in zip(ranker.evidence_batch(findings), requests, strict=True):
        alone = ranker.evidence(r)
        assert np.array_equal(ev.log_likelihood, alone.log_likelihood)
        assert np.array_equal(ev.posterior, alone.posterior)


def test_a_full_finding_cache_starts_again_with_the_same_answers(ranker: RareDiseaseRanker,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = ranker.with_evidence([])
    requests = [_many_findings(fresh, 6, seed=s) for s in range(4)]
    expected = [fresh.rank(r) for r in requests]
    monkeypatch.setattr(rare, "TERM_CACHE", 8)
    small = ranker.with_evidence([])
    assert [small.rank(r) for r in requests] == expected
    assert len(small._rows) <= 8


def test_diseases_tied_at_the_cut_off_are_listed_in_orpha_code_order() -> None:
    """Ten places, fourteen diseases sharing the tenth score: the ones listed are the first in code order, never
    whichever the partition happened to leave in front."""

    from app.core.rare_batch import Finding, Scored, entries

    n_diseases, k = 40, 10
    scores = np.full((1, n_diseases), -5.0)
    scores[0, [3, 30, 17]] = [-1.0, -2.0, -3.0]  # three clear leaders, in score order
    scores[0, [33, 1, 38, 6, 25, 12, 9, 21, 35, 2, 28, 15, 37, 19]] = -4.0  # fourteen tied for the rest
    scored = Scored(rows=np.zeros((1, 1), dtype=np.int64), log_lr=np.zeros((1, n_diseases)),
                    explained=np.zeros((1, n_diseases), dtype=bool), log_likelihood=scores,
                    rare_mass=np.full((1, n_diseases), 0.01), total=np.ones(1), rare_posterior=np.full(1, 0.4))
    codes = [f"ORPHA:{i}" for i in range(n_diseases)]
    (ranked,) = entries([[Finding(term=0, hpo="HP:0000001", weight=1.0)]], scored, k, codes, codes)
    assert [e["orpha_code"] for e in ranked] == [f"ORPHA:{i}" for i in (3, 30, 17, 1, 2, 6, 9, 12, 15, 19)]
