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
- h (or an ancestor) is excluded for D in Orphanet (a NOT row): ratio `EXCLUDED` (LIRICAL's 1/1000), whatever else;
- anything else is unexplained by D.

A disease with many manifestations explains almost any finding, and LIRICAL's product of ratios favours such
diseases. We follow a reporting model instead: the doctor reports some of the disease's manifestations, so the
chance that a report falls at or below h is M_D(h) / S_D, where S_D is D's expected number of manifestations (the
sum of its frequencies); the ratio is therefore multiplied by the Occam factor (S_ref / S_D) ** OCCAM, with S_ref
the geometric mean of S over diseases (OCCAM = 1 is the reporting model, 0 LIRICAL's presence model).

A finding may also be unrelated to the disease, with its background frequency, at rate `NOISE`: each likelihood
ratio is NOISE + (1 - NOISE) * ratio, so an unexplained finding costs a constant factor instead of vetoing the
disease. The score is log P(findings | D), with P(h | D) = P0(h) * LR_D(h) (P0: how often a patient with a random
Orphanet disease shows h); diseases are ranked by it, ties keeping ORPHA code order.

Alert. The `score` of a listed disease is its posterior probability among "one of the Orphanet diseases" (prior
`RARE_PRIOR`, spread evenly) and "one of the clinic's common conditions" (the knowledge base's case mix, each with
its symptom probabilities, in the index). Vocabulary symptoms are weighed against how often they occur in the
clinic, so a cold or dengue fits its common condition far better than any rare disease. `alert` fires when the
probability of "some rare disease" reaches `ALERT_THRESHOLD` (0.7, the origin document's "confident"); the
calibration is in docs/rare_diseases.md.

Thread safety: after `load`, everything is read-only; `rank` may run on several threads at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.core.contract import DiagnoseRequest

INDEX_FILE = "rare_index.npz"
FORMAT = 1

# Evidence model (see module docstring). NOISE, DESCENDANT_WEIGHT and OCCAM were chosen on simulated patients of
# tuning seeds (7, 8, 11) that bench/rare.py does not report (docs/rare_diseases.md); EXCLUDED is LIRICAL's 1/1000.
NOISE = 0.1
EXCLUDED = 0.001
DESCENDANT_WEIGHT = 0.8
OCCAM = 1.0

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


class RareIndexError(RuntimeError):
    """The bundle's rare-disease index is missing or unreadable; the message names the file."""


def hpo_id(number: int) -> str:
    return f"HP:{int(number):07d}"


def intensity_weight(intensity: int) -> float:
    return float(min(1.0, max(0.0, (intensity - 1) / (FULL_WEIGHT_INTENSITY - 1))))


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding of the patient: the index's term number, its HPO id and how much it counts (0..1)."""

    term: int
    hpo: str
    weight: float


@dataclass(frozen=True, slots=True)
class Evidence:
    """Per-disease results for one patient (arrays over all diseases of the index)."""

    findings: tuple[Finding, ...]
    log_likelihood: np.ndarray  # log P(findings | disease), the ranking score
    posterior: np.ndarray  # P(disease | findings) against the clinic's common conditions
    log_ratio: np.ndarray  # (findings, diseases): log likelihood ratio of each finding
    explained: np.ndarray  # (findings, diseases): the disease's annotations account for the finding
    rare_posterior: float  # P(one of the rare diseases | findings)


class RankedDiseases(list[dict[str, Any]]):
    """The contract's `rare_diseases` entries, best first; also carries P(some rare disease | findings) for `alert`.

    It is a plain list to JSON and to the response; the extra attribute never reaches the contract.
    """

    rare_probability: float = 0.0


class RareDiseaseRanker:
    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
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

        # Ratios per propagated annotation, computed once. B(t): mean expected count of manifestations at or below
        # t over all diseases; P0(t): probability that a patient with a random Orphanet disease shows t.
        n_terms = len(self.term_ids)
        column = np.repeat(np.arange(n_terms), np.diff(self.cl_indptr))
        summed = np.asarray(arrays["cl_sum"], dtype=np.float64)
        mean_count = np.bincount(column, weights=summed, minlength=n_terms) / self.n_diseases
        mean_count = np.maximum(mean_count, 0.5 / self.n_diseases)
        self.cl_ratio = summed / mean_count[column]
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
        occam = np.exp(-OCCAM * (np.log(manifestations) - np.log(manifestations).mean()))
        self.cl_ratio *= occam[self.cl_disease]
        self.dr_ratio *= occam[self.dr_disease]

        # The clinic's common conditions, for the posterior and the alert.
        self.vocab = {str(k): int(t) for k, t in zip(arrays["vocab_keys"], arrays["vocab_terms"], strict=True)}
        self.vocab_terms = np.asarray(arrays["vocab_terms"], dtype=np.int64)
        self._vocab_column = {int(t): j for j, t in enumerate(self.vocab_terms)}
        self._vocab_ancestors = [set(self._ancestors(int(t)).tolist()) for t in self.vocab_terms]
        self.clinic_codes = [str(c) for c in arrays["clinic_codes"]]
        self.clinic_symptom_p = np.asarray(arrays["clinic_symptom_p"], dtype=np.float64)
        prevalence = np.asarray(arrays["clinic_prevalence"], dtype=np.float64)
        self._log_prior_common = np.log((1.0 - RARE_PRIOR) * prevalence / prevalence.sum())
        self._log_prior_rare = np.log(RARE_PRIOR / self.n_diseases)
        self._known: frozenset[str] | None = None

    @classmethod
    def load(cls, bundle_dir: Path) -> RareDiseaseRanker:
        path = Path(bundle_dir) / INDEX_FILE
        if not path.is_file():
            raise RareIndexError(f"no rare-disease index at {path}")
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (OSError, ValueError, KeyError) as exc:
            raise RareIndexError(f"{path} is not a readable rare-disease index ({exc})") from exc
        return cls(arrays)

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
        """The request's findings as index terms: weighted vocabulary symptoms, then the extra HPO terms.

        A symptom also given as its HPO term is one finding at full weight. Terms the index does not know are
        skipped (validate with `known_terms()` to reject them instead).
        """
        weights: dict[int, float] = {}
        for key, intensity in request.symptoms.items():
            term = self.vocab.get(key)
            weight = intensity_weight(intensity)
            if term is not None and weight > 0:
                weights[term] = max(weights.get(term, 0.0), weight)
        for raw in request.hpo_terms:
            number = int(raw[3:]) if raw.startswith("HP:") and raw[3:].isdigit() else -1
            term = self._term_index.get(number)
            if term is not None:
                weights[term] = 1.0
        return tuple(Finding(t, hpo_id(self.term_ids[t]), w) for t, w in weights.items())

    def _finding_ratio(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        """Likelihood ratio of one finding for every disease, and whether the disease's annotations explain it."""
        ratio = np.zeros(self.n_diseases)
        explained = np.zeros(self.n_diseases, dtype=bool)
        s, e = self.cl_indptr[term], self.cl_indptr[term + 1]
        idx = self.cl_disease[s:e]
        ratio[idx] = self.cl_ratio[s:e]
        explained[idx] = True
        ancestors = self._ancestors(term)
        for t in ancestors[self._has_direct[ancestors]]:
            s, e = self.dr_indptr[t], self.dr_indptr[t + 1]
            idx = self.dr_disease[s:e]
            ratio[idx] = np.maximum(ratio[idx], self.dr_ratio[s:e])
            explained[idx] = True
        lr = NOISE + (1.0 - NOISE) * ratio
        for t in (term, *ancestors[self._has_exclusion[ancestors]]):
            if self._has_exclusion[t]:
                idx = self.ex_disease[self.ex_indptr[t]:self.ex_indptr[t + 1]]
                lr[idx] = EXCLUDED
                explained[idx] = False
        return lr, explained

    def _common_probability(self, term: int) -> np.ndarray:
        """P(finding | common condition c) for every clinic condition."""
        bg = self.background[term]
        floor = COMMON_RELATIVE_FREQUENCY * bg
        p = np.full(len(self.clinic_codes), floor)
        j = self._vocab_column.get(term)
        if j is not None:
            return np.maximum(p, self.clinic_symptom_p[:, j])
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
        n = len(findings)
        log_ratio = np.zeros((n, self.n_diseases))
        explained = np.zeros((n, self.n_diseases), dtype=bool)
        log_common = self._log_prior_common.copy()
        weights = np.array([f.weight for f in findings])
        log_background = 0.0
        for i, f in enumerate(findings):
            lr, ex = self._finding_ratio(f.term)
            log_ratio[i] = np.log(lr)
            explained[i] = ex
            log_background += f.weight * np.log(self.background[f.term])
            log_common += f.weight * np.log(self._common_probability(f.term))
        log_likelihood = weights @ log_ratio + log_background if n else np.zeros(self.n_diseases)
        joint_rare = self._log_prior_rare + log_likelihood
        top = max(float(joint_rare.max()), float(log_common.max()))
        rare_mass = np.exp(joint_rare - top)
        total = rare_mass.sum() + np.exp(log_common - top).sum()
        posterior = rare_mass / total
        return Evidence(tuple(findings), log_likelihood, posterior, log_ratio, explained,
                        float(posterior.sum()) if n else 0.0)

    def rank(self, request: DiagnoseRequest, top: int = 10) -> RankedDiseases:
        """The `top` best-fitting diseases as the contract's `rare_diseases` entries (empty without findings)."""
        return self.entries(self.evidence(request), top)

    def entries(self, evidence: Evidence, top: int = 10) -> RankedDiseases:
        out = RankedDiseases()
        out.rare_probability = evidence.rare_posterior
        if not evidence.findings:
            return out
        scores = evidence.log_likelihood
        k = min(top, self.n_diseases)
        candidates = np.argpartition(-scores, k - 1)[:k] if k < self.n_diseases else np.arange(self.n_diseases)
        # Ties keep index order (ORPHA code order) so that the same request always gives the same list.
        order = candidates[np.lexsort((candidates, -scores[candidates]))]
        for d in order:
            matched = [f.hpo for i, f in enumerate(evidence.findings)
                       if evidence.explained[i, d] and evidence.log_ratio[i, d] > 0]
            matched_set = set(matched)
            out.append({
                "orpha_code": f"ORPHA:{int(self.disease_codes[d])}",
                "name": self.disease_names[d],
                "score": round(float(evidence.posterior[d]), 6),
                "matched_terms": matched,
                "unexplained_terms": [f.hpo for f in evidence.findings if f.hpo not in matched_set],
            })
        return out

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
