"""A horizontal bar chart of which findings pushed the answer toward (right) or away from (left) its target.

Painted with QPainter (no charting module needed in the package). Bars carry their value as text and the two
directions differ in colour *and* side, so the chart reads without colour.
"""

from __future__ import annotations

from typing import Any

from app.core.contract import Pregnancy
from app.core.features import RAISED_PRESSURE, SEVERE_PRESSURE, pregnancy_pressure
from app.core.signs import signs
from app.core.vocabulary import Vocabulary
from app.ui.clinical_text import avpu_text, pregnancy_status_text, sign_text, vital_text
from app.ui.i18n import tr, translator
from app.ui.qt import QColor, QFont, QFontMetrics, QPainter, QPaintEvent, QRectF, QSize, QSizePolicy, Qt, QWidget
from app.ui.vital_fields import vital_fields
from app.ui.widgets import format_number

TOWARD = QColor("#c0392b")
AWAY = QColor("#2e6da4")
MAX_BARS = 8


class ExplanationChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bars: list[tuple[str, float]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.setAccessibleName(tr("result.explanation"))

    def set_contributions(self, labelled: list[tuple[str, float]]) -> None:
        """`labelled`: (finding as the doctor reads it, SHAP value); the largest by size are shown."""
        self._bars = sorted(labelled, key=lambda item: -abs(item[1]))[:MAX_BARS]
        self.setAccessibleDescription("; ".join(f"{label}: {value:+.2f}" for label, value in self._bars))
        self.updateGeometry()
        self.update()

    def bars(self) -> list[tuple[str, float]]:
        return list(self._bars)

    def _row_height(self) -> int:
        return QFontMetrics(self.font()).height() + 8

    def sizeHint(self) -> QSize:
        return QSize(360, max(1, len(self._bars)) * self._row_height() + 24)

    def minimumSizeHint(self) -> QSize:
        return QSize(240, self.sizeHint().height())

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = QFontMetrics(self.font())
        if not self._bars:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, tr("result.no_explanation"))
            return
        label_width = min(self.width() // 2, max(metrics.horizontalAdvance(label) for label, _ in self._bars) + 12)
        chart_left = label_width
        chart_width = max(40, self.width() - label_width - 8)
        centre = chart_left + chart_width / 2
        scale = (chart_width / 2 - 36) / max(abs(v) for _, v in self._bars)
        row = self._row_height()
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, self.font().pointSizeF() * 0.9))
        for i, (label, value) in enumerate(self._bars):
            y = 4 + i * row
            painter.setPen(self.palette().windowText().color())
            painter.drawText(QRectF(0, y, label_width - 8, row), Qt.AlignmentFlag.AlignRight
                             | Qt.AlignmentFlag.AlignVCenter, label)
            length = abs(value) * scale
            rect = QRectF(centre if value >= 0 else centre - length, y + 3, length, row - 6)
            painter.fillRect(rect, TOWARD if value >= 0 else AWAY)
            painter.setFont(small)
            text_rect = (QRectF(rect.right() + 3, y, 60, row) if value >= 0
                         else QRectF(rect.left() - 63, y, 60, row))
            align = Qt.AlignmentFlag.AlignLeft if value >= 0 else Qt.AlignmentFlag.AlignRight
            painter.drawText(text_rect, align | Qt.AlignmentFlag.AlignVCenter, f"{value:+.2f}")
            painter.setFont(self.font())
        painter.setPen(self.palette().mid().color())
        painter.drawLine(int(centre), 0, int(centre), 4 + len(self._bars) * row)


def pregnancy_pressure_text(request: dict[str, Any]) -> str:
    """The value the models read as `pregnancy_pressure` for this request, in words: not applicable, not measured,
    or the pressure's band (< 140/90, >= 140/90, >= 160/110)."""
    answer = request.get("pregnancy") or {}
    vitals = request.get("vitals") or {}
    pregnancy = (Pregnancy(answer["status"], answer.get("weeks"), answer.get("days_since_delivery"))
                 if answer.get("status") else None)
    value = pregnancy_pressure(pregnancy, vitals.get("systolic_bp"), vitals.get("diastolic_bp"))
    if value != value:  # NaN: neither pressure measured
        return tr("result.pregnancy_pressure_unmeasured")
    raised, severe = (f"{s:g}/{d:g}" for s, d in (RAISED_PRESSURE, SEVERE_PRESSURE))  # the limits the input reads
    return {0.0: tr("result.pregnancy_pressure_na"), 1.0: f"< {raised}", 2.0: f"≥ {raised}"}.get(value, f"≥ {severe}")


def finding_label(name: str, request: dict[str, Any], vocabulary: Vocabulary) -> str:
    """'Fiebre 8/10', 'SpO2 86 %', 'SpO2 (no medido)': the finding with the value this patient actually had."""
    pick = translator().pick
    if name in vocabulary.symptom_keys:
        label = pick(vocabulary.symptom(name).label)
        value = request.get("symptoms", {}).get(name, 0)
        return f"{label} {value}/10" if value else tr("result.absent", name=label)
    vitals = {v.key: v for v in vital_fields(vocabulary)}
    if name in vitals:
        value = (request.get("vitals") or {}).get(name)
        return (vital_text(vitals[name], value) if value is not None
                else tr("result.not_measured", name=pick(vitals[name].label)))
    if name in signs().codes:
        label = sign_text(name)
        return label if name in (request.get("signs") or []) else tr("result.absent", name=label)
    pregnancy = request.get("pregnancy") or {}
    if name == "pregnancy_status":
        return f"{tr('pregnancy.title')}: {pregnancy_status_text(pregnancy.get('status'))}"
    if name == "pregnancy_weeks":
        weeks = pregnancy.get("weeks")
        return (tr("result.pregnancy_weeks", weeks=format_number(weeks)) if weeks is not None
                else tr("result.pregnancy_weeks_none"))
    if name == "postpartum_days":
        days = pregnancy.get("days_since_delivery")
        return (tr("result.postpartum_days", days=format_number(days)) if days is not None
                else tr("result.postpartum_days_none"))
    if name == "consciousness":
        return f"{tr('consult.consciousness')}: {avpu_text(request.get('consciousness'))}"
    if name == "pregnancy_pressure":
        return tr("result.pregnancy_pressure", value=pregnancy_pressure_text(request))
    if name == "age":
        return tr("result.age", age=format_number(request.get('age', 0)))
    if name == "sex":
        return tr("result.sex_f") if request.get("sex") == "F" else tr("result.sex_m")
    if name == "duration_days":
        days = request.get("duration_days")
        return tr("result.duration", days=format_number(days)) if days is not None else tr("result.duration_unknown")
    return name
