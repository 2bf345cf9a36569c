"""Contract v2: pregnancy, AVPU, examination signs, the new vitals; triage, scores; v1 requests unchanged in kind.

The CLI cases run `vereda diagnose` as a real process, as scripts and IT staff use it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from app.core import scores
from app.core.contract import ContractError
from app.core.red_flags import RULES
from app.core.signs import signs

V1 = {"age": 40, "sex": "F", "symptoms": {"dolor_pecho": 7, "dificultad_respirar": 9, "fatiga": 8}}
OLD_VIGNETTES = Path(__file__).with_name("vignettes.toml")
REQUIRED_SIGNS = {"unable_to_drink_or_breastfeed", "vomits_everything", "convulsions_this_illness",
                  "lethargic_or_unconscious", "chest_indrawing", "stridor", "sunken_eyes", "skin_pinch_very_slow",
                  "bilateral_pitting_oedema", "severe_palmar_pallor", "non_blanching_rash", "mucosal_bleeding",
                  "vaginal_bleeding", "severe_dehydration"}


def with_(**changes: Any) -> dict[str, Any]:
    return {**V1, **changes}


def test_the_sign_vocabulary_has_the_required_signs_each_with_a_source() -> None:
    vocabulary = signs()
    assert vocabulary.codes >= REQUIRED_SIGNS
    for sign in vocabulary.signs:
        assert sign.source.strip() and sign.label["es"] and sign.label["en"], sign.code
    assert all(rule.source.strip() for rule in RULES)


def test_a_v1_request_gets_a_v2_answer(engine) -> None:
    r = engine.diagnose(V1)
    assert r["contract"] == 2
    assert set(r["triage"]) == {"level", "label", "reasons"}
    assert r["triage"]["label"]["es"] and r["triage"]["label"]["en"]
    assert r["triage"]["reasons"], "an emergency says why"
    assert set(r["scores"]) == {"news2", "qsofa"}
    assert r["scores"]["news2"] is None  # no vitals: not computable, not zero


def test_flag_triage_and_state_always_agree(engine) -> None:
    """Over the old vignettes, the origin cases and every v2 input kind, the three say the same thing."""
    requests = [v["request"] for v in tomllib.loads(OLD_VIGNETTES.read_text(encoding="utf-8"))["vignette"]]
    requests += [
        with_(signs=["chest_indrawing"], age=1.5, sex="M"),
        with_(pregnancy={"status": "pregnant", "weeks": 34}, vitals={"systolic_bp": 150, "diastolic_bp": 95}),
        with_(consciousness="V"), with_(age=0.014), with_(symptoms={"dolor_abdominal": 9, "nausea": 5, "fiebre": 4}),
    ]
    levels = set()
    for raw in requests:
        r = engine.diagnose(raw)
        emergency = r["triage"]["level"] == "EMERGENCIA"
        assert r["requires_immediate_attention"] is emergency, raw
        assert (r["severity"] == "ENFERMEDAD_AGUDA") is emergency, raw
        levels.add(r["triage"]["level"])
    assert levels == {"EMERGENCIA", "PRIORITARIO", "NO_URGENTE"}


def test_an_acute_abdomen_is_priority_and_its_state_agrees(engine) -> None:
    # Before v2 the ACUTE_ABDOMEN flag was raised while the state said ENFERMEDAD LEVE.
    r = engine.diagnose({"age": 19, "sex": "M", "duration_days": 1,
                         "symptoms": {"dolor_abdominal": 8, "nausea": 5, "fiebre": 3}})
    codes = {f["code"]: f["level"] for f in r["red_flags"]}
    assert codes["ACUTE_ABDOMEN"] == "PRIORITARIO"
    assert r["triage"]["level"] in ("PRIORITARIO", "EMERGENCIA")
    assert (r["severity"] == "ENFERMEDAD_AGUDA") == (r["triage"]["level"] == "EMERGENCIA")


@pytest.mark.parametrize(
    ("extra", "level", "code"),
    [
        ({"age": 0.5, "vitals": {"heart_rate": 55}}, "EMERGENCIA", "HEART_RATE_LOW"),
        ({"age": 2, "signs": ["unable_to_drink_or_breastfeed"]}, "EMERGENCIA", "IMCI_DANGER_SIGN"),
        ({"age": 3, "signs": ["vomits_everything"]}, "EMERGENCIA", "IMCI_DANGER_SIGN"),
        ({"age": 0.05, "signs": ["movement_only_when_stimulated"]}, "EMERGENCIA", "YOUNG_INFANT_SERIOUS_INFECTION"),
        ({"age": 1, "signs": ["stridor"]}, "EMERGENCIA", "AIRWAY_BREATHING"),
        ({"age": 2, "signs": ["chest_indrawing"]}, "PRIORITARIO", "CHEST_INDRAWING"),
        ({"age": 2, "vitals": {"muac_mm": 110}}, "PRIORITARIO", "SEVERE_ACUTE_MALNUTRITION"),
        ({"age": 4, "signs": ["cold_extremities", "weak_fast_pulse"], "vitals": {"capillary_refill_s": 4}},
         "EMERGENCIA", "SHOCK"),
        ({"pregnancy": {"status": "pregnant", "weeks": 34}, "vitals": {"systolic_bp": 168, "diastolic_bp": 112}},
         "EMERGENCIA", "PRE_ECLAMPSIA_SEVERE"),
        ({"pregnancy": {"status": "pregnant", "weeks": 30}, "vitals": {"systolic_bp": 145, "diastolic_bp": 92}},
         "PRIORITARIO", "HYPERTENSION_IN_PREGNANCY"),
        ({"pregnancy": {"status": "pregnant", "weeks": 7}, "signs": ["vaginal_bleeding"]}, "EMERGENCIA",
         "OBSTETRIC_BLEEDING"),
        ({"vitals": {"systolic_bp": 90, "diastolic_bp": 75}}, "EMERGENCIA", "PULSE_PRESSURE_NARROW"),
        ({"age": 68, "vitals": {"glucose_mg_dl": 42}}, "EMERGENCIA", "HYPOGLYCAEMIA_SEVERE"),
        ({"consciousness": "P"}, "EMERGENCIA", "UNRESPONSIVE"),
        ({"signs": ["fang_marks"]}, "EMERGENCIA", "SNAKEBITE"),
    ],
)
def test_danger_signs_set_their_level(engine, extra: dict[str, Any], level: str, code: str) -> None:
    # Benign complaints, so the rule (not the symptoms) decides.
    raw = {"age": 30, "sex": "F", "symptoms": {"congestion_nasal": 3, "dolor_garganta": 2, "tos": 2}, **extra}
    r = engine.diagnose(raw)
    fired = {f["code"]: f["level"] for f in r["red_flags"]}
    assert fired.get(code) == level, (code, fired)
    assert r["triage"]["level"] == level or (level == "PRIORITARIO" and r["triage"]["level"] == "EMERGENCIA")
    assert any(reason["code"] == code for reason in r["triage"]["reasons"]) or r["triage"]["level"] != level


def test_an_infants_normal_vitals_fire_no_danger_sign(engine) -> None:
    # A 6-month-old with a cold: HR 140 and RR 42 are normal for her age (Fleming 2011).
    r = engine.diagnose({"age": 0.5, "sex": "F", "duration_days": 2,
                         "symptoms": {"congestion_nasal": 5, "tos": 3, "fiebre": 2},
                         "vitals": {"heart_rate": 140, "respiratory_rate": 42, "temperature_c": 37.6}})
    rule_levels = {f["level"] for f in r["red_flags"] if not f["code"].startswith("MODEL")}
    assert "EMERGENCIA" not in rule_levels, r["red_flags"]


def test_news2_is_computed_exactly_as_published() -> None:
    from app.core.contract import validate_request
    from app.core.engine import DiagnosisEngine

    vocabulary = DiagnosisEngine.load().vocabulary

    def req(**kw: Any):
        return validate_request({"age": 70, "sex": "M", "symptoms": {"tos": 3, "fiebre": 3, "fatiga": 3}, **kw},
                                vocabulary)

    full = {"respiratory_rate": 21, "spo2": 95, "systolic_bp": 105, "heart_rate": 115, "temperature_c": 38.5}
    # RR 21-24: 2; SpO2 94-95: 1; SBP 101-110: 1; HR 111-130: 2; alert: 0; 38.1-39.0: 1.
    assert scores.news2(req(vitals=full, consciousness="A")) == 7
    assert scores.news2(req(vitals=full)) is None  # consciousness not assessed
    new_confusion = {"tos": 3, "fiebre": 3, "confusion": 2}
    assert scores.news2(req(vitals=full, symptoms=new_confusion)) == 10
    edges = {"respiratory_rate": 8, "spo2": 91, "systolic_bp": 90, "heart_rate": 40, "temperature_c": 35.0}
    assert scores.news2(req(vitals=edges, consciousness="U")) == 18
    normal = {"respiratory_rate": 16, "spo2": 98, "systolic_bp": 125, "heart_rate": 72, "temperature_c": 36.8}
    assert scores.news2(req(vitals=normal, consciousness="A")) == 0
    assert scores.qsofa(req(vitals=full, consciousness="A")) == 0
    assert scores.qsofa(req(vitals={"respiratory_rate": 22, "systolic_bp": 100}, consciousness="V")) == 3
    assert scores.qsofa(req(vitals={"respiratory_rate": 22})) is None

    pregnant = validate_request({"age": 30, "sex": "F", "symptoms": {"tos": 3, "fiebre": 3, "fatiga": 3},
                                 "pregnancy": {"status": "pregnant", "weeks": 30}, "vitals": full,
                                 "consciousness": "A"}, vocabulary)
    assert scores.news2(pregnant) is None  # RCP: not for pregnancy (an obstetric chart applies)
    teen = validate_request({"age": 15, "sex": "F", "symptoms": {"tos": 3, "fiebre": 3, "fatiga": 3},
                             "vitals": full, "consciousness": "A"}, vocabulary)
    assert scores.news2(teen) is None and scores.qsofa(teen) is None


def test_an_older_man_with_new_mild_confusion_and_hypothermia_is_not_left_in_the_queue(engine) -> None:
    r = engine.diagnose({"age": 85, "sex": "M", "duration_days": 1,
                         "symptoms": {"confusion": 2, "fatiga": 5, "mareos": 3},
                         "vitals": {"temperature_c": 35.4, "respiratory_rate": 21, "heart_rate": 96,
                                    "systolic_bp": 104, "spo2": 94}})
    assert r["scores"]["news2"] is not None and r["scores"]["news2"] >= 7
    assert r["triage"]["level"] == "EMERGENCIA"


@pytest.mark.parametrize(
    ("extra", "code", "field"),
    [
        ({"sex": "M", "pregnancy": {"status": "pregnant", "weeks": 20}}, "pregnancy_not_applicable", "pregnancy"),
        ({"age": 70, "pregnancy": {"status": "pregnant", "weeks": 20}}, "pregnancy_not_applicable", "pregnancy"),
        ({"pregnancy": {"status": "pregnant", "weeks": 60}}, "out_of_range", "pregnancy.weeks"),
        ({"pregnancy": {"status": "pregnant"}}, "missing_field", "pregnancy.weeks"),
        ({"pregnancy": {"status": "embarazada", "weeks": 20}}, "invalid_pregnancy_status", "pregnancy.status"),
        ({"pregnancy": {"status": "postpartum", "days_since_delivery": 50}}, "out_of_range",
         "pregnancy.days_since_delivery"),
        ({"signs": ["chest_indrawing", "ojos_amarillos"]}, "unknown_sign", "signs[1]"),
        ({"signs": "stridor"}, "wrong_type", "signs"),
        ({"consciousness": "X"}, "invalid_consciousness", "consciousness"),
        ({"vitals": {"muac_mm": 9}}, "out_of_range", "vitals.muac_mm"),
        ({"vitals": {"weight_kg": 0.1}}, "out_of_range", "vitals.weight_kg"),
        ({"vitals": {"capillary_refill_s": 30}}, "out_of_range", "vitals.capillary_refill_s"),
        ({"age": 10**400}, "out_of_range", "age"),
    ],
)
def test_bad_v2_input_exits_2_naming_the_field_in_both_languages(extra: dict[str, Any], code: str,
                                                                 field: str) -> None:
    payload = json.dumps(with_(**extra))
    messages = {}
    for lang in ("es", "en"):
        p = subprocess.run([sys.executable, "-m", "app.cli", "--lang", lang, "diagnose", "--input", "-"],
                           input=payload, capture_output=True, text=True, timeout=120)
        assert p.returncode == 2, p.stderr
        error = json.loads(p.stderr)["error"]
        assert (error["code"], error["field"]) == (code, field)
        messages[lang] = error["message"]
    assert messages["es"] != messages["en"]


def test_signs_count_as_findings(engine) -> None:
    r = engine.validate({"age": 2, "sex": "M", "symptoms": {"fiebre": 6}, "signs": ["chest_indrawing", "stridor"]})
    assert r.signs == ("chest_indrawing", "stridor")
    with pytest.raises(ContractError) as info:
        engine.validate({"age": 2, "sex": "M", "symptoms": {"fiebre": 6}, "signs": ["stridor"]})
    assert info.value.code == "too_few_findings"


def test_the_validated_request_round_trips_through_its_json(engine) -> None:
    raw = with_(pregnancy={"status": "postpartum", "days_since_delivery": 3}, consciousness="a",
                signs=["mucosal_bleeding"], vitals={"muac_mm": 240, "weight_kg": 61.5})
    request = engine.validate(raw)
    assert request.consciousness == "A" and request.postpartum
    assert engine.validate(request.to_json()) == request
