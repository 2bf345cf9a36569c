"""`store.users`: the clinic's accounts. Adding, disabling, enabling, resetting a passphrase and changing a role are
the administrator's; changing one's own passphrase is everyone's.

An account is a row in the database and a wrap of the data key in the keyring (app/store/keys.py): disabling removes
the wrap, so a disabled person cannot even open the file; the row stays, so the audit log keeps naming them.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.context import Principal, StoreContext, new_id, required_text, validate_login, validate_role
from app.store.keys import KdfParams, check_passphrase_strength, normalise_passphrase, open_wrap, seal
from app.store.messages import StoreError
from app.store.models import User, utcnow
from app.store.records import UserRecord


class Users:
    def __init__(self, context: StoreContext) -> None:
        self._context = context

    def list(self) -> list[UserRecord]:
        """Every account, active or not, by login."""
        c = self._context
        c.require("manage_users")
        with c.transaction() as s:
            rows = [UserRecord.from_row(u) for u in s.scalars(select(User).order_by(User.login))]
            c.audit(s, "user.list", None, {"count": len(rows)})
        return rows

    def by_login(self, login: str) -> UserRecord:
        """The account with this login (as typed: case and spaces do not matter); `unknown_user` if none."""
        wanted = login.strip().lower()
        for user in self.list():
            if user.login == wanted:
                return user
        raise StoreError("unknown_user", user=login)

    def add(self, login: str, display_name: str, role: str, passphrase: str, *,
            must_change_passphrase: bool = True, kdf: KdfParams | None = None) -> UserRecord:
        """A new account. Its first passphrase is set by the administrator, so by default the user must change it
        at the first login (the demo clinic and scripted installs may say otherwise)."""
        c = self._context
        c.require("manage_users")
        login = validate_login(login)
        display_name = required_text(display_name, "display_name")
        role = validate_role(role)
        check_passphrase_strength(passphrase)
        user_id = new_id()
        with c.transaction() as s:
            if s.scalar(select(User.id).where(User.login == login)) is not None or c.keyring.user_wrap(login):
                raise StoreError("login_taken", login=login)
            user = User(id=user_id, login=login, display_name=display_name, role=role, active=True,
                        must_change_passphrase=must_change_passphrase, created_at=utcnow(),
                        created_by=c.principal.user_id)
            s.add(user)
            c.audit(s, "user.add", f"user:{user_id}", {"role": role, "login": login})
            self._put_wrap(user_id, login, passphrase, kdf)
            s.flush()
            return UserRecord.from_row(user)

    def disable(self, user_id: str) -> None:
        """Disable an account: its wrap is removed from the keyring and the database refuses its login."""
        c = self._context
        c.require("manage_users")
        if user_id == c.principal.user_id:
            raise StoreError("cannot_disable_self")
        with c.transaction() as s:
            user = _user(s, user_id)
            if user.role == "admin" and user.active and _active_admins(s) <= 1:
                raise StoreError("last_admin")
            user.active = False
            user.disabled_at = utcnow()
            c.audit(s, "user.disable", f"user:{user_id}")
            c.keyring.remove_user(user_id)
            c.keyring.save(c.folder.keyring)

    def enable(self, user_id: str, temporary_passphrase: str) -> None:
        """Give a disabled account back, with a temporary passphrase to change at the next login."""
        self._give_temporary_passphrase(user_id, temporary_passphrase, "user.enable", enable=True)

    def reset_passphrase(self, user_id: str, temporary_passphrase: str) -> None:
        """An administrator sets a temporary passphrase; the user must choose a new one at the next login."""
        self._give_temporary_passphrase(user_id, temporary_passphrase, "user.reset_passphrase", enable=False)

    def _give_temporary_passphrase(self, user_id: str, temporary_passphrase: str, action: str, *,
                                   enable: bool) -> None:
        c = self._context
        c.require("manage_users")
        check_passphrase_strength(temporary_passphrase)
        with c.transaction() as s:
            user = _user(s, user_id)
            if enable:
                user.active = True
                user.disabled_at = None
            user.must_change_passphrase = True
            c.audit(s, action, f"user:{user_id}")
            self._put_wrap(user.id, user.login, temporary_passphrase, None)

    def set_role(self, user_id: str, role: str) -> None:
        c = self._context
        c.require("manage_users")
        role = validate_role(role)
        with c.transaction() as s:
            user = _user(s, user_id)
            if user.role == "admin" and role != "admin" and user.active and _active_admins(s) <= 1:
                raise StoreError("last_admin")
            old, user.role = user.role, role
            c.audit(s, "user.role", f"user:{user_id}", {"from": old, "to": role})

    def change_passphrase(self, current: str, new: str) -> None:
        """Re-seal the data key under a new passphrase. The database is not re-encrypted (it does not need to be)."""
        c = self._context
        c.require("read_records", allow_pending_change=True)
        me = c.principal
        if me.emergency:
            raise StoreError("not_allowed", role="recovery", action="change_passphrase")
        check_passphrase_strength(new)
        wrap = c.keyring.wrap_for_user_id(me.user_id)
        if wrap is None or open_wrap(wrap, normalise_passphrase(current), c.clinic_id) is None:
            raise StoreError("wrong_credentials")
        with c.transaction() as s:
            user = _user(s, me.user_id)
            user.must_change_passphrase = False
            c.audit(s, "user.change_passphrase", f"user:{user.id}")
            self._put_wrap(user.id, user.login, new, wrap.kdf)
        c.principal = Principal(me.user_id, me.login, me.display_name, me.role, emergency=False,
                                must_change_passphrase=False)

    def _put_wrap(self, user_id: str, login: str, passphrase: str, kdf: KdfParams | None) -> None:
        # Written inside the caller's open transaction: if the keyring write fails the database change rolls back;
        # if the commit then fails, the keyring has a wrap for a user the database does not know, which no login
        # accepts (the user row is looked up after unwrapping).
        c = self._context
        # New wraps use at least the parameters of the recovery wrap, so a clinic set up with stronger (or, in
        # tests, cheaper) settings keeps them.
        params = kdf or c.keyring.recovery_wrap().kdf
        c.keyring.put(seal(c.key, normalise_passphrase(passphrase), clinic_id=c.clinic_id, kind="user",
                           user_id=user_id, login=login, kdf=params))
        c.keyring.save(c.folder.keyring)


def _user(s: Session, user_id: str) -> User:
    user = s.get(User, user_id)
    if user is None:
        raise StoreError("unknown_user", user=user_id)
    return user


def _active_admins(s: Session) -> int:
    return len(list(s.scalars(select(User.id).where(User.role == "admin", User.active.is_(True)))))
