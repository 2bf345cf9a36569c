"""The browser page end to end: Debian's headless Chromium (Playwright) against a real `vereda-server serve`.

A doctor logs in, types the origin document's case 4 and reads the triage level first, then ENFERMEDAD AGUDA with the
attention flag, switches to English without losing the findings, gets a clear message next to a bad value, and a
phone-sized screen shows it all without sideways scrolling. Contract v2: a pregnant woman at 34 weeks with BP 168/112
and severe headache reads EMERGENCIA first (WHO's pre-eclampsia rule, not the model); the pregnancy box appears only
for women of 10 to 60; an infant's age typed in months or days is sent in years; NEWS2 and qSOFA show when computed.
A logged-out visitor is refused, and POSTs without the CSRF token are refused. Skipped, with the reason, when
Chromium or Playwright is missing (.ci/run installs Chromium).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.server.browser import PHONE, enter_case, log_in
from tests.server.helpers import CASE4, INFANT, PREECLAMPSIA, Server

pytestmark = pytest.mark.slow




def diagnose(page: Any) -> dict[str, Any]:
    """Press Diagnosticar and wait for the answer; returns the request body the page sent."""
    with page.expect_request(lambda r: r.url.split("?")[0].endswith("/v1/predict")) as sent:
        page.click("#diagnose")
    page.wait_for_selector("#state-banner[data-state]")
    return json.loads(sent.value.post_data)  # type: ignore[no-any-return]


def reads_triage_first(page: Any, level_words: str, state_words: str) -> None:
    """The triage level is the first thing of the answer, above the state, in colour and in words."""
    text = page.inner_text("#result-body")
    assert level_words in text and state_words in text
    assert text.index(level_words) < text.index(state_words), text[:300]
    triage = page.locator("#triage-banner").bounding_box()
    state = page.locator("#state-banner").bounding_box()
    assert triage is not None and state is not None and triage["y"] + triage["height"] <= state["y"]


def test_a_logged_out_visitor_is_sent_to_the_login_form(page: Any, site: Server) -> None:
    page.goto(f"{site.url}/app")
    assert page.url == f"{site.url}/app/login"
    assert page.is_visible("#password") and not page.is_visible("#consultation")
    reply = page.request.post(f"{site.url}/v1/predict", data=CASE4, headers={"X-CSRF-Token": "x"},
                              fail_on_status_code=False)
    assert reply.status == 200  # no session cookie: an API client, answered as before (predict is open)
    page.fill("#username", "dra.rojas")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    assert "Usuario o contraseña incorrectos" in page.inner_text("#login-notice")
    page.goto(f"{site.url}/app")
    assert page.url == f"{site.url}/app/login"


def test_case_4_reads_acute_illness_with_the_attention_flag(page: Any, site: Server) -> None:
    log_in(page, site.url)
    assert page.evaluate("document.documentElement.lang") == "es"
    enter_case(page, CASE4)
    assert page.inner_text("#entered-count") == "Síntomas ingresados: 3"
    assert diagnose(page) == {**CASE4, "vitals": {}}  # a v1 request: nothing of contract v2 is sent unasked
    # Chest pain with severe breathlessness is an emergency by rule, whatever the model says.
    assert page.get_attribute("#triage-banner", "data-level") == "EMERGENCIA"
    reads_triage_first(page, "EMERGENCIA", "ENFERMEDAD AGUDA")
    assert page.locator("#triage-reasons li").count() >= 1
    assert not page.is_visible("#scores")  # no vitals: neither NEWS2 nor qSOFA can be computed
    banner = page.locator("#state-banner")
    assert "ENFERMEDAD AGUDA" in banner.inner_text()
    assert banner.get_attribute("data-state") == "ENFERMEDAD_AGUDA"
    assert page.evaluate("getComputedStyle(document.getElementById('state-banner')).backgroundColor") \
        == "rgb(198, 40, 40)"  # #c62828, the desktop app's colour for AGUDA
    assert page.is_visible("#attention")
    assert "REQUIERE ATENCIÓN INMEDIATA" in page.inner_text("#attention")
    assert page.locator("#conditions li").count() >= 5
    assert "%" in page.inner_text("#conditions li >> nth=0")
    assert page.locator("#recommendations li").count() >= 1
    assert page.is_visible("#rare")  # a list, or the sentence that none fits
    assert page.locator("#chart .why-row").count() >= 3
    assert "Dolor torácico 7/10" in page.inner_text("#chart") or "7/10" in page.inner_text("#chart")
    page.select_option("#why-target", "condition")
    assert page.locator("#chart .why-row").count() >= 3
    assert "motor cloud" in page.inner_text("#model-line")


def test_switching_to_english_keeps_the_findings_and_the_answer(page: Any, site: Server) -> None:
    log_in(page, site.url)
    enter_case(page, CASE4)
    diagnose(page)
    page.click(".lang-switch a[data-lang=en]")
    page.locator("html[lang=en]").wait_for(state="attached")
    assert "Acute illness" in page.inner_text("#state-banner")
    assert page.inner_text("#triage-level") == "Emergency"
    assert page.inner_text("#triage-caption").upper() == "TRIAGE (WHO ETAT)"
    assert "NEEDS IMMEDIATE ATTENTION" in page.inner_text("#attention")
    assert page.inner_text("label[for=age]") == "Age (years)"
    assert page.input_value("#age") == "40" and page.input_value("#s-dificultad_respirar") == "9"
    assert page.inner_text("button#diagnose") == "Diagnose"
    page.reload()  # the choice is remembered
    assert page.inner_text("label[for=age]") == "Age (years)"
    page.click(".lang-switch a[data-lang=es]")
    page.locator("html[lang=es]").wait_for(state="attached")


def test_a_pregnant_woman_with_severe_pre_eclampsia_reads_emergencia_first(page: Any, site: Server) -> None:
    log_in(page, site.url)
    assert not page.is_visible("#pregnancy")  # nobody entered yet: no pregnancy box
    enter_case(page, PREECLAMPSIA)
    assert page.is_visible("#pregnancy-weeks") and not page.is_visible("#pregnancy-days")
    sent = diagnose(page)
    assert sent["pregnancy"] == {"status": "pregnant", "weeks": 34}
    assert sent["consciousness"] == "A" and sent["vitals"]["weight_kg"] == 71.5 and sent["age"] == 28
    assert "signs" not in sent  # none ticked
    assert page.get_attribute("#triage-banner", "data-level") == "EMERGENCIA"
    reads_triage_first(page, "EMERGENCIA", "ENFERMEDAD AGUDA")
    assert page.evaluate("getComputedStyle(document.getElementById('triage-banner')).backgroundColor") \
        == "rgb(183, 28, 28)"  # ETAT red (#b71c1c), and the word EMERGENCIA on it
    assert "preeclampsia grave" in page.inner_text("#triage-reasons")
    assert page.inner_text("#conditions li >> nth=0").startswith("Preeclampsia")
    # The input that reads pressure and pregnancy together, named with this patient's band, among the chart's bars.
    assert "PA embarazo/puerperio: ≥ 160/110" in page.inner_text("#chart")
    assert not page.is_visible("#scores")  # NEWS2 excludes pregnancy; qSOFA needs the breathing rate
    assert "REQUIERE ATENCIÓN INMEDIATA" in page.inner_text("#attention")
    page.click(".lang-switch a[data-lang=en]")
    page.locator("html[lang=en]").wait_for(state="attached")
    assert page.inner_text("#triage-level") == "Emergency"
    assert "severe pre-eclampsia" in page.inner_text("#triage-reasons")
    assert "BP pregnancy/postpartum: ≥ 160/110" in page.inner_text("#chart")
    assert page.inner_text("label[for=pregnancy-weeks]") == "Weeks of pregnancy"
    assert page.input_value("#pregnancy-weeks") == "34"
    page.click(".lang-switch a[data-lang=es]")
    page.locator("html[lang=es]").wait_for(state="attached")


def test_the_pregnancy_box_is_only_for_women_of_10_to_60(page: Any, site: Server) -> None:
    log_in(page, site.url)
    enter_case(page, {**PREECLAMPSIA, "sex": "M", "pregnancy": None})
    assert not page.is_visible("#pregnancy")
    page.check("input[name=sex][value=F]")
    assert page.is_visible("#pregnancy")
    page.select_option("#pregnancy-status", "postpartum")
    assert page.is_visible("#pregnancy-days") and not page.is_visible("#pregnancy-weeks")
    page.fill("#pregnancy-days", "5")
    for age, unit, shown in (("70", "years", False), ("9", "years", False), ("10", "years", True),
                             ("600", "months", True), ("800", "months", False), ("40", "days", False)):
        page.select_option("#age-unit", unit)
        page.fill("#age", age)
        assert page.is_visible("#pregnancy") is shown, (age, unit)
    # A woman of 70 once marked postpartum, or a man: the hidden box is not sent, so the answer is not a 422.
    page.select_option("#age-unit", "years")
    page.fill("#age", "70")
    assert "pregnancy" not in diagnose(page)
    page.fill("#age", "28")
    assert diagnose(page)["pregnancy"] == {"status": "postpartum", "days_since_delivery": 5}
    page.check("input[name=sex][value=M]")
    assert "pregnancy" not in diagnose(page)


def test_an_infant_s_age_in_months_or_days_is_sent_in_years(page: Any, site: Server) -> None:
    log_in(page, site.url)
    enter_case(page, INFANT, age_unit="months")
    assert page.inner_text("label[for=age]") == "Edad (meses)"
    assert page.inner_text("#signs-count") == "Signos marcados: 2"
    sent = diagnose(page)
    assert sent["age"] == 0.5
    assert sent["signs"] == ["unable_to_drink_or_breastfeed", "chest_indrawing"]
    assert sent["vitals"]["muac_mm"] == 121 and sent["consciousness"] == "A"
    # Two IMCI general danger signs: an emergency by rule.
    assert page.get_attribute("#triage-banner", "data-level") == "EMERGENCIA"
    reads_triage_first(page, "EMERGENCIA", "ENFERMEDAD AGUDA")
    assert not page.is_visible("#scores")  # NEWS2 and qSOFA are adult scores
    page.select_option("#age-unit", "days")
    page.fill("#age", "5")
    assert diagnose(page)["age"] == 5 / 365.25
    page.fill("#age", "50000")  # more than 120 years: said in days, before asking the service
    page.click("#diagnose")
    age_error = page.locator("[data-field=age] > .field-error")
    age_error.wait_for(state="visible")
    assert age_error.inner_text() == "Escriba una edad de 0 a 43830 días."
    page.click("#clear")
    assert page.inner_text("label[for=age]") == "Edad (años)" and page.inner_text("#signs-count") == \
        "Signos marcados: 0"


def test_news2_and_qsofa_show_when_computed(page: Any, site: Server) -> None:
    log_in(page, site.url)
    older = {"age": 70, "sex": "M", "consciousness": "A", "symptoms": {"fiebre": 6, "tos": 6, "dificultad_respirar": 5},
             "vitals": {"respiratory_rate": 24, "spo2": 93, "systolic_bp": 105, "diastolic_bp": 70, "heart_rate": 112,
                        "temperature_c": 38.5}}
    enter_case(page, older)
    diagnose(page)
    assert page.inner_text("#score-news2") == "NEWS2: 8 de 20"  # RCP 2017, see test_predict_v2.py
    assert page.inner_text("#score-qsofa") == "qSOFA: 1 de 3"
    reads_triage_first(page, "EMERGENCIA", "ENFERMEDAD AGUDA")


def test_a_bad_value_shows_a_clear_message_next_to_its_field(page: Any, site: Server) -> None:
    log_in(page, site.url)
    enter_case(page, {**CASE4, "age": 140})
    page.click("#diagnose")
    age_error = page.locator("[data-field=age] > .field-error")
    age_error.wait_for(state="visible")
    assert age_error.inner_text() == "«Edad (años)» debe estar entre 0 y 120; se recibió 140."
    assert page.get_attribute("#age", "aria-invalid") == "true"
    assert not page.is_visible("#result-body")

    page.fill("#age", "40")
    page.fill("#s-fatiga", "12")
    page.click("#diagnose")
    symptom_error = page.locator("[data-field='symptoms.fatiga'] > .field-error")
    symptom_error.wait_for(state="visible")
    assert "«Fatiga» debe estar entre 0 y 10" in symptom_error.inner_text()
    assert not page.is_visible("[data-field=age] > .field-error")  # the old message is gone

    page.click(".lang-switch a[data-lang=en]")  # the message is asked for again in English
    page.locator("[data-field='symptoms.fatiga'] > .field-error",
                 has_text="'Fatigue' must be between 0 and 10").wait_for()
    page.click(".lang-switch a[data-lang=es]")
    page.locator("html[lang=es]").wait_for(state="attached")

    page.fill("#s-fatiga", "")
    page.fill("#s-dolor_pecho", "")
    page.click("#diagnose")
    too_few = page.locator("[data-field=symptoms] > .field-error")
    too_few.wait_for(state="visible")
    assert "al menos 3 hallazgos" in too_few.inner_text()


def test_posts_without_the_csrf_token_are_refused(page: Any, site: Server) -> None:
    log_in(page, site.url)
    # The page's own session cookie goes with these requests (same origin), but not the token.
    status = page.evaluate("""async (body) => {
        const without = await fetch('/v1/predict', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                     body: JSON.stringify(body)});
        const answer = await without.json();
        return [without.status, answer.error.code];
    }""", CASE4)
    assert status == [403, "csrf_failed"]
    logout = page.request.post(f"{site.url}/app/logout", form={"csrf_token": "forged"}, fail_on_status_code=False,
                               max_redirects=0)
    assert logout.status == 403
    page.goto(f"{site.url}/app")
    assert page.url == f"{site.url}/app"  # still logged in: the forged logout did nothing
    fresh = page.context.browser.new_context()
    try:
        login = fresh.request.post(f"{site.url}/app/login", form={"username": "dra.rojas",
                                                                   "password": "la doctora de la vereda"},
                                   fail_on_status_code=False, max_redirects=0)
        assert login.status == 403  # the login form's token is missing
    finally:
        fresh.close()
    page.click("form.logout button")
    page.wait_for_url(f"{site.url}/app/login?notice=logged_out")
    page.goto(f"{site.url}/app")
    assert page.url == f"{site.url}/app/login"


def test_the_page_fits_a_390_px_phone(browser: Any, site: Server) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        log_in(page, site.url)
        width = "document.documentElement.scrollWidth"
        assert page.evaluate(width) <= PHONE["width"]
        page.fill("#symptom-search", "respir")
        assert page.is_visible("#s-dificultad_respirar") and not page.is_visible("#s-fiebre")
        page.fill("#symptom-search", "dolor de pecho")  # as a doctor says it: the little words do not hide it
        assert page.is_visible("#s-dolor_pecho") and not page.is_visible("#s-dolor_cabeza")
        page.fill("#symptom-search", "dificultad para respirar")
        assert page.is_visible("#s-dificultad_respirar") and not page.is_visible("#s-fiebre")
        page.fill("#symptom-search", "falta de aire")  # everyday words, and a plural, as on the desktop
        assert page.is_visible("#s-dificultad_respirar") and not page.is_visible("#s-fiebre")
        page.fill("#symptom-search", "vómitos")
        assert page.is_visible("#s-vomito") and not page.is_visible("#s-fiebre")
        page.fill("#symptom-search", "")
        enter_case(page, CASE4)
        diagnose(page)
        assert "ENFERMEDAD AGUDA" in page.inner_text("#state-banner")
        assert page.evaluate(width) <= PHONE["width"]
        box = page.locator("#state-banner").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        page.click("#clear")
        enter_case(page, PREECLAMPSIA)
        # Signs ticked as well: those of a woman of 28 (the page offers only the signs of the patient's age).
        enter_case(page, {**INFANT, "sex": "F", "age": 28, "signs": ["lethargic_or_unconscious", "cold_extremities"]},
                   age_unit="years")
        assert page.evaluate(width) <= PHONE["width"]
        diagnose(page)
        assert page.evaluate(width) <= PHONE["width"]
        for selector in ("#triage-banner", "#pregnancy", "fieldset.exam", "[data-field='vitals.muac_mm']"):
            box = page.locator(selector).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], selector
        assert page.inner_text("#triage-level") == "EMERGENCIA"
    finally:
        context.close()
