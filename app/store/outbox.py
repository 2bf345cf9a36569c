"""`store.outbox`: the feedback rows closing an encounter leaves behind, as the sync (app/sync/outbox.py) sends them.

A row is pending until the central service acknowledges it (sent) or refuses it for good (refused: `last_error`
starts with REFUSED_PREFIX and the row leaves the queue). Rows are never deleted. Whoever syncs may mark them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, or_, select, update

from app.store.context import StoreContext
from app.store.models import FeedbackOutbox, utcnow
from app.store.records import OutboxRecord

# An outbox row the central service refused for good carries this prefix in last_error and is no longer pending.
REFUSED_PREFIX = "refused: "
_NOT_REFUSED = or_(FeedbackOutbox.last_error.is_(None), ~FeedbackOutbox.last_error.startswith(REFUSED_PREFIX))


class Outbox:
    def __init__(self, context: StoreContext) -> None:
        self._context = context

    def pending(self, limit: int = 500) -> list[OutboxRecord]:
        """Rows waiting to be sent, oldest first: not acknowledged and not refused by the central service."""
        c = self._context
        c.require("sync")
        with c.transaction() as s:
            return [OutboxRecord.from_row(r) for r in s.scalars(
                select(FeedbackOutbox).where(FeedbackOutbox.sent_at.is_(None), _NOT_REFUSED)
                .order_by(FeedbackOutbox.id).limit(limit))]

    def counts(self) -> dict[str, int]:
        """{"pending", "refused", "sent"}: what the status bar and `vereda sync` show (counts only, no rows)."""
        c = self._context
        c.require("sync")
        with c.transaction() as s:
            def count(*where: ColumnElement[bool]) -> int:
                return s.scalar(select(func.count()).select_from(FeedbackOutbox).where(*where)) or 0

            sent = count(FeedbackOutbox.sent_at.is_not(None))
            pending = count(FeedbackOutbox.sent_at.is_(None), _NOT_REFUSED)
            refused = count(FeedbackOutbox.sent_at.is_(None), ~_NOT_REFUSED)
        return {"pending": pending, "refused": refused, "sent": sent}

    def mark_sent(self, outbox_ids: Sequence[int]) -> None:
        c = self._context
        c.require("sync")
        now = utcnow()
        with c.transaction() as s:
            # One UPDATE for the batch (a sync marks 500 rows at a time; row-by-row costs more than the network).
            s.execute(update(FeedbackOutbox).where(FeedbackOutbox.id.in_(list(outbox_ids)))
                      .values(sent_at=now, attempts=FeedbackOutbox.attempts + 1, last_error=None)
                      .execution_options(synchronize_session=False))
            c.audit(s, "sync.feedback_sent", None, {"count": len(outbox_ids)})

    def mark_failed(self, outbox_ids: Sequence[int], error: str) -> None:
        """A transient failure: the rows stay pending, with the error and one more attempt counted."""
        c = self._context
        c.require("sync")
        with c.transaction() as s:
            for row in s.scalars(select(FeedbackOutbox).where(FeedbackOutbox.id.in_(list(outbox_ids)))):
                row.attempts += 1
                row.last_error = error[:500]
            c.audit(s, "sync.feedback_failed", None, {"count": len(outbox_ids), "error": error[:200]})

    def mark_refused(self, outbox_ids: Sequence[int], reason: str) -> None:
        """The central service refused these rows for good (conflict, invalid, rejected): they leave the pending
        queue, are never deleted, and keep the reason (no clinical values: a status, a code, a field name)."""
        c = self._context
        c.require("sync")
        with c.transaction() as s:
            s.execute(update(FeedbackOutbox).where(FeedbackOutbox.id.in_(list(outbox_ids)))
                      .values(attempts=FeedbackOutbox.attempts + 1, last_error=(REFUSED_PREFIX + reason)[:500])
                      .execution_options(synchronize_session=False))
            c.audit(s, "sync.feedback_refused", None, {"count": len(outbox_ids), "reason": reason[:200]})
