"""`rank_batch` (the vectorised engine's entry point) returns exactly what `rank` returns, patient by patient."""

from __future__ import annotations

import numpy as np

from app.core.contract import DiagnoseRequest
from app.core.rare import RareDiseaseRanker
from app.core.rare_evidence import DiseaseEvidence


def simulated_requests(ranker: RareDiseaseRanker, n: int, seed: int) -> list[DiagnoseRequest]:
    """Patients drawn from the index's own annotations (3-8 findings of one disease, sometimes a general or an
    unrelated term, sometimes vocabulary symptoms), plus a few with nothing at all."""
    rng = np.random.default_rng(seed)
    annotated = ranker.term_ids[np.diff(ranker.cl_indptr) > 0]
    keys = sorted(ranker.vocab)
    out = []
    for i in range(n):
        d = int(rng.integers(ranker.n_diseases))
        own = ranker.term_ids[np.repeat(np.arange(len(ranker.term_ids)), np.diff(ranker.dr_indptr))[
            ranker.dr_disease == d]]
        terms = list(rng.choice(own, size=min(len(own), int(rng.integers(3, 9))), replace=False))
        if rng.random() < 0.5:
            terms.append(int(rng.choice(annotated)))
        symptoms = {str(k): int(rng.integers(0, 11)) for k in rng.choice(keys, size=int(rng.integers(0, 4)))}
        if i % 97 == 0:
            terms, symptoms = [], {}
        out.append(DiagnoseRequest(float(rng.integers(0, 90)), "F" if i % 2 else "M", None, symptoms, {},
                                   tuple(f"HP:{int(t):07d}" for t in terms)))
    return out


def test_rank_batch_matches_rank_on_a_thousand_patients(ranker: RareDiseaseRanker) -> None:
    requests = simulated_requests(ranker, 1000, seed=16)
    batch = ranker.rank_batch(requests)
    assert len(batch) == len(requests)
    for request, got in zip(requests, batch, strict=True):
        one = ranker.rank(request)
        assert got == one
        assert got.rare_probability == one.rare_probability
    assert any(len(r) == 0 for r in batch) and any(len(r) == 10 for r in batch)


def test_rank_batch_matches_rank_with_evidence(ranker: RareDiseaseRanker) -> None:
    learnt = ranker.with_evidence([DiseaseEvidence(558, 2, {"HP:0001166": 2, "HP:0001250": 1}, {"HP:0001083": 1})])
    requests = simulated_requests(learnt, 150, seed=17)
    for request, got in zip(requests, learnt.rank_batch(requests, top=5), strict=True):
        assert got == learnt.rank(request, top=5)
