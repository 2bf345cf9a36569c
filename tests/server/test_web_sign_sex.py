"""The browser page offers the examination signs of the patient's sex as well as age, as the desktop checklist does:
Debian's headless Chromium (Playwright) against a real `vereda-server serve`. A man is not offered vaginal bleeding,
a woman is; the list follows the sex as the doctor clicks it; a ticked sign stays on screen and is sent, and the
service accepts it. Skipped, with the reason, when Chromium or Playwright is missing (.ci/run installs Chromium)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.core.signs import signs
from tests.server.browser import log_in
from tests.server.helpers import Server
from tests.server.test_web_browser import diagnose

pytestmark = pytest.mark.slow

VAGINAL_BLEEDING = "vaginal_bleeding"


def shown(page: Any) -> set[str]:
    return {code for code in signs().codes if page.is_visible(f"#sign-{code}")}


def test_the_page_carries_each_signs_sex(page: Any, site: Server) -> None:
    log_in(page, site.url)
    data = json.loads(page.text_content("#page-data"))
    sexes = {s["code"]: s["sex"] for group in data["vocabulary"]["signs"] for s in group["signs"]}
    assert sexes == {s.code: s.sex for s in signs().signs}  # null: every sex
    assert sexes[VAGINAL_BLEEDING] == "F" and sexes["grunting"] is None


def test_the_page_offers_the_signs_of_the_sex_and_keeps_a_ticked_one(page: Any, site: Server) -> None:
    log_in(page, site.url)
    assert shown(page) == set(signs().codes)  # no age nor sex yet: every sign

    page.check("input[name=sex][value=M]")
    assert not page.is_visible(f"#sign-{VAGINAL_BLEEDING}")
    assert shown(page) == {s.code for s in signs().for_patient(None, "M")}
    page.fill("#age", "25")  # an age change keeps the sex's filter
    assert shown(page) == {s.code for s in signs().for_patient(25, "M")}
    assert page.is_visible("#sign-mucosal_bleeding")  # the rest of its group stays

    page.check("input[name=sex][value=F]")  # the sex was a slip: the list follows at once
    assert page.is_visible(f"#sign-{VAGINAL_BLEEDING}")
    assert shown(page) == {s.code for s in signs().for_patient(25, "F")}

    # Ticked for a woman, then the sex corrected to M: the ticked sign stays, and is sent and accepted.
    page.check(f"#sign-{VAGINAL_BLEEDING}")
    page.check("input[name=sex][value=M]")
    assert page.is_visible(f"#sign-{VAGINAL_BLEEDING}") and page.is_checked(f"#sign-{VAGINAL_BLEEDING}")
    for key, value in (("dolor_abdominal", 7), ("nausea", 4)):
        page.fill(f"#s-{key}", str(value))
    sent = diagnose(page)
    assert sent["sex"] == "M" and sent["signs"] == [VAGINAL_BLEEDING]
    assert page.get_attribute("#triage-banner", "data-level") in ("NO_URGENTE", "PRIORITARIO", "EMERGENCIA")

    page.click("#clear")  # a new patient, no age nor sex: every sign again
    assert shown(page) == set(signs().codes)
