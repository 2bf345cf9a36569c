"""The rare-disease ranking's arithmetic for a batch of patients (numpy only): sums, posterior, top diseases, entries.

`app/core/rare.py` holds the model (which ratio a finding has for each disease, cached per finding); this module
turns the cached rows of a batch's findings into each patient's log-likelihood over every disease, the posterior
against the clinic's common conditions, and the contract's `rare_diseases` entries. Every step is an array operation
over (patients x diseases), and every patient's figures are added in its own finding order whatever else the batch
holds, so `rank` (a batch of one) and `rank_batch` give the same bits (tests/rare/test_batch.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding of the patient: the index's term number, its HPO id and how much it counts (0..1)."""

    term: int
    hpo: str
    weight: float


class TermRows(NamedTuple):
    """One finding's figures for every disease and clinic condition (what the ranker caches per finding)."""

    log_lr: np.ndarray  # (diseases,) log likelihood ratio of the finding
    explained: np.ndarray  # (diseases,) the disease's annotations account for it
    log_common: np.ndarray  # (clinic conditions,) log P(finding | common condition)
    log_background: float  # log P0(finding)


class Scored(NamedTuple):
    rows: np.ndarray  # (patients, slots): each patient's findings as rows of log_lr / explained, padded with 0
    log_lr: np.ndarray  # (distinct findings, diseases)
    explained: np.ndarray  # (distinct findings, diseases)
    log_likelihood: np.ndarray  # (patients, diseases)
    rare_mass: np.ndarray  # (patients, diseases): P(disease | findings) times `total`
    total: np.ndarray  # (patients,)
    rare_posterior: np.ndarray  # (patients,)
    # (patients, diseases): what the diseases are ranked by, log_likelihood plus each disease's prior offset from
    # confirmed cases (app/core/rare_evidence.py); None when no disease has one (the ranking is the likelihood).
    ranking: np.ndarray | None = None


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

    The patients are taken most findings first, so the k-th findings of all who have one are a leading block: each
    step adds one weighted row per patient to that block (no padding work), and every patient's sum is added in its
    own finding order whatever else the batch holds. `log_disease_prior` (diseases,) is added to a disease's log
    prior where confirmed cases raised it (0 elsewhere).
    """
    unique = sorted({f.term for p in patients for f in p})
    cached = [term_rows(t) for t in unique]
    n, n_d, n_c = len(patients), n_diseases, len(log_prior_common)
    counts = np.array([len(p) for p in patients], dtype=np.int64)
    slots = int(counts.max(initial=0))
    position = {t: i for i, t in enumerate(unique)}
    rows = np.zeros((n, slots), dtype=np.int64)
    weights = np.zeros((n, slots))
    for i, p in enumerate(patients):
        rows[i, :len(p)] = [position[f.term] for f in p]
        weights[i, :len(p)] = [f.weight for f in p]
    log_lr = np.array([c.log_lr for c in cached]).reshape(-1, n_d)
    explained = np.array([c.explained for c in cached], dtype=bool).reshape(-1, n_d)
    log_common_rows = np.array([c.log_common for c in cached]).reshape(-1, n_c)
    log_background = np.array([c.log_background for c in cached])
    by_size = np.argsort(-counts, kind="stable")
    ordered = bool(np.all(counts[:-1] >= counts[1:]))  # rank_batch hands patients over most findings first
    sorted_rows, sorted_weights = (rows, weights) if ordered else (rows[by_size], weights[by_size])
    ll, common, background = np.empty((n, n_d)), np.zeros((n, n_c)), np.zeros(n)
    ll[int(np.count_nonzero(counts)):] = 0.0  # patients without findings
    buffer = np.empty((n, n_d))
    for k in range(slots):
        m = int(np.count_nonzero(counts > k))
        r, w = sorted_rows[:m, k], sorted_weights[:m, k, None]
        part = np.take(log_lr, r, axis=0, out=buffer[:m])
        if k == 0:
            np.multiply(part, w, out=ll[:m])  # 0 + x is x: the first finding is written, not added
        else:
            part *= w
            ll[:m] += part
        common[:m] += w * log_common_rows[r]
        background[:m] += w[:, 0] * log_background[r]
    ll += background[:, None]
    if not ordered:
        unsort = np.argsort(by_size)
        ll, common = ll[unsort], common[unsort]
    log_common = log_prior_common + common
    # In place on one reused (patients x diseases) array: each fresh array that size costs as much as the operation.
    ranking = None if log_disease_prior is None else ll + log_disease_prior
    rare_mass = np.add(ll if ranking is None else ranking, log_prior_rare, out=buffer)
    top = np.maximum(rare_mass.max(axis=1), log_common.max(axis=1))
    rare_mass -= top[:, None]
    np.exp(rare_mass, out=rare_mass)
    rare_sum = rare_mass.sum(axis=1)
    total = rare_sum + np.exp(log_common - top[:, None]).sum(axis=1)
    # P(some rare disease) = sum of the diseases' posteriors, taken as one quotient (the same to ~1e-15) so that the
    # posterior itself is only divided out where it is read: the listed diseases (`entries`), `Evidence`.
    rare_posterior = np.where(counts > 0, rare_sum / total, 0.0)
    return Scored(rows, log_lr, explained, ll, rare_mass, total, rare_posterior, ranking)


def entries(patients: Sequence[Sequence[Finding]], s: Scored, top: int, codes: Sequence[str],
            names: Sequence[str]) -> list[RankedDiseases]:
    """The contract's entries for a scored batch: every patient's `top` diseases at once (ties, including at the
    cut-off, in index order, i.e. ORPHA code order), with matched and unexplained terms for those only."""
    n_diseases = s.log_likelihood.shape[1]
    k = min(top, n_diseases)
    scores = s.log_likelihood if s.ranking is None else s.ranking
    if k < n_diseases:
        # argpartition alone picks arbitrarily among diseases tied at the k-th score; take those tied in ORPHA code
        # (index) order, as the ranking promises, so a listed disease never depends on the partition's internals.
        kth = np.take_along_axis(scores, np.argpartition(-scores, k - 1, axis=1)[:, k - 1:k], axis=1)
        above = scores > kth
        tied = scores == kth
        chosen_mask = above | (tied & (np.cumsum(tied, axis=1) <= k - above.sum(axis=1, keepdims=True)))
        candidates = np.nonzero(chosen_mask)[1].reshape(len(scores), k)
    else:
        candidates = np.broadcast_to(np.arange(n_diseases), scores.shape)
    at = np.arange(len(scores))[:, None]
    order = candidates[at, np.lexsort((candidates, -scores[at, candidates]), axis=1)]
    chosen = s.rows[:, None, :], order[:, :, None]  # (patients, top, slots)
    # Which findings each listed disease explains, one bit per finding (Python ints past 62 findings): a patient's
    # entries mostly share a few patterns, so each pattern's term lists are made once per patient.
    slots = s.rows.shape[1]
    bit = np.array([1 << i for i in range(slots)], dtype=np.int64 if slots < 63 else object)
    bits = ((s.explained[chosen] & (s.log_lr[chosen] > 0)) * bit).sum(axis=2)
    posterior = (s.rare_mass[at, order] / s.total[:, None]).tolist()
    out = []
    for p, ds, ps, patterns, probability in zip(patients, order.tolist(), posterior, bits.tolist(),
                                                s.rare_posterior.tolist(), strict=True):
        ranked = RankedDiseases()
        ranked.rare_probability = probability
        if p:
            hpos = [(1 << i, f.hpo) for i, f in enumerate(p)]
            split: dict[int, tuple[list[str], list[str]]] = {}
            for pattern in patterns:
                if pattern not in split:
                    split[pattern] = ([h for b, h in hpos if pattern & b], [h for b, h in hpos if not pattern & b])
            ranked.extend({"orpha_code": codes[d], "name": names[d], "score": round(q, 6),
                           "matched_terms": split[m][0].copy(), "unexplained_terms": split[m][1].copy()}
                          for d, q, m in zip(ds, ps, patterns, strict=True))
        out.append(ranked)
    return out
