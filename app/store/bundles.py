"""`store.bundles`: which model bundles this laptop installed and which one answers, so the audit log can say which
model gave each answer. The files themselves live in the data folder (app/sync/updates.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.store.context import StoreContext
from app.store.models import InstalledModelBundle, utcnow
from app.store.records import BundleRecord


class Bundles:
    def __init__(self, context: StoreContext) -> None:
        self._context = context

    def record_installed(self, *, version: str, sha256: str, source: str, manifest: dict[str, Any],
                         activate: bool = True) -> BundleRecord:
        """Record a bundle (once per manifest hash) and, by default, make it the active one."""
        # "sync", not "maintain": updates arrive during a doctor's sync. What protects the clinic is the signature,
        # version and expiry checks app/sync makes before this call, not the role of whoever is logged in.
        c = self._context
        c.require("sync")
        with c.transaction() as s:
            row = s.scalar(select(InstalledModelBundle).where(InstalledModelBundle.sha256 == sha256))
            if row is None:
                row = InstalledModelBundle(version=version, sha256=sha256, source=source, installed_at=utcnow(),
                                           installed_by=c.principal.user_id, manifest=manifest, active=False)
                s.add(row)
            if activate:
                for other in s.scalars(select(InstalledModelBundle).where(InstalledModelBundle.active.is_(True))):
                    other.active = False
                row.active = True
            s.flush()
            c.audit(s, "bundle.install", f"bundle:{sha256[:16]}", {"version": version, "source": source,
                                                                  "active": activate})
            return BundleRecord.from_row(row)

    def active(self) -> BundleRecord | None:
        c = self._context
        c.require("read_records")
        with c.transaction() as s:
            row = s.scalar(select(InstalledModelBundle).where(InstalledModelBundle.active.is_(True)))
            return None if row is None else BundleRecord.from_row(row)
