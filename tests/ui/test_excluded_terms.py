"""The consultation screen's "Otros hallazgos, HPO" tab: a finding marked absent goes to `excluded_hpo_terms`,
changes the rare-disease ranking, is shown struck through, and survives saving the consultation (real SQLCipher)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from app.ui.qt import Qt

MARFAN = "ORPHA:558"
ARACHNODACTYLY = "HP:0001166"
QUERIES = ("talla alta", "raiz aort", "prolapso mitral", "aracnodact")  # the last one will be marked absent


def add_terms(qtbot: Any, screen: Any) -> None:
    qtbot.waitUntil(lambda: screen.terms is not None, timeout=20_000)
    screen.findings_tabs.setCurrentWidget(screen.hpo_box)
    for query in QUERIES:
        screen.hpo_search.setText(query)
        assert screen.hpo_results.count() > 0, query
        qtbot.keyClick(screen.hpo_search, Qt.Key.Key_Return)


def row_of(screen: Any, hpo: str) -> Any:
    chosen = screen.hpo_chosen
    return next(chosen.item(i) for i in range(chosen.count()) if chosen.item(i).data(Qt.ItemDataRole.UserRole) == hpo)


def tick_absent(qtbot: Any, screen: Any, hpo: str) -> None:
    """As the doctor does it: select the row and press Space, which ticks its box."""
    item = row_of(screen, hpo)
    screen.hpo_chosen.setCurrentItem(item)
    screen.hpo_chosen.setFocus()
    qtbot.keyClick(screen.hpo_chosen, Qt.Key.Key_Space)


def diagnose(qtbot: Any, screen: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    with qtbot.waitSignal(screen.diagnosed, timeout=20_000) as blocker:
        screen.diagnose()
    request, response = blocker.args
    return request, response


def test_a_finding_marked_absent_reaches_the_engine_and_sinks_marfan(qtbot, consultation_screen, tmp_path):
    screen = consultation_screen
    screen.age.set_years(19)
    add_terms(qtbot, screen)
    assert ARACHNODACTYLY in screen.chosen_terms()
    request, response = diagnose(qtbot, screen)
    assert "excluded_hpo_terms" not in request
    assert response["rare_diseases"][0]["orpha_code"] == MARFAN

    tick_absent(qtbot, screen, ARACHNODACTYLY)
    item = row_of(screen, ARACHNODACTYLY)
    assert item.checkState() == Qt.CheckState.Checked
    assert item.text().endswith("(ausente)") and item.font().strikeOut()
    assert ARACHNODACTYLY not in screen.chosen_terms()
    assert screen.hpo_box.absent_terms() == [ARACHNODACTYLY]
    assert screen.answer_is_stale()  # the answer on screen was given with the finding present
    assert "(4)" in screen.findings_tabs.tabText(screen.findings_tabs.indexOf(screen.hpo_box))
    if os.environ.get("VEREDA_SCREENSHOT_DIR"):  # a look at the tab (xvfb-run), not part of what the test checks
        screen.grab().save(str(Path(os.environ["VEREDA_SCREENSHOT_DIR"]) / "hpo_absent.png"))

    request, response = diagnose(qtbot, screen)
    assert request["excluded_hpo_terms"] == [ARACHNODACTYLY]
    assert ARACHNODACTYLY not in request["hpo_terms"]
    rare = response["rare_diseases"]
    assert rare[0]["orpha_code"] != MARFAN
    assert all(ARACHNODACTYLY not in e["matched_terms"] + e["unexplained_terms"] for e in rare)

    # Unticking it makes it present again: the ranking comes back.
    item.setCheckState(Qt.CheckState.Unchecked)
    assert not item.font().strikeOut() and "(ausente)" not in item.text()
    request, response = diagnose(qtbot, screen)
    assert "excluded_hpo_terms" not in request and response["rare_diseases"][0]["orpha_code"] == MARFAN


def test_a_saved_consultation_keeps_the_absent_finding(qtbot, consultation_screen, engine, tmp_path):
    from tests.store.conftest import add_named_patient, make_clinic

    screen = consultation_screen
    screen.age.set_years(19)
    add_terms(qtbot, screen)
    tick_absent(qtbot, screen, ARACHNODACTYLY)
    request, response = diagnose(qtbot, screen)
    assert request["excluded_hpo_terms"] == [ARACHNODACTYLY]

    clinic = make_clinic(tmp_path / "clinic")
    with clinic.doctor() as store:
        patient = add_named_patient(store)
        saved = store.encounters.record(patient.id, request=request, response=response, final_code="ORPHA:558")
    with clinic.doctor() as store:  # unlocked again: read back from the encrypted database
        stored = store.encounters.get(saved.id)
    assert stored.request == request

    # Opened again on a clean screen, as the patient's history opens it: the term is back, ticked, and the answer on
    # screen is not stale (the findings are those it was given for).
    screen.clear()
    assert screen.hpo_box.absent_terms() == []
    screen.open_record({"id": stored.id, "status": stored.status, "request": stored.request,
                        "response": stored.response, "final_code": stored.final_code, "notes": ""})
    assert screen.session.findings.excluded_hpo_terms == (ARACHNODACTYLY,)
    assert screen.hpo_box.absent_terms() == [ARACHNODACTYLY]
    assert row_of(screen, ARACHNODACTYLY).font().strikeOut()
    assert screen.request() == request and not screen.answer_is_stale()
