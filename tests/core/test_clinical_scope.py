"""Each situation of issue 12's "Why", sent as a doctor would enter it: the right condition among the top 3 and the
right triage level. Written from the issue and the guidelines it names, not from the knowledge base."""

from __future__ import annotations

from typing import Any

import pytest

E, P, N = "EMERGENCIA", "PRIORITARIO", "NO_URGENTE"

SITUATIONS: list[tuple[str, dict[str, Any], set[str], set[str]]] = [
    ("severe pre-eclampsia at 34 weeks",
     {"age": 27, "sex": "F", "duration_days": 1, "pregnancy": {"status": "pregnant", "weeks": 34},
      "symptoms": {"dolor_cabeza": 8, "cambios_vision": 6, "dolor_epigastrico": 4, "edema": 4},
      "vitals": {"systolic_bp": 168, "diastolic_bp": 112, "heart_rate": 92}},
     {"O14", "O15"}, {E}),
    ("eclampsia",
     {"age": 19, "sex": "F", "duration_days": 0.1, "pregnancy": {"status": "pregnant", "weeks": 36},
      "symptoms": {"convulsiones": 9, "dolor_cabeza": 7, "cambios_vision": 5}, "consciousness": "V",
      "vitals": {"systolic_bp": 172, "diastolic_bp": 114, "heart_rate": 104}},
     {"O15", "O14"}, {E}),
    ("ruptured ectopic pregnancy in shock",
     {"age": 24, "sex": "F", "duration_days": 0.3, "pregnancy": {"status": "pregnant", "weeks": 7},
      "symptoms": {"dolor_abdominal": 9, "sangrado_vaginal": 4, "desmayo": 6, "mareos": 7},
      "vitals": {"heart_rate": 128, "systolic_bp": 82, "diastolic_bp": 50}},
     {"O00"}, {E}),
    ("hypoglycaemia on a sulfonylurea",
     {"age": 68, "sex": "M", "duration_days": 0.1,
      "symptoms": {"confusion": 6, "sudoracion": 7, "temblor": 5, "palpitaciones": 3},
      "vitals": {"glucose_mg_dl": 42, "heart_rate": 104, "systolic_bp": 138, "diastolic_bp": 82}},
     {"E16.2"}, {E}),
    ("sepsis in an adult",
     {"age": 54, "sex": "F", "duration_days": 2,
      "symptoms": {"fiebre": 8, "escalofrios": 7, "confusion": 4, "fatiga": 8},
      "vitals": {"temperature_c": 39.2, "heart_rate": 124, "respiratory_rate": 26, "systolic_bp": 88,
                 "diastolic_bp": 52}},
     {"A41.9"}, {E}),
    ("cellulitis of the leg",
     {"age": 45, "sex": "M", "duration_days": 3,
      "symptoms": {"enrojecimiento_piel": 7, "hinchazon_local": 6, "fiebre": 3, "dolor_muscular": 2},
      "vitals": {"temperature_c": 37.9, "heart_rate": 88}},
     {"L03"}, {N, P}),
    ("severe dehydration in a toddler",
     {"age": 1.5, "sex": "M", "duration_days": 2,
      "symptoms": {"diarrea": 9, "vomito": 7, "fiebre": 3},
      "signs": ["sunken_eyes", "skin_pinch_very_slow", "lethargic_or_unconscious"],
      "vitals": {"heart_rate": 168, "temperature_c": 37.8}},
     {"E86", "A09"}, {E}),
    ("DKA in a 16-year-old",
     {"age": 16, "sex": "F", "duration_days": 4,
      "symptoms": {"poliuria": 8, "polidipsia": 8, "vomito": 6, "dolor_abdominal": 6, "perdida_peso": 5},
      "vitals": {"glucose_mg_dl": 480, "respiratory_rate": 30, "heart_rate": 118}},
     {"E10.1"}, {E}),
    ("severe acute malnutrition",
     {"age": 2, "sex": "F", "duration_days": 60,
      "symptoms": {"perdida_peso": 8, "fatiga": 6, "edema": 5, "rechazo_alimento": 5},
      "signs": ["bilateral_pitting_oedema"], "vitals": {"muac_mm": 108, "weight_kg": 8.1}},
     {"E43"}, {P, E}),
    ("bronchiolitis in a 4-month-old",
     {"age": 0.33, "sex": "M", "duration_days": 3,
      "symptoms": {"tos": 6, "sibilancias": 6, "congestion_nasal": 6, "rechazo_alimento": 4, "fiebre": 2},
      "vitals": {"respiratory_rate": 54, "heart_rate": 150, "spo2": 95, "temperature_c": 37.9}},
     {"J21"}, {P, E}),
    ("febrile seizure at 18 months",
     {"age": 1.5, "sex": "M", "duration_days": 1,
      "symptoms": {"fiebre": 9, "convulsiones": 7, "congestion_nasal": 3},
      "vitals": {"temperature_c": 39.6, "heart_rate": 150}},
     {"R56.0"}, {E}),
    ("cutaneous leishmaniasis",
     {"age": 32, "sex": "M", "duration_days": 45, "symptoms": {"ulcera_piel": 6, "hinchazon_local": 2, "prurito": 1}},
     {"B55.1"}, {N}),
    ("tension-type headache",
     {"age": 35, "sex": "F", "duration_days": 2,
      "symptoms": {"dolor_cabeza": 5, "dolor_muscular": 3, "fatiga": 3},
      "vitals": {"temperature_c": 36.7, "heart_rate": 74, "systolic_bp": 118, "diastolic_bp": 76}},
     {"G44.2"}, {N}),
    ("mechanical low back pain",
     {"age": 41, "sex": "M", "duration_days": 4,
      "symptoms": {"dolor_espalda": 6, "dolor_muscular": 4, "fatiga": 2},
      "vitals": {"temperature_c": 36.6, "heart_rate": 76}},
     {"M54.5"}, {N}),
    ("an 85-year-old with new mild confusion and hypothermia",
     {"age": 85, "sex": "M", "duration_days": 1,
      "symptoms": {"confusion": 2, "fatiga": 5, "rechazo_alimento": 3},
      "vitals": {"temperature_c": 35.4, "respiratory_rate": 21, "heart_rate": 96, "systolic_bp": 104,
                 "diastolic_bp": 62, "spo2": 94}},
     {"A41.9", "J18.9", "N39.0", "N10"}, {E}),
    ("a 6-month-old with a cold: normal vitals for her age",
     {"age": 0.5, "sex": "F", "duration_days": 2,
      "symptoms": {"congestion_nasal": 5, "tos": 3, "fiebre": 2},
      "vitals": {"heart_rate": 140, "respiratory_rate": 42, "temperature_c": 37.6}},
     {"J06.9"}, {N, P}),
]


@pytest.mark.parametrize(("name", "raw", "codes", "levels"), SITUATIONS, ids=[s[0] for s in SITUATIONS])
def test_situation(engine, name: str, raw: dict[str, Any], codes: set[str], levels: set[str]) -> None:
    r = engine.diagnose(raw)
    top3 = [c["code"] for c in r["top_conditions"][:3]]
    assert codes & set(top3), (name, top3)
    assert r["triage"]["level"] in levels, (name, r["triage"])
    assert (r["severity"] == "ENFERMEDAD_AGUDA") == (r["triage"]["level"] == E)
    if levels == {N}:
        assert r["severity"] != "NO_ENFERMO", (name, "a complaint is never 'not ill'")


def test_a_six_month_old_with_heart_rate_55_is_an_emergency(engine) -> None:
    r = engine.diagnose({"age": 0.5, "sex": "M", "duration_days": 1,
                         "symptoms": {"fatiga": 6, "rechazo_alimento": 6, "irritabilidad": 4},
                         "vitals": {"heart_rate": 55}})
    assert r["triage"]["level"] == E


@pytest.mark.parametrize(
    "raw",
    [
        {"age": 28, "sex": "F", "duration_days": 2, "symptoms": {"disuria": 6, "frecuencia_urinaria": 6,
                                                                 "dolor_abdominal": 3},
         "vitals": {"temperature_c": 37.2, "heart_rate": 80}},
        {"age": 52, "sex": "F", "duration_days": 200, "symptoms": {"dolor_articular": 6, "rigidez_matutina": 7,
                                                                   "fatiga": 4},
         "vitals": {"temperature_c": 36.8, "heart_rate": 78}},
        {"age": 31, "sex": "F", "duration_days": 60, "symptoms": {"fatiga": 6, "mareos": 4, "palpitaciones": 3},
         "signs": ["some_palmar_pallor"], "vitals": {"heart_rate": 92, "systolic_bp": 110, "diastolic_bp": 70}},
    ],
    ids=["uncomplicated UTI", "rheumatoid arthritis", "iron-deficiency anaemia"],
)
def test_benign_textbook_cases_are_not_emergencies(engine, raw: dict[str, Any]) -> None:
    assert engine.diagnose(raw)["triage"]["level"] != E
