"""The MLOps loop's build-time half (issue 8): the held-out evaluation set, the promotion gate, and retraining from
doctor-confirmed feedback.

Used by `python -m model_export retrain`, and by `vereda-server promote`/`publish-model`/`drift` through the child
processes `python -m model_export gate-evaluate` and `drift-reference` (the server never imports this package; the
gate's rule and the feedback helpers live in server/mlops/, which this module imports).

The evaluation set of the gate is (a) simulated held-out patients (the build's test seed, never trained on) plus (b)
the held-out share of confirmed feedback stored on the server. Which feedback records are held out is decided by a
hash of the record's uuid, so every run, on every machine, puts the same record on the same side, and a record once
used for evaluation is never trained on by a later retrain.

Feedback carries the confirmed diagnosis but not a confirmed state, so a confirmed case counts as "critical" when its
confirmed condition is marked critical in the knowledge base; the state model is retrained on simulated patients only.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from app.core.check_cases import failures, load_cases
from app.core.engine import DiagnosisEngine
from app.core.features import FeatureSchema
from app.core.vocabulary import STATES, Vocabulary
from model_export import evaluate as ev
from model_export import knowledge
from model_export.train import LOGISTIC_C, Dataset, default_schema, make_dataset
from server.mlops.feedback import HOLDOUT_FRACTION, feedback_request, is_held_out
from server.mlops.gate import EVAL_SIMULATED, GateDecision, decide, files_identical, re_release

__all__ = ["EVAL_SIMULATED", "HOLDOUT_FRACTION", "GateDecision", "decide", "feedback_request", "is_held_out"]

FEEDBACK_WEIGHT = 5.0  # sample_weight of a confirmed case against 1.0 for a simulated patient
EVAL_SEED = 3  # the build's test seed: simulated patients never trained on
REFERENCE_MAX = 5000  # simulated patients at most in the drift reference
RARE_EVIDENCE = "rare_evidence.json"
RETRAIN_CARD = "model_card_retrain.md"


def read_feedback(path: Path) -> list[dict[str, Any]]:
    """Records of a JSONL export (`vereda-server export-feedback`), one JSON object a line."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def feedback_dataset(records: list[dict[str, Any]], kb: knowledge.KnowledgeBase, vocabulary: Vocabulary,
                     schema: FeatureSchema) -> Dataset | None:
    """Confirmed cases with a known common-condition code as a Dataset; None when there are none.

    `state` is the answer's own state (no confirmed state exists); it is never used as a training target.
    """
    codes = {c.code for c in kb.conditions}
    usable = [r for r in records if r["confirmed_diagnosis"] in codes]
    if not usable:
        return None
    requests = [feedback_request(r) for r in usable]
    from app.core.contract import validate_request

    valid = [validate_request(r, vocabulary) for r in requests]
    raw = schema.raw_matrix(valid)
    condition = np.array([r["confirmed_diagnosis"] for r in usable])
    return Dataset(
        requests=valid, raw=raw, expanded=schema.expand(raw), condition=condition,
        state=np.array([STATES.index(r["response_summary"]["severity"]) for r in usable]),
        critical=np.array([kb.condition(c).critical for c in condition]),
        age=np.array([v.age for v in valid]), sex=np.array([v.sex for v in valid]),
    )


def concat(a: Dataset, b: Dataset) -> Dataset:
    return Dataset(a.requests + b.requests, np.vstack([a.raw, b.raw]), np.vstack([a.expanded, b.expanded]),
                   np.concatenate([a.condition, b.condition]), np.concatenate([a.state, b.state]),
                   np.concatenate([a.critical, b.critical]), np.concatenate([a.age, b.age]),
                   np.concatenate([a.sex, b.sex]))


@dataclass
class EvaluationSet:
    simulated: Dataset
    feedback: Dataset | None
    feedback_records: int = 0

    @property
    def combined(self) -> Dataset:
        return self.simulated if self.feedback is None else concat(self.simulated, self.feedback)


def evaluation_set(feedback: list[dict[str, Any]] | None = None, n_simulated: int = EVAL_SIMULATED,
                   kb: knowledge.KnowledgeBase | None = None) -> EvaluationSet:
    """The gate's held-out set: seeded simulated patients plus the held-out share of `feedback`."""
    from model_export.simulator import Simulator

    kb = kb or knowledge.load()
    vocabulary = kb.vocabulary()
    schema = default_schema(vocabulary)
    simulated = make_dataset(Simulator(kb).sample(n_simulated, EVAL_SEED), vocabulary, schema)
    held = [r for r in (feedback or []) if is_held_out(r["uuid"])]
    return EvaluationSet(simulated, feedback_dataset(held, kb, vocabulary, schema), len(held))


def _part_metrics(engine: DiagnosisEngine, data: Dataset) -> dict[str, Any]:
    answers = engine.diagnose_many(data.requests, next_findings=False)  # the gate reads the answers, not the list
    return ev._metrics(answers, data, np.ones(len(data.requests), bool))


def evaluate_engine(engine: DiagnosisEngine, eval_set: EvaluationSet, bundle_dir: Path) -> dict[str, Any]:
    """Condition macro-F1, critical recall etc. on each part and on the whole set, plus the bundle's check cases."""
    out: dict[str, Any] = {"combined": _part_metrics(engine, eval_set.combined),
                           "simulated": _part_metrics(engine, eval_set.simulated)}
    out["feedback"] = _part_metrics(engine, eval_set.feedback) if eval_set.feedback is not None else {"n": 0}
    out["check_case_failures"] = failures(engine, load_cases(bundle_dir))
    return out


def gate(candidate_dir: Path, production_dir: Path | None, feedback: list[dict[str, Any]] | None = None,
         n_simulated: int = EVAL_SIMULATED) -> GateDecision:
    """Decide whether `candidate_dir` may replace `production_dir` (None: no production yet, only check cases).

    A candidate whose ONNX files are byte-identical to production's (a re-release: new version, dates or signature,
    same weights) has by construction the same metrics and is not worse; it passes without a new evaluation.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # small matrices: BLAS threads only fight the service for the cores
        return _gate(Path(candidate_dir), production_dir, feedback, n_simulated)


def _gate(candidate_dir: Path, production_dir: Path | None, feedback: list[dict[str, Any]] | None,
          n_simulated: int) -> GateDecision:
    if production_dir is not None and files_identical(candidate_dir, Path(production_dir)):
        return re_release()
    eval_set = evaluation_set(feedback, n_simulated)
    cand = evaluate_engine(DiagnosisEngine.load(candidate_dir), eval_set, candidate_dir)
    prod = None
    if production_dir is not None:
        prod = evaluate_engine(DiagnosisEngine.load(Path(production_dir)), eval_set, Path(production_dir))
    return decide(cand, prod)


def gate_evaluation(candidate_dir: Path, production_dir: Path | None, feedback: list[dict[str, Any]] | None,
                    n_simulated: int = EVAL_SIMULATED) -> dict[str, Any]:
    """The figures the server's gate decides on (`python -m model_export gate-evaluate`): {"candidate", "production"}
    of `evaluate_engine` on one evaluation set, or {"identical": true} for a re-release of production's weights."""
    from threadpoolctl import threadpool_limits

    if production_dir is not None and files_identical(Path(candidate_dir), Path(production_dir)):
        return {"identical": True}
    with threadpool_limits(limits=1):
        eval_set = evaluation_set(feedback, n_simulated)
        cand = evaluate_engine(DiagnosisEngine.load(Path(candidate_dir)), eval_set, Path(candidate_dir))
        prod = None if production_dir is None else \
            evaluate_engine(DiagnosisEngine.load(Path(production_dir)), eval_set, Path(production_dir))
    return {"identical": False, "candidate": cand, "production": prod}


def drift_reference(bundle_dir: Path, n: int | None = None) -> dict[str, Any]:
    """The drift report's reference population (`python -m model_export drift-reference`): patients simulated from
    the knowledge base with the bundle's own validation seed, answered by the bundle's engine."""
    from model_export.simulator import Simulator

    engine = DiagnosisEngine.load(Path(bundle_dir))
    manifest = engine.bundle.manifest
    kb = knowledge.load()
    data = manifest.get("data", {})
    seed = int(data.get("simulator_seeds", {}).get("validation", 2))
    n = n or min(int(data.get("sizes", {}).get("validation", REFERENCE_MAX)), REFERENCE_MAX)
    sim = Simulator(kb).sample(n, seed)
    answers = engine.diagnose_many([engine.validate(r) for r in sim.requests], next_findings=False)
    return {"model_version": manifest.get("version"), "seed": seed,
            "knowledge_matches_bundle": data.get("knowledge_sha256") == kb.sha256,
            "symptom_keys": [s["key"] for s in kb.symptoms], "vital_keys": [v.key for v in kb.vitals],
            "requests": sim.requests, "top": [a["top_conditions"][0]["code"] for a in answers],
            "condition": [str(c) for c in sim.condition]}


# --- retraining --------------------------------------------------------------------------------------------------


def fit_condition(train: Dataset, weights: np.ndarray) -> LogisticRegression:
    """The shipped additive logistic model's settings, with confirmed cases weighing more."""
    model = LogisticRegression(C=LOGISTIC_C, max_iter=3000, tol=1e-5)
    model.fit(train.expanded, train.condition, sample_weight=weights)
    return model


def carry_over(base: Path, out: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Files and manifest sections of the base bundle that a retrain does not produce (the rare-disease index, check
    cases): copied so the candidate keeps them."""
    base_manifest = json.loads((base / "manifest.json").read_text(encoding="utf-8"))
    for name in base_manifest.get("files", {}):
        if not (out / name).exists() and (base / name).is_file():
            shutil.copy2(base / name, out / name)
    for key, value in base_manifest.items():
        if key not in manifest and key not in ("files", "metrics"):
            manifest[key] = value
    return manifest


def model_card_section(version: str, info: dict[str, Any], metrics: dict[str, Any]) -> str:
    sim, fb = metrics["simulated"], metrics["feedback"]

    def row(name: str, m: dict[str, Any]) -> str:
        if not m.get("n"):
            return f"| {name} | 0 | - | - | - |"
        return (f"| {name} | {m['n']} | {m['condition_macro_f1']} | {m['condition_accuracy']} | "
                f"{m['critical_recall']} |")

    return "\n".join([
        f"## Retrained model {version}",
        "",
        f"Built {dt.date.today().isoformat()} by `python -m model_export retrain` from simulated patients "
        f"({info['simulated_train']} train) plus {info['feedback_train']} confirmed cases "
        f"(sample weight {info['feedback_weight']}); {info['feedback_held_out']} confirmed cases held out by uuid "
        f"hash for evaluation; {info['rare_cases']} ORPHA-coded cases written to `{RARE_EVIDENCE}`.",
        "",
        "| evaluation set | n | condition macro-F1 | accuracy | critical recall |",
        "|---|---|---|---|---|",
        row("simulated held-out", sim),
        row("confirmed held-out", fb),
        row("combined", metrics["combined"]),
        "",
        "Not signed and not promoted: sign with `python -m model_export sign`, publish to staging with "
        "`vereda-server publish-model`, and promote with `vereda-server promote` (the gate decides).",
        "",
    ])
