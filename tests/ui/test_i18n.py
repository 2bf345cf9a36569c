"""Both catalogs have every key with the same placeholders, and every key the code uses exists."""

from __future__ import annotations

import re
from pathlib import Path

from app.ui.i18n import LANGUAGES, load_catalog, placeholders

ROOT = Path(__file__).resolve().parents[2]


def test_catalogs_have_the_same_keys_and_placeholders():
    es, en = (load_catalog(lang) for lang in LANGUAGES)
    assert set(es) == set(en), set(es) ^ set(en)
    for key in es:
        assert placeholders(es[key]) == placeholders(en[key]), key
        assert es[key].strip() and en[key].strip(), key
        assert es[key] != en[key] or key in {"app.title", "login.title", "setup.language_title"}, key


def test_every_key_used_in_code_exists():
    used = set()
    for path in (ROOT / "app" / "ui").rglob("*.py"):
        used |= set(re.findall(r"""\btr\(\s*["']([a-z_]+\.[a-z_.]+)["']""", path.read_text(encoding="utf-8")))
    catalog = load_catalog("es")
    assert used, "no tr() calls found"
    assert not used - set(catalog), sorted(used - set(catalog))
