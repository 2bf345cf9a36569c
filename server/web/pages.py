"""Routes of the browser page: GET /app (the consultation), GET/POST /app/login, POST /app/logout.

Pages are rendered on the server (Jinja2) in the visitor's language; the consultation's script then calls
/v1/predict on the same origin with the session cookie and the CSRF header, and draws the answer. A visitor without
a valid session is sent to the login form (the API answers 401 instead, see `server.api.deps`). Every page goes out
with a strict Content-Security-Policy (only this origin's own script and style) and `Cache-Control: no-store`.
"""

from __future__ import annotations

import logging
import math
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from app import __version__
from app.core import symptom_search
from app.core.age import AGE_RANGE
from app.core.contract import CONTRACT_VITALS, POSTPARTUM_DAYS, PREGNANCY_AGE, PREGNANCY_WEEKS
from app.core.plausibility import weight_check_table
from app.core.signs import signs
from app.core.vocabulary import STATE_LABELS
from server.core import security
from server.core.config import Settings
from server.core.errors import ApiError
from server.core.ratelimit import RateLimiter
from server.db import staff_accounts
from server.web import catalog
from server.web.sessions import (
    CSRF_FIELD,
    CSRF_HEADER,
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    LOGIN_PATH,
    SESSION_COOKIE,
    WebLogin,
    clear_login_csrf,
    clear_session_cookie,
    load_login,
    secure_cookies,
    set_login_csrf,
    set_session_cookie,
)

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
templates = Jinja2Templates(directory=WEB_DIR / "templates")

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
MAX_FORM_BYTES = 4096

router = APIRouter(include_in_schema=False)
# The page's own files, by name: nothing else under static/ can be asked for, and no path is built from the URL.
STATIC_FILES = {path.name: path for path in STATIC_DIR.iterdir() if path.is_file()}


def login_limiter(settings: Settings) -> RateLimiter:
    return RateLimiter(settings.login_rate_per_minute / 60.0, settings.login_burst)


def _language(request: Request) -> str:
    return (catalog.language(request.query_params.get("lang")) or catalog.language(request.cookies.get(LANG_COOKIE))
            or catalog.DEFAULT_LANGUAGE)


def _page(request: Request, template: str, lang: str, status: int = 200, **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, template,
        {"lang": lang, "t": lambda key, **p: catalog.text(lang, key, **p), "version": __version__, **context},
        status_code=status, headers=PAGE_HEADERS,
    )
    if catalog.language(request.query_params.get("lang")):
        # Remembered for the next visit; readable by the page's script, which also sets it when switching in place.
        response.set_cookie(LANG_COOKIE, lang, path="/app", max_age=365 * 24 * 3600, samesite="lax",
                            secure=secure_cookies(request, request.app.state.settings))
    return response


def _to_login(request: Request, notice: str | None = None) -> RedirectResponse:
    url = LOGIN_PATH + (f"?notice={notice}" if notice else "")
    response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
    if notice == "session_ended":
        clear_session_cookie(response, request, request.app.state.settings)
    return response


# Contract v2 vitals the page shows under "measurements", in this order, with their input step. Their labels are
# the page's own (translations), so the fields exist whatever bundle answers: the contract, not the model, owns them.
MEASUREMENTS: tuple[tuple[str, int], ...] = (("weight_kg", 1), ("height_cm", 1), ("muac_mm", 0),
                                            ("capillary_refill_s", 1))


def _measurements() -> list[dict[str, Any]]:
    texts = catalog.catalogs()
    return [{"key": key, "label": {lang: texts[lang][f"vital.{key}"] for lang in catalog.LANGUAGES},
             "unit": {lang: texts[lang][f"vital.{key}_unit"] for lang in catalog.LANGUAGES},
             "plausible": list(CONTRACT_VITALS[key]), "decimals": decimals}
            for key, decimals in MEASUREMENTS]


def _whole(pair: tuple[float, float]) -> list[int | float]:
    """A range as the page shows it: 10, not 10.0."""
    return [int(x) if float(x).is_integer() else x for x in pair]


# The contract's limits the page's script needs before it asks (which fields to show, the age in other units).
PAGE_CONTRACT: dict[str, Any] = {"age_years": _whole(AGE_RANGE), "pregnancy_age": _whole(PREGNANCY_AGE),
                                 "weeks": _whole(PREGNANCY_WEEKS), "days": _whole(POSTPARTUM_DAYS)}


def _signs() -> dict[str, Any]:
    """The examination signs of contract v2, grouped as IMCI assesses them (app/core/data/signs.toml), each with the
    ages it applies to in contract years (`below` null: no upper limit) and its sex ("F"/"M"; null: every sex), for the
    page to offer those of the patient's age and sex."""
    vocabulary = signs()
    return {"groups": [{"key": group, "label": vocabulary.groups[group],
                        "signs": [{"code": s.code, "label": s.label, "ages": {
                            "from": s.min_age, "below": None if s.below_age == math.inf else s.below_age},
                                   "sex": s.sex}
                                  for s in members]}
                       for group, members in vocabulary.by_group() if members]}


async def _vocabulary(request: Request) -> dict[str, Any]:
    """The findings of the model that answers /v1/predict, grouped by body system for the form, and the contract v2
    inputs that do not depend on the model (measurements, examination signs)."""
    cloud = request.app.state.cloud_engine
    if cloud.refresh_due:
        await run_in_threadpool(cloud.refresh)  # as /v1/predict does: the form and the answer use one model
    engine = cloud.current()
    vocabulary: dict[str, Any] = engine.vocabulary.to_json()
    groups = [
        {"key": system, "label": label,
         "symptoms": [s for s in vocabulary["symptoms"] if s["system"] == system]}
        for system, label in vocabulary["systems"].items()
    ]
    # A bundle trained on contract v2 lists the measurements among its vitals: shown once, as measurements.
    vitals = [v for v in vocabulary["vitals"] if v["key"] not in CONTRACT_VITALS]
    measurements = _measurements()
    sign_groups = _signs()
    return {"groups": [g for g in groups if g["symptoms"]], "vitals": vitals, "measurements": measurements,
            "signs": sign_groups["groups"],
            "json": {"systems": vocabulary["systems"], "symptoms": vocabulary["symptoms"],
                     "vitals": vitals + measurements, "signs": sign_groups["groups"], "states": STATE_LABELS,
                     "weight_check": weight_check_table(engine.features),
                     "search": symptom_search.for_page(engine.vocabulary)}}


@router.get("/app/static/{name}")
async def static_file(name: str) -> FileResponse:
    """The page's script, stylesheet and icon. URLs carry `?v=<version>`, so an hour of caching is safe."""
    path = STATIC_FILES.get(name)
    if path is None:
        raise ApiError(404, "not_found", "No such file.")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})


@router.get("/app", response_class=HTMLResponse)
async def consultation(request: Request) -> Response:
    login: WebLogin | None = await run_in_threadpool(load_login, request)
    if login is None:
        return _to_login(request, "session_ended" if request.cookies.get(SESSION_COOKIE) else None)
    lang = _language(request)
    return _page(request, "consultation.html", lang, username=login.username, csrf=login.csrf,
                 csrf_header=CSRF_HEADER, vocabulary=await _vocabulary(request), messages=catalog.catalogs(),
                 contract=PAGE_CONTRACT)


def _login_form(request: Request, lang: str, status: int = 200, notice: str | None = None,
                username: str = "") -> HTMLResponse:
    """The login form with a fresh double-submit token; `notice` is a catalog key or an already written text."""
    token = secrets.token_urlsafe(32)
    if notice in catalog.catalog(lang):
        notice = catalog.text(lang, notice)
    response = _page(request, "login.html", lang, status=status, csrf=token, notice=notice, username=username)
    set_login_csrf(response, token, request, request.app.state.settings)
    return response


@router.get("/app/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    if await run_in_threadpool(load_login, request) is not None:
        return RedirectResponse("/app", status_code=303, headers={"Cache-Control": "no-store"})
    notice = request.query_params.get("notice")
    if notice is not None:
        notice = {"session_ended": "login.session_ended", "logged_out": "login.logged_out"}.get(notice)
    return _login_form(request, _language(request), notice=notice)


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form body as {name: first value}; anything else (or too long) as an empty form."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=10)
    return {name: values[0] for name, values in fields.items()}


def _sign_in(request: Request, username: str, password: str) -> str | None:
    """Check the password and open a session; returns the session id, or None. Blocking (scrypt, database)."""
    settings: Settings = request.app.state.settings
    with request.app.state.write_sessions() as session:
        user = staff_accounts.authenticate_staff(session, username, password)
        if user is None:
            session.rollback()
            return None
        session_id = staff_accounts.open_staff_session(session, user, settings.session_hours)
        session.commit()
        log.info("staff login: %s", user.username)
        return session_id


def _charge_login(limiter: RateLimiter, client: str, username: str) -> float:
    return max(limiter.allow(f"ip:{client}"), limiter.allow(f"user:{username.strip().lower()}"))


@router.post("/app/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    form = await _form(request)
    lang = catalog.language(form.get("lang")) or _language(request)
    username = form.get("username", "")[:64]
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not cookie_token or not security.same_secret(form.get(CSRF_FIELD), cookie_token) or "password" not in form:
        return _login_form(request, lang, status=403, notice="login.expired_form", username=username)

    limiter: RateLimiter = request.app.state.login_limiter
    client = request.client.host if request.client else "unknown"
    # Both buckets are charged, so neither many names from one address nor one name from many addresses gets far.
    # The shared limiter waits on the database (a row lock on PostgreSQL, the write lock on SQLite), so it runs in
    # the thread pool: on the event loop one slow charge would stall every other request of this worker.
    wait = await run_in_threadpool(_charge_login, limiter, client, username)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        response: Response = _login_form(request, lang, status=429, username=username,
                               notice=catalog.text(lang, "login.too_many", seconds=seconds))
        response.headers["Retry-After"] = str(seconds)
        return response

    session_id = await run_in_threadpool(_sign_in, request, username, form["password"])
    if session_id is None:
        return _login_form(request, lang, status=401, notice="login.failed", username=username)
    response = RedirectResponse("/app", status_code=303, headers={"Cache-Control": "no-store"})
    set_session_cookie(response, session_id, request, settings)
    clear_login_csrf(response, request, settings)
    return response


def _sign_out(request: Request, session_id: str) -> None:
    with request.app.state.write_sessions() as session:
        staff_accounts.close_staff_session(session, session_id)
        session.commit()


@router.post("/app/logout")
async def logout(request: Request) -> Response:
    login: WebLogin | None = await run_in_threadpool(load_login, request)
    if login is None:
        return _to_login(request, "session_ended")
    form = await _form(request)
    if not security.same_secret(form.get(CSRF_FIELD), login.csrf):
        # Not a silent no-op: a forged logout is harmless, but a page that cannot log out must say so.
        return HTMLResponse("Forbidden: the page is out of date; reload it and log out again.", status_code=403,
                            headers=PAGE_HEADERS)
    await run_in_threadpool(_sign_out, request, login.session_id)
    response = _to_login(request, "logged_out")
    clear_session_cookie(response, request, request.app.state.settings)
    return response
