"""The browser page's state banner never puts the model's confidence in one state beside another state, as the
desktop banner (tests/ui/test_state_banner.py): Debian's headless Chromium (Playwright) against a real
`vereda-server serve`. A mild cold in a 40-year-old, then SpO2 86 %: the danger sign raises the state to
ENFERMEDAD_AGUDA, and the banner says the triage set it and which state the model's own percentage belongs to.
Skipped, with the reason, when Chromium or Playwright is missing (.ci/run installs Chromium)."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.vocabulary import STATE_LABELS
from tests.server.browser import log_in
from tests.server.helpers import Server
from tests.server.test_web_browser import diagnose

pytestmark = pytest.mark.slow


def answer(page: Any) -> dict[str, Any]:
    """Press Diagnosticar and return the service's answer, as the page received it."""
    with page.expect_response(lambda r: r.url.split("?")[0].endswith("/v1/predict")) as reply:
        diagnose(page)
    return reply.value.json()  # type: ignore[no-any-return]


def test_a_state_raised_by_the_triage_names_the_models_own_state(page: Any, site: Server) -> None:
    log_in(page, site.url)
    page.fill("#age", "40")
    page.check("input[name=sex][value=F]")
    for key, value in (("tos", 3), ("dolor_garganta", 4), ("congestion_nasal", 3)):
        page.fill(f"#s-{key}", str(value))
    plain = answer(page)
    assert plain["triage"]["level"] != "EMERGENCIA"
    probabilities = plain["severity_probabilities"]
    assert plain["severity"] == max(probabilities, key=probabilities.get)  # nothing raised: the plain banner
    assert page.inner_text("#state-banner") == (
        f"{STATE_LABELS[plain['severity']]['es']} — confianza del modelo {round(100 * plain['confidence'])}\u00a0%")

    page.fill("#v-spo2", "86")  # SpO2 <= 91: a danger sign (NEWS2, IMCI)
    raised = answer(page)
    assert raised["triage"]["level"] == "EMERGENCIA" and raised["severity"] == "ENFERMEDAD_AGUDA"
    probabilities = raised["severity_probabilities"]
    own = max(probabilities, key=probabilities.get)
    assert own != "ENFERMEDAD_AGUDA"  # the model alone would not call it acute: the triage raised it
    page.wait_for_function("document.getElementById('state-banner').textContent.includes('por el triaje')")
    assert page.inner_text("#state-banner") == (
        f"ENFERMEDAD AGUDA (por el triaje) — el modelo solo: {STATE_LABELS[own]['es']}, "
        f"{round(100 * raised['confidence'])}\u00a0%")

    page.click(".lang-switch a[data-lang=en]")  # the same answer, in English
    page.locator("html[lang=en]").wait_for(state="attached")
    text = page.inner_text("#state-banner")
    assert "(set by the triage)" in text and STATE_LABELS[own]["en"] in text, text
