"""Headless Chromium for the browser page's tests and screenshots: Debian's `chromium`, driven by Playwright.

Playwright's own browser download is never used (`playwright install` needs a network this project does not have);
the system browser is launched by path with flags that keep it off the network and quiet. `staff_user` makes a
staff account through the real CLI, and `log_in` fills the real login form.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from tests.server.helpers import run_cli

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
STAFF_USER, STAFF_PASSWORD = "dra.rojas", "la doctora de la vereda"


def chromium_path() -> str | None:
    """The system Chromium, or None when it is not installed (`VEREDA_CHROMIUM` overrides)."""
    override = os.environ.get("VEREDA_CHROMIUM")
    if override:
        return override if Path(override).exists() else None
    for path in CHROMIUM_PATHS:
        if Path(path).exists():
            return path
    found = shutil.which("chromium")
    return found


def launch(playwright: Any, executable: str) -> Any:
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)


def staff_user(database: str, workdir: Path, username: str = STAFF_USER, password: str = STAFF_PASSWORD) -> None:
    secret = workdir / f"{username}.password"
    secret.write_text(password + "\n", encoding="utf-8")
    secret.chmod(0o600)
    done = run_cli("staff", "add", username, "--password-file", str(secret), "--database", database)
    assert done.returncode == 0, done.stderr
    secret.unlink()


def log_in(page: Any, base_url: str, username: str = STAFF_USER, password: str = STAFF_PASSWORD,
           lang: str | None = None) -> None:
    page.goto(f"{base_url}/app/login" + (f"?lang={lang}" if lang else ""))
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/app")
    page.wait_for_selector("#consultation")


def enter_case(page: Any, case: dict[str, Any], age_unit: str = "years") -> None:
    """Type a diagnose request into the consultation form, as a doctor would.

    `case["age"]` is typed as it stands, in `age_unit` (years, months or days: the page converts). Contract v2 fields
    (`pregnancy`, `consciousness`, `signs`, the measurements among `vitals`) are entered as well.
    """
    page.select_option("#age-unit", age_unit)
    page.fill("#age", str(case["age"]))
    page.check(f"input[name=sex][value={case['sex']}]")
    if "duration_days" in case:
        page.fill("#duration_days", str(case["duration_days"]))
    for key, value in case.get("symptoms", {}).items():
        page.fill(f"#s-{key}", str(value))
    for key, value in case.get("vitals", {}).items():
        page.fill(f"#v-{key}", str(value))
    pregnancy = case.get("pregnancy")
    if pregnancy:
        page.select_option("#pregnancy-status", pregnancy["status"])
        if "weeks" in pregnancy:
            page.fill("#pregnancy-weeks", str(pregnancy["weeks"]))
        if "days_since_delivery" in pregnancy:
            page.fill("#pregnancy-days", str(pregnancy["days_since_delivery"]))
    if "consciousness" in case:
        page.select_option("#consciousness", case["consciousness"])
    for code in case.get("signs", []):
        page.check(f"#sign-{code}")
