"""OMIM annotations of the same disease, for the rare-disease index (issue 18; build time only).

phenotype.hpoa annotates many Orphanet diseases twice: once from Orphanet's own clinical summary and once, under
an OMIM id, from OMIM's clinical synopsis and the literature. The two lists overlap little (the HPO's 2025-01-16
release: 28 and 26 terms on average for the pairs found below, 16 of the OMIM terms absent from the Orphanet list),
and published patients are mostly described in the words of the OMIM list. An Orphanet disease takes the terms of
an OMIM entry only where the mapping is unambiguous:

- both are tied to exactly one gene, the same one (phenotype_to_genes.txt, Orphanet's and OMIM's gene links);
- their names share at least half of their distinctive words (Jaccard >= 0.5 once words like "syndrome", "type",
  "autosomal" are set aside), and that OMIM entry is the only one of the gene that does;
- no other Orphanet disease maps to the same OMIM entry.

An OMIM term the Orphanet list lacks joins the disease at OMIM_WEIGHT times its OMIM frequency (OMIM rows mostly
have none, and then count as the index's default frequency): the Orphanet list stays the main description. Terms
on both lists keep Orphanet's frequency; an OMIM NOT row excludes a term only where Orphanet does not annotate it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

# Words that name a kind of disease rather than which one.
GENERIC_WORDS = frozenset({"syndrome", "disease", "type", "due", "to", "deficiency", "with", "and", "of", "the",
                           "autosomal", "recessive", "dominant", "x", "linked", "form", "familial", "congenital"})
NAME_OVERLAP = 0.5
# Weight of an OMIM-only term against its OMIM frequency: half, so that the Orphanet list keeps the larger share of
# the disease's reports.
OMIM_WEIGHT = 0.5


@dataclass
class OmimDisease:
    name: str
    present: dict[int, str] = field(default_factory=dict)  # term -> frequency text as in phenotype.hpoa
    excluded: set[int] = field(default_factory=set)


def _words(name: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z0-9]+", name.lower()) if w not in GENERIC_WORDS)


def disease_genes(path: Path) -> dict[str, set[str]]:
    """Disease id (OMIM:n, ORPHA:n) -> gene symbols, from phenotype_to_genes.txt."""
    out: dict[str, set[str]] = defaultdict(set)
    with path.open(encoding="utf-8") as fh:
        next(fh, None)
        for line in fh:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 5:
                out[cols[4]].add(cols[3])
    return out


def read_omim_annotations(path: Path, canonical: dict[int, int], skip_term: int) -> dict[str, OmimDisease]:
    """OMIM phenotype rows (aspect P) of phenotype.hpoa, terms mapped to the index's current terms."""
    out: dict[str, OmimDisease] = {}
    with path.open(encoding="utf-8") as fh:
        header: list[str] | None = None
        for line in fh:
            if line.startswith("#"):
                continue
            cols = line.rstrip("\n").split("\t")
            if header is None:
                header = cols
                ix = {name: header.index(name) for name in ("database_id", "disease_name", "qualifier", "hpo_id",
                                                            "frequency", "aspect")}
                continue
            db_id = cols[ix["database_id"]]
            if not db_id.startswith("OMIM:") or cols[ix["aspect"]] != "P":
                continue
            term = canonical.get(int(cols[ix["hpo_id"]][3:]))
            if term is None or term == skip_term:
                continue
            disease = out.setdefault(db_id, OmimDisease(cols[ix["disease_name"]]))
            if cols[ix["qualifier"]].strip() == "NOT":
                disease.excluded.add(term)
            else:
                disease.present.setdefault(term, cols[ix["frequency"]])
    return out


def match_omim(orpha_names: dict[int, str], omim: dict[str, OmimDisease],
               genes: dict[str, set[str]]) -> dict[int, str]:
    """Orphanet code -> the one OMIM id it maps to unambiguously (see the module docstring)."""
    omim_by_gene: dict[str, list[str]] = defaultdict(list)
    for omim_id, gs in genes.items():
        if omim_id.startswith("OMIM:") and len(gs) == 1 and omim_id in omim:
            omim_by_gene[next(iter(gs))].append(omim_id)
    found: dict[int, str] = {}
    for code, name in orpha_names.items():
        gs = genes.get(f"ORPHA:{code}", set())
        if len(gs) != 1:
            continue
        words = _words(name)
        close = []
        for omim_id in omim_by_gene.get(next(iter(gs)), []):
            other = _words(omim[omim_id].name)
            if words and len(words & other) / len(words | other) >= NAME_OVERLAP:
                close.append(omim_id)
        if len(close) == 1:
            found[code] = close[0]
    taken: dict[str, int] = defaultdict(int)
    for omim_id in found.values():
        taken[omim_id] += 1
    return {code: omim_id for code, omim_id in found.items() if taken[omim_id] == 1}
