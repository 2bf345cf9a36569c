"""The symptom search's words (app/core/symptom_search.py): everyday words for real symptoms, plurals, filler
words. The desktop's screen and the browser page are driven in tests/ui/test_consultation.py and
tests/server/test_web_browser.py."""

from __future__ import annotations

import pytest

from app.core import symptom_search as search
from app.core.engine import DiagnosisEngine


def test_every_everyday_word_belongs_to_a_symptom_of_the_model(engine: DiagnosisEngine) -> None:
    keys = {s.key for s in engine.vocabulary.symptoms}
    terms = search.lay_terms()
    assert set(terms) <= keys, set(terms) - keys  # a misspelt key would silently find nothing
    assert len(terms) >= 40


@pytest.mark.parametrize(("query", "key"), [
    ("falta de aire", "dificultad_respirar"), ("calentura", "fiebre"), ("vómitos", "vomito"),
    ("dolor de barriga", "dolor_abdominal"), ("ardor al orinar", "disuria"), ("flema", "expectoracion"),
    ("ojos amarillos", "ictericia"), ("dolor de pecho", "dolor_pecho"), ("dolores de cabeza", "dolor_cabeza"),
    ("Chest pain", "dolor_pecho"),
])
def test_a_doctors_words_find_the_symptom_and_only_a_few_others(engine: DiagnosisEngine, query: str,
                                                                  key: str) -> None:
    words = search.search_words(search.fold(query))
    systems = engine.vocabulary.systems
    hits = [s.key for s in engine.vocabulary.symptoms
            if all(search.found(w, search.haystack(s.key, s.label, systems[s.system]["es"])) for w in words)]
    assert key in hits and len(hits) <= 3, hits


def test_plurals_and_filler_words() -> None:
    assert search.found("vomitos", "vomito") and search.found("convulsiones", "convulsion")
    assert not search.found("tos", "to") and not search.found("sed", "polidipsia")
    assert search.search_words("dolor de pecho") == ["dolor", "pecho"]
    assert search.search_words("de") == ["de"]  # one word is still being typed ("debilidad")
    assert search.starts_a_word("sed", "mucha sed") and not search.starts_a_word("sed", "localised swelling")


def test_a_malformed_terms_file_is_refused_with_its_name(tmp_path, monkeypatch) -> None:
    bad = tmp_path / "symptom_terms.toml"
    bad.write_text('fiebre = "calentura"\n', encoding="utf-8")
    monkeypatch.setattr(search, "TERMS_FILE", bad)
    search.lay_terms.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"symptom_terms\.toml: fiebre must be a list"):
            search.lay_terms()
    finally:
        search.lay_terms.cache_clear()
