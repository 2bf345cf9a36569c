"""Write the measured figures into `docs/model_card.md`, between the generated-section markers.

Everything outside the markers is written by people; everything inside comes from the bundle's manifest, so the
card can never quote numbers the shipped model did not produce.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.core.priority_conditions import PRIORITY_PROBABILITY
from app.core.vocabulary import STATE_LABELS

ROOT = Path(__file__).resolve().parents[1]
CARD = ROOT / "docs" / "model_card.md"
START, END = "<!-- generated:start -->", "<!-- generated:end -->"

# Why our answer differs from the origin document's, per case (1-based), when it does. Clinical reasoning, with
# the rule's source; the origin document gives no vitals, age or duration, so the symptoms alone must carry it.
ORIGIN_REASONS: dict[int, str] = {
    2: "No vitals were given, so nothing rules out hypertension (blood pressure not measured) and the model "
       "splits between mild illness (35%), minor complaints (35%) and a chronic state (30%); the most likely is "
       "ENFERMEDAD LEVE; triage NO URGENTE. A step above the document's answer, which the precautionary order "
       "allows; measuring temperature and blood pressure settles it.",
    3: "Severe chest pain (8/10) with breathlessness (7/10) is a suspected acute coronary syndrome or pneumonia "
       "until proven otherwise (NICE CG95): the CHEST_PAIN_CARDIAC rule escalates to ENFERMEDAD AGUDA.",
    5: "Maximal chest pain, cough and breathlessness (10/10 each) meet the CHEST_PAIN_CARDIAC and SEVERE_DYSPNEA "
       "rules (NICE CG95, GINA 2024): immediate attention and ENFERMEDAD AGUDA, more urgent than the document's "
       "ENFERMEDAD CRÓNICA. A chronic course (COPD, heart failure) is judged after stabilisation.",
}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}×"


def render(manifest: dict[str, Any]) -> str:
    m = manifest["metrics"]
    lines = [f"Bundle **{manifest['version']}**, created {manifest['created']}, expires {manifest['expires']}; "
             f"held-out patients: {m['held_out']['all']['n']:,} (simulator seed "
             f"{manifest['data']['simulator_seeds']['test']}).", ""]
    lines += ["### Held-out simulated patients: triage, by group", "",
              "WHO ETAT levels as the engine answers them (danger-sign rules and model). Critical = state "
              "ENFERMEDAD AGUDA. Targets (issue 12): recall at EMERGENCIA ≥ 95%, at EMERGENCIA or PRIORITARIO "
              "≥ 99%, share at EMERGENCIA ≤ 1.25 × critical prevalence, condition macro-F1 ≥ 0.85, ECE ≤ 0.05.", "",
              "| group | n | critical n | critical prevalence | recall at EMERGENCIA | recall at EMERGENCIA or "
              "PRIORITARIO | share at EMERGENCIA (flag rate) | ÷ prevalence | share at PRIORITARIO | "
              "NPV of not EMERGENCIA |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for group, g in m["held_out"].items():
        if not g.get("n"):
            continue
        lines.append(
            f"| {group} | {g['n']:,} | {g['critical_n']:,} | {_pct(g.get('critical_prevalence'))} | "
            f"{_pct(g['critical_recall'])} | {_pct(g.get('critical_recall_emergency_or_priority'))} | "
            f"{_pct(g['flagged_share'])} | {_ratio(g.get('emergency_share_over_prevalence'))} | "
            f"{_pct(g.get('priority_share'))} | {_pct(g['not_critical_npv'])} |"
        )
    lines += ["", "### Held-out simulated patients: conditions and calibration, by group", "",
              "| group | n | condition macro-F1 | top-1 | top-3 | condition ECE | state accuracy | state ECE |",
              "|---|---|---|---|---|---|---|---|"]
    for group, g in m["held_out"].items():
        if not g.get("n"):
            continue
        lines.append(
            f"| {group} | {g['n']:,} | {g['condition_macro_f1']:.3f} | {_pct(g['condition_accuracy'])} | "
            f"{_pct(g['condition_top3'])} | {g['condition_ece']:.3f} | {_pct(g['state_accuracy'])} | "
            f"{g['state_ece']:.3f} |"
        )
    cands = manifest["training"].get("candidates_on_validation") or {}
    if cands:
        lines += ["", "### Candidate models (validation patients)", "",
                  "| target | candidate | macro-F1 | accuracy | log-loss | ECE | fit s |",
                  "|---|---|---|---|---|---|---|"]
        for target, by_name in cands.items():
            for name, r in by_name.items():
                lines.append(f"| {target} | {name} | {r['macro_f1']:.3f} | {_pct(r['accuracy'])} | "
                             f"{r['log_loss']:.3f} | {r['ece']:.3f} | {r['fit_seconds']} |")
    t = manifest["training"]
    lines += ["", "### Calibration and thresholds", "",
              f"- Temperature: state {t['state']['temperature']}, condition {t['condition']['temperature']} "
              f"(validation ECE before → after: state {t['state']['validation_before_calibration']['ece']:.3f} → "
              f"{t['state']['validation']['ece']:.3f}, condition "
              f"{t['condition']['validation_before_calibration']['ece']:.3f} → "
              f"{t['condition']['validation']['ece']:.3f}).",
              _thresholds_line(manifest),
              f"- ONNX parity on {manifest['parity']['rows']:,} patients: max |p_sklearn − p_onnxruntime| = "
              + ", ".join(f"{k} {v:.2e}" for k, v in manifest["parity"]["max_abs_diff"].items()) + "."]
    v = m["vignettes"]
    lines += ["", "### Clinical vignettes (`tests/core/vignettes.toml`)", "",
              f"{v['n']} vignettes written from clinical references: top-1 {_pct(v['top1'])}, "
              f"**top-3 {_pct(v['top3'])}**; critical flagged **{v['critical_flagged']}/{v['critical_n']}**; "
              f"non-critical flagged {v['non_critical_flagged']}/{v['n'] - v['critical_n']}.", "",
              "| id | expected | rank | our top 3 | critical | triage | state |", "|---|---|---|---|---|---|---|"]
    for r in v["rows"]:
        level = r.get("triage") or ("EMERGENCIA" if r["flagged"] else "—")
        lines.append(f"| {r['id']} | {r['expected']} | {r['rank'] or '>5'} | {', '.join(r['top3'])} | "
                     f"{'yes' if r['critical'] else 'no'} | {level} | {r['severity']} |")
    lines += ["", "### The origin document's five use cases (age 40, sex F)", "",
              "| # | symptoms | expected | our state | immediate attention | red flags | top conditions | "
              "reason for a difference |", "|---|---|---|---|---|---|---|---|"]
    for i, c in enumerate(m["origin_cases"], start=1):
        symptoms = ", ".join(f"{k}={v}" for k, v in c["symptoms"].items())
        differs = c["severity"] != c["expected"]
        reason = ORIGIN_REASONS.get(i, "") if differs else "—"
        lines.append(f"| {i} | {symptoms} | {STATE_LABELS[c['expected']]['es']} | "
                     f"{STATE_LABELS[c['severity']]['es']} | {'yes' if c['requires_immediate_attention'] else 'no'} | "
                     f"{', '.join(c['red_flags']) or '—'} | {', '.join(c['top_conditions'])} | {reason or 'TODO'} |")
    return "\n".join(lines)


def _thresholds_line(manifest: dict[str, Any]) -> str:
    th = manifest["thresholds"]
    tuning = manifest["training"].get("threshold_tuning", {})
    if "emergency_acute_probability" not in th:  # a bundle from before contract v2
        return (f"- Immediate attention: any red-flag rule, or P(ENFERMEDAD AGUDA) ≥ "
                f"{th['attention_acute_probability']}, or P(critical condition) ≥ "
                f"{th['attention_critical_condition_probability']}.")
    met = tuning.get("emergency_targets_met_on_validation") and tuning.get("priority_targets_met_on_validation")
    return (f"- Triage (WHO ETAT), chosen on validation patients with the danger-sign rules included "
            f"(targets met there: {'yes' if met else 'no'}): EMERGENCIA for any emergency danger sign, the model's "
            f"most likely state ENFERMEDAD AGUDA, P(ENFERMEDAD AGUDA) ≥ {th['emergency_acute_probability']} or "
            f"P(critical condition) ≥ {th['emergency_critical_condition_probability']}; PRIORITARIO for a priority "
            f"sign, an orphan-disease alert, a likely condition whose guideline asks for same-day action (the "
            f"app's app/core/data/priority_conditions.toml for the patient's age band, P ≥ {PRIORITY_PROBABILITY} "
            f"together), P(ENFERMEDAD AGUDA) ≥ {th['attention_acute_probability']} or "
            f"P(critical condition) ≥ {th['attention_critical_condition_probability']}. Rules alone (with the "
            f"model's most likely state) put {_pct(tuning.get('rules_only_emergency_share'))} of validation "
            f"patients at EMERGENCIA.")


def update_model_card(manifest: dict[str, Any], card: Path = CARD) -> None:
    text = card.read_text(encoding="utf-8") if card.exists() else f"# Model card\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text += f"\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text(f"{head}{START}\n{render(manifest)}\n{END}{tail}", encoding="utf-8")
