"""`vereda check`: everything that can be verified about an open database, as a report in the clinic's language.

Page authentication (SQLCipher's HMAC per page), SQLite's own structure check, references between tables, the
schema revision, the audit log's hash chain, its anchor and its append-only triggers, and that every closed
encounter has its feedback record. Each check catches its own errors, so a damaged page makes one line say
PROBLEM instead of stopping the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlcipher3
from sqlalchemy.exc import DBAPIError

from app.store.audit import AuditAnchor, verify_chain
from app.store.database import SCHEMA_HEAD, Database
from app.store.messages import text
from app.store.models import AUDIT_TRIGGER_NAMES

Problem = tuple[str, dict[str, Any]]  # (message code, parameters)


@dataclass
class CheckResult:
    name: str  # message code of the check ("check.audit_chain")
    problems: list[Problem] = field(default_factory=list)


@dataclass
class CheckReport:
    results: list[CheckResult] = field(default_factory=list)
    audit_head: tuple[int, str] | None = None

    @property
    def ok(self) -> bool:
        return all(not r.problems for r in self.results)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.problems]

    def lines(self, lang: str = "es") -> list[str]:
        out = []
        for result in self.results:
            status = text("check_problem" if result.problems else "check_ok", lang)
            out.append(f"[{status}] {text(result.name, lang)}")
            out.extend(f"    - {text(code, lang, **params)}" for code, params in result.problems)
        return out

    def to_json(self, lang: str = "es") -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [
                {"name": r.name, "ok": not r.problems, "problems": [text(c, lang, **p) for c, p in r.problems]}
                for r in self.results
            ],
        }


def _guard(db: Database, name: str, fn: Callable[[], list[Problem]]) -> CheckResult:
    try:
        return CheckResult(name, fn())
    except (DBAPIError, sqlcipher3.DatabaseError) as exc:
        # The connection that met the damage stays in an error state; the next check gets a fresh one.
        db.reset_connections()
        return CheckResult(name, [("problem.sqlite_message", {"detail": str(getattr(exc, "orig", exc))})])


def run_checks(db: Database, anchor: AuditAnchor | None) -> CheckReport:
    report = CheckReport()
    integrity = db.integrity()
    if not integrity.ok:
        db.reset_connections()
    for name, found in integrity.results.items():
        if name == "check.cipher_integrity" and found:
            params = {"count": len(found), "detail": "; ".join(found[:5])}
            report.results.append(CheckResult(name, [("problem.pages_failed", params)]))
        else:
            report.results.append(CheckResult(name, [("problem.sqlite_message", {"detail": f}) for f in found[:20]]))

    def schema() -> list[Problem]:
        found = db.revision()
        return [] if found == SCHEMA_HEAD else [("problem.schema_behind", {"found": found, "expected": SCHEMA_HEAD})]

    report.results.append(_guard(db, "check.schema", schema))

    def chain() -> list[Problem]:
        rows = db.pragma(
            "SELECT seq, at, user_id, action, subject, detail, prev_hash, entry_hash FROM audit_log ORDER BY seq"
        )
        problems, last_seq, last_hash = verify_chain(rows)
        report.audit_head = (last_seq, last_hash)
        return [(p.code, p.params) for p in problems[:50]]

    report.results.append(_guard(db, "check.audit_chain", chain))

    def anchored() -> list[Problem]:
        if anchor is None:
            return []
        found = anchor.read()
        if found is None:
            return [("problem.audit_anchor_missing", {"path": anchor.path.name})]
        seq, head = found
        last = report.audit_head[0] if report.audit_head else 0
        if seq > last:
            return [("problem.audit_truncated", {"last": last, "anchored": seq})]
        rows = db.pragma(f"SELECT entry_hash FROM audit_log WHERE seq = {int(seq)}")
        if seq > 0 and (not rows or rows[0][0] != head):
            return [("problem.audit_anchor_mismatch", {"seq": seq})]
        return []

    report.results.append(_guard(db, "check.audit_anchor", anchored))

    def triggers() -> list[Problem]:
        present = {r[0] for r in db.pragma("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        return [("problem.audit_trigger_missing", {"name": n}) for n in AUDIT_TRIGGER_NAMES if n not in present]

    report.results.append(_guard(db, "check.audit_append_only", triggers))

    def outbox() -> list[Problem]:
        (count,) = db.pragma(
            "SELECT count(*) FROM encounters e LEFT JOIN feedback_outbox f ON f.encounter_id = e.id "
            "WHERE e.status = 'closed' AND f.id IS NULL"
        )[0]
        return [("problem.outbox_missing", {"count": count})] if count else []

    report.results.append(_guard(db, "check.outbox", outbox))
    return report
