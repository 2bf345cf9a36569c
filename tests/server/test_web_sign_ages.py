"""The browser page offers the examination signs of the patient's age, as the desktop checklist does: Debian's headless
Chromium (Playwright) against a real `vereda-server serve`. A 78-year-old is not offered young-infant or
breastfeeding signs, a 1-month-old is; the list follows the age as it is typed (in years or months); a ticked sign
stays on screen and is sent, and the service accepts it. Skipped, with the reason, when Chromium or Playwright is
missing (.ci/run installs Chromium)."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.signs import signs
from tests.server.browser import log_in
from tests.server.helpers import Server
from tests.server.test_web_browser import diagnose

pytestmark = pytest.mark.slow

YOUNG_INFANT = ("movement_only_when_stimulated", "umbilicus_red_or_pus", "skin_pustules")
BREASTFEEDING = "unable_to_drink_or_breastfeed"


def shown(page: Any) -> set[str]:
    return {code for code in signs().codes if page.is_visible(f"#sign-{code}")}


def test_the_page_offers_the_signs_of_the_age_and_keeps_a_ticked_one(page: Any, site: Server) -> None:
    log_in(page, site.url)
    assert shown(page) == set(signs().codes)  # no age yet: every sign

    page.fill("#age", "78")
    assert shown(page) == {s.code for s in signs().for_age(78)}
    assert not shown(page) & {*YOUNG_INFANT, BREASTFEEDING, "grunting"}
    assert not page.is_visible("[data-sign-group=young_infant]")  # no empty heading either
    assert page.is_visible("#sign-convulsions_this_illness") and page.is_visible("#sign-lethargic_or_unconscious")

    page.select_option("#age-unit", "months")
    page.fill("#age", "1")
    assert {*YOUNG_INFANT, BREASTFEEDING, "grunting"} <= shown(page)
    assert page.is_visible("[data-sign-group=young_infant]")

    # Ticked at 1 month, then the age corrected to 78 years: the ticked sign stays, and is sent and accepted.
    page.check("#sign-umbilicus_red_or_pus")
    page.select_option("#age-unit", "years")
    page.fill("#age", "78")
    assert page.is_visible("#sign-umbilicus_red_or_pus") and page.is_checked("#sign-umbilicus_red_or_pus")
    assert not page.is_visible("#sign-skin_pustules") and not page.is_visible(f"#sign-{BREASTFEEDING}")
    page.check("input[name=sex][value=F]")
    for key, value in (("fiebre", 6), ("tos", 4), ("fatiga", 3)):
        page.fill(f"#s-{key}", str(value))
    sent = diagnose(page)
    assert sent["age"] == 78 and sent["signs"] == ["umbilicus_red_or_pus"]
    assert page.get_attribute("#triage-banner", "data-level") in ("NO_URGENTE", "PRIORITARIO", "EMERGENCIA")

    page.click("#clear")  # a new patient, no age: every sign again
    assert shown(page) == set(signs().codes)
