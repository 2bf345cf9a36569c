"""`store.settings`: reading and changing the settings declared in app/store/config_vars.py.

`set` checks the value against the declaration and the permission it names, writes the change and its audit entry
in one transaction (a secret's value never reaches the log), and applies a new auto-lock time to this session at
once. Per-user settings are the logged-in person's own: nobody changes another's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.store.config_vars import AUTO_LOCK, ConfigVar
from app.store.context import PERMISSIONS, StoreContext
from app.store.messages import StoreError
from app.store.models import Setting, utcnow

_MISSING = object()


class Settings:
    def __init__(self, context: StoreContext) -> None:
        self._context = context

    def get(self, var: ConfigVar) -> Any:
        """The value for the logged-in person: their own for a per-user setting (else the clinic's fallback),
        capped by the clinic's limit; the declared default when nothing is stored."""
        self._context.require("read_records")
        with self._context.transaction() as s:
            return self._read(s, var)

    def set(self, var: ConfigVar, value: Any) -> None:
        """Change a setting (`not_allowed` for a role the declaration does not allow, `invalid_setting` for a
        value it does not take, including a per-user value above the clinic's limit)."""
        c = self._context
        c.require(var.changed_by)
        value = var.validate(value)
        key = var.storage_key(c.principal.user_id)
        with c.transaction() as s:
            if var.at_most is not None and value is not None:
                limit = self._read(s, var.at_most)
                if value > limit:
                    raise StoreError("invalid_setting", key=var.key,
                                     expected=f"{var.type.__name__} {var.minimum or ''}–{limit}")
            row = s.get(Setting, key)
            if value is None:
                if row is not None:
                    s.delete(row)  # cleared: the column holds no NULL, and a missing row reads as the default
            elif row is None:
                s.add(Setting(key=key, value=value, updated_at=utcnow(), updated_by=c.principal.user_id))
            else:
                row.value, row.updated_at, row.updated_by = value, utcnow(), c.principal.user_id
            logged = {"set": value is not None} if var.secret else {"value": value}
            c.audit(s, "setting.change", f"setting:{key}", logged)
            minutes = self._read(s, AUTO_LOCK)
        c.auto_lock_seconds = float(minutes) * 60.0

    def may_change(self, var: ConfigVar) -> bool:
        """Whether the logged-in person may change `var` (for screens that show it read-only otherwise)."""
        return self._context.principal.role in PERMISSIONS[var.changed_by]

    def auto_lock_minutes(self) -> float:
        """The idle minutes after which this session locks. No permission needed: the store applies it to itself
        at login, before a person with a pending passphrase change may read anything."""
        with self._context.transaction() as s:
            return float(self._read(s, AUTO_LOCK))

    def _read(self, s: Session, var: ConfigVar) -> Any:
        value = self._stored(s, var)
        if value is _MISSING or value is None:
            value = self._read(s, var.fallback) if var.fallback is not None else var.default
        if var.at_most is not None and value is not None:
            value = min(value, self._read(s, var.at_most))
        return value

    def _stored(self, s: Session, var: ConfigVar) -> Any:
        row = s.get(Setting, var.storage_key(self._context.principal.user_id))
        if row is None:
            return _MISSING
        try:
            return var.validate(row.value)
        except StoreError:
            # A value written by hand or by an older version that the declaration does not take reads as unset.
            return _MISSING
