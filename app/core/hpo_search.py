"""Find HPO terms by words, in Spanish or English, for the "add a finding" box of the desktop app.

The doctor types a few letters of one or more words ("dolor cab", "aracno", "nausea", "long fingers"); every typed
word must begin a word of a term's label or synonym, ignoring case and accents. Spanish labels exist for the symptom
vocabulary's terms, their parents and children and common rare-disease findings (`model_export/knowledge/
hpo_es.toml`); every term is findable by its English label and synonyms. Typing an id (`HP:0001166` or `0001166`)
finds that term. Data: the bundle's `rare_terms.json`, written with the rare-disease index.

Thread safety: read-only after `load`; `search` may run on several threads (the GUI types, a worker searches).
"""

from __future__ import annotations

import bisect
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TERMS_FILE = "rare_terms.json"
FORMAT = 1
_WORD = re.compile(r"[a-z0-9]+")
_ID = re.compile(r"^(?:hp[:_ ]?)?(\d{7})$")
MIN_PREFIX = 2
# Words that join others in labels ("dolor de cabeza", "abnormality of the eye"); a phrase matches in order
# without them.
_JOINERS = frozenset({"de", "del", "la", "el", "los", "las", "y", "e", "en", "a", "al", "con", "por", "o",
                      "of", "the", "and", "in", "with", "or", "to", "on"})
# Weights of the ranking, in points; comments say what each rewards.
EXACT = 100.0  # the whole text is what was typed
PHRASE_START = 40.0  # the text starts with the typed words, in order
WHOLE_WORD = 8.0  # per typed word that is a whole word of the text, not only its beginning
IS_LABEL = 4.0  # the term's own label rather than a synonym
IN_LANGUAGE = 6.0  # in the language the doctor works in
PER_EXTRA_WORD = 1.5  # shorter names first: "Fiebre" before "Fiebre de origen desconocido"
PER_LOG_DISEASE = 1.0  # among equals, terms that more diseases are annotated with (more useful to the ranking)


def normalise(text: str) -> str:
    """Lower case, accents and punctuation removed: "Náuseas, vómitos" -> "nauseas vomitos"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_WORD.findall(stripped.replace("ß", "ss")))


@dataclass(frozen=True, slots=True)
class TermInfo:
    hpo_id: str
    label_en: str
    label_es: str | None
    synonyms_en: tuple[str, ...]
    synonyms_es: tuple[str, ...]
    diseases: int  # Orphanet diseases annotated with the term or a more specific one

    def label(self, lang: str = "es") -> str:
        """The label in `lang`, English when there is no Spanish one."""
        return self.label_es if lang == "es" and self.label_es else self.label_en


@dataclass(frozen=True, slots=True)
class TermMatch:
    term: TermInfo
    matched: str  # the label or synonym that matched, as written
    language: str  # of `matched`: "es" or "en"
    score: float

    @property
    def hpo_id(self) -> str:
        return self.term.hpo_id

    def to_json(self, lang: str = "es") -> dict[str, Any]:
        return {"hpo_id": self.term.hpo_id, "label": self.term.label(lang), "matched": self.matched,
                "language": self.language, "score": round(self.score, 2)}


@dataclass(frozen=True, slots=True)
class _Entry:
    term: int
    text: str
    words: tuple[str, ...]
    normalised: str
    language: str
    is_label: bool


class TermSearch:
    def __init__(self, data: dict[str, Any]) -> None:
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown {TERMS_FILE} format {data.get('format')!r}, expected {FORMAT}")
        self.version = str(data["hpo_version"])
        self.attribution: dict[str, str] = dict(data.get("attribution", {}))
        self.terms: list[TermInfo] = []
        self._by_id: dict[str, int] = {}
        entries: list[_Entry] = []
        for hpo, label, synonyms, label_es, synonyms_es, diseases in data["terms"]:
            i = len(self.terms)
            info = TermInfo(hpo, label, label_es or None, tuple(synonyms), tuple(synonyms_es), int(diseases))
            self.terms.append(info)
            self._by_id[hpo] = i
            names = [(label, "en", True), *((s, "en", False) for s in synonyms)]
            if label_es:
                names += [(label_es, "es", True), *((s, "es", False) for s in synonyms_es)]
            seen: set[tuple[str, str]] = set()
            for text, lang, is_label in names:
                norm = normalise(text)
                if norm and (norm, lang) not in seen:
                    seen.add((norm, lang))
                    entries.append(_Entry(i, text, tuple(norm.split()), norm, lang, is_label))
        self._entries = entries
        postings: dict[str, list[int]] = {}
        for e, entry in enumerate(entries):
            for word in set(entry.words):
                postings.setdefault(word, []).append(e)
        # Sorted words, so that all words beginning with a prefix form one slice (found by bisection).
        self._words = sorted(postings)
        self._postings = [postings[w] for w in self._words]

    @classmethod
    def load(cls, bundle_dir: Path) -> TermSearch:
        path = Path(bundle_dir) / TERMS_FILE
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def term(self, hpo_id: str) -> TermInfo | None:
        i = self._by_id.get(hpo_id)
        return None if i is None else self.terms[i]

    def _with_prefix(self, prefix: str) -> set[int]:
        lo = bisect.bisect_left(self._words, prefix)
        hi = bisect.bisect_left(self._words, prefix + "\uffff")
        out: set[int] = set()
        for postings in self._postings[lo:hi]:
            out.update(postings)
        return out

    def search(self, query: str, limit: int = 20, lang: str = "es") -> list[TermMatch]:
        """Terms whose label or a synonym has a word beginning with each typed word, best first."""
        norm = normalise(query)
        if not norm:
            return []
        if m := _ID.match(norm.replace(" ", "")):
            info = self.term(f"HP:{m.group(1)}")
            return [TermMatch(info, info.hpo_id, "en", EXACT)] if info else []
        words = norm.split()
        if max(len(w) for w in words) < MIN_PREFIX:
            return []  # one letter matches a third of the ontology; wait for the next keystroke
        # The longest typed word narrows most; short ones filter the survivors instead of listing every word
        # that begins with "d".
        ordered = sorted(dict.fromkeys(words), key=len, reverse=True)
        candidates = self._with_prefix(ordered[0])
        for w in ordered[1:]:
            if len(w) >= MIN_PREFIX + 1:
                candidates &= self._with_prefix(w)
            else:
                candidates = {e for e in candidates if any(x.startswith(w) for x in self._entries[e].words)}
        best: dict[int, TermMatch] = {}
        for e in candidates:
            entry = self._entries[e]
            score = self._score(entry, norm, words, lang)
            current = best.get(entry.term)
            if current is None or score > current.score:
                best[entry.term] = TermMatch(self.terms[entry.term], entry.text, entry.language, score)
        ranked = sorted(best.values(), key=lambda m: (-m.score, m.term.label(lang).casefold()))
        return ranked[:limit]

    def _score(self, entry: _Entry, norm: str, words: list[str], lang: str) -> float:
        score = PER_LOG_DISEASE * math.log1p(self.terms[entry.term].diseases)
        content = [w for w in entry.words if w not in _JOINERS] or list(entry.words)
        typed = [w for w in words if w not in _JOINERS] or words
        if entry.normalised == norm:
            score += EXACT
        elif len(typed) <= len(content) and all(c.startswith(t) for t, c in zip(typed, content, strict=False)):
            score += PHRASE_START
        score += WHOLE_WORD * sum(1 for w in words if w in entry.words)
        score += IS_LABEL if entry.is_label else 0.0
        score += IN_LANGUAGE if entry.language == lang else 0.0
        score -= PER_EXTRA_WORD * max(0, len(content) - len(typed))
        return score
