"""Finding a symptom by what the doctor types, the same on the desktop (app/ui/symptoms_model.py) and in the
browser page (server/web/static/consultation.js, which receives `for_page()`).

A symptom is kept when every typed word is found in its names: its key, its Spanish and English labels, its body
system, and the everyday words of `data/symptom_terms.toml` («falta de aire» for dyspnoea, «calentura» for fever).
A typed word is found when it is inside those names, or its singular is («vómitos» finds «Vómito»). Filler words
(«dolor de pecho», «dificultad para respirar») are dropped from a query of several words.
"""

from __future__ import annotations

import tomllib
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

from app.core.vocabulary import Vocabulary

TERMS_FILE = Path(__file__).resolve().parent / "data" / "symptom_terms.toml"
# Words a doctor types between the ones that name a symptom. Every typed word must be found, and these are in few
# names, so "dolor de pecho" found nothing. Dropped from a query of several words (a lone "de" may be the start of
# "debilidad"). Folded, as the search compares.
FILLER_WORDS: frozenset[str] = frozenset({
    "a", "al", "con", "de", "del", "el", "en", "la", "las", "lo", "los", "para", "por", "que", "un", "una", "y",
    "and", "in", "of", "on", "the", "to", "with",
})
MIN_PLURAL = 4  # "tos" is not the plural of "to": only words of 4 letters or more are tried in the singular


def fold(text: str) -> str:
    """Lower case without accents, for matching what the doctor types."""
    return "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")


def search_words(folded: str) -> list[str]:
    """The words of a folded query that must each be found: a query of several words without its filler words; a
    single word as typed."""
    words = folded.split()
    return words if len(words) <= 1 else [w for w in words if w not in FILLER_WORDS]


def _forms(word: str) -> tuple[str, ...]:
    """A folded typed word as typed, then in the singular (-s, -es) when it is long enough to be a plural."""
    if len(word) < MIN_PLURAL or not word.endswith("s"):
        return (word,)
    return (word, word[:-1], word[:-2]) if word.endswith("es") else (word, word[:-1])


def found(word: str, haystack: str) -> bool:
    """Whether a folded typed word is in a folded haystack, as typed or in the singular."""
    return any(form in haystack for form in _forms(word))


def starts_a_word(word: str, names: str) -> bool:
    """Whether a folded typed word starts one of the words of `names`, as typed or in the singular."""
    padded = " " + names
    return any(" " + form in padded for form in _forms(word))


@cache
def lay_terms() -> dict[str, str]:
    """Per symptom key, its everyday words, folded and joined by spaces."""
    data = tomllib.loads(TERMS_FILE.read_text(encoding="utf-8"))
    for key, words in data.items():
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise ValueError(f"{TERMS_FILE.name}: {key} must be a list of words")
    return {key: fold(" ".join(words)) for key, words in data.items()}


def haystack(key: str, label: dict[str, str], system: str) -> str:
    """Everything a typed word may be found in, for one symptom (`system`: its body system's name)."""
    return fold(f"{key.replace('_', ' ')} {label['es']} {label['en']} {system}") + " " + lay_terms().get(key, "")


def for_page(vocabulary: Vocabulary) -> dict[str, Any]:
    """What the browser page needs to search as the desktop does: each symptom's `haystack`, made here so the page
    does not compose its own, the filler words and the plural rule's length."""
    return {"filler_words": sorted(FILLER_WORDS), "min_plural": MIN_PLURAL,
            "haystacks": {s.key: haystack(s.key, s.label, vocabulary.systems[s.system]["es"])
                          for s in vocabulary.symptoms}}
