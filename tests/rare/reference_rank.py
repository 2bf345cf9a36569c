"""`RareDiseaseRanker.rank` as it was before `rare_batch.rank_one` (a batch of one through `score` and `entries`),
kept here as the reference that the one-patient path must match bit for bit (tests/rare/test_rank_one.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.core.rare import RareDiseaseRanker
from app.core.rare_batch import MOST_CANDIDATES, Finding, RankedDiseases


def _best_first(scores: np.ndarray, k: int) -> np.ndarray:
    """The k best of one row, best first, ties in index order: a sampled bound, then a sort of the candidates."""
    stride = max(1, min(8, len(scores) // (4 * k)))
    sample = scores[::stride]
    bound = np.sort(sample)[len(sample) - k]
    (candidates,) = np.nonzero(scores >= bound)
    if len(candidates) > MOST_CANDIDATES:  # the long way: a full partition, then the first ties in index order
        kth = scores[np.argpartition(-scores, k - 1)[k - 1]]
        above = scores > kth
        tied = scores == kth
        candidates = np.nonzero(above | (tied & (np.cumsum(tied) <= k - above.sum())))[0]
    chosen: np.ndarray = candidates[np.lexsort((candidates, -scores[candidates]))[:k]]
    return chosen


def reference_rank(ranker: RareDiseaseRanker, findings: Sequence[Finding], top: int = 10) -> RankedDiseases:
    n_d = ranker.n_diseases
    ranked = RankedDiseases()
    if not findings:
        return ranked
    rows = [ranker._term_rows(f.key) for f in findings]
    common = np.zeros((1, len(ranker._log_prior_common)))
    background = np.zeros(1)
    for f, r in zip(findings, rows, strict=True):
        common[0] += f.weight * r.log_common
        background[0] += f.weight * r.log_background
    ll = np.empty((1, n_d))
    ll[0, ...] = rows[0].times(findings[0].weight)
    for f, r in zip(findings[1:], rows[1:], strict=True):
        np.add(ll[0], r.times(f.weight), out=ll[0])
    np.add(ll[0], background.tolist()[0], out=ll[0])
    log_common = ranker._log_prior_common + common
    ranking = ll if ranker.log_disease_prior is None else ll + ranker.log_disease_prior
    rare_mass = np.add(ranking, ranker._log_prior_rare)
    top_mass = np.maximum(rare_mass.max(axis=1), log_common.max(axis=1))
    rare_mass -= top_mass[:, None]
    np.exp(rare_mass, out=rare_mass)
    rare_sum = rare_mass.sum(axis=1)
    total = rare_sum + np.exp(log_common - top_mass[:, None]).sum(axis=1)
    ranked.rare_probability = float((rare_sum / total)[0])
    k = min(top, n_d)
    if k < n_d:
        order = _best_first(ranking[0], k)
    else:
        candidates = np.arange(n_d)
        order = candidates[np.lexsort((candidates, -ranking[0]))]
    matched = np.array([r.matched for r in rows], dtype=bool)  # (findings, diseases)
    hit = matched[:, order].T  # (listed diseases, findings)
    posterior = (rare_mass[0, order] / total[0]).round(6).tolist()
    hpos = [(i, f.hpo) for i, f in enumerate(findings) if not f.absent]
    for d, q, h in zip(order.tolist(), posterior, hit, strict=True):
        ranked.append({"orpha_code": ranker._orpha_labels[d], "name": ranker.disease_names[d], "score": q,
                       "matched_terms": [t for i, t in hpos if h[i]],
                       "unexplained_terms": [t for i, t in hpos if not h[i]]})
    return ranked
