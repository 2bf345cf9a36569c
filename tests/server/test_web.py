"""The browser page's accounts, sessions and CSRF protection, checked over HTTP without a browser.

Most checks run in process (FastAPI's TestClient on a SQLite file); one test logs in on a real `vereda-server serve`
on SQLite and on PostgreSQL. The browser itself is driven in test_web_browser.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select, update

from tests.server.helpers import CASE4, Server, create_pg_database, run_cli

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

USER, PASSWORD = "dra.rojas", "la doctora de la vereda"
TIMEOUT = 30


def _csrf_in(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _cookie_headers(response: Any) -> dict[str, str]:
    """Set-Cookie headers by cookie name (of an httpx or a requests response)."""
    headers = response.headers.get_list("set-cookie") if hasattr(response.headers, "get_list") \
        else response.raw.headers.getlist("set-cookie")
    out = {}
    for header in headers:
        out[header.split("=", 1)[0]] = header
    return out


class Site:
    """An app in process with one staff account; `client` keeps cookies like a browser."""

    def __init__(self, tmp_path: Path, **settings: Any) -> None:
        from fastapi.testclient import TestClient

        from server.core.config import Settings
        from server.db import staff_accounts
        from server.main import create_app

        base_url = settings.pop("base_url", "http://testserver")
        self.settings = Settings.load(database_url=f"sqlite:///{tmp_path / 'web.db'}", data_dir=tmp_path,
                                      rate_limit_per_second=0, **settings)
        self.app = create_app(self.settings)
        self.client = TestClient(self.app, base_url=base_url)
        self.client.__enter__()
        with self.app.state.write_sessions() as session:
            staff_accounts.add_staff(session, USER, PASSWORD)
            session.commit()

    def close(self) -> None:
        self.client.__exit__(None, None, None)

    def login(self, username: str = USER, password: str = PASSWORD, client: Any = None) -> Any:
        client = client or self.client
        form = client.get("/app/login")
        return client.post("/app/login", data={"username": username, "password": password,
                                               "csrf_token": _csrf_in(form.text)}, follow_redirects=False)

    def page_csrf(self) -> str:
        page = self.client.get("/app", follow_redirects=False)
        assert page.status_code == 200, page.headers.get("location")
        return _csrf_in(page.text)

    def predict(self, csrf: str | None, body: dict[str, Any] | None = None) -> Any:
        headers = {"X-CSRF-Token": csrf} if csrf is not None else {}
        return self.client.post("/v1/predict", json=body or CASE4, headers=headers)

    def sessions(self) -> Any:
        return self.app.state.write_sessions


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = Site(tmp_path)
    yield s
    s.close()


# --- passwords and catalogs ---------------------------------------------------------------------------------------


def test_passwords_are_scrypt_hashes_that_name_their_cost() -> None:
    from server.core import passwords

    stored = passwords.hash_password(PASSWORD)
    assert stored.startswith("scrypt$15$8$1$") and PASSWORD not in stored
    assert stored != passwords.hash_password(PASSWORD)  # salted
    assert passwords.verify_password(PASSWORD, stored)
    assert not passwords.verify_password(PASSWORD + "x", stored)
    assert not passwords.verify_password(PASSWORD, None)  # unknown user: same work, no match
    assert not passwords.verify_password(PASSWORD, "md5$abc")
    cheap = passwords.hash_password(PASSWORD, passwords.ScryptCost(log2_n=10))
    assert passwords.verify_password(PASSWORD, cheap) and passwords.needs_rehash(cheap)
    assert not passwords.needs_rehash(stored)
    for bad in ("short", " padded password ", "x" * 300):
        with pytest.raises(passwords.PasswordRejected):
            passwords.check_new_password(bad)


def test_page_catalogs_have_the_same_keys_and_placeholders() -> None:
    from server.web import catalog

    es, en = catalog.catalog("es"), catalog.catalog("en")
    assert es.keys() == en.keys()
    fields = string.Formatter()
    for key in es:
        names = [{f for _, f, _, _ in fields.parse(text) if f} for text in (es[key], en[key])]
        assert names[0] == names[1], key
    templates = "".join(p.read_text(encoding="utf-8") for p in (catalog.CATALOG_DIR.parent / "templates").iterdir())
    script = (catalog.CATALOG_DIR.parent / "static" / "consultation.js").read_text(encoding="utf-8")
    used = set(re.findall(r"""(?:t\(|data-i18n=)["']([a-z_]+\.[a-z_]+)["']""", templates + script))
    assert used and used <= es.keys(), used - es.keys()


# --- the staff CLI ------------------------------------------------------------------------------------------------


def test_staff_cli_adds_lists_and_disables_accounts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from server.cli import main

    database = f"sqlite:///{tmp_path / 'cli.db'}"
    secret = tmp_path / "pw"

    def cli(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--database", database])
        out, err = capsys.readouterr()
        return code, out, err

    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    code, out, _ = cli("staff", "add", "Dra.Rojas", "--password-file", str(secret))
    assert code == 0 and json.loads(out)["username"] == "dra.rojas"  # names are compared in lower case
    code, _, err = cli("staff", "add", "dra.rojas", "--password-file", str(secret))
    assert code == 2 and "already exists" in json.loads(err)["error"]["message"]
    secret.write_text("corta\n", encoding="utf-8")
    code, _, err = cli("staff", "add", "otro", "--password-file", str(secret))
    assert code == 2 and "at least 10" in err
    code, _, err = cli("staff", "add", "otro")  # no terminal to ask on (pytest's stdin is not one)
    assert code == 2 and "--password-file" in err
    code, _, err = cli("staff", "add", "María Pérez", "--password-file", str(secret))
    assert code == 2 and "user name" in err
    code, out, _ = cli("staff", "disable", "dra.rojas")
    assert code == 0 and json.loads(out)["enabled"] is False
    code, out, _ = cli("staff", "list", "--json")
    listed = json.loads(out)
    assert [(u["username"], u["enabled"]) for u in listed] == [("dra.rojas", False)]
    assert "scrypt" not in out
    assert cli("staff", "disable", "nadie")[0] == 2
    assert cli("staff", "enable", "dra.rojas")[0] == 0
    assert "enabled" in cli("staff", "list")[1]


def test_the_staff_migration_upgrades_a_database_of_the_first_schema(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from server.db import crud
    from server.db.migrate import alembic_config, upgrade
    from server.db.session import make_engine, make_sessions

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
    with make_sessions(engine, write=True)() as session:
        crud.create_enrollment_code(session, "Puesto de Salud San José", 1)
        session.commit()
    upgrade(engine)
    assert {"staff_users", "staff_sessions"} <= set(inspect(engine).get_table_names())
    with make_sessions(engine, write=True)() as session:
        assert crud.get_or_create_clinic(session, "Puesto de Salud San José").id == 1  # old rows kept
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0001")
    assert "staff_users" not in inspect(engine).get_table_names()


# --- login, cookies, sessions -------------------------------------------------------------------------------------


def test_login_sets_a_strict_httponly_session_cookie_and_stores_only_its_hash(site: Site) -> None:
    from server.db.models import StaffSession

    form = site.client.get("/app/login")
    login_cookie = _cookie_headers(form)["vereda_login_csrf"]
    assert "HttpOnly" in login_cookie and "SameSite=strict" in login_cookie and "Secure" not in login_cookie
    reply = site.login()
    assert reply.status_code == 303 and reply.headers["location"] == "/app"
    cookie = _cookie_headers(reply)["vereda_session"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP without a trusted proxy: a Secure cookie would never come back
    session_id = site.client.cookies["vereda_session"]
    with site.sessions()() as session:
        stored = session.scalars(select(StaffSession.session_hash)).all()
    assert stored == [hashlib.sha256(session_id.encode()).hexdigest()]
    page = site.client.get("/app")
    # No answer on the page before a diagnosis: no state in its markup (the page's data, which names every state
    # for the banner's words, is not markup).
    markup = re.sub(r'<script type="application/json" id="page-data">.*?</script>', "", page.text, flags=re.S)
    assert page.status_code == 200 and USER in page.text and "ENFERMEDAD" not in markup
    assert markup != page.text  # the page's data was there, and was the only place a state is named


@pytest.mark.parametrize(("base_url", "setting", "secure"), [
    ("https://testserver", "auto", True),    # HTTPS as uvicorn sees it (directly or via a trusted proxy)
    ("http://testserver", "always", True),   # TLS ends at a proxy whose headers are not passed on
    ("https://testserver", "never", False),
])
def test_cookies_are_secure_behind_tls(tmp_path: Path, base_url: str, setting: str, secure: bool) -> None:
    site = Site(tmp_path, base_url=base_url, cookie_secure=setting)
    try:
        form = site.client.get("/app/login")
        set_cookie = _cookie_headers(form)["vereda_login_csrf"]
        assert ("Secure" in set_cookie) is secure
        # Sent by hand: a client rightly keeps a Secure cookie to itself over plain HTTP.
        site.client.cookies.clear()
        reply = site.client.post("/app/login", data={"username": USER, "password": PASSWORD,
                                                     "csrf_token": _csrf_in(form.text)},
                                 headers={"Cookie": set_cookie.split(";")[0]}, follow_redirects=False)
        assert reply.status_code == 303
        assert ("Secure" in _cookie_headers(reply)["vereda_session"]) is secure
    finally:
        site.close()


def test_wrong_password_unknown_user_and_disabled_account_get_one_answer(site: Site) -> None:
    from server.db import staff_accounts

    answers = [site.login(password="not the password"), site.login(username="nadie")]
    with site.sessions()() as session:
        staff_accounts.add_staff(session, "retirado", PASSWORD)
        staff_accounts.disable_staff(session, "retirado")
        session.commit()
    answers.append(site.login(username="retirado"))
    for reply in answers:
        assert reply.status_code == 401
        assert "Usuario o contraseña incorrectos" in reply.text
        assert "vereda_session" not in _cookie_headers(reply)
    echoed = site.login(username='"><script>alert(1)</script>')
    assert echoed.status_code == 401 and "<script>alert" not in echoed.text  # the name typed is shown escaped


def test_logged_out_visitors_go_to_login_and_the_api_answers_401(site: Site) -> None:
    from server.core import security

    first = site.client.get("/app", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/app/login"
    assert site.client.get("/", follow_redirects=False).headers["location"] == "/app"
    # A made-up (or ended) session with a matching CSRF token: the page's own call, but nobody is logged in.
    site.client.cookies.set("vereda_session", "made-up-session-id")
    refused = site.predict(security.csrf_token("made-up-session-id"))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "session_expired"
    stale = site.client.get("/app", follow_redirects=False)
    assert stale.headers["location"] == "/app/login?notice=session_ended"
    assert 'vereda_session=""' in _cookie_headers(stale)["vereda_session"]  # the stale cookie is dropped


def test_logout_ends_the_session_on_the_server(site: Site) -> None:
    site.login()
    stolen = site.client.cookies["vereda_session"]
    csrf = site.page_csrf()
    refused = site.client.post("/app/logout", data={}, follow_redirects=False)
    assert refused.status_code == 403 and site.predict(csrf).status_code == 200  # no token, no logout
    out = site.client.post("/app/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/app/login?notice=logged_out"
    site.client.cookies.set("vereda_session", stolen)  # a copy of the cookie is worth nothing now
    assert site.predict(csrf).status_code == 401
    assert site.client.get("/app", follow_redirects=False).status_code == 303


def test_disabling_an_account_or_a_new_password_ends_its_sessions(site: Site) -> None:
    from server.db import staff_accounts

    site.login()
    csrf = site.page_csrf()
    with site.sessions()() as session:
        staff_accounts.set_staff_password(session, USER, "otra clave bastante larga")
        session.commit()
    assert site.predict(csrf).status_code == 401
    site.login(password="otra clave bastante larga")
    csrf = site.page_csrf()
    with site.sessions()() as session:
        assert staff_accounts.disable_staff(session, USER)[1] == 1
        session.commit()
    assert site.predict(csrf).status_code == 401


@pytest.mark.parametrize("column", ["expires_at", "last_seen_at"])
def test_sessions_end_after_their_lifetime_and_when_idle(site: Site, column: str) -> None:
    from server.db.models import StaffSession

    site.login()
    csrf = site.page_csrf()
    assert site.predict(csrf).status_code == 200
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=13)
    with site.sessions()() as session:
        session.execute(update(StaffSession).values({column: past}))
        session.commit()
    assert site.predict(csrf).status_code == 401


def test_login_is_rate_limited_per_address_and_user(tmp_path: Path) -> None:
    site = Site(tmp_path, login_rate_per_minute=0.5, login_burst=2)
    try:
        assert site.login(password="wrong password 1").status_code == 401
        assert site.login(password="wrong password 2").status_code == 401
        limited = site.login()  # even the right password waits: the guesser must not learn it is right
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert "Demasiados intentos" in limited.text
    finally:
        site.close()


# --- CSRF and /v1/predict -----------------------------------------------------------------------------------------


def test_login_form_needs_its_double_submit_token(site: Site) -> None:
    site.client.get("/app/login")
    no_token = site.client.post("/app/login", data={"username": USER, "password": PASSWORD}, follow_redirects=False)
    assert no_token.status_code == 403 and "vereda_session" not in _cookie_headers(no_token)
    wrong = site.client.post("/app/login", data={"username": USER, "password": PASSWORD, "csrf_token": "x" * 43},
                             follow_redirects=False)
    assert wrong.status_code == 403
    site.client.cookies.clear()  # a cross-site form post: the token may be copied, the cookie is not sent
    copied = site.client.post("/app/login", data={"username": USER, "password": PASSWORD,
                                                  "csrf_token": _csrf_in(no_token.text)}, follow_redirects=False)
    assert copied.status_code == 403


def test_predict_with_the_session_cookie_needs_the_csrf_header(site: Site) -> None:
    site.login()
    csrf = site.page_csrf()
    for header in (None, "", "0" * 64):
        refused = site.predict(header)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    answer = site.predict(csrf)
    assert answer.status_code == 200 and answer.json()["severity"] == "ENFERMEDAD_AGUDA"
    bad = site.predict(csrf, {**CASE4, "age": 140})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "age"


def test_predict_answers_api_clients_as_before(tmp_path: Path) -> None:
    site = Site(tmp_path, predict_auth="device")
    try:
        anonymous = site.predict(None)
        assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "missing_token"
        site.login()  # a staff session is enough for the page, even when anonymous callers are refused
        assert site.predict(site.page_csrf()).status_code == 200
    finally:
        site.close()


def test_pages_carry_a_strict_content_security_policy(site: Site) -> None:
    login = site.client.get("/app/login")
    site.login()
    page = site.client.get("/app")
    for reply in (login, page):
        assert "script-src 'self'" in reply.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in reply.headers["content-security-policy"]
        assert reply.headers["cache-control"] == "no-store"
        assert reply.headers["x-frame-options"] == "DENY"
        assert "<script>" not in reply.text  # no inline script: the policy would block it anyway
    assert site.client.get("/app/static/consultation.js").status_code == 200
    english = site.client.get("/app?lang=en")
    assert 'lang="en"' in english.text and "Diagnose" in english.text
    assert "vereda_lang=en" in _cookie_headers(english)["vereda_lang"]
    assert 'lang="en"' in site.client.get("/app").text  # remembered


def test_the_page_offers_the_contract_v2_inputs(site: Site) -> None:
    """Pregnancy, AVPU, the IMCI-grouped signs and the measurements, with the contract's own codes and ranges."""
    from app.core.contract import AVPU, CONTRACT_VITALS, PREGNANCY_AGE, PREGNANCY_STATUSES
    from app.core.signs import signs

    def options(html: str, select_id: str) -> list[str]:
        match = re.search(rf'<select id="{select_id}".*?</select>', html, re.S)
        assert match, select_id
        return re.findall(r'<option value="([^"]*)"', match.group(0))

    site.login()
    html = site.client.get("/app").text
    assert options(html, "pregnancy-status") == ["", *PREGNANCY_STATUSES]  # "" = not asked: nothing is sent
    assert options(html, "consciousness") == ["", *AVPU]  # "" = not assessed
    assert options(html, "age-unit") == ["years", "months", "days"]
    vocabulary = signs()
    legends = re.findall(r'<legend data-sign-group-label="([a-z_]+)">', html)
    assert legends == [group for group, members in vocabulary.by_group() if members]  # IMCI's order
    boxes = re.findall(r'<input type="checkbox" name="signs" value="([a-z_]+)" id="sign-\1">', html)
    assert boxes == [s.code for _, members in vocabulary.by_group() for s in members]
    assert "Edema con fóvea en ambos pies" in html
    for key, (low, high) in CONTRACT_VITALS.items():
        assert html.count(f'id="v-{key}"') == 1, key  # once, even when the bundle lists it among its vitals
        assert re.search(rf'id="v-{key}"[^>]*min="{low}" max="{high}"', html), key
    data = json.loads(re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
                      .group(1))  # type: ignore[union-attr]
    assert data["contract"]["pregnancy_age"] == [int(x) for x in PREGNANCY_AGE]
    assert {v["key"] for v in data["vocabulary"]["vitals"]} >= set(CONTRACT_VITALS)
    english = site.client.get("/app?lang=en").text
    assert "Pitting oedema of both feet" in english and "Level of consciousness (AVPU)" in english
    assert "Weeks of pregnancy" in english and "Mid-upper arm circumference (MUAC)" in english


# --- a real server, on SQLite and PostgreSQL ----------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, start_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Server:
    if request.param == "sqlite":
        database = f"sqlite:///{tmp_path_factory.mktemp('web-sqlite') / 'vereda-server.db'}"
    else:
        database = create_pg_database(request.getfixturevalue("pg_admin_url"))
    return start_server(database)  # type: ignore[no-any-return]


def test_staff_log_in_diagnose_and_log_out_on_a_real_server(server: Server, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD, encoding="utf-8")
    assert run_cli("staff", "add", USER, "--password-file", str(secret), "--database", server.database).returncode == 0
    browser = requests.Session()
    form = browser.get(f"{server.url}/app/login", timeout=TIMEOUT)
    reply = browser.post(f"{server.url}/app/login", data={"username": USER, "password": PASSWORD,
                                                          "csrf_token": _csrf_in(form.text)},
                         allow_redirects=False, timeout=TIMEOUT)
    assert reply.status_code == 303
    csrf = _csrf_in(browser.get(f"{server.url}/app", timeout=TIMEOUT).text)
    answer = browser.post(f"{server.url}/v1/predict", json=CASE4, headers={"X-CSRF-Token": csrf}, timeout=TIMEOUT)
    assert answer.status_code == 200 and answer.json()["requires_immediate_attention"] is True
    assert browser.post(f"{server.url}/v1/predict", json=CASE4, timeout=TIMEOUT).status_code == 403
    assert requests.post(f"{server.url}/v1/predict", json=CASE4, timeout=TIMEOUT).status_code == 200  # API client
    kept = {"vereda_session": browser.cookies["vereda_session"]}
    out = browser.post(f"{server.url}/app/logout", data={"csrf_token": csrf}, timeout=TIMEOUT)
    assert out.status_code == 200 and out.url.endswith("/app/login?notice=logged_out")
    after = requests.post(f"{server.url}/v1/predict", json=CASE4, headers={"X-CSRF-Token": csrf}, cookies=kept,
                          timeout=TIMEOUT)
    assert after.status_code == 401  # a copy of the cookie kept past logout opens nothing
    listed = json.loads(run_cli("staff", "list", "--json", "--database", server.database).stdout)
    assert listed[0]["last_login_at"] is not None


def test_a_trusted_proxy_saying_https_gets_secure_cookies(start_server: Any,
                                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    database = f"sqlite:///{tmp_path_factory.mktemp('web-proxy') / 'vereda-server.db'}"
    server = start_server(database, args=["--forwarded-allow-ips", "127.0.0.1"])
    behind_tls = requests.get(f"{server.url}/app/login", headers={"X-Forwarded-Proto": "https"}, timeout=TIMEOUT)
    assert "Secure" in _cookie_headers(behind_tls)["vereda_login_csrf"]
    plain = requests.get(f"{server.url}/app/login", timeout=TIMEOUT)
    assert "Secure" not in _cookie_headers(plain)["vereda_login_csrf"]
