"""`python -m model_export retrain --feedback EXPORT --out BUNDLE`: a candidate bundle from the simulated base data plus
doctor-confirmed feedback (issue 8).

Steps: simulate the base train/validation sets (same seeds as `build`, `--scale` of its sizes); split the export's
records by uuid hash (model_export.mlops.is_held_out) into training and held-out cases; train the condition model on
simulated + confirmed training cases (confirmed cases weigh FEEDBACK_WEIGHT) and the state model on simulated
patients; calibrate, tune the attention thresholds and export exactly as `build` does; write ORPHA-coded confirmed
cases to `rare_evidence.json` (few-shot evidence the rare-disease ranking reads: model_export/rare_evidence.py, issue
18); evaluate on simulated held-out patients and held-out confirmed cases; write
`model_card_retrain.md` into the bundle; log the run to MLflow when it is installed. Signing and promotion are left to
people (`python -m model_export sign`, `vereda-server publish-model`, `vereda-server promote`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from app.core.bundle import ModelBundle
from app.core.vocabulary import STATES
from model_export import knowledge, mlops, tracking
from model_export.export import write_bundle, write_manifest
from model_export.simulator import Simulator
from model_export.train import default_schema, make_dataset, train_chosen

ROOT = Path(__file__).resolve().parents[1]


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("retrain", help="build a candidate bundle from simulated data plus confirmed feedback")
    p.add_argument("--feedback", type=Path, required=True, help="JSONL from `vereda-server export-feedback`")
    p.add_argument("--out", type=Path, required=True, help="folder of the new (unsigned) bundle")
    p.add_argument("--version", default=None, help="bundle version (default: YYYY.MM.DD-based, newer than --base)")
    p.add_argument("--base", type=Path, default=ROOT / "assets" / "models",
                   help="bundle whose extra files (rare index, check cases) are carried over (default: shipped)")
    p.add_argument("--scale", type=float, default=1.0, help="fraction of build's simulated sizes (tests)")
    p.add_argument("--feedback-weight", type=float, default=mlops.FEEDBACK_WEIGHT)
    p.add_argument("--eval-simulated", type=int, default=mlops.EVAL_SIMULATED,
                   help="simulated held-out patients in the evaluation")
    p.add_argument("--created", help="ISO date to stamp (default: today)")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads (default 1: on a busy 2-core machine more threads made the logistic fit ~30x "
                   "slower, the matrices being small)")


def _write_rare_evidence(base: Path, out: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    """ORPHA-coded confirmed cases as the ranking's few-shot evidence, checked against the base bundle's index (the
    candidate carries that index over). Without an index in the base there is nothing to learn into: no file."""
    from app.core.rare import INDEX_FILE, RareDiseaseRanker
    from model_export.rare_evidence import evidence_from_feedback, write_evidence

    if not (base / INDEX_FILE).is_file():
        _progress(f"no rare-disease index in {base}: confirmed ORPHA cases are not written as evidence")
        return {}
    diseases, skipped = evidence_from_feedback(records, RareDiseaseRanker.load(base))
    for reason in skipped:
        _progress(f"rare evidence: skipped {reason}")
    return write_evidence(out, diseases)


def cmd_retrain(args: argparse.Namespace) -> int:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=args.threads):
        return _retrain(args)


def _retrain(args: argparse.Namespace) -> int:
    from model_export.build import SEEDS, SIZES, THRESHOLD_KEYS, UNREACHABLE, tune_bundle_thresholds

    started = time.perf_counter()
    kb = knowledge.load()
    vocabulary = kb.vocabulary()
    schema = default_schema(vocabulary)
    records = mlops.read_feedback(args.feedback)
    train_records = [r for r in records if not mlops.is_held_out(r["uuid"])]
    sizes = {k: max(1000, int(SIZES[k] * args.scale)) for k in ("train", "validation")}
    sim = Simulator(kb)
    _progress(f"simulating {sizes['train']} + {sizes['validation']} patients; {len(records)} confirmed cases "
              f"({len(train_records)} for training)")
    sim_train = make_dataset(sim.sample(sizes["train"], SEEDS["train"]), vocabulary, schema)
    val = make_dataset(sim.sample(sizes["validation"], SEEDS["validation"]), vocabulary, schema)
    fb_train = mlops.feedback_dataset(train_records, kb, vocabulary, schema)
    train = sim_train if fb_train is None else mlops.concat(sim_train, fb_train)
    n_fb = 0 if fb_train is None else len(fb_train.requests)
    weights = np.concatenate([np.ones(len(sim_train.requests)), np.full(n_fb, args.feedback_weight)])

    _progress("training (state: simulated only; condition: simulated + weighted confirmed cases)")
    state_model, state_info = train_chosen(sim_train, val, "state", schema=schema)
    cond_model, cond_info = train_chosen(train, val, "condition", mlops.fit_condition(train, weights), schema)
    base_version = ModelBundle.load(args.base).manifest["version"] if args.base.exists() else "0"
    version = args.version or f"{dt.date.today():%Y.%m.%d}"
    info: dict[str, Any] = {
        "training": {"chosen": "additive_logistic", "state": state_info, "condition": cond_info,
                     "retrain": {"base_version": base_version, "feedback_file_records": len(records),
                                 "feedback_train": n_fb, "feedback_weight": args.feedback_weight,
                                 "holdout_fraction": mlops.HOLDOUT_FRACTION}},
        "data": {"knowledge_sha256": kb.sha256, "simulator_seeds": SEEDS,
                 "sizes": {**sizes, "test": args.eval_simulated}},
    }
    _progress("exporting to ONNX")
    write_bundle(args.out, version, schema, vocabulary,
                 {"state": (state_model, STATES), "condition": (cond_model, tuple(cond_model.classes_))},
                 background=sim_train.expanded, parity_rows=val.expanded[:2000],
                 thresholds=dict.fromkeys(THRESHOLD_KEYS, UNREACHABLE),  # tuned below, as in `build`
                 info=info, created=dt.date.fromisoformat(args.created) if args.created else None)
    evidence_section = _write_rare_evidence(args.base, args.out, records)
    manifest = json.loads((args.out / "manifest.json").read_text(encoding="utf-8"))
    if args.base.exists():
        manifest = mlops.carry_over(args.base, args.out, manifest)

    write_manifest(args.out, manifest)  # pin the carried-over files before the engine loads the bundle
    _progress("choosing the triage thresholds on validation patients, danger-sign rules included")
    tune_bundle_thresholds(args.out, kb, state_model, cond_model, val)
    manifest = json.loads((args.out / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("files", None)

    _progress("evaluating on simulated held-out patients and held-out confirmed cases")
    eval_set = mlops.evaluation_set(records, args.eval_simulated, kb)
    from app.core.engine import DiagnosisEngine

    metrics = mlops.evaluate_engine(DiagnosisEngine.load(args.out), eval_set, args.out)
    card_info = {"simulated_train": sizes["train"], "feedback_train": n_fb, "feedback_weight": args.feedback_weight,
                 "feedback_held_out": eval_set.feedback_records,
                 "rare_cases": evidence_section.get("cases", 0)}
    (args.out / mlops.RETRAIN_CARD).write_text(mlops.model_card_section(version, card_info, metrics),
                                               encoding="utf-8")
    manifest["metrics"] = {"retrain_evaluation": metrics}
    if evidence_section:
        manifest["rare_evidence"] = evidence_section
    write_manifest(args.out, manifest)
    tracking.log_run("retrain", params={"version": version, "scale": args.scale, **card_info},
                     metrics={f"{part}_{k}": v for part in ("simulated", "feedback", "combined")
                              for k, v in metrics[part].items() if isinstance(v, (int, float))},
                     artefacts=[args.out / "manifest.json", args.out / mlops.RETRAIN_CARD])
    _progress(f"candidate {version} at {args.out} in {time.perf_counter() - started:.0f} s (unsigned; sign, publish "
              "to staging, then promote through the gate)")
    print(json.dumps({"version": version, "out": str(args.out),
                      "metrics": {p: metrics[p] for p in ("simulated", "feedback", "combined")},
                      "check_case_failures": metrics["check_case_failures"]}, indent=1))
    return 0
