"""Imprecise reporting (issue 18): a finding next to a disease's manifestation (same parent) earns partial credit."""

from __future__ import annotations

import numpy as np
import pytest

from app.core import rare
from app.core.rare import RareDiseaseRanker

MARFAN = 558


def neighbour_of_annotation(ranker: RareDiseaseRanker, d: int) -> int:
    """A sibling of one of the disease's annotated manifestations that the disease's annotations do not reach."""
    cols = np.repeat(np.arange(len(ranker.term_ids)), np.diff(ranker.cl_indptr))
    reached = set(cols[ranker.cl_disease == d].tolist())
    direct = np.repeat(np.arange(len(ranker.term_ids)), np.diff(ranker.dr_indptr))[ranker.dr_disease == d]
    own = set(direct.tolist())  # below one of these, h would be a more specific form of a manifestation
    for t in sorted(own):
        for parent in ranker._parents(t).tolist():
            for h in ranker._ch_indices[ranker._ch_indptr[parent]:ranker._ch_indptr[parent + 1]].tolist():
                if h not in reached and not own & set(ranker._ancestors(h).tolist()):
                    return int(h)
    raise AssertionError("no neighbouring term found")


def test_a_neighbouring_finding_earns_partial_credit(ranker: RareDiseaseRanker,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    d = ranker.disease_position[MARFAN]
    h = neighbour_of_annotation(ranker, d)
    lr, explained = ranker._finding_ratio(h)
    share = rare.SIBLING_SHARE
    monkeypatch.setattr(rare, "SIBLING_SHARE", 0.0)
    unrelated = ranker._finding_ratio(h)[0][d]  # what an unrelated finding gets (the noise model's floor)
    rho = ranker._noise_rho[h]
    assert unrelated == pytest.approx(rare.NOISE * rho / (rare.NOISE * rho + 1.0 - rare.NOISE))
    assert lr[d] > unrelated + 0.01  # more than an unrelated finding
    assert not explained[d]  # but not listed as matched
    # The credit is the share of the sibling's reports that land on h: twice the share, twice the ratio's excess.
    monkeypatch.setattr(rare, "SIBLING_SHARE", 2 * share)
    lr_double, _ = ranker._finding_ratio(h)
    assert lr_double[d] - unrelated == pytest.approx(2 * (lr[d] - unrelated))


def test_direct_parents_are_the_ancestors_no_other_ancestor_reaches(ranker: RareDiseaseRanker) -> None:
    rng = np.random.default_rng(18)
    for term in rng.choice(len(ranker.term_ids), size=500, replace=False).tolist():
        ancestors = ranker._ancestors(term).tolist()
        reached = {a for b in ancestors for a in ranker._ancestors(b).tolist()}
        assert sorted(ranker._parents(term).tolist()) == sorted(set(ancestors) - reached)
    arachnodactyly = ranker._term_index[1166]
    long_fingers = ranker._term_index[100807]
    assert long_fingers in ranker._parents(arachnodactyly).tolist()
