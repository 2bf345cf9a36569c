"""Settings and About.

The Preferences dialog shows the settings declared in app/store/config_vars.py: each person's own (language,
auto-lock within the clinic's limit), which everyone may change, and the clinic's (the longest auto-lock, the
central service, the mode), which only an administrator may change and others see read-only. It returns only what
changed, so saving one's language never touches a clinic setting. The language is also kept in the per-user
preferences file so the login window speaks it before anyone logs in.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from app import __version__
from app.core.bundle import ModelBundle
from app.store.config_vars import AUTO_LOCK, AUTO_LOCK_LIMIT, CENTRAL_URL, COUNTRY, LANGUAGE, MODE, MODES, ConfigVar
from app.ui.document_types import COUNTRY_NAMES
from app.ui.i18n import tr, translator
from app.ui.qt import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)
from app.ui.widgets import NumberField, with_message

# What the Preferences dialog shows, in the order saved: a new clinic limit first, so a longer own auto-lock fits.
PREFERENCES: tuple[ConfigVar, ...] = (AUTO_LOCK_LIMIT, CENTRAL_URL, MODE, COUNTRY, LANGUAGE, AUTO_LOCK)


class SettingsDialog(QDialog):
    """`values` and `editable` come from the store (`store.settings.get` and `may_change` of each PREFERENCES)."""

    def __init__(self, parent: QWidget | None, values: dict[ConfigVar, Any], editable: dict[ConfigVar, bool],
                 data_dir: Path) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("settings.title"))
        self._initial = dict(values)
        self.language = QComboBox()
        self.language.addItem("Español", "es")
        self.language.addItem("English", "en")
        self.language.setCurrentIndex(0 if (values.get(LANGUAGE) or translator().lang) == "es" else 1)
        limit = int(values.get(AUTO_LOCK_LIMIT) or AUTO_LOCK_LIMIT.default)
        # Minutes, refused beside the field when out of range (never clamped to the nearest value that fits).
        self.auto_lock_limit = NumberField(AUTO_LOCK_LIMIT.minimum or 1, AUTO_LOCK_LIMIT.maximum or 120, 0,
                                           optional=False)
        self.auto_lock_limit.setValue(limit)
        self.auto_lock = NumberField(AUTO_LOCK.minimum or 1, limit, 0, optional=False)
        self.auto_lock.setValue(int(values.get(AUTO_LOCK) or limit))
        self.auto_lock_limit.textChanged.connect(self._limit_changed)
        self.central_url = QLineEdit(values.get(CENTRAL_URL) or "")
        self.central_url.setPlaceholderText("https://vereda.example.org")
        self.mode = QComboBox()
        for mode in MODES:
            self.mode.addItem(tr(f"settings.mode_{mode}"), mode)
        current = values.get(MODE)
        self.mode.setCurrentIndex(MODES.index(current) if current in MODES else 0)
        self.country = QComboBox()  # the clinic's: which identity documents the patient form offers
        for code in COUNTRY.choices:
            self.country.addItem(COUNTRY_NAMES[code], code)
        self.country.setCurrentIndex(max(0, self.country.findData(values.get(COUNTRY) or COUNTRY.default)))
        self.data_dir = QLabel(str(data_dir))
        self.data_dir.setWordWrap(True)
        self._fields: dict[ConfigVar, QWidget] = {LANGUAGE: self.language, AUTO_LOCK: self.auto_lock,
                                                  AUTO_LOCK_LIMIT: self.auto_lock_limit,
                                                  CENTRAL_URL: self.central_url, MODE: self.mode,
                                                  COUNTRY: self.country}
        for var, field in self._fields.items():
            field.setEnabled(editable.get(var, False))
        form = QFormLayout(self)
        form.addRow(tr("settings.language"), self.language)
        form.addRow(tr("settings.auto_lock"), with_message(self.auto_lock))
        form.addRow(tr("settings.auto_lock_limit"), with_message(self.auto_lock_limit))
        form.addRow(tr("settings.central_url"), self.central_url)
        form.addRow(tr("settings.mode"), self.mode)
        form.addRow(tr("settings.country"), self.country)
        form.addRow(tr("settings.data_dir"), self.data_dir)
        self.clinic_only = QLabel(tr("settings.clinic_only"))
        self.clinic_only.setWordWrap(True)
        self.clinic_only.setVisible(not editable.get(MODE, False))
        form.addRow(self.clinic_only)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _limit_changed(self, *_args: object) -> None:
        limit = self.auto_lock_limit.value()
        if limit is not None and not self.auto_lock_limit.error():
            self.auto_lock.set_range(AUTO_LOCK.minimum or 1, limit)  # the own value must fit the new limit

    def _accept(self) -> None:
        for field in (self.auto_lock_limit, self.auto_lock):
            if field.isEnabled() and field.error():
                field.show_error()  # refused with its message, never cut to two digits
                return
        self.accept()

    def _value(self, var: ConfigVar) -> Any:
        field = self._fields[var]
        if isinstance(field, QComboBox):
            return field.currentData()
        if isinstance(field, NumberField):
            value = field.value()
            return None if value is None else int(value)
        return self.central_url.text().strip() or None

    def values(self) -> dict[ConfigVar, Any]:
        """The settings the person changed and may change, in PREFERENCES order."""
        changed: dict[ConfigVar, Any] = {}
        for var in PREFERENCES:
            value = self._value(var)
            if self._fields[var].isEnabled() and value != self._initial.get(var):
                changed[var] = value
        return changed


def about_html(bundle: ModelBundle, lang: str) -> str:
    metrics = bundle.manifest.get("metrics", {})
    held = metrics.get("held_out", {}).get("all", {})
    vignettes = metrics.get("vignettes", {})
    summary = tr("about.model_summary",
                 f1=f"{held.get('condition_macro_f1', 0):.2f}",
                 recall=f"{100 * (held.get('critical_recall') or 0):.1f}",
                 top3=f"{100 * vignettes.get('top3', 0):.0f}",
                 n=vignettes.get("n", 0))
    rare = bundle.manifest.get("rare", {})
    attribution = rare.get("attribution", "") if isinstance(rare, dict) else ""
    # The bundle gives one attribution per source ({"hpo": ..., "orphanet": ...}): one paragraph each, as text.
    parts = attribution.values() if isinstance(attribution, dict) else [attribution] if attribution else []
    credits = "".join(f"<p>{html.escape(str(part))}</p>" for part in parts)
    return f"""
<h2>Vereda {__version__}</h2>
<p><b>{tr('about.disclaimer')}</b></p>
<p>{tr('about.model', version=bundle.version, created=bundle.manifest.get('created', ''),
                       expires=bundle.manifest.get('expires', ''))}</p>
<p>{summary}</p>
<p>{tr('about.simulated')}</p>
<h3>{tr('about.licences')}</h3>
<p>{tr('about.licence_text')}</p>
{credits or f"<p>{tr('about.hpo_attribution')}</p>"}
"""


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None, bundle: ModelBundle) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("about.title"))
        text = QTextBrowser()
        text.setOpenExternalLinks(False)
        text.setHtml(about_html(bundle, translator().lang))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(buttons)
        self.resize(560, 460)
        self.text = text
