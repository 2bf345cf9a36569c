""""Si puede, mida / pregunte:": the findings the answer does not have yet that could most change it (issue 19).

The engine ranks the findings a request leaves open (unmeasured vitals, symptoms not entered, examination signs,
the pregnancy question) by how much knowing them could change the triage, the state or the most likely condition,
and returns the best five as `next_findings`. `NextFindingsPanel` lists them under the likely conditions, small, so
the answer itself is never pushed out of sight; each item is one click (or Alt+1..5) away from its input field.
`FindingFocus` takes the doctor there (the vital's box, the symptom's row, the sign's row, the pregnancy question)
and, once the value is in, diagnoses again through the screen's own `diagnose`, so the answer and the list follow.

At EMERGENCIA the list holds only what the engine kept (findings that would change the management) under a note
that care must not wait for them; with nothing to propose the panel is not shown at all.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Protocol

from app.core.consultation_session import Findings
from app.core.signs import signs
from app.core.vocabulary import Vocabulary
from app.ui.clinical_text import sign_text
from app.ui.i18n import tr, translator
from app.ui.pregnancy_field import NOT_RECORDED, NUMBER_FOR, PregnancyField
from app.ui.qt import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QKeySequence,
    QLabel,
    QObject,
    QPushButton,
    QShortcut,
    QSizePolicy,
    Qt,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.ui.sign_checklist import SignChecklist
from app.ui.symptom_panel import SymptomPanel
from app.ui.symptoms_model import COL_INTENSITY, SymptomTableModel
from app.ui.vital_fields import vital_fields
from app.ui.widgets import NumberField

MAX_ITEMS = 5  # the contract's limit for `next_findings`
PANEL_STYLE = ("QFrame#nextFindings { border: 1px solid #b0c4de; border-left: 5px solid #1565c0; "
               "background: #f3f7fc; }")
NOTE_STYLE = "QLabel#nextFindingsNote { color: #7f0000; font-weight: bold; }"
ITEM_STYLE = "QPushButton { text-align: left; padding: 2px 8px; font-weight: bold; }"
WHY_STYLE = "QLabel { color: #263238; }"
KEYS_STYLE = "QLabel { color: #455a64; }"


class NextFindingsPanel(QFrame):
    """The list; `chosen(kind, finding)` when the doctor picks an item (click, Enter on it, or Alt+number)."""

    chosen = Signal(str, str)

    def __init__(self, vocabulary: Vocabulary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vocabulary = vocabulary
        self._vitals = {v.key: v for v in vital_fields(vocabulary)}
        self._items: list[dict[str, Any]] = []
        self._emergency = False
        self.setObjectName("nextFindings")
        self.setStyleSheet(PANEL_STYLE)
        self.title = QLabel()
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.keys = QLabel()  # how to reach a field: the shortcuts are not guessed
        self.keys.setStyleSheet(KEYS_STYLE)
        self.note = QLabel()  # at EMERGENCIA: care first, these only if they change the management
        self.note.setObjectName("nextFindingsNote")
        self.note.setStyleSheet(NOTE_STYLE)
        self.note.setWordWrap(True)
        self.buttons: list[QPushButton] = []
        self.whys: list[QLabel] = []
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        for i in range(MAX_ITEMS):
            button = QPushButton()
            button.setStyleSheet(ITEM_STYLE)
            button.setAutoDefault(True)  # Enter on a focused item picks it, like a click
            button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
            button.clicked.connect(partial(self.choose, i))
            why = QLabel()
            why.setWordWrap(True)
            why.setStyleSheet(WHY_STYLE)
            why.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            grid.addWidget(button, i, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(why, i, 1)
            self.buttons.append(button)
            self.whys.append(why)
            # From anywhere on the screen: the doctor's hands stay on the keyboard.
            QShortcut(QKeySequence(f"Alt+{i + 1}"), self, partial(self.choose, i))
        grid.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(4)
        heading = QHBoxLayout()
        heading.addWidget(self.title)
        heading.addStretch(1)
        heading.addWidget(self.keys)
        layout.addLayout(heading)
        layout.addWidget(self.note)
        layout.addLayout(grid)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.show_findings([], emergency=False)

    def show_findings(self, items: list[dict[str, Any]], *, emergency: bool) -> None:
        """`items`: the response's `next_findings` (best first); `emergency`: the answer's triage is EMERGENCIA."""
        self._items = [item for item in items if self._known(item)][:MAX_ITEMS]
        self._emergency = emergency
        self.retranslate()

    def items(self) -> list[dict[str, Any]]:
        return list(self._items)

    def choose(self, index: int) -> None:
        """Item `index` picked: only one that is on screen (Alt+4 with three items, or a hidden panel, does nothing)."""
        if index < len(self._items) and self.isVisible():
            item = self._items[index]
            self.chosen.emit(item["kind"], item["finding"])

    def retranslate(self) -> None:
        pick = translator().pick
        self.title.setText(tr("next.title"))
        count = len(self._items)
        self.keys.setText(tr("next.keys", keys="Alt+1" if count == 1 else f"Alt+1…{count}"))
        whys = [pick(item.get("why") or {}) for item in self._items]
        care_first = _shared_emergency_sentence(whys) if self._emergency else None
        if care_first is not None:  # the engine's own "care first" said once, above the items, not five times
            self.note.setText(f"{care_first} {tr('next.emergency_only')}")
            whys = [why[len(care_first):].lstrip() for why in whys]
        else:
            self.note.setText(tr("next.emergency_note"))
        self.note.setVisible(self._emergency)
        for i, (button, why) in enumerate(zip(self.buttons, self.whys, strict=True)):
            shown = i < len(self._items)
            button.setVisible(shown)
            why.setVisible(shown)
            if not shown:
                continue
            item = self._items[i]
            name = self.finding_name(item)
            button.setText(f"{i + 1}. {name}")
            button.setToolTip(tr("next.item_tip", number=i + 1, name=name))
            button.setAccessibleName(name)
            button.setAccessibleDescription(pick(item.get("why") or {}))
            why.setText(whys[i])
        self.setVisible(bool(self._items))

    def finding_name(self, item: dict[str, Any]) -> str:
        """The finding as the screen's own field calls it."""
        kind, finding = item["kind"], item["finding"]
        pick = translator().pick
        if kind == "vital":
            return pick(self._vitals[finding].label)
        if kind == "symptom":
            return pick(self.vocabulary.symptom(finding).label)
        if kind == "sign":
            return sign_text(finding)
        return tr("next.pregnancy")

    def _known(self, item: dict[str, Any]) -> bool:
        # A finding this screen has no field for (a newer engine on the service) cannot be one click away.
        kind, finding = item.get("kind"), item.get("finding")
        return ((kind == "vital" and finding in self._vitals)
                or (kind == "symptom" and finding in self.vocabulary.symptom_keys)
                or (kind == "sign" and finding in signs().codes)
                or kind == "pregnancy")


def _shared_emergency_sentence(whys: list[str]) -> str | None:
    """The first sentence every `why` opens with, when it speaks of the emergency ("Ya es EMERGENCIA: no retrase la
    atención."); None when there is no such shared sentence or nothing would be left of a `why` without it."""
    if not whys:
        return None
    first = whys[0].split(". ", 1)[0] + "."
    if "emergenc" not in first.casefold():
        return None
    if all(why.startswith(first) and why[len(first):].strip() for why in whys):
        return first
    return None


class ConsultationScreen(Protocol):
    """What `FindingFocus` needs of the consultation screen (app/ui/consultation.py; not imported: it imports us)."""

    @property
    def vitals(self) -> dict[str, NumberField]: ...
    @property
    def symptom_panel(self) -> SymptomPanel: ...
    @property
    def symptom_model(self) -> SymptomTableModel: ...
    @property
    def signs(self) -> SignChecklist: ...
    @property
    def pregnancy(self) -> PregnancyField: ...
    @property
    def findings_tabs(self) -> QTabWidget: ...
    def findings_on_screen(self) -> Findings: ...
    def answer_is_stale(self) -> bool: ...
    def diagnose(self) -> None: ...


class FindingFocus(QObject):
    """From an item of the list to its input field, and a new diagnosis as soon as the value is in.

    The item picked is remembered ("armed") until the next answer: a vital is in when the doctor leaves its box or
    presses Enter (not on every digit: "8" on the way to "86" is not a value), a symptom when it gets an intensity,
    a sign when it is ticked, the pregnancy question when its status (and its weeks or days, when they apply) are.
    The screen calls `answered` with each new answer.
    """

    def __init__(self, screen: ConsultationScreen, panel: NextFindingsPanel) -> None:
        super().__init__(panel)  # lives as long as the list
        self.screen = screen
        self.armed: tuple[str, str] | None = None
        panel.chosen.connect(self.go)
        for box in screen.vitals.values():
            box.editingFinished.connect(self._entered)
        screen.symptom_model.intensities_changed.connect(self._entered)
        screen.signs.changed.connect(self._entered)
        screen.pregnancy.status.currentIndexChanged.connect(self._pregnancy_status_chosen)
        screen.pregnancy.number.editingFinished.connect(self._entered)

    def go(self, kind: str, finding: str) -> None:
        screen = self.screen
        self.armed = (kind, finding)
        reason = Qt.FocusReason.ShortcutFocusReason
        if kind == "vital" and finding in screen.vitals:
            box = screen.vitals[finding]
            box.setFocus(reason)
            box.selectAll()
        elif kind == "symptom":
            panel = screen.symptom_panel
            screen.findings_tabs.setCurrentWidget(panel)
            panel.only_entered.setChecked(False)
            panel.search.clear()  # the whole list, so the symptom's row is there to select
            proxy = panel.filter
            for row in range(proxy.rowCount()):
                index = proxy.index(row, COL_INTENSITY)
                if index.data(Qt.ItemDataRole.UserRole) == finding:
                    panel.table.setCurrentIndex(index)
                    panel.table.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
                    panel.table.setFocus(reason)  # a number key now sets its intensity
                    break
        elif kind == "sign":
            screen.findings_tabs.setCurrentWidget(screen.signs)
            view, index = screen.signs.view, screen.signs.index_of(finding)
            view.expand(index.parent())
            view.setCurrentIndex(index)
            view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
            view.setFocus(reason)  # the space bar ticks it
        elif kind == "pregnancy" and screen.pregnancy.isVisible():
            screen.pregnancy.status.setFocus(reason)
            screen.pregnancy.status.showPopup()  # open: a click or the arrows and Enter choose the answer

    def answered(self, *_args: object) -> None:
        """A new answer is on screen: the item picked has done its work."""
        self.armed = None

    def _pregnancy_status_chosen(self, *_args: object) -> None:
        """Pregnant or postpartum needs its weeks or days before the question is answered: the focus goes there."""
        field = self.screen.pregnancy
        if (self.armed is not None and self.armed[0] == "pregnancy" and field.number.isVisible()
                and field.number.value() is None):
            field.number.setFocus(Qt.FocusReason.OtherFocusReason)
        self._entered()

    def _entered(self, *_args: object) -> None:
        if self.armed is None:
            return
        kind, finding = self.armed
        findings = self.screen.findings_on_screen()
        if kind == "vital":
            given = finding in findings.vitals
        elif kind == "symptom":
            given = finding in findings.symptoms
        elif kind == "sign":
            given = finding in findings.signs
        else:
            pregnancy = findings.pregnancy or {}
            status = pregnancy.get("status", NOT_RECORDED)
            number = NUMBER_FOR.get(status)
            given = status != NOT_RECORDED and (number is None or number[0] in pregnancy)
        # Only a change the answer on screen did not see: leaving the box untouched asks nothing.
        if given and self.screen.answer_is_stale():
            self.screen.diagnose()
