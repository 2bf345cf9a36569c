"""`store.audit`: reading the audit log, and the entries for what happens outside the store's own parts (an export
made by the app, a sync event). Entries themselves are written by `StoreContext.audit` inside each part's
transaction; the hash chain is app/store/audit.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.store.context import StoreContext
from app.store.models import AuditEntry
from app.store.records import AuditRecord


class AuditLog:
    def __init__(self, context: StoreContext) -> None:
        self._context = context

    def entries(self, *, subject: str | None = None, limit: int = 200) -> list[AuditRecord]:
        """The newest entries first (administrators: the log says who opened which record)."""
        c = self._context
        c.require("maintain")
        with c.transaction() as s:
            query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
            if subject is not None:
                query = query.where(AuditEntry.subject == subject)
            return [AuditRecord.from_row(e) for e in s.scalars(query)]

    def chain_head(self) -> tuple[int, str]:
        """(seq, hash) of the newest audit entry: what backups compare to tell newer from older."""
        _ = self._context.database
        return self._context.audit_head()

    def record_export(self, what: str, detail: dict[str, Any] | None = None) -> None:
        """Log an export of records (a report, a USB file) made elsewhere in the app."""
        c = self._context
        c.require("read_records")
        with c.transaction() as s:
            c.audit(s, "export", what, detail or {})

    def record_sync(self, event: str, detail: dict[str, Any] | None = None) -> None:
        """Log a sync event (connection found, model update offered, USB import ...). No patient data in detail."""
        c = self._context
        c.require("sync")
        with c.transaction() as s:
            c.audit(s, f"sync.{event}", None, detail or {})
