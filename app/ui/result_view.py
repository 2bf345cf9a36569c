"""The answer to "Diagnosticar", laid out for a tired doctor: what matters most on top.

Order: the state banner (colour and its name, never colour alone), the immediate-attention box with each red flag,
the likely conditions with probability bars, the rare diseases to consider, the recommendations, and the chart of
why. Everything re-reads its text when the language changes.
"""

from __future__ import annotations

from typing import Any

from app.core.vocabulary import Vocabulary
from app.ui.explanation_chart import ExplanationChart, finding_label
from app.ui.i18n import tr, translator
from app.ui.qt import (
    QComboBox,
    QFrame,
    QGridLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    Qt,
    QVBoxLayout,
    QWidget,
)

# Background and text colours per state; the banner always also says the state's name.
STATE_COLOURS: dict[str, tuple[str, str]] = {
    "NO_ENFERMO": ("#2e7d32", "#ffffff"),
    "MOLESTIAS_LEVES": ("#7cb342", "#102000"),
    "ENFERMEDAD_LEVE": ("#f9a825", "#201500"),
    "ENFERMEDAD_CRONICA": ("#6a1b9a", "#ffffff"),
    "ENFERMEDAD_AGUDA": ("#c62828", "#ffffff"),
}


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


class DiagnosisView(QWidget):
    def __init__(self, vocabulary: Vocabulary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vocabulary = vocabulary
        self._response: dict[str, Any] | None = None
        self._request: dict[str, Any] = {}
        self.term_label: Any = lambda hpo: hpo  # HPO id -> label; the consultation sets it once its index loads

        self.banner = QLabel()
        self.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.banner.setMinimumHeight(44)
        self.banner.setObjectName("stateBanner")
        self.banner.setAccessibleName(tr("result.state"))

        self.attention = QLabel()
        self.attention.setWordWrap(True)
        self.attention.setObjectName("attentionBox")
        self.attention.setStyleSheet("QLabel#attentionBox { border: 3px solid #c62828; padding: 6px; "
                                     "background: #fdecea; color: #5f0000; }")

        self.conditions_title = _heading("")
        self.conditions = QGridLayout()
        self.rare_title = _heading("")
        self.rare = QLabel()
        self.rare.setWordWrap(True)
        self.recommendations_title = _heading("")
        self.recommendations = QLabel()
        self.recommendations.setWordWrap(True)
        self.why_title = _heading("")
        self.why_target = QComboBox()
        self.why_target.currentIndexChanged.connect(self._show_explanation)
        self.chart = ExplanationChart()
        self.model_line = QLabel()
        self.model_line.setObjectName("modelLine")

        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.attention)
        layout.addWidget(self.conditions_title)
        conditions_box = QFrame()
        conditions_box.setLayout(self.conditions)
        layout.addWidget(conditions_box)
        layout.addWidget(self.rare_title)
        layout.addWidget(self.rare)
        layout.addWidget(self.recommendations_title)
        layout.addWidget(self.recommendations)
        layout.addWidget(self.why_title)
        layout.addWidget(self.why_target)
        layout.addWidget(self.chart)
        layout.addWidget(self.model_line)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        translator().language_changed.connect(lambda _lang: self._render())
        self._render()

    def show_response(self, request: dict[str, Any], response: dict[str, Any]) -> None:
        self._request = request
        self._response = response
        self._render()

    def clear(self) -> None:
        self._response = None
        self._render()

    @property
    def response(self) -> dict[str, Any] | None:
        return self._response

    def _render(self) -> None:
        r = self._response
        visible = r is not None
        for w in (self.banner, self.conditions_title, self.rare_title, self.rare, self.recommendations_title,
                  self.recommendations, self.why_title, self.why_target, self.chart, self.model_line):
            w.setVisible(visible)
        self.attention.setVisible(visible and bool(r and r["requires_immediate_attention"]))
        if r is None:
            return
        pick = translator().pick
        background, foreground = STATE_COLOURS[r["severity"]]
        self.banner.setText(tr("result.banner", state=pick(r["severity_label"]),
                               confidence=round(100 * r["confidence"])))
        self.banner.setStyleSheet(f"QLabel#stateBanner {{ background: {background}; color: {foreground}; "
                                  "font-size: 16pt; font-weight: bold; padding: 6px; }")
        if r["requires_immediate_attention"]:
            flags = "".join(f"<li>{pick(f['message'])}</li>" for f in r["red_flags"])
            self.attention.setText(f"<b>⚠ {tr('result.attention')}</b><ul>{flags}</ul>")

        self.conditions_title.setText(tr("result.conditions"))
        while self.conditions.count():
            item = self.conditions.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        for row, c in enumerate(r["top_conditions"]):
            name = QLabel(f"{pick(c['name'])} ({c['code']})")
            name.setWordWrap(True)
            bar = QProgressBar()
            bar.setRange(0, 100)
            bar.setValue(round(100 * c["probability"]))
            bar.setFormat(f"{100 * c['probability']:.0f} %")
            bar.setAccessibleName(f"{pick(c['name'])}: {100 * c['probability']:.0f} %")
            self.conditions.addWidget(name, row, 0)
            self.conditions.addWidget(bar, row, 1)
        self.conditions.setColumnStretch(0, 3)
        self.conditions.setColumnStretch(1, 2)

        self.rare_title.setText(tr("result.rare"))
        # The list is shown only when the ranking is confident: five random syndromes for a cold are noise.
        if r["rare_diseases"] and r.get("rare_disease_alert"):
            items = []
            for d in r["rare_diseases"][:5]:
                matched = ", ".join(self.term_label(t) for t in d.get("matched_terms", []))
                items.append(f"<li>{d['name']} ({d['orpha_code']}, {100 * d['score']:.0f} %) — "
                             f"{tr('result.rare_matched', terms=matched)}</li>")
            self.rare.setText(f"<b>{tr('result.rare_alert')}</b><ul>" + "".join(items) + "</ul>")
        else:
            self.rare.setText(tr("result.rare_none"))

        self.recommendations_title.setText(tr("result.recommendations"))
        lines = r["recommendations"].get(translator().lang) or r["recommendations"]["es"]
        self.recommendations.setText("<ul>" + "".join(f"<li>{line}</li>" for line in lines) + "</ul>")

        self.why_title.setText(tr("result.why"))
        current = self.why_target.currentIndex()
        self.why_target.blockSignals(True)
        self.why_target.clear()
        top = r["top_conditions"][0]
        self.why_target.addItem(tr("result.why_state", state=pick(r["severity_label"])), "severity")
        self.why_target.addItem(tr("result.why_condition", condition=pick(top["name"])), "condition")
        self.why_target.setCurrentIndex(max(0, current))
        self.why_target.blockSignals(False)
        self._show_explanation()
        self.model_line.setText(tr("result.model", version=r["model"]["version"], engine=r["engine"]))

    def _show_explanation(self) -> None:
        r = self._response
        if r is None:
            return
        which = self.why_target.currentData() or "severity"
        contributions = r["explanation"][which]["contributions"]
        self.chart.set_contributions(
            [(finding_label(name, self._request, self.vocabulary), value) for name, value in contributions.items()]
        )
