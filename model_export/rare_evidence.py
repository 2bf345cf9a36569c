"""`python -m model_export rare-evidence`: a bundle whose rare-disease ranking learns from confirmed cases (issue 18).

    python -m model_export rare-evidence --confirmed CASES.jsonl --bundle BASE_DIR --out DIR [--key PRIVATE.pem]

CASES.jsonl holds one confirmed case a line: {"orpha_code": "ORPHA:558", "hpo_terms": ["HP:0001166", ...],
"excluded_terms": ["HP:0001083"]} (`excluded_terms`: looked for and absent; optional). Every line is checked against
the base bundle's index (the code must be one of its Orphanet diseases, every term a phenotypic-abnormality term it
knows); the first bad line stops the build with an error naming the file and the line. DIR gets a copy of the base
bundle with `rare_evidence.json` (replacing any evidence the base had: CASES.jsonl is the whole set of confirmed
cases), the manifest updated (files, `rare_evidence`, version), loaded back as the app would load it, and signed
(with --key, or the development key of tests/fixtures/keys when none is given, which the app reports as such).

How the ranking uses the evidence: app/core/rare_evidence.py. `retrain` writes the same file from the ORPHA-coded
confirmed feedback (`evidence_from_feedback`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from app.core.bundle import BundleError, ModelBundle
from app.core.rare import RareDiseaseRanker, hpo_id, intensity_weight
from app.core.rare_evidence import EVIDENCE_FILE, EVIDENCE_FORMAT, DiseaseEvidence, EvidenceError, evidence_json
from model_export.bundle_edit import DEV_PRIVATE_KEY


def parse_case(raw: Any, ranker: RareDiseaseRanker, where: str) -> tuple[int, list[str], list[str]]:
    """One confirmed case as (ORPHA number, present terms, excluded terms), checked against the index."""
    if not isinstance(raw, dict):
        raise EvidenceError(f"{where}: expected a JSON object with orpha_code and hpo_terms")
    unknown_keys = set(raw) - {"orpha_code", "hpo_terms", "excluded_terms"}
    if unknown_keys:
        raise EvidenceError(f"{where}: unknown field(s) {', '.join(sorted(unknown_keys))}")
    code = raw.get("orpha_code")
    number = int(code[6:]) if isinstance(code, str) and code.startswith("ORPHA:") and code[6:].isdigit() else None
    if number is None:
        raise EvidenceError(f"{where}: orpha_code {code!r} is not an Orphanet code (ORPHA:n)")
    if number not in ranker.disease_position:
        raise EvidenceError(f"{where}: {code} is not one of the index's Orphanet diseases (HPO {ranker.version})")
    known = ranker.known_terms()
    lists = []
    for field in ("hpo_terms", "excluded_terms"):
        value = raw.get(field, [])
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise EvidenceError(f"{where}: {field} must be a list of HPO ids")
        bad = [t for t in value if t not in known]
        if bad:
            raise EvidenceError(f"{where}: {field}: {', '.join(bad)} not a phenotypic-abnormality term of the index "
                                f"(HPO {ranker.version})")
        lists.append(sorted(set(value)))
    present, excluded = lists
    if not present:
        raise EvidenceError(f"{where}: hpo_terms is empty: a confirmed case needs at least one finding")
    clash = set(present) & set(excluded)
    if clash:
        raise EvidenceError(f"{where}: {', '.join(sorted(clash))} both present and excluded")
    return number, present, excluded


def aggregate(cases: Iterable[tuple[int, list[str], list[str]]]) -> list[DiseaseEvidence]:
    """Per disease: number of cases and, per term, how many cases reported it present / excluded."""
    count: Counter[int] = Counter()
    present: dict[int, Counter[str]] = defaultdict(Counter)
    excluded: dict[int, Counter[str]] = defaultdict(Counter)
    for number, terms, absent in cases:
        count[number] += 1
        present[number].update(terms)
        excluded[number].update(absent)
    return [DiseaseEvidence(n, count[n], dict(present[n]), dict(excluded[n])) for n in sorted(count)]


def read_confirmed(path: Path, ranker: RareDiseaseRanker) -> list[DiseaseEvidence]:
    """The JSONL file of confirmed cases, checked line by line; EvidenceError names the first bad line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvidenceError(f"{path}: not readable ({exc})") from None
    cases = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvidenceError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno})") from None
        cases.append(parse_case(raw, ranker, where))
    if not cases:
        raise EvidenceError(f"{path}: no confirmed cases")
    return aggregate(cases)


def evidence_from_feedback(records: list[dict[str, Any]], ranker: RareDiseaseRanker) -> tuple[list[DiseaseEvidence],
                                                                                                  list[str]]:
    """Evidence from ORPHA-coded confirmed feedback (retrain): the request's HPO terms and its vocabulary symptoms
    with some intensity (as their HPO terms, as the ranking reads them) present, its `excluded_hpo_terms` (looked
    for and absent) excluded. Records the index cannot use are skipped and described, so one clinic's stale code
    does not stop a retrain."""
    cases, skipped = [], []
    for r in records:
        code = str(r.get("confirmed_diagnosis", ""))
        if not code.startswith("ORPHA:"):
            continue
        request = r.get("request", {})
        terms = list(request.get("hpo_terms", []))
        for key, intensity in request.get("symptoms", {}).items():
            term = ranker.vocab.get(key)
            if term is not None and intensity_weight(int(intensity)) > 0:
                terms.append(hpo_id(int(ranker.term_ids[term])))
        raw = {"orpha_code": code, "hpo_terms": sorted(set(terms)),
               "excluded_terms": sorted(set(request.get("excluded_hpo_terms", [])) - set(terms))}
        try:
            cases.append(parse_case(raw, ranker, f"feedback {r.get('uuid', '?')}"))
        except EvidenceError as exc:
            skipped.append(str(exc))
    return aggregate(cases), skipped


def write_evidence(bundle: Path, diseases: list[DiseaseEvidence]) -> dict[str, Any]:
    """Write the evidence file into a bundle folder; returns the manifest's `rare_evidence` section."""
    data = evidence_json(diseases, dt.date.today().isoformat())
    (bundle / EVIDENCE_FILE).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return {"file": EVIDENCE_FILE, "format": EVIDENCE_FORMAT, "diseases": len(diseases),
            "cases": sum(d.cases for d in diseases)}


def build(confirmed: Path, base: Path, out: Path, key: Path | None, version: str | None) -> dict[str, Any]:
    from app.core.signing import is_development_key, key_fingerprint, load_private_key, sign_bundle, verify_bundle
    from model_export.export import write_manifest

    base_bundle = ModelBundle.load(base)  # a base whose files do not match its manifest is refused here
    if "rare" not in base_bundle.manifest:
        raise BundleError(f"bundle {base} has no rare-disease index to add evidence to")
    diseases = read_confirmed(confirmed, RareDiseaseRanker.load(base))
    if out.exists() and any(out.iterdir()):
        raise BundleError(f"{out} exists and is not empty: give a new folder for the bundle")
    private = load_private_key(key or DEV_PRIVATE_KEY)  # before copying: a bad key leaves no half-made bundle
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(base, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".*"))
    try:
        manifest = dict(base_bundle.manifest)
        manifest.pop("files", None)
        manifest["rare_evidence"] = write_evidence(out, diseases)
        manifest["version"] = version or f"{base_bundle.version}.{dt.date.today():%Y%m%d}"
        write_manifest(out, manifest)  # re-pins every file and removes the base's signature
        ModelBundle.load(out)
        ranker = RareDiseaseRanker.load(out)  # refuses evidence the app could not use
        sign_bundle(out, private)
        verify_bundle(out, private.public_key())
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # never leave an unsigned or inconsistent bundle behind
        raise
    return {"bundle": str(out), "version": manifest["version"], **manifest["rare_evidence"],
            "diseases_with_evidence": len(ranker.evidence_cases), "key": key_fingerprint(private.public_key()),
            "development_key": is_development_key(private.public_key())}


def add_parser(sub: Any) -> None:
    p = sub.add_parser("rare-evidence", help="a signed bundle whose rare-disease ranking uses confirmed cases")
    p.add_argument("--confirmed", type=Path, required=True, help="JSONL of confirmed cases (orpha_code, hpo_terms, "
                   "excluded_terms)")
    p.add_argument("--bundle", type=Path, required=True, help="base bundle folder")
    p.add_argument("--out", type=Path, required=True, help="new bundle folder (must not exist or be empty)")
    p.add_argument("--key", type=Path, help=f"Ed25519 private key to sign with (default: {DEV_PRIVATE_KEY})")
    p.add_argument("--version", help="bundle version (default: the base's with today's date appended)")


def cmd_rare_evidence(args: argparse.Namespace) -> int:
    from app.core.signing import SignatureError

    try:
        summary = build(args.confirmed, args.bundle, args.out, args.key, args.version)
    except (EvidenceError, BundleError, SignatureError, OSError) as exc:
        kind = "evidence_error" if isinstance(exc, EvidenceError) else "bundle_error"
        print(json.dumps({"error": {"code": kind, "message": str(exc)}}, ensure_ascii=False), file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=1))
    return 0
