"""Admin-time MLOps commands of the central service (issue 8): the promotion gate, feedback export and the retraining
triggers of `vereda-server jobs`.

The gate's figures come from the build tools in a child process (server/mlops/build_tools.py) and its rule from
server/mlops/gate.py; only the admin CLI imports this module, the serving path (`server.main` and its routes) never
does.

Retraining triggers (`vereda-server jobs`), any one of which starts a retrain:
- count: at least `--every N` (default 500) confirmed cases received since production was promoted;
- drift: the JSON summary of the last `vereda-server drift` run (`--drift-summary`) has `"flag": true`;
- schedule: production was promoted more than `--max-age-days` (default 90) days ago.
`jobs` prints the commands that retrain (export, then `python -m model_export retrain`) and runs them with `--run`.
A cron entry such as `0 3 * * 1 vereda-server jobs --run` runs it weekly.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import registry
from server.db import crud
from server.db.models import FeedbackRecord, ModelVersion
from server.mlops import build_tools
from server.mlops.gate import EVAL_SIMULATED, GateDecision, decide, re_release

DEFAULT_EVERY = 500
DEFAULT_MAX_AGE_DAYS = 90


def parse_since(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    day = dt.date.fromisoformat(value)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def load_feedback(session: Session, since: dt.datetime | None = None, clinic: str | None = None
                  ) -> list[dict[str, Any]]:
    """Stored feedback payloads (as received), oldest first; `clinic` is the public clinic id."""
    stmt = select(FeedbackRecord.payload).order_by(FeedbackRecord.id)
    if since is not None:
        stmt = stmt.where(FeedbackRecord.received_at >= since)
    out = []
    for payload in session.scalars(stmt):
        if clinic and payload.get("clinic_id") != clinic:
            continue
        out.append(dict(payload))
    return out


def export_feedback(session: Session, out: Path, since: dt.datetime | None = None, clinic: str | None = None) -> int:
    """Write confirmed feedback as JSONL (one record a line, as received); returns the number written."""
    records = load_feedback(session, since, clinic)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
    return len(records)


def bundle_dir(session: Session, model: ModelVersion, cache: Path, public_key: Path) -> Path:
    """The model's bundle unpacked from the registry's archive (cached by version and sha256), its signature
    verified with the trusted key."""
    return registry.unpack(crud.archive_chunks(session, model.id), model.archive_sha256, cache, model.version,
                           public_key)


def run_gate(session: Session, model: ModelVersion, cache: Path, public_key: Path,
             n_simulated: int | None = None) -> GateDecision:
    """The promotion gate for `model` against the current production model: the build tools evaluate both on the
    held-out set (a child process), the rule of server/mlops/gate.py decides."""
    current = crud.production_model(session)
    if current is not None and current.id == model.id:
        return GateDecision(True, ["already in production"])
    candidate = bundle_dir(session, model, cache, public_key)
    production = bundle_dir(session, current, cache, public_key) if current is not None else None
    figures = build_tools.gate_evaluation(candidate, production, load_feedback(session),
                                          n_simulated or EVAL_SIMULATED)
    if figures["identical"]:
        return re_release()
    return decide(figures["candidate"], figures["production"])


def record_gate(model: ModelVersion, decision: GateDecision) -> None:
    """Keep the gate's verdict and figures with the model, for `vereda-server models`."""
    summary = {k: v for k, v in decision.to_json().items() if k in ("accepted", "reasons", "rule")}
    for side in ("candidate", "production"):
        part = getattr(decision, side)
        if part:
            summary[side] = {k: part[k] for k in ("combined", "simulated", "feedback") if k in part}
    summary["at"] = crud.utcnow().isoformat()
    model.metrics = {**(model.metrics or {}), "gate": summary}  # a new dict, so SQLAlchemy sees the change


def headline(metrics: dict[str, Any]) -> tuple[str, str]:
    """(condition macro-F1, critical recall) for the listing: the gate's figures, else the bundle's own."""
    part = ((metrics.get("gate") or {}).get("candidate") or {}).get("combined") \
        or (metrics.get("retrain_evaluation") or {}).get("combined") \
        or (metrics.get("held_out") or {}).get("all") or {}
    f1, recall = part.get("condition_macro_f1"), part.get("critical_recall")
    return ("-" if f1 is None else f"{f1:.3f}", "-" if recall is None else f"{recall:.3f}")


def triggers(session: Session, every: int = DEFAULT_EVERY, max_age_days: int = DEFAULT_MAX_AGE_DAYS,
             drift_summary: Path | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """Which retraining triggers fire now, and why."""
    now = now or crud.utcnow()
    production = crud.production_model(session)
    since = production.promoted_at if production is not None and production.promoted_at else None
    stmt = select(FeedbackRecord.id)
    if since is not None:
        stmt = stmt.where(FeedbackRecord.received_at >= since)
    new_cases = len(session.scalars(stmt).all())
    fired: dict[str, str] = {}
    if new_cases >= every:
        fired["count"] = f"{new_cases} confirmed cases since production was promoted (>= {every})"
    if drift_summary is not None and drift_summary.is_file():
        summary = json.loads(drift_summary.read_text(encoding="utf-8"))
        if summary.get("flag"):
            fired["drift"] = "drift flagged: " + "; ".join(summary.get("reasons", []))
    if since is not None and (now - since).days > max_age_days:
        fired["schedule"] = f"production promoted {(now - since).days} days ago (> {max_age_days})"
    return {"production": production.version if production else None, "new_cases": new_cases,
            "since": since.isoformat() if since else None, "fired": fired}


def retrain_commands(database: str | None, workdir: Path, version: str, scale: float = 1.0) -> list[list[str]]:
    export = workdir / "feedback.jsonl"
    db = ["--database", database] if database else []
    return [
        [sys.executable, "-m", "server", "export-feedback", "--out", str(export), *db],
        [sys.executable, "-m", "model_export", "retrain", "--feedback", str(export), "--out",
         str(workdir / f"candidate-{version}"), "--version", version, "--scale", str(scale)],
    ]


def run_commands(commands: list[list[str]]) -> list[dict[str, Any]]:
    results = []
    for cmd in commands:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        results.append({"command": shlex.join(cmd), "returncode": done.returncode, "stderr": done.stderr[-2000:]})
        if done.returncode != 0:
            break
    return results
