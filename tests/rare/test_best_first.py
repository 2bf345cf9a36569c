"""The top-k selection of the rare-disease ranking (`rare_batch.best_first`, issue 16) against a full sort.

`best_first` keeps only the diseases at or above a bound taken from a sample of each row, and sends rows where that
keeps too many down the exact full way; both must give exactly the ranking a full sort by (score desc, index) gives,
ties included, on rows with few distinct values, on rows tied everywhere and on rows mixing both in one batch.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.core import rare_batch
from app.core.contract import DiagnoseRequest
from app.core.rare import RareDiseaseRanker
from app.core.rare_batch import best_first


def _full_sort(scores: np.ndarray, k: int) -> np.ndarray:
    return np.array([sorted(range(len(row)), key=lambda d: (-row[d], d))[:k] for row in scores.tolist()])


@pytest.mark.parametrize("distinct", [2, 5, 40, 4000])
def test_best_first_is_the_full_sort_whatever_the_ties(distinct: int) -> None:
    rng = np.random.default_rng(distinct)
    n_diseases, k = 4281, 10
    scores = rng.integers(0, distinct, size=(48, n_diseases)).astype(np.float64) * -0.5
    scores[5] = -3.0  # every disease tied
    scores[6, [7, 4000, 12]] = [1.0, 2.0, 1.0]  # three leaders, then everything tied
    live = np.ones(len(scores), dtype=bool)
    assert np.array_equal(best_first(scores, k, live), _full_sort(scores, k))


def test_rows_without_findings_do_not_disturb_the_others() -> None:
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(6, 500))
    live = np.array([True, False, True, True, False, True])
    got = best_first(scores, 10, live)
    assert np.array_equal(got[live], _full_sort(scores[live], 10))
    assert got.shape == (6, 10) and (got >= 0).all() and (got < 500).all()


def test_small_indexes_use_every_score() -> None:
    scores = np.array([[0.0, 5.0, 5.0, 1.0, 5.0, 2.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0]])
    assert best_first(scores, 10, np.ones(1, dtype=bool)).tolist() == _full_sort(scores, 10).tolist()


def test_crowded_patients_rank_as_one_at_a_time(ranker: RareDiseaseRanker, monkeypatch: pytest.MonkeyPatch) -> None:
    """Patients with one or two specific HPO terms: a few diseases fit, thousands tie behind them, so the sampled
    bound keeps most of the row and the exact way decides; mixed in one batch with ordinary patients."""
    rng = np.random.default_rng(5)
    annotated = ranker.term_ids[np.diff(ranker.cl_indptr) > 0]
    requests = [DiagnoseRequest(30.0, "F", None, {}, {}, tuple(
        f"HP:{int(t):07d}" for t in rng.choice(annotated, int(rng.integers(1, 7)), replace=False)))
        for _ in range(120)]
    exact_rows = []
    exact = rare_batch._best_first_exact

    def counted(scores: np.ndarray, k: int) -> np.ndarray:
        exact_rows.append(len(scores))
        return exact(scores, k)

    monkeypatch.setattr(rare_batch, "_best_first_exact", counted)
    batch = ranker.rank_batch(requests)
    assert sum(exact_rows) > 0  # the exact way really ran
    for request, got in zip(requests, batch, strict=True):
        ev = ranker.evidence(request)
        expected = sorted(range(ranker.n_diseases), key=lambda d: (-ev.ranking_score[d], d))[:10]
        assert [e["orpha_code"] for e in got] == [f"ORPHA:{int(ranker.disease_codes[d])}" for d in expected]
        assert got == ranker.rank(request)
