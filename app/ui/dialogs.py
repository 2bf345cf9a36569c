"""Settings and About.

Settings that belong to the clinic (auto-lock, central service, mode) are saved in the encrypted store; the
language is also kept in the per-user preferences so the login window speaks it before anyone logs in.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from app import __version__
from app.core.bundle import ModelBundle
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

MODES = ("offline", "hybrid", "cloud")


class SettingsDialog(QDialog):
    def __init__(self, parent: QWidget | None, values: dict[str, Any], data_dir: Path) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("settings.title"))
        self.language = QComboBox()
        self.language.addItem("Español", "es")
        self.language.addItem("English", "en")
        self.language.setCurrentIndex(0 if values.get("language", translator().lang) == "es" else 1)
        self.auto_lock = NumberField(1, 120, 0, optional=False)  # minutes
        self.auto_lock.setValue(int(values.get("auto_lock_minutes", 10)))
        self.clinic_name = QLineEdit(values.get("clinic_name") or "")
        self.clinic_place = QLineEdit(values.get("clinic_place") or "")
        self.central_url = QLineEdit(values.get("central_url") or "")
        self.central_url.setPlaceholderText("https://vereda.example.org")
        self.mode = QComboBox()
        for mode in MODES:
            self.mode.addItem(tr(f"settings.mode_{mode}"), mode)
        self.mode.setCurrentIndex(max(0, MODES.index(values.get("mode", "offline"))
                                      if values.get("mode") in MODES else 0))
        self.data_dir = QLabel(str(data_dir))
        self.data_dir.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow(tr("settings.language"), self.language)
        form.addRow(tr("setup.clinic_name"), self.clinic_name)
        form.addRow(tr("setup.municipality"), self.clinic_place)
        form.addRow(tr("settings.auto_lock"), with_message(self.auto_lock))
        form.addRow(tr("settings.central_url"), self.central_url)
        form.addRow(tr("settings.mode"), self.mode)
        form.addRow(tr("settings.data_dir"), self.data_dir)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _accept(self) -> None:
        if self.auto_lock.error():  # refused with its message, never cut to two digits
            self.auto_lock.show_error()
            return
        self.accept()

    def values(self) -> dict[str, Any]:
        return {
            "language": self.language.currentData(),
            "auto_lock_minutes": int(self.auto_lock.value() or 10),
            "clinic_name": self.clinic_name.text().strip(),
            "clinic_place": self.clinic_place.text().strip(),
            "central_url": self.central_url.text().strip(),
            "mode": self.mode.currentData(),
        }


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
