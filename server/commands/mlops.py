"""`vereda-server export-feedback`, `drift`, `jobs` and the promotion gate of `promote`/`publish-model` (issue 8;
server/mlops/)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from server.commands.common import EXIT_OK, UsageError, dump, load_settings, sessions


def add_parsers(sub: Any, db: argparse.ArgumentParser) -> None:
    """This group's subcommands, on `vereda-server`'s subparsers (`db`: the shared --database option)."""
    exp = sub.add_parser("export-feedback", parents=[db], help="write confirmed feedback as JSONL (for retraining)")
    exp.add_argument("--since", metavar="DATE", help="received on or after this ISO date")
    exp.add_argument("--clinic", metavar="ID", help="one clinic's public id")
    exp.add_argument("--out", type=Path, required=True)

    drift = sub.add_parser("drift", parents=[db], help="drift report of received feedback against the training data")
    drift.add_argument("--since", metavar="DATE", help="feedback received on or after this ISO date")
    drift.add_argument("--clinic", metavar="ID", help="one clinic's public id")
    drift.add_argument("--out", type=Path, required=True, help="folder for drift.html and drift.json")
    drift.add_argument("--bundle", type=Path, default=None, help="compare with this bundle (default: production)")
    drift.add_argument("--reference-n", type=int, default=None, help="simulated reference patients (default <= 5000)")

    jobs = sub.add_parser("jobs", parents=[db], help="check the retraining triggers; --run retrains when one fires")
    jobs.add_argument("--every", type=int, default=500, help="retrain after N new confirmed cases (default 500)")
    jobs.add_argument("--max-age-days", type=int, default=90, help="retrain when production is older (default 90)")
    jobs.add_argument("--drift-summary", type=Path, default=None, help="drift.json of the last `drift` run")
    jobs.add_argument("--workdir", type=Path, default=Path("retrain"), help="where exports and candidates go")
    jobs.add_argument("--version", default=None, help="candidate version (default: today's date)")
    jobs.add_argument("--scale", type=float, default=1.0, help="retrain's --scale")
    jobs.add_argument("--run", action="store_true", help="run the retrain commands when a trigger fires")


def gate(session: Any, model: Any, args: argparse.Namespace) -> str:
    """Run the promotion gate; record its verdict with the model; raise RegistryError (exit 2) when it refuses."""
    from server.mlops import jobs as mlops
    from server.registry import RegistryError

    config = load_settings(args)
    decision = mlops.run_gate(session, model, config.bundle_cache, config.bundle_public_key, args.gate_simulated)
    mlops.record_gate(model, decision)
    if not decision.accepted:
        session.commit()  # the refusal and its figures stay in the registry for `models --json`
        raise RegistryError(f"promotion of {model.version} refused by the gate: " + " | ".join(decision.reasons))
    return "gate: " + "; ".join(decision.reasons)


def cmd_export_feedback(args: argparse.Namespace) -> int:
    from server.mlops import jobs as mlops

    try:
        since = mlops.parse_since(args.since)
    except ValueError:
        raise UsageError("--since must be an ISO date, e.g. 2026-11-01") from None
    with sessions(args)() as session:
        n = mlops.export_feedback(session, args.out, since, args.clinic)
    print(dump({"records": n, "out": str(args.out)}))
    return EXIT_OK


def cmd_drift(args: argparse.Namespace) -> int:
    from server.db import crud
    from server.mlops import drift
    from server.mlops import jobs as mlops

    try:
        since = mlops.parse_since(args.since)
    except ValueError:
        raise UsageError("--since must be an ISO date, e.g. 2026-11-01") from None
    with sessions(args)() as session:
        feedback = mlops.load_feedback(session, since, args.clinic)
        bundle = args.bundle
        if bundle is None:
            production = crud.production_model(session)
            if production is None:
                raise UsageError("no production model to compare with; pass --bundle DIR")
            config = load_settings(args)
            bundle = mlops.bundle_dir(session, production, config.bundle_cache, config.bundle_public_key)
    summary = drift.compute(feedback, bundle, args.reference_n)
    files = drift.write_report(summary, args.out)
    print(dump({"flag": summary["flag"], "reasons": summary["reasons"], "n_feedback": summary["n_feedback"],
                 "agreement": summary["agreement"], "prediction_psi": summary["prediction"]["psi"], **files}))
    return EXIT_OK


def cmd_jobs(args: argparse.Namespace) -> int:
    import datetime as dt

    from server.mlops import jobs as mlops

    with sessions(args)() as session:
        state = mlops.triggers(session, args.every, args.max_age_days, args.drift_summary)
    version = args.version or f"{dt.date.today():%Y.%m.%d}"
    commands = mlops.retrain_commands(getattr(args, "database", None), args.workdir, version, args.scale)
    state["commands"] = [" ".join(c) for c in commands] if state["fired"] else []
    if state["fired"] and args.run:
        args.workdir.mkdir(parents=True, exist_ok=True)
        state["ran"] = mlops.run_commands(commands)
        state["next"] = (f"sign {args.workdir}/candidate-{version} (python -m model_export sign), publish it to "
                         "staging, then `vereda-server promote` (the gate decides)")
    print(dump(state))
    return EXIT_OK


COMMANDS = {"export-feedback": cmd_export_feedback, "drift": cmd_drift, "jobs": cmd_jobs}
