"""Rare (orphan) disease ranking: which Orphanet diseases fit the patient's findings, and when to say "refer".

The score follows the likelihood-ratio idea of LIRICAL (Robinson et al., Am J Hum Genet 2020) on the Orphanet
annotations of the HPO, read from the bundle's `rare_index.npz` (built by `model_export/rare_index.py`; numpy only
here). For each finding h and disease D:

- h is annotated to D, or is more general than some of D's annotations (true-path rule): the ratio is M_D(h) /
  B(h), where M_D(h) adds up D's annotated frequencies at or below h (how many of D's manifestations a doctor could
  describe as h) and B(h) is its mean over all diseases. A general finding therefore matches, weighed down by its
  commonness (B is large where the information content is small);
- h is more specific than a term t annotated to D (the patient's "arachnodactyly" for the disease's "long
  fingers"): t's ratio, times `DESCENDANT_WEIGHT` ("fully-ish": the patient may have another form of t);
- h is a sibling of D's manifestations (another child of one of their parents): a share `SIBLING_SHARE` of those
  manifestations' reports is taken to land on their siblings (imprecise reporting; it does not count as explained);
- h (or an ancestor) is excluded for D in Orphanet (a NOT row): ratio `EXCLUDED` (LIRICAL's 1/1000), whatever else;
- anything else is unexplained by D.

Absent findings (the request's `excluded_hpo_terms`: the doctor looked for h and did not find it), as in LIRICAL:
with p_D(h) the largest annotated frequency at or below h (`cl_freq`, 0 for a disease that does not reach h), the
ratio is (1 - (1 - NOISE) p_D(h)) / (1 - (1 - NOISE) P0(h)), so a disease whose patients nearly always show h
becomes unlikely; a disease for which Orphanet excludes h (or an ancestor) gets 1, its absence being expected. The
background term is log(1 - P0(h)) and a common condition's log(1 - P(h | condition)). An absent finding explains
nothing and is listed neither as matched nor as unexplained. (With few-shot evidence, p_D stays the annotation's.)

A disease with many manifestations explains almost any finding, and LIRICAL's product of ratios favours such
diseases. We follow a reporting model instead: the doctor reports some of the disease's manifestations, so the
chance that a report falls at or below h is M_D(h) / S_D, where S_D is D's expected number of manifestations (the
sum of its frequencies); the ratio is therefore multiplied by the Occam factor (S_ref / S_D) ** OCCAM, with S_ref
the geometric mean of S over diseases (OCCAM = 1 is the reporting model, 0 LIRICAL's presence model).

A finding may also be unrelated to the disease, at rate `NOISE`, so an unexplained finding costs a bounded factor
instead of vetoing the disease. Unrelated findings follow Orphanet's background P0(h) plus, with weight `EVEN_NOISE`,
an even spread over the annotated terms (an incidental finding is not concentrated where the annotations are). With
rho(h) = 1 + EVEN_NOISE * S_ref / (annotated terms * B(h)), each ratio is (NOISE rho + (1 - NOISE) ratio) / (NOISE
rho + 1 - NOISE): ~ NOISE + (1 - NOISE) ratio for a common term; for a term few diseases reach, a disease that does
not explain it loses less and one that does gains less (figures in docs/rare_diseases.md, "Noise spread evenly").
The score is log P(findings | D), with P(h | D) = P0(h) * LR_D(h) (P0: how often a patient with a random
Orphanet disease shows h); diseases are ranked by it, ties keeping ORPHA code order.

Alert. The `score` of a listed disease is its posterior probability among "one of the Orphanet diseases" (prior
`RARE_PRIOR`, spread evenly) and "one of the clinic's common conditions" (the knowledge base's case mix, each with
its symptom probabilities, in the index). Vocabulary symptoms are weighed against how often they occur in the
clinic, so a cold or dengue fits its common condition far better than any rare disease. `alert` fires when the
probability of "some rare disease" reaches `ALERT_THRESHOLD` (0.7, the origin document's "confident"); the
calibration is in docs/rare_diseases.md.

Few-shot evidence (`rare_evidence.json`, app/core/rare_evidence.py): a disease with confirmed cases gets, for each
manifestation, the Beta posterior of its frequency in place of the annotation's, and a prior raised by the Jeffreys
rule (`PREVALENCE_PSEUDO_CASES`; ranked by `ranking_score`); a disease without evidence keeps the annotation's ratios.

Batches. `rank_batch` scores many patients at once: each distinct finding's rows are computed once per ranker (cached,
`TERM_CACHE`), the rest is array operations (app/core/rare_batch.py); `rank` is `rank_one`, with identical results.
Thread safety: after `load`, everything is read-only; `rank` may run on several threads at once.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.core.bundle import BundleError
from app.core.contract import DiagnoseRequest
from app.core.rare_batch import Finding as Finding
from app.core.rare_batch import RankedDiseases as RankedDiseases
from app.core.rare_batch import Scored, TermRows, entries, most_findings_first, rank_one, score
from app.core.rare_evidence import (
    EVIDENCE_FILE,
    PREVALENCE_PSEUDO_CASES,
    PRIOR_CASES,
    DiseaseEvidence,
    EvidenceError,
    read_evidence,
)

INDEX_FILE = "rare_index.npz"
FORMAT = 1

# Evidence model (see module docstring). NOISE, DESCENDANT_WEIGHT and OCCAM were chosen on simulated patients of
# tuning seeds (7, 8, 11) that bench/rare.py does not report (docs/rare_diseases.md); EXCLUDED is LIRICAL's 1/1000.
NOISE = 0.1
EXCLUDED = 0.001
DESCENDANT_WEIGHT = 0.8
OCCAM = 1.0
# Issue 18: the share of a manifestation's reports that land on one of its siblings (imprecise reporting,
# `_sibling_ratio`), and the weight of the evenly spread part of unrelated findings (1: the even mixture, not tuned;
# 0 is the earlier model). SIBLING_SHARE was chosen among 0.1/0.2/0.3 on tuning seeds 7 and 8, never on the
# benchmark's seed (docs/rare_diseases.md).
SIBLING_SHARE = 0.2
EVEN_NOISE = 1.0
# An absent finding costs log(1 - P): a probability of 1 (a finding every patient of a condition shows) would make
# the condition impossible and its log -inf; capped here, its absence makes it a million times less likely instead.
ABSENT_CEILING = 1.0 - 1e-6

# A vocabulary symptom counts with weight min(1, (intensity - 1) / (FULL_WEIGHT_INTENSITY - 1)): a symptom the
# patient barely noticed (1) is no evidence, from 5 on it counts fully. Extra HPO terms are the doctor's own
# findings and count fully.
FULL_WEIGHT_INTENSITY = 5

# Posterior. Rare diseases together affect 3.5-5.9% of people (Nguengang Wakap et al., Eur J Hum Genet 2020); the
# share of primary-care visits explained by one is lower; we take 2%. A finding outside the symptom vocabulary (an
# extra HPO term) is taken to be COMMON_RELATIVE_FREQUENCY times as frequent among common-condition visits as among
# rare-disease patients: the doctor looked for it, but common conditions seldom explain it.
RARE_PRIOR = 0.02
COMMON_RELATIVE_FREQUENCY = 0.1
ALERT_THRESHOLD = 0.7

ALERT_MESSAGE: dict[str, str] = {
    "es": "Los hallazgos sugieren una enfermedad rara: considere las listadas y derive a un centro especializado.",
    "en": "The findings suggest a rare disease: consider those listed and refer to a specialist centre.",
}


# Patients scored together by rank_batch: a chunk's (patients x diseases) arrays (2 MB) stay in the CPU's cache.
BATCH_CHUNK = 64
# Distinct findings whose rows (~40 KB each, ~40 MB at most) a ranker keeps: the vocabulary and the usual HPO terms.
TERM_CACHE = 1024


class RareIndexError(BundleError):
    """The bundle's rare-disease index or evidence is missing, unreadable or inconsistent; the message names the
    file (a BundleError: the app and the CLI refuse the bundle with this message)."""


def hpo_id(number: int) -> str:
    return f"HP:{int(number):07d}"


def intensity_weight(intensity: int) -> float:
    return float(min(1.0, max(0.0, (intensity - 1) / (FULL_WEIGHT_INTENSITY - 1))))


# `intensity_weight` of the contract's intensities 0-10, looked up for every symptom of every patient.
_WEIGHTS: dict[int, float] = {i: intensity_weight(i) for i in range(11)}
# Findings are immutable and come back with every patient: one object per (term, HPO id, weight), made once.
_finding = functools.lru_cache(maxsize=8192)(Finding)


@dataclass(frozen=True, slots=True)
class Evidence:
    """Per-disease results for one patient (arrays over all diseases of the index)."""

    findings: tuple[Finding, ...]
    log_likelihood: np.ndarray  # log P(findings | disease)
    ranking_score: np.ndarray  # what diseases are ranked by: log_likelihood + the disease's prior offset (evidence)
    posterior: np.ndarray  # P(disease | findings) against the clinic's common conditions
    log_ratio: np.ndarray  # (findings, diseases): log likelihood ratio of each finding
    explained: np.ndarray  # (findings, diseases): the disease's annotations account for the finding
    rare_posterior: float  # P(one of the rare diseases | findings)


class RareDiseaseRanker:
    def __init__(self, arrays: Mapping[str, np.ndarray], evidence: Sequence[DiseaseEvidence] = ()) -> None:
        meta = json.loads(str(arrays["meta"]))
        if meta.get("format") != FORMAT:
            raise RareIndexError(f"unknown rare index format {meta.get('format')!r}, expected {FORMAT}")
        self.meta: dict[str, Any] = meta
        self.term_ids = np.asarray(arrays["term_ids"], dtype=np.int64)
        self._term_index = {int(t): i for i, t in enumerate(self.term_ids)}
        for a, t in zip(arrays["alias_from"], arrays["alias_to"], strict=True):
            self._term_index.setdefault(int(a), int(t))
        self.background = np.asarray(arrays["term_background"], dtype=np.float64)
        self.anc_indptr = np.asarray(arrays["anc_indptr"], dtype=np.int64)
        self.anc_indices = np.asarray(arrays["anc_indices"], dtype=np.int64)
        self.cl_indptr = np.asarray(arrays["cl_indptr"], dtype=np.int64)
        self.cl_disease = np.asarray(arrays["cl_disease"], dtype=np.int64)
        self.ex_indptr = np.asarray(arrays["ex_indptr"], dtype=np.int64)
        self.ex_disease = np.asarray(arrays["ex_disease"], dtype=np.int64)
        self.disease_codes = np.asarray(arrays["disease_codes"], dtype=np.int64)
        self.disease_names = [str(n) for n in arrays["disease_names"]]
        self.n_diseases = len(self.disease_codes)
        self.disease_position = {int(c): i for i, c in enumerate(self.disease_codes)}

        # Ratios per propagated annotation, computed once. B(t): mean expected count of manifestations at or below
        # t over all diseases; P0(t): probability that a patient with a random Orphanet disease shows t.
        n_terms = len(self.term_ids)
        column = np.repeat(np.arange(n_terms), np.diff(self.cl_indptr))
        summed = np.asarray(arrays["cl_sum"], dtype=np.float64)
        mean_count = np.bincount(column, weights=summed, minlength=n_terms) / self.n_diseases
        mean_count = np.maximum(mean_count, 0.5 / self.n_diseases)
        self.cl_ratio = summed / mean_count[column]
        self._mean_count = mean_count
        # Direct annotations only, by term: the "finding more specific than an annotation" case looks them up.
        direct = np.asarray(arrays["cl_direct"], dtype=np.float64)
        keep = direct > 0
        self.dr_indptr = np.zeros(n_terms + 1, dtype=np.int64)
        self.dr_indptr[1:] = np.cumsum(np.bincount(column[keep], minlength=n_terms))
        self.dr_disease = self.cl_disease[keep]
        self.dr_ratio = DESCENDANT_WEIGHT * direct[keep] / mean_count[column[keep]]
        self._has_direct = np.diff(self.dr_indptr) > 0
        self._has_exclusion = np.diff(self.ex_indptr) > 0
        manifestations = np.bincount(self.dr_disease, weights=direct[keep], minlength=self.n_diseases)
        # rho(h) of the noise model (module docstring): u / P0(h) with u even over the annotated terms and P0(h) a
        # random patient's share of reports at or below h, B(h) / S_ref.
        annotated_terms = int(self._has_direct.sum())
        self._noise_rho = 1.0 + EVEN_NOISE * float(np.exp(np.log(manifestations).mean())) / (annotated_terms
                                                                                               * mean_count)
        occam = np.exp(-OCCAM * (np.log(manifestations) - np.log(manifestations).mean()))
        self.cl_ratio *= occam[self.cl_disease]
        self.dr_ratio *= occam[self.dr_disease]
        # Absent findings read the annotation's frequencies per (term, disease) (`_absent_ratio`); kept apart because
        # few-shot evidence replaces the cl_* arrays below.
        self._freq_indptr, self._freq_disease = self.cl_indptr, self.cl_disease
        self._freq = np.asarray(arrays["cl_freq"], dtype=np.float64)
        # Kept so that a ranker with other evidence can be made from the same index (bench, evidence build).
        self.arrays = arrays
        self.evidence_cases: dict[int, int] = {}  # disease position -> confirmed cases behind its profile
        self.log_disease_prior: np.ndarray | None = None  # (diseases,) log prior raise from confirmed cases
        if evidence:
            self._apply_evidence(evidence, column, direct, mean_count, manifestations)

        # The clinic's common conditions, for the posterior and the alert.
        self.vocab = {str(k): int(t) for k, t in zip(arrays["vocab_keys"], arrays["vocab_terms"], strict=True)}
        self.vocab_terms = np.asarray(arrays["vocab_terms"], dtype=np.int64)
        self._vocab_column = {int(t): j for j, t in enumerate(self.vocab_terms)}
        self._vocab_ancestors = [set(self._ancestors(int(t)).tolist()) for t in self.vocab_terms]
        self.clinic_codes = [str(c) for c in arrays["clinic_codes"]]
        self.clinic_symptom_p = np.asarray(arrays["clinic_symptom_p"], dtype=np.float64)
        prevalence = np.asarray(arrays["clinic_prevalence"], dtype=np.float64)
        self._log_prior_common = np.log((1.0 - RARE_PRIOR) * prevalence / prevalence.sum())
        self._log_prior_rare = float(np.log(RARE_PRIOR / self.n_diseases))
        if self.evidence_cases:
            # P(D) = RARE_PRIOR * (a + n_D) / (K a + N): `log_disease_prior` holds log((a + n_D) / a), the rest is
            # shared by every disease (it moves probability from the diseases without evidence to those with).
            confirmed = sum(self.evidence_cases.values())
            self._log_prior_rare -= float(np.log1p(confirmed / (PREVALENCE_PSEUDO_CASES * self.n_diseases)))
        self._known: frozenset[str] | None = None
        self._rows: dict[int, TermRows] = {}  # filled by _term_rows; read-only data, whoever computes it first
        self._hpo: dict[int, str] = {}
        self._orpha_labels = [f"ORPHA:{int(c)}" for c in self.disease_codes]
        self.par_indptr, self.par_indices = self._direct_parents()
        # Children (CSR) and each term's number of siblings, for the sibling ratio.
        child = np.repeat(np.arange(len(self.term_ids)), np.diff(self.par_indptr))
        self._ch_indices = child[np.argsort(self.par_indices, kind="stable")]
        self._ch_indptr = np.zeros(len(self.term_ids) + 1, dtype=np.int64)
        self._ch_indptr[1:] = np.cumsum(np.bincount(self.par_indices, minlength=len(self.term_ids)))
        siblings = np.bincount(child, weights=np.diff(self._ch_indptr)[self.par_indices] - 1,
                               minlength=len(self.term_ids))
        self._n_siblings = np.maximum(1.0, siblings)

    @classmethod
    def load(cls, bundle_dir: Path) -> RareDiseaseRanker:
        """The bundle's index, with the few-shot evidence of `rare_evidence.json` when the bundle has one."""
        path = Path(bundle_dir) / INDEX_FILE
        if not path.is_file():
            raise RareIndexError(f"no rare-disease index at {path}")
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (OSError, ValueError, KeyError) as exc:
            raise RareIndexError(f"{path} is not a readable rare-disease index ({exc})") from exc
        evidence_path = Path(bundle_dir) / EVIDENCE_FILE
        evidence: list[DiseaseEvidence] = []
        if evidence_path.is_file():
            try:
                evidence = read_evidence(evidence_path)
            except EvidenceError as exc:
                raise RareIndexError(f"malformed few-shot evidence: {exc}") from None
        try:
            return cls(arrays, evidence)
        except RareIndexError as exc:
            if not evidence:
                raise
            raise RareIndexError(f"malformed few-shot evidence: {evidence_path}: {exc}") from None

    def with_evidence(self, evidence: Sequence[DiseaseEvidence]) -> RareDiseaseRanker:
        """A ranker on the same index with this evidence (and none of this one's)."""
        return type(self)(self.arrays, evidence)

    def _evidence_terms(self, counts: Mapping[str, int], orpha: int) -> dict[int, int]:
        out: dict[int, int] = {}
        for hpo, count in counts.items():
            term = self._term_index.get(int(hpo[3:]))
            if term is None:
                raise RareIndexError(f"evidence for ORPHA:{orpha}: {hpo} is not a phenotypic-abnormality term of "
                                     f"the index (HPO {self.meta.get('hpo_version')})")
            out[term] = max(out.get(term, 0), int(count))
        return out

    def _apply_evidence(self, evidence: Sequence[DiseaseEvidence], column: np.ndarray, direct: np.ndarray,
                        mean_count: np.ndarray, manifestations: np.ndarray) -> None:
        """Replace the ratios of diseases with confirmed cases by their posterior ones (app/core/rare_evidence.py).

        Under the reporting model a disease's ratio for h is f(at or below h) / S_D * S_ref / B(h). With evidence,
        each manifestation's frequency f is its Beta posterior mean and S_D their sum; B, the background and every
        other disease's ratios stay the annotation's.
        """
        s_ref = float(np.exp(np.log(manifestations).mean()))
        by_disease = np.argsort(self.cl_disease, kind="stable")
        bounds = np.searchsorted(self.cl_disease[by_disease], np.arange(self.n_diseases + 1))
        ex_column = np.repeat(np.arange(len(self.term_ids)), np.diff(self.ex_indptr))
        drop_exclusion = np.zeros(len(self.ex_disease), dtype=bool)
        cl_new: list[tuple[int, int, float]] = []
        dr_new: list[tuple[int, int, float]] = []
        for ev in evidence:
            d = self.disease_position.get(ev.orpha)
            if d is None:
                raise RareIndexError(f"ORPHA:{ev.orpha} is not a disease of the index (HPO "
                                     f"{self.meta.get('hpo_version')})")
            present = self._evidence_terms(ev.present, ev.orpha)
            excluded = self._evidence_terms(ev.excluded, ev.orpha)
            entries = by_disease[bounds[d]:bounds[d + 1]]
            freq = {int(t): float(f) for t, f in zip(column[entries], direct[entries], strict=True) if f > 0}
            for t in set(freq) | set(present):
                # Cases that reported t are successes, cases that looked for t (or a term above it) and found it
                # absent are failures; a case that does not mention t says nothing (doctors report a few findings).
                up = {t, *self._ancestors(t).tolist()}
                absent = min(ev.cases, sum(c for x, c in excluded.items() if x in up))
                seen = present.get(t, 0)
                if seen or absent:
                    freq[t] = (PRIOR_CASES * freq.get(t, 0.0) + seen) / (PRIOR_CASES + seen + absent)
            total = sum(freq.values())
            reported: dict[int, float] = {}  # P(a report falls at or below h)
            for t, f in freq.items():
                dr_new.append((t, d, DESCENDANT_WEIGHT * f / total * s_ref / mean_count[t]))
                for h in (t, *self._ancestors(t).tolist()):
                    reported[h] = reported.get(h, 0.0) + f / total
            cl_new.extend((h, d, value * s_ref / mean_count[h]) for h, value in reported.items())
            # A confirmed case that shows a term Orphanet excludes (or something below it) lifts the exclusion.
            lifted = {h for t in present for h in (t, *self._ancestors(t).tolist())}
            drop_exclusion |= (self.ex_disease == d) & np.isin(ex_column, list(lifted))
            self.evidence_cases[d] = ev.cases
        self.log_disease_prior = np.zeros(self.n_diseases)
        for d, cases in self.evidence_cases.items():
            self.log_disease_prior[d] = np.log1p(cases / PREVALENCE_PSEUDO_CASES)

        n_terms = len(self.term_ids)
        changed = np.array(sorted(self.evidence_cases), dtype=np.int64)

        def merge(indptr: np.ndarray, dis: np.ndarray, ratio: np.ndarray,
                  new: list[tuple[int, int, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            cols = np.repeat(np.arange(n_terms), np.diff(indptr))
            keep = ~np.isin(dis, changed)
            add = np.array(new, dtype=np.float64).reshape(-1, 3)
            terms = np.concatenate([cols[keep], add[:, 0].astype(np.int64)])
            diseases = np.concatenate([dis[keep], add[:, 1].astype(np.int64)])
            ratios = np.concatenate([ratio[keep], add[:, 2]])
            order = np.lexsort((diseases, terms))
            out_ptr = np.zeros(n_terms + 1, dtype=np.int64)
            out_ptr[1:] = np.cumsum(np.bincount(terms, minlength=n_terms))
            return out_ptr, diseases[order], ratios[order]

        self.cl_indptr, self.cl_disease, self.cl_ratio = merge(self.cl_indptr, self.cl_disease, self.cl_ratio,
                                                               cl_new)
        self.dr_indptr, self.dr_disease, self.dr_ratio = merge(self.dr_indptr, self.dr_disease, self.dr_ratio,
                                                               dr_new)
        self._has_direct = np.diff(self.dr_indptr) > 0
        keep = ~drop_exclusion
        self.ex_disease = self.ex_disease[keep]
        self.ex_indptr = np.zeros(n_terms + 1, dtype=np.int64)
        self.ex_indptr[1:] = np.cumsum(np.bincount(ex_column[keep], minlength=n_terms))
        self._has_exclusion = np.diff(self.ex_indptr) > 0

    @property
    def version(self) -> str:
        """HPO release the index was built from, e.g. "2025-01-16"."""
        return str(self.meta["hpo_version"])

    @property
    def attribution(self) -> dict[str, str]:
        """Texts the About box must show (HPO and Orphanet licences)."""
        return dict(self.meta.get("attribution", {}))

    def known_terms(self) -> frozenset[str]:
        """Every HPO id the index accepts: current phenotypic-abnormality terms and their alternative ids."""
        if self._known is None:
            self._known = frozenset(hpo_id(t) for t in self._term_index)
        return self._known

    def _ancestors(self, term: int) -> np.ndarray:
        return self.anc_indices[self.anc_indptr[term]:self.anc_indptr[term + 1]]

    def findings(self, request: DiagnoseRequest) -> tuple[Finding, ...]:
        """The request's findings as index terms: weighted vocabulary symptoms, the extra HPO terms, then the absent
        ones (`Finding.absent`, full weight).

        A symptom also given as its HPO term is one finding at full weight. Terms the index does not know are
        skipped (validate with `known_terms()` to reject them instead).
        """
        weights: dict[int, float] = {}
        vocab = self.vocab
        for key, intensity in request.symptoms.items():
            term = vocab.get(key)
            if term is not None:
                weight = _WEIGHTS.get(intensity)
                if weight is None:
                    weight = intensity_weight(intensity)
                if weight > 0 and weight > weights.get(term, 0.0):
                    weights[term] = weight
        for raw in request.hpo_terms:
            number = int(raw[3:]) if raw.startswith("HP:") and raw[3:].isdigit() else -1
            term = self._term_index.get(number)
            if term is not None:
                weights[term] = 1.0
        hpo = self._hpo
        present = tuple(_finding(t, hpo.get(t) or hpo.setdefault(t, hpo_id(self.term_ids[t])), w)
                        for t, w in weights.items())
        absent: list[int] = []  # (none given: `present` plus an empty tuple, the same tuple)
        for raw in request.excluded_hpo_terms:
            number = int(raw[3:]) if raw.startswith("HP:") and raw[3:].isdigit() else -1
            term = self._term_index.get(number)
            # A term also present stays present (the contract refuses such a request; a direct caller may not).
            if term is not None and term not in weights and term not in absent:
                absent.append(term)
        return present + tuple(_finding(t, hpo.get(t) or hpo.setdefault(t, hpo_id(self.term_ids[t])), 1.0, True)
                               for t in absent)

    def _finding_ratio(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        """Likelihood ratio of one finding for every disease, and whether the disease's annotations explain it."""
        ratio = np.zeros(self.n_diseases)
        explained = np.zeros(self.n_diseases, dtype=bool)
        # Imprecise reporting: a doctor may name a sibling of the manifestation (another child of its parent). Such
        # diseases get the sibling ratio; they do not count as explaining the finding.
        np.maximum(ratio, self._sibling_ratio(term), out=ratio)
        s, e = self.cl_indptr[term], self.cl_indptr[term + 1]
        idx = self.cl_disease[s:e]
        ratio[idx] = np.maximum(ratio[idx], self.cl_ratio[s:e])
        explained[idx] = True
        ancestors = self._ancestors(term)
        for t in ancestors[self._has_direct[ancestors]]:
            s, e = self.dr_indptr[t], self.dr_indptr[t + 1]
            idx = self.dr_disease[s:e]
            ratio[idx] = np.maximum(ratio[idx], self.dr_ratio[s:e])
            explained[idx] = True
        floor = NOISE * float(self._noise_rho[term])
        lr = (floor + (1.0 - NOISE) * ratio) / (floor + 1.0 - NOISE)
        for t in (term, *ancestors[self._has_exclusion[ancestors]]):
            if self._has_exclusion[t]:
                idx = self.ex_disease[self.ex_indptr[t]:self.ex_indptr[t + 1]]
                lr[idx] = EXCLUDED
                explained[idx] = False
        return lr, explained

    def _absent_ratio(self, term: int) -> np.ndarray:
        """Likelihood ratio of the finding's absence for every disease (see the module docstring)."""
        s, e = self._freq_indptr[term], self._freq_indptr[term + 1]
        shown = np.zeros(self.n_diseases)
        shown[self._freq_disease[s:e]] = self._freq[s:e]
        background = min(float(self.background[term]), ABSENT_CEILING)
        lr: np.ndarray = (1.0 - (1.0 - NOISE) * shown) / (1.0 - (1.0 - NOISE) * background)
        ancestors = self._ancestors(term)
        for t in (term, *ancestors[self._has_exclusion[ancestors]]):
            if self._has_exclusion[t]:
                lr[self.ex_disease[self.ex_indptr[t]:self.ex_indptr[t + 1]]] = 1.0
        return lr

    def _sibling_ratio(self, term: int) -> np.ndarray:
        """Imprecise reporting as a model: a report of manifestation c lands on one of c's siblings with probability
        SIBLING_SHARE, spread evenly over them. The finding's ratio for D is SIBLING_SHARE times the sum, over D's
        manifestations c that are siblings of the finding, of c's reporting share (f_c S_ref / S_D) over c's number
        of siblings, divided by the finding's own background count B(h): the reporting model's ratio, for a report
        that missed its term by one step sideways."""
        parents = self._parents(term)
        starts, ends = self._ch_indptr[parents], self._ch_indptr[parents + 1]
        siblings = self._ch_indices[np.repeat(ends - (ends - starts).cumsum(), ends - starts)
                                    + np.arange(int((ends - starts).sum()))]
        siblings = siblings[(siblings != term) & self._has_direct[siblings]]
        starts, ends = self.dr_indptr[siblings], self.dr_indptr[siblings + 1]
        sizes = ends - starts
        rows = np.repeat(starts - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))
        per_sibling = self._mean_count[siblings] / (DESCENDANT_WEIGHT * self._n_siblings[siblings])
        summed = np.bincount(self.dr_disease[rows], weights=self.dr_ratio[rows] * np.repeat(per_sibling, sizes),
                             minlength=self.n_diseases)
        out: np.ndarray = summed * (SIBLING_SHARE / self._mean_count[term])  # float even when nothing was summed
        return out

    def _parents(self, term: int) -> np.ndarray:
        return self.par_indices[self.par_indptr[term]:self.par_indptr[term + 1]]

    def _direct_parents(self) -> tuple[np.ndarray, np.ndarray]:
        """Every term's direct parents (CSR), from the ancestor lists: an ancestor a of t is a parent unless it is
        also an ancestor of another ancestor of t. Vectorised over the ~156,000 (term, ancestor) pairs."""
        n = len(self.term_ids)
        counts = np.diff(self.anc_indptr)
        term = np.repeat(np.arange(n), counts)
        above = self.anc_indices
        sub = counts[above]  # for each (t, b): the ancestors of b are ancestors of t reached through b
        first = np.repeat(self.anc_indptr[above], sub)
        offset = np.arange(int(sub.sum())) - np.repeat(np.cumsum(sub) - sub, sub)
        through = np.repeat(term, sub) * n + self.anc_indices[first + offset]
        # (term, ancestor) keys are strictly increasing (terms in order, ancestor lists sorted): mark the ones
        # reached through another ancestor by binary search, three times faster than np.isin here.
        keys = term * n + above
        at = np.minimum(np.searchsorted(keys, through), len(keys) - 1)
        reached = np.zeros(len(keys), dtype=bool)
        reached[at[keys[at] == through]] = True
        is_parent = ~reached
        indptr = np.zeros(n + 1, dtype=np.int64)
        indptr[1:] = np.cumsum(np.bincount(term[is_parent], minlength=n))
        return indptr, above[is_parent].astype(np.int64)

    def _common_probability(self, term: int) -> np.ndarray:
        """P(finding | common condition c) for every clinic condition."""
        bg = self.background[term]
        floor = COMMON_RELATIVE_FREQUENCY * bg
        p = np.full(len(self.clinic_codes), floor)
        j = self._vocab_column.get(term)
        if j is not None:
            found: np.ndarray = np.maximum(p, self.clinic_symptom_p[:, j])
            return found
        # A general finding (an ancestor of vocabulary symptoms) is present when any of them is.
        below = [j for j, anc in enumerate(self._vocab_ancestors) if term in anc]
        if below:
            p = np.maximum(p, 1.0 - np.prod(1.0 - self.clinic_symptom_p[:, below], axis=1))
        # A more specific form of a vocabulary symptom takes its share of it, as among rare-disease patients.
        for t in self._ancestors(term):
            j = self._vocab_column.get(int(t))
            if j is not None:
                p = np.maximum(p, self.clinic_symptom_p[:, j] * min(1.0, bg / self.background[t]))
        return p

    def evidence(self, request: DiagnoseRequest) -> Evidence:
        """Score every disease for the request's findings (see the module docstring)."""
        return self.evidence_for(self.findings(request))

    def evidence_for(self, findings: Sequence[Finding]) -> Evidence:
        return self.evidence_batch([findings])[0]

    def evidence_batch(self, patients: Sequence[Sequence[Finding]]) -> list[Evidence]:
        """Score every disease for several patients at once (bench/rare.py, the tests); `rank_batch` shares the
        arithmetic (`_score`), so a patient's figures are the same whichever path and whichever batch."""
        out = []
        for start in range(0, len(patients), BATCH_CHUNK):
            part = patients[start:start + BATCH_CHUNK]
            s = self._score(part)
            for i, p in enumerate(part):
                rows = [self._term_rows(f.key) for f in p]  # the cached rows `_score` summed
                log_ratio = np.array([r.log_lr for r in rows]).reshape(-1, self.n_diseases)
                explained = np.array([r.explained for r in rows], dtype=bool).reshape(-1, self.n_diseases)
                ranking = s.log_likelihood[i] if s.ranking is None else s.ranking[i]
                out.append(Evidence(tuple(p), s.log_likelihood[i], ranking, s.rare_mass[i] / s.total[i], log_ratio,
                                    explained, float(s.rare_posterior[i])))
        return out

    def _term_rows(self, term: int) -> TermRows:
        """One finding's rows for every disease and clinic condition, cached: the same few hundred findings come back
        in every batch, and each costs ~50 small array operations."""
        rows = self._rows.get(term)
        if rows is None:
            if term < 0:  # an absent finding (`Finding.key`): other rows for the same term, under their own key
                rows = self._absent_rows(~term)
            else:
                lr, explained = self._finding_ratio(term)
                # P(h) of a rare-disease patient includes the unrelated findings' share (module docstring).
                noise_share = NOISE * float(self._noise_rho[term]) + 1.0 - NOISE
                rows = TermRows.of(np.log(lr), explained, np.log(self._common_probability(term)),
                                   float(np.log(self.background[term] * noise_share)))
            if len(self._rows) >= TERM_CACHE:
                self._rows.clear()  # a rare flood of distinct findings: start again rather than grow without end
            self._rows[term] = rows
        return rows

    def _absent_rows(self, term: int) -> TermRows:
        """An absent finding's rows: log of `_absent_ratio`, log(1 - P(h | common condition)), log(1 - P0(h))."""
        common = np.minimum(self._common_probability(term), ABSENT_CEILING)
        background = min(float(self.background[term]), ABSENT_CEILING)
        return TermRows.of(np.log(self._absent_ratio(term)), np.zeros(self.n_diseases, dtype=bool),
                           np.log1p(-common), float(np.log1p(-background)))

    def rank(self, request: DiagnoseRequest, top: int = 10) -> RankedDiseases:
        """The `top` best-fitting diseases as the contract's `rare_diseases` entries (empty without findings)."""
        return rank_one(self.findings(request), self._term_rows, self.n_diseases, self._log_prior_common,
                        self._log_prior_rare, self.log_disease_prior, top, self._orpha_labels, self.disease_names)

    def rank_batch(self, requests: Sequence[DiagnoseRequest], top: int = 10) -> list[RankedDiseases]:
        """`rank` for each request, scored together (app/core/rare_batch.py); identical to `rank` one by one."""
        if len(requests) == 1:  # the engine's one case: one patient's row alone, without the batch's shape
            return [self.rank(requests[0], top)]
        by_size = most_findings_first(findings := [self.findings(r) for r in requests])
        out: list[RankedDiseases] = [RankedDiseases() for _ in requests]
        labels = self._orpha_labels, self.disease_names
        for start in range(0, len(requests), BATCH_CHUNK):
            chunk = by_size[start:start + BATCH_CHUNK]
            part = [findings[i] for i in chunk]
            for i, ranked in zip(chunk, entries(part, self._score(part), top, *labels), strict=True):
                out[i] = ranked
        return out

    def _score(self, patients: Sequence[Sequence[Finding]]) -> Scored:
        return score(patients, self._term_rows, self.n_diseases, self._log_prior_common, self._log_prior_rare,
                     self.log_disease_prior)

    @staticmethod
    def alert(ranked: Sequence[Mapping[str, Any]]) -> bool:
        """Raise "consider a rare disease / refer" when P(some rare disease | findings) >= ALERT_THRESHOLD.

        `ranked` is what `rank` returned: it carries that probability over all diseases, not only the listed ones,
        because Orphanet splits one clinical picture into many entries (the posterior of "a child with seizures,
        intellectual disability and microcephaly" is shared by hundreds) and the referral is right all the same.
        A plain list of entries falls back to the sum of their scores, which can only be lower.
        """
        probability = getattr(ranked, "rare_probability", None)
        if probability is None:
            probability = sum(float(entry["score"]) for entry in ranked)
        return float(probability) >= ALERT_THRESHOLD
