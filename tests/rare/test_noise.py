"""Unrelated findings (issue 18): part of them spread evenly over the annotated terms (`EVEN_NOISE`), so that a very
specific finding no candidate explains costs a disease less than a general one, and one incidental finding that a
single other disease happens to list does not take the first place from the disease the rest of the picture fits."""

from __future__ import annotations

import numpy as np
import pytest

from app.core import rare
from app.core.contract import DiagnoseRequest
from app.core.rare import RareDiseaseRanker

MARFAN = 558
# Ectopia lentis and aortic root aneurysm (Marfan's), plus cervical C5/C6 vertebrae fusion: annotated to Wildervanck
# syndrome alone among Orphanet diseases, nothing of Marfan's; an incidental finding for a Marfan patient.
MARFAN_WITH_INCIDENTAL = ("HP:0001083", "HP:0002616", "HP:0004635")


def request(terms: tuple[str, ...]) -> DiagnoseRequest:
    return DiagnoseRequest(age=30.0, sex="F", duration_days=None, symptoms={}, vitals={}, hpo_terms=terms)


def unexplained_by(ranker: RareDiseaseRanker, d: int, term: int) -> bool:
    lr, explained = ranker._finding_ratio(term)
    return not explained[d] and bool(lr[d] < 1.0)


def test_an_unexplained_specific_finding_costs_less_than_a_general_one(ranker: RareDiseaseRanker) -> None:
    d = ranker.disease_position[MARFAN]
    general = ranker._term_index[1250]  # Seizure: hundreds of diseases list it, none of Marfan's
    reached = np.diff(ranker.cl_indptr)
    specific = next(t for t in np.argsort(ranker._mean_count, kind="stable").tolist()
                    if reached[t] == 1 and unexplained_by(ranker, d, t))  # one disease reaches it, not Marfan
    assert unexplained_by(ranker, d, general)
    general_lr = ranker._finding_ratio(general)[0][d]
    specific_lr = ranker._finding_ratio(specific)[0][d]
    assert general_lr == pytest.approx(rare.NOISE, rel=0.05)  # as before: the plain noise rate
    assert specific_lr > 3 * rare.NOISE  # more often unrelated than the background alone says
    # The disease that does list the specific finding still gains from it, less than under the old model.
    listed = ranker.cl_disease[ranker.cl_indptr[specific]]
    assert ranker._finding_ratio(specific)[0][listed] > 10.0


def test_an_incidental_finding_does_not_take_the_first_place(ranker: RareDiseaseRanker,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    assert ranker.rank(request(MARFAN_WITH_INCIDENTAL[:2]))[0]["orpha_code"] == f"ORPHA:{MARFAN}"
    ranked = ranker.rank(request(MARFAN_WITH_INCIDENTAL))
    assert ranked[0]["orpha_code"] == f"ORPHA:{MARFAN}"
    # The earlier model (noise shaped like the background only) lets the one finding decide.
    monkeypatch.setattr(rare, "EVEN_NOISE", 0.0)
    earlier = RareDiseaseRanker(ranker.arrays).rank(request(MARFAN_WITH_INCIDENTAL))
    assert earlier[0]["orpha_code"] != f"ORPHA:{MARFAN}"


def test_without_even_noise_the_ratio_is_the_earlier_mixture(ranker: RareDiseaseRanker,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rare, "EVEN_NOISE", 0.0)
    earlier = RareDiseaseRanker(ranker.arrays)
    assert np.all(earlier._noise_rho == 1.0)
    d = earlier.disease_position[MARFAN]
    lr, explained = earlier._finding_ratio(earlier._term_index[2017])  # nausea and vomiting: nothing of Marfan's
    assert not explained[d] and lr[d] == rare.NOISE
