"""The answer to "Diagnosticar", laid out for a tired doctor: what matters most on top.

Order: the triage level (WHO ETAT: EMERGENCIA, PRIORITARIO, NO URGENTE), big, in its colour and in words, never
colour alone; the reasons that put the patient there; NEWS2 and qSOFA when the inputs allowed them; the state banner;
the immediate-attention box, shown exactly when the level is EMERGENCIA, with any other warning sign; the likely
conditions with probability bars; "Si puede, mida / pregunte:" (app/ui/next_findings_panel.py), the findings that
could most change the answer; the rare diseases to consider, the recommendations, and the chart of why. An answer
saved before contract v2 has no triage and is shown as it was then. Everything re-reads its text when the language
changes.
"""

from __future__ import annotations

from typing import Any

from app.core.vocabulary import STATE_LABELS, Vocabulary
from app.ui.explanation_chart import ExplanationChart, finding_label
from app.ui.i18n import tr, translator
from app.ui.next_findings_panel import NextFindingsPanel
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
# Background and text colours per WHO ETAT level (contrast >= 4.5:1); the banner always also says the level.
TRIAGE_COLOURS: dict[str, tuple[str, str]] = {
    "EMERGENCIA": ("#c62828", "#ffffff"),
    "PRIORITARIO": ("#ef8f00", "#1a1000"),
    "NO_URGENTE": ("#2e7d32", "#ffffff"),
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

        self.triage_banner = QLabel()
        self.triage_banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.triage_banner.setMinimumHeight(52)
        self.triage_banner.setWordWrap(True)
        self.triage_banner.setObjectName("triageBanner")
        self.triage_reasons = QLabel()
        self.triage_reasons.setWordWrap(True)
        self.triage_reasons.setObjectName("triageReasons")
        self.scores = QLabel()
        self.scores.setObjectName("scores")

        self.banner = QLabel()
        self.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.banner.setMinimumHeight(32)
        self.banner.setWordWrap(True)
        self.banner.setObjectName("stateBanner")

        self.attention = QLabel()
        self.attention.setWordWrap(True)
        self.attention.setObjectName("attentionBox")
        self.attention.setStyleSheet("QLabel#attentionBox { border: 3px solid #c62828; padding: 6px; "
                                     "background: #fdecea; color: #5f0000; }")

        self.conditions_title = _heading("")
        self.conditions = QGridLayout()
        # Right under the likely conditions, small: what to measure or ask next never pushes the answer away.
        self.next_findings = NextFindingsPanel(vocabulary)
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
        layout.addWidget(self.triage_banner)
        layout.addWidget(self.triage_reasons)
        layout.addWidget(self.scores)
        layout.addWidget(self.banner)
        layout.addWidget(self.attention)
        layout.addWidget(self.conditions_title)
        conditions_box = QFrame()
        conditions_box.setLayout(self.conditions)
        layout.addWidget(conditions_box)
        layout.addWidget(self.next_findings)
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
        translator().language_changed.connect(self._language_changed)  # bound: disconnected when destroyed
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

    @property
    def triage_level(self) -> str | None:
        """The level shown (None before an answer, or for an answer saved before contract v2)."""
        triage = (self._response or {}).get("triage")
        return triage["level"] if triage else None

    def _language_changed(self, _lang: str) -> None:
        self._render()

    def _render(self) -> None:
        r = self._response
        visible = r is not None
        for w in (self.banner, self.conditions_title, self.rare_title, self.rare, self.recommendations_title,
                  self.recommendations, self.why_title, self.why_target, self.chart, self.model_line):
            w.setVisible(visible)
        triage = r.get("triage") if r is not None else None
        for w in (self.triage_banner, self.triage_reasons):
            w.setVisible(triage is not None)
        # From contract v2 the flag is true exactly at EMERGENCIA; an older answer only has the flag.
        emergency = r is not None and bool(r) and (
            triage["level"] == "EMERGENCIA" if triage else bool(r["requires_immediate_attention"]))
        self.attention.setVisible(emergency)
        self.scores.setVisible(False)
        self.next_findings.show_findings((r or {}).get("next_findings") or [], emergency=emergency)
        if r is None:
            return
        pick = translator().pick
        reason_codes: set[str] = set()
        if triage is not None:
            self._render_triage(triage)
            reason_codes = {reason["code"] for reason in triage["reasons"]}
        self._render_scores(r.get("scores") or {})
        background, foreground = STATE_COLOURS[r["severity"]]
        self.banner.setText(banner_text(r))
        self.banner.setAccessibleName(tr("result.state"))
        self.banner.setStyleSheet(f"QLabel#stateBanner {{ background: {background}; color: {foreground}; "
                                  "font-size: 12pt; font-weight: bold; padding: 4px; }")
        if emergency:
            # The reasons are already under the level; here go the warning signs that are not among them.
            others = [f for f in r["red_flags"] if f["code"] not in reason_codes]
            text = f"<b>⚠ {tr('result.attention')}</b>"
            if others and triage is not None:
                text += f"<br/>{tr('result.other_flags')}:"
            if others:
                text += "<ul>" + "".join(f"<li>{pick(f['message'])}</li>" for f in others) + "</ul>"
            self.attention.setText(text)

        self.conditions_title.setText(tr("result.conditions"))
        while self.conditions.count():
            item = self.conditions.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:  # hidden now: it is deleted only when the event loop next turns, and a
                widget.hide()  # language switch would draw both names on top of each other until then
                widget.deleteLater()
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
                # Orphanet's names reach the app in English only (no Spanish list ships offline): say so.
                disease = d["name"] if translator().lang == "en" else tr("consult.name_in_english", name=d["name"])
                items.append(f"<li>{disease} ({d['orpha_code']}, {100 * d['score']:.0f} %) — "
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

    def _render_triage(self, triage: dict[str, Any]) -> None:
        pick = translator().pick
        background, foreground = TRIAGE_COLOURS[triage["level"]]
        self.triage_banner.setText(tr("result.triage_banner", level=pick(triage["label"])))
        self.triage_banner.setAccessibleName(tr("result.triage"))
        self.triage_banner.setStyleSheet(
            f"QLabel#triageBanner {{ background: {background}; color: {foreground}; font-size: 20pt; "
            "font-weight: bold; padding: 6px; }")
        reasons = triage["reasons"]
        if reasons:
            items = "".join(f"<li>{pick(reason['message'])}</li>" for reason in reasons)
            self.triage_reasons.setText(f"<b>{tr('result.triage_reasons')}</b><ul>{items}</ul>")
        else:
            self.triage_reasons.setText(tr("result.triage_no_reasons"))
        self.triage_reasons.setStyleSheet(f"QLabel#triageReasons {{ border: 0px solid {background}; "
                                          f"border-left: 6px solid {background}; "
                                          "padding: 2px 6px; }")

    def _render_scores(self, scores: dict[str, Any]) -> None:
        """NEWS2 and qSOFA when the inputs allowed them; nothing at all when neither was computed."""
        parts = [f"{name} {scores[key]}" for key, name in (("news2", "NEWS2"), ("qsofa", "qSOFA"))
                 if scores.get(key) is not None]
        self.scores.setVisible(bool(parts))
        self.scores.setText(f"<b>{tr('result.scores')}:</b> " + " · ".join(parts))
        self.scores.setToolTip(tr("result.scores_tip"))

    def _show_explanation(self) -> None:
        r = self._response
        if r is None:
            return
        which = self.why_target.currentData() or "severity"
        contributions = r["explanation"][which]["contributions"]
        self.chart.set_contributions(
            [(finding_label(name, self._request, self.vocabulary), value) for name, value in contributions.items()]
        )



def banner_text(r: dict[str, Any]) -> str:
    """The state banner's words. `confidence` is the state model's probability of ITS most likely state; when the
    triage raised the state (an emergency makes it ENFERMEDAD_AGUDA, a rare-disease alert ENFERMEDAD_CRONICA), that
    number belongs to another state, so the banner names it: "ENFERMEDAD AGUDA - confianza del modelo 99 %" beside a
    model that gives acute illness 0.5 % would read as the model's certainty of the emergency."""
    pick = translator().pick
    probabilities: dict[str, float] = r.get("severity_probabilities") or {}
    model_state = max(probabilities, key=lambda s: probabilities[s]) if probabilities else r["severity"]
    confidence = round(100 * r["confidence"])
    if model_state == r["severity"]:
        return tr("result.banner", state=pick(r["severity_label"]), confidence=confidence)
    return tr("result.banner_raised", state=pick(r["severity_label"]), model_state=pick(STATE_LABELS[model_state]),
              confidence=confidence)
