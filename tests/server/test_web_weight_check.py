"""The browser page asks to check a child's weight that WHO would flag as implausible for the age, as the desktop
screen does (tests/ui/test_weight_check.py): Debian's headless Chromium (Playwright) against a real
`vereda-server serve`. 40 kg at 14 months is answered and named under the weight box; 10,4 kg says nothing. Skipped,
with the reason, when Chromium or Playwright is missing (.ci/run installs Chromium)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.browser import log_in
from tests.server.helpers import Server
from tests.server.test_web_browser import diagnose

pytestmark = pytest.mark.slow


def test_a_toddler_weighed_at_40_kg_is_answered_and_asked_to_check_the_weight(page: Any, site: Server) -> None:
    log_in(page, site.url)
    page.select_option("#age-unit", "months")
    page.fill("#age", "14")
    page.check("input[name=sex][value=M]")
    for key, value in (("fiebre", 7), ("tos", 4), ("vomito", 5)):
        page.fill(f"#s-{key}", str(value))
    page.fill("#v-weight_kg", "40")
    diagnose(page)
    assert page.get_attribute("#triage-banner", "data-level") in ("NO_URGENTE", "PRIORITARIO", "EMERGENCIA")
    assert page.is_visible("#weight-check")
    text = page.inner_text("#weight-check")
    assert text.startswith("Revise el peso: 40 kg está muy lejos de lo posible a esta edad "
                           "(lo habitual, 7,6–12,2"), text

    page.click(".lang-switch a[data-lang=en]")  # the same answer, in English
    page.locator("html[lang=en]").wait_for(state="attached")
    assert page.inner_text("#weight-check").startswith("Check the weight: 40 kg")

    page.fill("#v-weight_kg", "10.4")  # corrected
    diagnose(page)
    assert not page.is_visible("#weight-check")
