"""The bundle's `findings.npz`: how each finding is distributed within each condition and age band (issue 19).

    python -m model_export findings --bundle assets/models [--key PRIVATE.pem] [--per-condition N]

The value-of-information ranking (app/core/next_findings.py) asks "how likely is each value of this finding, given
the case?": it mixes these per-condition distributions by the condition model's probabilities. They are tabulated
from patients simulated on the knowledge base (`FINDINGS_SEED`, a seed used for nothing else), the same number for
every condition, so the acute-state shifts, band overrides, sign rules and missingness of the simulator are all in
them without a second copy of that logic. Patients are tabulated by state too (acute or not): the ranking weighs
the two by the state model's P(ENFERMEDAD_AGUDA | case), so a danger sign is as likely as it is among acute
patients when the case looks acute. Format: app/core/finding_distributions.py.

`python -m model_export build` writes the file into every new bundle. The command above adds it to an existing
bundle WITHOUT retraining: the file is written, the manifest re-pins every file (`findings` section added, version
unchanged: the models are the same), the bundle is loaded back as the app would load it, and signed again (with
--key, or the development key of tests/fixtures/keys when none is given, which the app reports as such).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from app.core.finding_distributions import (
    FINDINGS_FILE,
    FINDINGS_FORMAT,
    INTENSITY_LEVELS,
    PREGNANCY_VALUES,
    VITAL_LEVELS,
)
from model_export import knowledge
from model_export.bundle_edit import DEV_PRIVATE_KEY
from model_export.simulator import ACUTE, Simulator

FINDINGS_SEED = 1919  # not a training (1), validation (2), test (3) or benchmark seed
PER_CONDITION = 1000
MIN_CELL = 30  # fewer patients than this in a (condition, band): use the condition's figures over all bands
MIN_MEASURED = 10  # the same for a vital's quantiles, counting the patients it was measured in


def tabulate(kb: knowledge.KnowledgeBase, per_condition: int = PER_CONDITION,
             seed: int = FINDINGS_SEED) -> dict[str, np.ndarray]:
    """The arrays of `findings.npz` from `per_condition` simulated patients of every condition, per condition, state
    (not acute / acute) and age band."""
    sim = Simulator(kb)
    rng = np.random.default_rng(seed)
    symptoms = [s["key"] for s in kb.symptoms]
    signs = list(knowledge.SIGNS)
    vitals = [v.key for v in kb.vitals]
    n_c, n_b = len(kb.conditions), len(knowledge.AGE_BANDS)
    # Index 2 of the state axis and n_b of the band axis pool all states / all bands (the fallback of thin cells).
    shape = (n_c, 3, n_b + 1)
    count = np.zeros(shape)
    sym_n = np.zeros((*shape, len(symptoms)))
    sym_sum = np.zeros((*shape, len(symptoms)))
    sym_level = np.zeros((*shape, len(symptoms), len(INTENSITY_LEVELS)))  # patients at each intensity 1..10
    sign_n = np.zeros((*shape, len(signs)))
    preg_n = np.zeros((*shape, len(PREGNANCY_VALUES)))
    weeks: dict[tuple[int, int, int], list[float]] = {}
    days: dict[tuple[int, int, int], list[float]] = {}
    measured: dict[tuple[int, int, int, int], list[float]] = {}
    # Format 2: a vital with a healthy value by age (the knowledge base's `reference`, as the models' z-scores) is
    # tabulated as z-scores, so its quantiles hold for every age of a band and are read at the patient's age.
    references = [_reference(v.reference) for v in kb.vitals]
    s_index = {k: j for j, k in enumerate(symptoms)}
    g_index = {k: j for j, k in enumerate(signs)}
    for i, condition in enumerate(kb.conditions):
        for _ in range(per_condition):
            request, state, _other = sim.patient(condition, rng)
            band = knowledge.AGE_BANDS.index(knowledge.age_band(float(request["age"])))
            acute = int(state == ACUTE)
            for a, b in ((acute, band), (acute, n_b), (2, band), (2, n_b)):
                cell = (i, a, b)
                count[cell] += 1
                for key, intensity in request.get("symptoms", {}).items():
                    if intensity >= 1 and key in s_index:
                        sym_n[(*cell, s_index[key])] += 1
                        sym_sum[(*cell, s_index[key])] += intensity
                        level = min(max(round(intensity), 1), len(INTENSITY_LEVELS)) - 1
                        sym_level[(*cell, s_index[key], level)] += 1
                for code in request.get("signs", []):
                    if code in g_index:
                        sign_n[(*cell, g_index[code])] += 1
                for j, key in enumerate(vitals):
                    value = request.get("vitals", {}).get(key)
                    if value is not None:
                        if references[j] is not None:  # as a z-score against the healthy value at the patient's age
                            mean, sd = kb.vitals[j].norm(float(request["age"]))
                            value = (float(value) - mean) / sd
                        measured.setdefault((*cell, j), []).append(float(value))
                status = (request.get("pregnancy") or {}).get("status")
                if status in PREGNANCY_VALUES:
                    preg_n[(*cell, PREGNANCY_VALUES.index(status))] += 1
                    if status == "pregnant":
                        weeks.setdefault(cell, []).append(float(request["pregnancy"]["weeks"]))
                    elif status == "postpartum":
                        days.setdefault(cell, []).append(float(request["pregnancy"]["days_since_delivery"]))

    def fallbacks(i: int, a: int, b: int) -> list[tuple[int, int, int]]:
        # The cell, then the same state over all bands, then all states in the band, then the whole condition.
        return [(i, a, b), (i, a, n_b), (i, 2, b), (i, 2, n_b)]

    out_shape = (n_c, 2, n_b)
    symptom_p = np.zeros((*out_shape, len(symptoms)))
    symptom_intensity = np.zeros((*out_shape, len(symptoms)))
    symptom_levels = np.zeros((*out_shape, len(symptoms), len(INTENSITY_LEVELS)))
    sign_p = np.zeros((*out_shape, len(signs)))
    pregnancy_p = np.zeros((*out_shape, len(PREGNANCY_VALUES)))
    vital_q = np.full((*out_shape, len(vitals), len(VITAL_LEVELS)), np.nan)
    mean_weeks = np.full(out_shape, 28.0)
    mean_days = np.full(out_shape, 7.0)
    for i in range(n_c):
        for a in range(2):
            for b in range(n_b):
                cells = fallbacks(i, a, b)
                cell = next((c for c in cells if count[c] >= MIN_CELL), cells[-1])
                n = max(count[cell], 1.0)
                symptom_p[i, a, b] = sym_n[cell] / n
                symptom_intensity[i, a, b] = np.where(sym_n[cell] > 0, sym_sum[cell] / np.maximum(sym_n[cell], 1), 0)
                symptom_levels[i, a, b] = sym_level[cell] / np.maximum(sym_n[cell], 1)[:, None]
                sign_p[i, a, b] = sign_n[cell] / n
                for j in range(len(vitals)):
                    values = next((measured[(*c, j)] for c in cells if len(measured.get((*c, j), ())) >= MIN_MEASURED),
                                  None)
                    if values is not None:
                        vital_q[i, a, b, j] = np.quantile(values, VITAL_LEVELS)
                # Women of 10-60 whose status was recorded; none in the cell (men only, children): not pregnant.
                asked = next((c for c in cells if preg_n[c].sum() >= MIN_MEASURED), None)
                pregnancy_p[i, a, b] = [0.0, 0.0, 1.0] if asked is None else preg_n[asked] / preg_n[asked].sum()
                w = next((weeks[c] for c in cells if len(weeks.get(c, ())) >= MIN_MEASURED), None)
                d = next((days[c] for c in cells if len(days.get(c, ())) >= MIN_MEASURED), None)
                if w:
                    mean_weeks[i, a, b] = float(np.mean(w))
                if d:
                    mean_days[i, a, b] = float(np.mean(d))
    return {
        "format": np.array(FINDINGS_FORMAT),
        "conditions": np.array([c.code for c in kb.conditions]),
        "states": np.array(["not_acute", ACUTE]),
        "bands": np.array(knowledge.AGE_BANDS),
        "symptoms": np.array(symptoms),
        "symptom_p": symptom_p,
        "symptom_intensity": symptom_intensity,
        "symptom_levels": symptom_levels,
        "signs": np.array(signs),
        "sign_p": sign_p,
        "vitals": np.array(vitals),
        "vital_q": vital_q,
        "vital_reference": _reference_array(references),
        "pregnancy_p": pregnancy_p,
        "weeks": mean_weeks,
        "days": mean_days,
    }


def _reference(rows: tuple[tuple[float, float, float], ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    if not rows:
        return None
    table = np.asarray(rows, dtype=np.float64)
    return table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy()


def _reference_array(references: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None]) -> np.ndarray:
    """(vitals, anchors, 3): each vital's (age, median, sd) anchors, NaN-padded; all NaN: stored as values."""
    most = max((len(r[0]) for r in references if r is not None), default=0)
    out = np.full((len(references), most, 3), np.nan)
    for j, r in enumerate(references):
        if r is not None:
            out[j, :len(r[0])] = np.column_stack(r)
    return out


def write_findings(folder: Path, kb: knowledge.KnowledgeBase, per_condition: int = PER_CONDITION) -> dict[str, Any]:
    """Write `findings.npz` into a bundle folder; returns the manifest's `findings` section."""
    arrays = tabulate(kb, per_condition)
    with (folder / FINDINGS_FILE).open("wb") as fh:
        np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]  # numpy's stub types the kwargs too narrowly
    return {"file": FINDINGS_FILE, "format": FINDINGS_FORMAT, "seed": FINDINGS_SEED,
            "patients_per_condition": per_condition, "knowledge_sha256": kb.sha256}


def add_to_bundle(bundle: Path, key: Path | None, per_condition: int = PER_CONDITION) -> dict[str, Any]:
    """Add (or replace) the file in an existing bundle, re-pin the manifest and sign again; no retraining."""
    from model_export.bundle_edit import rewrite_bundle

    kb = knowledge.load()
    written: dict[str, Any] = {}

    def add(manifest: dict[str, Any]) -> None:
        written.update(write_findings(bundle, kb, per_condition))
        manifest["findings"] = dict(written)

    summary = rewrite_bundle(bundle, key, add)
    return {**summary, **written}


def add_parser(sub: Any) -> None:
    p = sub.add_parser("findings", help="add the findings' distributions (next_findings) to a bundle, re-sign it")
    p.add_argument("--bundle", type=Path, required=True, help="bundle folder, changed in place")
    p.add_argument("--key", type=Path, help=f"Ed25519 private key to sign with (default: {DEV_PRIVATE_KEY})")
    p.add_argument("--per-condition", type=int, default=PER_CONDITION, help="simulated patients per condition")


def cmd_findings(args: argparse.Namespace) -> int:
    from app.core.bundle import BundleError
    from app.core.signing import SignatureError

    try:
        summary = add_to_bundle(args.bundle, args.key, args.per_condition)
    except (BundleError, SignatureError, OSError, ValueError) as exc:
        print(json.dumps({"error": {"code": "bundle_error", "message": str(exc)}}, ensure_ascii=False),
              file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=1))
    return 0
