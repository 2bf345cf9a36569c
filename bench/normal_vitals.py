"""Can a normal vital take a patient out of EMERGENCIA, and what would a safety floor cost? (issue 19, follow-up)

    python bench/normal_vitals.py [--patients 1500] [--seed 23]

A TUNING seed (not bench/next_findings.py's held-out 1990). Two parts:

1. De-escalations. Each simulated patient starts, as in bench/next_findings.py, from the three strongest complaints.
   When that start is at EMERGENCIA, each vital it leaves open is entered alone at the patient's true value (the
   simulated measurement, or the healthy value for the age when the simulation did not measure it). Every entry that
   takes the patient out of EMERGENCIA is listed: condition, age, vital and value, whether the value is within the
   healthy range for the age (mean +- 2 sd of the knowledge base's reference), the model's P(acute) and P(critical
   condition) before and after, the reasons of the start's EMERGENCIA, and whether the patient is critical on the
   full case (EMERGENCIA when the engine sees everything; and the simulation's truth, state ENFERMEDAD_AGUDA).
2. The safety floor, option (b): a measured vital within its healthy range never lowers the model's part of the
   triage below what the request without its healthy-range vitals gives (model level = max over the request with
   and without them; the danger-sign rules and the rare-disease alert on the request as given); and a milder
   variant (c), the same floor stopped at PRIORITARIO (a normal vital may lower a model emergency to "before the
   queue", never to NO URGENTE). Measured by wrapping the engine (`FlooredEngine`), so nothing in the app changes:
   the vignettes, bench/next_findings.py's three orders (critical patients at EMERGENCIA and at NO_URGENTE after
   0-3 findings), and the over-triage of patients the simulation does not make acute (state other than
   ENFERMEDAD_AGUDA: at EMERGENCIA, and at PRIORITARIO or above), full case and along the orders.

The decision and its figures: docs/architecture.md ("A normal vital and a model-raised emergency"). Writes
bench/results/normal_vitals.json (about 8 minutes on a shared 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import next_findings as nf  # noqa: E402

from app.core.engine import DiagnosisEngine  # noqa: E402
from app.core.probability import softmax  # noqa: E402
from app.core.vocabulary import STATES  # noqa: E402
from model_export import knowledge  # noqa: E402
from model_export.simulator import Simulator  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "normal_vitals.json"
LEVELS = ("NO_URGENTE", "PRIORITARIO", "EMERGENCIA")
MODEL_LEVEL = {"MODEL_HIGH_RISK": 2, "MODEL_RISK": 1}


def healthy(kb: knowledge.KnowledgeBase, key: str, value: float, age: float) -> bool:
    """Within the healthy range for the age: the knowledge base's reference mean +- 2 sd."""
    mean, sd = kb.vital(key).norm(age)
    return abs(value - mean) <= 2 * sd


def model_level(answer: dict[str, Any]) -> int:
    return max((MODEL_LEVEL.get(f["code"], 0) for f in answer["red_flags"]), default=0)


class FlooredEngine:
    """The engine with option (b): the model's level is the max over the request with and without its
    healthy-range vitals (`cap` 1: option (c)). Only the triage level (and its reason) is changed: enough for the
    figures here. Vereda's order still comes from the engine's own ranking, which does not know the floor."""

    def __init__(self, engine: DiagnosisEngine, kb: knowledge.KnowledgeBase, cap: int = 2) -> None:
        self.engine, self.kb, self.cap = engine, kb, cap  # cap 1: the floor stops at PRIORITARIO (option c)
        self.vocabulary, self.next_findings, self.bundle = engine.vocabulary, engine.next_findings, engine.bundle

    def validate(self, raw: Any) -> Any:
        return self.engine.validate(raw)

    def stripped(self, request: dict[str, Any]) -> dict[str, Any] | None:
        vitals = request.get("vitals", {})
        keep = {k: v for k, v in vitals.items() if not healthy(self.kb, k, float(v), float(request["age"]))}
        if len(keep) == len(vitals):
            return None
        out = dict(request)
        out["vitals"] = keep
        if not keep:
            del out["vitals"]
        return out

    def diagnose(self, request: dict[str, Any], next_findings: bool = True) -> dict[str, Any]:
        answer = self.engine.diagnose(request, next_findings=next_findings)
        without = self.stripped(request)
        if without is None:
            return answer
        floor = min(model_level(self.engine.diagnose(without, next_findings=False)), self.cap)
        if floor > LEVELS.index(answer["triage"]["level"]):
            answer = dict(answer)
            answer["triage"] = {**answer["triage"], "level": LEVELS[floor],
                                "reasons": [{"code": "MODEL_HIGH_RISK" if floor == 2 else "MODEL_RISK"}]}
        return answer


def de_escalations(engine: DiagnosisEngine, kb: knowledge.KnowledgeBase, patients: Any) -> dict[str, Any]:
    events: list[dict[str, Any]] = []
    starts_at_e = 0
    vital_entries = 0
    for index, (patient, condition, state) in enumerate(zip(
            patients.requests, patients.condition.tolist(), patients.state.tolist(), strict=True)):
        first = nf.start_request(patient)
        if first is None:
            continue
        before = engine.diagnose(first, next_findings=False)
        if before["triage"]["level"] != "EMERGENCIA":
            continue
        starts_at_e += 1
        full = engine.diagnose(patient, next_findings=False)
        for key in engine.vocabulary.vital_keys:
            request = nf.add_truth(first, ("vital", key), patient, kb)
            vital_entries += 1
            after = engine.diagnose(request, next_findings=False)
            if after["triage"]["level"] == "EMERGENCIA":
                continue
            value = request["vitals"][key]
            acute_before, critical_before = risk(engine, first)
            acute_after, critical_after = risk(engine, request)
            events.append({
                "patient": index, "condition": condition, "age": patient["age"],
                "band": knowledge.age_band(float(patient["age"])),
                "vital": key, "value": value, "measured_in_simulation": key in patient.get("vitals", {}),
                "healthy_range": healthy(kb, key, float(value), float(patient["age"])),
                "p_acute": [round(acute_before, 4), round(acute_after, 4)],
                "p_critical": [round(critical_before, 4), round(critical_after, 4)],
                "reasons_before": [r["code"] for r in before["triage"]["reasons"]],
                "level_after": after["triage"]["level"],
                "critical_full_case": full["triage"]["level"] == "EMERGENCIA",
                "critical_truth": state == "ENFERMEDAD_AGUDA"})
    measured = [e for e in events if e["measured_in_simulation"]]

    def patients_where(items: list[dict[str, Any]], critical: bool, field: str = "critical_full_case") -> int:
        return len({e["patient"] for e in items if e[field] == critical})

    return {"starts_at_emergencia": starts_at_e, "vital_entries": vital_entries, "events": events,
            "summary": {
                "entries_that_de_escalate": len(events),
                "model_risk_was_the_only_reason": sum(e["reasons_before"] == ["MODEL_HIGH_RISK"] for e in events),
                "value_in_healthy_range": sum(e["healthy_range"] for e in events),
                "vital_measured_in_simulation": len(measured),
                "level_after": dict(Counter(e["level_after"] for e in events)),
                "patients": len({e["patient"] for e in events}),
                # per patient, only vitals the simulation measured (the others are the bench's healthy stand-in)
                "measured_patients_critical_full_case": patients_where(measured, True),
                "measured_patients_not_critical_full_case": patients_where(measured, False),
                "measured_patients_truth_acute": patients_where(measured, True, "critical_truth"),
                "measured_patients_truth_not_acute": patients_where(measured, False, "critical_truth"),
                "measured_critical_to_no_urgente": len({e["patient"] for e in measured if e["critical_full_case"]
                                                        and e["level_after"] == "NO_URGENTE"}),
                "by_vital": dict(Counter(e["vital"] for e in events)),
                "by_band": dict(Counter(e["band"] for e in events)),
                "by_condition_measured_critical": dict(Counter(
                    e["condition"] for e in measured if e["critical_full_case"]).most_common())}}


def risk(engine: DiagnosisEngine, request: dict[str, Any]) -> tuple[float, float]:
    """The model's P(ENFERMEDAD_AGUDA) and summed P(critical condition), the two risks its triage thresholds read."""
    validated = engine.validate(request)
    expanded = engine.features.expand(engine.features.raw_matrix([validated]))
    state_p = softmax(engine.state_model.scores(expanded))[0]
    cond_p = softmax(engine.condition_model.scores(expanded))[0]
    return float(state_p[STATES.index("ENFERMEDAD_AGUDA")]), float(cond_p[engine._critical].sum())


def over_triage(engine: Any, patients: Any) -> dict[str, Any]:
    """Full case: shares of truly acute patients at EMERGENCIA and at NO_URGENTE, and of the others at EMERGENCIA
    and at PRIORITARIO or above (over-triage)."""
    levels: dict[bool, list[str]] = {True: [], False: []}
    for patient, state in zip(patients.requests, patients.state.tolist(), strict=True):
        levels[state == "ENFERMEDAD_AGUDA"].append(engine.diagnose(patient, next_findings=False)["triage"]["level"])

    def pct(values: list[str], wanted: tuple[str, ...]) -> float:
        return round(100 * sum(v in wanted for v in values) / max(len(values), 1), 1)

    return {"acute": len(levels[True]), "acute_at_emergencia_pct": pct(levels[True], ("EMERGENCIA",)),
            "acute_at_no_urgente_pct": pct(levels[True], ("NO_URGENTE",)),
            "not_acute": len(levels[False]), "not_acute_at_emergencia_pct": pct(levels[False], ("EMERGENCIA",)),
            "not_acute_at_prioritario_or_more_pct": pct(levels[False], ("EMERGENCIA", "PRIORITARIO"))}


def along_orders(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """After 0-3 findings, per order: critical patients (the engine's full case) at NO_URGENTE, and patients the
    simulation does not make acute at PRIORITARIO or above (the two figures the PRIORITARIO floor moves)."""
    critical = [r for r in rows if r["critical"]]
    calm = [r for r in rows if not r["acute"]]
    out: dict[str, Any] = {}
    for s in nf.STRATEGIES:
        out[s] = {
            "critical_at_no_urgente": [round(100 * sum(r[s][k]["level"] == "NO_URGENTE" for r in critical)
                                             / max(len(critical), 1), 1) for k in range(nf.STEPS + 1)],
            "not_acute_at_prioritario_or_more": [round(100 * sum(r[s][k]["level"] != "NO_URGENTE" for r in calm)
                                                       / max(len(calm), 1), 1) for k in range(nf.STEPS + 1)]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.seed == 1990:
        parser.error("1990 is bench/next_findings.py's held-out seed: choose on another")
    kb = knowledge.load()
    engine = DiagnosisEngine.load()
    floored = FlooredEngine(engine, kb)
    patients = Simulator(kb).sample(args.patients, seed=args.seed)
    result: dict[str, Any] = {"seed": args.seed, "patients": args.patients}
    result["de_escalations"] = de_escalations(engine, kb, patients)
    summary = result["de_escalations"]["summary"]
    print(f"seed {args.seed}, {args.patients} patients; {result['de_escalations']['starts_at_emergencia']} starts at "
          f"EMERGENCIA, {result['de_escalations']['vital_entries']} single true vitals entered")
    print(json.dumps(summary, indent=1))
    for e in result["de_escalations"]["events"]:
        print(f"  {e['condition']:7} {e['band']:10} {e['age']:6.1f} {e['vital']:18} {e['value']:7} "
              f"healthy={e['healthy_range']!s:5} P(acute) {e['p_acute'][0]:.3f}->{e['p_acute'][1]:.3f} "
              f"P(crit) {e['p_critical'][0]:.3f}->{e['p_critical'][1]:.3f} {','.join(e['reasons_before'])} "
              f"-> {e['level_after']}; critical full case {e['critical_full_case']}, truth {e['critical_truth']}")

    sys.path.insert(0, str(ROOT))
    from tests.core.test_vignettes_etat import evaluate

    floored_priority = FlooredEngine(engine, kb, cap=1)
    for name, eng in (("engine", engine), ("floor", floored), ("floor_prioritario", floored_priority)):
        v = evaluate(eng)
        result[f"vignettes_{name}"] = {"top3": v["top3"], "n": v["n"], "emergencies": v["must"] - len(v["must_missed"]),
                                       "must": v["must"], "benign_at_e": len(v["benign_at_e"]), "benign": v["benign"],
                                       "missed": v["must_missed"], "benign_at_e_ids": v["benign_at_e"]}
        result[f"full_case_{name}"] = over_triage(eng, patients)
        bench_args = argparse.Namespace(patients=args.patients, seed=args.seed, oracle=False,
                                        unrecorded="healthy")  # as the decision was measured
        table = nf.run(bench_args, engine=eng, reference=engine)  # the same critical patients for both
        result[f"orders_{name}"] = {s: table["table"][s]["all"] for s in nf.STRATEGIES}
        result[f"orders_levels_{name}"] = along_orders(table["rows"])
        print(f"{name}: vignettes {result[f'vignettes_{name}']}")
        print(f"{name}: full case {result[f'full_case_{name}']}")
        for s in nf.STRATEGIES:
            t = table["table"][s]["all"]
            print(f"{name}: {s:9} critical at EMERGENCIA {t['critical_at_emergencia']}  not-acute at EMERGENCIA "
                  f"{t.get('not_acute_at_emergencia')}  {result[f'orders_levels_{name}'][s]}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
