"""The build's choices that the first build (`python -m model_export build`) and a retrain
(`python -m model_export retrain`) share: the simulator seeds and data sizes, and the tuning of the triage thresholds
on validation patients. Its own module so that neither command imports the other (no import cycle).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from app.core.engine import DiagnosisEngine
from model_export import evaluate as ev
from model_export import knowledge
from model_export.export import write_manifest
from model_export.train import LEVEL_RANK, tune_triage

SEEDS = {"train": 1, "validation": 2, "test": 3}
SIZES = {"train": 60_000, "validation": 20_000, "test": 40_000}


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


THRESHOLD_KEYS = ("attention_acute_probability", "attention_critical_condition_probability",
                  "emergency_acute_probability", "emergency_critical_condition_probability")
UNREACHABLE = 2.0  # a probability threshold no model output reaches


def base_levels(bundle_dir: Path, requests: list[Any]) -> np.ndarray:
    """Each patient's triage level from everything but the model-risk thresholds (0/1/2), read from the engine."""
    engine = DiagnosisEngine.load(bundle_dir)
    if engine.acute_threshold <= 1.0 or engine.critical_threshold <= 1.0:
        raise ValueError("base levels need a bundle whose model-risk thresholds are still unreachable")
    return np.array([LEVEL_RANK[ev.triage_level(r)] for r in engine.diagnose_many(requests, next_findings=False)])


def tune_bundle_thresholds(bundle_dir: Path, kb: knowledge.KnowledgeBase, state_model: Any, cond_model: Any,
                           val: Any) -> dict[str, Any]:
    """Tune the four triage thresholds on validation patients and write them (and the report) into the manifest."""
    critical_classes = np.array([kb.condition(c).critical for c in cond_model.classes_])
    tuning = tune_triage(state_model.predict_proba(val.expanded), cond_model.predict_proba(val.expanded),
                         critical_classes, base_levels(bundle_dir, val.requests), val.critical, val.groups())
    manifest = json.loads((bundle_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("files", None)
    manifest["thresholds"] = {k: tuning[k] for k in THRESHOLD_KEYS}
    manifest["training"]["threshold_tuning"] = tuning
    write_manifest(bundle_dir, manifest)
    progress("thresholds: " + ", ".join(f"{k} {tuning[k]}" for k in THRESHOLD_KEYS)
              + f"; targets met on validation: emergency {tuning['emergency_targets_met_on_validation']}, "
              f"priority {tuning['priority_targets_met_on_validation']}")
    return tuning
