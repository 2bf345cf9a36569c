"""Imprecise reporting (issue 18): a finding next to a disease's manifestation (same parent) earns partial credit."""

from __future__ import annotations

import numpy as np
import pytest

from app.core import rare
from app.core.rare import RareDiseaseRanker

MARFAN = 558


def neighbour_of_annotation(ranker: RareDiseaseRanker, d: int) -> int:
    """A term under a parent of one of the disease's manifestations that the disease's annotations do not reach."""
    cols = np.repeat(np.arange(len(ranker.term_ids)), np.diff(ranker.cl_indptr))
    reached = set(cols[ranker.cl_disease == d].tolist())
    rows = np.repeat(np.arange(len(ranker.term_ids)), np.diff(ranker.anc_indptr))
    for t in sorted(reached):
        for parent in ranker._parents(t):
            for h in rows[ranker.anc_indices == parent].tolist():
                if h not in reached and parent in ranker._parents(h) and not ranker._has_direct[
                        ranker._ancestors(h)].any():
                    return int(h)
    raise AssertionError("no neighbouring term found")


def test_a_neighbouring_finding_earns_partial_credit(ranker: RareDiseaseRanker,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    d = ranker.disease_position[MARFAN]
    h = neighbour_of_annotation(ranker, d)
    lr, explained = ranker._finding_ratio(h)
    assert lr[d] > rare.NOISE + 0.01  # more than an unrelated finding
    assert not explained[d]  # but not listed as matched
    monkeypatch.setattr(rare, "SIBLING_WEIGHT", 0.0)
    lr_without, _ = ranker._finding_ratio(h)
    assert lr_without[d] == pytest.approx(rare.NOISE)


def test_direct_parents_are_the_ancestors_no_other_ancestor_reaches(ranker: RareDiseaseRanker) -> None:
    rng = np.random.default_rng(18)
    for term in rng.choice(len(ranker.term_ids), size=500, replace=False).tolist():
        ancestors = ranker._ancestors(term).tolist()
        reached = {a for b in ancestors for a in ranker._ancestors(b).tolist()}
        assert sorted(ranker._parents(term).tolist()) == sorted(set(ancestors) - reached)
    arachnodactyly = ranker._term_index[1166]
    long_fingers = ranker._term_index[100807]
    assert long_fingers in ranker._parents(arachnodactyly).tolist()
