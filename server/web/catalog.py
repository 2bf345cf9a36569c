"""The browser page's texts in Spanish (the default) and English, from `translations/{es,en}.json`.

The same catalogs go to the templates (`text`) and, whole, to the page's script, which switches language in place
without losing what the doctor typed. A test checks both have the same keys and placeholders.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("es", "en")
DEFAULT_LANGUAGE = "es"
CATALOG_DIR = Path(__file__).resolve().parent / "translations"


@cache
def catalog(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def catalogs() -> dict[str, dict[str, str]]:
    return {lang: catalog(lang) for lang in LANGUAGES}


def language(value: str | None) -> str | None:
    """`value` as a language the page speaks, or None."""
    if not value:
        return None
    value = value.strip().lower()[:2]
    return value if value in LANGUAGES else None


def text(lang: str, key: str, **params: Any) -> str:
    return catalog(lang)[key].format(**params)
