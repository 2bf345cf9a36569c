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
CODES = ("Z00.0 J06.9 J11 U07.1 J18.9 A15 J45 J44 A09 A01.0 A97 A92.0 B54 A27 N39.0 G43 F41.0 E11 I10 M06.9 I21 I50 "
         "N18 B19 M32 C80 G40 I63 G03 D50 K35 K29").split()
PATTERNS = {"respiratory infection", "gastroenteritis", "migraine", "anxiety", "diabetes", "hypertension",
            "arthritis", "heart", "kidney", "liver", "autoimmune", "cancer", "neurological"}


def test_loads_and_passes_its_checks():
    kb = knowledge.load()
    assert knowledge.check(kb) == []


def test_vocabulary_is_the_architectures():
    kb = knowledge.load()
    assert [s["key"] for s in kb.symptoms] == ORIGIN_20 + ALSO_22
    for s in kb.symptoms:
        assert re.fullmatch(r"HP:\d{7}", s["hpo"]), s
        assert s["label"]["es"] and s["label"]["en"]


def test_conditions_are_the_architectures_and_cover_the_13_patterns():
    kb = knowledge.load()
    assert sorted(c.code for c in kb.conditions) == sorted(CODES)
    assert {c.pattern for c in kb.conditions} >= PATTERNS
    assert {c.code for c in kb.conditions if c.critical} >= {"I21", "I63", "G03"}
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
