"""Staff sessions of the browser page: the cookies, their flags, and how a request is tied to a login.

The session id is 256 random bits in an HttpOnly, SameSite=Strict cookie; the database keeps only its sha256, with
an absolute expiry and an idle limit (`VEREDA_SERVER_SESSION_HOURS`, `VEREDA_SERVER_SESSION_IDLE_MINUTES`). Requests
that change something carry a CSRF token besides the cookie: the page's POSTs a synchronizer token derived from the
session id (`security.csrf_token`), the login form a double-submit token (a random value both in a cookie and in the
form), because there is no session yet to derive one from.

Cookies get the Secure flag when the request came over HTTPS as uvicorn sees it (so behind a reverse proxy only
when its X-Forwarded-Proto is trusted: `serve --forwarded-allow-ips`), or always with `VEREDA_SERVER_COOKIE_SECURE=
always`. See docs/deploy-central.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from server.core import security
from server.core.config import Settings
from server.db import crud, staff_accounts

SESSION_COOKIE = "vereda_session"
LOGIN_CSRF_COOKIE = "vereda_login_csrf"
LANG_COOKIE = "vereda_lang"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
LOGIN_PATH = "/app/login"
# Writing last_seen_at on every request would turn each predict into a database write; once a minute is enough
# for an idle limit counted in minutes.
TOUCH_EVERY = dt.timedelta(seconds=60)
_MAX_COOKIE = 100  # a real session id is 43 characters; anything much longer is not worth a database query


@dataclass(frozen=True, slots=True)
class WebLogin:
    """A request's valid staff login: who, the session id from its cookie, and the CSRF token that goes with it."""

    username: str
    session_id: str
    csrf: str


def secure_cookies(request: Request, settings: Settings) -> bool:
    if settings.cookie_secure == "always":
        return True
    if settings.cookie_secure == "never":
        return False
    return request.url.scheme == "https"


def load_login(request: Request) -> WebLogin | None:
    """The login behind the request's session cookie, or None. Blocking (database): call it in a thread."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id or len(session_id) > _MAX_COOKIE:
        return None
    settings: Settings = request.app.state.settings
    now = crud.utcnow()
    with request.app.state.sessions() as session:
        idle = dt.timedelta(minutes=settings.session_idle_minutes)
        login = staff_accounts.staff_by_session(session, session_id, idle, now)
    if login is None:
        return None
    if now - login.last_seen_at >= TOUCH_EVERY:
        with request.app.state.write_sessions() as session:
            staff_accounts.touch_staff_session(session, login.session_pk, now)
            session.commit()
    return WebLogin(login.username, session_id, security.csrf_token(session_id))


def set_session_cookie(response: Response, session_id: str, request: Request, settings: Settings) -> None:
    # No Max-Age: the cookie ends with the browser, and the server ends the session anyway (expiry, idle, logout).
    response.set_cookie(SESSION_COOKIE, session_id, path="/", httponly=True, samesite="strict",
                        secure=secure_cookies(request, settings))


def clear_session_cookie(response: Response, request: Request, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=secure_cookies(request, settings))


def set_login_csrf(response: Response, token: str, request: Request, settings: Settings) -> None:
    """The login form's double-submit token as a cookie; the caller puts the same value in the form."""
    response.set_cookie(LOGIN_CSRF_COOKIE, token, path=LOGIN_PATH, max_age=3600, httponly=True, samesite="strict",
                        secure=secure_cookies(request, settings))


def clear_login_csrf(response: Response, request: Request, settings: Settings) -> None:
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH, httponly=True, samesite="strict",
                           secure=secure_cookies(request, settings))
