"""Every text of the store exists in Spanish and English with the same placeholders, and every code the store raises
has a text."""

from __future__ import annotations

import re
import string
from pathlib import Path

from app.store.messages import LANGUAGES, MESSAGES

STORE = Path(__file__).resolve().parents[2] / "app" / "store"


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_with_the_same_placeholders():
    for code, texts in MESSAGES.items():
        assert set(texts) == set(LANGUAGES), code
        assert placeholders(texts["es"]) == placeholders(texts["en"]), code
        assert all(t.strip() for t in texts.values()), code


def test_every_raised_code_has_a_message():
    raised = set()
    for path in [*STORE.glob("*.py"), *(STORE.parents[0] / "cli").glob("*.py")]:
        raised |= set(re.findall(r'StoreError\(\s*"([a-z_]+)"', path.read_text(encoding="utf-8")))
    assert raised and raised <= set(MESSAGES), raised - set(MESSAGES)
