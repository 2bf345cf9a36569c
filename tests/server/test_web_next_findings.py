""""Si puede, mida / pregunte:" on the browser page (issue 19): Debian's headless Chromium against a real
`vereda-server serve`, as in test_web_browser.py.

A cough with fever and fast breathing but no SpO2: under the likely conditions the page lists what /v1/predict
proposes, SpO2 first, each item pointing at (and focusing) its own input; 86 typed there re-diagnoses at once and
the answer reads EMERGENCIA, with the note that care must not wait over whatever is still proposed. English too.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.browser import enter_case, log_in
from tests.server.helpers import Server
from tests.server.test_web_browser import diagnose  # the server, Chromium and page fixtures: conftest.py

pytestmark = pytest.mark.slow

FEW_VITALS = {"temperature_c": 38.9, "heart_rate": 100, "respiratory_rate": 24}
# Every vital but SpO2: what is left to measure is SpO2, far ahead of any question.
COUGH_WITHOUT_SPO2 = {"age": 45, "sex": "M", "symptoms": {"tos": 7, "fiebre": 8, "dificultad_respirar": 6},
                      "vitals": {**FEW_VITALS, "systolic_bp": 120, "diastolic_bp": 80, "glucose_mg_dl": 100,
                                 "capillary_refill_s": 1.5}}
INPUT_ID = {"vital": "v-{}", "symptom": "s-{}", "sign": "sign-{}"}


def items(tab: Any) -> list[dict[str, str]]:
    """The list's items as the page shows them: finding, kind, the input they point at, their text and why."""
    return tab.eval_on_selector_all("#next-findings-list .next-item", """buttons => buttons.map(b => ({
        finding: b.dataset.finding, kind: b.dataset.kind, controls: b.getAttribute("aria-controls"),
        text: b.textContent, why: b.nextElementSibling.textContent}))""")


def test_the_list_points_at_inputs_and_spo2_86_makes_it_an_emergency(page: Any, site: Server) -> None:
    log_in(page, site.url)
    enter_case(page, COUGH_WITHOUT_SPO2)
    with page.expect_response(lambda r: r.url.split("?")[0].endswith("/v1/predict")) as replied:
        diagnose(page)
    proposed = replied.value.json()["next_findings"]
    assert page.get_attribute("#triage-banner", "data-level") != "EMERGENCIA"
    assert page.is_visible("#next-findings")
    assert page.inner_text("#next-findings-title") == "Si puede, mida / pregunte:"
    assert not page.is_visible("#next-findings-note")
    shown = items(page)
    assert [(i["kind"], i["finding"]) for i in shown] == [(p["kind"], p["finding"]) for p in proposed]
    assert shown[0]["finding"] == "spo2" and "SpO2" in shown[0]["text"]
    assert shown[0]["why"] == proposed[0]["why"]["es"]
    for item in shown:  # every item names an input that exists on the page
        expected = "pregnancy-status" if item["kind"] == "pregnancy" else INPUT_ID[item["kind"]].format(item["finding"])
        assert item["controls"] == expected
        assert page.locator(f"#{expected}").count() == 1
    # Under the answer: the triage level and the likely conditions come first.
    conditions = page.locator("#conditions").bounding_box()
    box = page.locator("#next-findings").bounding_box()
    assert conditions is not None and box is not None and conditions["y"] + conditions["height"] <= box["y"]

    page.click("#next-findings-list .next-item >> nth=0")
    assert page.evaluate("document.activeElement.id") == "v-spo2"
    with page.expect_response(lambda r: r.url.split("?")[0].endswith("/v1/predict")) as replied:
        page.keyboard.type("86")
        page.keyboard.press("Tab")  # leaving the box is enough: no "Diagnosticar"
    assert replied.value.request.post_data_json["vitals"]["spo2"] == 86
    proposed = replied.value.json()["next_findings"]
    page.wait_for_selector("#triage-banner[data-level=EMERGENCIA]")
    after = items(page)
    assert [i["finding"] for i in after] == [p["finding"] for p in proposed]
    assert all(i["finding"] != "spo2" for i in after) and len(after) <= 3
    if after:  # under the note that care comes first (said once), each item's own "why"
        assert page.is_visible("#next-findings-note")
        assert "EMERGENCIA" in page.inner_text("#next-findings-note")
        for item, given in zip(after, proposed, strict=True):
            assert item["why"] and given["why"]["es"].endswith(item["why"])

    page.click(".lang-switch a[data-lang=en]")
    page.locator("html[lang=en]").wait_for(state="attached")
    assert page.inner_text("#next-findings-title") == "If you can, measure / ask:"
    page.click(".lang-switch a[data-lang=es]")
    page.locator("html[lang=es]").wait_for(state="attached")


def test_a_sign_item_ticks_through_its_checkbox_and_re_diagnoses(page: Any, site: Server) -> None:
    log_in(page, site.url)
    # A boy of 4, few vitals: the examination signs weigh more here, and chest indrawing is IMCI's sign of a child
    # (signs.toml's ages: never proposed at 45).
    enter_case(page, {**COUGH_WITHOUT_SPO2, "age": 4, "vitals": FEW_VITALS})
    diagnose(page)
    shown = items(page)
    signs = [i for i, item in enumerate(shown) if item["kind"] == "sign"]
    assert signs, shown
    code = shown[signs[0]]["finding"]
    page.click(f"#next-findings-list .next-item >> nth={signs[0]}")
    assert page.evaluate("document.activeElement.id") == f"sign-{code}"
    with page.expect_request(lambda r: r.url.split("?")[0].endswith("/v1/predict")) as sent:
        page.keyboard.press("Space")
    assert code in sent.value.post_data_json["signs"]
    page.locator(f'#next-findings-list [data-finding="{code}"]').wait_for(state="detached")  # the new answer's list
