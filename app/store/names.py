"""How names and document numbers are normalised so that patient search forgives accents, case and punctuation.

Spanish names arrive written many ways: "María José Peña", "MARIA JOSE PENA", "maría-josé peña". The search key of a
name is its words without accents, folded to lower case; every word of the given and family names is a search token,
so "jose pen" finds María José Peña. Ñ folds to n: a doctor on a keyboard without ñ must still find Peña (and will
also see Pena, which is the safer error). Document numbers keep only letters and digits: "1.023.456-7" and
"10234567" are the same cédula.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[a-z0-9]+")
MAX_TOKENS = 8  # a name longer than this is a data-entry accident; the first words are the ones people type


def fold(text: str) -> str:
    """Lower case, no accents, no combining marks."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def name_tokens(*names: str | None) -> list[str]:
    """The distinct search tokens of a person's names, in order."""
    out: list[str] = []
    for name in names:
        for word in _WORD.findall(fold(name or "")):
            if word not in out:
                out.append(word)
    return out[:MAX_TOKENS]


def sort_key(given_names: str, family_names: str) -> str:
    """Family names first, as a clinic list is read."""
    return " ".join(name_tokens(family_names) + name_tokens(given_names))


def normalise_document(number: str | None) -> str | None:
    if number is None:
        return None
    kept = "".join(_WORD.findall(fold(number))).upper()
    return kept or None


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix`, for an index range scan.

    `col >= prefix AND col < bound` uses a plain B-tree index, where `LIKE 'p%'` would need case-sensitive LIKE
    settings to use it at all.
    """
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
