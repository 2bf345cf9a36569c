"""Interface text in Spanish (default) and English, switchable while the app runs.

Catalogs are flat JSON files in `assets/translations/` (`es.json`, `en.json`): key -> text with `{name}`
placeholders. Widgets read text through `tr()` and re-read it when `Translator.language_changed` fires. Clinical
vocabulary (symptoms, conditions, states) is not here: it travels in the model bundle with its es/en labels.
"""

from __future__ import annotations

import json
import logging
import string
import sys
from pathlib import Path

from app.ui.qt import QCoreApplication, QLibraryInfo, QObject, QTranslator, Signal

log = logging.getLogger(__name__)
LANGUAGES = ("es", "en")
DEFAULT_LANGUAGE = "es"


def translations_dir() -> Path:
    root = getattr(sys, "_MEIPASS", None)
    base = Path(root) if root else Path(__file__).resolve().parents[2]
    return base / "assets" / "translations"


def load_catalog(lang: str, directory: Path | None = None) -> dict[str, str]:
    path = (directory or translations_dir()) / f"{lang}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class Translator(QObject):
    language_changed = Signal(str)

    def __init__(self, lang: str = DEFAULT_LANGUAGE) -> None:
        super().__init__()
        self._catalogs = {code: load_catalog(code) for code in LANGUAGES}
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self._qt_translator: QTranslator | None = None
        self._install_qt_catalog_for(self.lang)

    def set_language(self, lang: str) -> None:
        if lang not in LANGUAGES:
            return
        if lang != self.lang or self._qt_translator is None:
            self._install_qt_catalog_for(lang)
        if lang != self.lang:
            self.lang = lang
            self.language_changed.emit(lang)

    def _install_qt_catalog_for(self, lang: str) -> None:
        """Qt's own texts (wizard and dialog buttons, context menus) in the same language, from Qt's catalogs."""
        app = QCoreApplication.instance()
        if app is None:
            return
        if self._qt_translator is not None:
            app.removeTranslator(self._qt_translator)
        self._qt_translator = QTranslator()
        folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
        if self._qt_translator.load(f"qtbase_{lang}", folder):
            app.installTranslator(self._qt_translator)
        else:
            log.info("no Qt catalog for %s in %s", lang, folder)

    def text(self, key: str, lang: str | None = None, **params: object) -> str:
        """`key`'s text in `lang` (default: the current language). Reads only, so any thread may call it."""
        lang = lang if lang in LANGUAGES else self.lang
        catalog = self._catalogs[lang]
        template = catalog.get(key)
        if template is None:
            # A missing key is a bug the catalog test catches; at run time show the key rather than crash.
            log.error("missing translation %s/%s", lang, key)
            template = self._catalogs[DEFAULT_LANGUAGE].get(key, key)
        return template.format(**params) if params else template

    def pick(self, texts: dict[str, str]) -> str:
        """The current language's entry of an {"es": ..., "en": ...} text from the bundle."""
        return texts.get(self.lang) or texts.get(DEFAULT_LANGUAGE) or next(iter(texts.values()), "")


_translator: Translator | None = None


def translator() -> Translator:
    global _translator
    if _translator is None:
        _translator = Translator()
    return _translator


def tr(key: str, *, lang: str | None = None, **params: object) -> str:
    """The interface text of `key`, in the current language unless `lang` says which (a PDF in a set language)."""
    return translator().text(key, lang, **params)
