"""Few-shot evidence for the rare-disease ranking: the HPO terms of confirmed cases, read from a bundle (numpy only).

A bundle may carry `rare_evidence.json` (written by `python -m model_export rare-evidence` or `retrain`):

    {"format": 2, "created": "2026-11-30",
     "diseases": {"ORPHA:558": {"cases": 2, "hpo_terms": {"HP:0001166": 2, ...}, "excluded_terms": {"HP:...": 1}}}}

`hpo_terms` counts, per term, the confirmed cases that reported it; `excluded_terms` the cases in which the doctor
looked for it and it was absent. Format 1 (older retrained bundles: no `excluded_terms`, plus `symptoms` counts that
the ranking does not use) is read too.

How the ranking uses it (`app/core/rare.py` applies it to the disease's likelihood ratios). Each manifestation t of
the disease has a frequency f(t) (how often its patients show it); the annotation's f(t) is the mean of a Beta prior
worth `PRIOR_CASES` patients (0 for a term the annotation lacks). A confirmed case that reports t is a success, one
that looked for t (or a term above it) and found it absent a failure, and a case that does not mention t says nothing
(doctors report a few findings, not all they did not see):

    f'(t) = (PRIOR_CASES * f(t) + s(t)) / (PRIOR_CASES + s(t) + e(t))

The ranking's reporting model then reads f' as it reads the annotation: a report falls on t with probability
f'(t) / S' (S' = sum of f'), propagated up the ontology. A term two confirmed cases showed and the annotation lacks
gets f' = 0.5, as frequent as an annotated "frequent" finding; one case gives 1/3. The other manifestations lose only
through S'. A disease without evidence keeps exactly its annotation's ratios.

The cases also raise their disease's prior among the K Orphanet diseases: with a symmetric Dirichlet of
`PREVALENCE_PSEUDO_CASES` (a) per disease, a disease with n of the N confirmed cases has prior (a + n) / (K a + N).
A patient like the last confirmed one is more likely to have the same disease where that disease has been seen
(founder mutations, consanguinity, a referral network's catchment); this, more than the few terms two patients of a
disease share, is what one confirmed case teaches (docs/rare_diseases.md, few-shot experiment).

Why these sizes and not a stronger update or a smaller raise (measured on bench/rare.py's tuning seeds 7 and 8, 500
diseases with evidence, drifted presentations; docs/rare_diseases.md, "What one confirmed case can teach"):

- A case's term already speaks for its neighbours: it enters the same propagated arrays as the annotation, so the
  next patient's more general term is credited through the true-path rule, a more specific one with
  DESCENDANT_WEIGHT and a sibling through the sibling share (tests/rare/test_evidence_nearby.py). Only 2-8% of the
  next simulated patient's findings are one of the case's terms and 8-10% one or two steps from one: two patients
  drawn from a presentation of 13-35 terms share little, whatever the propagation.
- The Beta prior's weight barely matters: PRIOR_CASES from 0.5 to 8, for annotated terms and for terms the
  annotation lacks separately, moved the terms-only lift between +0.8 and +4.2 points; the stronger updates were the
  worse ones (a case's noise and moved terms take reporting mass from the annotation through S'). A weight from the
  width of each Orphanet frequency class (a Beta matching the class's range) would be 11 to 30 patients, the flat
  end of that range.
- Even a ranker that knows each disease's whole drifted presentation (prior raise off) lifts the next patient by
  only +16 points on the uniform generator (+27 on the imprecise one), and one case reveals about a fifth of it.
  In this model the rest of a simulated lift can only come from the prior raise, and a raise is exactly what makes
  other diseases' patients lose: a = 1, 2, 4 gave lifts of +6, +5, +4 with controls -1.1, -0.8, -0.5 (uniform,
  seed 7). Both simulated targets at once (+15 with one case, controls within 1 point at 500 diseases) are out of
  reach of any prior size; a = 1/2 stays, chosen on the prevalence argument above, not on this trade-off.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVIDENCE_FILE = "rare_evidence.json"
EVIDENCE_FORMAT = 2
READABLE_FORMATS = (1, 2)

# Beta prior strength: the Orphanet annotation of a manifestation weighs as much as two examined patients (it is a
# frequency class, often from a handful of published cases; more would make one confirmed case invisible).
PRIOR_CASES = 2.0

# Which disease: confirmed cases also say which diseases occur among the patients the clinics see. The prior over
# the Orphanet diseases is a symmetric Dirichlet with this many pseudo-cases per disease, so a disease with n
# confirmed cases out of N has prior (a + n) / (K a + N) instead of 1 / K: one case triples it, two multiply it by
# five. a = 1/2 is the Jeffreys prior of a multinomial, and a Gamma(1/2) spread of prevalences (sd of log
# prevalence ~2.2, a factor of 9) matches the three to four orders of magnitude between Orphanet's prevalence
# classes; it was chosen on that ground, not on the benchmark.
PREVALENCE_PSEUDO_CASES = 0.5

ORPHA_CODE = re.compile(r"^ORPHA:(\d{1,9})$")
HPO_ID = re.compile(r"^HP:\d{7}$")


class EvidenceError(ValueError):
    """Evidence that cannot be used; the message says which disease or term and why."""


@dataclass(frozen=True, slots=True)
class DiseaseEvidence:
    """Confirmed cases of one disease: how many, and per HPO id how many reported it present or excluded."""

    orpha: int
    cases: int
    present: dict[str, int]
    excluded: dict[str, int]


def _counts(value: Any, where: str, cases: int) -> dict[str, int]:
    if not isinstance(value, dict):
        raise EvidenceError(f"{where}: expected an object of HPO id -> number of cases")
    out: dict[str, int] = {}
    for term, count in value.items():
        if not isinstance(term, str) or not HPO_ID.match(term):
            raise EvidenceError(f"{where}: {term!r} is not an HPO id (HP:0000000)")
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= cases:
            raise EvidenceError(f"{where}: {term} counts {count!r} cases, expected 1..{cases}")
        out[term] = count
    return out


def parse_evidence(data: Any) -> list[DiseaseEvidence]:
    """Check the structure of a decoded evidence file and return its diseases in code order."""
    if not isinstance(data, dict):
        raise EvidenceError("expected a JSON object with 'format' and 'diseases'")
    if data.get("format") not in READABLE_FORMATS:
        raise EvidenceError(f"unknown evidence format {data.get('format')!r}, expected one of {READABLE_FORMATS}")
    diseases = data.get("diseases")
    if not isinstance(diseases, dict):
        raise EvidenceError("'diseases' must be an object of ORPHA code -> evidence")
    out = []
    for code, entry in diseases.items():
        m = ORPHA_CODE.match(code) if isinstance(code, str) else None
        if m is None:
            raise EvidenceError(f"{code!r} is not an Orphanet code (ORPHA:n)")
        if not isinstance(entry, dict):
            raise EvidenceError(f"{code}: expected an object")
        cases = entry.get("cases")
        if isinstance(cases, bool) or not isinstance(cases, int) or cases < 1:
            raise EvidenceError(f"{code}: 'cases' must be a positive whole number, not {cases!r}")
        present = _counts(entry.get("hpo_terms", {}), f"{code} hpo_terms", cases)
        excluded = _counts(entry.get("excluded_terms", {}), f"{code} excluded_terms", cases)
        out.append(DiseaseEvidence(int(m.group(1)), cases, present, excluded))
    return sorted(out, key=lambda e: e.orpha)


def read_evidence(path: Path) -> list[DiseaseEvidence]:
    """The evidence file of a bundle; EvidenceError (naming the file) when it is not valid JSON or not evidence."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvidenceError(f"{path} is not readable JSON ({exc})") from exc
    try:
        return parse_evidence(data)
    except EvidenceError as exc:
        raise EvidenceError(f"{path}: {exc}") from None


def evidence_json(diseases: list[DiseaseEvidence], created: str) -> dict[str, Any]:
    """The file's content (format 2) for these diseases."""
    return {"format": EVIDENCE_FORMAT, "created": created,
            "diseases": {f"ORPHA:{d.orpha}": {"cases": d.cases, "hpo_terms": dict(sorted(d.present.items())),
                                              "excluded_terms": dict(sorted(d.excluded.items()))}
                         for d in sorted(diseases, key=lambda d: d.orpha)}}
