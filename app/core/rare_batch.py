"""The rare-disease ranking's arithmetic for a batch of patients (numpy only): sums, posterior, top diseases, entries.

`app/core/rare.py` holds the model (which ratio a finding has for each disease, cached per finding); this module
turns the cached rows of a batch's findings into each patient's log-likelihood over every disease, the posterior
against the clinic's common conditions, and the contract's `rare_diseases` entries. Every step is an array operation
over a patient's row of diseases or over (patients x diseases), and every patient's figures are added in its own
finding order whatever else the batch holds, so `rank_one` (`rank`) and `rank_batch` give the same bits
(tests/rare/test_batch.py). The top diseases are chosen among candidates above a sampled bound (`best_first`), the
exact ranking a full sort gives (tests/rare/test_best_first.py), without partitioning every row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding of the patient: the index's term number, its HPO id and how much it counts (0..1); `absent`: the
    doctor looked for it and found it absent (the request's `excluded_hpo_terms`)."""

    term: int
    hpo: str
    weight: float
    absent: bool = False

    @property
    def key(self) -> int:
        """The ranker's cache key of this finding's rows: the term number, or its complement (~term, negative) for an
        absent finding, whose rows are other figures for the same term."""
        return ~self.term if self.absent else self.term


class TermRows(NamedTuple):
    """One finding's figures for every disease and clinic condition (what the ranker caches per finding)."""

    log_lr: np.ndarray  # (diseases,) log likelihood ratio of the finding
    explained: np.ndarray  # (diseases,) the disease's annotations account for it
    log_common: np.ndarray  # (clinic conditions,) log P(finding | common condition)
    log_background: float  # log P0(finding)
    matched: np.ndarray  # (diseases,) explained and raising the disease's likelihood: a `matched_terms` entry
    weighted: dict[float, np.ndarray]  # weight -> weight * log_lr, made the first time a weight is seen

    @classmethod
    def of(cls, log_lr: np.ndarray, explained: np.ndarray, log_common: np.ndarray,
           log_background: float) -> TermRows:
        return cls(log_lr, explained, log_common, log_background, explained & (log_lr > 0), {1.0: log_lr})

    def times(self, weight: float) -> np.ndarray:
        """weight * log_lr, the same floats as multiplying at each use: a symptom comes with one of four weights,
        and multiplying ~4,000 ratios for every patient costs as much as adding them."""
        row = self.weighted.get(weight)
        if row is None:
            row = self.weighted.setdefault(weight, self.log_lr * weight)
        return row


class Scored(NamedTuple):
    rows: np.ndarray  # (patients, slots): each patient's findings as rows of log_lr / explained, padded with 0
    # (distinct findings, diseases) ratios and explained flags: only where `matched` is not given (`score` leaves
    # them out; `RareDiseaseRanker.evidence_batch` reads a patient's own rows from the cache).
    log_lr: np.ndarray | None
    explained: np.ndarray | None
    log_likelihood: np.ndarray  # (patients, diseases)
    rare_mass: np.ndarray  # (patients, diseases): P(disease | findings) times `total`
    total: np.ndarray  # (patients,)
    rare_posterior: np.ndarray  # (patients,)
    # (patients, diseases): what the diseases are ranked by, log_likelihood plus each disease's prior offset from
    # confirmed cases (app/core/rare_evidence.py); None when no disease has one (the ranking is the likelihood).
    ranking: np.ndarray | None = None
    # (distinct findings, diseases): `TermRows.matched` of each row; None: taken from explained and log_lr.
    matched: np.ndarray | None = None


class RankedDiseases(list[dict[str, Any]]):
    """The contract's `rare_diseases` entries, best first; also carries P(some rare disease | findings) for `alert`.

    It is a plain list to JSON and to the response; the extra attribute never reaches the contract.
    """

    rare_probability: float = 0.0


def most_findings_first(patients: Sequence[Sequence[Finding]]) -> list[int]:
    """Patient positions, most findings first (stable): chunks of this order need about as many summing steps."""
    return sorted(range(len(patients)), key=lambda i: -len(patients[i]))


def score(patients: Sequence[Sequence[Finding]], term_rows: Callable[[int], TermRows], n_diseases: int,
          log_prior_common: np.ndarray, log_prior_rare: float,
          log_disease_prior: np.ndarray | None = None) -> Scored:
    """Log-likelihood, posterior and P(some rare disease) of each patient, as (patients x diseases) arrays.

    Every patient's sum over diseases is added in its own finding order whatever else the batch holds, one cached
    weighted row (`TermRows.times`) after the other into that patient's row of the result: a row (~34 KB) stays in
    the CPU's cache while it is summed, where a step over the whole batch would stream it from memory three times
    per finding. The small sums (clinic conditions, background) are taken a step over the batch at a time, patients
    most findings first, so that the k-th findings of all who have one are a leading block. `log_disease_prior`
    (diseases,) is added to a disease's log prior where confirmed cases raised it (0 elsewhere).
    """
    n, n_d, n_c = len(patients), n_diseases, len(log_prior_common)
    common, background = np.zeros((n, n_c)), np.zeros(n)
    if n == 1:  # one patient (`rank`): the same products and sums, without the block machinery
        # Its findings' rows in its own order (distinct terms: `RareDiseaseRanker.findings`): no sort, no positions.
        p0 = patients[0]
        keys = [f.key for f in p0]
        unique = list(dict.fromkeys(keys))
        cached = [term_rows(t) for t in unique]
        position = {t: i for i, t in enumerate(unique)}
        counts = np.array([len(p0)], dtype=np.int64)
        rows = np.array([[position[k] for k in keys]], dtype=np.int64).reshape(1, len(keys))
        for f in p0:
            term = cached[position[f.key]]
            common[0] += f.weight * term.log_common
            background[0] += f.weight * term.log_background
        matched = np.array([c.matched for c in cached], dtype=bool).reshape(-1, n_d)
    else:
        unique = sorted({f.key for p in patients for f in p})
        cached = [term_rows(t) for t in unique]
        counts = np.array([len(p) for p in patients], dtype=np.int64)
        slots = int(counts.max(initial=0))
        position = {t: i for i, t in enumerate(unique)}
        rows = np.zeros((n, slots), dtype=np.int64)
        weights = np.zeros((n, slots))
        for i, p in enumerate(patients):
            rows[i, :len(p)] = [position[f.key] for f in p]
            weights[i, :len(p)] = [f.weight for f in p]
        matched = np.array([c.matched for c in cached], dtype=bool).reshape(-1, n_d)
        log_common_rows = np.array([c.log_common for c in cached]).reshape(-1, n_c)
        log_background = np.array([c.log_background for c in cached])
        ordered = bool(np.all(counts[:-1] >= counts[1:]))  # rank_batch hands patients over most findings first
        by_size = None if ordered else np.argsort(-counts, kind="stable")
        sorted_rows, sorted_weights = (rows, weights) if by_size is None else (rows[by_size], weights[by_size])
        for k in range(slots):
            m = int(np.count_nonzero(counts > k))
            r, w = sorted_rows[:m, k], sorted_weights[:m, k, None]
            common[:m] += w * log_common_rows[r]
            background[:m] += w[:, 0] * log_background[r]
        if by_size is not None:
            unsort = np.argsort(by_size)
            common, background = common[unsort], background[unsort]
    ll = np.empty((n, n_d))
    add = np.add
    for row, p, bg in zip(ll, patients, background.tolist(), strict=True):
        if not p:
            row.fill(0.0)  # no findings: an empty sum, and no background either
            continue
        first = p[0]
        row[...] = cached[position[first.key]].times(first.weight)  # 0 + x is x: the first is written, not added
        for f in p[1:]:
            add(row, cached[position[f.key]].times(f.weight), out=row)
        add(row, bg, out=row)
    log_common = log_prior_common + common
    ranking = None if log_disease_prior is None else ll + log_disease_prior
    rare_mass = np.add(ll if ranking is None else ranking, log_prior_rare)
    # In place from here on: each fresh (patients x diseases) array costs as much as the operation.
    top = np.maximum(rare_mass.max(axis=1), log_common.max(axis=1))
    rare_mass -= top[:, None]
    np.exp(rare_mass, out=rare_mass)
    rare_sum = rare_mass.sum(axis=1)
    total = rare_sum + np.exp(log_common - top[:, None]).sum(axis=1)
    # P(some rare disease) = sum of the diseases' posteriors, taken as one quotient (the same to ~1e-15) so that the
    # posterior itself is only divided out where it is read: the listed diseases (`entries`), `Evidence`.
    rare_posterior = np.where(counts > 0, rare_sum / total, 0.0)
    return Scored(rows, None, None, ll, rare_mass, total, rare_posterior, ranking, matched)


# Diseases a patient's row is not expected to keep past the first cut of `best_first`; more go the exact slow way.
MOST_CANDIDATES = 512


def best_first(scores: np.ndarray, k: int, live: np.ndarray) -> np.ndarray:
    """The `k` best diseases of each row of `scores` (patients x diseases), best first, ties in index (ORPHA code)
    order; rows where `live` is False (no findings, no entries) get any k diseases.

    A full partition of ~4,000 scores costs ~10 ns a score here; instead the k-th best of every 8th score, a bound
    at or below the row's own k-th best, keeps ~10k candidates, and one sort of those by (score, index) gives the
    answer. Every disease above the row's k-th best, and every one tied with it, is a candidate, so the result is
    the exact ranking, never a guess; a row whose bound keeps too many (most scores tied) takes the exact full way.
    """
    n, n_diseases = scores.shape
    stride = max(1, min(8, n_diseases // (4 * k)))
    sample = scores[:, ::stride]
    bound = np.sort(sample, axis=1)[:, sample.shape[1] - k]  # (sorting is fast here, partitioning is not)
    if n == 1:  # one patient (`rank`): the same selection with a third of the array operations
        if not live[0]:
            return np.arange(k)[None, :]
        (candidates,) = np.nonzero(scores[0] >= bound[0])
        if len(candidates) > MOST_CANDIDATES:
            return _best_first_exact(scores, k)
        return candidates[np.lexsort((candidates, -scores[0, candidates]))[:k]][None, :]
    bound[~live] = np.inf
    flat = np.flatnonzero(scores >= bound[:, None])
    row = flat // n_diseases
    counts = np.bincount(row, minlength=n)
    crowded = counts > MOST_CANDIDATES
    if crowded.any():
        keep = ~crowded[row]
        flat, row = flat[keep], row[keep]
        counts[crowded] = 0
    slot = np.arange(len(flat)) - (np.cumsum(counts) - counts)[row]
    width = max(int(counts.max(initial=0)), k)
    index = np.full((n, width), n_diseases, dtype=np.int64)  # padding: past every disease, scored -inf
    value = np.full((n, width), -np.inf)
    index[row, slot] = flat - row * n_diseases
    value[row, slot] = scores.reshape(-1)[flat]
    at = np.arange(n)[:, None]
    order: np.ndarray = index[at, np.lexsort((index, -value), axis=1)[:, :k]]
    order[~live] = np.arange(k)
    if crowded.any():
        order[crowded] = _best_first_exact(scores[crowded], k)
    return order


def best_first_one(scores: np.ndarray, k: int) -> np.ndarray:
    """`best_first` of one patient's row (diseases,): the same bound, candidates and order, on 1-D arrays, where
    partitioning the ~500 sampled scores is faster than sorting them and finds the same k-th value."""
    stride = max(1, min(8, len(scores) // (4 * k)))
    sample = scores[::stride]
    at = len(sample) - k
    bound = np.partition(sample, at)[at]
    (candidates,) = np.nonzero(scores >= bound)
    if len(candidates) > MOST_CANDIDATES:
        chosen: np.ndarray = _best_first_exact(scores[None, :], k)[0]
        return chosen
    best: np.ndarray = candidates[np.lexsort((candidates, -scores[candidates]))[:k]]
    return best


def _best_first_exact(scores: np.ndarray, k: int) -> np.ndarray:
    """`best_first` the long way: the k-th best score by a full partition, then every disease above it and the
    first ones tied with it in index order."""
    kth = np.take_along_axis(scores, np.argpartition(-scores, k - 1, axis=1)[:, k - 1:k], axis=1)
    above = scores > kth
    tied = scores == kth
    chosen_mask = above | (tied & (np.cumsum(tied, axis=1) <= k - above.sum(axis=1, keepdims=True)))
    candidates = np.nonzero(chosen_mask)[1].reshape(len(scores), k)
    at = np.arange(len(scores))[:, None]
    chosen: np.ndarray = candidates[at, np.lexsort((candidates, -scores[at, candidates]), axis=1)]
    return chosen


def entries(patients: Sequence[Sequence[Finding]], s: Scored, top: int, codes: Sequence[str],
            names: Sequence[str]) -> list[RankedDiseases]:
    """The contract's entries for a scored batch: every patient's `top` diseases at once (ties, including at the
    cut-off, in index order, i.e. ORPHA code order), with matched and unexplained terms for those only."""
    n_diseases = s.log_likelihood.shape[1]
    k = min(top, n_diseases)
    scores = s.log_likelihood if s.ranking is None else s.ranking
    n = len(scores)
    at = np.arange(n)[:, None]
    if k < n_diseases:
        order = best_first(scores, k, np.array([bool(p) for p in patients], dtype=bool))
    else:
        candidates = np.broadcast_to(np.arange(n_diseases), scores.shape)
        order = candidates[at, np.lexsort((candidates, -scores[at, candidates]), axis=1)]
    chosen = s.rows[:, None, :], order[:, :, None]  # (patients, top, slots)
    if s.matched is not None:
        hit = s.matched[chosen]
    else:
        assert s.explained is not None and s.log_lr is not None
        hit = s.explained[chosen] & (s.log_lr[chosen] > 0)
    # Which findings each listed disease explains, one bit per finding (Python ints past 62 findings): a patient's
    # entries mostly share a few patterns, so each pattern's term lists are made once per patient.
    slots = s.rows.shape[1]
    bit = np.array([1 << i for i in range(slots)], dtype=np.int64 if slots < 63 else object)
    bits = (hit * bit).sum(axis=2)
    posterior = (s.rare_mass[at, order] / s.total[:, None]).round(6).tolist()  # rounded in one step
    out = []
    for p, ds, ps, patterns, probability in zip(patients, order.tolist(), posterior, bits.tolist(),
                                                s.rare_posterior.tolist(), strict=True):
        ranked = RankedDiseases()
        ranked.rare_probability = probability
        if p:
            # Absent findings weigh in the score but are neither matched nor unexplained: nothing to explain.
            hpos = [(1 << i, f.hpo) for i, f in enumerate(p) if not f.absent]
            split: dict[int, tuple[list[str], list[str]]] = {}
            for d, q, m in zip(ds, ps, patterns, strict=True):
                lists = split.get(m)
                if lists is None:  # the first entry with this pattern takes the lists, the next ones copies
                    matched_terms = [h for b, h in hpos if m & b]
                    unexplained = [h for b, h in hpos if not m & b]
                    split[m] = (matched_terms, unexplained)
                else:
                    matched_terms, unexplained = lists[0].copy(), lists[1].copy()
                ranked.append({"orpha_code": codes[d], "name": names[d], "score": q,
                               "matched_terms": matched_terms, "unexplained_terms": unexplained})
        out.append(ranked)
    return out


def rank_one(findings: Sequence[Finding], term_rows: Callable[[int], TermRows], n_diseases: int,
             log_prior_common: np.ndarray, log_prior_rare: float, log_disease_prior: np.ndarray | None, top: int,
             codes: Sequence[str], names: Sequence[str]) -> RankedDiseases:
    """`entries([findings], score([findings], ...))[0]` for one patient (`rank`), with the same floats in the same
    order, so the same bits (tests/rare/test_rank_one.py), in ~2/3 of the time.

    A batch of one paid for its (patients x diseases) shape: 2-D reductions, index grids, a stack of every finding's
    `matched` row, a dictionary of positions. Here every step is on the patient's own row of diseases or on a Python
    float, and only the listed diseases' `matched` flags are read.
    """
    ranked = RankedDiseases()
    if not findings:  # no findings: no entries, and P(some rare disease) 0 (as `score` gives an empty patient)
        return ranked
    rows = [term_rows(f.key) for f in findings]  # the patient's findings are distinct terms: one row each
    first = findings[0]
    ll = rows[0].times(first.weight).copy()  # 0 + x is x: the first is written, not added
    common = np.zeros(len(log_prior_common))
    background = 0.0
    add = np.add
    for f, r in zip(findings, rows, strict=True):
        # The same products and sums, in the same order, as `score`'s one-patient step.
        common += f.weight * r.log_common
        background += f.weight * r.log_background
    for f, r in zip(findings[1:], rows[1:], strict=True):
        add(ll, r.times(f.weight), out=ll)
    add(ll, background, out=ll)
    ranking = ll if log_disease_prior is None else ll + log_disease_prior
    log_common = log_prior_common + common
    rare_mass = ranking + log_prior_rare
    peak = max(float(rare_mass.max()), float(log_common.max()))
    rare_mass -= peak
    np.exp(rare_mass, out=rare_mass)
    rare_sum = rare_mass.sum()
    log_common -= peak
    total = rare_sum + np.exp(log_common, out=log_common).sum()
    ranked.rare_probability = float(rare_sum / total)
    k = min(top, n_diseases)
    order = best_first_one(ranking, k) if k < n_diseases else np.lexsort((np.arange(n_diseases), -ranking))
    posterior = (rare_mass[order] / total).round(6).tolist()
    # Which findings each listed disease explains, one bit per finding: (findings x listed) flags, then their bits.
    hit = np.array([r.matched[order] for r in rows], dtype=bool).reshape(len(rows), k)
    if len(rows) < 63:
        patterns = (np.left_shift(1, np.arange(len(rows), dtype=np.int64)) @ hit).tolist()
    else:  # past 62 findings the patterns outgrow int64: Python ints
        patterns = [sum(1 << i for i in np.flatnonzero(column).tolist()) for column in hit.T]
    hpos = [(1 << i, f.hpo) for i, f in enumerate(findings) if not f.absent]
    split: dict[int, tuple[list[str], list[str]]] = {}
    for d, q, m in zip(order.tolist(), posterior, patterns, strict=True):
        lists = split.get(m)
        if lists is None:  # the first entry with this pattern takes the lists, the next ones copies
            matched_terms = [h for b, h in hpos if m & b]
            unexplained = [h for b, h in hpos if not m & b]
            split[m] = (matched_terms, unexplained)
        else:
            matched_terms, unexplained = lists[0].copy(), lists[1].copy()
        ranked.append({"orpha_code": codes[d], "name": names[d], "score": q,
                       "matched_terms": matched_terms, "unexplained_terms": unexplained})
    return ranked
