"""Take the screenshots of the browser page (docs/screenshots/web-*.png): desktop 1366x768 and a 390-px phone.

    .venv/bin/python scripts/web_screenshots.py [--out docs/screenshots]

Starts a real `vereda-server serve` on 127.0.0.1 with a throwaway SQLite database, makes a staff account with the
CLI, and drives Debian's headless Chromium (Playwright, `executable_path`) through login, the origin document's
case 4 with vital signs (NEWS2 and qSOFA computed), a pregnant woman at 34 weeks with severe pre-eclampsia (contract
v2: the pregnancy box, triage EMERGENCIA first), a 6-month-old with IMCI danger signs ticked (age in months), the
switch to English and a bad value. Nothing is mocked: the
pictures show what the page shows.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server.browser import DESKTOP, PHONE, chromium_path, enter_case, launch, log_in, staff_user  # noqa: E402
from tests.server.helpers import CASE4, INFANT, PREECLAMPSIA, Server  # noqa: E402

CASE = {**CASE4, "duration_days": 2, "consciousness": "A",
        "vitals": {"temperature_c": 37.2, "heart_rate": 118, "respiratory_rate": 28, "spo2": 91,
                   "systolic_bp": 100, "diastolic_bp": 64}}


def shoot(page: object, path: Path, **kwargs: object) -> None:
    page.screenshot(path=str(path), **kwargs)  # type: ignore[attr-defined]
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    executable = chromium_path()
    if executable is None:
        print("Chromium is not installed: apt-get install -y chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vereda-web-shots-") as tmp:
        workdir = Path(tmp)
        database = f"sqlite:///{workdir / 'vereda-server.db'}"
        staff_user(database, workdir)
        server = Server(database, workdir)
        try:
            with sync_playwright() as playwright:
                browser = launch(playwright, executable)

                phone = browser.new_page(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True)
                phone.goto(f"{server.url}/app/login")
                shoot(phone, args.out / "web-phone-login.png")
                log_in(phone, server.url)
                shoot(phone, args.out / "web-phone-form.png")
                enter_case(phone, CASE)
                phone.click("#diagnose")
                phone.wait_for_selector("#state-banner[data-state]")
                shoot(phone, args.out / "web-phone-result.png", full_page=False)
                shoot(phone.locator("#result"), args.out / "web-phone-result-full.png")
                phone.fill("#v-spo2", "130")
                phone.click("#diagnose")
                phone.wait_for_selector("[data-field='vitals.spo2'] .field-error:not([hidden])")
                shoot(phone, args.out / "web-phone-error.png")

                phone.click("#clear")
                enter_case(phone, PREECLAMPSIA)
                phone.evaluate("document.getElementById('consultation').scrollIntoView()")
                shoot(phone, args.out / "web-phone-pregnancy.png")
                phone.click("#diagnose")
                phone.wait_for_selector("#triage-banner[data-level]")
                shoot(phone, args.out / "web-phone-triage.png")

                phone.click("#clear")
                enter_case(phone, INFANT, age_unit="months")
                phone.evaluate("document.querySelector('fieldset.exam').scrollIntoView()")
                shoot(phone, args.out / "web-phone-signs.png")

                desktop = browser.new_page(viewport=DESKTOP, device_scale_factor=1)
                log_in(desktop, server.url)
                enter_case(desktop, CASE)
                desktop.click("#diagnose")
                desktop.wait_for_selector("#state-banner[data-state]")
                desktop.evaluate("window.scrollTo(0, 0)")  # typing scrolled the findings; show the top
                shoot(desktop, args.out / "web-desktop-es.png")
                desktop.click(".lang-switch a[data-lang=en]")
                desktop.locator("html[lang=en]").wait_for(state="attached")
                shoot(desktop, args.out / "web-desktop-en.png")
                desktop.click(".lang-switch a[data-lang=es]")
                desktop.locator("html[lang=es]").wait_for(state="attached")
                desktop.click("#clear")
                enter_case(desktop, PREECLAMPSIA)
                desktop.click("#diagnose")
                desktop.wait_for_selector("#triage-banner[data-level]")
                desktop.evaluate("window.scrollTo(0, 0)")
                shoot(desktop, args.out / "web-desktop-pregnancy-es.png")
                browser.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
