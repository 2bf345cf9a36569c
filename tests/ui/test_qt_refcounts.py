"""The Qt binding keeps Python's reference counts: a long day of diagnoses must not wear True or None down to zero.

PySide6 6.12.0's `Signal.emit` dropped one reference to True on every call, connected or not. Each diagnosis in the
consultation screen emits a dozen signals, so True lost 12 references a diagnosis and None 53, from about 36,000
and 111,000 at start: after a few thousand diagnoses in one session the app would abort with "Fatal Python error:
bool_dealloc" and lose what was on the screen. The screenshot script, which runs the whole app, already died that
way at exit. pyproject.toml keeps PySide6 below 6.12; these tests catch a binding that does it again.

Only a fall is a danger: 6.11.3 adds about 184 references to None a diagnosis and never takes them back, but the
process does not grow with them (300 diagnoses: 288.9 -> 289.6 MB) and a count that grows cannot reach zero.
"""

from __future__ import annotations

import gc
import sys

from app.ui.qt import QObject, Signal
from tests.ui.test_consultation_v2 import choose, diagnose, type_symptom, type_value

EMITS = 2_000
DIAGNOSES = 40
# Counts move a little on their own (caches, interned values); a binding that loses one a call loses thousands.
SLACK = 100


def _counts() -> tuple[int, int, int]:
    gc.collect()
    return sys.getrefcount(True), sys.getrefcount(False), sys.getrefcount(None)


class _Emitter(QObject):
    answered = Signal(object)


def test_emitting_a_signal_keeps_the_reference_counts(qtbot) -> None:
    emitter = _Emitter()
    received: list[object] = []
    emitter.answered.connect(received.append)
    payload = {"requires_immediate_attention": True, "rare_disease_alert": False, "next_findings": None}
    before = _counts()
    for _ in range(EMITS):
        emitter.answered.emit(payload)
    after = _counts()
    assert len(received) == EMITS
    assert all(a > b - SLACK for a, b in zip(after, before, strict=True)), (before, after)


def test_a_day_of_diagnoses_keeps_the_reference_counts(qtbot, consultation_screen) -> None:
    screen = consultation_screen
    type_value(qtbot, screen.age.number, "8")
    choose(qtbot, screen.sex, "M")
    for query, intensity in (("fiebre", "6"), ("tos", "5"), ("dolor de cabeza", "3")):
        type_symptom(qtbot, screen, query, intensity)
    diagnose(qtbot, screen)
    before = _counts()
    for _ in range(DIAGNOSES):
        diagnose(qtbot, screen)
    after = _counts()
    assert all(a > b - SLACK for a, b in zip(after, before, strict=True)), (before, after)
