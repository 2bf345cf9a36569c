"""Staff accounts of the browser page (/app) and their web sessions: add, disable, enable, set a password,
authenticate, open, look up, touch and close a session. Split from server/db/crud.py (the same rules: functions take
a Session and leave committing to the caller)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.core import passwords, security
from server.db.crud import rows_changed, utcnow
from server.db.models import StaffSession, StaffUser

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")


class StaffError(Exception):
    """A staff account request that cannot be done as asked; the message says why."""


def normalise_username(username: str) -> str:
    """User names are compared in lower case: `Dra.Rojas` and `dra.rojas` are one account."""
    name = username.strip().lower()
    if not USERNAME.match(name):
        raise StaffError("a user name has 1 to 64 characters: letters a-z, digits and . _ @ - (starting with a letter "
                         "or digit)")
    return name


def get_staff(session: Session, username: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))


def list_staff(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))


def add_staff(session: Session, username: str, password: str, now: dt.datetime | None = None) -> StaffUser:
    """A new account. Refused when the name exists (enabled or disabled), or the password breaks the rules."""
    now = now or utcnow()
    name = normalise_username(username)
    try:
        passwords.check_new_password(password)
    except passwords.PasswordRejected as exc:
        raise StaffError(str(exc)) from None
    if get_staff(session, name) is not None:
        raise StaffError(f"the user {name} already exists; `vereda-server staff password {name}` sets a new password")
    user = StaffUser(username=name, password_hash=passwords.hash_password(password), created_at=now,
                     password_changed_at=now)
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        raise StaffError(f"the user {name} was created at the same time by someone else") from exc
    return user


def _existing_staff(session: Session, username: str) -> StaffUser:
    user = get_staff(session, username)
    if user is None:
        raise StaffError(f"no staff user is called {username.strip().lower()}; see `vereda-server staff list`")
    return user


def revoke_staff_sessions(session: Session, staff_id: int, now: dt.datetime | None = None) -> int:
    """End every open session of one account (disabled, or a new password); returns how many were open."""
    result = session.execute(
        update(StaffSession).where(StaffSession.staff_id == staff_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return rows_changed(result)


def disable_staff(session: Session, username: str, now: dt.datetime | None = None) -> tuple[StaffUser, int]:
    """Disable the account and end its sessions at once. Returns (user, sessions ended)."""
    now = now or utcnow()
    user = _existing_staff(session, username)
    if user.disabled_at is None:
        user.disabled_at = now
    ended = revoke_staff_sessions(session, user.id, now)
    session.flush()
    return user, ended


def enable_staff(session: Session, username: str) -> StaffUser:
    user = _existing_staff(session, username)
    user.disabled_at = None
    session.flush()
    return user


def set_staff_password(session: Session, username: str, password: str,
                       now: dt.datetime | None = None) -> tuple[StaffUser, int]:
    """A new password; the account's open sessions end (a password is usually changed because it leaked)."""
    now = now or utcnow()
    user = _existing_staff(session, username)
    try:
        passwords.check_new_password(password)
    except passwords.PasswordRejected as exc:
        raise StaffError(str(exc)) from None
    user.password_hash, user.password_changed_at = passwords.hash_password(password), now
    ended = revoke_staff_sessions(session, user.id, now)
    session.flush()
    return user, ended


@dataclass(frozen=True, slots=True)
class StaffLogin:
    """Who is using the browser page, from a valid session."""

    staff_id: int
    username: str
    session_pk: int
    last_seen_at: dt.datetime


def authenticate_staff(session: Session, username: str, password: str) -> StaffUser | None:
    """The enabled account with this name and password, else None. Costs one scrypt hash either way (see
    `passwords.verify_password`), so the time taken does not tell whether the name exists."""
    try:
        user = get_staff(session, normalise_username(username))
    except StaffError:
        user = None
    if not passwords.verify_password(password, user.password_hash if user is not None else None):
        return None
    if user is None or user.disabled_at is not None:
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def open_staff_session(session: Session, user: StaffUser, hours: float,
                       now: dt.datetime | None = None) -> str:
    """A new session for `user`; returns its id (for the cookie), of which only the sha256 is stored.

    Always a new id at login, never one the browser brought, so a planted cookie cannot become a session. Expired
    sessions are deleted here, which keeps the table to about the sessions of one day.
    """
    now = now or utcnow()
    session.execute(delete(StaffSession).where(StaffSession.expires_at < now - dt.timedelta(days=1)))
    session_id = security.new_session_id()
    session.add(StaffSession(session_hash=security.hash_token(session_id), staff_id=user.id, created_at=now,
                             last_seen_at=now, expires_at=now + dt.timedelta(hours=hours)))
    user.last_login_at = now
    session.flush()
    return session_id


def staff_by_session(session: Session, session_id: str, idle: dt.timedelta,
                     now: dt.datetime | None = None) -> StaffLogin | None:
    """The login behind a session id, if it is open, unexpired, recently used and its account enabled."""
    now = now or utcnow()
    row = session.execute(
        select(StaffSession.staff_id, StaffUser.username, StaffSession.id, StaffSession.last_seen_at)
        .join(StaffUser, StaffSession.staff_id == StaffUser.id)
        .where(StaffSession.session_hash == security.hash_token(session_id), StaffSession.revoked_at.is_(None),
               StaffSession.expires_at > now, StaffSession.last_seen_at > now - idle,
               StaffUser.disabled_at.is_(None))
    ).first()
    return None if row is None else StaffLogin(*row)


def touch_staff_session(session: Session, session_pk: int, now: dt.datetime | None = None) -> None:
    session.execute(update(StaffSession).where(StaffSession.id == session_pk).values(last_seen_at=now or utcnow()))


def close_staff_session(session: Session, session_id: str, now: dt.datetime | None = None) -> bool:
    """Log out: the session can no longer be used, whoever holds a copy of the cookie."""
    result = session.execute(
        update(StaffSession)
        .where(StaffSession.session_hash == security.hash_token(session_id), StaffSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return rows_changed(result) > 0
