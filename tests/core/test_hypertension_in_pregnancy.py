"""Hypertension from 20 weeks of pregnancy or after delivery is pre-eclampsia until proven otherwise (ACOG Practice
Bulletin 222, 2020; WHO 2011), not an urgency of chronic hypertension.

Bundle 2026.11.1 put a pregnant woman at 34 weeks with BP 168/112, headache 8/10, visual disturbance and nausea at
"hypertensive urgency" 92 % and pre-eclampsia 7 % (the doctor's guide's own screenshot): its knowledge base let
hypertensive urgencies be pregnant as often as any visitor, and its additive models read pregnancy and pressure only
apart, so the higher the pressure, the less pre-eclampsia. The triage was right (the severe pre-eclampsia rule); the
list of likely conditions under it was not. Through the engine as the consultation screen calls it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.core.cases import Cases
from app.core.contract import Pregnancy
from app.core.features import pregnancy_pressure, pregnancy_pressure_batch

PRE_ECLAMPSIA, HYPERTENSIVE_URGENCY = "O14", "I10"


def _first(engine, request: dict[str, Any]) -> str:
    answer = engine.diagnose(request, next_findings=False)
    assert answer["triage"]["level"] == "EMERGENCIA", answer["triage"]
    return str(answer["top_conditions"][0]["code"])


@pytest.mark.parametrize("symptoms", [{"dolor_cabeza": 8, "cambios_vision": 6, "edema": 5},
                                      {"dolor_cabeza": 7, "dolor_epigastrico": 6, "nausea": 4},
                                      {"dolor_cabeza": 7, "edema": 4, "fatiga": 3}])
@pytest.mark.parametrize("weeks", [26, 34])
def test_severe_range_pressure_in_late_pregnancy_is_pre_eclampsia_first(engine, symptoms, weeks) -> None:
    """Headache with visual disturbance and nausea, the migraine-like picture, is held to this at 34 weeks only
    (the guide's case below): at 26 weeks the models still give hypertensive urgency 44 %, migraine 29 %,
    pre-eclampsia 27 % (docs/model_card.md, Limitations)."""
    request = {"age": 29, "sex": "F", "duration_days": 1, "symptoms": symptoms,
               "vitals": {"systolic_bp": 168, "diastolic_bp": 112, "heart_rate": 96},
               "pregnancy": {"status": "pregnant", "weeks": weeks}}
    assert _first(engine, request) == PRE_ECLAMPSIA


def test_the_guides_pregnant_woman_is_pre_eclampsia_first(engine) -> None:
    """docs/screenshots/08-consulta-embarazo-emergencia.png, as scripts/screenshots.py enters her."""
    request = {"age": 29, "sex": "F", "duration_days": 1, "consciousness": "A",
               "symptoms": {"nausea": 3, "dolor_cabeza": 8, "cambios_vision": 5},
               "vitals": {"heart_rate": 96, "respiratory_rate": 18, "systolic_bp": 168, "diastolic_bp": 112,
                          "weight_kg": 72.5},
               "pregnancy": {"status": "pregnant", "weeks": 34}}
    assert _first(engine, request) == PRE_ECLAMPSIA


def test_after_delivery_it_is_pre_eclampsia_first(engine) -> None:
    request = {"age": 24, "sex": "F", "duration_days": 1, "symptoms": {"dolor_cabeza": 7, "edema": 4, "fatiga": 3},
               "vitals": {"systolic_bp": 165, "diastolic_bp": 110},
               "pregnancy": {"status": "postpartum", "days_since_delivery": 5}}
    assert _first(engine, request) == PRE_ECLAMPSIA


def test_the_same_pressure_outside_pregnancy_stays_a_hypertensive_urgency(engine) -> None:
    for who in ({"sex": "F", "pregnancy": {"status": "not_pregnant"}}, {"sex": "M"}):
        request = {"age": 52, "duration_days": 1, "symptoms": {"dolor_cabeza": 8, "cambios_vision": 5, "mareos": 4},
                   "vitals": {"systolic_bp": 190, "diastolic_bp": 118}, **who}
        assert _first(engine, request) == HYPERTENSIVE_URGENCY, who


def test_the_input_reads_the_setting_and_the_danger_sign_limits() -> None:
    late = Pregnancy("pregnant", weeks=20.0)
    assert pregnancy_pressure(late, systolic=139, diastolic=89) == 1.0
    assert pregnancy_pressure(late, systolic=140, diastolic=None) == 2.0
    assert pregnancy_pressure(late, systolic=None, diastolic=110) == 3.0
    assert np.isnan(pregnancy_pressure(late, systolic=None, diastolic=None))
    assert pregnancy_pressure(Pregnancy("pregnant", weeks=19.0), 170, 115) == 0.0  # before 20 weeks: chronic
    assert pregnancy_pressure(Pregnancy("pregnant"), 170, 115) == 0.0  # weeks not given: as the danger-sign rules read
    assert pregnancy_pressure(Pregnancy("postpartum", days_since_delivery=3.0), 150, 95) == 2.0
    assert pregnancy_pressure(None, 200, 130) == 0.0


def test_a_batch_reads_it_as_one_request_does(engine) -> None:
    pressures = [{}, {"systolic_bp": 120}, {"diastolic_bp": 95}, {"systolic_bp": 165, "diastolic_bp": 80}]
    pregnancies = [None, {"status": "pregnant", "weeks": 12}, {"status": "pregnant", "weeks": 30},
                   {"status": "postpartum", "days_since_delivery": 3}, {"status": "not_pregnant"}]
    requests = [engine.validate({"age": 30, "sex": "F", "symptoms": {"dolor_cabeza": 5, "fatiga": 3, "mareos": 2},
                                 "vitals": v, **({"pregnancy": p} if p else {})})
                for v in pressures for p in pregnancies]
    one = [pregnancy_pressure(r.pregnancy, r.vitals.get("systolic_bp"), r.vitals.get("diastolic_bp"))
           for r in requests]
    assert np.array_equal(pregnancy_pressure_batch(Cases(requests)), np.array(one), equal_nan=True)
    assert len(set(np.nan_to_num(one, nan=-1.0).tolist())) == 5  # every value met
