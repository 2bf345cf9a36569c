"""The promotion gate's rule (origin document: "nobody ships a model that is worse"), applied to the figures of
`model_export.mlops.evaluate_engine` on the held-out evaluation set. Standard library only, so the server applies
it without the build tools and `model_export.mlops.gate` applies the very same rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVAL_SIMULATED = 2000  # simulated held-out patients in the evaluation set (the build's test seed)
# Condition macro-F1 on the whole evaluation set must be strictly higher than production's, and recall of critical
# patients must not be lower (no tolerance).
MIN_F1_GAIN = 0.0
CRITICAL_RECALL_TOLERANCE = 0.0


@dataclass
class GateDecision:
    accepted: bool
    reasons: list[str] = field(default_factory=list)
    candidate: dict[str, Any] = field(default_factory=dict)
    production: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "reasons": self.reasons, "candidate": self.candidate,
                "production": self.production, "rule": {
                    "condition_macro_f1": f"candidate > production + {MIN_F1_GAIN} on the combined held-out set",
                    "critical_recall": f"candidate >= production - {CRITICAL_RECALL_TOLERANCE}",
                    "check_cases": "all pass"}}


def files_identical(a: Path, b: Path) -> bool:
    """Same model files (by the sha256 pinned in each manifest): a re-release of the same weights."""
    ma = json.loads((Path(a) / "manifest.json").read_text(encoding="utf-8"))
    mb = json.loads((Path(b) / "manifest.json").read_text(encoding="utf-8"))
    onnx = [n for n in ma.get("files", {}) if n.endswith(".onnx")]
    return bool(onnx) and all(ma["files"].get(n) == mb.get("files", {}).get(n) for n in onnx) and \
        set(onnx) == {n for n in mb.get("files", {}) if n.endswith(".onnx")}


def re_release() -> GateDecision:
    """A candidate whose ONNX files are byte-identical to production's has by construction the same metrics."""
    return GateDecision(True, ["same model files as production (re-release): metrics unchanged"])


def decide(cand: dict[str, Any], prod: dict[str, Any] | None) -> GateDecision:
    """The gate's rule on two `evaluate_engine` results (production None: only the check cases count)."""
    reasons: list[str] = []
    if cand["check_case_failures"]:
        reasons.append("fails check cases / no pasa los casos de control: " + "; ".join(cand["check_case_failures"]))
    if prod is not None:
        cf, pf = cand["combined"]["condition_macro_f1"], prod["combined"]["condition_macro_f1"]
        if not cf > pf + MIN_F1_GAIN:
            reasons.append(f"condition macro-F1 {cf:.4f} does not beat production {pf:.4f} on the held-out set "
                           f"(n={cand['combined']['n']}) / el F1 macro no supera al modelo en producción")
        cr, pr = cand["combined"]["critical_recall"], prod["combined"]["critical_recall"]
        if cr is not None and pr is not None and cr < pr - CRITICAL_RECALL_TOLERANCE:
            reasons.append(f"critical-patient recall {cr:.4f} is lower than production {pr:.4f} "
                           f"(n={cand['combined']['critical_n']}) / pierde sensibilidad en pacientes críticos")
    return GateDecision(not reasons, reasons or ["passes the gate"], cand, prod)
